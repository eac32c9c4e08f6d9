"""The coordinator's journey from screening to the first tumour assessment, timed in Chromium both ways (issue 19):
through the casebook after every form (before save-and-continue) and with save-and-continue (the Enter key submits
and opens the next form; "Submit and add another" for repeating forms). The patient is entered after the fact, from
the paper source: screened 70 days ago, treated from day -58, first scan (week 8) 3 days ago. Page loads and
seconds are written to test-artifacts/coordinator-journey.json for the closing note."""

from __future__ import annotations

import datetime
import json
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from adverse_events.models import AdverseEvent
from assessments.models import Lesion, TumourAssessment
from enrollment.models import Baseline, Eligibility, MedicalHistory, Patient
from tests.browser.conftest import ARTIFACTS, login
from tests.factories import PASSWORD, UserFactory
from tests.factories_adverse_events import ensure_ctcae_terms
from treatment.models import AxitinibPeriod, SabrFraction, SabrTarget, ToripalimabInfusion
from visits.models import NotDone

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ALL_QUALIFY = {f"INCL0{i}": "Y" for i in range(1, 8)} | {f"EXCL0{i}": "N" for i in range(1, 6)}
TODAY = timezone.localdate()


def day(n: int) -> str:
    """The ISO date ``n`` days before today."""
    return (TODAY - datetime.timedelta(days=n)).isoformat()


SCREENED, CONFIRMED, REGISTERED, START = 70, 66, 65, 58  # days ago; the first fraction is treatment day 0
BASELINE = {
    "birth_year": "1961",
    "sex": "M",
    "assessment_date": day(68),
    "ecog": "0",
    "kps": "90",
    "histology": "CLEAR CELL",
    "sarcomatoid": "N",
    "diagnosis_date": day(800),
    "prior_nephrectomy": "Y",
    "nephrectomy_date": day(780),
    "prior_systemic_lines": "0",
    "metastatic_lesion_count": "2",
    "imdc_lab_date": day(68),
    "hgb_below_lln": "N",
    "calcium_above_uln": "N",
    "neutrophils_above_uln": "N",
    "platelets_above_uln": "N",
}
HISTORY = [
    {
        "mh_term": "Hypertension",
        "mh_category": "CARDIOVASCULAR",
        "start_date": "2015",
        "ongoing": "Y",
        "baseline_grade": "1",
        "systemic_tx_needed": "Y",
    },
    {
        "mh_term": "Type 2 diabetes",
        "mh_category": "ENDOCRINE",
        "start_date": "2018-03",
        "ongoing": "Y",
        "baseline_grade": "1",
        "systemic_tx_needed": "Y",
    },
]
LESIONS = [
    {
        "role": "TARGET",
        "organ": "LUNG",
        "location_text": "right lower lobe",
        "method": "CT SCAN",
        "slice_thickness_mm": "1.25",
        "baseline_date": day(67),
        "baseline_value_mm": "24",
        "group_count": "1",
        "previously_irradiated": "N",
    },
    {
        "role": "TARGET",
        "organ": "LIVER",
        "location_text": "segment 7",
        "method": "CT SCAN",
        "slice_thickness_mm": "0.625",
        "baseline_date": day(67),
        "baseline_value_mm": "31",
        "group_count": "1",
        "previously_irradiated": "N",
    },
]
COURSE = {
    "is_protocol": "Y",
    "indication": "INITIAL PROTOCOL SABR",
    "simulation_date": day(62),
    "technique": "VMAT",
    "image_guidance": "CBCT",
}
TARGETS = [
    {
        "prescribed_dose_gy": "30",
        "n_fractions": "3",
        "isodose_pct": "80",
        "ptv_cc": "20",
        "is_reirradiation": "N",
    },
    {
        "prescribed_dose_gy": "30",
        "n_fractions": "3",
        "isodose_pct": "80",
        "ptv_cc": "25",
        "is_reirradiation": "N",
    },
]
TREATMENT_DAYS = [day(58), day(56), day(54)]
AXITINIB = {
    "start_date": day(START),
    "dose_level": "5 MG BID",
    "dose_change_reason": "START",
    "missed_doses": "0",
}
CYCLES = {1: day(58), 2: day(37), 3: day(16)}  # q3w (R4.6)
FATIGUE = {
    "onset_date": day(45),
    "ongoing": "Y",
    "serious": "N",
    "rel_sabr": "UNLIKELY",
    "rel_axitinib": "POSSIBLE",
    "rel_toripalimab": "POSSIBLE",
    "immune_related": "N",
    "acn_axitinib": "DOSE NOT CHANGED",
    "acn_toripalimab": "DOSE NOT CHANGED",
    "acn_sabr": "DOSE NOT CHANGED",
    "treatment_given": "N",
}
SCAN = day(3)  # week 8 (D6): day 56 +/- 7
DIAMETERS = {"L1": "20", "L2": "25"}


def fill(page, values: dict[str, str]) -> None:
    """Type each value into the control of that name: a choice is selected, anything else is typed."""
    for name, value in values.items():
        control = page.locator(f"[name={name}]").first
        if control.evaluate("e => e.tagName") == "SELECT":
            control.select_option(value)
        else:
            control.fill(value)


def fill_consent(page) -> None:
    page.get_by_label("Person obtaining consent").select_option(label="coord")
    page.get_by_label("Date and time consent was signed").fill(f"{day(SCREENED)}T10:00")


def fill_eligibility(page) -> None:
    for criterion, answer in ALL_QUALIFY.items():
        page.locator(f'tr[data-criterion="{criterion}"] input[value="{answer}"]').check()


def fill_fatigue(page) -> None:
    page.get_by_test_id("ctcae-search").locator("input[type=search]").fill("fatig")
    page.locator(".ctcae-results li", has_text="Fatigue").first.click()
    page.locator("input[name=grade][value='1']").check()
    fill(page, FATIGUE)


def fill_scan(page) -> None:
    page.locator("input[name=imaging_done][value=Y]").check()
    page.locator("input[name=clinical_deterioration][value=N]").check()
    fill(page, {"scan_date_first": SCAN, "modality": "CT SCAN"})
    grid = page.get_by_test_id("lesion-grid") if page.get_by_test_id("lesion-grid").count() else page
    for code, mm in DIAMETERS.items():
        grid.locator(f"tr[data-lesion={code}] input[name$=value_mm]").fill(mm)


def confirm_eligibility(browser, live_server, patient: Patient) -> None:
    """The investigator confirms, dated when it was done on paper, in a browser of their own (not counted in
    the coordinator's journey)."""
    context = browser.new_context(base_url=live_server.url)
    other = context.new_page()
    login(other, "inv", PASSWORD)
    other.goto(Eligibility.objects.get(patient=patient).get_absolute_url())
    other.get_by_label("Confirmed on (date and time, site time)").fill(f"{day(CONFIRMED)}T09:00")
    other.get_by_role("button", name="Confirm eligibility as investigator").click()
    other.get_by_test_id("entered-late").wait_for()
    context.close()


def lesion_option(page, code: str) -> str:
    return page.locator("select[name=lesion] option", has_text=code).first.get_attribute("value") or ""


# --- through the casebook: every form from its row's "Add", then back to the casebook -------------------------


def through_the_casebook(page, browser, live_server) -> Patient:
    def back() -> None:
        page.get_by_role("link", name=patient.label).first.click()

    def add(
        slug: str, values: dict[str, str] | None = None, filler: Callable[[Any], None] | None = None
    ) -> None:
        page.locator(f'tr[data-crf="{slug}"]').get_by_role("link", name="Add").click()
        if values:
            fill(page, values)
        if filler:
            filler(page)
        page.get_by_role("button", name="Save and submit").click()
        back()

    def nothing_to_report(visit: str) -> None:
        page.get_by_role("link", name="Whole visit schedule").click()
        cell = page.locator(f'[data-testid=expected-form][data-visit="{visit}"][data-form="adverse-event"]')
        cell.get_by_role("link", name="not done…").click()
        fill(page, {"reason_code": "NOTHING TO REPORT", "reason": "No new adverse event."})
        page.get_by_role("button", name="Mark").click()
        page.get_by_role("link", name=f"Casebook {patient.label}").click()

    page.get_by_role("link", name="New patient (screening)").click()
    page.get_by_label("Date of screening visit").fill(day(SCREENED))
    page.get_by_role("button", name="Create patient").click()
    patient = Patient.objects.latest("pk")
    add("consent", filler=fill_consent)
    add("eligibility", filler=fill_eligibility)
    confirm_eligibility(browser, live_server, patient)
    page.get_by_role("link", name="Register").click()
    page.get_by_label("Date of registration").fill(day(REGISTERED))
    page.get_by_role("button", name="Register and assign study number").click()
    patient.refresh_from_db()
    add("baseline", BASELINE)
    for mh in HISTORY:
        add("medical-history", mh)
    for lesion in LESIONS:
        add("lesion", lesion)
    add("sabr-course", COURSE)
    page.locator('tr[data-crf="sabr-course"]').get_by_role("link", name="Course 1").first.click()
    for code, target in zip(("L1", "L2"), TARGETS, strict=True):
        page.get_by_role("link", name="Add target").click()
        fill(page, {"lesion": lesion_option(page, code), **target})
        page.get_by_role("button", name="Save and submit").click()
        page.get_by_test_id("parent-links").get_by_role("link", name="SABR Course 1").click()
    for treatment_day in TREATMENT_DAYS:
        page.get_by_role("link", name="Record a treatment day").click()
        page.get_by_label("Date of the fractions").fill(treatment_day)
        page.get_by_role("button", name="Save and submit").click()
    back()
    add("toripalimab", {"infusion_date": CYCLES[1], "infusion_interrupted": "N"})
    add("axitinib", AXITINIB)
    nothing_to_report("C1")
    add("toripalimab", {"infusion_date": CYCLES[2], "infusion_interrupted": "N"})
    add("adverse-event", filler=fill_fatigue)
    add("toripalimab", {"infusion_date": CYCLES[3], "infusion_interrupted": "N"})
    nothing_to_report("C3")
    add("tumour-assessment", filler=fill_scan)
    return patient


# --- with save-and-continue: each save opens the next expected form ------------------------------------------


def with_save_and_continue(page, browser, live_server) -> Patient:
    def expect(path: str) -> None:
        page.wait_for_url(f"**{path}")

    def submit_continue() -> None:
        page.get_by_role("button", name="Submit and continue").click()

    def another() -> None:
        page.get_by_role("button", name="Submit and add another").click()

    page.get_by_role("link", name="New patient (screening)").click()
    page.get_by_label("Date of screening visit").fill(day(SCREENED))
    page.get_by_label("Date of screening visit").press("Enter")  # create and continue
    expect("/forms/consent/new/")
    patient = Patient.objects.latest("pk")
    fill_consent(page)
    page.get_by_label("Date and time consent was signed").press("Enter")  # Enter = submit and continue
    expect("/forms/eligibility/new/")
    fill_eligibility(page)
    submit_continue()
    expect("/register/")
    confirm_eligibility(browser, live_server, patient)
    page.get_by_label("Date of registration").fill(day(REGISTERED))
    page.get_by_label("Date of registration").press("Enter")  # register and continue
    expect("/forms/baseline/new/")
    fill(page, BASELINE)
    # Keyboard only: from the last field past its missing-data code select (issue 19 item 9) to the first button.
    page.get_by_label("Platelets > ULN", exact=True).press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect("/forms/medical-history/new/")
    fill(page, HISTORY[0])
    another()
    expect("/forms/medical-history/new/")
    fill(page, HISTORY[1])
    submit_continue()
    expect("/forms/lesion/new/")
    fill(page, LESIONS[0])
    another()
    expect("/forms/lesion/new/")
    fill(page, LESIONS[1])
    submit_continue()
    expect("/forms/sabr-course/new/")
    fill(page, COURSE)
    submit_continue()
    page.wait_for_url("**/forms/sabr-target/new/?course=*")
    fill(page, {"lesion": lesion_option(page, "L1"), **TARGETS[0]})
    another()
    page.wait_for_url("**/forms/sabr-target/new/?course=*")
    fill(page, {"lesion": lesion_option(page, "L2"), **TARGETS[1]})
    submit_continue()
    for treatment_day in TREATMENT_DAYS:
        expect("/fraction-day/")
        page.get_by_label("Date of the fractions").fill(treatment_day)
        page.get_by_label("Date of the fractions").press("Enter")  # submit and continue
    page.wait_for_url("**/forms/toripalimab/new/?cycle_number=1")
    fill(page, {"infusion_date": CYCLES[1], "infusion_interrupted": "N"})
    submit_continue()
    expect("/forms/axitinib/new/")
    fill(page, AXITINIB)
    submit_continue()
    expect("/forms/adverse-event/new/?visit=C1")
    page.get_by_role("button", name="Nothing to report, continue").click()
    expect("/forms/toripalimab/new/?cycle_number=2")
    fill(page, {"infusion_date": CYCLES[2], "infusion_interrupted": "N"})
    submit_continue()
    expect("/forms/adverse-event/new/?visit=C2")
    fill_fatigue(page)
    submit_continue()
    expect("/forms/toripalimab/new/?cycle_number=3")
    fill(page, {"infusion_date": CYCLES[3], "infusion_interrupted": "N"})
    submit_continue()
    expect("/forms/adverse-event/new/?visit=C3")
    page.get_by_role("button", name="Nothing to report, continue").click()
    expect("/forms/tumour-assessment/new/")
    fill_scan(page)
    submit_continue()
    return patient


def check_casebook(patient: Patient) -> None:
    """Both ways leave the same casebook behind."""
    patient.refresh_from_db()
    assert patient.is_registered
    assert Baseline.objects.filter(patient=patient).count() == 1
    assert MedicalHistory.objects.filter(patient=patient).count() == 2
    thickness = sorted(Lesion.objects.filter(patient=patient).values_list("slice_thickness_mm", flat=True))
    assert thickness == [
        Decimal("0.625"),
        Decimal("1.25"),
    ]  # as the scanner reports it (CRF-SPEC decimal(5,3))
    assert SabrTarget.objects.filter(patient=patient).count() == 2
    assert SabrFraction.objects.filter(patient=patient).count() == 6
    assert AxitinibPeriod.objects.filter(patient=patient).count() == 1
    assert ToripalimabInfusion.objects.filter(patient=patient).count() == 3
    assert AdverseEvent.objects.filter(patient=patient).count() == 1
    assert (
        NotDone.objects.filter(patient=patient, reason_code=NotDone.ReasonCode.NOTHING_TO_REPORT).count() == 2
    )
    assessment = TumourAssessment.objects.get(patient=patient)
    assert assessment.scan_date_first.isoformat() == SCAN


@pytest.mark.parametrize("way", ["casebook", "continue"])
def test_coordinator_journey_screening_to_first_tumour_assessment(
    page, browser, live_server, screenshot, way
):
    ensure_ctcae_terms()
    UserFactory(username="coord", role="coordinator")
    UserFactory(username="inv", role="investigator", first_name="Ines", last_name="Investigator")
    login(page, "coord", PASSWORD)
    page.goto("/patients/")
    loads: list[str] = []
    page.on("load", lambda p: loads.append(p.url))
    started, cpu = time.perf_counter(), time.process_time()
    journey = through_the_casebook if way == "casebook" else with_save_and_continue
    try:
        patient = journey(page, browser, live_server)
    except Exception:
        screenshot(
            f"coordinator-journey-{way}-failed"
        )  # where it stopped, for the reader of the CI artefacts
        raise
    page.wait_for_load_state()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    check_casebook(patient)
    screenshot(f"coordinator-journey-{way}")
    ARTIFACTS.mkdir(exist_ok=True)
    out = ARTIFACTS / "coordinator-journey.json"
    results = json.loads(out.read_text()) if out.exists() else {}
    # cpu_seconds: this process, i.e. the live server and the Playwright driver (Chromium's own time is not in it)
    results[way] = {
        "page_loads": len(loads),
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),
        "pages": loads,
    }
    out.write_text(json.dumps(results, indent=2))
    casebook = f"{live_server.url}/patients/{patient.pk}/"
    if way == "continue":  # one page per form, and the casebook only at the end, when nothing is left open
        assert [url for url in loads if url == casebook] == [loads[-1]], loads
    assert len(loads) == {"casebook": 68, "continue": 24}[way], loads
