"""A locked casebook (patient or study lock) offers no create or edit control, and its new-form pages answer
"locked" before anything is typed, naming the lock and never the role (issue 19)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from enrollment.models import ScreeningLog
from sabr_trial import services
from tests.factories import RegisteredPatientFactory, ScreeningLogFactory
from tests.factories_assessments import LesionFactory

pytestmark = pytest.mark.django_db

ROLE_REFUSAL = "Your role does not give access"
LOCKS = {
    "patient": "This patient&#x27;s casebook is locked by data management",
    "study": "The study database is locked for analysis",
}


@pytest.fixture
def patient():
    patient = RegisteredPatientFactory()
    ScreeningLogFactory(patient=patient)
    LesionFactory(patient=patient)
    return patient


@pytest.fixture(params=["patient", "study"])
def lock(request, patient, data_manager):
    if request.param == "patient":
        services.patient_lock(patient=patient, acting_user=data_manager, reason="complete")
    else:
        services.study_lock(acting_user=data_manager, reason="final analysis")
    return request.param


def create_links(page: str, patient) -> list[str]:
    prefix = f"/patients/{patient.pk}/forms/"
    return [
        href for href in page.split('href="')[1:] if href.startswith(prefix) and "/new/" in href.split('"')[0]
    ]


def test_an_open_casebook_offers_create_controls(as_coordinator, patient):
    page = as_coordinator.get(reverse("casebook", args=[patient.pk])).text
    assert create_links(page, patient) and "New tumour assessment" in page and "Register a lesion" in page


def test_a_locked_casebook_offers_no_create_control(as_coordinator, patient, lock):
    page = as_coordinator.get(reverse("casebook", args=[patient.pk])).text
    assert create_links(page, patient) == []
    assert "New tumour assessment" not in page and "Register a lesion" not in page
    assert 'data-testid="casebook-lock"' in page


def test_a_monitor_sees_no_create_control_even_when_open(as_monitor, patient):
    page = as_monitor.get(reverse("casebook", args=[patient.pk])).text
    assert create_links(page, patient) == [] and "New tumour assessment" not in page


@pytest.mark.parametrize("slug", ["adverse-event", "tumour-assessment", "lesion", "toripalimab", "consent"])
def test_new_form_pages_of_a_locked_casebook_say_locked_not_role(as_coordinator, patient, lock, slug):
    response = as_coordinator.get(reverse("crf_create", args=[patient.pk, slug]))
    assert response.status_code == 403
    assert LOCKS[lock] in response.text and ROLE_REFUSAL not in response.text
    assert "<form" not in response.text.split('data-testid="error-403"')[1]


def test_the_edit_page_of_a_locked_casebook_names_the_lock(as_coordinator, patient, lock):
    log = ScreeningLog.objects.get(patient=patient)
    response = as_coordinator.get(reverse("crf_update", args=[patient.pk, "screening", log.pk]), follow=True)
    assert LOCKS[lock] in response.text and ROLE_REFUSAL not in response.text
    assert response.redirect_chain[-1][0] == log.get_absolute_url()


def test_a_role_refusal_still_names_the_role(as_monitor, patient):
    response = as_monitor.get(reverse("crf_create", args=[patient.pk, "adverse-event"]))
    assert response.status_code == 403 and ROLE_REFUSAL in response.text
