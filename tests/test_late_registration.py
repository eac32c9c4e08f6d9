"""Eligibility confirmed at the time it was really done, so a patient screened on paper long ago can be registered
late (issue 19): the date is not in the future, not before screening or consent, audited, shown as entered late;
the registration page names every rule that blocks today and the last day of the window."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from enrollment.models import Eligibility
from tests.factories_enrollment import consent, eligibility, screen

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()


def days_ago(n: int, hour: int = 10) -> datetime.datetime:
    return timezone.make_aware(
        datetime.datetime.combine(TODAY - datetime.timedelta(days=n), datetime.time(hour))
    )


@pytest.fixture
def paper_patient(coordinator):
    """Screened 40 days ago on paper, consented 39 days ago; the checklist is entered today."""
    patient = screen(coordinator, days_ago=40)
    consent(patient, coordinator, on=TODAY - datetime.timedelta(days=39))
    eligibility(patient, coordinator)
    return patient


def confirm(client, patient, when: str):
    elig = Eligibility.objects.get(patient=patient)
    return client.post(
        reverse("enrollment:eligibility_confirm", args=[patient.pk, elig.pk]),
        {"confirmed_at": when, "expected_version": elig.version},
    )


def test_a_confirmation_dated_on_paper_is_kept_audited_and_shown_as_entered_late(
    as_investigator, paper_patient
):
    response = confirm(as_investigator, paper_patient, days_ago(36).strftime("%Y-%m-%dT%H:%M"))
    elig = Eligibility.objects.get(patient=paper_patient)
    assert response.status_code == 302 and elig.confirmed_at == days_ago(36)
    assert "entered late" in elig.history.first().history_change_reason
    page = as_investigator.get(elig.get_absolute_url()).text
    assert 'data-testid="entered-late"' in page


def test_a_confirmation_now_is_not_marked_late(as_investigator, paper_patient):
    now = timezone.localtime().strftime("%Y-%m-%dT%H:%M")
    assert confirm(as_investigator, paper_patient, now).status_code == 302
    elig = Eligibility.objects.get(patient=paper_patient)
    assert 'data-testid="entered-late"' not in as_investigator.get(elig.get_absolute_url()).text


@pytest.mark.parametrize(
    ("when", "message"),
    [
        (lambda: (timezone.localtime() + datetime.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"), "future"),
        (lambda: days_ago(45).strftime("%Y-%m-%dT%H:%M"), "before the screening visit"),
        (lambda: days_ago(39, hour=8).strftime("%Y-%m-%dT%H:%M"), "before consent"),
        (lambda: "yesterday", "Enter a valid date/time"),
    ],
)
def test_a_bad_confirmation_date_is_refused_next_to_the_field(as_investigator, paper_patient, when, message):
    response = confirm(as_investigator, paper_patient, when())
    form = response.text.split('data-testid="confirm-form"')[1].split("</form>")[0]
    assert response.status_code == 422 and message in form
    assert Eligibility.objects.get(patient=paper_patient).confirmed_at is None


def test_the_precheck_names_what_blocks_today_and_the_last_day_of_the_window(
    as_investigator, as_coordinator, paper_patient
):
    confirm(as_investigator, paper_patient, timezone.localtime().strftime("%Y-%m-%dT%H:%M"))
    page = as_coordinator.get(reverse("patient_register", args=[paper_patient.pk])).text
    assert "the limit is 28 days" in page  # today
    assert "confirmed after the registration date" in page  # the last day of the window, named too


def test_a_late_registration_works_once_the_confirmation_carries_its_real_date(
    as_investigator, as_coordinator, paper_patient
):
    register = reverse("patient_register", args=[paper_patient.pk])
    assert confirm(as_investigator, paper_patient, days_ago(36).strftime("%Y-%m-%dT%H:%M")).status_code == 302
    page = as_coordinator.get(register).text
    assert 'data-testid="registration-possible"' in page
    late = (TODAY - datetime.timedelta(days=20)).isoformat()
    response = as_coordinator.post(register, {"registration_date": late})
    paper_patient.refresh_from_db()
    assert response.status_code == 302 and paper_patient.registration_date.isoformat() == late
