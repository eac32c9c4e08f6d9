"""Builders shared by the RECIST tables (no tests here): small, explicit lesions, results and time points."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from assessments.recist import (
    Assessment,
    Lesion,
    LesionResult,
    LesionRole,
    Method,
    NewLesion,
    NonTargetState,
    Organ,
    ResultStatus,
    SplitMerge,
)

START = date(2026, 1, 5)  # treatment start of the worked examples


def day(n: int) -> date:
    """Return the date n days after treatment start."""
    return START + timedelta(days=n)


def mm(value: str | int) -> Decimal:
    return Decimal(str(value))


def target(
    code: str,
    value: str | int,
    organ: Organ = Organ.LIVER,
    *,
    irradiated: bool = False,
    **kwargs: object,
) -> Lesion:
    return Lesion(
        code=code,
        role=LesionRole.TARGET,
        organ=organ,
        method=Method.CT,
        baseline_value_mm=mm(value),
        slice_thickness_mm=mm("1.0"),
        irradiated_protocol=irradiated,
        **kwargs,  # type: ignore[arg-type]
    )


def node(code: str, value: str | int, *, irradiated: bool = False) -> Lesion:
    return target(code, value, Organ.LYMPH_NODE, irradiated=irradiated)


def nontarget(
    code: str, organ: Organ = Organ.BONE, *, irradiated: bool = False, value: str | None = None
) -> Lesion:
    return Lesion(
        code=code,
        role=LesionRole.NON_TARGET,
        organ=organ,
        method=Method.CT,
        baseline_value_mm=mm(value) if value is not None else None,
        slice_thickness_mm=mm("1.0"),
        irradiated_protocol=irradiated,
    )


def measured(code: str, value: str | int, **kwargs: object) -> LesionResult:
    return LesionResult(code, ResultStatus.MEASURED, mm(value), **kwargs)  # type: ignore[arg-type]


def too_small(code: str) -> LesionResult:
    return LesionResult(code, ResultStatus.TOO_SMALL)


def gone(code: str) -> LesionResult:
    return LesionResult(code, ResultStatus.DISAPPEARED)


def not_evaluable(code: str, **kwargs: object) -> LesionResult:
    return LesionResult(code, ResultStatus.NOT_EVALUABLE, **kwargs)  # type: ignore[arg-type]


def split(code: str, *fragments: str | int) -> LesionResult:
    return LesionResult(
        code,
        ResultStatus.MEASURED,
        split_merge=SplitMerge.SPLIT,
        fragments_mm=tuple(mm(f) for f in fragments),
    )


def merged(code: str, into: str) -> LesionResult:
    return LesionResult(code, ResultStatus.MEASURED, mm(0), split_merge=SplitMerge.MERGED, merged_into=into)


def state(code: str, value: NonTargetState, **kwargs: object) -> LesionResult:
    return LesionResult(code, nontarget_state=value, **kwargs)  # type: ignore[arg-type]


def present(code: str, **kwargs: object) -> LesionResult:
    return state(code, NonTargetState.PRESENT, **kwargs)


def absent(code: str) -> LesionResult:
    return state(code, NonTargetState.ABSENT)


def new_lesion(code: str, first_seen: date, *, unequivocal: bool = True, **kwargs: object) -> NewLesion:
    return NewLesion(code, first_seen, unequivocal, **kwargs)  # type: ignore[arg-type]


def tp(
    n: int,
    *results: LesionResult,
    new: tuple[NewLesion, ...] = (),
    last: int | None = None,
    **kwargs: object,
) -> Assessment:
    """Return a time point scanned n days after treatment start (last scan on day ``last``)."""
    return Assessment(
        scan_date_first=day(n),
        scan_date_last=day(last) if last is not None else None,
        results=results,
        new_lesions=new,
        **kwargs,  # type: ignore[arg-type]
    )


def not_done(n: int) -> Assessment:
    return Assessment(scan_date_first=None, imaging_done=False, visit_date=day(n))
