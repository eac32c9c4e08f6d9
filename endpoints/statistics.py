"""Survival and response statistics for the endpoint dashboard and report (DOMAIN.md R2.4, R5.7-R5.13).

Pure module (pandas, lifelines, scipy; no Django). Inputs are plain sequences (times in one unit, usually
months, with event indicators) or the :class:`~endpoints.derivation.TimeToEvent` rows of the derivation;
outputs are frozen dataclasses with a ``to_dict()`` that is JSON-serialisable. Empty or all-censored input
never raises: estimates that cannot be computed are ``None``, and a median or CI limit that is not reached
is ``None`` and shown as "NR".
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]
from lifelines import KaplanMeierFitter  # type: ignore[import-untyped]
from lifelines.utils import median_survival_times  # type: ignore[import-untyped]
from scipy.stats import beta, norm  # type: ignore[import-untyped]

from assessments.recist import Response
from endpoints.derivation import DEFAULT_SETTINGS as DERIVATION_SETTINGS
from endpoints.derivation import Cnsr, TimeToEvent

__all__ = [
    "DEFAULT_LANDMARKS_MONTHS",
    "NOT_REACHED",
    "NO_ASSESSMENT",
    "AtRisk",
    "CumulativeIncidenceResult",
    "KaplanMeierResult",
    "LandmarkRate",
    "LocalControlAnalysis",
    "MedianSurvival",
    "Proportion",
    "ResponseSummary",
    "StatisticsError",
    "StepCurve",
    "aalen_johansen",
    "at_risk_times",
    "clopper_pearson",
    "competing_risk_inputs",
    "kaplan_meier",
    "local_control",
    "one_minus_kaplan_meier",
    "response_summary",
    "survival_inputs",
]

# R5.12, D11: landmark rates at 12, 24 and 36 months, read at 365, 730 and 1095 days (whole days, as the D7 caps)
# and converted to months by the derivation's own conversion, so a time capped at 730 days is exactly at 24 months.
DEFAULT_LANDMARKS_MONTHS: tuple[float, ...] = tuple(
    DERIVATION_SETTINGS.months(day) for day in DERIVATION_SETTINGS.landmark_days
)
NOT_REACHED = "NR"  # R5.11
_ALPHA = 0.05
# Codes of the competing-risk input (R2.4, R5.13): 0 censored, 1 event of interest (LF), 2 competing (death).
CENSORED, EVENT, COMPETING = 0, 1, 2


class StatisticsError(ValueError):
    """Input to a statistic is malformed (length mismatch, negative time, x > n)."""


def _clean(value: Any) -> float | None:
    """Return a plain float, or None for NaN / infinity (not estimable / not reached)."""
    if value is None:
        return None
    number = float(value)
    if math.isnan(number) or math.isinf(number):
        return None
    return number


def _fmt(value: float | None, scale: float = 1.0, digits: int = 1) -> str:
    return NOT_REACHED if value is None else f"{value * scale:.{digits}f}"


# ----------------------------------------------------------------------------------------------------
# Result types
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepCurve:
    """Right-continuous step function with its pointwise band, ready to draw with ``where="post"``."""

    times: tuple[float, ...]
    estimate: tuple[float, ...]
    lower: tuple[float | None, ...]
    upper: tuple[float | None, ...]
    censor_times: tuple[float, ...]
    censor_estimate: tuple[float, ...]  # the curve's height at each censor mark

    def value_at(self, time: float) -> float | None:
        """Return the curve at ``time`` (the last step at or before it), None before the first time."""
        index = bisect.bisect_right(self.times, time)  # the times are ascending (a step function)
        return self.estimate[index - 1] if index else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "times": list(self.times),
            "estimate": list(self.estimate),
            "lower": list(self.lower),
            "upper": list(self.upper),
            "censor_times": list(self.censor_times),
            "censor_estimate": list(self.censor_estimate),
        }


@dataclass(frozen=True)
class AtRisk:
    """Number at risk (time >= t), and cumulative events, competing events and censorings before or at t.

    ``events`` counts the event of interest only (a local failure for local control, R2.2); a death before a local
    failure is a competing event, counted in ``competing`` (0 for Kaplan-Meier, which has none).
    """

    time: float
    n_at_risk: int
    events: int
    censored: int
    competing: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "time": self.time,
            "n_at_risk": self.n_at_risk,
            "events": self.events,
            "censored": self.censored,
            "competing": self.competing,
        }


@dataclass(frozen=True)
class MedianSurvival:
    """Median and Brookmeyer-Crowley CI (R5.11); None = not reached (NR)."""

    estimate: float | None
    lower: float | None
    upper: float | None

    def format(self, digits: int = 1) -> str:
        return f"{_fmt(self.estimate, digits=digits)} ({_fmt(self.lower, digits=digits)}–{_fmt(self.upper, digits=digits)})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "estimate": self.estimate if self.estimate is not None else NOT_REACHED,
            "lower": self.lower if self.lower is not None else NOT_REACHED,
            "upper": self.upper if self.upper is not None else NOT_REACHED,
        }


@dataclass(frozen=True)
class LandmarkRate:
    """Estimate at a landmark time with its pointwise CI and number at risk (R5.12); None = not estimable."""

    time: float
    estimate: float | None
    lower: float | None
    upper: float | None
    n_at_risk: int

    def format(self) -> str:
        if self.estimate is None:
            return "not estimable"
        return f"{self.estimate * 100:.1f}% ({_fmt(self.lower, 100)}–{_fmt(self.upper, 100)}%)"

    def to_dict(self) -> dict[str, Any]:
        return {
            "time": self.time,
            "estimate": self.estimate,
            "lower": self.lower,
            "upper": self.upper,
            "n_at_risk": self.n_at_risk,
        }


@dataclass(frozen=True)
class KaplanMeierResult:
    """Kaplan-Meier with exponential-Greenwood (log(-log)) pointwise bands (R5.10-R5.12)."""

    label: str
    n: int
    events: int
    censored: int
    curve: StepCurve
    median: MedianSurvival
    landmarks: tuple[LandmarkRate, ...]
    at_risk: tuple[AtRisk, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "n": self.n,
            "events": self.events,
            "censored": self.censored,
            "curve": self.curve.to_dict(),
            "median": self.median.to_dict(),
            "landmarks": [item.to_dict() for item in self.landmarks],
            "at_risk": [item.to_dict() for item in self.at_risk],
        }


@dataclass(frozen=True)
class CumulativeIncidenceResult:
    """Cumulative incidence of the event of interest: Aalen-Johansen or 1-KM (R2.4, R5.13)."""

    label: str
    method: str  # "aalen-johansen" or "1-km"
    n: int
    events: int
    competing: int
    censored: int
    curve: StepCurve
    landmarks: tuple[LandmarkRate, ...]
    at_risk: tuple[AtRisk, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "method": self.method,
            "n": self.n,
            "events": self.events,
            "competing": self.competing,
            "censored": self.censored,
            "curve": self.curve.to_dict(),
            "landmarks": [item.to_dict() for item in self.landmarks],
            "at_risk": [item.to_dict() for item in self.at_risk],
        }


@dataclass(frozen=True)
class LocalControlAnalysis:
    """Local failure: competing-risk CIF (primary) and 1-KM censoring deaths (sensitivity), R2.4."""

    cumulative_incidence: CumulativeIncidenceResult
    one_minus_km: CumulativeIncidenceResult

    def to_dict(self) -> dict[str, Any]:
        return {
            "cumulative_incidence": self.cumulative_incidence.to_dict(),
            "one_minus_km": self.one_minus_km.to_dict(),
        }


@dataclass(frozen=True)
class Proportion:
    """x / n with the exact Clopper-Pearson CI (R5.9); estimate and CI None when n = 0."""

    x: int
    n: int
    estimate: float | None
    lower: float | None
    upper: float | None

    def format(self) -> str:
        if self.estimate is None:
            return f"{self.x}/{self.n}"
        return (
            f"{self.x}/{self.n} {self.estimate * 100:.1f}% ({_fmt(self.lower, 100)}–{_fmt(self.upper, 100)}%)"
        )

    def to_dict(self) -> dict[str, Any]:
        return {"x": self.x, "n": self.n, "estimate": self.estimate, "lower": self.lower, "upper": self.upper}


@dataclass(frozen=True)
class ResponseSummary:
    """BOR counts and ORR/DCR with exact CIs (R5.7-R5.9). ``None`` BOR = no post-baseline assessment."""

    n: int
    counts: tuple[tuple[str, int], ...]  # in R1.23 order, then "NO ASSESSMENT"
    orr: Proportion
    dcr: Proportion
    non_cr_non_pd: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "counts": dict(self.counts),
            "orr": self.orr.to_dict(),
            "dcr": self.dcr.to_dict(),
            "non_cr_non_pd": self.non_cr_non_pd,
        }


# ----------------------------------------------------------------------------------------------------
# Inputs
# ----------------------------------------------------------------------------------------------------


def _validate(durations: Sequence[float], flags: Sequence[Any]) -> tuple[list[float], list[Any]]:
    times = [float(value) for value in durations]
    codes = list(flags)
    if len(times) != len(codes):
        raise StatisticsError("durations and events differ in length")
    if any(math.isnan(value) or value < 0 for value in times):
        raise StatisticsError("times must be non-negative numbers")
    return times, codes


def survival_inputs(
    results: Iterable[TimeToEvent], *, unit: str = "months"
) -> tuple[list[float], list[bool]]:
    """Return (times, event flags) from derivation rows; ``unit`` is "months" or "days" (D9)."""
    times: list[float] = []
    events: list[bool] = []
    for row in results:
        times.append(row.months if unit == "months" else float(row.days))
        events.append(row.event)
    return times, events


def competing_risk_inputs(
    results: Iterable[TimeToEvent], *, unit: str = "months", sensitivity: bool = False
) -> tuple[list[float], list[int]]:
    """Return (times, codes) with 0 censored, 1 local failure, 2 death without LF (CNSR 9, R2.4).

    ``sensitivity=True`` gives the 1-KM inputs: a competing death is timed at the lesion's last evaluating scan
    (D12, R2.3), where 1-KM censors it.
    """
    times: list[float] = []
    codes: list[int] = []
    for row in results:
        if sensitivity and row.competing and row.km_days is not None:
            times.append(row.sensitivity_months if unit == "months" else float(row.km_days))
        else:
            times.append(row.months if unit == "months" else float(row.days))
        codes.append(EVENT if row.event else COMPETING if row.cnsr is Cnsr.COMPETING_DEATH else CENSORED)
    return times, codes


def at_risk_times(durations: Sequence[float], step: float = 6.0) -> tuple[float, ...]:
    """Return 0, step, 2*step, ... up to the first multiple at or beyond the longest time."""
    if step <= 0:
        raise StatisticsError("step must be positive")
    longest = max((float(value) for value in durations), default=0.0)
    count = max(1, math.ceil(longest / step))
    return tuple(step * index for index in range(count + 1))


def _at_risk_table(times: Sequence[float], codes: Sequence[int], at: Iterable[float]) -> tuple[AtRisk, ...]:
    rows = []
    for point in at:
        rows.append(
            AtRisk(
                time=float(point),
                n_at_risk=sum(1 for value in times if value >= point),
                events=sum(
                    1 for value, code in zip(times, codes, strict=True) if value <= point and code == EVENT
                ),
                censored=sum(
                    1 for value, code in zip(times, codes, strict=True) if value <= point and code == CENSORED
                ),
                competing=sum(
                    1
                    for value, code in zip(times, codes, strict=True)
                    if value <= point and code == COMPETING
                ),
            )
        )
    return tuple(rows)


def _band_value(value: Any, estimate: float) -> float | None:
    # lifelines leaves the log(-log) band undefined where the estimate is exactly 0 or 1; the band then
    # collapses onto the estimate (as lifelines itself reports at time 0).
    cleaned = _clean(value)
    if cleaned is None and estimate in (0.0, 1.0):
        return estimate
    return cleaned


def _step_curve(
    frame: pd.DataFrame, lower: pd.Series, upper: pd.Series, times: Sequence[float], codes: Sequence[int]
) -> StepCurve:
    index = [float(value) for value in frame.index]
    estimate = [float(value) for value in frame.iloc[:, 0]]
    lows = [_band_value(value, est) for value, est in zip(lower, estimate, strict=True)]
    highs = [_band_value(value, est) for value, est in zip(upper, estimate, strict=True)]
    censor_times = sorted(value for value, code in zip(times, codes, strict=True) if code == CENSORED)
    curve = StepCurve(tuple(index), tuple(estimate), tuple(lows), tuple(highs), tuple(censor_times), ())
    heights = tuple(curve.value_at(value) or 0.0 for value in censor_times)
    return StepCurve(curve.times, curve.estimate, curve.lower, curve.upper, curve.censor_times, heights)


def _landmark(curve: StepCurve, times: Sequence[float], point: float) -> LandmarkRate:
    n_at_risk = sum(1 for value in times if value >= point)
    # R5.12: the estimate at the last step <= t; not estimable beyond the longest follow-up.
    if not times or max(times) < point:
        return LandmarkRate(point, None, None, None, n_at_risk)
    position = max(i for i, step in enumerate(curve.times) if step <= point)
    return LandmarkRate(
        time=point,
        estimate=curve.estimate[position],
        lower=curve.lower[position],
        upper=curve.upper[position],
        n_at_risk=n_at_risk,
    )


def _empty_curve() -> StepCurve:
    return StepCurve((), (), (), (), (), ())


# ----------------------------------------------------------------------------------------------------
# Kaplan-Meier (R5.10-R5.12)
# ----------------------------------------------------------------------------------------------------


def kaplan_meier(
    durations: Sequence[float],
    events: Sequence[bool | int],
    *,
    label: str = "",
    landmarks: Sequence[float] = DEFAULT_LANDMARKS_MONTHS,
    at_risk_at: Sequence[float] | None = None,
    alpha: float = _ALPHA,
) -> KaplanMeierResult:
    """Return the Kaplan-Meier estimate, median with CI, landmark rates and the number-at-risk table.

    R5.10: lifelines' default band is the exponential-Greenwood (log(-log)) CI, as SAS CONFTYPE=LOGLOG.
    R5.11: median CI from ``median_survival_times(kmf.confidence_interval_)`` (Brookmeyer-Crowley).
    """
    times, flags = _validate(durations, events)
    codes = [EVENT if flag else CENSORED for flag in flags]
    table_at = tuple(at_risk_at) if at_risk_at is not None else at_risk_times(times)
    at_risk = _at_risk_table(times, codes, table_at)
    n_events = sum(1 for code in codes if code == EVENT)
    if not times:
        return KaplanMeierResult(
            label=label,
            n=0,
            events=0,
            censored=0,
            curve=_empty_curve(),
            median=MedianSurvival(None, None, None),
            landmarks=tuple(LandmarkRate(float(point), None, None, None, 0) for point in landmarks),
            at_risk=at_risk,
        )
    fitter = KaplanMeierFitter(alpha=alpha).fit(times, event_observed=[bool(code) for code in codes])
    band = fitter.confidence_interval_
    curve = _step_curve(fitter.survival_function_, band.iloc[:, 0], band.iloc[:, 1], times, codes)
    bounds = median_survival_times(band)
    median = MedianSurvival(
        estimate=_clean(fitter.median_survival_time_),
        lower=_clean(bounds.iloc[0, 0]),
        upper=_clean(bounds.iloc[0, 1]),
    )
    return KaplanMeierResult(
        label=label,
        n=len(times),
        events=n_events,
        censored=len(times) - n_events,
        curve=curve,
        median=median,
        landmarks=tuple(_landmark(curve, times, float(point)) for point in landmarks),
        at_risk=at_risk,
    )


# ----------------------------------------------------------------------------------------------------
# Cumulative incidence of local failure (R2.4, R5.13)
# ----------------------------------------------------------------------------------------------------


def _empty_incidence(
    label: str, method: str, landmarks: Sequence[float], at_risk: tuple[AtRisk, ...]
) -> CumulativeIncidenceResult:
    return CumulativeIncidenceResult(
        label=label,
        method=method,
        n=0,
        events=0,
        competing=0,
        censored=0,
        curve=_empty_curve(),
        landmarks=tuple(LandmarkRate(float(point), None, None, None, 0) for point in landmarks),
        at_risk=at_risk,
    )


def _codes(events: Sequence[int]) -> list[int]:
    codes = [int(code) for code in events]
    if any(code not in (CENSORED, EVENT, COMPETING) for code in codes):
        raise StatisticsError("event codes must be 0 (censored), 1 (event) or 2 (competing)")
    return codes


def _aalen_johansen_table(
    times: Sequence[float], codes: Sequence[int], alpha: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return (times, CIF, lower, upper) of the Aalen-Johansen estimate of code 1, code 2 competing (R2.4).

    Vectorised, with tied times handled exactly (lifelines' ``AalenJohansenFitter`` jitters tied times at random
    and takes seconds on 15,000 lesions). Same estimator and the same variance as lifelines: Collett (3rd ed.,
    p. 411) Greenwood-type variance, log(-log) transformed band; on data without ties the two agree to 1e-9
    (tests/domain/test_statistics.py). Rows: time 0, then every distinct observed time, as lifelines.
    """
    t = np.asarray(times, dtype=float)
    c = np.asarray(codes, dtype=int)
    grid, inverse = np.unique(np.concatenate(([0.0], t)), return_inverse=True)
    inverse = inverse[1:]
    removed = np.bincount(inverse, minlength=grid.size).astype(float)
    died = np.bincount(inverse, weights=(c != CENSORED).astype(float), minlength=grid.size)  # any cause
    failed = np.bincount(
        inverse, weights=(c == EVENT).astype(float), minlength=grid.size
    )  # event of interest
    at_risk = float(t.size) - np.concatenate(([0.0], np.cumsum(removed)[:-1]))
    with np.errstate(divide="ignore", invalid="ignore"):
        survival = np.cumprod(1.0 - died / at_risk)  # overall (all-cause) Kaplan-Meier
        lag = np.concatenate(([1.0], survival[:-1]))
        cif = np.cumsum(lag * failed / at_risk)
        a = died / (at_risk * (at_risk - died))
        first = np.cumsum(a) * cif**2 - 2 * cif * np.cumsum(a * cif) + np.cumsum(a * cif**2)
        second = np.cumsum(lag**2 * failed * (at_risk - failed) / at_risk**3)
        b = lag * failed / at_risk**2
        third = cif * np.cumsum(b) - np.cumsum(b * cif)
        variance = first + second - 2 * third
        transformed = np.log(-np.log(cif))
        se = np.sqrt(variance) / (cif * np.abs(np.log(cif)))
        z = float(norm.ppf(1 - alpha / 2))
        one = np.exp(-np.exp(transformed + z * se))
        other = np.exp(-np.exp(transformed - z * se))
    return grid, cif, np.fmin(one, other), np.fmax(one, other)


def aalen_johansen(
    durations: Sequence[float],
    events: Sequence[int],
    *,
    label: str = "",
    landmarks: Sequence[float] = DEFAULT_LANDMARKS_MONTHS,
    at_risk_at: Sequence[float] | None = None,
    alpha: float = _ALPHA,
) -> CumulativeIncidenceResult:
    """Return the Aalen-Johansen cumulative incidence of code 1 with code 2 as a competing risk (R2.4, R5.13).

    Computed by ``_aalen_johansen_table`` (lifelines' estimator and band, without its random jitter of ties;
    lifelines also labels its two CI columns the wrong way round, which the band here does not inherit).
    """
    times, raw = _validate(durations, events)
    codes = _codes(raw)
    table_at = tuple(at_risk_at) if at_risk_at is not None else at_risk_times(times)
    at_risk = _at_risk_table(times, codes, table_at)
    if not times:
        return _empty_incidence(label, "aalen-johansen", landmarks, at_risk)
    grid, estimate, lower, upper = _aalen_johansen_table(times, codes, alpha)
    frame = pd.DataFrame({"CIF": estimate}, index=grid)
    curve = _step_curve(frame, pd.Series(lower), pd.Series(upper), times, codes)
    return CumulativeIncidenceResult(
        label=label,
        method="aalen-johansen",
        n=len(times),
        events=codes.count(EVENT),
        competing=codes.count(COMPETING),
        censored=codes.count(CENSORED),
        curve=curve,
        landmarks=tuple(_landmark(curve, times, float(point)) for point in landmarks),
        at_risk=at_risk,
    )


def one_minus_kaplan_meier(
    durations: Sequence[float],
    events: Sequence[int],
    *,
    label: str = "",
    landmarks: Sequence[float] = DEFAULT_LANDMARKS_MONTHS,
    at_risk_at: Sequence[float] | None = None,
    alpha: float = _ALPHA,
) -> CumulativeIncidenceResult:
    """Return 1-KM for code 1, censoring competing events: the "actuarial" sensitivity analysis (R2.4)."""
    times, raw = _validate(durations, events)
    codes = _codes(raw)
    table_at = tuple(at_risk_at) if at_risk_at is not None else at_risk_times(times)
    at_risk = _at_risk_table(times, codes, table_at)
    if not times:
        return _empty_incidence(label, "1-km", landmarks, at_risk)
    km = kaplan_meier(times, [code == EVENT for code in codes], landmarks=(), at_risk_at=(), alpha=alpha)
    survival = km.curve

    def flip(value: float | None) -> float | None:
        return None if value is None else 1.0 - value

    curve = StepCurve(
        times=survival.times,
        estimate=tuple(1.0 - value for value in survival.estimate),
        lower=tuple(flip(value) for value in survival.upper),
        upper=tuple(flip(value) for value in survival.lower),
        censor_times=tuple(sorted(value for value, code in zip(times, codes, strict=True) if code != EVENT)),
        censor_estimate=(),
    )
    curve = StepCurve(
        curve.times,
        curve.estimate,
        curve.lower,
        curve.upper,
        curve.censor_times,
        tuple(curve.value_at(value) or 0.0 for value in curve.censor_times),
    )
    return CumulativeIncidenceResult(
        label=label,
        method="1-km",
        n=len(times),
        events=codes.count(EVENT),
        competing=codes.count(COMPETING),
        censored=codes.count(CENSORED),
        curve=curve,
        landmarks=tuple(_landmark(curve, times, float(point)) for point in landmarks),
        at_risk=at_risk,
    )


def local_control(
    results: Iterable[TimeToEvent],
    *,
    label: str = "",
    landmarks: Sequence[float] = DEFAULT_LANDMARKS_MONTHS,
    at_risk_at: Sequence[float] | None = None,
    alpha: float = _ALPHA,
) -> LocalControlAnalysis:
    """Return both LF estimates for LC or LCLES rows: Aalen-Johansen (primary) and 1-KM (sensitivity), R2.4.

    Pass patient-level LC rows for the per-patient analysis and LCLES rows for the per-lesion one. A death without
    LF is the competing event at the death in Aalen-Johansen, and censored at the last evaluating scan in 1-KM (D12).
    """
    rows = list(results)
    times, codes = competing_risk_inputs(rows)
    km_times, km_codes = competing_risk_inputs(rows, sensitivity=True)
    options: dict[str, Any] = {
        "label": label,
        "landmarks": landmarks,
        "at_risk_at": at_risk_at,
        "alpha": alpha,
    }
    return LocalControlAnalysis(
        cumulative_incidence=aalen_johansen(times, codes, **options),
        one_minus_km=one_minus_kaplan_meier(km_times, km_codes, **options),
    )


# ----------------------------------------------------------------------------------------------------
# Proportions (R5.7-R5.9)
# ----------------------------------------------------------------------------------------------------


def clopper_pearson(x: int, n: int, *, alpha: float = _ALPHA) -> Proportion:
    """Return x/n with the exact Clopper-Pearson CI (R5.9): Beta quantiles, 0 if x = 0, 1 if x = n."""
    if n < 0 or x < 0 or x > n:
        raise StatisticsError(f"invalid proportion {x}/{n}")
    if n == 0:
        return Proportion(x, n, None, None, None)
    lower = 0.0 if x == 0 else float(beta.ppf(alpha / 2, x, n - x + 1))
    upper = 1.0 if x == n else float(beta.ppf(1 - alpha / 2, x + 1, n - x))
    return Proportion(x, n, x / n, lower, upper)


_ORDER = (
    Response.CR,
    Response.PR,
    Response.SD,
    Response.NON_CR_NON_PD,
    Response.PD,
    Response.NE,
)
NO_ASSESSMENT = "NO ASSESSMENT"


def response_summary(
    responses: Iterable[Response | str | None],
    *,
    include_non_cr_non_pd_in_dcr: bool = False,
    alpha: float = _ALPHA,
) -> ResponseSummary:
    """Return BOR counts, ORR (CR + PR) and DCR (CR + PR + SD) over every patient given (R5.7, R5.8).

    Pass the BOR of the whole denominator set (MDISFL for the primary analysis): a patient without any
    post-baseline assessment (None) stays in the denominator as a non-responder (R5.8). SD in the BOR already
    meets sd_min_days (R1.25); Non-CR/non-PD is counted apart and joins DCR only if the SAP says so.
    """
    values = [Response(item) if item is not None else None for item in responses]
    counts = [(str(category), sum(1 for value in values if value is category)) for category in _ORDER]
    counts.append((NO_ASSESSMENT, sum(1 for value in values if value is None)))
    tally = dict(counts)
    responders = tally[str(Response.CR)] + tally[str(Response.PR)]
    control = responders + tally[str(Response.SD)]
    if include_non_cr_non_pd_in_dcr:
        control += tally[str(Response.NON_CR_NON_PD)]
    n = len(values)
    return ResponseSummary(
        n=n,
        counts=tuple(counts),
        orr=clopper_pearson(responders, n, alpha=alpha),
        dcr=clopper_pearson(control, n, alpha=alpha),
        non_cr_non_pd=tally[str(Response.NON_CR_NON_PD)],
    )
