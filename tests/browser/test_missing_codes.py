"""Missing-data codes in the browser (issue 19 item 9): on the baseline form the coordinator gives KPS the code
"Unknown" with the keyboard alone; the KPS select empties and disables itself, the save goes through and the
detail page shows the code in words."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from enrollment.models import Baseline
from tests import factories_enrollment as fe
from tests.browser.conftest import login
from tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_coordinator_codes_kps_unknown_with_the_keyboard(page, screenshot):
    coordinator = UserFactory(username="coord", role="coordinator")
    investigator = UserFactory(username="inv", role="investigator")
    patient = fe.registered(coordinator, investigator)
    login(page, "coord", PASSWORD)
    page.goto(f"/patients/{patient.pk}/forms/baseline/new/")
    values = fe.baseline_data()
    for name in ("birth_year", "prior_systemic_lines", "metastatic_lesion_count"):
        page.locator(f"input[name={name}]").fill(str(values[name]))
    for name in ("assessment_date", "diagnosis_date", "imdc_lab_date"):
        page.locator(f"input[name={name}]").fill(values[name].isoformat())
    for name in (
        "sex",
        "ecog",
        "histology",
        "sarcomatoid",
        "prior_nephrectomy",
        "hgb_below_lln",
        "calcium_above_uln",
        "neutrophils_above_uln",
        "platelets_above_uln",
    ):
        page.locator(f"select[name={name}]").select_option(str(values[name]))
    kps = page.locator("select[name=kps]")
    kps.select_option("80")
    code = page.locator("select[name=missing__kps]")
    expect(code).to_have_accessible_name("Missing-data code: Karnofsky performance status")

    # Keyboard only: from the KPS select, Tab to its code select and type "U" (Unknown).
    kps.focus()
    page.keyboard.press("Tab")
    expect(code).to_be_focused()
    page.keyboard.type("U")
    expect(code).to_have_value("UNK")
    expect(kps).to_be_disabled()  # static/js/missing.js: the coded field is emptied and disabled
    screenshot("missing-code-kps-unknown")

    page.get_by_role("button", name="Save and submit").click()
    expect(page.locator("select[name=missing__kps]")).to_have_count(0)  # saved: the form page is left
    row = Baseline.objects.get(patient=patient)
    assert row.kps is None and row.missing_codes == {"kps": "UNK"}
    page.goto(row.get_absolute_url())
    expect(page.locator('[data-field="kps"]')).to_contain_text("Unknown (UNK)")
    screenshot("missing-code-kps-detail")
