"""Coordinator logs in, creates and registers a patient, and finds it in the list."""

from __future__ import annotations

import pytest

from tests.browser.conftest import login
from tests.factories import PASSWORD, UserFactory
from tests.factories_enrollment import registrable

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_coordinator_registers_patient_and_finds_it(page, screenshot):
    coordinator = UserFactory(username="coord", role="coordinator")
    investigator = UserFactory(username="inv", role="investigator")
    patient = registrable(
        coordinator, investigator, days_ago=5
    )  # consent and confirmed eligibility (EC-RG-1)
    login(page, "coord", PASSWORD)
    page.goto(f"/patients/{patient.pk}/")
    page.get_by_role("link", name="Register", exact=True).click()
    page.get_by_role("button", name="Register and assign study number").click()
    assert page.get_by_test_id("casebook-title").inner_text() == "Casebook SR-001"
    page.get_by_role("link", name="Patients").click()
    page.get_by_placeholder("Study or screening number").fill("SR-001")
    page.get_by_role("button", name="Search").click()
    rows = page.get_by_test_id("patient-table").locator("tbody tr")
    screenshot("foundation-patient-list")
    assert rows.count() == 1 and "SR-001" in rows.first.inner_text()


def test_wrong_password_five_times_locks_the_account(page):
    UserFactory(username="coord", role="coordinator")
    for _ in range(5):
        login(page, "coord", "not-my-password")
    login(page, "coord", PASSWORD)
    assert "Account locked" in page.get_by_test_id("locked-out").inner_text()
