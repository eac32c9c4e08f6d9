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
    """Every form the schedule reads, for some demo patients, in one union read: the same rows in the same order,
    values and types as each form's own ORM read."""
    reads = selectors._reads()
    assert [slug for slug, _f in reads] == [
        *(s for s in selectors.FORM_FIELDS if s in registry),
        *(s for s in selectors.TERMINAL if s in registry),
    ]
    compared = 0
    for (slug, fields), got in zip(reads, selectors._rows_of(reads, demo_ids), strict=True):
        names = ("pk", "patient_id", *fields)
        expected = (
            registry.get(slug).model.objects.filter(patient_id__in=demo_ids).values(*names).order_by("pk")
        )
        assert _typed(r.values() for r in got) == _typed(r.values() for r in expected), slug
        compared += bool(got)
    assert compiled.is_compiled("visits:rows:" + ";".join(f"{s}:{','.join(f)}" for s, f in reads))
    assert compared >= 12  # the demo has rows in most forms: not a comparison of empty lists
    # every patient's rows (the worklist) are read by the ORM, form by form: the same rows
    everyone = selectors._rows_of(reads, None)
    assert [[r for r in rows if r["patient_id"] in demo_ids] for rows in everyone] == selectors._rows_of(
        reads, demo_ids
    )


def test_a_union_of_reads_keeps_each_reads_types_and_order(demo_ids):
    """``patient_rows_of_reads``: reads of different column types in one union; a read with no rows stays empty."""
    from treatment.models import AxitinibPeriod, SabrFraction

    builds = [
        lambda ids: (
            SabrFraction.objects.filter(patient_id__in=ids)
            .values_list(
                "pk",
                "delivered",
                "fraction_date",
                "target__course_id",
                "dose_delivered_gy",
                "fraction_number",
            )
            .order_by("pk")
        ),
        lambda ids: (
            Patient.objects.filter(pk__in=ids)
            .values_list("pk", "study_number", "registration_date")
            .order_by("pk")
        ),
        lambda ids: (
            AxitinibPeriod.objects.filter(patient_id__in=ids, pk__lt=0).values_list("pk").order_by("pk")
        ),
    ]
    got = compiled.patient_rows_of_reads("test:union-of-reads", builds, demo_ids)
    assert compiled.is_compiled("test:union-of-reads")
    assert [_typed(rows) for rows in got] == [_typed(b(demo_ids)) for b in builds]
    assert got[0] and got[1] and got[2] == []


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


def _state(obj, depth=0):
    """A row as built: its class, every attribute the ORM set (values and types), and the related rows it holds
    (``select_related``), recursively."""
    values = {k: (v, type(v)) for k, v in vars(obj).items() if k != "_state"}
    related = {
        name: None if rel is None else _state(rel, depth + 1)
        for name, rel in sorted(obj._state.fields_cache.items())
    }
    return (type(obj), obj._state.db, obj._state.adding, values, related)


def test_the_casebook_reads_give_the_orm_rows_with_their_related_rows(demo_ids):
    """Every CRF table the casebook reads, for some demo patients: the same rows, values, types and related rows
    (``select_related``) as the ORM builds; and the names the casebook shows."""
    from sabr_trial.selectors import _casebook_read

    compared = with_related = 0
    for spec in registry.all():
        build = _casebook_read(spec.model)
        expected = list(build(demo_ids))
        got = compiled.patient_objects(f"test:casebook:{spec.slug}", build, demo_ids)
        assert [_state(o) for o in got] == [_state(o) for o in expected], spec.slug
        assert [str(o) for o in got] == [str(o) for o in expected], spec.slug
        assert compiled.is_compiled(f"test:casebook:{spec.slug}"), spec.slug
        compared += bool(got)
        with_related += bool(got) and any(o._state.fields_cache for o in got)
    assert compared >= 12 and with_related >= 3  # not a comparison of empty lists


def test_a_model_read_of_another_shape_is_built_by_the_orm_each_time(demo_ids):
    """A prefetch (or any shape not known here) is read by the ORM: right rows, not compiled."""

    def build(ids):
        return (
            Patient.objects.filter(pk__in=ids)
            .prefetch_related("adverse_events_adverseevent_set")
            .order_by("pk")
        )

    got = compiled.patient_objects("test:prefetch", build, demo_ids)
    assert [p.pk for p in got] == sorted(demo_ids)
    assert not compiled.is_compiled("test:prefetch")


def test_a_form_row_is_read_for_its_own_patient_only(demo_ids, client):
    """The row of a form page (read with SQL built once): found under its patient, 404 under another."""
    from django.urls import reverse

    from adverse_events.models import AdverseEvent
    from sabr_trial.selectors import get_crf_for_user
    from tests.factories import UserFactory

    user = UserFactory(username="compiled-reader", role="coordinator")
    ae = AdverseEvent.objects.select_related("ctcae_term").order_by("pk").first()
    spec, row = get_crf_for_user(user, patient_pk=ae.patient_id, slug="adverse-event", pk=ae.pk)
    assert (row.pk, row.patient.pk, str(row)) == (ae.pk, ae.patient_id, str(ae))
    assert compiled.is_compiled("crf:one:adverse-event")
    other = next(pk for pk in demo_ids if pk != ae.patient_id)
    client.force_login(user)
    assert client.get(reverse("crf_detail", args=[ae.patient_id, "adverse-event", ae.pk])).status_code == 200
    assert client.get(reverse("crf_detail", args=[other, "adverse-event", ae.pk])).status_code == 404
    assert client.get(reverse("crf_update", args=[other, "adverse-event", ae.pk])).status_code == 404


def test_the_treatment_records_give_the_orm_rows(demo_ids):
    """The D1 records the exposure and the origins read (fractions, axitinib periods, infusions): the rows the ORM
    reads, in the same order with the same values and types."""
    from treatment import selectors as treatment_selectors
    from treatment.models import AxitinibPeriod, SabrFraction, ToripalimabInfusion

    compared = 0
    for pid in demo_ids:
        fractions = SabrFraction.objects.filter(patient_id=pid).order_by("pk")
        assert _typed(
            (f.ref, f.date, f.delivered, f.protocol, f.course_number)
            for f in treatment_selectors.fraction_records(pid)
        ) == _typed(
            (
                f.pk,
                f.fraction_date,
                f.delivered == "Y",
                f.target.course.is_protocol == "Y",
                f.target.course.course_number,
            )
            for f in fractions
        )
        periods = AxitinibPeriod.objects.filter(patient_id=pid).order_by("pk")
        assert _typed(treatment_selectors.axitinib_rows(pid)) == _typed(
            periods.values_list("pk", "start_date", "end_date", "dose_level")
        )
        infusions = ToripalimabInfusion.objects.filter(patient_id=pid).order_by("pk")
        assert _typed(
            (i.ref, i.date, i.infusion_status) for i in treatment_selectors.infusion_records(pid)
        ) == (_typed(infusions.values_list("pk", "infusion_date", "infusion_status")))
        compared += fractions.exists() + periods.exists() + infusions.exists()
    assert compared >= 6  # treated demo patients: not a comparison of empty lists
    for key in ("treatment:fraction_records", "treatment:axitinib_rows", "treatment:infusion_records"):
        assert compiled.is_compiled(key), key


def test_the_patient_death_date_and_ctcae_term_reads_give_the_orm_rows(demo_ids):
    """A patient page's patient, a save's death date and an AE form's CTCAE term (each read with SQL built once):
    the ORM's rows, values and types; an unknown patient is a 404, an unknown code a refusal."""
    from django.core.exceptions import ValidationError
    from django.http import Http404

    from adverse_events.forms import CtcaeTermField
    from adverse_events.models import CtcaeTerm
    from enrollment import selectors as enrollment_selectors
    from enrollment.models import DeathReport
    from tests.factories import UserFactory

    user = UserFactory(username="compiled-patient-reader", role="coordinator")
    for pid in demo_ids:
        got = enrollment_selectors.get_patient_for_user(user, pid)
        assert _state(got) == _state(Patient.objects.get(pk=pid)) and str(got) == str(
            Patient.objects.get(pk=pid)
        )
    with pytest.raises(Http404):
        enrollment_selectors.get_patient_for_user(user, max(demo_ids) + 10_000)
    dead = DeathReport.objects.order_by("pk").first()
    assert dead is not None  # the demo study has a death
    for pid in {*demo_ids, dead.patient_id}:
        expected = DeathReport.objects.filter(patient_id=pid).values_list("death_date", flat=True).first()
        assert enrollment_selectors.death_date(pid) == expected
    term = CtcaeTerm.objects.order_by("pk")[10]
    field = CtcaeTermField()
    assert _state(field.to_python(str(term.meddra_code))) == _state(CtcaeTerm.objects.get(pk=term.pk))
    with pytest.raises(ValidationError):
        field.to_python("999999999")
    for key in ("enrollment:patient", "enrollment:death_date", "ctcae:term-by-code"):
        assert compiled.is_compiled(key), key


def test_the_ae_panel_rows_give_what_the_model_rows_show(demo_ids):
    """The casebook AE panel's rows (one read of the columns it shows): what each AE model row shows."""
    from adverse_events.models import AdverseEvent
    from adverse_events.selectors import panel_rows

    compared = 0
    for pid in demo_ids:
        got = panel_rows(pid)
        expected = AdverseEvent.objects.filter(patient_id=pid).select_related("ctcae_term")
        assert sorted(got) == sorted(ae.pk for ae in expected)
        for ae in expected:
            row = got[ae.pk]
            assert (row.ae_number, row.display_term, row.outcome_display) == (
                ae.ae_number,
                ae.display_term,
                ae.get_outcome_display(),
            )
            assert (row.ongoing, row.serious, row.immune_related) == (
                ae.ongoing,
                ae.serious,
                ae.immune_related,
            )
            compared += 1
    assert compared >= 5
    assert compiled.is_compiled("adverse_events:panel-rows")


def test_the_casebooks_sdv_backlog_count_gives_the_orm_count(demo_ids):
    """The data-management panel's SDV backlog (one union read with SQL built once): the ORM's count per table."""
    from sabr_trial.selectors import awaiting_sdv_count

    total = 0
    for pid in demo_ids:
        expected = sum(
            spec.model.objects.filter(
                patient_id=pid, status__in=["submitted", "signed"], verified_at__isnull=True
            ).count()
            for spec in registry.all()
        )
        assert awaiting_sdv_count(pid) == expected
        total += expected
    assert total > 0 and compiled.is_compiled("dm:awaiting-sdv")


def test_the_signed_in_user_is_the_orm_row(demo_ids):
    """Every request's user (read with SQL built once): the ORM's row; an inactive or unknown user is nobody."""
    from django.contrib.auth import get_user_model

    from sabr_trial.authcache import AccessBackend
    from tests.factories import UserFactory

    user = UserFactory(username="compiled-user", role="monitor")
    got = AccessBackend().get_user(user.pk)
    assert _state(got) == _state(get_user_model().objects.get(pk=user.pk))
    assert compiled.is_compiled("auth:user")
    assert AccessBackend().get_user(user.pk + 10_000) is None
    user.is_active = False
    user.save()
    assert AccessBackend().get_user(user.pk) is None


def test_a_read_with_a_date_is_built_by_the_orm_each_time(demo_ids):
    """A date parameter (here "registered before a day") would be kept as a constant of SQL built once and go stale:
    such a read is not compiled, and each call reads with its own date."""
    import datetime

    def build_before(day):
        return lambda ids: (
            Patient.objects.filter(pk__in=ids, created_at__date__lt=day).values_list("pk").order_by("pk")
        )

    far = datetime.date(1990, 1, 1)
    assert compiled.patient_rows("test:dated", build_before(far), demo_ids) == []
    assert not compiled.is_compiled("test:dated")
    later = datetime.date.today() + datetime.timedelta(days=1)
    assert compiled.patient_rows("test:dated", build_before(later), demo_ids) == [
        (pk,) for pk in sorted(demo_ids)
    ]


def test_a_count_built_once_gives_the_orm_count(demo_ids):
    """``compiled.count``: the SDV count's 28-table union and the to-do counts, as the ORM counts them; a count
    with a date parameter is built by the ORM each time (it would go stale)."""
    import datetime

    from adverse_events.models import AdverseEvent

    n = compiled.count("test:count-aes", lambda: AdverseEvent.objects.filter(serious="Y"))
    assert n == AdverseEvent.objects.filter(serious="Y").count() > 0
    assert compiled.is_compiled("test:count-aes")
    assert todo.sdv_count() == sum(1 for i in todo.sdv_items() if not i.blocked) > 0
    day = datetime.date.today()
    dated = compiled.count("test:count-dated", lambda: AdverseEvent.objects.filter(onset_date__lte=day))
    assert dated == AdverseEvent.objects.filter(onset_date__lte=day).count()
    assert not compiled.is_compiled("test:count-dated")
    # the study-wide reads of the navigation (registered and unlocked patients), as the ORM reads them
    assert selectors._registered() == list(
        Patient.objects.filter(study_number__isnull=False)
        .order_by("study_number")
        .values_list("pk", flat=True)
    )
    assert compiled.is_compiled("visits:registered")
    got = compiled.rows(
        "test:rows", lambda: Patient.objects.order_by("pk").values_list("pk", "registration_date")
    )
    assert _typed(got) == _typed(Patient.objects.order_by("pk").values_list("pk", "registration_date"))
