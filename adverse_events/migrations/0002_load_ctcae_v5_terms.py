"""Load the CTCAE v5.0 term file shipped with the app (R6.1, R6.5). Idempotent: update_or_create by code."""

from django.db import migrations


def load_terms(apps, schema_editor):
    from adverse_events.ctcae import load_terms as parse

    model = apps.get_model("adverse_events", "CtcaeTerm")
    for term in parse():
        g1, g2, g3, g4, g5 = term.grades
        model.objects.update_or_create(
            meddra_code=term.meddra_code,
            defaults={
                "soc": term.soc,
                "term": term.term,
                "grade_1": g1,
                "grade_2": g2,
                "grade_3": g3,
                "grade_4": g4,
                "grade_5": g5,
                "definition": term.definition or "",
                "navigational_note": term.navigational_note or "",
                "is_other_specify": term.is_other_specify,
                "version": "5.0",
            },
        )


class Migration(migrations.Migration):
    dependencies = [("adverse_events", "0001_ctcae_terms_and_adverse_events")]

    operations = [migrations.RunPython(load_terms, migrations.RunPython.noop)]
