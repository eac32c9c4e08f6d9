"""Endpoint derivation (DOMAIN.md D1-D9, R2.3-R2.4, R5.1-R5.8; CRF-SPEC ADTTE CNSR table).

Every case is one patient built from day offsets relative to SABR start (day 0); the expected value is
(CNSR, ADT as a day offset), so one assert checks both the code and the date used.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from assessments.recist import Response
from endpoints.derivation import (
    DEFAULT_SETTINGS,
    Cnsr,
    ConsentWithdrawal,
    DerivationError,
    DerivationSettings,
    IrradiatedLesion,
    IssueCode,
    OffStudy,
    OffStudyReason,
    PatientRecord,
    SourcedDate,
    SourceRef,
    SubsequentTherapy,
    TherapyReason,
    TherapyType,
    TimePoint,
    TimeToEvent,
    WithdrawalScope,
    derive_lc,
    derive_os,
    derive_patient,
    derive_pfs1,
    derive_pfs2,
)

D0 = date(2025, 1, 6)  # SABR start = treatment start unless a case says otherwise
FAR_CUTOFF = D0 + timedelta(days=5000)


def day(offset: int) -> date:
    return D0 + timedelta(days=offset)


def offset(value: date) -> int:
    return (value - D0).days


def sd(offset_days: int, form: str = "Form", field: str = "date", object_id: int | str = 1) -> SourcedDate:
    return SourcedDate(day(offset_days), SourceRef(form, object_id, field))


def tp(
    offset_days: int,
    response: str = "SD",
    *,
    pd_day: int | None = None,
    pct: str | None = None,
    imaging: bool = True,
) -> TimePoint:
    return TimePoint(
        assessment_date=day(offset_days),
        response=Response(response),
        source=SourceRef("TumourAssessment", offset_days, "scan_date_last"),
        pd_date=sd(pd_day, "NewLesion", "first_seen_date", offset_days) if pd_day is not None else None,
        pct_change_baseline=Decimal(pct) if pct is not None else None,
        imaging_done=imaging,
    )


def therapy(
    offset_days: int,
    reason: str = "PROGRESSION",
    therapy_type: str = "SYSTEMIC",
    *,
    local: bool = False,
) -> SubsequentTherapy:
    return SubsequentTherapy(
        start=sd(offset_days, "SubsequentTherapy", "start_date", offset_days),
        therapy_type=TherapyType(therapy_type),
        reason=TherapyReason(reason),
        local_on_protocol=local,
    )


def off(offset_days: int, reason: str) -> OffStudy:
    return OffStudy(day(offset_days), OffStudyReason(reason), SourceRef("Disposition", 1, "eos_date"))


def withdrawal(offset_days: int, scope: str = "ALL CONTACT AND DATA") -> ConsentWithdrawal:
    return ConsentWithdrawal(
        day(offset_days), WithdrawalScope(scope), SourceRef("Consent", 1, "withdrawal_date")
    )


def lesion(
    code: str = "L1",
    *,
    first: int = 0,
    scans: tuple[int, ...] = (),
    lf: int | None = None,
    retreated: int | None = None,
) -> IrradiatedLesion:
    return IrradiatedLesion(
        lesion_code=code,
        first_fraction=sd(first, "SabrTarget", "first_fraction_date", code),
        evaluations=tuple(sd(n, "LesionResult", "scan_date", f"{code}-{n}") for n in scans),
        local_failure=sd(lf, "LesionResult", "local_failure", code) if lf is not None else None,
        retreated_other_reason=sd(retreated, "SabrTarget", "is_reirradiation", code)
        if retreated is not None
        else None,
    )


def record(**overrides: Any) -> PatientRecord:
    values: dict[str, Any] = {
        "patient_id": 7,
        "study_number": "007",
        "data_cutoff": FAR_CUTOFF,
        "treatment_start": sd(0, "SabrFraction", "fraction_date"),
        "sabr_start": sd(0, "SabrFraction", "fraction_date"),
        "baseline_assessment": True,
        "measurable_disease": True,
    }
    for key, value in overrides.items():
        if key == "cutoff":
            values["data_cutoff"] = day(value)
        elif key == "alive":
            values["last_known_alive"] = sd(value, "SurvivalContact", "contact_date")
        elif key == "death" and isinstance(value, int):
            values["death"] = sd(value, "DeathReport", "death_date")
        else:
            values[key] = value
    return PatientRecord(**values)


def outcome(result: TimeToEvent | None) -> tuple[int, int] | None:
    return (int(result.cnsr), offset(result.adt)) if result is not None else None


SD_Q8W = tuple(tp(56 * k) for k in range(1, 13))  # SD every 56 days up to day 672


# ---------------------------------------------------------------------------------------------------------
# PFS1: one case per R5.4 row (as refined by the CRF-SPEC CNSR table)
# ---------------------------------------------------------------------------------------------------------

R5_4_ROWS = [
    pytest.param(
        {"baseline_assessment": False, "timepoints": (tp(56, "PD"),)},
        (1, 0),
        id="R5.4-no-baseline-assessment",
    ),
    pytest.param({"timepoints": ()}, (1, 0), id="R5.4-no-post-baseline-assessment-no-death"),
    pytest.param({"timepoints": (tp(56, "NE"),)}, (1, 0), id="R5.4-only-NE-assessments-no-death"),
    pytest.param({"timepoints": (tp(56), tp(112, "PD"))}, (0, 112), id="R5.4-pd-at-scheduled-visit"),
    pytest.param({"timepoints": (tp(56), tp(80, "PD"))}, (0, 80), id="R5.4-pd-between-visits"),
    pytest.param(
        {"timepoints": (tp(56), tp(112, "PD", pd_day=109))}, (0, 109), id="R5.3-pd-dated-to-first-scan"
    ),
    pytest.param({"timepoints": (tp(56), tp(112, "PR"), tp(168, "NE"))}, (2, 112), id="R5.4-no-pd-no-death"),
    pytest.param(
        {"timepoints": (tp(56), tp(112), tp(168, "PD")), "subsequent_therapies": (therapy(130),)},
        (3, 112),
        id="R5.4-new-anticancer-therapy-before-pd",
    ),
    pytest.param(
        {"timepoints": (tp(56), tp(112), tp(168, "PD")), "subsequent_therapies": (therapy(112),)},
        (3, 112),
        id="R5.4-new-therapy-on-assessment-day-uses-that-assessment",
    ),
    pytest.param(
        {"timepoints": (tp(56), tp(112)), "subsequent_therapies": (therapy(130, "OTHER", "SURGERY"),)},
        (3, 112),
        id="R5.4-non-protocol-local-therapy-before-pd",
    ),
    pytest.param(
        {
            "timepoints": (tp(56), tp(112)),
            "subsequent_therapies": (therapy(130, "PROGRESSION", "RADIOTHERAPY", local=True),),
        },
        (3, 112),
        id="R1.43-oligoprogression-sabr-on-protocol-before-pd",
    ),
    pytest.param(
        {"timepoints": (tp(56), tp(112, "PD")), "subsequent_therapies": (therapy(140),)},
        (0, 112),
        id="R5.4-therapy-after-pd-keeps-the-event",
    ),
    pytest.param(
        {"timepoints": (tp(56), tp(112, "NE"), tp(168, "PD")), "subsequent_therapies": (therapy(130),)},
        (3, 56),
        id="R5.4-new-therapy-censors-at-last-adequate-not-NE",
    ),
    pytest.param(
        {"timepoints": (tp(56), tp(112)), "off_study": off(120, "ADVERSE EVENT")},
        (2, 112),
        id="R5.4-treatment-discontinued-for-toxicity",
    ),
    pytest.param({"timepoints": (), "death": 30}, (0, 30), id="R5.4-death-before-first-pd-assessment"),
    pytest.param(
        {"timepoints": (tp(56), tp(112)), "death": 140}, (0, 140), id="R5.4-death-between-assessments"
    ),
    pytest.param(
        {"timepoints": (tp(56),), "death": 200}, (5, 56), id="R5.4-death-after-two-missed-assessments"
    ),
    pytest.param({"timepoints": (tp(56), tp(200, "PD"))}, (5, 56), id="R5.4-pd-after-two-missed-assessments"),
    pytest.param(
        {"timepoints": (tp(56), tp(112)), "off_study": off(150, "LOST TO FOLLOW-UP")},
        (6, 112),
        id="R5.4-lost-to-follow-up",
    ),
    pytest.param(
        {"timepoints": (tp(56), tp(112)), "consent_withdrawal": withdrawal(130, "VISITS")},
        (6, 112),
        id="R5.4-withdrew-consent",
    ),
]


@pytest.mark.parametrize(("overrides", "expected"), R5_4_ROWS)
def test_pfs1_censoring_table(overrides: dict[str, Any], expected: tuple[int, int]) -> None:
    assert outcome(derive_pfs1(record(**overrides))) == expected


WITHDRAWAL_CASES = [
    pytest.param("ALL CONTACT AND DATA", (6, 112), id="pd-after-full-withdrawal-ignored"),
    pytest.param("VISITS", (6, 112), id="pd-after-visit-withdrawal-ignored"),
    pytest.param("TREATMENT ONLY", (0, 168), id="pd-after-treatment-only-withdrawal-is-event"),
]


@pytest.mark.parametrize(("scope", "expected"), WITHDRAWAL_CASES)
def test_pfs1_pd_after_consent_withdrawal(scope: str, expected: tuple[int, int]) -> None:
    patient = record(timepoints=(tp(56), tp(112), tp(168, "PD")), consent_withdrawal=withdrawal(130, scope))
    assert outcome(derive_pfs1(patient)) == expected


# D6: gap from the last adequate assessment to the event > 2 x 56 + 7 = 119 days => CNSR 5.
D6_BOUNDARY = [
    pytest.param({"timepoints": (tp(56), tp(175, "PD"))}, (0, 175), id="D6-pd-gap-119-is-event"),
    pytest.param({"timepoints": (tp(56), tp(176, "PD"))}, (5, 56), id="D6-pd-gap-120-is-censored"),
    pytest.param({"timepoints": (tp(56),), "death": 175}, (0, 175), id="D6-death-gap-119-is-event"),
    pytest.param({"timepoints": (tp(56),), "death": 176}, (5, 56), id="D6-death-gap-120-is-censored"),
    pytest.param({"timepoints": (), "death": 119}, (0, 119), id="D6-death-119-days-after-origin-is-event"),
    pytest.param(
        {"timepoints": (), "death": 120}, (5, 0), id="D6-death-120-days-after-origin-censored-at-origin"
    ),
    pytest.param(
        {"timepoints": (tp(56), tp(112, "NE"), tp(176, "PD"))},
        (5, 56),
        id="D6-NE-assessment-does-not-close-gap",
    ),
]


@pytest.mark.parametrize(("overrides", "expected"), D6_BOUNDARY)
def test_pfs1_missed_assessments_boundary(overrides: dict[str, Any], expected: tuple[int, int]) -> None:
    assert outcome(derive_pfs1(record(**overrides))) == expected


SETTINGS_GAP = [
    pytest.param(DEFAULT_SETTINGS, 119, id="default-q8w-window-7"),
    pytest.param(
        DerivationSettings(assessment_interval_days=84, assessment_window_days=7), 175, id="q12w-window-7"
    ),
    pytest.param(DerivationSettings(missed_assessments=1), 63, id="one-missed"),
]


@pytest.mark.parametrize(("settings", "expected"), SETTINGS_GAP)
def test_missed_assessment_gap_is_a_setting(settings: DerivationSettings, expected: int) -> None:
    assert settings.max_assessment_gap_days == expected


def test_pfs1_gap_follows_settings() -> None:
    settings = DerivationSettings(assessment_interval_days=84)
    assert outcome(derive_pfs1(record(timepoints=(tp(56), tp(200, "PD"))), settings)) == (0, 200)


# D7: PFS1 cap 730 days; the event or censoring falls after it => CNSR 7 at STARTDT + 730.
D7_PFS1 = [
    pytest.param({"timepoints": (*SD_Q8W, tp(729, "PD"))}, (0, 729), id="D7-pfs1-event-day-729"),
    pytest.param({"timepoints": (*SD_Q8W, tp(730, "PD"))}, (0, 730), id="D7-pfs1-event-day-730"),
    pytest.param({"timepoints": (*SD_Q8W, tp(731, "PD"))}, (7, 730), id="D7-pfs1-event-day-731-capped"),
    pytest.param({"timepoints": (*SD_Q8W, tp(729))}, (2, 729), id="D7-pfs1-censor-day-729"),
    pytest.param({"timepoints": (*SD_Q8W, tp(730))}, (2, 730), id="D7-pfs1-censor-day-730"),
    pytest.param({"timepoints": (*SD_Q8W, tp(731))}, (7, 730), id="D7-pfs1-censor-day-731-capped"),
    pytest.param(
        {"timepoints": (*SD_Q8W, tp(728), tp(784)), "subsequent_therapies": (therapy(740),)},
        (7, 730),
        id="D7-pfs1-therapy-after-cap-ignored",
    ),
]


@pytest.mark.parametrize(("overrides", "expected"), D7_PFS1)
def test_pfs1_follow_up_cap(overrides: dict[str, Any], expected: tuple[int, int]) -> None:
    assert outcome(derive_pfs1(record(**overrides))) == expected


D7_PFS2_OS = [
    pytest.param(derive_pfs2, 1094, (0, 1094), id="D7-pfs2-death-day-1094"),
    pytest.param(derive_pfs2, 1095, (0, 1095), id="D7-pfs2-death-day-1095"),
    pytest.param(derive_pfs2, 1096, (7, 1095), id="D7-pfs2-death-day-1096-capped"),
    pytest.param(derive_os, 1094, (0, 1094), id="D7-os-death-day-1094"),
    pytest.param(derive_os, 1095, (0, 1095), id="D7-os-death-day-1095"),
    pytest.param(derive_os, 1096, (7, 1095), id="D7-os-death-day-1096-capped"),
]


@pytest.mark.parametrize(("derive", "death_day", "expected"), D7_PFS2_OS)
def test_pfs2_and_os_follow_up_cap(derive: Any, death_day: int, expected: tuple[int, int]) -> None:
    assert outcome(derive(record(death=death_day))) == expected


def test_os_censoring_after_cap_is_capped() -> None:
    assert outcome(derive_os(record(alive=1200))) == (7, 1095)


# D7 / CRF-SPEC: data after the cut-off are dropped before derivation.
CUTOFF_CASES = [
    pytest.param(
        derive_pfs1,
        {"timepoints": (tp(56), tp(112), tp(168, "PD")), "cutoff": 150},
        (2, 112),
        id="pfs1-pd-after-cutoff-dropped",
    ),
    pytest.param(
        derive_pfs1,
        {
            "timepoints": (tp(56), tp(112), tp(168, "PD")),
            "subsequent_therapies": (therapy(160),),
            "cutoff": 150,
        },
        (2, 112),
        id="pfs1-therapy-after-cutoff-dropped",
    ),
    pytest.param(
        derive_pfs1,
        {"timepoints": (tp(56), tp(112)), "death": 140, "cutoff": 139},
        (2, 112),
        id="pfs1-death-after-cutoff-dropped",
    ),
    pytest.param(
        derive_pfs2,
        {"subsequent_therapies": (therapy(200),), "alive": 190, "cutoff": 195},
        (2, 190),
        id="pfs2-next-line-after-cutoff-dropped",
    ),
    pytest.param(
        derive_os,
        {"death": 400, "alive": 300, "cutoff": 350},
        (2, 350),
        id="os-death-after-cutoff-alive-at-cutoff",
    ),
    pytest.param(derive_os, {"alive": 500, "cutoff": 450}, (2, 450), id="R5.6-last-alive-capped-at-cutoff"),
]


@pytest.mark.parametrize(("derive", "overrides", "expected"), CUTOFF_CASES)
def test_data_after_cutoff_are_dropped(
    derive: Any, overrides: dict[str, Any], expected: tuple[int, int]
) -> None:
    assert outcome(derive(record(**overrides))) == expected


# ---------------------------------------------------------------------------------------------------------
# PFS2 (D2, R5.5)
# ---------------------------------------------------------------------------------------------------------

D2_ROWS = [
    pytest.param(
        {"subsequent_therapies": (therapy(200, "PROGRESSION"),)}, (0, 200), id="D2-next-line-for-progression"
    ),
    pytest.param(
        {"subsequent_therapies": (therapy(200, "CLINICAL DETERIORATION"),)},
        (0, 200),
        id="D2-next-line-for-deterioration",
    ),
    pytest.param(
        {"subsequent_therapies": (therapy(200, "TOXICITY"),)}, (4, 200), id="D2-next-line-for-toxicity"
    ),
    pytest.param(
        {"subsequent_therapies": (therapy(200, "PATIENT CHOICE"),)},
        (4, 200),
        id="D2-next-line-patient-choice",
    ),
    pytest.param(
        {"subsequent_therapies": (therapy(200, "OTHER"),)}, (4, 200), id="D2-next-line-other-reason"
    ),
    pytest.param(
        {"subsequent_therapies": (therapy(200, "PROGRESSION", "RADIOTHERAPY", local=True),), "alive": 400},
        (2, 400),
        id="D2-local-therapy-on-protocol-is-not-a-next-line",
    ),
    pytest.param(
        {
            "subsequent_therapies": (therapy(150, "PROGRESSION", "RADIOTHERAPY", local=True), therapy(300)),
            "alive": 400,
        },
        (0, 300),
        id="D2-next-line-after-local-therapy-on-protocol",
    ),
    pytest.param(
        {"subsequent_therapies": (therapy(200, "PROGRESSION", "RADIOTHERAPY"),)},
        (0, 200),
        id="D2-off-protocol-radiotherapy-for-progression-is-a-next-line",
    ),
    pytest.param({"death": 250}, (0, 250), id="D2-death"),
    pytest.param(
        {"subsequent_therapies": (therapy(200),), "death": 250}, (0, 200), id="D2-next-line-before-death"
    ),
    pytest.param(
        {"subsequent_therapies": (therapy(200, "TOXICITY"), therapy(300, "PROGRESSION"))},
        (4, 200),
        id="D2-first-next-line-for-other-reason-censors",
    ),
    pytest.param({"alive": 400}, (2, 400), id="R5.5-no-event-censored-at-last-known-alive"),
    pytest.param(
        {"alive": 380, "off_study": off(400, "LOST TO FOLLOW-UP")}, (6, 380), id="R5.5-lost-to-follow-up"
    ),
]


@pytest.mark.parametrize(("overrides", "expected"), D2_ROWS)
def test_pfs2(overrides: dict[str, Any], expected: tuple[int, int]) -> None:
    assert outcome(derive_pfs2(record(**overrides))) == expected


# ---------------------------------------------------------------------------------------------------------
# OS (R5.6)
# ---------------------------------------------------------------------------------------------------------

R5_6_ROWS = [
    pytest.param({"death": 300}, (0, 300), id="R5.6-death-any-cause"),
    pytest.param({"alive": 400}, (2, 400), id="R5.6-censored-at-last-known-alive"),
    pytest.param({"alive": 500, "cutoff": 450}, (2, 450), id="R5.6-last-known-alive-capped-at-cutoff"),
    pytest.param(
        {"alive": 380, "off_study": off(400, "LOST TO FOLLOW-UP")}, (6, 380), id="R5.6-lost-to-follow-up"
    ),
    pytest.param(
        {"alive": 400, "consent_withdrawal": withdrawal(300)},
        (6, 300),
        id="R5.6-full-withdrawal-limits-follow-up",
    ),
    pytest.param(
        {"alive": 400, "consent_withdrawal": withdrawal(300, "VISITS")},
        (2, 400),
        id="R5.6-visit-withdrawal-keeps-phone-follow-up",
    ),
    pytest.param(
        {"death": 500, "consent_withdrawal": withdrawal(300)},
        (0, 500),
        id="R5.6-death-after-withdrawal-counts",
    ),
    pytest.param(
        {"timepoints": (tp(56), tp(112))}, (2, 112), id="R5.6-missing-last-alive-uses-latest-record"
    ),
    pytest.param(
        {"alive": 100, "timepoints": (tp(56), tp(112))}, (2, 112), id="R5.6-last-alive-before-a-scan"
    ),
]


@pytest.mark.parametrize(("overrides", "expected"), R5_6_ROWS)
def test_os(overrides: dict[str, Any], expected: tuple[int, int]) -> None:
    assert outcome(derive_os(record(**overrides))) == expected


def test_os_origin_is_treatment_start() -> None:
    # D1: OS starts at the earliest study treatment (here axitinib 7 days before the first fraction).
    patient = record(treatment_start=sd(-7, "AxitinibPeriod", "start_date"), death=100)
    result = derive_os(patient)
    assert result is not None and result.days == 107


def test_pfs_origin_is_sabr_start() -> None:
    patient = record(treatment_start=sd(-7, "AxitinibPeriod", "start_date"), death=100)
    result = derive_pfs2(patient)
    assert result is not None and result.days == 100


# ---------------------------------------------------------------------------------------------------------
# Local control (D5, R2.1-R2.4)
# ---------------------------------------------------------------------------------------------------------

LC_LESION_ROWS = [
    pytest.param({"lesion": lesion(scans=(56, 112), lf=112)}, (0, 112), id="D5-local-failure-event"),
    pytest.param(
        {"lesion": lesion(scans=(56, 112)), "death": 200}, (9, 200), id="R2.4-death-without-lf-competing"
    ),
    pytest.param(
        {"lesion": lesion(scans=(56, 112), retreated=150)}, (8, 150), id="R2.3-retreated-for-other-reason"
    ),
    pytest.param(
        {"lesion": lesion(scans=(56, 112), lf=112, retreated=150)}, (0, 112), id="R2.3-lf-before-retreatment"
    ),
    pytest.param(
        {"lesion": lesion(scans=(56, 112, 168))}, (2, 168), id="R2.3-censored-at-last-evaluating-scan"
    ),
    pytest.param({"lesion": lesion()}, (2, 0), id="R2.3-no-evaluating-scan-censored-at-origin"),
    pytest.param(
        {"lesion": lesion(scans=(56, 112, 168, 224), lf=224), "timepoints": (tp(56), tp(112, "PD"))},
        (0, 224),
        id="R2.3-lc-continues-after-distant-pd",
    ),
    pytest.param(
        {"lesion": lesion(scans=(56, 112)), "off_study": off(150, "LOST TO FOLLOW-UP")},
        (6, 112),
        id="R2.3-lost-to-follow-up",
    ),
    pytest.param(
        {"lesion": lesion(scans=(56, 112, 168), lf=168), "consent_withdrawal": withdrawal(130)},
        (6, 112),
        id="R2.3-lf-after-consent-withdrawal-ignored",
    ),
    pytest.param(
        {"lesion": lesion(scans=(56, 112), lf=168), "cutoff": 150}, (2, 112), id="D7-lf-after-cutoff-dropped"
    ),
]


@pytest.mark.parametrize(("overrides", "expected"), LC_LESION_ROWS)
def test_lesion_local_control(overrides: dict[str, Any], expected: tuple[int, int]) -> None:
    lesion_input = overrides.pop("lesion")
    _, lesions = derive_lc(record(lesions=(lesion_input,), **overrides))
    assert outcome(lesions[0]) == expected


def test_lesion_origin_is_its_first_fraction() -> None:
    _, lesions = derive_lc(record(lesions=(lesion(first=3, scans=(59,), lf=59),)))
    assert lesions[0].days == 56


def test_competing_death_is_flagged_competing() -> None:
    _, lesions = derive_lc(record(lesions=(lesion(scans=(56,)),), death=90))
    assert lesions[0].competing


LC_PATIENT_ROWS = [
    pytest.param(
        (lesion("L1", scans=(56, 112), lf=112), lesion("L2", first=2, scans=(56,), lf=56)),
        None,
        (0, 56),
        id="R2.2-earliest-lesion-failure",
    ),
    pytest.param(
        (lesion("L1", scans=(56, 112)), lesion("L2", scans=(56,), retreated=80)),
        200,
        (9, 200),
        id="R2.4-death-without-any-lf-competing",
    ),
    pytest.param(
        (lesion("L1", scans=(56, 112)), lesion("L2", scans=(56, 168))),
        None,
        (2, 168),
        id="R2.3-censored-at-latest-lesion-follow-up",
    ),
    pytest.param(
        (lesion("L1", scans=(56,), retreated=60), lesion("L2", scans=(56, 112), lf=112)),
        None,
        (0, 112),
        id="R2.3-other-lesion-still-at-risk-after-retreatment",
    ),
]


@pytest.mark.parametrize(("lesions", "death_day", "expected"), LC_PATIENT_ROWS)
def test_patient_local_control(
    lesions: tuple[IrradiatedLesion, ...], death_day: int | None, expected: Any
) -> None:
    patient_lc, _ = derive_lc(record(lesions=lesions, death=death_day))
    assert outcome(patient_lc) == expected


def test_patient_local_control_needs_an_irradiated_lesion() -> None:
    assert derive_lc(record(lesions=())) == (None, ())


# ---------------------------------------------------------------------------------------------------------
# One named case per CNSR code (CRF-SPEC ADTTE table)
# ---------------------------------------------------------------------------------------------------------


def _pfs1(**kw: Any) -> TimeToEvent | None:
    return derive_pfs1(record(**kw))


def _pfs2(**kw: Any) -> TimeToEvent | None:
    return derive_pfs2(record(**kw))


def _os(**kw: Any) -> TimeToEvent | None:
    return derive_os(record(**kw))


def _lcles(**kw: Any) -> TimeToEvent | None:
    return derive_lc(record(**kw))[1][0]


CNSR_CODES = [
    pytest.param(lambda: _pfs1(timepoints=(tp(56, "PD"),)), Cnsr.EVENT, id="cnsr-0-event"),
    pytest.param(
        lambda: _pfs1(timepoints=()), Cnsr.NO_ADEQUATE_ASSESSMENT, id="cnsr-1-no-adequate-assessment"
    ),
    pytest.param(lambda: _os(alive=100), Cnsr.NO_EVENT, id="cnsr-2-alive-without-event"),
    pytest.param(
        lambda: _pfs1(timepoints=(tp(56),), subsequent_therapies=(therapy(70),)),
        Cnsr.NEW_THERAPY_BEFORE_PD,
        id="cnsr-3-new-therapy-before-pd",
    ),
    pytest.param(
        lambda: _pfs2(subsequent_therapies=(therapy(70, "TOXICITY"),)),
        Cnsr.NEXT_LINE_OTHER_REASON,
        id="cnsr-4-next-line-other-reason",
    ),
    pytest.param(
        lambda: _pfs1(timepoints=(tp(56), tp(300, "PD"))), Cnsr.MISSED_ASSESSMENTS, id="cnsr-5-missed"
    ),
    pytest.param(
        lambda: _os(alive=90, off_study=off(100, "LOST TO FOLLOW-UP")),
        Cnsr.LOST_OR_WITHDRAWN,
        id="cnsr-6-lost",
    ),
    pytest.param(lambda: _os(death=2000), Cnsr.CAP_REACHED, id="cnsr-7-cap"),
    pytest.param(
        lambda: _lcles(lesions=(lesion(retreated=90),)), Cnsr.LESION_RETREATED, id="cnsr-8-retreated"
    ),
    pytest.param(
        lambda: _lcles(lesions=(lesion(),), death=90), Cnsr.COMPETING_DEATH, id="cnsr-9-competing-death"
    ),
]


@pytest.mark.parametrize(("derive", "expected"), CNSR_CODES)
def test_each_cnsr_code(derive: Any, expected: Cnsr) -> None:
    result = derive()
    assert result is not None and result.cnsr is expected


# ---------------------------------------------------------------------------------------------------------
# D9 arithmetic: origin day 0, no +1; months = days / 30.4375
# ---------------------------------------------------------------------------------------------------------

DAYS_CASES = [
    pytest.param(0, 0, id="origin-is-day-0"),
    pytest.param(1, 1, id="next-day-is-day-1"),
    pytest.param(56, 56, id="no-plus-one"),
]


@pytest.mark.parametrize(("death_day", "expected"), DAYS_CASES)
def test_days_from_origin(death_day: int, expected: int) -> None:
    result = derive_os(record(death=death_day))
    assert result is not None and result.days == expected


def test_days_are_calendar_differences() -> None:
    patient = record(
        treatment_start=SourcedDate(date(2025, 1, 6), SourceRef("SabrFraction", 1, "fraction_date")),
        death=SourcedDate(date(2025, 3, 3), SourceRef("DeathReport", 1, "death_date")),
    )
    result = derive_os(patient)
    assert result is not None and result.days == 56


MONTHS_CASES = [
    pytest.param(0, 0.0, id="0-days"),
    pytest.param(30, 30 / 30.4375, id="30-days"),
    pytest.param(365, 365 / 30.4375, id="365-days"),
    pytest.param(487, 16.0, id="487-days-is-16-months"),
]


@pytest.mark.parametrize(("death_day", "expected"), MONTHS_CASES)
def test_months_conversion(death_day: int, expected: float) -> None:
    result = derive_os(record(death=death_day))
    assert result is not None and result.months == pytest.approx(expected, abs=1e-12)


# ---------------------------------------------------------------------------------------------------------
# Sources: every date used links back to the CRF field that set it
# ---------------------------------------------------------------------------------------------------------

SOURCE_CASES = [
    pytest.param(
        lambda: _pfs1(timepoints=(tp(56), tp(112, "PD", pd_day=109))),
        SourceRef("NewLesion", 112, "first_seen_date"),
        id="pd-date-from-new-lesion",
    ),
    pytest.param(
        lambda: _pfs1(timepoints=(tp(56),), subsequent_therapies=(therapy(70),)),
        SourceRef("TumourAssessment", 56, "scan_date_last"),
        id="cnsr-3-last-adequate-assessment",
    ),
    pytest.param(
        lambda: _pfs2(subsequent_therapies=(therapy(70),)),
        SourceRef("SubsequentTherapy", 70, "start_date"),
        id="pfs2-next-line-start",
    ),
    pytest.param(lambda: _os(death=90), SourceRef("DeathReport", 1, "death_date"), id="os-death"),
    pytest.param(lambda: _os(alive=90), SourceRef("SurvivalContact", 1, "contact_date"), id="os-last-alive"),
    pytest.param(lambda: _pfs1(timepoints=()), SourceRef("SabrFraction", 1, "fraction_date"), id="origin"),
]


@pytest.mark.parametrize(("derive", "expected"), SOURCE_CASES)
def test_source_of_date_used(derive: Any, expected: SourceRef) -> None:
    result = derive()
    assert result is not None and result.source == expected


def test_reason_is_in_words() -> None:
    result = _pfs1(timepoints=(tp(56), tp(112)), subsequent_therapies=(therapy(130),))
    assert result is not None and result.reason == (
        "censored: new anticancer therapy before progression (systemic therapy for progression started "
        f"{day(130).isoformat()}); last adequate assessment {day(112).isoformat()}"
    )


# ---------------------------------------------------------------------------------------------------------
# Response, best % change and analysis sets (D3, R1.23, R5.7, R5.8)
# ---------------------------------------------------------------------------------------------------------

BOR_CASES = [
    pytest.param((tp(56, "PR"), tp(112, "PR")), (), ("PR", "PR"), id="D3-confirmed-pr"),
    pytest.param(
        (tp(56, "PR"), tp(112, "SD")), (), ("PR", "SD"), id="D3-unconfirmed-pr-is-sd-when-confirmed"
    ),
    pytest.param(
        (tp(56, "PR"), tp(112, "PR")),
        (therapy(80),),
        ("PR", "SD"),
        id="R1.23-confirmation-after-next-therapy-ignored",
    ),
    pytest.param((), (), (None, None), id="R5.8-no-post-baseline-assessment"),
]


@pytest.mark.parametrize(("timepoints", "therapies", "expected"), BOR_CASES)
def test_bor_through_recist(timepoints: tuple[TimePoint, ...], therapies: Any, expected: Any) -> None:
    result = derive_patient(record(timepoints=timepoints, subsequent_therapies=therapies))
    responses = tuple(
        str(item.response) if item is not None and item.response is not None else None
        for item in (result.bor, result.cbor)
    )
    assert responses == expected


BEST_CHANGE_CASES = [
    pytest.param(
        (tp(56, pct="-10"), tp(112, "PR", pct="-35.5"), tp(168, pct="-20")),
        (),
        Decimal("-35.5"),
        id="minimum",
    ),
    pytest.param((tp(56, pct="12"), tp(112, "PD", pct="25")), (), Decimal("12"), id="all-growth"),
    pytest.param((tp(56, "NE"),), (), None, id="none-without-measurement"),
    pytest.param(
        (tp(56, pct="-10"), tp(112, pct="-50")), (therapy(80),), Decimal("-10"), id="before-next-therapy-only"
    ),
]


@pytest.mark.parametrize(("timepoints", "therapies", "expected"), BEST_CHANGE_CASES)
def test_best_pct_change(timepoints: tuple[TimePoint, ...], therapies: Any, expected: Decimal | None) -> None:
    assert (
        derive_patient(record(timepoints=timepoints, subsequent_therapies=therapies)).best_pct_change
        == expected
    )


FLAG_CASES = [
    pytest.param({}, (True, True, True), id="treated-measurable-assessed"),
    pytest.param({"timepoints": ()}, (True, True, False), id="R5.8-no-post-baseline-stays-in-primary-set"),
    pytest.param({"timepoints": (tp(56, "NE", imaging=False),)}, (True, True, False), id="imaging-not-done"),
    pytest.param({"measurable_disease": False}, (True, False, False), id="non-measurable"),
    pytest.param({"treatment_start": None, "sabr_start": None}, (False, False, False), id="not-treated"),
]


@pytest.mark.parametrize(("overrides", "expected"), FLAG_CASES)
def test_analysis_set_flags(overrides: dict[str, Any], expected: tuple[bool, bool, bool]) -> None:
    values: dict[str, Any] = {"timepoints": (tp(56),), **overrides}
    flags = derive_patient(record(**values)).flags
    assert (flags.saffl, flags.mdisfl, flags.rsevfl) == expected


NOT_TREATED = record(treatment_start=None, sabr_start=None)

NOT_TREATED_CASES = [
    pytest.param(derive_pfs1, id="pfs1"),
    pytest.param(derive_pfs2, id="pfs2"),
    pytest.param(derive_os, id="os"),
]


@pytest.mark.parametrize("derive", NOT_TREATED_CASES)
def test_not_treated_has_no_time_to_event(derive: Any) -> None:
    assert derive(NOT_TREATED) is None


# ---------------------------------------------------------------------------------------------------------
# Data-consistency issues: listed, never a silent exclusion
# ---------------------------------------------------------------------------------------------------------

ISSUE_CASES = [
    pytest.param(
        {"timepoints": (tp(56), tp(150)), "death": 120}, IssueCode.AFTER_DEATH, id="assessment-after-death"
    ),
    pytest.param(
        {"timepoints": (tp(56),), "subsequent_therapies": (therapy(150, "TOXICITY"),), "death": 120},
        IssueCode.AFTER_DEATH,
        id="therapy-after-death",
    ),
    pytest.param({"timepoints": (tp(-3, "PD"), tp(56))}, IssueCode.PD_BEFORE_SABR, id="pd-before-sabr-start"),
    pytest.param(
        {"timepoints": (tp(56, "PD", pd_day=-2),)}, IssueCode.PD_BEFORE_SABR, id="pd-date-before-sabr-start"
    ),
    pytest.param(
        {"timepoints": (tp(0), tp(56))}, IssueCode.ASSESSMENT_BEFORE_SABR, id="assessment-on-sabr-day"
    ),
    pytest.param(
        {"timepoints": (tp(56), tp(112)), "cutoff": 100}, IssueCode.AFTER_CUTOFF, id="dates-after-cutoff"
    ),
    pytest.param(
        {"timepoints": (tp(56), tp(112)), "consent_withdrawal": withdrawal(80)},
        IssueCode.AFTER_WITHDRAWAL,
        id="data-after-withdrawal",
    ),
    pytest.param(
        {"timepoints": (tp(56),), "off_study": off(100, "WITHDRAWAL BY SUBJECT")},
        IssueCode.WITHDRAWAL_NOT_RECORDED,
        id="EC-DS-3-withdrawal-without-consent-form",
    ),
    pytest.param(
        {"timepoints": (tp(56), tp(112)), "off_study": off(100, "OTHER")},
        IssueCode.AFTER_OFF_STUDY,
        id="assessment-after-off-study",
    ),
    pytest.param(
        {"timepoints": (tp(56),), "subsequent_therapies": (therapy(70),)},
        IssueCode.PROGRESSION_THERAPY_WITHOUT_PD,
        id="EC-SU-3-therapy-for-progression-without-pd",
    ),
    pytest.param({"timepoints": (tp(56),)}, IssueCode.LAST_ALIVE_MISSING, id="last-alive-missing"),
    pytest.param(
        {"alive": 30, "timepoints": (tp(56),)}, IssueCode.LAST_ALIVE_TOO_EARLY, id="last-alive-too-early"
    ),
    pytest.param({"alive": 90, "death": 80}, IssueCode.AFTER_DEATH, id="last-alive-after-death"),
    pytest.param({"treatment_start": None, "sabr_start": None}, IssueCode.NOT_TREATED, id="not-treated"),
    pytest.param({"sabr_start": None}, IssueCode.NO_SABR_START, id="no-sabr-start"),
    pytest.param(
        {"baseline_assessment": False}, IssueCode.NO_BASELINE_ASSESSMENT, id="no-baseline-assessment"
    ),
    pytest.param(
        {"lesions": (lesion(first=-5, scans=(56,)),)},
        IssueCode.LESION_ORIGIN_BEFORE_SABR,
        id="lesion-before-sabr",
    ),
    pytest.param(
        {"lesions": (lesion(scans=(56,), lf=0),)}, IssueCode.LF_BEFORE_LESION_ORIGIN, id="lf-at-origin"
    ),
    pytest.param(
        {"timepoints": (tp(56), tp(56, "PR"))}, IssueCode.BOR_NOT_DERIVABLE, id="two-time-points-one-date"
    ),
]


@pytest.mark.parametrize(("overrides", "expected"), ISSUE_CASES)
def test_consistency_issues(overrides: dict[str, Any], expected: IssueCode) -> None:
    issues = derive_patient(record(**overrides)).issues
    assert expected in {issue.code for issue in issues}


def test_clean_patient_has_no_issues() -> None:
    patient = record(timepoints=(tp(56), tp(112, "PD")), alive=130, lesions=(lesion(scans=(56, 112)),))
    assert derive_patient(patient).issues == ()


def test_issue_links_to_source() -> None:
    issues = derive_patient(record(timepoints=(tp(56), tp(150)), death=120)).issues
    after_death = [issue for issue in issues if issue.code is IssueCode.AFTER_DEATH]
    assert after_death[0].source == SourceRef("TumourAssessment", 150, "scan_date_last")


def test_pd_before_sabr_is_not_a_pfs1_event() -> None:
    assert outcome(_pfs1(timepoints=(tp(-3, "PD"), tp(56)))) == (2, 56)


# ---------------------------------------------------------------------------------------------------------
# Whole-patient output and settings
# ---------------------------------------------------------------------------------------------------------


def test_patient_endpoints_are_json_serialisable() -> None:
    patient = record(
        timepoints=(tp(56, "PR", pct="-40"), tp(112, "PR", pct="-45")),
        lesions=(lesion(scans=(56, 112)),),
        subsequent_therapies=(therapy(200),),
        alive=300,
    )
    payload = json.loads(json.dumps(derive_patient(patient).to_dict()))
    assert payload["pfs2"]["cnsr"] == 0


INVALID_SETTINGS = [
    pytest.param({"assessment_interval_days": 0}, id="interval-zero"),
    pytest.param({"assessment_window_days": -1}, id="negative-window"),
    pytest.param({"pfs1_cap_days": 0}, id="cap-zero"),
    pytest.param({"days_per_month": Decimal("0")}, id="month-zero"),
]


@pytest.mark.parametrize("overrides", INVALID_SETTINGS)
def test_invalid_settings_are_refused(overrides: dict[str, Any]) -> None:
    with pytest.raises(DerivationError):
        DerivationSettings(**overrides)


DEFAULTS = [
    pytest.param("pfs1_cap_days", 730, id="D7-pfs1-cap"),
    pytest.param("pfs2_cap_days", 1095, id="D7-pfs2-cap"),
    pytest.param("os_cap_days", 1095, id="D7-os-cap"),
    pytest.param("sd_min_days", 42, id="D3-sd-min"),
    pytest.param("confirm_min_days", 28, id="R1.24-confirm"),
    pytest.param("assessment_interval_days", 56, id="D6-interval"),
    pytest.param("assessment_window_days", 7, id="D6-window"),
    pytest.param("days_per_month", Decimal("30.4375"), id="D9-month"),
]


@pytest.mark.parametrize(("name", "expected"), DEFAULTS)
def test_section_0_defaults(name: str, expected: object) -> None:
    assert getattr(DEFAULT_SETTINGS, name) == expected


def test_lc_cap_setting_caps_lesion_rows() -> None:
    settings = DerivationSettings(lc_cap_days=365)
    _, lesions = derive_lc(record(lesions=(lesion(scans=(56, 400)),)), settings)
    assert outcome(lesions[0]) == (7, 365)


# --- D4, R1.41 (b): best overall response of the non-irradiated lesions ---------------------------------------


def _nonirr(offset_days: int, all_lesions: str, nonirr: str | None) -> TimePoint:
    from dataclasses import replace

    return replace(tp(offset_days, all_lesions), response_nonirr=Response(nonirr) if nonirr else None)


def test_d4_nonirradiated_bor_is_derived_from_the_nonirradiated_time_points():
    """All lesions PR (the irradiated ones shrink); the untreated lesions only SD: BOR PR, non-irradiated SD."""
    rec = record(
        nonirradiated_baseline=True,
        nonirradiated_target=True,
        timepoints=(_nonirr(56, "PR", "SD"), _nonirr(112, "PR", "SD"), _nonirr(168, "PR", "PR")),
    )
    result = derive_patient(rec)
    assert (result.cbor.response, result.cbor_nonirr.response) == (Response.PR, Response.SD)
    assert result.bor_nonirr.response is Response.PR  # unconfirmed: the single PR at day 168 counts (D3)


def test_d4_no_nonirradiated_lesion_at_baseline_gives_no_nonirradiated_bor():
    rec = record(nonirradiated_baseline=False, timepoints=(_nonirr(56, "PR", "PR"), _nonirr(112, "PR", "PR")))
    result = derive_patient(rec)
    assert result.cbor.response is Response.PR and result.bor_nonirr is None and result.cbor_nonirr is None


def test_r1_26_table2_patient_with_cr_then_ne_is_non_cr_non_pd_not_sd():
    """Non-target disease only (Table 2): CR then NE after the SD minimum is NON-CR/NON-PD, never SD (R1.26)."""
    rec = record(measurable_disease=False, timepoints=(tp(56, "CR"), tp(112, "NE")))
    result = derive_patient(rec)
    assert result.cbor.response is Response.NON_CR_NON_PD


def test_d4_nonirradiated_series_of_nontarget_lesions_is_read_by_table2():
    """All targets irradiated: the non-irradiated series is non-target only, so CR then NE is NON-CR/NON-PD."""
    rec = record(
        nonirradiated_baseline=True,
        nonirradiated_target=False,
        timepoints=(_nonirr(56, "PR", "CR"), _nonirr(112, "PR", "NE")),
    )
    result = derive_patient(rec)
    assert result.cbor.response is Response.PR and result.cbor_nonirr.response is Response.NON_CR_NON_PD
