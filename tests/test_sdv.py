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
