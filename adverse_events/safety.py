"""Seriousness, attribution, the SAE/SUSAR reporting clock and the treatment-emergent flag.

Pure module: standard library only. Rules cite DOMAIN.md (R7.x, D8) and CRF-SPEC form 17 (EC-AE-x).
Datetimes must be timezone-aware; dates are ``date``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

__all__ = [
    "AE_WINDOW_DAYS",
    "AE_WINDOW_EXTENDED_DAYS",
    "RELATED",
    "SITE_REPORT_HOURS",
    "SUSAR_FOLLOW_UP_DAYS",
    "SUSAR_FATAL_DAYS",
    "SUSAR_OTHER_DAYS",
    "ActionTaken",
    "Agent",
    "Deadline",
    "DeadlineState",
    "Relationship",
    "SaeClock",
    "SafetyError",
    "SeriousEvent",
    "SeriousnessCriteria",
    "ae_window_end",
    "deadline",
    "is_related",
    "is_susar",
    "is_treatment_emergent",
    "sae_clock",
    "seriousness_errors",
    "strongest_relationship",
]


class SafetyError(ValueError):
    """A safety input is malformed (naive datetime, no awareness time, non-serious event on the clock)."""


class Agent(StrEnum):
    """The three study treatments, each with its own attribution and action (R7.2)."""

    SABR = "SABR"
    AXITINIB = "AXITINIB"
    TORIPALIMAB = "TORIPALIMAB"


class Relationship(StrEnum):
    """NCI CTEP 5-point attribution (R7.1), plus NOT APPLICABLE for an agent not yet received (EC-AE-5)."""

    UNRELATED = "UNRELATED"
    UNLIKELY = "UNLIKELY"
    POSSIBLE = "POSSIBLE"
    PROBABLE = "PROBABLE"
    DEFINITE = "DEFINITE"
    NOT_APPLICABLE = "NOT APPLICABLE"


class ActionTaken(StrEnum):
    """Action taken with one study treatment (form 17 acn_*, AEACN)."""

    DOSE_NOT_CHANGED = "DOSE NOT CHANGED"
    DOSE_REDUCED = "DOSE REDUCED"
    DRUG_INTERRUPTED = "DRUG INTERRUPTED"
    DRUG_WITHDRAWN = "DRUG WITHDRAWN"
    NOT_APPLICABLE = "NOT APPLICABLE"


# R7.1: "related" = possible, probable or definite.
RELATED: frozenset[Relationship] = frozenset(
    {Relationship.POSSIBLE, Relationship.PROBABLE, Relationship.DEFINITE}
)

# Form 17: AEREL = the strongest of the three attributions (sponsor rule).
_STRENGTH: Mapping[Relationship, int] = {
    Relationship.NOT_APPLICABLE: 0,
    Relationship.UNRELATED: 1,
    Relationship.UNLIKELY: 2,
    Relationship.POSSIBLE: 3,
    Relationship.PROBABLE: 4,
    Relationship.DEFINITE: 5,
}

# R7.4, EC-AE-3: site -> sponsor within 24 h of awareness; SUSAR to regulators by day 7 (fatal or
# life-threatening, follow-up within 8 more days) or day 15 (other), counted from the sponsor's day 0.
SITE_REPORT_HOURS = 24
SUSAR_FATAL_DAYS = 7
SUSAR_OTHER_DAYS = 15
SUSAR_FOLLOW_UP_DAYS = 8

# D8: AEs are collected to last dose + 30 days; SAEs and irAEs to + 90 days.
AE_WINDOW_DAYS = 30
AE_WINDOW_EXTENDED_DAYS = 90


def is_related(relationship: Relationship) -> bool:
    """Return True for possible, probable or definite (R7.1)."""
    return Relationship(relationship) in RELATED


def strongest_relationship(relationships: Iterable[Relationship]) -> Relationship:
    """Return the strongest attribution (form 17 AEREL); NOT APPLICABLE if none is given."""
    return max(
        (Relationship(r) for r in relationships),
        key=_STRENGTH.__getitem__,
        default=Relationship.NOT_APPLICABLE,
    )


@dataclass(frozen=True)
class SeriousnessCriteria:
    """The ICH E2A seriousness criteria (R7.3; form 17 AESDTH ... AESMIE)."""

    death: bool = False
    life_threatening: bool = False
    hospitalisation: bool = False
    disability: bool = False
    congenital_anomaly: bool = False
    important_medical_event: bool = False

    @property
    def any(self) -> bool:
        return (
            self.death
            or self.life_threatening
            or self.hospitalisation
            or self.disability
            or self.congenital_anomaly
            or self.important_medical_event
        )

    @property
    def fatal_or_life_threatening(self) -> bool:
        """R7.4: these SUSARs have the 7-day deadline."""
        return self.death or self.life_threatening


def seriousness_errors(*, serious: bool, criteria: SeriousnessCriteria, grade: int) -> list[str]:
    """Return form 17 refusals: serious = Y exactly when a criterion is Y (EC-AE-3); grade 5 is always
    serious with death (EC-AE-2, D8). Seriousness is otherwise never derived from grade (R7.3)."""
    errors: list[str] = []
    if serious and not criteria.any:
        errors.append("serious = Y needs at least one seriousness criterion = Y (R7.3, EC-AE-3)")
    if not serious and criteria.any:
        errors.append("a seriousness criterion is Y, so serious must be Y (R7.3, EC-AE-3)")
    if grade == 5 and not (serious and criteria.death):
        errors.append("grade 5 means death: serious = Y and aesdth = Y are required (D8, EC-AE-2)")
    if criteria.death and grade != 5:
        errors.append(f"aesdth = Y (fatal) requires grade 5, not grade {grade} (EC-AE-2)")
    return errors


class DeadlineState(StrEnum):
    """State of one reporting deadline."""

    OPEN = "OPEN"  # not done, due in the future
    OVERDUE = "OVERDUE"  # not done, due in the past
    MET = "MET"  # done on or before the due time
    LATE = "LATE"  # done after the due time


@dataclass(frozen=True)
class Deadline:
    """One deadline; ``time_left`` is due - now while not done (negative when overdue), due - done after."""

    due_at: datetime
    state: DeadlineState
    time_left: timedelta
    done_at: datetime | None


def _require_aware(value: datetime, name: str) -> None:
    if not isinstance(value, datetime):
        raise SafetyError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise SafetyError(f"{name} must be timezone-aware, got naive {value.isoformat()}")


def deadline(due_at: datetime, *, done_at: datetime | None, now: datetime) -> Deadline:
    """Return the state of a deadline at ``now``.

    Compared in UTC: Python compares and subtracts datetimes sharing one tzinfo by wall time, which is
    wrong across a DST change.
    """
    _require_aware(due_at, "due_at")
    _require_aware(now, "now")
    due_utc = due_at.astimezone(UTC)
    if done_at is not None:
        _require_aware(done_at, "done_at")
        done_utc = done_at.astimezone(UTC)
        state = DeadlineState.MET if done_utc <= due_utc else DeadlineState.LATE
        return Deadline(due_at=due_at, state=state, time_left=due_utc - done_utc, done_at=done_at)
    now_utc = now.astimezone(UTC)
    state = DeadlineState.OPEN if now_utc <= due_utc else DeadlineState.OVERDUE
    return Deadline(due_at=due_at, state=state, time_left=due_utc - now_utc, done_at=None)


def is_susar(*, serious: bool, relationships: Iterable[Relationship], expected: bool | None) -> bool | None:
    """Return whether the event is a SUSAR: serious, related to any agent, unexpected (R7.4, EC-AE-3).

    None when it is serious and related but expectedness is not yet assessed against the reference safety
    information: the clock then treats it as a SUSAR until someone decides.
    """
    if not serious or not any(is_related(r) for r in relationships):
        return False
    if expected is None:
        return None
    return not expected


@dataclass(frozen=True)
class SeriousEvent:
    """The form 17 fields the reporting clock needs."""

    serious: bool
    criteria: SeriousnessCriteria
    rel_sabr: Relationship
    rel_axitinib: Relationship
    rel_toripalimab: Relationship
    expected: bool | None
    awareness_at: datetime | None
    reported_at: datetime | None

    @property
    def relationships(self) -> tuple[Relationship, Relationship, Relationship]:
        return (self.rel_sabr, self.rel_axitinib, self.rel_toripalimab)


@dataclass(frozen=True)
class SaeClock:
    """Reporting deadlines of one SAE (R7.4, EC-AE-3).

    ``site`` is the 24 h site -> sponsor report. ``susar`` is True/False, or None while expectedness is
    unassessed (deadlines then computed as for a SUSAR). ``sponsor`` is the expedited report to regulators;
    ``follow_up`` the 8-day follow-up of a fatal or life-threatening SUSAR. ``sponsor_day0_provisional`` is
    True when the sponsor's day 0 is not known yet and the site awareness time stands in for it.
    """

    site: Deadline
    susar: bool | None
    sponsor_day0: datetime | None
    sponsor_day0_provisional: bool
    sponsor: Deadline | None
    follow_up: Deadline | None


def sae_clock(
    event: SeriousEvent,
    *,
    now: datetime,
    sponsor_aware_at: datetime | None = None,
    regulator_reported_at: datetime | None = None,
    follow_up_reported_at: datetime | None = None,
) -> SaeClock:
    """Return the SAE/SUSAR deadlines and their state at ``now`` (R7.4, EC-AE-3).

    Site due = awareness + 24 h. The sponsor's day 0 is ``sponsor_aware_at`` if given, else the time the
    site's report was sent (``reported_at``), else provisionally the site awareness time. SUSAR due = day 0
    + 7 days if fatal or life-threatening, else + 15 days; the follow-up of the 7-day report is due 8 days
    after it (ICH E2A). Calendar days are added to the exact time, so the due time never falls late.
    """
    if not event.serious:
        raise SafetyError("the SAE clock runs only for serious = Y (EC-AE-3)")
    if event.awareness_at is None:
        raise SafetyError("a serious AE needs awareness_at, the time the site became aware (EC-AE-3)")
    _require_aware(event.awareness_at, "awareness_at")
    if event.reported_at is not None:
        _require_aware(event.reported_at, "reported_at")
        if event.reported_at.astimezone(UTC) < event.awareness_at.astimezone(UTC):
            raise SafetyError("reported_at is before awareness_at (EC-AE-3)")
    # 24 elapsed hours, so added in UTC; shown back in the awareness time zone.
    site_due = (event.awareness_at.astimezone(UTC) + timedelta(hours=SITE_REPORT_HOURS)).astimezone(
        event.awareness_at.tzinfo
    )
    site = deadline(site_due, done_at=event.reported_at, now=now)
    susar = is_susar(serious=True, relationships=event.relationships, expected=event.expected)
    if susar is False:
        return SaeClock(
            site=site,
            susar=False,
            sponsor_day0=None,
            sponsor_day0_provisional=False,
            sponsor=None,
            follow_up=None,
        )
    day0 = sponsor_aware_at or event.reported_at
    provisional = day0 is None
    day0 = event.awareness_at if day0 is None else day0
    _require_aware(day0, "sponsor_aware_at")
    # Calendar days: the same local time on day 7 or 15 in day 0's time zone.
    fatal = event.criteria.fatal_or_life_threatening
    sponsor_due = day0 + timedelta(days=SUSAR_FATAL_DAYS if fatal else SUSAR_OTHER_DAYS)
    sponsor = deadline(sponsor_due, done_at=regulator_reported_at, now=now)
    follow_up = None
    if fatal:
        follow_up = deadline(
            sponsor_due + timedelta(days=SUSAR_FOLLOW_UP_DAYS), done_at=follow_up_reported_at, now=now
        )
    return SaeClock(
        site=site,
        susar=susar,
        sponsor_day0=day0,
        sponsor_day0_provisional=provisional,
        sponsor=sponsor,
        follow_up=follow_up,
    )


def ae_window_end(
    last_dose: date,
    *,
    serious: bool,
    immune_related: bool,
    window_days: int = AE_WINDOW_DAYS,
    extended_window_days: int = AE_WINDOW_EXTENDED_DAYS,
) -> date:
    """Return the last day of AE collection: last dose + 30 days, + 90 for serious or immune-related (D8)."""
    days = extended_window_days if serious or immune_related else window_days
    return last_dose + timedelta(days=days)


def is_treatment_emergent(
    *,
    onset: date,
    treatment_start: date | None,
    last_dose: date | None,
    serious: bool,
    immune_related: bool,
    window_days: int = AE_WINDOW_DAYS,
    extended_window_days: int = AE_WINDOW_EXTENDED_DAYS,
) -> bool:
    """Return the TEAE flag: onset in [treatment start, last dose + 30 d], + 90 d for serious or
    immune-related AEs (D8, EC-AE-5). No treatment start = never treated = not emergent; no last dose =
    still on treatment, so the window is open."""
    if treatment_start is None or onset < treatment_start:
        return False
    if last_dose is None:
        return True
    if last_dose < treatment_start:
        raise SafetyError(f"last dose {last_dose} is before treatment start {treatment_start}")
    end = ae_window_end(
        last_dose,
        serious=serious,
        immune_related=immune_related,
        window_days=window_days,
        extended_window_days=extended_window_days,
    )
    return onset <= end
