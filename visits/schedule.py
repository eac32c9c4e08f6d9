"""The trial's visit schedule, declared in code, and the state of every expected form (issue 9 item 1).

Pure: standard library only; tested with tables in tests/test_visits_schedule.py. Input: one patient's anchor
dates (``Anchors``), the forms present (``FormRecord``), the coordinator's marks (``Mark``) and "today".
Output: one ``ExpectedForm`` per (visit, form) with its window and state (done / due / overdue / upcoming /
not required, with the reason). Labels and messages are the caller's (gettext): this module returns codes.

Visits (day 0 = treatment start, D1/D9):
- SCR: screening within 28 days before treatment start (R1.5): screening log, consent, eligibility, baseline,
  lesion registry (the baseline imaging).
- SABR: the SABR course, its targets and fractions, within 28 days of registration (until it starts).
- C1, C2, ...: treatment visits every 21 days +/- 3 (R4.6, EC-TO-3), planned from the last infusion given:
  the toripalimab form of that cycle (until it is permanently discontinued) and the AE review of the
  interval since the previous visit; axitinib at C1. They end at the end of treatment (EC-DS-1) and after
  ``toripalimab_max_days`` (R4.6 [DECIDE]: 2 years).
- IMG-Wn: imaging every 56 days +/- 7 from treatment start for 2 years, then every 84 days +/- 7 (D6),
  up to the 3-year follow-up cap (D7).
- SURV-Mn: survival contact every 3 months (91 days, D9) +/- 14 after the end of treatment, up to 3 years
  from treatment start (EC-DS-1, D7).
Death or the end of study stops everything (EC-DS-2): no visit opens after it, and a form still pending
when it happened is not required.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

Date = datetime.date
DAY = datetime.timedelta(days=1)


class ScheduleError(ValueError):
    """The anchors contradict each other (e.g. a death before registration)."""


class VisitKind(StrEnum):
    SCREENING = "screening"
    SABR = "sabr"
    CYCLE = "cycle"
    IMAGING = "imaging"
    SURVIVAL = "survival"


class State(StrEnum):
    DONE = "done"
    DUE = "due"  # the window is open today
    OVERDUE = "overdue"  # the window closed before today
    UPCOMING = "upcoming"  # the window opens after today
    NOT_REQUIRED = "not_required"


class Reason(StrEnum):
    """Why a form is not required, or a remark on a done form."""

    DEATH = "death"
    OFF_STUDY = "off_study"
    MARKED = "marked"  # a coordinator marked it not done / not applicable, with a reason
    NOTHING_TO_REPORT = "nothing_to_report"  # done: the review found nothing to record


class Match(StrEnum):
    ANY = "any"  # any row of the form, whatever its date (one-off forms)
    KEY = "key"  # the row that names this visit (toripalimab cycle number)
    DATE = "date"  # a row dated inside the visit's match range


#: Form slugs, as registered in the CRF registry by each app's crfs.py.
SCREENING_FORMS = ("screening", "consent", "eligibility", "baseline", "lesion")
SABR_FORMS = ("sabr-course", "sabr-target", "sabr-fraction")
TORIPALIMAB = "toripalimab"
AXITINIB = "axitinib"
AE_REVIEW = "adverse-event"
IMAGING = "tumour-assessment"
SURVIVAL = "survival"


@dataclass(frozen=True)
class ScheduleSettings:
    """The schedule's protocol choices, each a named setting (DOMAIN.md section 0)."""

    screening_days_before: int = 28  # R1.5: baseline never > 4 weeks before treatment
    start_within_days: int = 28  # [DECIDE] SABR and the first cycle within 4 weeks of registration
    cycle_days: int = 21  # R4.6 q3w
    cycle_window_days: int = 3  # EC-TO-3 q3w +/- 3
    toripalimab_max_days: int = 730  # R4.6 [DECIDE]: up to 24 months
    imaging_interval_days: int = 56  # D6
    imaging_window_days: int = 7  # D6
    imaging_switch_day: int = 730  # D6: q8w for 2 years
    imaging_late_interval_days: int = 84  # D6: then q12w
    follow_up_cap_days: int = 1095  # D7: 3 years
    survival_interval_days: int = 91  # 3 months of 30.4375 days (D9)
    survival_window_days: int = 14  # [DECIDE]
    horizon_days: int = 56  # list the visits opening up to this many days after today


DEFAULT_SETTINGS = ScheduleSettings()


@dataclass(frozen=True)
class Infusion:
    """One toripalimab cycle row: its number, date when given, and whether it stopped the drug."""

    cycle: int
    date: Date | None = None
    discontinued: bool = False


@dataclass(frozen=True)
class Anchors:
    """A patient's real dates the schedule hangs on (read from the CRFs by the caller)."""

    registration: Date | None
    treatment_start: Date | None = None  # D1: earliest first fraction / axitinib / toripalimab
    sabr_start: Date | None = None
    infusions: tuple[Infusion, ...] = ()
    end_of_treatment: Date | None = None  # last dose, once the disposition records the end of treatment
    off_study: Date | None = None
    death: Date | None = None


@dataclass(frozen=True)
class FormRecord:
    """A form present in the casebook: its slug, its clinical date, the visit it names (if any)."""

    slug: str
    date: Date | None
    visit_key: str = ""
    ref: object = None  # the caller's handle (row id) for links; passed through untouched


@dataclass(frozen=True)
class Mark:
    """A coordinator's mark on one expected form of one visit."""

    slug: str
    visit_key: str
    reason: str
    nothing_to_report: bool = False
    ref: object = None


@dataclass(frozen=True)
class FormSlot:
    slug: str
    match: Match
    match_from: Date | None = None  # DATE: rows dated in [match_from, match_to] belong to the visit
    match_to: Date | None = None
    loose_days: int = 0  # DATE: a row up to this far from the target still counts, flagged out of window


@dataclass(frozen=True)
class Visit:
    key: str
    kind: VisitKind
    number: int | None  # cycle number, study week (imaging) or month after end of treatment (survival)
    target: Date
    window_start: Date
    window_end: Date
    slots: tuple[FormSlot, ...] = ()


@dataclass(frozen=True)
class ExpectedForm:
    visit: Visit
    slug: str
    state: State
    reason: Reason | None = None
    reason_date: Date | None = None  # the death or off-study date behind the reason
    record: FormRecord | None = None
    mark: Mark | None = None
    out_of_window: bool = False

    @property
    def window_start(self) -> Date:
        return self.visit.window_start

    @property
    def window_end(self) -> Date:
        return self.visit.window_end

    @property
    def due_date(self) -> Date:
        return self.visit.target


# --- the visits ---------------------------------------------------------------------------------------------


def _days(n: int) -> datetime.timedelta:
    return datetime.timedelta(days=n)


def _stop(anchors: Anchors) -> tuple[Date | None, Reason | None]:
    """Return the date everything stops (death or end of study, the earlier) and why."""
    candidates = [
        (d, r) for d, r in ((anchors.death, Reason.DEATH), (anchors.off_study, Reason.OFF_STUDY)) if d
    ]
    if not candidates:
        return None, None
    # On the same day, death is the reason shown (EC-DS-2: off study for DEATH carries the death date).
    return min(candidates, key=lambda c: (c[0], c[1] != Reason.DEATH))


def _screening(anchors: Anchors, s: ScheduleSettings, registration: Date) -> Visit:
    start = anchors.treatment_start
    end = start if start else registration + _days(s.start_within_days)
    begin = (start or registration) - _days(s.screening_days_before)
    return Visit(
        key="SCR",
        kind=VisitKind.SCREENING,
        number=None,
        target=end,
        window_start=begin,
        window_end=end,
        slots=tuple(FormSlot(slug, Match.ANY) for slug in SCREENING_FORMS),
    )


def _sabr(anchors: Anchors, s: ScheduleSettings, registration: Date) -> Visit:
    if anchors.sabr_start:
        begin = end = anchors.sabr_start
    else:
        begin, end = registration, registration + _days(s.start_within_days)
    return Visit(
        key="SABR",
        kind=VisitKind.SABR,
        number=None,
        target=end,
        window_start=begin,
        window_end=end,
        slots=tuple(FormSlot(slug, Match.ANY) for slug in SABR_FORMS),
    )


def cycle_targets(
    anchors: Anchors, registration: Date, *, until: Date, s: ScheduleSettings = DEFAULT_SETTINGS
) -> list[tuple[int, Date, bool]]:
    """Return (cycle, planned date, toripalimab expected) for each treatment visit opening by ``until``.

    Cycle 1 is on the treatment start (or within ``start_within_days`` of registration until treatment
    starts); cycle n is planned from the last infusion given before it, + 21 days per cycle (R4.6).
    After a permanent discontinuation the visits go on every 21 days for the AE review of the drug that
    continues; they stop at the end of treatment (EC-DS-1) and after ``toripalimab_max_days``.
    """
    given: dict[int, Date] = {i.cycle: i.date for i in anchors.infusions if i.date is not None}
    stopped_after = min((i.cycle for i in anchors.infusions if i.discontinued), default=None)
    start = anchors.treatment_start
    first = start or registration + _days(s.start_within_days)
    limit = first + _days(s.toripalimab_max_days)
    out: list[tuple[int, Date, bool]] = []
    cycle = 1
    last_day, last_cycle = first, 1
    while True:
        planned = last_day + _days(s.cycle_days * (cycle - last_cycle))
        if planned > limit or planned - _days(s.cycle_window_days) > until:
            break
        if anchors.end_of_treatment and planned - _days(s.cycle_window_days) > anchors.end_of_treatment:
            break
        toripalimab = stopped_after is None or cycle <= stopped_after
        out.append((cycle, planned, toripalimab))
        if start is None:
            break  # not treated yet: only the first visit is expected
        if cycle in given:
            last_day, last_cycle = given[cycle], cycle
        cycle += 1
    return out


def _cycles(anchors: Anchors, s: ScheduleSettings, registration: Date, until: Date) -> list[Visit]:
    visits: list[Visit] = []
    w = _days(s.cycle_window_days)
    previous_end: Date | None = None
    for cycle, planned, toripalimab in cycle_targets(anchors, registration, until=until, s=s):
        begin, end = planned - w, planned + w
        if cycle == 1 and anchors.treatment_start is None:
            begin = registration
        # The AE review of cycle n covers the interval since the previous visit (D8: from the first treatment).
        ae_from = previous_end + DAY if previous_end else begin
        slots = [FormSlot(TORIPALIMAB, Match.KEY)] if toripalimab else []
        if cycle == 1:
            slots.append(FormSlot(AXITINIB, Match.ANY))
        slots.append(FormSlot(AE_REVIEW, Match.DATE, match_from=ae_from, match_to=end))
        visits.append(
            Visit(
                key=f"C{cycle}",
                kind=VisitKind.CYCLE,
                number=cycle,
                target=planned,
                window_start=begin,
                window_end=end,
                slots=tuple(slots),
            )
        )
        previous_end = end
    return visits


def imaging_days(s: ScheduleSettings = DEFAULT_SETTINGS) -> list[int]:
    """Return the study days of scheduled imaging: q8w to 2 years, then q12w to the 3-year cap (D6, D7)."""
    days: list[int] = []
    day = s.imaging_interval_days
    while day <= s.imaging_switch_day:
        days.append(day)
        day += s.imaging_interval_days
    day = (days[-1] if days else 0) + s.imaging_late_interval_days
    while day <= s.follow_up_cap_days:
        days.append(day)
        day += s.imaging_late_interval_days
    return days


def _imaging(anchors: Anchors, s: ScheduleSettings, until: Date) -> list[Visit]:
    start = anchors.treatment_start
    if start is None:
        return []
    w = _days(s.imaging_window_days)
    visits = []
    for day in imaging_days(s):
        target = start + _days(day)
        if target - w > until:
            break
        interval = s.imaging_interval_days if day <= s.imaging_switch_day else s.imaging_late_interval_days
        slot = FormSlot(
            IMAGING, Match.DATE, match_from=target - w, match_to=target + w, loose_days=interval // 2
        )
        visits.append(
            Visit(
                key=f"IMG-W{day // 7}",
                kind=VisitKind.IMAGING,
                number=day // 7,
                target=target,
                window_start=target - w,
                window_end=target + w,
                slots=(slot,),
            )
        )
    return visits


def _survival(anchors: Anchors, s: ScheduleSettings, until: Date) -> list[Visit]:
    eot = anchors.end_of_treatment
    if eot is None:
        return []
    cap = (anchors.treatment_start or eot) + _days(s.follow_up_cap_days)
    w = _days(s.survival_window_days)
    visits = []
    k = 1
    while True:
        target = eot + _days(k * s.survival_interval_days)
        if target > cap or target - w > until:
            break
        slot = FormSlot(
            SURVIVAL,
            Match.DATE,
            match_from=target - w,
            match_to=target + w,
            loose_days=s.survival_interval_days // 2,
        )
        visits.append(
            Visit(
                key=f"SURV-M{3 * k}",
                kind=VisitKind.SURVIVAL,
                number=3 * k,
                target=target,
                window_start=target - w,
                window_end=target + w,
                slots=(slot,),
            )
        )
        k += 1
    return visits


def visits_for(anchors: Anchors, *, today: Date, s: ScheduleSettings = DEFAULT_SETTINGS) -> list[Visit]:
    """Return the patient's visits that open by ``today + horizon`` and before death / end of study."""
    registration = anchors.registration
    if registration is None:
        return []  # screening patients are followed on the screening log, not on the schedule
    for name in ("death", "off_study"):
        when = getattr(anchors, name)
        if when is not None and when < registration:
            raise ScheduleError(f"{name} {when} is before the registration {registration}")
    until = today + _days(s.horizon_days)
    stop, _reason = _stop(anchors)
    if stop is not None:
        until = min(until, stop)
    visits = [_screening(anchors, s, registration), _sabr(anchors, s, registration)]
    visits += _cycles(anchors, s, registration, until)
    visits += _imaging(anchors, s, until)
    visits += _survival(anchors, s, until)
    # Nothing opens after death or the end of study (EC-DS-2); screening and SABR always stay listed.
    visits = [v for v in visits if v.kind in (VisitKind.SCREENING, VisitKind.SABR) or v.window_start <= until]
    return sorted(visits, key=lambda v: (v.target, _KIND_ORDER[v.kind], v.key))


_KIND_ORDER = {k: i for i, k in enumerate(VisitKind)}


# --- matching forms to visits -------------------------------------------------------------------------------


def _match(
    visits: Sequence[Visit], records: Iterable[FormRecord]
) -> dict[tuple[str, str], tuple[FormRecord, bool]]:
    """Assign each form row to at most one (visit, slug): exact window first, then the nearest loose match."""
    by_slug: dict[str, list[FormRecord]] = {}
    for r in records:
        by_slug.setdefault(r.slug, []).append(r)
    found: dict[tuple[str, str], tuple[FormRecord, bool]] = {}
    used: set[int] = set()
    dated: list[tuple[Visit, FormSlot]] = []
    for visit in visits:
        for slot in visit.slots:
            rows = by_slug.get(slot.slug, [])
            if slot.match is Match.ANY and rows:
                found[(visit.key, slot.slug)] = (rows[0], False)
            elif slot.match is Match.KEY:
                row = next((r for r in rows if r.visit_key == visit.key), None)
                if row is not None:
                    found[(visit.key, slot.slug)] = (row, False)
            elif slot.match is Match.DATE:
                dated.append((visit, slot))
    for visit, slot in dated:  # pass 1: inside the match range
        assert slot.match_from is not None and slot.match_to is not None
        for r in sorted(by_slug.get(slot.slug, []), key=lambda r: r.date or Date.min):
            if id(r) not in used and r.date and slot.match_from <= r.date <= slot.match_to:
                found[(visit.key, slot.slug)] = (r, False)
                used.add(id(r))
                break
    for visit, slot in dated:  # pass 2: a late or early row still belongs to the nearest open visit
        if (visit.key, slot.slug) in found or not slot.loose_days:
            continue
        near = [
            r
            for r in by_slug.get(slot.slug, [])
            if id(r) not in used and r.date and abs((r.date - visit.target).days) <= slot.loose_days
        ]
        if near:
            r = min(near, key=lambda r: abs((r.date - visit.target).days))  # type: ignore[operator]
            found[(visit.key, slot.slug)] = (r, True)
            used.add(id(r))
    return found


def expected_forms(
    anchors: Anchors,
    records: Iterable[FormRecord],
    marks: Iterable[Mark],
    *,
    today: Date,
    s: ScheduleSettings = DEFAULT_SETTINGS,
) -> list[ExpectedForm]:
    """Return every expected form of the patient with its window and its state on ``today``."""
    visits = visits_for(anchors, today=today, s=s)
    found = _match(visits, list(records))
    marked = {(m.visit_key, m.slug): m for m in marks}
    stop, stop_reason = _stop(anchors)
    out: list[ExpectedForm] = []
    for visit in visits:
        for slot in visit.slots:
            key = (visit.key, slot.slug)
            mark = marked.get(key)
            if key in found:
                record, late = found[key]
                out.append(ExpectedForm(visit, slot.slug, State.DONE, record=record, out_of_window=late))
            elif mark is not None and mark.nothing_to_report:
                out.append(ExpectedForm(visit, slot.slug, State.DONE, Reason.NOTHING_TO_REPORT, mark=mark))
            elif mark is not None:
                out.append(ExpectedForm(visit, slot.slug, State.NOT_REQUIRED, Reason.MARKED, mark=mark))
            elif stop is not None and visit.window_end >= stop:
                out.append(ExpectedForm(visit, slot.slug, State.NOT_REQUIRED, stop_reason, reason_date=stop))
            elif visit.window_end < today:
                out.append(ExpectedForm(visit, slot.slug, State.OVERDUE))
            elif visit.window_start <= today:
                out.append(ExpectedForm(visit, slot.slug, State.DUE))
            else:
                out.append(ExpectedForm(visit, slot.slug, State.UPCOMING))
    return out


@dataclass(frozen=True)
class Summary:
    done: int = 0
    due: int = 0
    overdue: int = 0
    upcoming: int = 0
    not_required: int = 0
    due_this_week: list[ExpectedForm] = field(default_factory=list)
    overdue_forms: list[ExpectedForm] = field(default_factory=list)


def due_this_week(forms: Iterable[ExpectedForm], *, today: Date, days: int = 7) -> list[ExpectedForm]:
    """Return the forms not yet done whose window is open today or opens within ``days`` days."""
    week_end = today + _days(days - 1)
    return [f for f in forms if f.state in (State.DUE, State.UPCOMING) and f.window_start <= week_end]


def summarize(forms: Sequence[ExpectedForm], *, today: Date) -> Summary:
    """Count the forms by state and list what is due this week and what is overdue."""
    counts = {state: sum(1 for f in forms if f.state is state) for state in State}
    return Summary(
        done=counts[State.DONE],
        due=counts[State.DUE],
        overdue=counts[State.OVERDUE],
        upcoming=counts[State.UPCOMING],
        not_required=counts[State.NOT_REQUIRED],
        due_this_week=due_this_week(forms, today=today),
        overdue_forms=[f for f in forms if f.state is State.OVERDUE],
    )
