"""Study-drug dosing rules (DOMAIN.md R4.1-R4.8; CRF-SPEC forms 13-15, "Derived values")."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

import pytest

from treatment.dosing import (
    AxitinibAe,
    AxitinibDose,
    AxitinibPeriod,
    AxitinibRdiSettings,
    DoseFrequency,
    DoseUnit,
    DosingError,
    Immunosuppressant,
    InfusionStatus,
    ToripalimabInfusion,
    ToripalimabRdiSettings,
    axitinib_dose_at_level,
    axitinib_dose_for_mg,
    axitinib_dose_mg,
    axitinib_level,
    axitinib_other_dose_errors,
    axitinib_period_errors,
    axitinib_rdi,
    axitinib_step,
    axitinib_titration_warnings,
    period_overlap_errors,
    prednisone_equivalent_mg_day,
    steroid_taper_warning,
    toripalimab_cycle_errors,
    toripalimab_dose_errors,
    toripalimab_interval_warning,
    toripalimab_interval_warnings,
    toripalimab_planned_date,
    toripalimab_rdi,
)

D = Decimal
A = AxitinibDose
DAY0 = date(2025, 3, 3)


def day(n: int) -> date:
    return DAY0 + timedelta(days=n)


def matched(messages: list[str], fragments: list[str]) -> list[str]:
    """Replace each message by the expected fragment it contains, so one list comparison checks them all."""
    return [next((f for f in fragments if f in m), m) for m in messages]


# --- Axitinib dose levels (R4.2) ---

LEVELS = [
    (A.PLUS2_10MG, 2, D("10")),
    (A.PLUS1_7MG, 1, D("7")),
    (A.START_5MG, 0, D("5")),
    (A.MINUS1_3MG, -1, D("3")),
    (A.MINUS2_2MG, -2, D("2")),
]


@pytest.mark.parametrize(("dose", "level", "mg"), LEVELS)
def test_level_of_dose(dose: AxitinibDose, level: int, mg: Decimal) -> None:
    assert axitinib_level(dose) == level


@pytest.mark.parametrize(("dose", "level", "mg"), LEVELS)
def test_dose_at_level(dose: AxitinibDose, level: int, mg: Decimal) -> None:
    assert axitinib_dose_at_level(level) is dose


@pytest.mark.parametrize(("dose", "level", "mg"), LEVELS)
def test_dose_mg(dose: AxitinibDose, level: int, mg: Decimal) -> None:
    assert axitinib_dose_mg(dose) == mg


@pytest.mark.parametrize(("dose", "level", "mg"), LEVELS)
def test_dose_for_mg(dose: AxitinibDose, level: int, mg: Decimal) -> None:
    assert axitinib_dose_for_mg(mg) is dose


@pytest.mark.parametrize(
    ("dose", "value"),
    [
        (A.PLUS2_10MG, "10 MG BID"),
        (A.PLUS1_7MG, "7 MG BID"),
        (A.START_5MG, "5 MG BID"),
        (A.MINUS1_3MG, "3 MG BID"),
        (A.MINUS2_2MG, "2 MG BID"),
        (A.INTERRUPTED, "INTERRUPTED"),
        (A.PERMANENTLY_DISCONTINUED, "PERMANENTLY DISCONTINUED"),
    ],
)
def test_dose_submission_values(dose: AxitinibDose, value: str) -> None:
    assert dose.value == value


@pytest.mark.parametrize("dose", [A.INTERRUPTED, A.PERMANENTLY_DISCONTINUED])
def test_non_levels(dose: AxitinibDose) -> None:
    assert (axitinib_level(dose), axitinib_dose_mg(dose)) == (None, D(0))


@pytest.mark.parametrize("mg", [D("4"), D("2.5"), D("6")])
def test_off_list_mg(mg: Decimal) -> None:
    assert axitinib_dose_for_mg(mg) is None


@pytest.mark.parametrize(
    ("dose", "steps", "expected"),
    [
        (A.START_5MG, 1, A.PLUS1_7MG),
        (A.START_5MG, 2, A.PLUS2_10MG),
        (A.PLUS1_7MG, 1, A.PLUS2_10MG),
        (A.START_5MG, -1, A.MINUS1_3MG),
        (A.START_5MG, -2, A.MINUS2_2MG),
        (A.MINUS1_3MG, -1, A.MINUS2_2MG),
        (A.PLUS2_10MG, -4, A.MINUS2_2MG),
        (A.MINUS2_2MG, 0, A.MINUS2_2MG),
    ],
)
def test_step(dose: AxitinibDose, steps: int, expected: AxitinibDose) -> None:
    assert axitinib_step(dose, steps) is expected


@pytest.mark.parametrize(
    ("dose", "steps"),
    [
        (A.PLUS2_10MG, 1),
        (A.MINUS2_2MG, -1),
        (A.START_5MG, 3),
        (A.INTERRUPTED, 1),
        (A.PERMANENTLY_DISCONTINUED, -1),
        (A.START_5MG, True),
    ],
)
def test_step_errors(dose: AxitinibDose, steps: int) -> None:
    with pytest.raises(DosingError):
        axitinib_step(dose, steps)


@pytest.mark.parametrize("level", [3, -3, True])
def test_dose_at_level_errors(level: int) -> None:
    with pytest.raises(DosingError):
        axitinib_dose_at_level(level)


@pytest.mark.parametrize("mg", [D("0"), D("-1"), 5, D("NaN")])
def test_dose_for_mg_errors(mg: Decimal) -> None:
    with pytest.raises(DosingError):
        axitinib_dose_for_mg(mg)


# EC-AX-2: an off-list dose goes through other_dose_mg with a reason.
@pytest.mark.parametrize(
    ("mg", "reason", "n_errors"),
    [
        (None, None, 0),
        (D("2.5"), "STRONG CYP3A4/5 INHIBITOR", 0),
        (D("2.5"), None, 1),
        (D("2.5"), " ", 1),
        (D("5"), "OTHER", 1),
        (D("5"), None, 2),
    ],
    ids=["none", "off-list-with-reason", "no-reason", "blank-reason", "listed", "listed-no-reason"],
)
def test_other_dose_errors(mg: Decimal | None, reason: str | None, n_errors: int) -> None:
    assert len(axitinib_other_dose_errors(other_dose_mg=mg, other_dose_reason=reason)) == n_errors


# --- Titration (R4.3, EC-AX-3) ---


def ae(grade: int, onset: int, resolved: int | None, related: bool = True) -> AxitinibAe:
    return AxitinibAe(
        term="Diarrhea",
        grade=grade,
        onset_date=day(onset),
        resolution_date=None if resolved is None else day(resolved),
        axitinib_related=related,
    )


def titration(
    *,
    current: AxitinibDose = A.START_5MG,
    proposed: AxitinibDose = A.PLUS1_7MG,
    days_at_level: int = 42,
    aes: tuple[AxitinibAe, ...] = (),
    bp_ok: bool | None = True,
    min_weeks: int = 6,
) -> list[str]:
    return axitinib_titration_warnings(
        current=current,
        proposed=proposed,
        current_level_start=day(0),
        change_date=day(days_at_level),
        adverse_events=aes,
        bp_ok_no_antihtn=bp_ok,
        min_weeks_at_level=min_weeks,
    )


# Change date = day 42 unless stated; the 2-week window is days 28-42.
TITRATION = [
    ("5 to 7 after 6 weeks, all clear", {}, []),
    ("7 to 10 after 6 weeks", {"current": A.PLUS1_7MG, "proposed": A.PLUS2_10MG}, []),
    ("5 to 10 skips a level", {"proposed": A.PLUS2_10MG}, ["skips a level"]),
    ("41 days at level", {"days_at_level": 41}, ["only 41 days"]),
    ("2-week setting: 14 days ok", {"days_at_level": 14, "min_weeks": 2}, []),
    ("2-week setting: 13 days", {"days_at_level": 13, "min_weeks": 2}, ["only 13 days"]),
    ("BP not ok", {"bp_ok": False}, ["bp_ok_no_antihtn"]),
    ("BP not recorded", {"bp_ok": None}, ["bp_ok_no_antihtn"]),
    ("related G3 ongoing", {"aes": (ae(3, 30, None),)}, ["grade 3"]),
    ("related G3 resolved day 28 (window edge)", {"aes": (ae(3, 20, 28),)}, ["grade 3"]),
    ("related G3 resolved day 27", {"aes": (ae(3, 20, 27),)}, []),
    ("related G3 onset on change day", {"aes": (ae(3, 42, None),)}, ["grade 3"]),
    ("related G3 onset after change", {"aes": (ae(3, 43, None),)}, []),
    ("related G2 in window", {"aes": (ae(2, 30, None),)}, []),
    ("unrelated G4 in window", {"aes": (ae(4, 30, None, related=False),)}, []),
    (
        "everything wrong",
        {"proposed": A.PLUS2_10MG, "days_at_level": 20, "aes": (ae(4, 10, 15),), "bp_ok": False},
        ["skips a level", "only 20 days", "grade 4", "bp_ok_no_antihtn"],
    ),
    ("step down is no titration", {"proposed": A.MINUS1_3MG, "days_at_level": 3, "bp_ok": False}, []),
    ("same level is no titration", {"proposed": A.START_5MG, "bp_ok": False}, []),
    ("interruption is no titration", {"proposed": A.INTERRUPTED, "bp_ok": False}, []),
    ("-2 to -1 re-escalation", {"current": A.MINUS2_2MG, "proposed": A.MINUS1_3MG}, []),
]


@pytest.mark.parametrize(("label", "kwargs", "fragments"), TITRATION, ids=[t[0] for t in TITRATION])
def test_titration(label: str, kwargs: dict[str, object], fragments: list[str]) -> None:
    warnings = titration(**kwargs)  # type: ignore[arg-type]
    assert matched(warnings, fragments) == fragments


def test_titration_warning_cites_rule() -> None:
    assert titration(bp_ok=False) == [
        "bp_ok_no_antihtn is not Y: a step up needs a normotensive patient without antihypertensives "
        "(R4.3, EC-AX-3)"
    ]


@pytest.mark.parametrize("current", [A.INTERRUPTED, A.PERMANENTLY_DISCONTINUED])
def test_titration_from_non_level(current: AxitinibDose) -> None:
    with pytest.raises(DosingError):
        titration(current=current)


# --- Periods (EC-AX-1) ---

OVERLAP = [
    ("none", [], 0),
    ("one open", [(day(0), None)], 0),
    ("consecutive", [(day(0), day(9)), (day(10), day(19)), (day(20), None)], 0),
    ("gap", [(day(0), day(9)), (day(15), None)], 0),
    ("unordered input", [(day(10), None), (day(0), day(9))], 0),
    ("same boundary day", [(day(0), day(10)), (day(10), None)], 1),
    ("overlap", [(day(0), day(20)), (day(10), day(30))], 1),
    ("end before start", [(day(10), day(5))], 1),
    ("open not last", [(day(0), None), (day(10), day(20))], 1),
    ("two open", [(day(0), None), (day(10), None)], 1),
    ("single day", [(day(3), day(3))], 0),
]


@pytest.mark.parametrize(("label", "periods", "n_errors"), OVERLAP, ids=[o[0] for o in OVERLAP])
def test_period_overlap(label: str, periods: list[tuple[date, date | None]], n_errors: int) -> None:
    assert len(period_overlap_errors(periods)) == n_errors


def test_overlap_message() -> None:
    assert period_overlap_errors([(day(0), day(10)), (day(10), None)]) == [
        "period 2025-03-03 to 2025-03-13 overlaps the period starting 2025-03-13 (EC-AX-1)"
    ]


def period(start: int, end: int | None, dose: AxitinibDose = A.START_5MG, missed: int = 0) -> AxitinibPeriod:
    return AxitinibPeriod(
        start_date=day(start), end_date=None if end is None else day(end), dose=dose, missed_doses=missed
    )


AXI_PERIODS = [
    ("clean", [period(0, 41), period(42, None, A.PLUS1_7MG)], None, []),
    ("before registration", [period(0, None)], day(1), ["before registration"]),
    ("on registration day", [period(1, None)], day(1), []),
    (
        "after discontinuation",
        [period(0, 9), period(10, 10, A.PERMANENTLY_DISCONTINUED), period(11, None)],
        None,
        ["permanently discontinued"],
    ),
    ("discontinuation last", [period(0, 9), period(10, None, A.PERMANENTLY_DISCONTINUED)], None, []),
    ("overlap", [period(0, 10), period(5, None)], None, ["overlaps"]),
]


@pytest.mark.parametrize(
    ("label", "periods", "registration", "fragments"), AXI_PERIODS, ids=[p[0] for p in AXI_PERIODS]
)
def test_axitinib_period_errors(
    label: str, periods: list[AxitinibPeriod], registration: date | None, fragments: list[str]
) -> None:
    errors = axitinib_period_errors(periods, registration_date=registration)
    assert matched(errors, fragments) == fragments


# --- Toripalimab (R4.6, R4.7, EC-TO-1..3) ---


@pytest.mark.parametrize(
    ("dose", "reason", "toxicity", "n_errors"),
    [
        (D("240"), None, False, 0),
        (D("240.0"), None, False, 0),
        (D("200"), None, False, 1),
        (D("200"), "infusion stopped early after reaction", False, 0),
        (D("200"), "toxicity", True, 1),
        (D("120"), None, True, 2),
        (D("300"), None, False, 1),
        (D("300"), "weight-based per investigator", False, 0),
    ],
    ids=[
        "240",
        "240.0",
        "200-no-reason",
        "200-reason",
        "reduction-refused",
        "reduction-no-reason",
        "300-no-reason",
        "300-reason",
    ],
)
def test_toripalimab_dose(dose: Decimal, reason: str | None, toxicity: bool, n_errors: int) -> None:
    errors = toripalimab_dose_errors(dose_mg=dose, deviation_reason=reason, reduction_for_toxicity=toxicity)
    assert len(errors) == n_errors


def test_toripalimab_reduction_message() -> None:
    errors = toripalimab_dose_errors(
        dose_mg=D("200"), deviation_reason="G3 colitis", reduction_for_toxicity=True
    )
    assert errors == [
        "toripalimab 200 mg: dose reductions for toxicity are not allowed; withhold (DELAYED or OMITTED) "
        "or stop (PERMANENTLY DISCONTINUED) instead (R4.7, EC-TO-2)"
    ]


@pytest.mark.parametrize("dose", [D("0"), D("-240"), 240])
def test_toripalimab_dose_malformed(dose: Decimal) -> None:
    with pytest.raises(DosingError):
        toripalimab_dose_errors(dose_mg=dose, deviation_reason=None)


def test_planned_date() -> None:
    assert toripalimab_planned_date(day(0)) == day(21)


@pytest.mark.parametrize(
    ("days", "warns"),
    [(17, True), (18, False), (21, False), (24, False), (25, True), (42, True), (0, True)],
)
def test_interval_window(days: int, warns: bool) -> None:
    assert (toripalimab_interval_warning(day(0), day(days)) is not None) is warns


def test_interval_message() -> None:
    assert toripalimab_interval_warning(day(0), day(17)) == (
        "toripalimab infusion 2025-03-20 is 17 days after the previous given infusion 2025-03-03: "
        "too short for q3w (18-24 days) (R4.6, EC-TO-3)"
    )


G = InfusionStatus.GIVEN
FLAT_DOSE = D("240")


def inf(
    cycle: int, status: InfusionStatus = G, at: int | None = None, mg: Decimal | None = FLAT_DOSE
) -> ToripalimabInfusion:
    infusion_date = day(at if at is not None else (cycle - 1) * 21) if status is G or at is not None else None
    return ToripalimabInfusion(cycle_number=cycle, status=status, infusion_date=infusion_date, dose_mg=mg)


INTERVALS = [
    ("on schedule", [inf(1), inf(2), inf(3)], 0),
    ("omitted cycle 2: 42 days from cycle 1", [inf(1), inf(2, InfusionStatus.OMITTED), inf(3, at=42)], 1),
    ("delayed to day 24", [inf(1), inf(2, at=24)], 0),
    ("delayed to day 25", [inf(1), inf(2, at=25)], 1),
    ("early day 17", [inf(1), inf(2, at=17)], 1),
    ("single infusion", [inf(1)], 0),
]


@pytest.mark.parametrize(("label", "infusions", "n_warnings"), INTERVALS, ids=[i[0] for i in INTERVALS])
def test_interval_warnings(label: str, infusions: list[ToripalimabInfusion], n_warnings: int) -> None:
    assert len(toripalimab_interval_warnings(infusions)) == n_warnings


CYCLES = [
    ("consecutive", [inf(1), inf(2), inf(3)], None, []),
    ("gap in numbers", [inf(1), inf(3)], None, ["numbered 1 to 2"]),
    ("duplicate", [inf(1), inf(1, at=21)], None, ["numbered 1 to 2"]),
    ("starts at 2", [inf(2)], None, ["numbered 1 to 1"]),
    ("given without date", [ToripalimabInfusion(1, G)], None, ["without an infusion_date"]),
    ("before registration", [inf(1)], day(1), ["before registration"]),
    ("dates out of order", [inf(1, at=21), inf(2, at=0)], None, ["not after"]),
    (
        "after discontinuation",
        [inf(1), inf(2, InfusionStatus.PERMANENTLY_DISCONTINUED), inf(3, at=42)],
        None,
        ["permanently discontinued"],
    ),
    ("discontinuation last", [inf(1), inf(2, InfusionStatus.PERMANENTLY_DISCONTINUED)], None, []),
    ("omitted then given", [inf(1), inf(2, InfusionStatus.OMITTED), inf(3, at=42)], None, []),
]


@pytest.mark.parametrize(
    ("label", "infusions", "registration", "fragments"), CYCLES, ids=[c[0] for c in CYCLES]
)
def test_cycle_errors(
    label: str, infusions: list[ToripalimabInfusion], registration: date | None, fragments: list[str]
) -> None:
    errors = toripalimab_cycle_errors(infusions, registration_date=registration)
    assert matched(errors, fragments) == fragments


def test_cycle_number_malformed() -> None:
    with pytest.raises(DosingError):
        toripalimab_cycle_errors([inf(0)])


# --- Relative dose intensity (CRF-SPEC "Derived values") ---

AXI_RDI = [
    ("10 days at 5 mg", [period(0, 9)], None, D("100")),
    ("2 missed doses", [period(0, 9, missed=2)], None, D("90")),
    ("5 mg 14 d then 7 mg 14 d", [period(0, 13), period(14, 27, A.PLUS1_7MG)], None, D("120")),
    ("interruption inside", [period(0, 9), period(10, 14, A.INTERRUPTED), period(15, 24)], None, D("80")),
    ("trailing interruption", [period(0, 9), period(10, None, A.INTERRUPTED)], None, D("100")),
    ("reduced to 3 mg", [period(0, 9, A.MINUS1_3MG)], None, D("60")),
    ("ongoing to cut-off", [period(0, None)], day(19), D("100")),
    ("10 mg", [period(0, 9, A.PLUS2_10MG)], None, D("200")),
    ("nothing taken", [period(0, 9, A.INTERRUPTED)], None, None),
    ("no periods", [], None, None),
]


@pytest.mark.parametrize(("label", "periods", "as_of", "expected"), AXI_RDI, ids=[r[0] for r in AXI_RDI])
def test_axitinib_rdi(
    label: str, periods: list[AxitinibPeriod], as_of: date | None, expected: Decimal | None
) -> None:
    assert axitinib_rdi(periods, as_of=as_of) == expected


def test_axitinib_rdi_other_dose() -> None:
    other = AxitinibPeriod(start_date=day(0), end_date=day(9), dose=A.MINUS1_3MG, other_dose_mg=D("4"))
    assert axitinib_rdi([other]) == D("80")


def test_axitinib_rdi_formula_is_a_setting() -> None:
    settings = AxitinibRdiSettings(planned_mg_per_day=D("14"))
    assert axitinib_rdi([period(0, 9, A.PLUS1_7MG)], settings=settings) == D("100")


@pytest.mark.parametrize(
    ("periods", "as_of"),
    [
        ([period(0, None)], None),
        ([period(10, None)], day(5)),
        ([period(0, 0, missed=3)], None),
        ([period(0, 9, missed=-1)], None),
    ],
    ids=["open-no-cutoff", "cutoff-before-start", "too-many-missed", "negative-missed"],
)
def test_axitinib_rdi_errors(periods: list[AxitinibPeriod], as_of: date | None) -> None:
    with pytest.raises(DosingError):
        axitinib_rdi(periods, as_of=as_of)


TORI_RDI = [
    ("3 on schedule", [inf(1), inf(2), inf(3)], D("100")),
    ("one infusion", [inf(1)], D("100")),
    ("cycle 3 omitted", [inf(1), inf(2), inf(3, InfusionStatus.OMITTED), inf(4, at=63)], D("75")),
    ("delayed within a cycle", [inf(1), inf(2, at=28)], D("100")),
    ("one 200 mg dose", [inf(1), inf(2, mg=D("200"))], D("440") / D("480") * 100),
    ("none given", [inf(1, InfusionStatus.OMITTED, mg=None)], None),
]


@pytest.mark.parametrize(("label", "infusions", "expected"), TORI_RDI, ids=[r[0] for r in TORI_RDI])
def test_toripalimab_rdi(label: str, infusions: list[ToripalimabInfusion], expected: Decimal | None) -> None:
    assert toripalimab_rdi(infusions) == expected


def test_toripalimab_rdi_formula_is_a_setting() -> None:
    # Monotherapy-like q2w schedule as a setting: days 0, 21 = 2 planned cycles of 14 days.
    settings = ToripalimabRdiSettings(planned_dose_mg=D("240"), cycle_days=14)
    assert toripalimab_rdi([inf(1), inf(2)], settings=settings) == D("100")


def test_toripalimab_rdi_given_without_dose() -> None:
    with pytest.raises(DosingError):
        toripalimab_rdi([inf(1, mg=None)])


# --- Prednisone equivalents (form 15, EC-CM-2) ---

IS = Immunosuppressant
PRED = [
    ("prednisone 10 mg QD", IS.PREDNISONE, D("10"), DoseUnit.MG, DoseFrequency.QD, None, D("10")),
    ("prednisolone 20 mg BID", IS.PREDNISOLONE, D("20"), DoseUnit.MG, DoseFrequency.BID, None, D("40")),
    ("methylpred 40 mg BID", IS.METHYLPREDNISOLONE, D("40"), DoseUnit.MG, DoseFrequency.BID, None, D("100")),
    ("dexamethasone 4 mg QD", IS.DEXAMETHASONE, D("4"), DoseUnit.MG, DoseFrequency.QD, None, D("26.68")),
    ("hydrocortisone 20 mg TID", IS.HYDROCORTISONE, D("20"), DoseUnit.MG, DoseFrequency.TID, None, D("15")),
    (
        "methylpred 1 g once",
        IS.METHYLPREDNISOLONE,
        D("1000"),
        DoseUnit.MG,
        DoseFrequency.ONCE,
        None,
        D("1250"),
    ),
    (
        "prednisone 1 mg/kg, 70 kg",
        IS.PREDNISONE,
        D("1"),
        DoseUnit.MG_PER_KG,
        DoseFrequency.QD,
        D("70"),
        D("70"),
    ),
    (
        "methylpred 1 mg/kg BID, 80 kg",
        IS.METHYLPREDNISOLONE,
        D("1"),
        DoseUnit.MG_PER_KG,
        DoseFrequency.BID,
        D("80"),
        D("200"),
    ),
    ("mg/kg without weight", IS.PREDNISONE, D("1"), DoseUnit.MG_PER_KG, DoseFrequency.QD, None, None),
    ("infliximab", IS.INFLIXIMAB, D("5"), DoseUnit.MG_PER_KG, DoseFrequency.ONCE, D("70"), None),
    ("mycophenolate", IS.MYCOPHENOLATE_MOFETIL, D("1000"), DoseUnit.MG, DoseFrequency.BID, None, None),
    ("other drug", IS.OTHER, D("10"), DoseUnit.MG, DoseFrequency.QD, None, None),
    ("frequency other", IS.PREDNISONE, D("10"), DoseUnit.MG, DoseFrequency.OTHER, None, None),
]


@pytest.mark.parametrize(
    ("label", "drug", "dose", "unit", "frequency", "weight", "expected"), PRED, ids=[p[0] for p in PRED]
)
def test_prednisone_equivalent(
    label: str,
    drug: Immunosuppressant,
    dose: Decimal,
    unit: DoseUnit,
    frequency: DoseFrequency,
    weight: Decimal | None,
    expected: Decimal | None,
) -> None:
    result = prednisone_equivalent_mg_day(
        drug=drug, dose=dose, unit=unit, frequency=frequency, weight_kg=weight
    )
    assert result == expected


def test_conversion_table_is_a_setting() -> None:
    table = {IS.DEXAMETHASONE: D("6.25")}
    result = prednisone_equivalent_mg_day(
        drug=IS.DEXAMETHASONE, dose=D("4"), unit=DoseUnit.MG, frequency=DoseFrequency.QD, table=table
    )
    assert result == D("25")


@pytest.mark.parametrize(
    ("dose", "weight"),
    [(D("0"), None), (D("-1"), None), (D("1"), D("0"))],
    ids=["dose-0", "dose<0", "weight-0"],
)
def test_prednisone_equivalent_errors(dose: Decimal, weight: Decimal | None) -> None:
    with pytest.raises(DosingError):
        prednisone_equivalent_mg_day(
            drug=IS.PREDNISONE,
            dose=dose,
            unit=DoseUnit.MG_PER_KG,
            frequency=DoseFrequency.QD,
            weight_kg=weight,
        )


TAPER = [
    ("15 mg at day 85, toripalimab on", D("15"), 85, True, True),
    ("15 mg at day 84", D("15"), 84, True, False),
    ("10 mg at day 100", D("10"), 100, True, False),
    ("10.01 mg at day 100", D("10.01"), 100, True, True),
    ("15 mg at day 100, toripalimab stopped", D("15"), 100, False, False),
    ("not computable", None, 100, True, False),
]


@pytest.mark.parametrize(("label", "mg", "days", "continues", "warns"), TAPER, ids=[t[0] for t in TAPER])
def test_steroid_taper_warning(
    label: str, mg: Decimal | None, days: int, continues: bool, warns: bool
) -> None:
    warning = steroid_taper_warning(
        course_start=day(0), on_date=day(days), pred_equiv_mg_day=mg, toripalimab_continues=continues
    )
    assert (warning is not None) is warns


def test_steroid_taper_message() -> None:
    warning = steroid_taper_warning(
        course_start=day(0), on_date=day(90), pred_equiv_mg_day=D("12.50"), toripalimab_continues=True
    )
    assert warning == (
        "12.5 mg/day prednisone-equivalent on 2025-06-01, 90 days after the steroid start 2025-03-03, "
        "while toripalimab continues: not reduced to <= 10 mg/day within 12 weeks (R4.8, EC-CM-2)"
    )


def test_dosing_error_is_value_error() -> None:
    assert issubclass(DosingError, ValueError)


@pytest.mark.parametrize(
    "call",
    [
        lambda: axitinib_level("6 MG BID"),  # type: ignore[arg-type]
        lambda: prednisone_equivalent_mg_day(
            drug="BUDESONIDE",  # type: ignore[arg-type]
            dose=D("9"),
            unit=DoseUnit.MG,
            frequency=DoseFrequency.QD,
        ),
        lambda: prednisone_equivalent_mg_day(
            drug=IS.PREDNISONE,
            dose=D("9"),
            unit="g",  # type: ignore[arg-type]
            frequency=DoseFrequency.QD,
        ),
    ],
    ids=["unknown-level", "unknown-drug", "unknown-unit"],
)
def test_unknown_codes(call: Callable[[], object]) -> None:
    with pytest.raises(DosingError, match="is not a"):
        call()
