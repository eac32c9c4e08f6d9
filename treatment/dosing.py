"""Study-drug dosing rules: axitinib levels and titration, toripalimab cycles, dose intensity, steroids.

Pure module: standard library only. Rules cite DOMAIN.md (R4.x) and CRF-SPEC forms 13-15 (EC-AX,
EC-TO, EC-CM). Checks return messages (``*_errors`` for hard checks the service refuses, ``*_warnings``
for soft checks that raise a query); a malformed argument raises :class:`DosingError`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import TypeVar

from ruletext import define, gettext_noop

__all__ = [
    "AXITINIB_LEVEL_MG",
    "AXITINIB_START_DOSE",
    "DEFAULT_PREDNISONE_EQUIVALENTS",
    "TORIPALIMAB_CYCLE_DAYS",
    "TORIPALIMAB_DOSE_MG",
    "AxitinibAe",
    "AxitinibDose",
    "AxitinibPeriod",
    "AxitinibRdiSettings",
    "DEFAULT_AXITINIB_RDI",
    "DEFAULT_TORIPALIMAB_RDI",
    "STEROID_MAX_WEEKS",
    "STEROID_THRESHOLD_MG_DAY",
    "TORIPALIMAB_MAX_INTERVAL_DAYS",
    "TORIPALIMAB_MIN_INTERVAL_DAYS",
    "DoseFrequency",
    "DoseUnit",
    "DosingError",
    "Immunosuppressant",
    "InfusionStatus",
    "ToripalimabInfusion",
    "ToripalimabRdiSettings",
    "axitinib_dose_at_level",
    "axitinib_dose_for_mg",
    "axitinib_dose_mg",
    "axitinib_level",
    "axitinib_other_dose_errors",
    "axitinib_period_errors",
    "axitinib_rdi",
    "axitinib_step",
    "axitinib_titration_warnings",
    "period_overlap_errors",
    "prednisone_equivalent_mg_day",
    "steroid_taper_warning",
    "toripalimab_cycle_errors",
    "toripalimab_dose_errors",
    "toripalimab_interval_warning",
    "toripalimab_interval_warnings",
    "toripalimab_planned_date",
    "toripalimab_rdi",
]


class DosingError(ValueError):
    """A dosing argument is malformed (unknown level, step off the scale, bad number)."""


# --- Axitinib ---


class AxitinibDose(StrEnum):
    """Form 13 dose_level (R4.2): the five BID levels plus interrupted and permanently discontinued."""

    PLUS2_10MG = "10 MG BID"
    PLUS1_7MG = "7 MG BID"
    START_5MG = "5 MG BID"
    MINUS1_3MG = "3 MG BID"
    MINUS2_2MG = "2 MG BID"
    INTERRUPTED = "INTERRUPTED"
    PERMANENTLY_DISCONTINUED = "PERMANENTLY DISCONTINUED"


# R4.2: +2 = 10 mg, +1 = 7 mg, 0 = 5 mg, -1 = 3 mg, -2 = 2 mg, each BID.
_LEVEL_OF: Mapping[AxitinibDose, int] = {
    AxitinibDose.PLUS2_10MG: 2,
    AxitinibDose.PLUS1_7MG: 1,
    AxitinibDose.START_5MG: 0,
    AxitinibDose.MINUS1_3MG: -1,
    AxitinibDose.MINUS2_2MG: -2,
}
_DOSE_AT: Mapping[int, AxitinibDose] = {level: dose for dose, level in _LEVEL_OF.items()}
AXITINIB_LEVEL_MG: Mapping[int, Decimal] = {
    2: Decimal("10"),
    1: Decimal("7"),
    0: Decimal("5"),
    -1: Decimal("3"),
    -2: Decimal("2"),
}
# R4.1: start at 5 mg BID.
AXITINIB_START_DOSE = AxitinibDose.START_5MG


@dataclass(frozen=True)
class AxitinibPeriod:
    """One constant-dose period of form 13; ``end_date`` None = ongoing.

    ``other_dose_mg`` is an off-list dose per administration (mg BID, EC-AX-2); it replaces the level's mg.
    """

    start_date: date
    end_date: date | None
    dose: AxitinibDose
    missed_doses: int = 0
    other_dose_mg: Decimal | None = None


@dataclass(frozen=True)
class AxitinibAe:
    """An AE episode as the titration check sees it (EC-AX-3): ``resolution_date`` None = ongoing."""

    term: str
    grade: int
    onset_date: date
    resolution_date: date | None
    axitinib_related: bool


_E = TypeVar("_E", bound=StrEnum)


def _coded(enum: type[_E], value: _E | str) -> _E:
    """Return ``value`` as a member of ``enum``; an unknown code is a DosingError."""
    try:
        return enum(value)
    except ValueError:
        raise DosingError(f"{value!r} is not a {enum.__name__} value") from None


def _require_int(value: int, name: str, *, minimum: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise DosingError(f"{name} must be an int, got {value!r}")
    if minimum is not None and value < minimum:
        raise DosingError(f"{name} must be >= {minimum}, got {value}")


def _require_mg(value: Decimal, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
        raise DosingError(f"{name} must be a positive Decimal in mg, got {value!r}")


def axitinib_level(dose: AxitinibDose) -> int | None:
    """Return the level (-2..+2) of ``dose``; None for INTERRUPTED or PERMANENTLY DISCONTINUED (R4.2)."""
    return _LEVEL_OF.get(_coded(AxitinibDose, dose))


def axitinib_dose_at_level(level: int) -> AxitinibDose:
    """Return the dose at ``level``; only -2..+2 exist (R4.2)."""
    _require_int(level, "axitinib dose level")
    if level not in _DOSE_AT:
        raise DosingError(f"axitinib dose level {level:+d} does not exist: levels are -2 to +2 (R4.2)")
    return _DOSE_AT[level]


def axitinib_dose_mg(dose: AxitinibDose) -> Decimal:
    """Return the mg per administration (BID) of ``dose``; 0 when interrupted or discontinued (R4.2)."""
    level = axitinib_level(dose)
    return Decimal(0) if level is None else AXITINIB_LEVEL_MG[level]


def axitinib_dose_for_mg(mg: Decimal) -> AxitinibDose | None:
    """Return the level for ``mg`` BID, or None for an off-list dose that needs other_dose_mg (EC-AX-2)."""
    _require_mg(mg, "axitinib dose")
    for level, level_mg in AXITINIB_LEVEL_MG.items():
        if level_mg == mg:
            return _DOSE_AT[level]
    return None


def axitinib_step(dose: AxitinibDose, steps: int) -> AxitinibDose:
    """Return the dose ``steps`` levels above (or below, if negative) ``dose`` (R4.2-R4.4)."""
    _require_int(steps, "steps")
    level = axitinib_level(dose)
    if level is None:
        raise DosingError(
            f"cannot step from {_coded(AxitinibDose, dose).value}: it is not a dose level (R4.2)"
        )
    return axitinib_dose_at_level(level + steps)


def axitinib_other_dose_errors(*, other_dose_mg: Decimal | None, other_dose_reason: str | None) -> list[str]:
    """Return EC-AX-2 refusals: an off-list dose needs a reason; a listed dose uses its level (R4.2)."""
    if other_dose_mg is None:
        return []
    _require_mg(other_dose_mg, "other_dose_mg")
    errors: list[str] = []
    listed = axitinib_dose_for_mg(other_dose_mg)
    if listed is not None:
        errors.append(
            f"{other_dose_mg} mg BID is dose level {listed.value}: choose it in dose_level (EC-AX-2)"
        )
    if not (other_dose_reason or "").strip():
        errors.append(f"other_dose_mg {other_dose_mg} mg BID needs other_dose_reason (R4.2, EC-AX-2)")
    return errors


# EC-AX-3 warnings as message ids with parameters (issue 18, item 3): stored as system queries, read translated.
_SKIPS_LEVEL = define(
    "dosing.titration.skips_level",
    gettext_noop("%(current)s to %(proposed)s skips a level: step up one level at a time (R4.3, EC-AX-3)"),
)
_TOO_SOON = define(
    "dosing.titration.too_soon",
    gettext_noop(
        "only %(days)s days at %(current)s: a step up needs >= %(weeks)s weeks (%(min_days)s days) at the current "
        "level (R4.3, EC-AX-3)"
    ),
)
_RELATED_AE = define(
    "dosing.titration.related_ae",
    gettext_noop(
        "axitinib-related %(term)s grade %(grade)s (onset %(onset)s) in the %(lookback)s days before the step up: "
        "none above grade %(max)s is allowed (R4.3, EC-AX-3)"
    ),
)
_BP_NOT_OK = define(
    "dosing.titration.bp_not_ok",
    gettext_noop(
        "bp_ok_no_antihtn is not Y: a step up needs a normotensive patient without antihypertensives "
        "(R4.3, EC-AX-3)"
    ),
)


def axitinib_titration_warnings(
    *,
    current: AxitinibDose,
    proposed: AxitinibDose,
    current_level_start: date,
    change_date: date,
    adverse_events: Sequence[AxitinibAe] = (),
    bp_ok_no_antihtn: bool | None,
    min_weeks_at_level: int = 6,
    ae_lookback_days: int = 14,
    max_related_grade: int = 2,
) -> list[str]:
    """Return EC-AX-3 warnings for a step up from ``current`` to ``proposed`` (R4.3); [] if not a step up.

    A step up is one level only, after >= ``min_weeks_at_level`` weeks at the current level (6 with a PD-1
    antibody, R4.3; a setting), with no axitinib-related AE above grade 2 active in the ``ae_lookback_days``
    before the change (the change day included), in a patient normotensive without antihypertensives.
    """
    _require_int(min_weeks_at_level, "min_weeks_at_level", minimum=0)
    _require_int(ae_lookback_days, "ae_lookback_days", minimum=0)
    current_level = axitinib_level(current)
    if current_level is None:
        raise DosingError(
            f"titration starts from a dose level, not {_coded(AxitinibDose, current).value} (R4.3)"
        )
    proposed_level = axitinib_level(proposed)
    if proposed_level is None or proposed_level <= current_level:
        return []
    warnings: list[str] = []
    if proposed_level - current_level > 1:
        warnings.append(_SKIPS_LEVEL(current=current.value, proposed=proposed.value))
    days_at_level = (change_date - current_level_start).days
    if days_at_level < min_weeks_at_level * 7:
        warnings.append(
            _TOO_SOON(
                days=days_at_level,
                current=current.value,
                weeks=min_weeks_at_level,
                min_days=min_weeks_at_level * 7,
            )
        )
    window_start = change_date - timedelta(days=ae_lookback_days)
    for ae in adverse_events:
        active_in_window = ae.onset_date <= change_date and (
            ae.resolution_date is None or ae.resolution_date >= window_start
        )
        if ae.axitinib_related and ae.grade > max_related_grade and active_in_window:
            warnings.append(
                _RELATED_AE(
                    term=ae.term,
                    grade=ae.grade,
                    onset=ae.onset_date.isoformat(),
                    lookback=ae_lookback_days,
                    max=max_related_grade,
                )
            )
    if bp_ok_no_antihtn is not True:
        warnings.append(_BP_NOT_OK())
    return warnings


def period_overlap_errors(periods: Sequence[tuple[date, date | None]]) -> list[str]:
    """Return EC-AX-1 refusals for (start, end or None) periods, inclusive of both days, in any order.

    end >= start; only the last period may be open; no two periods share a day.
    """
    errors: list[str] = []
    for start, end in periods:
        if end is not None and end < start:
            errors.append(f"period {start} to {end}: end is before start (EC-AX-1)")
    ordered = sorted(periods, key=lambda period: period[0])
    for index, (start, end) in enumerate(ordered):
        later = ordered[index + 1 :]
        if not later:
            continue
        next_start = later[0][0]
        if end is None:
            errors.append(f"period from {start} is open but is not the last period (EC-AX-1)")
        elif next_start <= end:
            errors.append(f"period {start} to {end} overlaps the period starting {next_start} (EC-AX-1)")
    return errors


def axitinib_period_errors(
    periods: Sequence[AxitinibPeriod], *, registration_date: date | None = None
) -> list[str]:
    """Return EC-AX-1 refusals for a patient's axitinib periods: overlap and order, the first start on or
    after registration, and nothing after PERMANENTLY DISCONTINUED."""
    for period in periods:
        _require_int(period.missed_doses, "missed_doses", minimum=0)
    errors = period_overlap_errors([(period.start_date, period.end_date) for period in periods])
    ordered = sorted(periods, key=lambda period: period.start_date)
    if ordered and registration_date is not None and ordered[0].start_date < registration_date:
        errors.append(
            f"first axitinib period starts {ordered[0].start_date}, before registration {registration_date} "
            "(EC-AX-1)"
        )
    for index, period in enumerate(ordered[:-1]):
        if period.dose is AxitinibDose.PERMANENTLY_DISCONTINUED:
            errors.append(
                f"axitinib was permanently discontinued on {period.start_date}: "
                f"{len(ordered) - index - 1} later period(s) are not allowed (EC-AX-1)"
            )
            break
    return errors


# --- Toripalimab ---

# R4.6, R4.7: 240 mg IV q3w, fixed; no dose reductions.
TORIPALIMAB_DOSE_MG = Decimal("240")
TORIPALIMAB_CYCLE_DAYS = 21
# EC-TO-3: q3w +/- 3 days.
TORIPALIMAB_MIN_INTERVAL_DAYS = 18
TORIPALIMAB_MAX_INTERVAL_DAYS = 24


class InfusionStatus(StrEnum):
    """Form 14 status (R4.7, R4.8)."""

    GIVEN = "GIVEN"
    DELAYED = "DELAYED"
    OMITTED = "OMITTED"
    PERMANENTLY_DISCONTINUED = "PERMANENTLY DISCONTINUED"


@dataclass(frozen=True)
class ToripalimabInfusion:
    """One toripalimab cycle of form 14."""

    cycle_number: int
    status: InfusionStatus
    infusion_date: date | None = None
    dose_mg: Decimal | None = None


def toripalimab_dose_errors(
    *, dose_mg: Decimal, deviation_reason: str | None, reduction_for_toxicity: bool = False
) -> list[str]:
    """Return EC-TO-2 refusals: a dose other than 240 mg needs a reason; a toxicity reduction is refused,
    because toripalimab is only withheld or stopped (R4.7)."""
    _require_mg(dose_mg, "toripalimab dose")
    errors: list[str] = []
    if reduction_for_toxicity and dose_mg < TORIPALIMAB_DOSE_MG:
        errors.append(
            f"toripalimab {dose_mg} mg: dose reductions for toxicity are not allowed; withhold (DELAYED or "
            "OMITTED) or stop (PERMANENTLY DISCONTINUED) instead (R4.7, EC-TO-2)"
        )
    if dose_mg != TORIPALIMAB_DOSE_MG and not (deviation_reason or "").strip():
        errors.append(
            f"toripalimab dose {dose_mg} mg is not {TORIPALIMAB_DOSE_MG} mg: "
            "dose_deviation_reason is required (R4.7, EC-TO-2)"
        )
    return errors


def toripalimab_planned_date(previous_given: date, *, cycle_days: int = TORIPALIMAB_CYCLE_DAYS) -> date:
    """Return the planned date of the next cycle: the previous given infusion + 21 days (R4.6)."""
    return previous_given + timedelta(days=cycle_days)


def toripalimab_interval_warning(
    previous_given: date,
    infusion_date: date,
    *,
    min_days: int = TORIPALIMAB_MIN_INTERVAL_DAYS,
    max_days: int = TORIPALIMAB_MAX_INTERVAL_DAYS,
) -> str | None:
    """Return the EC-TO-3 warning when the interval from the previous GIVEN infusion is outside 18-24 days."""
    days = (infusion_date - previous_given).days
    if min_days <= days <= max_days:
        return None
    side = "short" if days < min_days else "long"
    return (
        f"toripalimab infusion {infusion_date} is {days} days after the previous given infusion "
        f"{previous_given}: too {side} for q3w ({min_days}-{max_days} days) (R4.6, EC-TO-3)"
    )


def toripalimab_interval_warnings(
    infusions: Sequence[ToripalimabInfusion],
    *,
    min_days: int = TORIPALIMAB_MIN_INTERVAL_DAYS,
    max_days: int = TORIPALIMAB_MAX_INTERVAL_DAYS,
) -> list[str]:
    """Return EC-TO-3 warnings for every GIVEN infusion against the previous GIVEN one."""
    given = sorted(
        (i.cycle_number, i.infusion_date)
        for i in infusions
        if i.status is InfusionStatus.GIVEN and i.infusion_date is not None
    )
    warnings: list[str] = []
    for (_, previous_date), (cycle, infusion_date) in zip(given, given[1:], strict=False):
        warning = toripalimab_interval_warning(
            previous_date, infusion_date, min_days=min_days, max_days=max_days
        )
        if warning is not None:
            warnings.append(f"cycle {cycle}: {warning}")
    return warnings


def toripalimab_cycle_errors(
    infusions: Sequence[ToripalimabInfusion], *, registration_date: date | None = None
) -> list[str]:
    """Return EC-TO-1 refusals: cycles numbered 1, 2, 3 ... without gaps or repeats; a GIVEN cycle has a date
    on or after registration, later than the previous given one; nothing after PERMANENTLY DISCONTINUED."""
    for infusion in infusions:
        _require_int(infusion.cycle_number, "cycle_number", minimum=1)
    errors: list[str] = []
    numbers = sorted(infusion.cycle_number for infusion in infusions)
    if numbers != list(range(1, len(numbers) + 1)):
        errors.append(
            f"toripalimab cycles must be numbered 1 to {len(numbers)} once each, got {numbers} (EC-TO-1)"
        )
    ordered = sorted(infusions, key=lambda infusion: infusion.cycle_number)
    previous_date: date | None = None
    for index, infusion in enumerate(ordered):
        if infusion.status is InfusionStatus.GIVEN:
            if infusion.infusion_date is None:
                errors.append(f"cycle {infusion.cycle_number} is GIVEN without an infusion_date (EC-TO-1)")
                continue
            if registration_date is not None and infusion.infusion_date < registration_date:
                errors.append(
                    f"cycle {infusion.cycle_number} infusion {infusion.infusion_date} is before registration "
                    f"{registration_date} (EC-TO-1)"
                )
            if previous_date is not None and infusion.infusion_date <= previous_date:
                errors.append(
                    f"cycle {infusion.cycle_number} infusion {infusion.infusion_date} is not after "
                    f"the previous given infusion {previous_date} (EC-TO-1)"
                )
            previous_date = infusion.infusion_date
        if infusion.status is InfusionStatus.PERMANENTLY_DISCONTINUED and index < len(ordered) - 1:
            errors.append(
                f"toripalimab was permanently discontinued at cycle {infusion.cycle_number}: "
                f"no later cycle is allowed (EC-TO-1)"
            )
    return errors


# --- Relative dose intensity ("Derived values"; the formulas are settings, DECIDE) ---


@dataclass(frozen=True)
class AxitinibRdiSettings:
    """Axitinib RDI = [sum(mg x 2 x days) - missed doses x mg] / [10 mg/day x days first-last dose] x 100."""

    planned_mg_per_day: Decimal = Decimal("10")
    administrations_per_day: int = 2


@dataclass(frozen=True)
class ToripalimabRdiSettings:
    """Toripalimab RDI = sum(mg) / (240 mg x planned q3w cycles from first to last infusion) x 100."""

    planned_dose_mg: Decimal = TORIPALIMAB_DOSE_MG
    cycle_days: int = TORIPALIMAB_CYCLE_DAYS


DEFAULT_AXITINIB_RDI = AxitinibRdiSettings()
DEFAULT_TORIPALIMAB_RDI = ToripalimabRdiSettings()


def _period_mg(period: AxitinibPeriod) -> Decimal:
    if period.dose in (AxitinibDose.INTERRUPTED, AxitinibDose.PERMANENTLY_DISCONTINUED):
        return Decimal(0)
    if period.other_dose_mg is not None:
        _require_mg(period.other_dose_mg, "other_dose_mg")
        return period.other_dose_mg
    return axitinib_dose_mg(period.dose)


def axitinib_rdi(
    periods: Sequence[AxitinibPeriod],
    *,
    as_of: date | None = None,
    settings: AxitinibRdiSettings = DEFAULT_AXITINIB_RDI,
) -> Decimal | None:
    """Return axitinib relative dose intensity in % (CRF-SPEC "Derived values", R4.1), unrounded.

    Days are inclusive; an ongoing period runs to ``as_of`` (the data cut-off). The denominator spans the
    first to the last day with a dose, so interruptions inside it count as planned days. None if no dose
    was taken.
    """
    _require_int(settings.administrations_per_day, "administrations_per_day", minimum=1)
    _require_mg(settings.planned_mg_per_day, "planned_mg_per_day")
    taken = Decimal(0)
    first: date | None = None
    last: date | None = None
    for period in periods:
        _require_int(period.missed_doses, "missed_doses", minimum=0)
        mg = _period_mg(period)
        if mg == 0:
            continue
        end = period.end_date if period.end_date is not None else as_of
        if end is None:
            raise DosingError(f"ongoing axitinib period from {period.start_date} needs as_of (the cut-off)")
        days = (end - period.start_date).days + 1
        if days < 1:
            raise DosingError(f"axitinib period {period.start_date} to {end} ends before it starts")
        if period.missed_doses > days * settings.administrations_per_day:
            raise DosingError(
                f"{period.missed_doses} missed doses exceed the doses of period {period.start_date} to {end}"
            )
        taken += mg * settings.administrations_per_day * days - period.missed_doses * mg
        first = period.start_date if first is None else min(first, period.start_date)
        last = end if last is None else max(last, end)
    if first is None or last is None:
        return None
    planned = settings.planned_mg_per_day * ((last - first).days + 1)
    return taken / planned * 100


def toripalimab_rdi(
    infusions: Sequence[ToripalimabInfusion],
    *,
    settings: ToripalimabRdiSettings = DEFAULT_TORIPALIMAB_RDI,
) -> Decimal | None:
    """Return toripalimab relative dose intensity in % (CRF-SPEC "Derived values", R4.6), unrounded.

    Planned cycles from first to last infusion = whole ``cycle_days`` between them + 1 (a q3w schedule started
    on the first infusion). Only GIVEN infusions count. None if none was given.
    """
    _require_int(settings.cycle_days, "cycle_days", minimum=1)
    _require_mg(settings.planned_dose_mg, "planned_dose_mg")
    given = [i for i in infusions if i.status is InfusionStatus.GIVEN]
    if not given:
        return None
    dates: list[date] = []
    total = Decimal(0)
    for infusion in given:
        if infusion.infusion_date is None or infusion.dose_mg is None:
            raise DosingError(f"GIVEN cycle {infusion.cycle_number} needs an infusion_date and a dose_mg")
        _require_mg(infusion.dose_mg, f"dose of cycle {infusion.cycle_number}")
        dates.append(infusion.infusion_date)
        total += infusion.dose_mg
    planned_cycles = (max(dates) - min(dates)).days // settings.cycle_days + 1
    return total / (settings.planned_dose_mg * planned_cycles) * 100


# --- Steroids / immunosuppressants (form 15) ---


class Immunosuppressant(StrEnum):
    """Form 15 drug (CMTRT)."""

    PREDNISONE = "PREDNISONE"
    PREDNISOLONE = "PREDNISOLONE"
    METHYLPREDNISOLONE = "METHYLPREDNISOLONE"
    DEXAMETHASONE = "DEXAMETHASONE"
    HYDROCORTISONE = "HYDROCORTISONE"
    INFLIXIMAB = "INFLIXIMAB"
    MYCOPHENOLATE_MOFETIL = "MYCOPHENOLATE MOFETIL"
    OTHER = "OTHER"


class DoseUnit(StrEnum):
    """Form 15 dose_unit (CMDOSU, CDISC UNIT)."""

    MG = "mg"
    MG_PER_KG = "mg/kg"


class DoseFrequency(StrEnum):
    """Form 15 frequency (CMDOSFRQ, CDISC FREQ)."""

    ONCE = "ONCE"
    QD = "QD"
    BID = "BID"
    TID = "TID"
    OTHER = "OTHER"


# Form 15 pred_equiv_mg_day: "conversion table is a setting"; mg prednisone per mg of the drug.
DEFAULT_PREDNISONE_EQUIVALENTS: Mapping[Immunosuppressant, Decimal] = {
    Immunosuppressant.PREDNISONE: Decimal("1"),
    Immunosuppressant.PREDNISOLONE: Decimal("1"),
    Immunosuppressant.METHYLPREDNISOLONE: Decimal("1.25"),
    Immunosuppressant.DEXAMETHASONE: Decimal("6.67"),
    Immunosuppressant.HYDROCORTISONE: Decimal("0.25"),
}

# A ONCE dose is that day's whole dose; OTHER has no daily equivalent.
_PER_DAY: Mapping[DoseFrequency, int] = {
    DoseFrequency.ONCE: 1,
    DoseFrequency.QD: 1,
    DoseFrequency.BID: 2,
    DoseFrequency.TID: 3,
}

# R4.8: permanently discontinue toripalimab when prednisone cannot be reduced to <= 10 mg/day within 12 weeks.
STEROID_THRESHOLD_MG_DAY = Decimal("10")
STEROID_MAX_WEEKS = 12


def prednisone_equivalent_mg_day(
    *,
    drug: Immunosuppressant,
    dose: Decimal,
    unit: DoseUnit,
    frequency: DoseFrequency,
    weight_kg: Decimal | None = None,
    table: Mapping[Immunosuppressant, Decimal] = DEFAULT_PREDNISONE_EQUIVALENTS,
) -> Decimal | None:
    """Return the prednisone-equivalent mg/day (form 15 pred_equiv_mg_day, R4.8).

    None when it cannot be computed: a drug outside ``table`` (not a corticosteroid), frequency OTHER, or
    a mg/kg dose without a weight.
    """
    _require_mg(dose, "dose")
    factor = table.get(_coded(Immunosuppressant, drug))
    per_day = _PER_DAY.get(_coded(DoseFrequency, frequency))
    if factor is None or per_day is None:
        return None
    mg = dose
    if _coded(DoseUnit, unit) is DoseUnit.MG_PER_KG:
        if weight_kg is None:
            return None
        _require_mg(weight_kg, "weight_kg")
        mg = dose * weight_kg
    return mg * per_day * factor


def steroid_taper_warning(
    *,
    course_start: date,
    on_date: date,
    pred_equiv_mg_day: Decimal | None,
    toripalimab_continues: bool,
    threshold_mg_day: Decimal = STEROID_THRESHOLD_MG_DAY,
    max_weeks: int = STEROID_MAX_WEEKS,
) -> str | None:
    """Return the EC-CM-2 warning: > 10 mg/day prednisone-equivalent more than 12 weeks after the course
    start while toripalimab continues (R4.8)."""
    if pred_equiv_mg_day is None or not toripalimab_continues:
        return None
    days = (on_date - course_start).days
    if pred_equiv_mg_day <= threshold_mg_day or days <= max_weeks * 7:
        return None
    return (
        f"{pred_equiv_mg_day.normalize():f} mg/day prednisone-equivalent on {on_date}, {days} days after the "
        f"steroid start {course_start}, while toripalimab continues: not reduced to <= {threshold_mg_day} "
        f"mg/day within {max_weeks} weeks (R4.8, EC-CM-2)"
    )
