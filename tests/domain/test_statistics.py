"""Survival and response statistics (DOMAIN.md R2.4, R5.7-R5.13): the worked examples reproduced exactly."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import numpy as np
import pytest
from lifelines import AalenJohansenFitter  # type: ignore[import-untyped]

from endpoints.derivation import Cnsr, Endpoint, SourceRef, TimeToEvent
from endpoints.statistics import (
    NOT_REACHED,
    StatisticsError,
    aalen_johansen,
    at_risk_times,
    clopper_pearson,
    competing_risk_inputs,
    kaplan_meier,
    local_control,
    one_minus_kaplan_meier,
    response_summary,
    survival_inputs,
)

# R5.12 worked example (months; event 0 = censored): 2, 3, 3*, 5, 6*, 8, 9, 12*, 14, 20*.
R5_12_TIMES = [2, 3, 3, 5, 6, 8, 9, 12, 14, 20]
R5_12_EVENTS = [1, 1, 0, 1, 0, 1, 1, 0, 1, 0]
R5_12 = kaplan_meier(R5_12_TIMES, R5_12_EVENTS)

# A competing-risk data set: 1 = local failure, 2 = death without LF, 0 = censored.
CR_TIMES = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
CR_CODES = [1, 2, 0, 1, 2, 2, 0, 1, 0, 2, 1, 0]


# --------------------------------------------------------------------------------------------------------------
# R5.9 Clopper-Pearson
# --------------------------------------------------------------------------------------------------------------

R5_9 = [
    pytest.param(5, 20, (8.66, 49.10), id="5/20"),
    pytest.param(0, 10, (0.00, 30.85), id="0/10"),
    pytest.param(10, 10, (69.15, 100.00), id="10/10"),
    pytest.param(12, 30, (22.66, 59.40), id="12/30"),
    pytest.param(18, 30, (40.60, 77.34), id="18/30"),
]


@pytest.mark.parametrize(("x", "n", "expected"), R5_9)
def test_clopper_pearson_worked_values(x: int, n: int, expected: tuple[float, float]) -> None:
    result = clopper_pearson(x, n)
    assert (round(result.lower * 100, 2), round(result.upper * 100, 2)) == expected  # type: ignore[operator]


EXACT_LIMITS = [
    pytest.param(0, 10, "lower", 0.0, id="x=0-lower-is-0"),
    pytest.param(10, 10, "upper", 1.0, id="x=n-upper-is-1"),
    pytest.param(0, 0, "estimate", None, id="n=0-no-estimate"),
    pytest.param(0, 0, "lower", None, id="n=0-no-lower"),
]


@pytest.mark.parametrize(("x", "n", "attr", "expected"), EXACT_LIMITS)
def test_clopper_pearson_limits(x: int, n: int, attr: str, expected: float | None) -> None:
    assert getattr(clopper_pearson(x, n), attr) == expected


INVALID_PROPORTIONS = [
    pytest.param(3, 2, id="x>n"),
    pytest.param(-1, 2, id="negative-x"),
    pytest.param(0, -1, id="negative-n"),
]


@pytest.mark.parametrize(("x", "n"), INVALID_PROPORTIONS)
def test_clopper_pearson_refuses_invalid(x: int, n: int) -> None:
    with pytest.raises(StatisticsError):
        clopper_pearson(x, n)


# --------------------------------------------------------------------------------------------------------------
# R5.7, R5.8: ORR and DCR
# --------------------------------------------------------------------------------------------------------------

BORS = ["CR", "PR", "PR", "SD", "NON-CR/NON-PD", "PD", "NE", None]

RESPONSE_CASES = [
    pytest.param({}, "orr", (3, 8), id="R5.7-orr-cr-pr-over-all-incl-no-assessment"),
    pytest.param({}, "dcr", (4, 8), id="R5.7-dcr-cr-pr-sd"),
    pytest.param(
        {"include_non_cr_non_pd_in_dcr": True}, "dcr", (5, 8), id="R5.7-dcr-with-non-cr-non-pd-per-sap"
    ),
]


@pytest.mark.parametrize(("options", "attr", "expected"), RESPONSE_CASES)
def test_response_rates(options: dict[str, Any], attr: str, expected: tuple[int, int]) -> None:
    proportion = getattr(response_summary(BORS, **options), attr)
    assert (proportion.x, proportion.n) == expected


COUNT_CASES = [
    pytest.param("PR", 2, id="pr"),
    pytest.param("NON-CR/NON-PD", 1, id="non-cr-non-pd-apart"),
    pytest.param("NO ASSESSMENT", 1, id="R5.8-no-assessment-kept"),
]


@pytest.mark.parametrize(("category", "expected"), COUNT_CASES)
def test_response_counts(category: str, expected: int) -> None:
    assert dict(response_summary(BORS).counts)[category] == expected


def test_response_summary_empty() -> None:
    assert response_summary([]).orr.estimate is None


# --------------------------------------------------------------------------------------------------------------
# R5.10-R5.12: Kaplan-Meier worked example
# --------------------------------------------------------------------------------------------------------------

R5_12_SURVIVAL = [
    pytest.param(2, 0.9000, id="S(2)"),
    pytest.param(3, 0.8000, id="S(3)"),
    pytest.param(5, 0.6857, id="S(5)"),
    pytest.param(8, 0.5486, id="S(8)"),
    pytest.param(9, 0.4114, id="S(9)"),
    pytest.param(14, 0.2057, id="S(14)"),
]


@pytest.mark.parametrize(("time", "expected"), R5_12_SURVIVAL)
def test_km_worked_example_survival(time: float, expected: float) -> None:
    assert round(R5_12.curve.value_at(time), 4) == expected  # type: ignore[arg-type]


R5_12_SUMMARY = [
    pytest.param(lambda: R5_12.median.estimate, 9.0, id="R5.11-median-9"),
    pytest.param(lambda: R5_12.median.lower, 2.0, id="R5.11-median-lower-2"),
    pytest.param(lambda: R5_12.median.upper, None, id="R5.11-median-upper-NR"),
    pytest.param(lambda: R5_12.median.format(0), "9 (2–NR)", id="R5.11-median-text"),
    pytest.param(lambda: round(R5_12.landmarks[0].estimate * 100, 1), 41.1, id="R5.12-12-month-rate"),
    pytest.param(lambda: round(R5_12.landmarks[0].lower * 100, 1), 10.3, id="R5.12-12-month-lower"),
    pytest.param(lambda: round(R5_12.landmarks[0].upper * 100, 1), 70.7, id="R5.12-12-month-upper"),
    pytest.param(lambda: R5_12.landmarks[0].n_at_risk, 3, id="R5.12-12-month-at-risk"),
    pytest.param(lambda: R5_12.landmarks[1].estimate, None, id="R5.12-24-month-beyond-follow-up"),
    pytest.param(lambda: (R5_12.events, R5_12.censored), (6, 4), id="events-and-censored"),
    pytest.param(lambda: R5_12.curve.censor_times, (3.0, 6.0, 12.0, 20.0), id="censor-marks"),
    pytest.param(lambda: R5_12.to_dict()["median"]["upper"], NOT_REACHED, id="json-NR"),
]


@pytest.mark.parametrize(("value", "expected"), R5_12_SUMMARY)
def test_km_worked_example_summary(value: Any, expected: object) -> None:
    assert value() == expected


def test_km_band_contains_estimate() -> None:
    curve = R5_12.curve
    assert all(
        low <= est <= high
        for low, est, high in zip(curve.lower, curve.estimate, curve.upper, strict=True)
        if low is not None and high is not None
    )


AT_RISK_CASES = [
    pytest.param(0.0, 10, id="t0"),
    pytest.param(6.0, 6, id="t6"),
    pytest.param(12.0, 3, id="t12"),
    pytest.param(18.0, 1, id="t18"),
    pytest.param(24.0, 0, id="t24"),
]


@pytest.mark.parametrize(("time", "expected"), AT_RISK_CASES)
def test_number_at_risk_table(time: float, expected: int) -> None:
    assert {row.time: row.n_at_risk for row in R5_12.at_risk}[time] == expected


def test_at_risk_times_default_grid() -> None:
    assert at_risk_times([20.0]) == (0.0, 6.0, 12.0, 18.0, 24.0)


EDGE_CASES = [
    pytest.param(lambda: kaplan_meier([], []).median.estimate, None, id="empty-median"),
    pytest.param(lambda: kaplan_meier([], []).landmarks[0].estimate, None, id="empty-landmark"),
    pytest.param(lambda: kaplan_meier([], []).n, 0, id="empty-n"),
    pytest.param(
        lambda: kaplan_meier([3, 13, 25], [0, 0, 0]).median.format(), "NR (NR–NR)", id="all-censored-median"
    ),
    pytest.param(
        lambda: kaplan_meier([3, 13, 25], [0, 0, 0]).landmarks[0].estimate, 1.0, id="all-censored-landmark"
    ),
    pytest.param(lambda: kaplan_meier([1, 2, 3], [1, 1, 1]).median.estimate, 2.0, id="all-events-median"),
    pytest.param(lambda: aalen_johansen([], []).n, 0, id="empty-cif"),
    pytest.param(lambda: one_minus_kaplan_meier([], []).landmarks[0].estimate, None, id="empty-1-km"),
    pytest.param(
        lambda: aalen_johansen([1, 2, 13], [0, 2, 0]).landmarks[0].estimate, 0.0, id="no-lf-cif-zero"
    ),
    pytest.param(lambda: local_control([]).cumulative_incidence.n, 0, id="empty-local-control"),
]


@pytest.mark.parametrize(("value", "expected"), EDGE_CASES)
def test_empty_and_degenerate_input(value: Any, expected: object) -> None:
    assert value() == expected


INVALID_INPUT = [
    pytest.param(lambda: kaplan_meier([1, 2], [1]), id="length-mismatch"),
    pytest.param(lambda: kaplan_meier([-1], [1]), id="negative-time"),
    pytest.param(lambda: aalen_johansen([1], [3]), id="unknown-event-code"),
]


@pytest.mark.parametrize("call", INVALID_INPUT)
def test_invalid_input_raises_domain_error(call: Any) -> None:
    with pytest.raises(StatisticsError):
        call()


def test_results_are_json_serialisable() -> None:
    payload = {
        "km": R5_12.to_dict(),
        "lc": local_control(_lc_rows()).to_dict(),
        "orr": response_summary(BORS).to_dict(),
    }
    assert json.loads(json.dumps(payload))["km"]["n"] == 10


# --------------------------------------------------------------------------------------------------------------
# R2.4, R5.13: cumulative incidence with death as a competing risk
# --------------------------------------------------------------------------------------------------------------

AJ = aalen_johansen(CR_TIMES, CR_CODES)
ONE_MINUS_KM = one_minus_kaplan_meier(CR_TIMES, CR_CODES)


def test_lifelines_aalen_johansen_columns_are_swapped() -> None:
    # Documents why aalen_johansen() takes min/max: lifelines' "upper" column holds the lower limit.
    fitter = AalenJohansenFitter(calculate_variance=True).fit(CR_TIMES, CR_CODES, event_of_interest=1)
    band = fitter.confidence_interval_.dropna()
    named_upper = [column for column in band.columns if "upper" in column][0]
    named_lower = [column for column in band.columns if "lower" in column][0]
    assert (band[named_upper] <= band[named_lower]).all()


def test_aalen_johansen_lower_le_estimate_le_upper() -> None:
    curve = AJ.curve
    checked = [
        low <= est <= high
        for low, est, high in zip(curve.lower, curve.estimate, curve.upper, strict=True)
        if low is not None and high is not None
    ]
    assert checked and all(checked)


def test_aalen_johansen_band_is_not_degenerate() -> None:
    assert any(
        low < high
        for low, high in zip(AJ.curve.lower, AJ.curve.upper, strict=True)
        if low is not None and high is not None
    )


def test_one_minus_km_lower_le_estimate_le_upper() -> None:
    curve = ONE_MINUS_KM.curve
    assert all(
        low <= est <= high
        for low, est, high in zip(curve.lower, curve.estimate, curve.upper, strict=True)
        if low is not None and high is not None
    )


def test_competing_risk_cif_never_exceeds_one_minus_km() -> None:
    # R2.4 / S16: 1-KM that censors deaths overstates local failure.
    assert all(
        (AJ.curve.value_at(t) or 0.0) <= (ONE_MINUS_KM.curve.value_at(t) or 0.0) + 1e-12 for t in CR_TIMES
    )


def test_competing_risk_cif_is_strictly_lower_after_a_death() -> None:
    assert AJ.curve.value_at(12.0) < ONE_MINUS_KM.curve.value_at(12.0)  # type: ignore[operator]


def test_without_competing_events_cif_equals_one_minus_km() -> None:
    codes = [1, 0, 1, 0, 1]
    times = [1, 2, 3, 4, 5]
    aj, km = aalen_johansen(times, codes), one_minus_kaplan_meier(times, codes)
    assert [round(aj.curve.value_at(t) or 0.0, 10) for t in times] == [
        round(km.curve.value_at(t) or 0.0, 10) for t in times
    ]


def test_cif_counts() -> None:
    assert (AJ.events, AJ.competing, AJ.censored) == (4, 4, 4)


def test_tied_competing_times_are_reproducible_and_keep_numpy_state() -> None:
    np.random.seed(123)
    state = np.random.get_state()[1].copy()
    first = aalen_johansen([1, 1, 2, 3], [1, 2, 1, 0]).to_dict()
    second = aalen_johansen([1, 1, 2, 3], [1, 2, 1, 0]).to_dict()
    assert first == second and (np.random.get_state()[1] == state).all()


# --------------------------------------------------------------------------------------------------------------
# Inputs from the derivation (per lesion and per patient)
# --------------------------------------------------------------------------------------------------------------


def _row(days: int, cnsr: Cnsr, param: Endpoint = Endpoint.LCLES) -> TimeToEvent:
    origin = date(2025, 1, 6)
    ref = SourceRef("Form", 1, "field")
    return TimeToEvent(
        param=param,
        origin=origin,
        origin_source=ref,
        adt=origin + timedelta(days=days),
        days=days,
        months=days / 30.4375,
        cnsr=cnsr,
        reason="",
        source=ref,
    )


def _lc_rows() -> list[TimeToEvent]:
    return [
        _row(100, Cnsr.EVENT),
        _row(200, Cnsr.COMPETING_DEATH),
        _row(300, Cnsr.NO_EVENT),
        _row(150, Cnsr.LESION_RETREATED),
        _row(400, Cnsr.EVENT),
    ]


INPUT_CASES = [
    pytest.param(lambda: competing_risk_inputs(_lc_rows())[1], [1, 2, 0, 0, 1], id="cnsr-9-is-competing"),
    pytest.param(
        lambda: survival_inputs(_lc_rows(), unit="days")[0], [100.0, 200.0, 300.0, 150.0, 400.0], id="days"
    ),
    pytest.param(lambda: survival_inputs(_lc_rows())[1], [True, False, False, False, True], id="events"),
    pytest.param(lambda: round(survival_inputs(_lc_rows())[0][0], 6), round(100 / 30.4375, 6), id="months"),
    pytest.param(
        lambda: local_control(_lc_rows()).cumulative_incidence.competing, 1, id="local-control-competing"
    ),
    pytest.param(
        lambda: local_control(_lc_rows()).one_minus_km.method, "1-km", id="local-control-sensitivity"
    ),
]


@pytest.mark.parametrize(("value", "expected"), INPUT_CASES)
def test_inputs_from_derivation(value: Any, expected: object) -> None:
    assert value() == expected


@pytest.mark.parametrize("n", [15, 300])
def test_aalen_johansen_agrees_with_lifelines_on_data_without_ties(n: int) -> None:
    """R5.13: the vectorised estimator is lifelines' (estimate and Collett band), minus the jitter of ties."""
    import numpy as np

    rng = np.random.default_rng(n)
    times = rng.uniform(0.1, 40, n).round(6)
    codes = rng.choice([0, 1, 2], n, p=[0.5, 0.3, 0.2])
    ours = aalen_johansen(list(times), list(codes), landmarks=()).curve
    fitter = AalenJohansenFitter(calculate_variance=True).fit(times, codes, event_of_interest=1)
    band = fitter.confidence_interval_
    low = np.fmin(band.iloc[:, 0], band.iloc[:, 1]).to_numpy()
    high = np.fmax(band.iloc[:, 0], band.iloc[:, 1]).to_numpy()
    assert list(ours.times) == pytest.approx(list(fitter.cumulative_density_.index))
    assert list(ours.estimate) == pytest.approx(list(fitter.cumulative_density_.iloc[:, 0]), abs=1e-9)
    for mine, theirs, estimate in ((ours.lower, low, ours.estimate), (ours.upper, high, ours.estimate)):
        expected = [
            e if np.isnan(v) and e in (0.0, 1.0) else (None if np.isnan(v) else v)
            for v, e in zip(theirs, estimate, strict=True)
        ]
        assert [None if v is None else round(v, 9) for v in mine] == [
            None if v is None else round(float(v), 9) for v in expected
        ]


def test_aalen_johansen_handles_tied_times_exactly() -> None:
    """Two local failures and a death on the same day: one step of 2/4 at that time (no random jitter)."""
    result = aalen_johansen([3, 3, 3, 5], [1, 1, 2, 0], landmarks=())
    assert result.curve.value_at(3.0) == pytest.approx(0.5) and result.curve.value_at(2.9) == 0.0


def test_cif_at_risk_events_are_failures_only_and_deaths_are_competing() -> None:
    """R2.2: the at-risk table's events of local control are local failures; competing deaths have their own count
    (issue 19: the report's "Events" row of local control counted the deaths while the cards did not)."""
    last = AJ.at_risk[-1]
    assert (last.events, last.competing, last.censored) == (AJ.events, AJ.competing, AJ.censored) == (4, 4, 4)
    assert last.to_dict()["competing"] == 4
    km_last = one_minus_kaplan_meier([1, 2, 3], [1, 0, 1]).at_risk[-1]
    assert (km_last.events, km_last.competing) == (2, 0)
