"""The coordinator's screening-to-registration journey, timed in Chromium both ways (issue 19): through the casebook
after every form (before save-and-continue) and with save-and-continue (the Enter key submits and opens the next
form). Page loads and seconds are written to test-artifacts/coordinator-journey.json for the closing note."""

from __future__ import annotations

import datetime
import json
import time

import pytest
from django.utils import timezone

from enrollment.models import Eligibility, Patient
from tests.browser.conftest import ARTIFACTS, login
from tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ALL_QUALIFY = {f"INCL0{i}": "Y" for i in range(1, 8)} | {f"EXCL0{i}": "N" for i in range(1, 6)}


def confirm_eligibility(browser, live_server, patient: Patient) -> None:
    """The investigator confirms in a browser of their own (not counted in the coordinator's journey)."""
    context = browser.new_context(base_url=live_server.url)
    other = context.new_page()
    login(other, "inv", PASSWORD)
    other.goto(Eligibility.objects.get(patient=patient).get_absolute_url())
    other.get_by_role("button", name="Confirm eligibility as investigator").click()
    context.close()


def fill_consent(page) -> None:
    signed = timezone.localtime(timezone.now() - datetime.timedelta(hours=2))
    page.get_by_label("Person obtaining consent").select_option(label="coord")
    page.get_by_label("Date and time consent was signed").fill(signed.strftime("%Y-%m-%dT%H:%M"))


def fill_eligibility(page) -> None:
    for criterion, answer in ALL_QUALIFY.items():
        page.locator(f'tr[data-criterion="{criterion}"] input[value="{answer}"]').check()


def through_the_casebook(page, browser, live_server) -> Patient:
    page.get_by_role("link", name="New patient (screening)").click()
    page.get_by_role("button", name="Create patient").click()
    page.locator('tr[data-crf="consent"]').get_by_role("link", name="Add").click()
    fill_consent(page)
    page.get_by_role("button", name="Save and submit").click()
    page.get_by_role("link", name=Patient.objects.latest("pk").label).first.click()
    page.locator('tr[data-crf="eligibility"]').get_by_role("link", name="Add").click()
    fill_eligibility(page)
    page.get_by_role("button", name="Save and submit").click()
    patient = Patient.objects.latest("pk")
    confirm_eligibility(browser, live_server, patient)
    page.get_by_role("link", name=patient.label).first.click()
    page.get_by_role("link", name="Register").click()
    page.get_by_role("button", name="Register and assign study number").click()
    return patient


def with_save_and_continue(page, browser, live_server) -> Patient:
    page.get_by_role("link", name="New patient (screening)").click()
    page.get_by_label("Date of screening visit").press("Enter")  # today, autofocused: create and continue
    page.wait_for_url("**/forms/consent/new/")
    fill_consent(page)
    page.get_by_label("Date and time consent was signed").press("Enter")  # Enter = submit and continue
    page.wait_for_url("**/forms/eligibility/new/")
    fill_eligibility(page)
    page.get_by_role("button", name="Submit and continue").click()
    patient = Patient.objects.latest("pk")
    confirm_eligibility(browser, live_server, patient)
    page.get_by_role("button", name="Register and assign study number").click()
    return patient


@pytest.mark.parametrize("way", ["casebook", "continue"])
def test_coordinator_journey_screening_to_registration(page, browser, live_server, screenshot, way):
    UserFactory(username="coord", role="coordinator")
    UserFactory(username="inv", role="investigator", first_name="Ines", last_name="Investigator")
    login(page, "coord", PASSWORD)
    page.goto("/patients/")
    loads: list[str] = []
    page.on("load", lambda p: loads.append(p.url))
    started = time.perf_counter()
    journey = through_the_casebook if way == "casebook" else with_save_and_continue
    patient = journey(page, browser, live_server)
    seconds = time.perf_counter() - started
    patient.refresh_from_db()
    assert patient.is_registered and page.get_by_test_id("casebook-title").inner_text().endswith(patient.study_number)
    screenshot(f"coordinator-journey-{way}")
    ARTIFACTS.mkdir(exist_ok=True)
    out = ARTIFACTS / "coordinator-journey.json"
    results = json.loads(out.read_text()) if out.exists() else {}
    results[way] = {"page_loads": len(loads), "seconds": round(seconds, 2), "pages": loads}
    out.write_text(json.dumps(results, indent=2))
    expected = {"casebook": 10, "continue": 5}
    assert len(loads) == expected[way], loads
