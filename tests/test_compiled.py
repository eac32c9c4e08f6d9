"""Reads built once per process (``sabr_trial.compiled``, issue 20) give the ORM's rows, values and types."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db.models import Count, Q

from enrollment.models import Patient
from sabr_trial import compiled
from sabr_trial.crf import CrfStatus, registry
from visits import selectors, todo

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def _typed(rows):
    return [(tuple(r), tuple(type(v) for v in r)) for r in rows]


@pytest.fixture
def demo_ids():
    from tests.conftest import on_postgres

    if not on_postgres():
        pytest.skip("the reads are built once on PostgreSQL only (DATABASE_URL)")
    call_command("setup_demo", "--generated", "0", stdout=io.StringIO())
    ids = list(Patient.objects.order_by("pk").values_list("pk", flat=True))
    return [ids[0], ids[len(ids) // 2], ids[-1]]


def test_a_patients_schedule_reads_give_the_orm_rows(demo_ids):
    """Every form the schedule reads, for some demo patients: the same rows in the same order, values and types."""
    compared = 0
    for slug, fields in [
        *((slug, ((d,) if d else ()) + extra) for slug, (d, extra) in selectors.FORM_FIELDS.items()),
        *selectors.TERMINAL.items(),
    ]:
        names = ("pk", "patient_id", *fields)
        expected = (
            registry.get(slug).model.objects.filter(patient_id__in=demo_ids).values(*names).order_by("pk")
        )
        got = selectors._rows(slug, fields, demo_ids)
        assert _typed(r.values() for r in got) == _typed(r.values() for r in expected), slug
        assert compiled.is_compiled(f"visits:rows:{slug}:{','.join(fields)}"), slug
        compared += bool(got)
    assert compared >= 12  # the demo has rows in most forms: not a comparison of empty lists


def test_the_form_counts_of_some_patients_give_the_orm_counts(demo_ids):
    expected: dict[int, list[int]] = {}
    for spec in registry.all():
        for row in (
            spec.model.objects.filter(patient_id__in=demo_ids)
            .values("patient_id")
            .annotate(n=Count("pk"), drafts=Count("pk", filter=Q(status=CrfStatus.DRAFT)))
        ):
            totals = expected.setdefault(row["patient_id"], [0, 0])
            totals[0] += row["n"]
            totals[1] += row["drafts"]
    got = todo._form_counts(demo_ids)
    assert got == {pk: tuple(v) for pk, v in expected.items()} and len(got) == 3
    assert compiled.is_compiled("visits:form-counts")


def test_a_read_of_another_shape_is_built_by_the_orm_each_time(demo_ids):
    """The probe outside an IN list (here an equality): not compiled, and the rows are still right."""

    def build(ids):
        return Patient.objects.filter(Q(pk__in=ids) | Q(pk=ids[0])).values_list("pk").order_by("pk")

    assert compiled.patient_rows("test:other-shape", build, demo_ids) == [(pk,) for pk in sorted(demo_ids)]
    assert not compiled.is_compiled("test:other-shape")
