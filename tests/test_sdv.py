"""Bulk source-data verification by monitors; a later change drops it and shows who changed what since."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from enrollment.models import ScreeningLog
from sabr_trial import services
from sabr_trial.crf import CrfStatus
from tests.factories import RegisteredPatientFactory, ScreeningLogFactory

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()


@pytest.fixture
def log():
    return ScreeningLogFactory(
        patient=RegisteredPatientFactory(),
        screening_date=TODAY - datetime.timedelta(days=20),
        status=CrfStatus.SUBMITTED,
    )


def sdv_url(log):
    return reverse("patient_sdv", args=[log.patient_id])


@pytest.mark.parametrize("payload", [{"rows": "screening:{pk}"}, {"all": "1"}, {"date": "{date}"}])
def test_monitor_verifies_in_bulk_by_selection_all_or_visit_date(as_monitor, log, payload):
    data = {k: v.format(pk=log.pk, date=log.screening_date.isoformat()) for k, v in payload.items()}
    page = as_monitor.get(sdv_url(log)).text
    response = as_monitor.post(sdv_url(log), data)
    log.refresh_from_db()
    assert 'name="rows"' in page and response.status_code == 302
    assert log.status == CrfStatus.VERIFIED and log.verified_by.username == "mon"


@pytest.mark.parametrize("role", ["coordinator", "investigator", "data_manager"])
def test_only_monitors_verify_in_bulk(request, log, role):
    response = request.getfixturevalue(f"as_{role}").post(sdv_url(log), {"all": "1"})
    log.refresh_from_db()
    assert response.status_code == 403 and log.status == CrfStatus.SUBMITTED


def test_nothing_selected_is_refused_with_a_message(as_monitor, log):
    response = as_monitor.post(sdv_url(log), {})
    assert response.status_code == 422 and "Select at least one form" in response.text


def test_bulk_sdv_of_a_locked_patient_is_refused(as_monitor, log, data_manager):
    services.patient_lock(patient=log.patient, acting_user=data_manager, reason="complete")
    response = as_monitor.post(sdv_url(log), {"rows": f"screening:{log.pk}"})
    log.refresh_from_db()
    assert response.status_code == 409 and "locked" in response.text and log.verified_at is None


def test_change_after_sdv_drops_it_and_shows_who_changed_what(as_monitor, as_coordinator, log):
    as_monitor.post(sdv_url(log), {"all": "1"})
    log.refresh_from_db()
    new_date = TODAY - datetime.timedelta(days=24)
    as_coordinator.post(
        reverse("crf_update", args=[log.patient_id, "screening", log.pk]),
        {
            "screening_date": new_date.isoformat(),
            "outcome": log.outcome,
            "outcome_date": "",
            "failure_reason": "",
            "failure_text": "",
            "expected_version": log.version,
            "change_reason": "Typo",
        },
    )
    row = ScreeningLog.objects.get()
    page = as_monitor.get(reverse("crf_detail", args=[log.patient_id, "screening", log.pk])).text
    assert row.status == CrfStatus.SUBMITTED and row.verified_at is None
    assert 'data-testid="changed-since-sdv"' in page and "coord" in page and "Typo" in page


def test_the_sdv_table_is_kept_per_patient_version_reader_and_language(
    as_monitor, as_coordinator, log, django_capture_on_commit_callbacks
):
    """Issue 20: the table is rendered once per (patient data version, language, may verify); a verification, a
    change and another reader each show what is true now."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    first = as_monitor.get(sdv_url(log)).text
    assert f'value="screening:{log.pk}"' in first and "1 form awaiting SDV" in first
    with CaptureQueriesContext(connection) as again:
        assert as_monitor.get(sdv_url(log)).text.count('name="rows"') == first.count('name="rows"')
    assert not [q for q in again.captured_queries if "enrollment_screeninglog" in q["sql"]]  # from the cache
    zh = as_monitor.get(
        sdv_url(log), HTTP_ACCEPT_LANGUAGE="zh-hans"
    ).text  # its own table, not the English one
    assert "待核查" in zh and ">awaiting<" not in zh and ">awaiting<" in first
    # a coordinator verifies nothing: no checkbox, although the monitor's table is cached
    assert 'name="rows"' not in as_coordinator.get(sdv_url(log)).text
    with django_capture_on_commit_callbacks(execute=True):
        assert as_monitor.post(sdv_url(log), {"rows": f"screening:{log.pk}"}).status_code == 302
    after = as_monitor.get(sdv_url(log)).text
    assert f'value="screening:{log.pk}"' not in after and "0 forms awaiting SDV" in after
    assert TODAY.isoformat() in after  # the verification date
