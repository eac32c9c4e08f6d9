"""D12: which scans evaluate an irradiated lesion, and UNEQUIVOCAL PROGRESSION without the in-field flag.

DOMAIN.md D12: "censored at the last scan that evaluated it (a scan where its diameter was recorded or the in-field
progression flag was set; a status without a diameter does not evaluate it for local control) ... Local failure is
decided by D5 alone (size rule or infield_progression = Y): a non-target state UNEQUIVOCAL PROGRESSION on an
irradiated lesion without the flag is RECIST non-target PD, not local failure, and raises a query asking the
investigator whether to set the flag."
"""

from __future__ import annotations

from datetime import date

import pytest

from assessments.recist import (
    LcCensorReason,
    LesionResult,
    NonTargetState,
    Organ,
    ResultStatus,
    lesion_local_control,
)
from tests.domain.test_recist_builders import day, mm, nontarget, not_evaluable, state, target, tp

FIRST = day(10)
BONE = nontarget("L1", Organ.BONE, irradiated=True, value="20")
LUNG = target("L1", 20, Organ.LUNG, irradiated=True)
PRESENT, ABSENT = NonTargetState.PRESENT, NonTargetState.ABSENT
UP = NonTargetState.UNEQUIVOCAL_PROGRESSION
LAST, NONE = LcCensorReason.LAST_EVALUATING_SCAN, LcCensorReason.NO_EVALUATING_SCAN


def nt(value: NonTargetState, size: str | None = None, **kwargs: object) -> LesionResult:
    return state("L1", value, value_mm=mm(size) if size is not None else None, **kwargs)


def nt_status(value: NonTargetState, status: ResultStatus) -> LesionResult:
    return LesionResult("L1", status, nontarget_state=value)


# (lesion, results at days 56, 112, ...) -> (event, date, censor reason)
CASES = [
    pytest.param(
        BONE,
        [nt(PRESENT, "20"), nt(PRESENT)],
        (False, day(56), LAST),
        id="D12-status-without-diameter-does-not-evaluate",
    ),
    pytest.param(
        BONE,
        [nt(PRESENT), nt(ABSENT)],
        (False, FIRST, NONE),
        id="D12-only-statuses-no-evaluating-scan-censored-at-first-fraction",
    ),
    pytest.param(
        BONE,
        [nt(PRESENT, "20"), nt(UP)],
        (False, day(56), LAST),
        id="D12-unequivocal-progression-without-flag-is-not-LF",
    ),
    pytest.param(
        BONE,
        [nt(PRESENT, "20"), nt(UP, infield_progression=True)],
        (True, day(112), None),
        id="D12-unequivocal-progression-with-flag-is-LF",
    ),
    pytest.param(
        BONE,
        [nt(PRESENT, "20"), nt(PRESENT, "25")],
        (True, day(112), None),
        id="D12-non-target-size-rule-is-LF",
    ),
    pytest.param(
        BONE,
        [nt(PRESENT, "20"), nt(PRESENT, infield_progression=True)],
        (True, day(112), None),
        id="D12-flag-without-diameter-is-LF",
    ),
    pytest.param(
        BONE,
        [nt_status(ABSENT, ResultStatus.DISAPPEARED), nt(PRESENT, "5")],
        (True, day(112), None),
        id="D12-disappeared-is-0mm-then-5mm-is-LF",
    ),
    pytest.param(
        BONE,
        [nt_status(PRESENT, ResultStatus.TOO_SMALL), nt(PRESENT)],
        (False, day(56), LAST),
        id="D12-too-small-to-measure-evaluates-at-5mm",
    ),
    pytest.param(
        LUNG,
        [not_evaluable("L1"), not_evaluable("L1", infield_progression=True)],
        (True, day(112), None),
        id="D12-target-flag-on-unmeasured-scan-is-LF",
    ),
    pytest.param(
        LUNG, [not_evaluable("L1")], (False, FIRST, NONE), id="D12-target-not-evaluable-does-not-evaluate"
    ),
]


def run(lesion: object, results: list[LesionResult]) -> tuple[bool, date, LcCensorReason | None]:
    timepoints = [tp(56 * (i + 1), r) for i, r in enumerate(results)]
    got = lesion_local_control(lesion, timepoints, first_fraction_date=FIRST)  # type: ignore[arg-type]
    return got.event, got.date, got.censor_reason


@pytest.mark.parametrize(("lesion", "results", "expected"), CASES)
def test_d12_local_control(
    lesion: object, results: list[LesionResult], expected: tuple[bool, date, LcCensorReason | None]
) -> None:
    assert run(lesion, results) == expected


QUERIES = [
    pytest.param([nt(PRESENT, "20"), nt(UP)], [False, True], id="D12-query-on-unflagged-progression"),
    pytest.param(
        [nt(PRESENT, "20"), nt(UP, infield_progression=True)], [False, False], id="D12-no-query-when-flag-set"
    ),
    pytest.param([nt(PRESENT, "20"), nt(UP, "30")], [False, False], id="D12-no-query-when-size-rule-is-LF"),
]


@pytest.mark.parametrize(("results", "expected"), QUERIES)
def test_d12_flag_query(results: list[LesionResult], expected: list[bool]) -> None:
    timepoints = [tp(56 * (i + 1), r) for i, r in enumerate(results)]
    got = lesion_local_control(BONE, timepoints, first_fraction_date=FIRST)
    assert [step.flag_query for step in got.steps] == expected


def test_d12_query_rule_text() -> None:
    got = lesion_local_control(BONE, [tp(56, nt(PRESENT, "20")), tp(112, nt(UP))], first_fraction_date=FIRST)
    assert got.steps[1].rule == (
        "no LF: UNEQUIVOCAL PROGRESSION without the in-field progression flag is RECIST non-target PD, "
        "not local failure; query: should in-field progression be set? (D12)"
    )
