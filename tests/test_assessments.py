"""Lesion registry (CRF 8) and tumour assessment (CRF 9) through HTTP: refusals, derived results, recompute."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from assessments.models import Lesion, LesionResult, NewLesion, TumourAssessment
from ruletext import render
from sabr_trial import patient_dates
from sabr_trial.models import AuditEvent
from tests.factories import RegisteredPatientFactory
from tests.factories_assessments import (
    BASELINE,
    LesionFactory,
    assessment_post,
    baseline_lesions,
    create_url,
    lesion_post,
    update_url,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def patient():
    return RegisteredPatientFactory()


@pytest.fixture
def baseline(patient):
    """Baseline SOD 100 mm: L1 liver 60, L2 lung 40; L3 non-target bone."""
    return baseline_lesions(patient)


# --- Lesion registry (EC-LR-*) -------------------------------------------------------------------------------------
def test_lesion_codes_are_automatic(as_coordinator, patient):
    for _ in range(2):
        assert as_coordinator.post(create_url(patient, "lesion"), lesion_post()).status_code == 302
    lesions = list(Lesion.objects.filter(patient=patient).order_by("id"))
    assert [(x.lesion_code, x.measurable, x.is_nodal, x.organ_group) for x in lesions] == [
        ("L1", "Y", "N", "LIVER"),
        ("L2", "Y", "N", "LIVER"),
    ]


@pytest.mark.parametrize(
    ("existing", "post", "field", "rule"),
    [
        # EC-LR-1 / R1.6: a 6th target (5 in 5 different organs already)
        (
            [("LIVER", 30), ("LUNG", 30), ("ADRENAL GLAND", 30), ("KIDNEY", 30), ("PANCREAS", 30)],
            {"organ": "SOFT TISSUE"},
            "role",
            "EC-LR-1",
        ),
        # EC-LR-1: a 3rd target in one organ
        ([("LIVER", 30), ("LIVER", 25)], {"organ": "LIVER"}, "role", "EC-LR-1"),
        # EC-LR-1: both lungs are one organ group (R1.6)
        ([("LUNG", 30), ("LUNG", 25)], {"organ": "LUNG", "laterality": "RIGHT"}, "role", "EC-LR-1"),
        # EC-LR-1: all lymph nodes are one organ group
        (
            [("LYMPH NODE", 20), ("LYMPH NODE", 18)],
            {"organ": "LYMPH NODE", "baseline_value_mm": "22"},
            "role",
            "EC-LR-1",
        ),
        # EC-LR-2 / R1.3: a non-measurable (blastic bone) lesion is never a target
        ([], {"organ": "BONE", "nonmeasurable_type": "BLASTIC BONE"}, "role", "EC-LR-2"),
        # EC-LR-2 / R1.1: LD 8 mm is too small
        ([], {"baseline_value_mm": "8"}, "role", "EC-LR-2"),
        # EC-LR-2 / R1.1: slice 8 mm needs >= 16 mm
        ([], {"baseline_value_mm": "12", "slice_thickness_mm": "8"}, "role", "EC-LR-2"),
        # EC-LR-2 / R1.1: chest X-ray needs >= 20 mm
        ([], {"method": "X-RAY", "slice_thickness_mm": "", "baseline_value_mm": "15"}, "role", "EC-LR-2"),
        # EC-LR-2 / R1.2: node with short axis 12 mm (10 to < 15) is non-target only
        ([], {"organ": "LYMPH NODE", "baseline_value_mm": "12"}, "role", "EC-LR-2"),
        # EC-LR-2 / R1.2: node < 10 mm is normal, not registered at all (even as non-target)
        (
            [],
            {"organ": "LYMPH NODE", "role": "NON-TARGET", "baseline_value_mm": "8"},
            "baseline_value_mm",
            "EC-LR-2",
        ),
        # EC-LR-2: a target without a baseline diameter
        ([], {"baseline_value_mm": ""}, "baseline_value_mm", "EC-LR-2"),
        # EC-LR-2 / R1.1: CT without a slice thickness
        ([], {"slice_thickness_mm": ""}, "slice_thickness_mm", "EC-LR-2"),
        # EC-LR-3 / R1.4: irradiated before enrolment, not progressed since
        ([], {"previously_irradiated": "Y", "progressed_since_rt": "N"}, "role", "EC-LR-3"),
        ([], {"previously_irradiated": "Y", "progressed_since_rt": ""}, "progressed_since_rt", "EC-LR-3"),
    ],
)
def test_registry_refuses_with_reason(as_coordinator, patient, existing, post, field, rule):
    for organ, size in existing:
        LesionFactory(patient=patient, organ=organ, baseline_value_mm=Decimal(size))
    before = Lesion.objects.count()
    response = as_coordinator.post(create_url(patient, "lesion"), lesion_post(**post))
    assert response.status_code == 200
    assert rule in response.context["form"].errors[field][0]
    assert Lesion.objects.count() == before


@pytest.mark.parametrize(
    "post",
    [
        {
            "organ": "LYMPH NODE",
            "role": "NON-TARGET",
            "baseline_value_mm": "12",
        },  # R1.2 pathological non-target
        {"organ": "LYMPH NODE", "baseline_value_mm": "15"},  # R1.2 inclusive threshold
        {"baseline_value_mm": "10"},  # R1.1 inclusive threshold
        {"baseline_value_mm": "16", "slice_thickness_mm": "8"},  # 2 x slice, inclusive
        {"previously_irradiated": "Y", "progressed_since_rt": "Y"},  # R1.4 progressed since RT
        {
            "organ": "BONE",
            "role": "NON-TARGET",
            "nonmeasurable_type": "BLASTIC BONE",
            "baseline_value_mm": "",
        },
    ],
)
def test_registry_accepts_borderline_lesions(as_coordinator, patient, post):
    response = as_coordinator.post(create_url(patient, "lesion"), lesion_post(**post))
    assert response.status_code == 302, response.context["form"].errors


def test_third_liver_target_message_names_the_existing_targets(as_coordinator, patient):
    LesionFactory(patient=patient, organ="LIVER")
    LesionFactory(patient=patient, organ="LIVER")
    response = as_coordinator.post(create_url(patient, "lesion"), lesion_post())
    assert "L1, L2" in response.context["form"].errors["role"][0]


@pytest.mark.parametrize(
    ("post", "field"),
    [
        ({"baseline_value_mm": "-5"}, "baseline_value_mm"),
        ({"baseline_value_mm": "450"}, "baseline_value_mm"),
        ({"organ": "LYMPH NODE", "baseline_value_mm": "22", "axis": "LONG"}, "axis"),
    ],
)
def test_registry_bad_numbers_refused(as_coordinator, patient, post, field):
    response = as_coordinator.post(create_url(patient, "lesion"), lesion_post(**post))
    assert response.status_code == 200 and field in response.context["form"].errors
    assert not Lesion.objects.exists()


def test_registry_freezes_after_first_follow_up(as_coordinator, baseline):
    as_coordinator.post(create_url(baseline), assessment_post(baseline, {"L1": 50, "L2": 30}, day=56))
    lesion = Lesion.objects.get(lesion_code="L1")
    data = lesion_post(baseline_value_mm="70", expected_version=lesion.version)
    response = as_coordinator.post(update_url(lesion, "lesion"), data)
    assert "EC-LR-5" in response.context["form"].errors["baseline_value_mm"][0]
    lesion.refresh_from_db()
    assert lesion.baseline_value_mm == Decimal(60)


def test_monitor_cannot_register_a_lesion(as_monitor, patient):
    assert as_monitor.post(create_url(patient, "lesion"), lesion_post()).status_code == 403
    assert not Lesion.objects.exists()


# --- Tumour assessment (EC-TA-*) -----------------------------------------------------------------------------------
def _grid_errors(response):
    return " ".join(str(e) for row, _hist in response.context["grid"] for e in row.errors.values())


def test_every_lesion_has_a_row_with_previous_values_and_nadir(as_coordinator, baseline):
    as_coordinator.post(create_url(baseline), assessment_post(baseline, {"L1": 50, "L2": 30}, day=56))
    response = as_coordinator.get(create_url(baseline))
    grid = response.context["grid"]
    assert [row.lesion.lesion_code for row, _ in grid] == ["L1", "L2", "L3"]
    l1 = grid[0][1]
    assert l1["previous"][0] == (str(BASELINE), "60 mm") and l1["nadir"] == "50 mm"
    assert 'data-testid="lesion-grid"' in response.text


def test_blank_target_value_refused_never_a_silent_zero(as_coordinator, baseline):
    """EC-TA-1, R1.17: a blank target is refused; the user must choose NOT EVALUABLE."""
    response = as_coordinator.post(create_url(baseline), assessment_post(baseline, {"L1": 50}, day=56))
    assert response.status_code == 200
    assert "NOT EVALUABLE" in _grid_errors(response) and "EC-TA-1" in _grid_errors(response)
    assert not TumourAssessment.objects.exists()


def test_blank_non_target_state_refused(as_coordinator, baseline):
    data = assessment_post(baseline, {"L1": 50, "L2": 30}, day=56)
    data[f"l{Lesion.objects.get(lesion_code='L3').pk}-nontarget_state"] = ""
    response = as_coordinator.post(create_url(baseline), data)
    assert "EC-TA-1" in _grid_errors(response) and not TumourAssessment.objects.exists()


def test_not_evaluable_target_gives_ne_with_the_reason(as_coordinator, baseline):
    response = as_coordinator.post(
        create_url(baseline), assessment_post(baseline, {"L1": 50, "L2": "NOT EVALUABLE"}, day=56)
    )
    a = TumourAssessment.objects.get()
    assert (response.status_code, a.target_resp, a.overall_resp, a.sum_mm) == (302, "NE", "NE", None)
    assert "R1.17" in render(a.target_rule)
    page = as_coordinator.get(response.url)
    assert "not computable" in page.text and "R1.17" in page.text


def test_not_evaluable_target_but_measured_ones_already_pd(as_coordinator, baseline):
    """R1.17: baseline 100; L1 alone 125 mm already >= 1.2 x nadir and +25 mm -> PD despite NE of L2."""
    as_coordinator.post(
        create_url(baseline), assessment_post(baseline, {"L1": 125, "L2": "NOT EVALUABLE"}, day=56)
    )
    assert TumourAssessment.objects.get().target_resp == "PD"


@pytest.mark.parametrize(
    ("value", "field"),
    [("-3", "value_mm"), ("401", "value_mm"), ("12000", "value_mm")],
)
def test_absurd_diameters_refused(as_coordinator, baseline, value, field):
    response = as_coordinator.post(
        create_url(baseline), assessment_post(baseline, {"L1": value, "L2": 30}, day=56)
    )
    assert response.status_code == 200 and not TumourAssessment.objects.exists()
    assert field in response.context["grid"][0][0].errors


def test_node_long_axis_flagged(as_coordinator, patient):
    node = LesionFactory(patient=patient, organ="LYMPH NODE", baseline_value_mm=Decimal(20))
    data = assessment_post(patient, {"L1": 18}, day=56)
    data[f"l{node.pk}-axis"] = "LONG"
    response = as_coordinator.post(create_url(patient), data)
    assert "SHORT axis (R1.2)" in _grid_errors(response) and not TumourAssessment.objects.exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"scan_date_first": (BASELINE - datetime.timedelta(days=3)).isoformat()}, "scan_date_first"),
        ({"scan_date_first": BASELINE.isoformat()}, "scan_date_first"),
        ({"scan_date_last": (BASELINE + datetime.timedelta(days=50)).isoformat()}, "scan_date_last"),
        ({"scan_date_first": ""}, "scan_date_first"),
        ({"modality": ""}, "modality"),
        (
            {"scan_date_first": (BASELINE + datetime.timedelta(days=400)).isoformat()},
            "scan_date_first",
        ),  # EC-G1
    ],
)
def test_assessment_dates_refused(as_coordinator, baseline, changes, field):
    """EC-TA-2: after baseline, last >= first; EC-G1 not in the future."""
    data = assessment_post(baseline, {"L1": 50, "L2": 30}, day=56, **changes)
    response = as_coordinator.post(create_url(baseline), data)
    assert response.status_code == 200 and field in response.context["form"].errors
    assert not TumourAssessment.objects.exists()


def test_assessment_after_death_refused(as_coordinator, coordinator):
    """EC-TA-2 / EC-G2: nothing dated after death (a real death report, entered through the CRF service)."""
    from enrollment.models import DeathReport
    from sabr_trial.crf import CrfStatus
    from sabr_trial.services import crf_create

    patient = RegisteredPatientFactory(registration_date=BASELINE - datetime.timedelta(days=5))
    LesionFactory(patient=patient, organ="LIVER", baseline_value_mm=Decimal(60))
    LesionFactory(patient=patient, organ="LUNG", baseline_value_mm=Decimal(40))
    crf_create(
        model=DeathReport,
        patient=patient,
        acting_user=coordinator,
        status=CrfStatus.SUBMITTED,
        data={
            "death_date": BASELINE + datetime.timedelta(days=30),
            "primary_cause": "DISEASE PROGRESSION",
            "autopsy": "N",
            "source": "HOSPITAL RECORD",
        },
    )
    response = as_coordinator.post(
        create_url(patient), assessment_post(patient, {"L1": 50, "L2": 30}, day=56)
    )
    assert "EC-TA-2" in response.context["form"].errors["scan_date_first"][0]
    assert not TumourAssessment.objects.exists()


def test_imaging_not_done_is_ne_without_rows(as_coordinator, baseline):
    visit = (BASELINE + datetime.timedelta(days=56)).isoformat()
    data = assessment_post(
        baseline,
        {},
        day=56,
        imaging_done="N",
        not_done_reason="scanner down",
        scan_date_first="",
        modality="",
        visit_date=visit,
    )
    response = as_coordinator.post(create_url(baseline), data)
    a = TumourAssessment.objects.get()
    assert (response.status_code, a.overall_resp, a.results.count()) == (302, "NE", 0)
    assert "R1.22" in render(a.deciding_rule)


def test_imaging_not_done_needs_a_reason(as_coordinator, baseline):
    data = assessment_post(baseline, {}, day=56, imaging_done="N", scan_date_first="", modality="")
    response = as_coordinator.post(create_url(baseline), data)
    assert "not_done_reason" in response.context["form"].errors


@pytest.mark.parametrize(
    ("values", "new", "overall", "target", "rule_part"),
    [
        ({"L1": 40, "L2": 30}, None, "PR", "PR", "R1.13"),  # 70 = 0.70 x 100 inclusive (R1.16)
        ({"L1": 41, "L2": 30}, None, "SD", "SD", "R1.15"),  # 71 -> SD (R1.16)
        ({"L1": 80, "L2": 45}, None, "PD", "PD", "R1.14"),  # 125 vs nadir 100
        ({"L1": "DISAPPEARED", "L2": "DISAPPEARED", "L3": "ABSENT"}, None, "CR", "CR", "R1.12"),
        ({"L1": "DISAPPEARED", "L2": "DISAPPEARED"}, None, "PR", "CR", "Table 1"),  # non-target persists
        ({"L1": 55, "L2": 40}, [{}], "PD", "SD", "new lesion"),  # PD by new lesion
        ({"L1": 55, "L2": 40}, [{"unequivocal": "N"}], "SD", "SD", "R1.15"),  # equivocal: not PD (EC-TA-4)
        ({"L1": 55, "L2": 40, "L3": "UNEQUIVOCAL PROGRESSION"}, None, "PD", "SD", "non-target"),
    ],
)
def test_time_point_response_stored(as_coordinator, baseline, values, new, overall, target, rule_part):
    response = as_coordinator.post(create_url(baseline), assessment_post(baseline, values, day=56, new=new))
    assert response.status_code == 302, response.context and response.context["form"].errors
    a = TumourAssessment.objects.get()
    assert (a.overall_resp, a.target_resp) == (overall, target)
    assert rule_part.lower() in (render(a.deciding_rule) + render(a.target_rule)).lower()


def test_too_small_counts_5mm_and_detail_page_shows_numbers(as_coordinator, baseline):
    response = as_coordinator.post(
        create_url(baseline), assessment_post(baseline, {"L1": "TOO SMALL TO MEASURE", "L2": 30}, day=56)
    )
    a = TumourAssessment.objects.get()
    assert (a.sum_mm, a.pct_chg_baseline, a.overall_resp) == (Decimal("35.0"), Decimal("-65.00"), "PR")
    assert LesionResult.objects.get(lesion__lesion_code="L1").value_used_mm == Decimal(5)
    page = as_coordinator.get(response.url)
    assert "35.0 mm" in page.text and "-65.00 %" in page.text and "R1.13" in page.text


def test_new_lesion_codes_and_pd_date(as_coordinator, baseline):
    first_seen = BASELINE + datetime.timedelta(days=54)
    as_coordinator.post(
        create_url(baseline),
        assessment_post(
            baseline, {"L1": 55, "L2": 40}, day=56, new=[{"first_seen_date": first_seen.isoformat()}]
        ),
    )
    a = TumourAssessment.objects.get()
    assert (NewLesion.objects.get().code, a.overall_resp, a.pd_date) == ("N1", "PD", first_seen)


def test_pr_then_pd_against_nadir_with_numbers(as_coordinator, baseline):
    as_coordinator.post(create_url(baseline), assessment_post(baseline, {"L1": 35, "L2": 25}, day=56))
    as_coordinator.post(create_url(baseline), assessment_post(baseline, {"L1": 48, "L2": 25}, day=112))
    first, second = TumourAssessment.objects.order_by("scan_date_first")
    assert (first.overall_resp, first.sum_mm) == ("PR", Decimal("60.0"))
    # 73 vs nadir 60: +13 mm, +21.67 % -> PD though still -27 % from baseline (nadir trap, R1.14)
    assert (second.overall_resp, second.nadir_mm, second.chg_nadir_mm, second.pct_chg_nadir) == (
        "PD",
        Decimal("60.0"),
        Decimal("13.0"),
        Decimal("21.67"),
    )


def test_correcting_an_earlier_assessment_moves_the_nadir_and_flips_a_later_response(
    as_coordinator, baseline
):
    """EC-TA-3: A1 80 -> A2 92 is SD (+12 mm, +15 % vs nadir 80); A1 corrected to 75 makes A2 PD (+17 mm, +22.7 %)."""
    as_coordinator.post(create_url(baseline), assessment_post(baseline, {"L1": 55, "L2": 25}, day=56))
    as_coordinator.post(create_url(baseline), assessment_post(baseline, {"L1": 67, "L2": 25}, day=112))
    first, second = TumourAssessment.objects.order_by("scan_date_first")
    assert (first.overall_resp, second.overall_resp, second.nadir_mm) == ("SD", "SD", Decimal("80.0"))
    data = assessment_post(
        baseline,
        {"L1": 50, "L2": 25},
        day=56,
        expected_version=first.version,
        change_reason="transcription error",
    )
    response = as_coordinator.post(update_url(first), data)
    assert response.status_code == 302
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.sum_mm, second.nadir_mm, second.overall_resp) == (Decimal("75.0"), Decimal("75.0"), "PD")
    # the row change is in the audit trail with its reason
    assert first.version == 2 and first.history.first().history_change_reason == "transcription error"
    assert "L1: MEASURED 50" in first.entries_summary
    assert LesionResult.history.filter(
        lesion__lesion_code="L1", history_change_reason="transcription error"
    ).exists()
    assert AuditEvent.objects.filter(action=AuditEvent.Action.UPDATE, object_id=first.pk).exists()


def test_submitted_assessment_change_needs_reason(as_coordinator, baseline):
    as_coordinator.post(create_url(baseline), assessment_post(baseline, {"L1": 35, "L2": 25}, day=56))
    a = TumourAssessment.objects.get()
    data = assessment_post(baseline, {"L1": 30, "L2": 25}, day=56, expected_version=a.version)
    response = as_coordinator.post(update_url(a), data)
    assert response.status_code == 200 and "change_reason" in response.context["form"].errors
    assert LesionResult.objects.get(lesion__lesion_code="L1").value_mm == Decimal(35)


def test_stale_save_refused(as_coordinator, baseline):
    as_coordinator.post(create_url(baseline), assessment_post(baseline, {"L1": 35, "L2": 25}, day=56))
    a = TumourAssessment.objects.get()
    data = assessment_post(
        baseline, {"L1": 30, "L2": 25}, day=56, expected_version=a.version, change_reason="x"
    )
    as_coordinator.post(update_url(a), data)
    # The same stale version again, with L1 changed differently: both changed the cell, so nothing is saved until
    # the user chooses (a stale save of other cells is merged instead: tests/test_assessments_merge.py).
    l1 = Lesion.objects.get(patient=baseline, lesion_code="L1")
    response = as_coordinator.post(update_url(a), {**data, f"l{l1.pk}-value_mm": "20"})
    assert response.status_code == 409
    assert "after you opened it" in response.text
    assert LesionResult.objects.get(lesion=l1).value_mm == Decimal(30)


def test_lesion_registered_after_a_follow_up_makes_the_time_point_not_computable(as_coordinator, baseline):
    """EC-TA-1 / EC-TA-3: a lesion added to the registry has no row at the earlier time point: shown, never 0."""
    as_coordinator.post(create_url(baseline), assessment_post(baseline, {"L1": 40, "L2": 30}, day=56))
    post = lesion_post(role="NON-TARGET", organ="ADRENAL GLAND", baseline_value_mm="")
    assert as_coordinator.post(create_url(baseline, "lesion"), post).status_code == 302
    a = TumourAssessment.objects.get()
    assert a.overall_resp == "" and "L4" in render(a.derivation_error)
    page = as_coordinator.get(a.get_absolute_url())
    assert 'data-testid="derivation-error"' in page.text


def test_monitor_cannot_enter_assessment(as_monitor, baseline):
    response = as_monitor.post(create_url(baseline), assessment_post(baseline, {"L1": 35, "L2": 25}, day=56))
    assert response.status_code == 403 and not TumourAssessment.objects.exists()


def test_casebook_panel_and_bor(as_coordinator, baseline):
    as_coordinator.post(create_url(baseline), assessment_post(baseline, {"L1": 35, "L2": 25}, day=56))
    as_coordinator.post(create_url(baseline), assessment_post(baseline, {"L1": 34, "L2": 25}, day=112))
    page = as_coordinator.get(reverse("casebook", args=[baseline.pk]))
    assert 'data-testid="response-summary"' in page.text
    # read from the page: the casebook's panels may come rendered from the shared cache (issue 20)
    assert (_shown(page.text, "bor"), _shown(page.text, "cbor")) == ("PR", "PR")


def _shown(html: str, testid: str) -> str:
    """The response the casebook's response panel shows in the element ``data-testid=testid``."""
    found = re.search(rf'data-testid="{testid}">\s*([^<\s]+)', html)
    assert found is not None, testid
    return found.group(1)


def test_unconfirmed_response(as_coordinator, baseline):
    as_coordinator.post(create_url(baseline), assessment_post(baseline, {"L1": 35, "L2": 25}, day=56))
    as_coordinator.post(create_url(baseline), assessment_post(baseline, {"L1": 50, "L2": 30}, day=112))
    page = as_coordinator.get(reverse("casebook", args=[baseline.pk]))
    assert _shown(page.text, "bor") == "PR" and _shown(page.text, "cbor") != "PR"


def test_patient_dates_provider(as_coordinator, baseline):
    as_coordinator.post(create_url(baseline), assessment_post(baseline, {"L1": 35, "L2": 25}, day=56))
    dates = {d.date for d in patient_dates.dates_of(baseline)}
    assert {BASELINE, BASELINE + datetime.timedelta(days=56)} <= dates


@pytest.mark.parametrize("slice_mm", ["0.625", "1.25", "2.5", "5"])
def test_slice_thickness_is_kept_as_the_scanner_reports_it(as_coordinator, patient, slice_mm):
    """CRF-SPEC form 13: decimal(5,3) mm; a value rounded to one decimal would never match the source at SDV."""
    response = as_coordinator.post(create_url(patient, "lesion"), lesion_post(slice_thickness_mm=slice_mm))
    assert response.status_code == 302, response.context["form"].errors
    assert Lesion.objects.get().slice_thickness_mm == Decimal(slice_mm)


def test_slice_thickness_beyond_three_decimals_is_refused_at_the_field(as_coordinator, patient):
    response = as_coordinator.post(create_url(patient, "lesion"), lesion_post(slice_thickness_mm="0.6251"))
    assert response.status_code == 200 and "slice_thickness_mm" in response.context["form"].errors
    assert not Lesion.objects.exists()


def test_every_grid_control_has_a_label_or_a_column_header(as_coordinator, baseline):
    """Issue 19: two selects of the assessment grid (merged into, how local failure was confirmed) had no visible label
    (only an aria-label); each control is now the first of its cell (under its column header) or has a label shown."""
    import re

    html = as_coordinator.get(create_url(baseline)).text
    grid = html[html.index('data-testid="lesion-grid"') :]
    grid = grid[: grid.index("</table>")]
    for cell in re.findall(r"<td[^>]*>(.*?)</td>", grid, re.S):
        controls = re.findall(r'<(?:select|input)[^>]*\bid="([^"]+)"', cell)
        for control in controls[1:]:  # the first is named by its column header
            assert f'for="{control}"' in cell, (control, cell[:300])
