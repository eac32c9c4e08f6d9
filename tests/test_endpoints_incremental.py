"""The recompute's per-patient memo (endpoints.incremental): never stale, and the same snapshot as a cold run.

The study is the benchmark's synthetic generator (lesions, SABR, axitinib, toripalimab, assessments with lesion
results, subsequent therapies, deaths and AEs) at 40 patients, so every collector source has rows.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.apps import apps
from django.db import IntegrityError, connection, transaction
from django.db.models import ProtectedError
from django.utils import timezone

from adverse_events import reporting
from adverse_events.selectors import episodes, safety_population
from bench.synthetic import generate
from endpoints import collect, incremental, services
from endpoints.models import EndpointListingContent, EndpointSnapshot
from enrollment.models import Patient
from tests.factories import UserFactory
from tests.factories_adverse_events import ensure_ctcae_terms

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate()
N = 40


@pytest.fixture
def study(db):
    ensure_ctcae_terms()
    user = UserFactory(username="memo-coord", role="coordinator")
    counts = generate(N, user=user, seed=11)
    assert all(counts.get(name) for name in ("LesionResult", "SabrFraction", "AdverseEvent", "DeathReport"))
    # The generator writes no follow-up contacts or off-study forms: one of each, so every source has rows.
    crf = {"status": "submitted", "created_by": user, "updated_by": user, "submitted_at": timezone.now()}
    alive = (
        _model("enrollment.Patient")
        .objects.filter(study_number__isnull=False, enrollment_deathreport_set__isnull=True)
        .distinct()
    )
    first, second = alive.order_by("pk")[:2]
    _model("enrollment.SurvivalContact").objects.create(
        patient=first,
        contact_date=TODAY - datetime.timedelta(days=5),
        method="TELEPHONE",
        reached="Y",
        survival_status="ALIVE",
        **crf,
    )
    _model("enrollment.Disposition").objects.create(
        patient=second,
        eot_reason="PHYSICIAN DECISION",
        eos_date=TODAY - datetime.timedelta(days=9),
        eos_reason="LOST TO FOLLOW-UP",
        **crf,
    )
    return counts


def _comparable(snap: Any) -> tuple[Any, ...]:
    return snap.fingerprint, snap.results, snap.figures, snap.summary, snap.patient_rows()


def _cold(cutoff: datetime.date | None = None) -> Any:
    incremental.clear()
    snap = services.run_recompute(trigger="cold", cutoff=cutoff)
    assert snap.status == "ok", snap.error
    registered = Patient.objects.filter(
        study_number__isnull=False, registration_date__lte=cutoff or TODAY
    ).count()
    assert snap.timings["patients_derived"] == registered == (N if cutoff is None else registered)
    return snap


def _model(label: str) -> Any:
    return apps.get_model(*label.split("."))


def _others(value: Any, field: Any) -> list[Any]:
    """Valid values of ``field`` other than ``value``, to try in turn (check constraints may refuse some)."""
    if field.choices:
        return [c for c, _ in field.flatchoices if c != value and c != ""]
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, datetime.date):
        return [value - datetime.timedelta(days=1), value + datetime.timedelta(days=1)]
    if isinstance(value, Decimal | int):
        return [value + 1, value - 1]
    if value is None:
        internal = field.get_internal_type()
        return [
            {"DateField": TODAY - datetime.timedelta(days=3), "DecimalField": Decimal("1.5")}.get(
                internal, "X"
            )
        ]
    return [f"{value}x"]


def _try_update(model: Any, pk: int, attname: str, candidates: list[Any]) -> bool:
    for candidate in candidates:
        try:
            with transaction.atomic():
                model.objects.filter(pk=pk).update(**{attname: candidate})
            return True
        except (IntegrityError, ValueError):
            continue
    return False


def test_one_changed_patient_is_derived_again_and_the_snapshot_equals_a_cold_run(study, coordinator):
    first = _cold()
    ta_model = _model("assessments.TumourAssessment")
    ta = ta_model.objects.filter(pct_chg_baseline__isnull=False).order_by("pk").first()
    ta_model.objects.filter(pk=ta.pk).update(pct_chg_baseline=ta.pct_chg_baseline - 7)

    warm = services.run_recompute(trigger="after one change")
    assert warm.status == "ok", warm.error
    assert warm.timings["patients_derived"] == 1 and warm.timings["memo_hits"] >= N - 1
    assert warm.fingerprint != first.fingerprint
    cold = _cold()
    assert _comparable(warm) == _comparable(cold)


def test_unchanged_data_derive_nobody_and_give_the_same_snapshot(study):
    first = _cold()
    again = services.run_recompute(trigger="again")
    assert again.timings["patients_derived"] == 0 and again.timings["ae_patients_counted"] == 0
    assert _comparable(again) == _comparable(first)


def test_another_cut_off_is_its_own_key(study):
    _cold()
    cutoff = TODAY - datetime.timedelta(days=200)
    earlier = services.run_recompute(trigger="earlier", cutoff=cutoff)
    # every patient registered by that cut-off is derived again (the others are not in the study yet)
    registered = Patient.objects.filter(study_number__isnull=False, registration_date__lte=cutoff).count()
    assert 0 < registered < N
    assert earlier.timings["patients_derived"] == registered
    assert _comparable(earlier) == _comparable(_cold(TODAY - datetime.timedelta(days=200)))


def test_new_code_is_a_new_key(study, monkeypatch):
    _cold()
    monkeypatch.setattr(incremental, "_code_version", "another deployment")
    assert services.run_recompute(trigger="deploy").timings["patients_derived"] == N


def test_another_worker_process_finds_the_entries_in_the_shared_cache(study, settings):
    if not incremental.shared_level():
        pytest.skip("no shared cache (REDIS_URL unset): one process, its own memo only")
    first = _cold()
    with incremental._memo_lock:
        incremental._memo.clear()  # a different process: nothing of its own yet
    other = services.run_recompute(trigger="other process")
    assert (other.timings["patients_derived"], other.timings["memo_hits"]) == (0, 0)
    assert other.timings["shared_memo_hits"] > 0
    assert _comparable(other) == _comparable(first)


def _hashes(*sources: collect.Source) -> dict[int, dict[str, str]]:
    """The per-patient hashes of ``sources``: PostgreSQL's, else those hashed in Python (other databases)."""
    sql = collect.content_hashes(sources)
    if sql is not None:
        return sql
    if any(s.key == "ae" for s in sources):
        pytest.skip("other databases hash the AE episodes as read (test_the_python_hashes_path_...)")
    keys = {s.key for s in sources}
    by = collect.python_hashes(collect.read_rows())
    return {pid: {k: v for k, v in h.items() if k in keys} for pid, h in by.items() if keys & set(h)}


def _source_rows(source: collect.Source) -> list[dict[str, Any]]:
    return list(collect._queryset(source).values("pk", source.patient_field))


@pytest.mark.parametrize("source", [*collect.SOURCES, "ae"], ids=lambda s: getattr(s, "key", s))
def test_every_field_the_collector_reads_changes_exactly_its_patients_hash(study, source):
    """Each local field of each source, changed in one row, changes that patient's hash of that source only;
    deleting the row does too. Both the PostgreSQL hash and the Python one (other databases)."""
    if source == "ae":
        source = collect.ae_source()
    model = _model(f"{source.app}.{source.model}")
    rows = _source_rows(source)
    if not rows:
        pytest.skip(f"the synthetic study has no {source.model} rows")
    row = rows[len(rows) // 2]
    pid = row[source.patient_field]
    sql_before = _hashes(source)
    py_before = collect.python_hashes(collect.read_rows()) if source.key != "ae" else None
    checked, refused = [], []
    for name in source.fields:
        if name == "pk" or "__" in name or name.endswith("_id"):
            continue
        field = model._meta.get_field(name)
        old = getattr(model.objects.get(pk=row["pk"]), field.attname)
        if not _try_update(model, row["pk"], field.attname, _others(old, field)):
            refused.append(name)  # the database's check constraints allow no other value on its own
            continue
        after = _hashes(source)
        assert after[pid][source.key] != sql_before[pid][source.key], name
        assert {p: h for p, h in after.items() if p != pid} == {
            p: h for p, h in sql_before.items() if p != pid
        }
        if py_before is not None:
            py_after = collect.python_hashes(collect.read_rows())
            assert py_after[pid][source.key] != py_before[pid][source.key], name
        model.objects.filter(pk=row["pk"]).update(**{field.attname: old})
        assert _hashes(source) == sql_before, f"{name} restored"
        checked.append(name)
    assert len(checked) >= len(refused), (checked, refused)
    try:
        with transaction.atomic():
            model.objects.filter(pk=row["pk"]).delete()
    except (ProtectedError, IntegrityError):
        return  # rows other forms refer to cannot be deleted
    assert _hashes(source).get(pid, {}).get(source.key) != sql_before[pid][source.key]


def test_joined_fields_change_the_hash_of_their_patient(study):
    """lres reads the assessment's scan date; fx reads the course's protocol flag and number."""
    lres = collect.SOURCES[[s.key for s in collect.SOURCES].index("lres")]
    fx = collect.SOURCES[[s.key for s in collect.SOURCES].index("fx")]
    before = _hashes(lres, fx)
    ta_model = _model("assessments.TumourAssessment")
    ta = ta_model.objects.filter(results__isnull=False).order_by("pk").first()
    ta_model.objects.filter(pk=ta.pk).update(scan_date_first=ta.scan_date_first - datetime.timedelta(days=1))
    course_model = _model("treatment.SabrCourse")
    course = course_model.objects.order_by("pk").last()
    course_model.objects.filter(pk=course.pk).update(course_number=course.course_number + 1)
    after = _hashes(lres, fx)
    assert after[ta.patient_id]["lres"] != before[ta.patient_id]["lres"]
    assert after[course.patient_id]["fx"] != before[course.patient_id]["fx"]


def test_the_python_hashes_path_gives_the_same_snapshot(study, monkeypatch):
    """Databases other than PostgreSQL (the embedded SQLite default) hash the rows in Python."""
    pg = _cold()
    monkeypatch.setattr(collect, "content_hashes", lambda sources: None)
    incremental.clear()
    first = services.run_recompute(trigger="python hashes")
    assert first.timings["patients_derived"] == N
    ae_model = _model("adverse_events.AdverseEvent")
    ae = ae_model.objects.order_by("pk").first()
    ae_model.objects.filter(pk=ae.pk).update(grade=5 if ae.grade != 5 else 4)
    second = services.run_recompute(trigger="python hashes, one AE changed")
    assert (second.timings["patients_derived"], second.timings["ae_patients_counted"]) == (0, 1)
    assert first.results == pg.results and first.figures == pg.figures
    monkeypatch.undo()
    cold = _cold()
    assert (second.results, second.figures) == (cold.results, cold.figures)


def test_safety_summary_summed_over_patients_equals_the_whole_study_tables(study):
    eps = [e for e in episodes() if e.onset_date <= TODAY]
    n = safety_population()
    whole_overview = [(row.label, str(row.count)) for row in reporting.overview(eps, n)]
    whole_related = [
        (str(row.counts.any_grade), str(row.counts.grade_3_or_higher))
        for row in reporting.related_by_agent(eps, n)
    ]
    snap = _cold()  # the stored summary, summed from per-patient parts
    summary = EndpointSnapshot.objects.get(pk=snap.pk).results["safety"]
    whole_overview = [list(row) for row in whole_overview]  # JSON stores the pairs as lists
    assert summary["overview"] == whole_overview
    assert [(r["any"], r["g3"]) for r in summary["related"]] == whole_related
    assert summary["n_episodes"] == len(eps) and summary["n"] == n
    assert any(row[1] != "0 (0.0%)" for row in whole_overview)  # the study has AEs to count


def test_a_page_of_the_listing_is_stored_once_and_shared(study, monkeypatch):
    monkeypatch.setattr(services, "LISTING_PAGE_SIZE", 10)
    first = _cold()
    assert first.listing_pages.count() == 4
    stored = EndpointListingContent.objects.count()
    death_model = _model("enrollment.DeathReport")
    death = death_model.objects.order_by("pk").first()
    death_model.objects.filter(pk=death.pk).update(death_date=death.death_date - datetime.timedelta(days=1))
    second = services.run_recompute(trigger="one death date")
    assert EndpointListingContent.objects.count() == stored + 1
    shared = set(first.listing_pages.values_list("content_id", flat=True)) & set(
        second.listing_pages.values_list("content_id", flat=True)
    )
    assert len(shared) == 3
    assert second.patient_rows() == _cold().patient_rows()


def test_the_hash_query_is_one_query_and_only_changed_patients_are_read(study, django_assert_max_num_queries):
    if connection.vendor != "postgresql":
        pytest.skip("the hash query is PostgreSQL's")
    _cold()
    with django_assert_max_num_queries(20) as captured:
        services.run_recompute(trigger="nothing changed")
    reads = [q["sql"] for q in captured.captured_queries if "hash_record_extended" in q["sql"]]
    assert len(reads) == 1


def test_dashboard_says_how_many_patients_the_run_derived(study, as_investigator):
    from django.urls import reverse

    _cold()
    ta_model = _model("assessments.TumourAssessment")
    ta = ta_model.objects.filter(pct_chg_baseline__isnull=False).order_by("-pk").first()
    ta_model.objects.filter(pk=ta.pk).update(pct_chg_baseline=ta.pct_chg_baseline + 3)
    services.run_recompute(trigger="one save")
    page = as_investigator.get(reverse("endpoints:dashboard")).text
    assert f"1 of {N} patients derived in this run" in page
