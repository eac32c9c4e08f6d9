"""The casebook's cached fragments are never stale (issue 20): after any change through the services the next view
shows it, whoever reads, in whichever language, and with the cache down the page is computed every time.

The changes run with their after-commit work executed (``django_capture_on_commit_callbacks``), as they do in
production: the data generation is bumped after commit (``sabr_trial.generation``).
"""

from __future__ import annotations

import datetime
import re

import pytest
from django.db import connection
from django.test import Client, RequestFactory, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from sabr_trial import generation, services
from sabr_trial.queries import raise_query
from tests.factories import PASSWORD, RegisteredPatientFactory, ScreeningLogFactory

pytestmark = pytest.mark.django_db

#: django-redis at a port where nothing listens (this suite's range): every cache call fails and is ignored.
REDIS_DOWN = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": "redis://127.0.0.1:8119/0",
        "OPTIONS": {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
    }
}


@pytest.fixture
def patient():
    patient = RegisteredPatientFactory()
    ScreeningLogFactory(patient=patient, screening_date=datetime.date(2026, 1, 5))
    return patient


@pytest.fixture
def change(django_capture_on_commit_callbacks):
    """Run a service call as a request would: its after-commit work runs when it returns."""

    def run(fn, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(*args, **kwargs)

    return run


def page(client, patient) -> str:
    response = client.get(reverse("casebook", args=[patient.pk]))
    assert response.status_code == 200
    return response.text


def test_a_second_view_is_read_from_the_cache(as_coordinator, patient):
    with CaptureQueriesContext(connection) as first:
        page(as_coordinator, patient)
    with CaptureQueriesContext(connection) as again:
        page(as_coordinator, patient)
    assert len(again.captured_queries) < len(first.captured_queries) - 20


def test_a_form_change_shows(as_coordinator, coordinator, patient, change):
    assert "2026-01-05" in page(as_coordinator, patient)
    log = patient.enrollment_screeninglog_set.get()
    change(
        services.crf_update,
        instance=log,
        expected_version=log.version,
        data={"screening_date": datetime.date(2026, 1, 6)},
        reason="typo",
        acting_user=coordinator,
    )
    text = page(as_coordinator, patient)
    assert "2026-01-06" in text and "2026-01-05" not in text


def test_a_submission_and_its_sdv_show(as_coordinator, as_monitor, coordinator, monitor, patient, change):
    assert 'data-status="draft"' in page(as_monitor, patient)
    log = patient.enrollment_screeninglog_set.get()
    change(services.crf_submit, instance=log, acting_user=coordinator)
    text = page(as_monitor, patient)
    assert 'data-status="submitted"' in text and 'data-status="draft"' not in text
    assert re.search(r'SDV <span class="badge text-bg-info">1</span>', text)
    log.refresh_from_db()
    change(services.crf_verify, instance=log, acting_user=monitor)
    text = page(as_monitor, patient)
    assert 'data-status="verified"' in text
    assert re.search(r'SDV <span class="badge text-bg-info">0</span>', text)


def test_a_raised_query_shows(as_coordinator, data_manager, patient, change):
    assert 'data-testid="row-queries"' not in page(as_coordinator, patient)
    log = patient.enrollment_screeninglog_set.get()
    change(raise_query, row=log, text="Please check the date.", acting_user=data_manager)
    text = page(as_coordinator, patient)
    assert 'data-testid="row-queries"' in text and "Please check the date." in text


def test_a_casebook_signature_shows(as_investigator, investigator, coordinator, patient, change):
    log = patient.enrollment_screeninglog_set.get()
    change(services.crf_submit, instance=log, acting_user=coordinator)
    assert 'data-testid="casebook-signature"' not in page(as_investigator, patient)
    request = RequestFactory().post("/")  # the login lockout (django-axes) reads the password check's request
    change(
        services.casebook_sign, patient=patient, acting_user=investigator, password=PASSWORD, request=request
    )
    assert 'data-testid="casebook-signature"' in page(as_investigator, patient)


def test_a_lock_shows_and_hides_the_add_buttons(as_coordinator, data_manager, patient, change):
    assert "/new/" in page(as_coordinator, patient)
    change(services.patient_lock, patient=patient, acting_user=data_manager, reason="complete")
    text = page(as_coordinator, patient)
    assert 'data-testid="casebook-lock"' in text and "/new/" not in text
    change(services.patient_unlock, patient=patient, acting_user=data_manager, reason="reopen")
    assert "/new/" in page(as_coordinator, patient)


def test_each_role_sees_its_own_controls(as_coordinator, as_monitor, as_data_manager, patient):
    assert "/new/" in page(as_coordinator, patient)
    monitor_page = page(as_monitor, patient)
    assert "/new/" not in monitor_page and 'data-testid="lock-casebook"' not in monitor_page
    assert 'data-testid="lock-casebook"' in page(as_data_manager, patient)
    assert 'data-testid="lock-casebook"' not in page(as_coordinator, patient)


def test_a_language_switch_shows(as_coordinator, patient):
    assert "Data management" in page(as_coordinator, patient)
    as_coordinator.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    text = page(as_coordinator, patient)
    assert "数据管理" in text and "Data management" not in text
    as_coordinator.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert "Data management" in page(as_coordinator, patient)


def test_no_csrf_token_is_shared_and_each_one_works(data_manager, patient, change):
    """The unlock form is in a cached fragment: each reader gets their own token, and it is accepted."""
    change(services.patient_lock, patient=patient, acting_user=data_manager, reason="complete")
    tokens = []
    for _ in range(2):
        client = Client(enforce_csrf_checks=True)
        client.force_login(data_manager)
        text = page(client, patient)
        form = text.split(f'action="{reverse("patient_unlock", args=[patient.pk])}"')[1]
        tokens.append(re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1))
    assert tokens[0] != tokens[1]
    response = client.post(
        reverse("patient_unlock", args=[patient.pk]), {"reason": "reopen", "csrfmiddlewaretoken": tokens[1]}
    )
    assert response.status_code == 302
    patient.refresh_from_db()
    assert patient.locked_at is None


@override_settings(CACHES=REDIS_DOWN)
def test_with_the_cache_down_every_view_is_computed(as_coordinator, coordinator, patient, change):
    assert "2026-01-05" in page(as_coordinator, patient)
    log = patient.enrollment_screeninglog_set.get()
    change(
        services.crf_update,
        instance=log,
        expected_version=log.version,
        data={"screening_date": datetime.date(2026, 1, 6)},
        reason="typo",
        acting_user=coordinator,
    )
    assert "2026-01-06" in page(as_coordinator, patient)


def test_query_ceilings(as_coordinator, patient, django_assert_max_num_queries):
    """A view after a change reads every form table once (one query each, the SDV backlog in one more); a view of
    unchanged data reads the patient, the locks and the navigation only."""
    page(as_coordinator, patient)  # the process's first view also reads the content types and the session
    generation.bump()  # as after a change to this patient
    generation.bump_for(patient.pk)
    with CaptureQueriesContext(connection) as miss:
        page(as_coordinator, patient)
    assert HIT_CEILING < len(miss.captured_queries) <= MISS_CEILING
    with django_assert_max_num_queries(HIT_CEILING):
        page(as_coordinator, patient)


MISS_CEILING = 85
HIT_CEILING = 15


def test_the_query_count_in_the_navigation_follows_a_new_query(as_coordinator, data_manager, patient, change):
    queries = f'href="{reverse("query_list")}">Queries'
    assert f"{queries}</a>" in page(as_coordinator, patient)
    log = patient.enrollment_screeninglog_set.get()
    change(raise_query, row=log, text="Please check the date.", acting_user=data_manager)
    assert f'{queries} <span class="badge text-bg-warning">1</span>' in page(as_coordinator, patient)


# --- The CRF page's cached parts: the change history and the AE soft checks ------------------------------------


def detail(client, row) -> str:
    response = client.get(row.get_absolute_url())
    assert response.status_code == 200
    return response.text


def _edit_date(change, coordinator, patient, day: int) -> None:
    log = patient.enrollment_screeninglog_set.get()
    change(
        services.crf_update,
        instance=log,
        expected_version=log.version,
        data={"screening_date": datetime.date(2026, 1, day)},
        reason=f"typo {day}",
        acting_user=coordinator,
    )


def test_the_history_follows_a_change(as_coordinator, coordinator, patient, change):
    log = patient.enrollment_screeninglog_set.get()
    assert "typo" not in detail(as_coordinator, log)
    _edit_date(change, coordinator, patient, 6)
    assert "typo 6" in detail(as_coordinator, log)


def test_a_history_only_change_shows(as_coordinator, coordinator, patient, change):
    _edit_date(change, coordinator, patient, 6)
    log = patient.enrollment_screeninglog_set.get()
    assert "typo 6" in detail(as_coordinator, log)
    record = log.history.order_by("-history_id").first()
    record.history_change_reason = "typo in the source document"
    change(record.save)
    text = detail(as_coordinator, log)
    assert "typo in the source document" in text and "typo 6" not in text


def test_a_new_user_name_shows_in_the_history(as_coordinator, investigator, patient, change):
    _edit_date(change, investigator, patient, 6)
    log = patient.enrollment_screeninglog_set.get()
    assert "inv-renamed" not in detail(as_coordinator, log)
    investigator.username = "inv-renamed"
    change(investigator.save)
    assert "inv-renamed" in detail(as_coordinator, log)


def test_the_history_reads_in_the_readers_language(as_coordinator, coordinator, patient, change):
    _edit_date(change, coordinator, patient, 6)
    log = patient.enrollment_screeninglog_set.get()
    assert "Changes</th>" in detail(as_coordinator, log)
    as_coordinator.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    assert "Changes</th>" not in detail(as_coordinator, log)


def test_the_ae_soft_checks_follow_the_treatment(as_coordinator, change):
    from tests.factories_adverse_events import AdverseEventFactory
    from tests.factories_treatment import consented_patient, give_axitinib

    ae = AdverseEventFactory(patient=consented_patient())
    assert "No study treatment is recorded yet" in detail(as_coordinator, ae)
    change(give_axitinib, ae.patient, start=ae.onset_date - datetime.timedelta(days=5))
    assert "No study treatment is recorded yet" not in detail(as_coordinator, ae)


# --- Per-patient generations: a change to another patient keeps this patient's fragments -----------------------


def test_a_change_to_another_patient_keeps_this_casebook(as_coordinator, coordinator, patient, change):
    """The casebook's own reads (its signatures, for one) are not made again after another patient's change (the
    navigation's study-wide counts are)."""

    def make_other():
        other = RegisteredPatientFactory()
        ScreeningLogFactory(patient=other, screening_date=datetime.date(2026, 1, 5))
        return other

    # after commit, as in production (the test's own rows, the fixture's included, are bumped now, not later)
    other = change(make_other)

    def casebook_reads(queries) -> int:
        return sum("sabr_trial_casebooksignature" in q["sql"] for q in queries.captured_queries)

    page(as_coordinator, patient)
    _edit_date(change, coordinator, other, 7)
    with CaptureQueriesContext(connection) as after_other:
        page(as_coordinator, patient)
    assert casebook_reads(after_other) == 0
    _edit_date(change, coordinator, patient, 8)
    with CaptureQueriesContext(connection) as after_own:
        assert "2026-01-08" in page(as_coordinator, patient)
    assert casebook_reads(after_own) == 1


def test_a_study_lock_shows_on_every_casebook(as_coordinator, data_manager, patient, change):
    assert "/new/" in page(as_coordinator, patient)
    change(services.study_lock, acting_user=data_manager, reason="final analysis")
    text = page(as_coordinator, patient)
    assert 'data-testid="casebook-lock"' in text and "/new/" not in text
