"""Coordinator, clinic day: worklist -> a known overdue form -> the patient's casebook -> the form (DESIGN.md)."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import login
from tests.factories import PASSWORD, UserFactory
from tests.factories_visits import treated_patient

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_coordinator_finds_an_overdue_scan_and_opens_the_form(page, screenshot):
    UserFactory(username="coord", role="coordinator")
    # day 70 of treatment, no scan: imaging week 8 (day 56 +/- 7) is overdue
    patient = treated_patient(start_days_ago=70, cycles_given=4, study_number="SR-042")
    login(page, "coord", PASSWORD)
    nav = page.get_by_role("link", name=re.compile(r"^Worklist"))
    assert re.search(r"Worklist \d+", nav.inner_text())  # the count in the navigation
    nav.click()
    row = page.locator('[data-testid="work-item"][data-visit="IMG-W8"][data-form="tumour-assessment"]')
    assert row.get_attribute("data-state") == "overdue"
    assert "overdue 7 days" in row.inner_text()
    screenshot("visits-worklist")
    row.get_by_role("link", name="SR-042").click()
    assert page.get_by_test_id("casebook-title").inner_text() == "Casebook SR-042"
    panel = page.get_by_test_id("visits-panel")
    cell = panel.locator('[data-testid="expected-form"][data-visit="IMG-W8"][data-form="tumour-assessment"]')
    assert "overdue" in cell.inner_text()
    screenshot("visits-casebook-panel")
    cell.get_by_role("link").first.click()  # one click from the casebook to the form
    assert page.url.endswith(f"/patients/{patient.pk}/forms/tumour-assessment/new/")
    assert page.locator("form").count() >= 1
