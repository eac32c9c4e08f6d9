"""Coordinator records a 3-lesion SABR course, its fractions and the first toripalimab cycle, and sees BED10/EQD2
per lesion with their alpha/beta on the course page and in the casebook's exposure panel."""

from __future__ import annotations

import pytest

from tests.browser.conftest import login
from tests.factories import PASSWORD, UserFactory
from tests.factories_assessments import LesionFactory
from tests.factories_treatment import consented_patient, days_ago

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_three_lesion_sabr_course_with_fractions_and_first_toripalimab_cycle(page, screenshot):
    UserFactory(username="coord", role="coordinator")
    patient = consented_patient(registered_days_ago=30)
    lesions = [
        LesionFactory(patient=patient, organ="LIVER", location_text="segment 7"),
        LesionFactory(patient=patient, organ="LUNG", location_text="right lower lobe"),
        LesionFactory(patient=patient, organ="BONE", location_text="T10 vertebra"),
    ]
    login(page, "coord", PASSWORD)
    page.goto(f"/patients/{patient.pk}/")
    page.locator('tr[data-crf="sabr-course"]').get_by_role("link", name="Add").click()
    page.get_by_label("Planning CT date").fill(days_ago(28).isoformat())
    page.get_by_label("Technique").select_option("VMAT")
    page.get_by_label("Image guidance").select_option("CBCT")
    page.get_by_role("button", name="Save and submit").click()

    prescriptions = [("30", "3"), ("35", "5"), ("24", "1")]
    for lesion, (dose, n) in zip(lesions, prescriptions, strict=True):
        page.get_by_role("link", name="Add target").click()
        page.get_by_label("Lesion treated").select_option(str(lesion.pk))
        page.get_by_label("Prescribed total dose").fill(dose)
        page.get_by_label("Number of fractions").fill(n)
        page.get_by_label("Prescription isodose line").fill("80")
        page.get_by_label("PTV volume").fill("20")
        page.get_by_role("button", name="Save and submit").click()
        page.get_by_test_id("parent-links").get_by_role("link", name="SABR Course 1").click()

    for day in range(5):  # five treatment days: every unfinished target gets its next fraction
        page.get_by_role("link", name="Record a treatment day").click()
        page.get_by_label("Date of the fractions").fill(days_ago(25 - day * 2).isoformat())
        page.get_by_role("button", name="Save and submit").click()
        assert "fraction(s) recorded" in page.content()

    table = page.get_by_test_id("course-targets")
    rows = {r.locator("td").first.inner_text(): r for r in table.locator("tbody tr").all()}
    bed10 = {name.split(":")[0]: r.get_by_test_id("bed10").inner_text() for name, r in rows.items()}
    eqd2 = {name.split(":")[0]: r.get_by_test_id("eqd2-10").inner_text() for name, r in rows.items()}
    assert "BED10 (α/β 10 Gy)" in table.inner_text() and "EQD2 (α/β 10 Gy)" in table.inner_text()
    by_code = {lesion.lesion_code: lesion for lesion in lesions}
    assert {code.split(" ")[0] for code in bed10} == set(by_code)
    assert sorted(bed10.values()) == ["59.5 Gy", "60.0 Gy", "81.6 Gy"]
    assert sorted(eqd2.values()) == ["49.6 Gy", "50.0 Gy", "68.0 Gy"]
    assert table.inner_text().count("complete") == 3
    screenshot("treatment-sabr-course-bed")

    page.goto(f"/patients/{patient.pk}/")
    page.locator('tr[data-crf="toripalimab"]').get_by_role("link", name="Add").click()
    assert page.get_by_label("Cycle").input_value() == "1"
    page.get_by_label("Date of infusion").fill(days_ago(25).isoformat())
    page.get_by_label("Infusion slowed or interrupted?").select_option("N")
    page.get_by_role("button", name="Save and submit").click()
    page.get_by_role("link", name=patient.label).first.click()
    panel = page.get_by_test_id("exposure-panel")
    assert panel.get_by_test_id("toripalimab-cycles").inner_text() == "1 cycle given"
    assert panel.get_by_test_id("treatment-start").inner_text() == days_ago(25).isoformat()
    assert panel.get_by_test_id("sabr-start").inner_text() == days_ago(25).isoformat()
    sabr = panel.get_by_test_id("exposure-sabr").inner_text()
    assert "81.6 Gy" in sabr and "68.0 Gy" in sabr and sabr.count("complete") == 3
    screenshot("treatment-exposure-panel")
