"""Patient and study locks: every path refuses every change (form, transitions, services, a bare save())."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from enrollment.models import ScreeningLog
from sabr_trial import services
from sabr_trial.crf import CrfStatus
from sabr_trial.models import AuditEvent, CrfLocked, StudyLock
from tests.factories import PASSWORD, RegisteredPatientFactory, ScreeningLogFactory

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()


@pytest.fixture
def log():
    return ScreeningLogFactory(
        patient=RegisteredPatientFactory(),
        screening_date=TODAY - datetime.timedelta(days=20),
        status=CrfStatus.SUBMITTED,
    )


def url(log, name="crf_detail", action=None):
    return reverse(name, args=[log.patient_id, "screening", log.pk] + ([action] if action else []))


def edit(client, log):
    return client.post(
        url(log, "crf_update"),
        {
            "screening_date": (TODAY - datetime.timedelta(days=21)).isoformat(),
            "outcome": log.outcome,
            "outcome_date": "",
            "failure_reason": "",
            "failure_text": "",
            "expected_version": log.version,
            "change_reason": "source",
        },
    )


@pytest.fixture(params=["patient", "study"])
def locked(request, log, data_manager):
    if request.param == "patient":
        services.patient_lock(patient=log.patient, acting_user=data_manager, reason="complete")
    else:
        services.study_lock(acting_user=data_manager, reason="final analysis")
    log.refresh_from_db()
    return request.param


def test_data_manager_locks_a_patient_from_the_casebook(as_data_manager, log):
    response = as_data_manager.post(
        reverse("patient_lock", args=[log.patient_id]), {"reason": "complete", "confirm": "on"}
    )
    log.patient.refresh_from_db()
    assert response.status_code == 302 and log.patient.locked_at is not None
    assert AuditEvent.objects.filter(action=AuditEvent.Action.PATIENT_LOCK, patient=log.patient).exists()
    assert "Casebook locked" in as_data_manager.get(reverse("casebook", args=[log.patient_id])).text


@pytest.mark.parametrize("role", ["coordinator", "investigator", "monitor"])
def test_only_data_managers_lock(request, log, role):
    client = request.getfixturevalue(f"as_{role}")
    client.post(reverse("patient_lock", args=[log.patient_id]))
    response = client.post(reverse("study_lock"), {"action": "lock"})
    log.patient.refresh_from_db()
    assert response.status_code == 403 and log.patient.locked_at is None and not StudyLock.objects.exists()


def test_locked_data_refuse_the_edit_form(locked, as_coordinator, log):
    response = edit(as_coordinator, log)
    assert response.status_code == 302 and ScreeningLog.objects.get().version == log.version


@pytest.mark.parametrize(
    ("role", "action"), [("monitor", "verify"), ("investigator", "sign"), ("data_manager", "lock")]
)
def test_locked_data_refuse_transitions(request, locked, log, role, action):
    response = request.getfixturevalue(f"as_{role}").post(
        url(log, "crf_transition", action), {"password": PASSWORD}
    )
    log.refresh_from_db()
    assert response.status_code == 409 and log.status == CrfStatus.SUBMITTED


def test_locked_data_refuse_the_services_and_a_bare_save(locked, log, coordinator, monitor):
    with pytest.raises(CrfLocked):
        services.crf_update(
            instance=log,
            expected_version=log.version,
            data={"failure_text": "x"},
            reason="r",
            acting_user=coordinator,
        )
    with pytest.raises(CrfLocked):
        services.crf_create(
            model=ScreeningLog,
            patient=RegisteredPatientFactory() if locked == "study" else log.patient,
            data={"screening_date": TODAY},
            acting_user=coordinator,
        )
    with pytest.raises(CrfLocked):
        services.crf_verify(instance=log, acting_user=monitor)
    log.failure_text = "around the services"
    with pytest.raises(CrfLocked):
        log.save()
    assert ScreeningLog.objects.get(pk=log.pk).failure_text == ""


def test_locked_data_refuse_queries(locked, as_monitor, log):
    response = as_monitor.post(
        reverse("query_raise", args=[log.patient_id, "screening", log.pk]),
        {"text": "x", "priority": "normal", "field_name": ""},
    )
    assert response.status_code == 302 and not log.patient.queries.exists()


def test_unlocking_needs_a_reason_and_is_audited(as_data_manager, log, data_manager):
    services.patient_lock(patient=log.patient, acting_user=data_manager, reason="complete")
    as_data_manager.post(reverse("patient_unlock", args=[log.patient_id]), {"reason": ""})
    log.patient.refresh_from_db()
    assert log.patient.locked_at is not None
    as_data_manager.post(reverse("patient_unlock", args=[log.patient_id]), {"reason": "Late lab result"})
    log.patient.refresh_from_db()
    event = AuditEvent.objects.get(action=AuditEvent.Action.PATIENT_UNLOCK)
    assert log.patient.locked_at is None and event.reason == "Late lab result"


def test_study_lock_page_locks_and_unlocks_with_reason(as_data_manager, log):
    as_data_manager.post(reverse("study_lock"), {"action": "lock", "reason": "DB lock v1"})
    assert StudyLock.active() is not None
    refused = as_data_manager.post(reverse("study_lock"), {"action": "unlock", "reason": ""})
    assert refused.status_code == 422 and StudyLock.active() is not None
    as_data_manager.post(reverse("study_lock"), {"action": "unlock", "reason": "Reopened for a query"})
    assert StudyLock.active() is None and StudyLock.objects.get().unlock_reason == "Reopened for a query"


def test_form_lock_still_works_and_bare_save_of_a_locked_form_is_refused(as_data_manager, log):
    as_data_manager.post(url(log, "crf_transition", "lock"))
    log.refresh_from_db()
    log.failure_text = "x"
    with pytest.raises(CrfLocked):
        log.save()
