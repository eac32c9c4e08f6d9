"""Best overall response, unconfirmed and confirmed (R1.23-R1.26, Table 3), and its public interface."""

from __future__ import annotations

import inspect
from datetime import date

import pytest

from assessments.recist import (
    RESPONSE_ORDER,
    BestOverallResponse,
    RecistError,
    Response,
    TimePointResponse,
    best_overall_response,
    evaluate_series,
)
from tests.domain.test_recist_builders import START, day, measured, target, tp

CR, PR, SD, NN, PD, NE = (
    Response.CR,
    Response.PR,
    Response.SD,
    Response.NON_CR_NON_PD,
    Response.PD,
    Response.NE,
)


def series(*points: tuple[int, Response]) -> list[TimePointResponse]:
    return [TimePointResponse(day(n), response) for n, response in points]


def bor(points: list[TimePointResponse], *, confirm: bool, **kwargs: object) -> BestOverallResponse:
    return best_overall_response(points, treatment_start=START, confirm=confirm, **kwargs)  # type: ignore[arg-type]


# (time points as (day, response), expected BOR, expected date as day or None)
UNCONFIRMED = [
    pytest.param(series((56, PR), (112, CR)), CR, 112, id="R1.23-CR-beats-PR"),
    pytest.param(series((56, SD), (112, PR), (168, PD)), PR, 112, id="R1.23-PR-before-PD"),
    pytest.param(series((56, PR), (112, PR)), PR, 56, id="R1.23-date-is-first-time-met"),
    pytest.param(series((56, SD), (112, PD)), SD, 56, id="R1.25-SD-at-56d-counts"),
    pytest.param(series((42, SD)), SD, 42, id="R1.25-SD-at-exactly-42d-counts"),
    pytest.param(series((41, SD)), NE, 41, id="R1.25-SD-at-41d-alone-is-NE"),
    pytest.param(series((30, SD), (84, PD)), PD, 84, id="R1.25-early-SD-then-PD-is-PD"),
    pytest.param(series((30, SD), (84, NE)), NE, 30, id="R1.25-early-SD-then-NE-is-NE"),
    pytest.param(series((30, SD), (84, NE), (140, PD)), PD, 140, id="R1.25-early-SD-NE-then-PD-is-PD"),
    pytest.param(series((30, SD), (84, SD)), SD, 84, id="R1.25-SD-met-at-second-assessment"),
    pytest.param(series((30, NN), (60, PD)), PD, 60, id="R1.25-early-NONCR-NONPD-then-PD"),
    pytest.param(series((56, NN), (112, PD)), NN, 56, id="R1.23-NONCR-NONPD-below-SD-above-PD"),
    pytest.param(series((30, PD)), PD, 30, id="R1.23-early-PD"),
    pytest.param(series((56, PD), (112, CR)), PD, 56, id="R1.23-nothing-after-first-PD"),
    pytest.param(series((56, NE), (112, NE)), NE, 56, id="R1.23-all-NE"),
    pytest.param(series((56, NE), (112, PD)), PD, 112, id="R1.23-PD-beats-NE"),
    pytest.param(series((0, PR), (56, SD)), SD, 56, id="R1.23-time-point-on-treatment-start-is-baseline"),
    pytest.param(series((-7, CR)), None, None, id="R5.8-only-pre-treatment-no-assessment"),
    pytest.param([], None, None, id="R5.8-no-post-baseline-assessment"),
    pytest.param(series((56, CR)), CR, 56, id="R1.23-single-CR-unconfirmed"),
    pytest.param(series((112, SD), (56, PR)), PR, 56, id="R1.23-time-points-sorted-by-date"),
]


@pytest.mark.parametrize(("points", "expected", "when"), UNCONFIRMED)
def test_unconfirmed_bor(
    points: list[TimePointResponse], expected: Response | None, when: int | None
) -> None:
    result = bor(points, confirm=False)
    assert (result.response, result.date) == (expected, day(when) if when is not None else None)


STOP = [
    pytest.param(series((56, SD), (112, PR)), 100, SD, id="R1.23-next-therapy-excludes-later-PR"),
    pytest.param(series((56, SD), (100, PR)), 100, SD, id="R1.23-next-therapy-day-is-exclusive"),
    pytest.param(series((56, SD), (100, PR)), 101, PR, id="R1.23-response-before-next-therapy"),
    pytest.param(series((56, PR)), 40, None, id="R1.23-no-assessment-before-next-therapy"),
]


@pytest.mark.parametrize(("points", "stop", "expected"), STOP)
def test_stop_date(points: list[TimePointResponse], stop: int, expected: Response | None) -> None:
    assert bor(points, confirm=False, stop_date=day(stop)).response is expected


# Table 3 (R1.26). "met": first at day 56, next at day 112 (SD duration met at the first assessment);
# "not met": first at day 30, next at day 40 or 60 (both before 42 days).
TABLE_3 = [
    pytest.param(series((56, CR), (112, CR)), CR, id="Table3-CR-CR-is-CR"),
    pytest.param(series((56, CR), (112, PR)), SD, id="Table3-CR-PR-is-SD-when-met"),
    pytest.param(series((30, CR), (60, PR)), PD, id="Table3-CR-PR-is-PD-when-not-met"),
    pytest.param(series((56, CR), (112, SD)), SD, id="Table3-CR-SD-is-SD-when-met"),
    pytest.param(series((30, CR), (40, SD)), PD, id="Table3-CR-SD-is-PD-when-not-met"),
    pytest.param(series((56, CR), (112, PD)), SD, id="Table3-CR-PD-is-SD-when-met"),
    pytest.param(series((30, CR), (60, PD)), PD, id="Table3-CR-PD-is-PD-when-not-met"),
    pytest.param(series((56, CR), (112, NE)), SD, id="Table3-CR-NE-is-SD-when-met"),
    pytest.param(series((30, CR), (60, NE)), NE, id="Table3-CR-NE-is-NE-when-not-met"),
    pytest.param(series((56, PR), (112, CR)), PR, id="Table3-PR-CR-is-PR"),
    pytest.param(series((56, PR), (112, PR)), PR, id="Table3-PR-PR-is-PR"),
    pytest.param(series((56, PR), (112, SD)), SD, id="Table3-PR-SD-is-SD"),
    pytest.param(series((56, PR), (112, PD)), SD, id="Table3-PR-PD-is-SD-when-met"),
    pytest.param(series((30, PR), (60, PD)), PD, id="Table3-PR-PD-is-PD-when-not-met"),
    pytest.param(series((56, PR), (112, NE)), SD, id="Table3-PR-NE-is-SD-when-met"),
    pytest.param(series((30, PR), (60, NE)), NE, id="Table3-PR-NE-is-NE-when-not-met"),
    pytest.param(series((56, NE), (112, NE)), NE, id="Table3-NE-NE-is-NE"),
]


@pytest.mark.parametrize(("points", "expected"), TABLE_3)
def test_table_3(points: list[TimePointResponse], expected: Response) -> None:
    assert bor(points, confirm=True).response is expected


CONFIRMED = [
    pytest.param(series((56, PR), (84, PR)), PR, 56, id="R1.24-PR-confirmed-at-exactly-28d"),
    pytest.param(series((56, PR), (83, PR)), SD, 56, id="R1.24-PR-27d-apart-not-confirmed"),
    pytest.param(series((56, CR), (84, CR)), CR, 56, id="R1.24-CR-confirmed-at-exactly-28d"),
    pytest.param(series((56, CR), (83, CR)), SD, 56, id="R1.24-CR-27d-apart-not-confirmed"),
    pytest.param(series((56, PR), (70, PR), (112, PR)), PR, 56, id="R1.24-confirmed-by-a-later-assessment"),
    pytest.param(series((56, PR), (84, NE), (112, PR)), PR, 56, id="R1.24-one-intervening-NE-tolerated"),
    pytest.param(series((56, CR), (84, NE), (112, CR)), CR, 56, id="R1.24-CR-NE-CR-is-CR"),
    pytest.param(
        series((56, PR), (84, NE), (112, NE), (140, PR)), SD, 56, id="R1.24-two-intervening-NE-not-tolerated"
    ),
    pytest.param(
        series((56, PR), (84, SD), (112, PR)), SD, 56, id="R1.26-intervening-SD-breaks-confirmation"
    ),
    pytest.param(
        series((56, PR), (84, SD), (112, PR), (168, PR)), PR, 112, id="R1.26-later-PR-pair-confirms"
    ),
    pytest.param(series((56, PR), (70, CR)), SD, 56, id="R1.24-PR-then-CR-14d-later-not-confirmed"),
    pytest.param(series((56, PR), (70, CR), (98, CR)), CR, 70, id="R1.24-CR-pair-after-PR"),
    pytest.param(series((56, PR), (84, CR), (112, PR)), PR, 56, id="R1.26-PR-confirmed-before-PR-after-CR"),
    pytest.param(series((56, CR), (84, CR), (112, PR)), CR, 56, id="R1.26-confirmed-CR-stands"),
    pytest.param(series((56, SD), (112, PD)), SD, 56, id="R1.25-SD-met"),
    pytest.param(series((30, SD), (60, PD)), PD, 60, id="R1.25-SD-not-met-then-PD"),
    pytest.param(series((30, PR), (40, SD)), NE, 30, id="R1.25-PR-SD-both-early-no-PD-is-NE"),
    pytest.param(series((56, PD), (112, PR), (168, PR)), PD, 56, id="R1.23-confirmed-stops-at-PD"),
]


@pytest.mark.parametrize(("points", "expected", "when"), CONFIRMED)
def test_confirmed_bor(points: list[TimePointResponse], expected: Response, when: int) -> None:
    result = bor(points, confirm=True)
    assert (result.response, result.date) == (expected, day(when))


CONFIRM_SETTINGS = [
    pytest.param(series((56, PR), (84, PR)), {"confirm_min_days": 35}, SD, id="D3-confirm-min-days-setting"),
    pytest.param(series((35, SD)), {"sd_min_days": 35}, SD, id="D3-sd-min-days-setting"),
    pytest.param(series((35, SD)), {}, NE, id="D3-sd-min-days-default-42"),
]


@pytest.mark.parametrize(("points", "kwargs", "expected"), CONFIRM_SETTINGS)
def test_bor_settings(points: list[TimePointResponse], kwargs: dict[str, int], expected: Response) -> None:
    assert bor(points, confirm=True, **kwargs).response is expected


TABLE_2_PATIENTS = [
    pytest.param(series((56, CR), (112, NN)), None, NN, id="R1.26-table2-CR-then-NONCR-NONPD"),
    pytest.param(series((56, CR), (112, PD)), True, NN, id="R1.26-table2-unconfirmed-CR-never-SD"),
    pytest.param(series((56, CR), (112, PD)), None, SD, id="R1.26-table1-inferred-unconfirmed-CR-is-SD"),
    pytest.param(series((56, NN), (112, NN)), None, NN, id="R1.26-table2-NONCR-NONPD"),
    pytest.param(series((56, CR), (84, CR)), True, CR, id="R1.26-table2-confirmed-CR"),
]


@pytest.mark.parametrize(("points", "nontarget_only", "expected"), TABLE_2_PATIENTS)
def test_table_2_patients(
    points: list[TimePointResponse], nontarget_only: bool | None, expected: Response
) -> None:
    assert bor(points, confirm=True, nontarget_only=nontarget_only).response is expected


RULES = [
    pytest.param(
        series((56, PR), (84, PR)),
        True,
        "PR confirmed by PR at 2026-03-30 (28 d >= 28 d after 2026-03-02, R1.24)",
        id="R1.24-rule-PR-confirmed",
    ),
    pytest.param(
        series((56, CR), (112, PR)),
        True,
        "SD: CR at 2026-03-02 not confirmed (R1.24); PR at 2026-04-27 after CR at 2026-03-02 counts as PD (R1.26); "
        "SD met at 2026-03-02, 56 d >= 42 d after start (R1.25, R1.26)",
        id="R1.26-rule-CR-then-PR",
    ),
    pytest.param(
        series((30, SD), (84, PD)),
        False,
        "PD at 2026-03-30; SD at 2026-02-04 was 30 d < 42 d after start (R1.25)",
        id="R1.25-rule-early-SD",
    ),
    pytest.param(
        [],
        True,
        "no post-baseline assessment (R5.8)",
        id="R5.8-rule-no-assessment",
    ),
]


@pytest.mark.parametrize(("points", "confirm", "expected"), RULES)
def test_bor_rule(points: list[TimePointResponse], confirm: bool, expected: str) -> None:
    assert bor(points, confirm=confirm).rule == expected


BOR_ERRORS = [
    pytest.param(series((56, PR), (112, NN)), None, id="R1.26-mixed-table-1-and-table-2-labels"),
    pytest.param(series((56, PR)), True, id="R1.26-nontarget-only-with-PR"),
    pytest.param(series((56, NN)), False, id="R1.26-targets-with-NONCR-NONPD"),
    pytest.param(series((56, PR), (56, SD)), None, id="R1.23-two-time-points-same-day"),
]


@pytest.mark.parametrize(("points", "nontarget_only"), BOR_ERRORS)
def test_bor_refuses(points: list[TimePointResponse], nontarget_only: bool | None) -> None:
    with pytest.raises(RecistError):
        bor(points, confirm=True, nontarget_only=nontarget_only)


ORDER = [
    pytest.param(CR, 1, id="ADRS-AVAL-CR-1"),
    pytest.param(PR, 2, id="ADRS-AVAL-PR-2"),
    pytest.param(SD, 3, id="ADRS-AVAL-SD-3"),
    pytest.param(NN, 4, id="ADRS-AVAL-NONCR-NONPD-4"),
    pytest.param(PD, 5, id="ADRS-AVAL-PD-5"),
    pytest.param(NE, 6, id="ADRS-AVAL-NE-6"),
    pytest.param(None, 7, id="ADRS-AVAL-no-assessment-7"),
]


@pytest.mark.parametrize(("response", "aval"), ORDER)
def test_response_order(response: Response | None, aval: int) -> None:
    assert RESPONSE_ORDER[response] == aval


def test_response_values_are_cdisc() -> None:
    assert [r.value for r in Response] == ["CR", "PR", "SD", "NON-CR/NON-PD", "PD", "NE"]


def test_interface_for_endpoints_derivation() -> None:
    """endpoints/derivation.py calls this signature; the trailing nontarget_only is optional."""
    params = inspect.signature(best_overall_response).parameters
    described = [(name, p.kind.name, p.default) for name, p in params.items()]
    empty = inspect.Parameter.empty
    assert described == [
        ("timepoints", "POSITIONAL_OR_KEYWORD", empty),
        ("treatment_start", "KEYWORD_ONLY", empty),
        ("confirm", "KEYWORD_ONLY", empty),
        ("sd_min_days", "KEYWORD_ONLY", 42),
        ("confirm_min_days", "KEYWORD_ONLY", 28),
        ("stop_date", "KEYWORD_ONLY", None),
        ("nontarget_only", "KEYWORD_ONLY", None),
    ]


def test_dataclass_fields_for_endpoints_derivation() -> None:
    made = (TimePointResponse(date(2026, 3, 1), PR), BestOverallResponse(None, None, "x"))
    assert [list(vars(m)) for m in made] == [["assessment_date", "response"], ["response", "date", "rule"]]


def test_series_feeds_confirmed_bor() -> None:
    """R1.16 worked example end to end: baseline 165, 63 at week 8, 65 at week 16 = confirmed PR."""
    result = evaluate_series([target("L1", 165)], [tp(56, measured("L1", 63)), tp(112, measured("L1", 65))])
    assert bor(list(result.responses()), confirm=True).response is PR
