"""A coordinator takes a patient from screening through consent and eligibility (an investigator confirms) to
registration; and a registration refused for a criterion not met, named on the page."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from tests.browser.conftest import login
from tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def add_form(page, slug: str) -> None:
    page.locator(f'tr[data-crf="{slug}"]').get_by_role("link", name="Add").click()


def screen_and_consent(page) -> str:
    """Create a patient and record an initial consent; return the casebook URL."""
    page.get_by_role("link", name="New patient (screening)").click()
    page.get_by_role("button", name="Create patient").click()
    casebook = page.url
    add_form(page, "consent")
    signed = timezone.localtime(timezone.now() - datetime.timedelta(hours=2))
    page.get_by_label("Date and time consent was signed").fill(signed.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Person obtaining consent").select_option(label="coord")
    page.get_by_role("button", name="Save and submit").click()
    page.goto(casebook)
    return casebook


def fill_eligibility(page, answers: dict[str, str]) -> None:
    add_form(page, "eligibility")
    for criterion, answer in answers.items():
        page.locator(f'tr[data-criterion="{criterion}"] input[value="{answer}"]').check()
    page.get_by_role("button", name="Save and submit").click()


ALL_QUALIFY = {f"INCL0{i}": "Y" for i in range(1, 8)} | {f"EXCL0{i}": "N" for i in range(1, 6)}


def confirm_as_investigator(browser, live_server, eligibility_url: str) -> None:
    context = browser.new_context(base_url=live_server.url)
    other = context.new_page()
    login(other, "inv", PASSWORD)
    other.goto(eligibility_url)
    other.get_by_role("button", name="Confirm eligibility as investigator").click()
    assert "Ines Investigator" in other.get_by_test_id("confirmed-by").inner_text()
    context.close()


def test_coordinator_takes_patient_from_screening_to_registration(page, browser, live_server, screenshot):
    UserFactory(username="coord", role="coordinator")
    UserFactory(username="inv", role="investigator", first_name="Ines", last_name="Investigator")
    login(page, "coord", PASSWORD)
    casebook = screen_and_consent(page)
    fill_eligibility(page, ALL_QUALIFY)
    assert page.get_by_test_id("all-met").inner_text() == "Yes"
    screenshot("enrollment-eligibility-before-confirmation")
    confirm_as_investigator(browser, live_server, page.url)
    page.goto(casebook)
    page.get_by_role("link", name="Register").click()
    page.get_by_role("button", name="Register and assign study number").click()
    assert page.get_by_test_id("casebook-title").inner_text() == "Casebook SR-001"
    screenshot("enrollment-registered-casebook")


def test_registration_refused_for_a_failed_criterion(page, browser, live_server, screenshot):
    UserFactory(username="coord", role="coordinator")
    UserFactory(username="inv", role="investigator", first_name="Ines", last_name="Investigator")
    login(page, "coord", PASSWORD)
    casebook = screen_and_consent(page)
    fill_eligibility(page, ALL_QUALIFY | {"INCL05": "N"})
    confirm_as_investigator(browser, live_server, page.url)
    page.goto(casebook)
    page.get_by_role("link", name="Register").click()
    page.get_by_role("button", name="Register and assign study number").click()
    text = page.locator("form.bg-white").inner_text()
    screenshot("enrollment-registration-refused")
    assert "Criterion not met: INCL05 At least one lesion measurable by RECIST 1.1 (EC-RG-1)." in text
    assert "Register patient S-0001" in page.locator("h1").inner_text()
