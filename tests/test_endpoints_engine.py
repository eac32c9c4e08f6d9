"""Endpoint recompute: snapshots stored atomically, fixed query count, failures keep the last result."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from endpoints import services
from endpoints.collect import collect_study
from endpoints.models import EndpointSnapshot, EndpointState
from enrollment.services import patient_register
from tests.factories import UserFactory
from tests.factories_enrollment import registrable

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate()


def make_patients(user, n):
    investigator = UserFactory(username="endpoint-inv", role="investigator")  # get_or_create by username
    for _ in range(n):
        p = registrable(user, investigator, days_ago=10)
        patient_register(patient=p, registration_date=TODAY, acting_user=user)


def test_recompute_stores_one_ok_snapshot_with_fingerprint(coordinator):
    make_patients(coordinator, 3)
    snap = services.run_recompute(trigger="test")
    assert (snap.status, snap.n_patients, len(snap.fingerprint)) == ("ok", 3, 64)
    assert set(snap.figures) >= {
        "km_pfs1",
        "km_pfs2",
        "km_os",
        "waterfall",
        "swimmer",
        "spider",
        "lc_patient",
    }


def test_same_data_give_the_same_fingerprint(coordinator):
    make_patients(coordinator, 2)
    assert services.run_recompute(trigger="a").fingerprint == services.run_recompute(trigger="b").fingerprint


def test_collector_query_count_does_not_grow_with_patients(coordinator):
    make_patients(coordinator, 2)
    with CaptureQueriesContext(connection) as small:
        collect_study(TODAY)
    make_patients(coordinator, 8)
    with CaptureQueriesContext(connection) as large:
        collect_study(TODAY)
    assert len(small.captured_queries) == len(large.captured_queries)


def test_failed_run_keeps_previous_snapshot_and_shows_error(coordinator, as_investigator, monkeypatch):
    make_patients(coordinator, 1)
    good = services.run_recompute(trigger="good")

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("endpoints.collect.content_hashes", broken)
    bad = services.run_recompute(trigger="bad")
    page = as_investigator.get(reverse("endpoints:dashboard"))
    assert bad.status == "failed" and services.latest_snapshot(TODAY) == good
    assert "disk on fire" in page.text


def test_dashboard_says_results_are_stale_after_a_data_change(coordinator, as_investigator, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False  # as with a worker: the page shows, it does not compute
    make_patients(coordinator, 1)
    services.run_recompute(trigger="t")
    EndpointState.objects.update_or_create(pk=1, defaults={"data_changed_at": timezone.now()})
    assert 'data-testid="stale"' in as_investigator.get(reverse("endpoints:dashboard")).text


def test_broker_down_save_still_works_and_change_is_recorded(coordinator, settings, monkeypatch):
    from kombu.exceptions import OperationalError

    from endpoints.tasks import recompute

    settings.CELERY_TASK_ALWAYS_EAGER = False

    def down(*args, **kwargs):
        raise OperationalError("Connection refused")

    monkeypatch.setattr(recompute, "apply_async", down)
    services.mark_data_changed()
    state = EndpointState.objects.get(pk=1)
    assert state.data_changed_at is not None and "Connection refused" in state.last_enqueue_error


def test_burst_of_saves_enqueues_one_recompute(settings, monkeypatch):
    from django.core.cache import cache

    from endpoints.tasks import recompute

    settings.CELERY_TASK_ALWAYS_EAGER = False
    cache.delete("endpoints:recompute-scheduled")
    calls = []
    monkeypatch.setattr(recompute, "apply_async", lambda *a, **k: calls.append(k))
    for _ in range(10):
        services.mark_data_changed()
    assert len(calls) == 1 and calls[0]["countdown"] == services.DEBOUNCE_SECONDS


def _pending_run_scheduled(seconds_ago: float, *, changed_seconds_ago: float) -> datetime.datetime:
    """Put the debounce in the state 'a run was scheduled ``seconds_ago``, the last save ``changed_..._ago``'."""
    from django.core.cache import cache
    from django.utils import timezone

    now = timezone.now()
    cache.set(services._SCHEDULED_KEY, now.timestamp() - seconds_ago, timeout=600)
    EndpointState.objects.update_or_create(
        pk=1, defaults={"data_changed_at": now - datetime.timedelta(seconds=changed_seconds_ago)}
    )
    return now


def test_due_run_postpones_itself_while_saves_still_arrive():
    from django.core.cache import cache

    window = services.DEBOUNCE_SECONDS
    now = _pending_run_scheduled(window, changed_seconds_ago=window / 4)  # a save a quarter-window ago
    assert services.debounce_delay(now) == pytest.approx(window * 3 / 4, abs=0.01)
    assert cache.get(services._SCHEDULED_KEY) is not None  # still pending: later saves enqueue nothing


def test_due_run_runs_after_a_quiet_window_and_frees_the_key():
    from django.core.cache import cache

    window = services.DEBOUNCE_SECONDS
    now = _pending_run_scheduled(window, changed_seconds_ago=window + 1)
    assert services.debounce_delay(now) == 0
    assert cache.get(services._SCHEDULED_KEY) is None  # a save from now on schedules the next run


def test_a_steady_stream_of_saves_does_not_postpone_the_run_beyond_the_maximum_wait():
    now = _pending_run_scheduled(services.DEBOUNCE_MAX_WAIT + 1, changed_seconds_ago=0.1)
    assert services.debounce_delay(now) == 0


def test_postponed_task_reenqueues_itself_and_stores_nothing(settings, monkeypatch):
    from endpoints.tasks import recompute

    settings.CELERY_TASK_ALWAYS_EAGER = False
    _pending_run_scheduled(1, changed_seconds_ago=0.5)
    calls = []
    monkeypatch.setattr(recompute, "apply_async", lambda *a, **k: calls.append(k))
    assert recompute.run(trigger="data change", debounced=True) is None
    assert (
        len(calls) == 1
        and calls[0]["kwargs"]["debounced"]
        and 0 < calls[0]["countdown"] <= services.DEBOUNCE_SECONDS
    )
    assert not EndpointSnapshot.objects.exists()


def test_recompute_now_button(as_investigator):
    response = as_investigator.post(reverse("endpoints:recompute"), {"cutoff": TODAY.isoformat()})
    assert (
        response.status_code == 302 and EndpointSnapshot.objects.filter(trigger="recompute now").count() == 1
    )


def test_dashboard_refuses_users_without_role(as_outsider):
    assert as_outsider.get(reverse("endpoints:dashboard")).status_code == 403


def test_embedded_mode_dashboard_computes_when_data_are_newer(coordinator, as_investigator, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    make_patients(coordinator, 2)
    services.mark_data_changed()
    page = as_investigator.get(reverse("endpoints:dashboard"))
    assert EndpointSnapshot.objects.filter(trigger="dashboard (in-process)").count() == 1
    assert 'data-testid="stale"' not in page.text


def test_every_source_form_named_by_the_collector_is_a_registered_crf():
    """Each derived date links to the form that set it: the slugs must exist in the CRF registry."""
    import re
    from pathlib import Path

    from sabr_trial.crf import registry

    source = (Path(__file__).resolve().parent.parent / "endpoints" / "collect.py").read_text()
    slugs = set(re.findall(r'_src\(\s*"([a-z-]+)"', source))
    assert slugs and sorted(s for s in slugs if s not in registry) == []


def test_dashboard_reads_the_stored_summary_and_one_listing_page(coordinator, as_investigator, monkeypatch):
    """Issue 7: the page reads the snapshot's summary and one listing page, never the whole results JSON."""
    from endpoints.models import EndpointListingPage

    monkeypatch.setattr(services, "LISTING_PAGE_SIZE", 2)
    make_patients(coordinator, 5)
    snap = services.run_recompute(trigger="test")
    assert EndpointListingPage.objects.filter(snapshot=snap).count() == 3  # 2 + 2 + 1 rows
    assert (
        "patients" not in snap.summary and "patients" not in snap.results and snap.summary["n_patients"] == 5
    )
    with CaptureQueriesContext(connection) as ctx:
        page = as_investigator.get(reverse("endpoints:dashboard"), {"page": 3})
    numbers = [p["study_number"] for p in snap.patient_rows()]
    assert numbers[4] in page.text and numbers[0] not in page.text.split('data-testid="listing"')[1]
    assert not [q for q in ctx.captured_queries if '"endpoints_endpointsnapshot"."results"' in q["sql"]]
    assert 'data-testid="safety-summary"' in page.text and 'data-testid="nonirr"' in page.text


def test_a_debounced_run_executed_in_process_runs_at_once(settings):
    """Eager execution (no worker) must not re-enqueue itself: that would recurse instead of waiting."""
    from endpoints.tasks import recompute

    _pending_run_scheduled(1, changed_seconds_ago=0.1)  # a save just now: a queued run would postpone itself
    result = recompute.apply(kwargs={"trigger": "data change", "debounced": True})
    assert result.successful() and EndpointSnapshot.objects.filter(pk=result.result).exists()


def test_figures_are_drawn_with_the_translated_labels(coordinator, monkeypatch):
    """Every text of the figures comes through plot_labels (gettext), so a translated site gets translated axes."""
    from endpoints.plots import DEFAULT_LABELS

    make_patients(coordinator, 2)
    monkeypatch.setattr(
        services, "plot_labels", lambda language=None: {**DEFAULT_LABELS, "no_data": "Keine Daten-xx"}
    )
    snap = services.run_recompute(trigger="test")  # registered, not treated: every survival figure is empty
    assert "Keine Daten-xx" in snap.figures["km_os"] and "No data" not in snap.figures["km_os"]
