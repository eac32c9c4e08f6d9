"""Coordinator registers baseline lesions, enters two follow-ups and sees PR then PD with the numbers."""

from __future__ import annotations

import datetime

import pytest

from tests.browser.conftest import login
from tests.factories import PASSWORD, RegisteredPatientFactory, UserFactory
from tests.factories_assessments import BASELINE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _lesion(page, base, patient, *, role, organ, location, value, nonmeasurable=""):
    page.goto(f"{base}/patients/{patient.pk}/forms/lesion/new/")
    page.get_by_label("Role").select_option(role)
    page.get_by_label("Organ / site").select_option(organ)
    page.get_by_label("Exact location").fill(location)
    page.get_by_label("Imaging method").select_option("CT SCAN")
    page.get_by_label("Slice thickness (mm)", exact=True).fill("2.5")
    page.get_by_label("Baseline scan date").fill(BASELINE.isoformat())
    if value:
        page.locator("#id_baseline_value_mm").fill(value)
    if nonmeasurable:
        page.get_by_label("Non-measurable type").select_option(nonmeasurable)
    page.get_by_role("button", name="Save and submit").click()


def _assessment(page, base, patient, *, day, l1, l2, new_lesion=False):
    page.goto(f"{base}/patients/{patient.pk}/forms/tumour-assessment/new/")
    page.locator("#id_scan_date_first").fill((BASELINE + datetime.timedelta(days=day)).isoformat())
    page.locator("#id_modality").select_option("CT SCAN")
    grid = page.get_by_test_id("lesion-grid")
    grid.locator("tr[data-lesion=L1] input[name$=value_mm]").fill(l1)
    grid.locator("tr[data-lesion=L2] input[name$=value_mm]").fill(l2)
    grid.locator("tr[data-lesion=L3] select[name$=nontarget_state]").select_option("PRESENT")
    page.get_by_role("button", name="Save and submit").click()


def test_baseline_then_pr_then_pd(page, live_server, screenshot):
    UserFactory(username="coord", role="coordinator")
    patient = RegisteredPatientFactory()
    login(page, "coord", PASSWORD)
    base = live_server.url
    _lesion(page, base, patient, role="TARGET", organ="LIVER", location="segment 7", value="60")
    _lesion(page, base, patient, role="TARGET", organ="LUNG", location="right lower lobe", value="40")
    _lesion(
        page,
        base,
        patient,
        role="NON-TARGET",
        organ="BONE",
        location="L3 vertebra",
        value="",
        nonmeasurable="BLASTIC BONE",
    )
    _assessment(page, base, patient, day=56, l1="35", l2="25")
    screenshot("assessments-week8-pr")
    result = page.get_by_test_id("recist-result")
    assert page.get_by_test_id("overall-response").inner_text() == "PR"
    assert "60.0 mm" in page.get_by_test_id("sum").inner_text()
    assert "-40.00 %" in page.get_by_test_id("pct-baseline").inner_text()
    assert "R1.13" in result.inner_text()

    _assessment(page, base, patient, day=112, l1="48", l2="25")
    screenshot("assessments-week16-pd")
    assert page.get_by_test_id("overall-response").inner_text() == "PD"
    assert "73.0 mm" in page.get_by_test_id("sum").inner_text()
    assert "60.0 mm" in page.get_by_test_id("nadir").inner_text()
    assert "13.0 mm (21.67 %)" in page.get_by_test_id("chg-nadir").inner_text()
    assert "R1.14" in page.get_by_test_id("deciding-rule").inner_text()

    page.goto(f"{base}/patients/{patient.pk}/")
    screenshot("assessments-casebook-panel")
    summary = page.get_by_test_id("response-summary").inner_text()
    assert "PR" in summary and "PD" in summary
    assert page.get_by_test_id("bor").inner_text().startswith("PR")
