"""Patient registry: screening, registration, gap-free study numbers, list, search, casebook."""

from __future__ import annotations

import datetime
import threading

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from enrollment.models import Patient, ScreeningLog
from enrollment.services import patient_register, patient_screen
from sabr_trial.models import AuditEvent
from tests.conftest import on_postgres
from tests.factories_enrollment import registrable

TODAY = timezone.localdate()


@pytest.mark.django_db
def test_new_patient_gets_screening_number_and_log(as_coordinator):
    response = as_coordinator.post(reverse("patient_new"), {"screening_date": TODAY.isoformat()})
    patient = Patient.objects.get()
    assert response.status_code == 302 and patient.screening_number == "S-0001"
    assert ScreeningLog.objects.get(patient=patient).status == "submitted"


@pytest.mark.django_db
def test_new_patient_with_future_date_is_refused(as_coordinator):
    future = (TODAY + datetime.timedelta(days=1)).isoformat()
    response = as_coordinator.post(reverse("patient_new"), {"screening_date": future})
    assert response.status_code == 200 and "EC-G1" in response.text and not Patient.objects.exists()


@pytest.mark.django_db
def test_register_assigns_study_number_and_audit(as_coordinator, coordinator, investigator):
    patient = registrable(coordinator, investigator, days_ago=3)
    response = as_coordinator.post(
        reverse("patient_register", args=[patient.pk]), {"registration_date": TODAY}
    )
    patient.refresh_from_db()
    assert response.status_code == 302 and patient.study_number == "SR-001"
    assert AuditEvent.objects.filter(action="register", patient=patient).exists()


@pytest.mark.django_db
def test_registration_more_than_28_days_after_screening_is_refused(as_coordinator, coordinator):
    patient = patient_screen(screening_date=TODAY - datetime.timedelta(days=29), acting_user=coordinator)
    response = as_coordinator.post(
        reverse("patient_register", args=[patient.pk]), {"registration_date": TODAY}
    )
    patient.refresh_from_db()
    assert "EC-RG-2" in response.text and patient.study_number is None


@pytest.mark.django_db
def test_screen_failure_is_never_registered(coordinator):
    patient = patient_screen(screening_date=TODAY - datetime.timedelta(days=3), acting_user=coordinator)
    ScreeningLog.objects.filter(patient=patient).update(
        outcome="SCREEN FAILURE", failure_reason="CONSENT REFUSED", outcome_date=TODAY
    )
    with pytest.raises(Exception, match="EC-SC-2"):
        patient_register(patient=patient, registration_date=TODAY, acting_user=coordinator)


@pytest.mark.django_db
def test_numbers_are_sequential_without_gaps(coordinator, investigator):
    numbers = []
    for _ in range(3):
        p = registrable(coordinator, investigator, days_ago=3)
        numbers.append(
            patient_register(patient=p, registration_date=TODAY, acting_user=coordinator).study_number
        )
    assert numbers == ["SR-001", "SR-002", "SR-003"]


@pytest.mark.django_db
def test_patient_list_search_and_pagination(as_coordinator, coordinator):
    for _ in range(27):
        patient_screen(screening_date=TODAY, acting_user=coordinator)
    page2 = as_coordinator.get(reverse("patient_list"), {"page": 2})
    found = as_coordinator.get(reverse("patient_list"), {"q": "S-0013"})
    assert "Page 2 of 2" in page2.text and found.text.count("S-0013") >= 1 and "S-0014" not in found.text


@pytest.mark.django_db
def test_casebook_lists_forms_with_status(as_monitor, coordinator):
    patient = patient_screen(screening_date=TODAY, acting_user=coordinator)
    page = as_monitor.get(reverse("casebook", args=[patient.pk])).text
    assert "Screening log" in page and 'data-status="submitted"' in page


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_registrations_never_duplicate_or_skip(coordinator, investigator):
    """Eight connections register at once on PostgreSQL: numbers 1..8, each once."""
    if not on_postgres():
        pytest.skip("needs PostgreSQL (DATABASE_URL)")
    patients = [registrable(coordinator, investigator, days_ago=3) for _ in range(8)]
    barrier = threading.Barrier(len(patients))
    errors: list[BaseException] = []

    def register(p):
        try:
            barrier.wait()
            patient_register(patient=p, registration_date=TODAY, acting_user=coordinator)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=register, args=(p,)) for p in patients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    numbers = sorted(Patient.objects.values_list("study_number", flat=True))
    assert not errors and numbers == [f"SR-{i:03d}" for i in range(1, 9)]
