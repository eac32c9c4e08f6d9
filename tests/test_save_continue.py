"""Save and continue (issue 19): after a save the coordinator lands on the next form to fill, not on a read-only page;
"save and add another" for repeating forms; the cursor starts in the first field."""

from __future__ import annotations

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from enrollment.models import Consent, Patient
from tests import factories_enrollment as fe
from tests.factories_adverse_events import ae_payload, ensure_ctcae_terms
from tests.factories_visits import treated_patient
from tests.test_enrollment import consent_post, eligibility_post

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()


def create(patient, slug: str, nxt: str = "") -> str:
    url = reverse("crf_create", args=[patient.pk, slug])
    return f"{url}?next={nxt}" if nxt else url


def test_screening_forms_follow_each_other_up_to_registration(as_coordinator, coordinator):
    response = as_coordinator.post(
        reverse("patient_new") + "?next=continue", {"screening_date": (TODAY - datetime.timedelta(days=3)).isoformat()}
    )
    patient = Patient.objects.get()
    assert response.url == create(patient, "consent")
    data = consent_post(coordinator, consent_datetime=fe.aware(TODAY - datetime.timedelta(days=2)))
    response = as_coordinator.post(create(patient, "consent", "continue"), data)
    assert response.status_code == 302 and Consent.objects.filter(patient=patient).exists()
    assert response.url == create(patient, "eligibility")
    response = as_coordinator.post(create(patient, "eligibility", "continue"), eligibility_post(fe.qualifying_answers()))
    assert response.url == reverse("patient_register", args=[patient.pk])


def test_without_continue_the_save_shows_the_saved_form(as_coordinator, coordinator):
    patient = fe.screen(coordinator)
    response = as_coordinator.post(create(patient, "consent"), consent_post(coordinator))
    assert response.url == Consent.objects.get(patient=patient).get_absolute_url()


def test_after_registration_continue_opens_the_next_open_form_of_the_visit(as_coordinator):
    ensure_ctcae_terms()
    patient = treated_patient(start_days_ago=2)
    grid = as_coordinator.get(reverse("visits:patient_grid", args=[patient.pk])).text
    response = as_coordinator.post(create(patient, "adverse-event", "continue"), ae_payload(
        onset_date=(TODAY - datetime.timedelta(days=1)).isoformat(), acn_sabr="DOSE NOT CHANGED"
    ))  # fmt: skip
    assert response.status_code == 302
    assert response.url.startswith(f"/patients/{patient.pk}/forms/") and response.url.endswith("/new/")
    assert response.url in grid  # a form the visit schedule shows as open


def test_save_and_add_another_opens_a_new_form_of_the_same_kind(as_coordinator):
    ensure_ctcae_terms()
    patient = treated_patient(start_days_ago=10)
    response = as_coordinator.post(create(patient, "adverse-event", "another"), ae_payload(acn_sabr="DOSE NOT CHANGED"))
    assert response.status_code == 302, response.context["form"].errors
    assert response.url == create(patient, "adverse-event")


def test_another_keeps_the_page_query(as_coordinator):
    patient = treated_patient(start_days_ago=10)
    from treatment.models import SabrCourse

    course = SabrCourse.objects.get(patient=patient)
    page = as_coordinator.get(create(patient, "sabr-target") + f"?course={course.pk}").text
    assert f'formaction="?course={course.pk}&amp;next=another"' in page


def test_a_new_form_page_offers_continue_first_and_focuses_the_first_field(as_coordinator, coordinator):
    patient = fe.screen(coordinator)
    page = as_coordinator.get(create(patient, "consent")).text
    buttons = page.split('class="form-actions"')[1]
    assert buttons.index('data-testid="save-continue"') < buttons.index('value="draft"')  # Enter = continue
    assert page.count("autofocus") == 1


@pytest.mark.parametrize(("after_start", "warned"), [(0, True), (-3, True), (56, False)])
def test_an_assessment_on_or_before_sabr_start_says_at_entry_it_is_not_used_for_pfs(
    as_coordinator, after_start, warned
):
    from tests.factories_assessments import BASELINE, LesionFactory, assessment_post

    start_days_ago = (TODAY - BASELINE).days - 30  # SABR starts 30 days after the baseline scans
    patient = treated_patient(start_days_ago=start_days_ago)
    LesionFactory(patient=patient, organ="LIVER", baseline_value_mm=60)
    day = 30 + after_start
    response = as_coordinator.post(create(patient, "tumour-assessment"), assessment_post(patient, {"L1": 20, "L2": 50}, day=day),
                                   follow=True)  # fmt: skip
    assert response.redirect_chain, re.findall(r'(?:invalid-feedback|alert-danger)[^>]*>(.*?)</', response.text, re.S)
    assert ("it is not used for PFS" in response.text) is warned
