"""Lesion-level local control of protocol-irradiated lesions (D5, R2.1-R2.3, R1.42)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from assessments.recist import (
    Assessment,
    InterventionKind,
    LcCensorReason,
    Lesion,
    LesionIntervention,
    LfConfirmation,
    LocalControlResult,
    NonTargetState,
    Organ,
    RecistError,
    RecistSettings,
    lesion_local_control,
    local_control,
)
from tests.domain.test_recist_builders import (
    day,
    measured,
    merged,
    mm,
    new_lesion,
    node,
    nontarget,
    not_done,
    not_evaluable,
    state,
    target,
    tp,
)

FIRST_FRACTION = day(10)


def lung(baseline: int | str) -> Lesion:
    return target("L1", baseline, Organ.LUNG, irradiated=True)


def lc(
    lesion: Lesion,
    *timepoints: Assessment,
    interventions: tuple[LesionIntervention, ...] = (),
    first: date = FIRST_FRACTION,
    settings: RecistSettings | None = None,
) -> LocalControlResult:
    return lesion_local_control(
        lesion,
        list(timepoints),
        first_fraction_date=first,
        interventions=interventions,
        settings=settings or RecistSettings(),
    )


def values(baseline: int | str, *sizes: int | str) -> LocalControlResult:
    """The irradiated lung lesion scanned every 8 weeks with the given diameters."""
    return lc(lung(baseline), *(tp(56 * (i + 1), measured("L1", v)) for i, v in enumerate(sizes)))


def outcome(result: LocalControlResult) -> tuple[bool, date, LcCensorReason | None]:
    return result.event, result.date, result.censor_reason


LAST = LcCensorReason.LAST_EVALUATING_SCAN
OUTCOMES = [
    pytest.param(values(20, 25), (True, day(56), None), id="D5-20pct-and-5mm-is-LF"),
    pytest.param(values(20, 24), (False, day(56), LAST), id="D5-20pct-but-4mm-not-LF"),
    pytest.param(values(40, 45), (False, day(56), LAST), id="D5-5mm-but-12.5pct-not-LF"),
    pytest.param(values(25, 30), (True, day(56), None), id="D5-exactly-1.20x-and-5mm-inclusive"),
    pytest.param(values(30, 35, 37), (True, day(112), None), id="R2.1-nadir-includes-pre-SABR-baseline"),
    pytest.param(values(30, 15, 20), (True, day(112), None), id="R2.1-post-SABR-minimum-is-nadir"),
    pytest.param(values(30, 15, 19), (False, day(112), LAST), id="R2.1-nadir-15-to-19-only-4mm"),
    pytest.param(values(30, 40, 30, 50), (True, day(56), None), id="D5-dated-to-first-scan-showing-LF"),
    pytest.param(
        lc(node("L1", 20, irradiated=True), tp(56, measured("L1", 25))),
        (True, day(56), None),
        id="D5-node-short-axis",
    ),
    pytest.param(
        lc(lung(30), tp(56, measured("L1", 28, infield_progression=True))),
        (True, day(56), None),
        id="D5-investigator-in-field-progression",
    ),
    pytest.param(
        lc(lung(30), tp(56, not_evaluable("L1", infield_progression=True))),
        (True, day(56), None),
        id="D5-in-field-progression-on-unmeasurable-scan",
    ),
    pytest.param(
        lc(lung(20), tp(56, measured("L1", 30, scan_date=day(59)), last=59)),
        (True, day(59), None),
        id="R2.1-LF-dated-to-the-lesion-scan",
    ),
    pytest.param(
        lc(
            nontarget("L1", Organ.BONE, irradiated=True, value="20"),
            tp(56, state("L1", NonTargetState.PRESENT, value_mm=mm(25))),
        ),
        (True, day(56), None),
        id="R2.1-irradiated-non-target-measured-growth",
    ),
    pytest.param(
        lc(lung(30), tp(56, measured("L1", 40)), tp(112, measured("L1", 44)), first=day(60)),
        (False, day(112), LAST),
        id="R2.1-pre-SABR-baseline-is-latest-pre-SABR-scan",
    ),
    pytest.param(
        lc(lung(30), tp(56, measured("L1", 40)), tp(112, measured("L1", 48)), first=day(60)),
        (True, day(112), None),
        id="R2.1-LF-against-latest-pre-SABR-value",
    ),
    pytest.param(
        lc(lung(30), tp(56, measured("L1", 40)), first=day(60)),
        (False, day(60), LcCensorReason.NO_EVALUATING_SCAN),
        id="R2.1-growth-before-first-fraction-is-not-LF",
    ),
    pytest.param(
        lc(lung(20), tp(56, measured("L1", 22)), tp(112, not_evaluable("L1"))),
        (False, day(56), LAST),
        id="R2.3-censored-at-last-evaluating-scan",
    ),
    pytest.param(
        lc(lung(20), tp(56, measured("L1", 22)), not_done(112)),
        (False, day(56), LAST),
        id="R2.3-no-imaging-does-not-evaluate",
    ),
    pytest.param(
        lc(
            lung(20),
            tp(56, measured("L1", 22)),
            tp(112, measured("L1", 40)),
            interventions=(LesionIntervention("L1", InterventionKind.REIRRADIATION, day(100)),),
        ),
        (False, day(100), LcCensorReason.REIRRADIATION),
        id="R2.3-censored-at-reirradiation-for-other-reason",
    ),
    pytest.param(
        lc(
            lung(20),
            tp(56, measured("L1", 22)),
            tp(112, measured("L1", 40)),
            interventions=(LesionIntervention("L1", InterventionKind.RESECTION, day(90)),),
        ),
        (False, day(90), LcCensorReason.RESECTION),
        id="R2.3-censored-at-resection-for-other-reason",
    ),
    pytest.param(
        lc(
            lung(20),
            tp(56, measured("L1", 30)),
            interventions=(LesionIntervention("L1", InterventionKind.REIRRADIATION, day(70), True),),
        ),
        (True, day(56), None),
        id="R2.3-LF-then-reirradiation-for-LF-is-event",
    ),
    pytest.param(
        lc(
            lung(20),
            tp(56, measured("L1", 30)),
            interventions=(LesionIntervention("L2", InterventionKind.RESECTION, day(30)),),
        ),
        (True, day(56), None),
        id="R2.3-other-lesions-intervention-ignored",
    ),
    pytest.param(lc(lung(20)), (False, FIRST_FRACTION, LcCensorReason.NO_EVALUATING_SCAN), id="R2.3-no-scan"),
    pytest.param(
        lc(target("L1", 20, irradiated=True), tp(56, measured("L1", 21)), tp(112, merged("L1", "L2"))),
        (False, day(56), LAST),
        id="R1.11-merged-lesion-censored-at-last-own-measure",
    ),
    pytest.param(
        lc(lung(20), tp(56, measured("L1", 24)), settings=RecistSettings(lf_min_increase_mm=mm(4))),
        (True, day(56), None),
        id="D5-LF-thresholds-are-settings",
    ),
]


@pytest.mark.parametrize(("result", "expected"), OUTCOMES)
def test_local_control(
    result: LocalControlResult, expected: tuple[bool, date, LcCensorReason | None]
) -> None:
    assert outcome(result) == expected


NADIRS = [
    pytest.param(values(30, 15, 20), mm(15), id="R2.1-lesion-nadir-reported"),
    pytest.param(values(30, 35, 37), mm(30), id="R2.1-baseline-as-nadir-reported"),
]


@pytest.mark.parametrize(("result", "expected"), NADIRS)
def test_lesion_nadir(result: LocalControlResult, expected: Decimal) -> None:
    assert result.nadir_mm == expected


def test_lf_rule_text() -> None:
    assert values(30, 15, 20).rule == (
        "LF at 2026-04-27 (first scan showing it): 20.0 mm >= 1.20 x lesion nadir 15.0 mm and +5.0 mm >= 5 mm "
        "(D5, R2.1)"
    )


def test_lf_confirmation_method_recorded() -> None:
    result = lc(
        lung(20),
        tp(56, measured("L1", 30, lf_confirmation=LfConfirmation.NOT_YET)),
        tp(112, measured("L1", 33, lf_confirmation=LfConfirmation.CONSECUTIVE_GROWTH)),
    )
    assert (result.date, result.confirmation) == (day(56), LfConfirmation.CONSECUTIVE_GROWTH)


def test_per_scan_flags() -> None:
    assert [s.local_failure for s in values(20, 22, 30, 20).steps] == [False, True, False]


# R2.3: L1 (irradiated lung) and L2 (liver) are targets; a new lesion at day 56 is distant PD for the patient.
DISTANT = [
    tp(56, measured("L1", 20), measured("L2", 30), new=(new_lesion("N1", day(56)),)),
    tp(112, measured("L1", 30), measured("L2", 30), new=(new_lesion("N1", day(56)),)),
]


def test_local_control_continues_after_distant_pd() -> None:
    results = local_control(
        [target("L1", 20, Organ.LUNG, irradiated=True), target("L2", 30)],
        DISTANT,
        first_fraction_dates={"L1": FIRST_FRACTION},
    )
    assert [(r.lesion_code, r.event, r.date) for r in results] == [("L1", True, day(112))]


def test_local_control_needs_first_fraction() -> None:
    with pytest.raises(RecistError):
        local_control([lung(20)], [tp(56, measured("L1", 20))], first_fraction_dates={})


def test_local_control_is_for_irradiated_lesions() -> None:
    with pytest.raises(RecistError):
        lc(target("L1", 20), tp(56, measured("L1", 20)))


def test_reirradiation_for_lf_needs_a_scan_showing_lf() -> None:
    with pytest.raises(RecistError):
        lc(
            lung(20),
            tp(56, measured("L1", 21)),
            interventions=(LesionIntervention("L1", InterventionKind.REIRRADIATION, day(70), True),),
        )


def test_missing_lesion_row_refused() -> None:
    with pytest.raises(RecistError):
        lc(lung(20), tp(56))
