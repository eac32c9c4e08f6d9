"""IMDC (Heng) risk and the ECOG/KPS check (CRF-SPEC form 5, EC-BL-1, EC-BL-4)."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import date, timedelta

import pytest

from enrollment.imdc import (
    DEFAULT_ECOG_KPS_BANDS,
    ImdcError,
    ImdcFactor,
    ImdcGroup,
    ImdcInputs,
    ecog_kps_message,
    imdc_group,
    imdc_risk,
    kps_range_for_ecog,
)

DX = date(2024, 1, 10)


def inputs(
    *,
    kps: int = 90,
    days_to_dose: int | None = 400,
    assessment_days: int = 380,
    hgb: bool = False,
    calcium: bool = False,
    neutrophils: bool = False,
    platelets: bool = False,
) -> ImdcInputs:
    return ImdcInputs(
        kps=kps,
        diagnosis_date=DX,
        assessment_date=DX + timedelta(days=assessment_days),
        first_systemic_dose_date=None if days_to_dose is None else DX + timedelta(days=days_to_dose),
        hgb_below_lln=hgb,
        calcium_above_uln=calcium,
        neutrophils_above_uln=neutrophils,
        platelets_above_uln=platelets,
    )


# Every score 0..6, adding one factor at a time in form order.
SCORES = [
    ("0 factors", inputs(), 0, ImdcGroup.FAVOURABLE),
    ("KPS 70", inputs(kps=70), 1, ImdcGroup.INTERMEDIATE),
    ("KPS 70 + <1y", inputs(kps=70, days_to_dose=100), 2, ImdcGroup.INTERMEDIATE),
    ("+ Hb", inputs(kps=70, days_to_dose=100, hgb=True), 3, ImdcGroup.POOR),
    ("+ Ca", inputs(kps=70, days_to_dose=100, hgb=True, calcium=True), 4, ImdcGroup.POOR),
    ("+ neut", inputs(kps=70, days_to_dose=100, hgb=True, calcium=True, neutrophils=True), 5, ImdcGroup.POOR),
    (
        "all 6",
        inputs(kps=70, days_to_dose=100, hgb=True, calcium=True, neutrophils=True, platelets=True),
        6,
        ImdcGroup.POOR,
    ),
    ("Hb only", inputs(hgb=True), 1, ImdcGroup.INTERMEDIATE),
    ("Ca only", inputs(calcium=True), 1, ImdcGroup.INTERMEDIATE),
    ("neutrophils only", inputs(neutrophils=True), 1, ImdcGroup.INTERMEDIATE),
    ("platelets only", inputs(platelets=True), 1, ImdcGroup.INTERMEDIATE),
    ("<1y only", inputs(days_to_dose=30), 1, ImdcGroup.INTERMEDIATE),
    ("Ca + platelets", inputs(calcium=True, platelets=True), 2, ImdcGroup.INTERMEDIATE),
    ("3 labs", inputs(hgb=True, calcium=True, platelets=True), 3, ImdcGroup.POOR),
]


@pytest.mark.parametrize(("label", "data", "score", "group"), SCORES, ids=[s[0] for s in SCORES])
def test_score(label: str, data: ImdcInputs, score: int, group: ImdcGroup) -> None:
    assert imdc_risk(data).score == score


@pytest.mark.parametrize(("label", "data", "score", "group"), SCORES, ids=[s[0] for s in SCORES])
def test_group(label: str, data: ImdcInputs, score: int, group: ImdcGroup) -> None:
    assert imdc_risk(data).group is group


@pytest.mark.parametrize(
    ("score", "group"),
    [
        (0, ImdcGroup.FAVOURABLE),
        (1, ImdcGroup.INTERMEDIATE),
        (2, ImdcGroup.INTERMEDIATE),
        (3, ImdcGroup.POOR),
        (4, ImdcGroup.POOR),
        (5, ImdcGroup.POOR),
        (6, ImdcGroup.POOR),
    ],
)
def test_group_by_score(score: int, group: ImdcGroup) -> None:
    assert imdc_group(score) is group


@pytest.mark.parametrize("score", [-1, 7, True])
def test_group_bad_score(score: int) -> None:
    with pytest.raises(ImdcError):
        imdc_group(score)


def test_factors_in_form_order() -> None:
    result = imdc_risk(inputs(kps=60, days_to_dose=10, platelets=True))
    assert result.factors == (
        ImdcFactor.KPS_BELOW_80,
        ImdcFactor.DX_TO_SYSTEMIC_LT_1Y,
        ImdcFactor.PLATELETS_ABOVE_ULN,
    )


# KPS < 80 is a factor: 70 yes, 80 no.
@pytest.mark.parametrize(
    ("kps", "flag"), [(100, False), (90, False), (80, False), (70, True), (60, True), (10, True)]
)
def test_kps_below_80(kps: int, flag: bool) -> None:
    assert imdc_risk(inputs(kps=kps)).kps_below_80 is flag


# Diagnosis -> first systemic dose < 1 year = < 365 days.
@pytest.mark.parametrize(
    ("days", "flag"), [(0, True), (200, True), (364, True), (365, False), (366, False), (1000, False)]
)
def test_dx_to_systemic_boundary(days: int, flag: bool) -> None:
    assert imdc_risk(inputs(days_to_dose=days)).dx_to_systemic_lt_1y is flag


# EC-BL-4: provisional until the first axitinib/toripalimab dose; meanwhile the assessment date stands in.
PROVISIONAL = [
    ("dose given", inputs(days_to_dose=400), "provisional", False),
    ("no dose yet", inputs(days_to_dose=None), "provisional", True),
    (
        "no dose, assessed day 364",
        inputs(days_to_dose=None, assessment_days=364),
        "dx_to_systemic_lt_1y",
        True,
    ),
    (
        "no dose, assessed day 365",
        inputs(days_to_dose=None, assessment_days=365),
        "dx_to_systemic_lt_1y",
        False,
    ),
    ("no dose, assessed day 100", inputs(days_to_dose=None, assessment_days=100), "score", 1),
    (
        "no dose, assessed day 100",
        inputs(days_to_dose=None, assessment_days=100),
        "group",
        ImdcGroup.INTERMEDIATE,
    ),
    ("dose at day 364 fixes it", inputs(days_to_dose=364, assessment_days=400), "dx_to_systemic_lt_1y", True),
    ("dose at day 365 fixes it", inputs(days_to_dose=365, assessment_days=10), "dx_to_systemic_lt_1y", False),
    ("days measured to dose", inputs(days_to_dose=365, assessment_days=10), "dx_to_systemic_days", 365),
    ("days measured to assessment", inputs(days_to_dose=None, assessment_days=12), "dx_to_systemic_days", 12),
]


@pytest.mark.parametrize(
    ("label", "data", "attr", "expected"), PROVISIONAL, ids=[f"{p[0]}-{p[2]}" for p in PROVISIONAL]
)
def test_provisional(label: str, data: ImdcInputs, attr: str, expected: object) -> None:
    assert getattr(imdc_risk(data), attr) == expected


@pytest.mark.parametrize(
    "data",
    [
        inputs(kps=75),
        inputs(kps=0),
        inputs(kps=110),
        replace(inputs(), kps=True),
        inputs(days_to_dose=-1),
        inputs(days_to_dose=None, assessment_days=-1),
    ],
    ids=["kps-75", "kps-0", "kps-110", "kps-bool", "dose-before-dx", "assessed-before-dx"],
)
def test_invalid_inputs(data: ImdcInputs) -> None:
    with pytest.raises(ImdcError):
        imdc_risk(data)


# EC-BL-1: KPS within the ECOG band +/- 10. Consistent KPS per ECOG with the default bands:
CONSISTENT_KPS = {
    0: {80, 90, 100},
    1: {60, 70, 80, 90},
    2: {40, 50, 60, 70},
    3: {20, 30, 40, 50},
    4: {10, 20, 30},
}
ECOG_KPS = [
    pytest.param(ecog, kps, kps in CONSISTENT_KPS[ecog], id=f"ecog{ecog}-kps{kps}")
    for ecog, kps in itertools.product(range(5), range(10, 101, 10))
]


@pytest.mark.parametrize(("ecog", "kps", "consistent"), ECOG_KPS)
def test_ecog_kps_all_combinations(ecog: int, kps: int, consistent: bool) -> None:
    assert (ecog_kps_message(ecog, kps) is None) is consistent


def test_ecog_kps_message_names_both_fields() -> None:
    assert ecog_kps_message(1, 50) == (
        "Karnofsky performance status (kps) 50 does not match ECOG performance status (ecog) 1: "
        "ECOG 1 allows KPS 60-90 (band 70-80 +/- 10) (EC-BL-1)"
    )


def test_ecog_kps_message_clips_to_kps_scale() -> None:
    assert "ECOG 0 allows KPS 80-100 " in (ecog_kps_message(0, 50) or "")


@pytest.mark.parametrize(
    ("ecog", "expected"), [(0, (80, 110)), (1, (60, 90)), (2, (40, 70)), (3, (20, 50)), (4, (0, 30))]
)
def test_kps_range_for_ecog(ecog: int, expected: tuple[int, int]) -> None:
    assert kps_range_for_ecog(ecog) == expected


@pytest.mark.parametrize(
    ("ecog", "kps", "tolerance", "consistent"),
    [(1, 60, 0, False), (1, 70, 0, True), (1, 80, 0, True), (1, 90, 0, False), (2, 80, 20, True)],
)
def test_ecog_kps_tolerance_is_a_setting(ecog: int, kps: int, tolerance: int, consistent: bool) -> None:
    assert (ecog_kps_message(ecog, kps, tolerance=tolerance) is None) is consistent


def test_ecog_kps_bands_are_a_setting() -> None:
    bands = {**DEFAULT_ECOG_KPS_BANDS, 1: (80, 90)}
    assert ecog_kps_message(1, 100, bands=bands) is None


@pytest.mark.parametrize(("ecog", "kps"), [(5, 10), (-1, 90), (0, 95), (0, 0), (True, 90), (0, 110)])
def test_ecog_kps_invalid_values(ecog: int, kps: int) -> None:
    with pytest.raises(ImdcError):
        ecog_kps_message(ecog, kps)


def test_ecog_without_band() -> None:
    with pytest.raises(ImdcError, match="no KPS band"):
        ecog_kps_message(4, 10, bands={0: (90, 100)})
