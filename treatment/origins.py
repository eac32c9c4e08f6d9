"""D1 origins over plain records: SABR start and treatment start, one implementation for every app.

Pure (no Django): the treatment selectors, AE exposure (treatment-emergent flag, EC-AE-5 collection window), the
visit schedule, the edit checks and the endpoint collector all turn their rows into these records and call these
functions, so the origins of PFS, OS, the imaging windows and the AE window can never disagree (STYLE.md 13).

- D1: SABR start (PFS1/PFS2 origin) = the first delivered fraction of the first protocol SABR course;
  treatment start (OS origin, DM.RFSTDTC) = the earliest of SABR start, the first axitinib period with a dose
  (R4.2 levels; INTERRUPTED and PERMANENTLY DISCONTINUED are not doses) and the first toripalimab infusion GIVEN
  (R4.7: the dosing field ``infusion_status``, not the CRF lifecycle ``status``).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

from treatment.dosing import AxitinibDose, InfusionStatus, axitinib_level

#: Whatever names the row a date came from (a primary key, a SourceRef): carried through untouched, never compared.
Ref = object


@dataclass(frozen=True)
class Fraction:
    """One SABR fraction row: its date, whether it was delivered, its course's protocol flag and number."""

    date: datetime.date | None
    delivered: bool
    protocol: bool
    course_number: int
    ref: Ref = None


@dataclass(frozen=True)
class AxitinibPeriod:
    """One axitinib period row: its start date and coded dose level (Form 13)."""

    start_date: datetime.date | None
    dose_level: str
    ref: Ref = None


@dataclass(frozen=True)
class Infusion:
    """One toripalimab infusion row: its date and its dosing status (Form 14 ``infusion_status``)."""

    date: datetime.date | None
    infusion_status: str
    ref: Ref = None


@dataclass(frozen=True)
class Origin:
    """A D1 date and the row that set it."""

    date: datetime.date
    ref: Ref = None


#: R4.2: a period at one of the five BID levels is a dose; INTERRUPTED and PERMANENTLY DISCONTINUED are not.
DOSED_AXITINIB_LEVELS: frozenset[str] = frozenset(
    d.value for d in AxitinibDose if axitinib_level(d) is not None
)


def _is_dose(level: str) -> bool:
    return level in DOSED_AXITINIB_LEVELS


def sabr_start(fractions: Iterable[Fraction]) -> Origin | None:
    """D1: the first delivered fraction of the first protocol SABR course that delivered a fraction."""
    delivered = [f for f in fractions if f.delivered and f.protocol and f.date is not None]
    if not delivered:
        return None
    first_course = min(f.course_number for f in delivered)
    # min keeps the first of equal dates: callers pass rows in primary-key order.
    first = min(
        (f for f in delivered if f.course_number == first_course), key=lambda f: f.date or datetime.date.max
    )
    assert first.date is not None
    return Origin(first.date, first.ref)


def first_axitinib_dose(periods: Iterable[AxitinibPeriod]) -> Origin | None:
    """D1: the start of the first axitinib period with a dose (R4.2 levels)."""
    dosed = [p for p in periods if p.start_date is not None and _is_dose(p.dose_level)]
    if not dosed:
        return None
    first = min(dosed, key=lambda p: p.start_date or datetime.date.max)
    assert first.start_date is not None
    return Origin(first.start_date, first.ref)


def first_toripalimab_dose(infusions: Iterable[Infusion]) -> Origin | None:
    """D1: the date of the first toripalimab infusion GIVEN (R4.7)."""
    given = [i for i in infusions if i.date is not None and i.infusion_status == InfusionStatus.GIVEN.value]
    if not given:
        return None
    first = min(given, key=lambda i: i.date or datetime.date.max)
    assert first.date is not None
    return Origin(first.date, first.ref)


def treatment_start(
    *,
    fractions: Iterable[Fraction] = (),
    periods: Iterable[AxitinibPeriod] = (),
    infusions: Iterable[Infusion] = (),
) -> Origin | None:
    """D1 (OS origin): the earliest of SABR start, the first axitinib dose and the first toripalimab infusion.

    On a tie the SABR fraction wins, then axitinib, then toripalimab (the order D1 names them).
    """
    candidates = [
        origin
        for origin in (sabr_start(fractions), first_axitinib_dose(periods), first_toripalimab_dose(infusions))
        if origin is not None
    ]
    if not candidates:
        return None
    return min(candidates, key=lambda origin: origin.date)  # min keeps the first of equal dates
