"""Attribution, seriousness, the SAE/SUSAR clock and the TEAE flag (DOMAIN.md R7.1-R7.4, D8; EC-AE-2/3/5)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from adverse_events.safety import (
    Deadline,
    DeadlineState,
    Relationship,
    SaeClock,
    SafetyError,
    SeriousEvent,
    SeriousnessCriteria,
    ae_window_end,
    deadline,
    is_related,
    is_susar,
    is_treatment_emergent,
    sae_clock,
    seriousness_errors,
    strongest_relationship,
)

R = Relationship
SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
AWARE = datetime(2025, 5, 1, 10, 0, tzinfo=SHANGHAI)
H = timedelta(hours=1)
DAYS = timedelta(days=1)


# --- Attribution (R7.1) ---


@pytest.mark.parametrize(
    ("relationship", "related"),
    [
        (R.UNRELATED, False),
        (R.UNLIKELY, False),
        (R.POSSIBLE, True),
        (R.PROBABLE, True),
        (R.DEFINITE, True),
        (R.NOT_APPLICABLE, False),
    ],
)
def test_is_related(relationship: Relationship, related: bool) -> None:
    assert is_related(relationship) is related


@pytest.mark.parametrize(
    ("relationships", "strongest"),
    [
        ([R.UNRELATED, R.POSSIBLE, R.UNLIKELY], R.POSSIBLE),
        ([R.DEFINITE, R.PROBABLE, R.NOT_APPLICABLE], R.DEFINITE),
        ([R.NOT_APPLICABLE, R.UNRELATED, R.NOT_APPLICABLE], R.UNRELATED),
        ([R.UNLIKELY, R.UNRELATED], R.UNLIKELY),
        ([R.PROBABLE, R.POSSIBLE], R.PROBABLE),
        ([], R.NOT_APPLICABLE),
    ],
)
def test_strongest_relationship(relationships: list[Relationship], strongest: Relationship) -> None:
    assert strongest_relationship(relationships) is strongest


@pytest.mark.parametrize(
    ("relationship", "value"),
    [(R.UNRELATED, "UNRELATED"), (R.NOT_APPLICABLE, "NOT APPLICABLE"), (R.DEFINITE, "DEFINITE")],
)
def test_submission_values(relationship: Relationship, value: str) -> None:
    assert relationship.value == value


# --- Seriousness (R7.3, EC-AE-2, EC-AE-3) ---

SERIOUSNESS = [
    ("non-serious G3", False, SeriousnessCriteria(), 3, 0),
    ("serious hospitalised G3", True, SeriousnessCriteria(hospitalisation=True), 3, 0),
    ("serious G1 medically important", True, SeriousnessCriteria(important_medical_event=True), 1, 0),
    ("serious without criterion", True, SeriousnessCriteria(), 3, 1),
    ("criterion without serious", False, SeriousnessCriteria(disability=True), 2, 1),
    ("G5 serious with death", True, SeriousnessCriteria(death=True), 5, 0),
    ("G5 not serious", False, SeriousnessCriteria(), 5, 1),
    ("G5 serious without death", True, SeriousnessCriteria(life_threatening=True), 5, 1),
    ("death at G4", True, SeriousnessCriteria(death=True), 4, 1),
    ("G4 non-serious is allowed", False, SeriousnessCriteria(), 4, 0),
]


@pytest.mark.parametrize(
    ("label", "serious", "criteria", "grade", "n_errors"), SERIOUSNESS, ids=[s[0] for s in SERIOUSNESS]
)
def test_seriousness_errors(
    label: str, serious: bool, criteria: SeriousnessCriteria, grade: int, n_errors: int
) -> None:
    assert len(seriousness_errors(serious=serious, criteria=criteria, grade=grade)) == n_errors


@pytest.mark.parametrize(
    ("criteria", "fatal_or_lt"),
    [
        (SeriousnessCriteria(death=True), True),
        (SeriousnessCriteria(life_threatening=True), True),
        (SeriousnessCriteria(hospitalisation=True), False),
        (SeriousnessCriteria(congenital_anomaly=True), False),
    ],
)
def test_fatal_or_life_threatening(criteria: SeriousnessCriteria, fatal_or_lt: bool) -> None:
    assert criteria.fatal_or_life_threatening is fatal_or_lt


# --- SUSAR (R7.4, EC-AE-3) ---

SUSAR = [
    ("serious, possible, unexpected", True, [R.UNRELATED, R.POSSIBLE, R.UNRELATED], False, True),
    (
        "serious, definite toripalimab, unexpected",
        True,
        [R.NOT_APPLICABLE, R.UNLIKELY, R.DEFINITE],
        False,
        True,
    ),
    ("serious, related, expected", True, [R.PROBABLE, R.UNRELATED, R.UNRELATED], True, False),
    ("serious, unlikely only", True, [R.UNLIKELY, R.UNLIKELY, R.UNRELATED], False, False),
    ("not serious, related, unexpected", False, [R.DEFINITE, R.DEFINITE, R.DEFINITE], False, False),
    ("serious, related, expectedness pending", True, [R.POSSIBLE, R.UNRELATED, R.UNRELATED], None, None),
    ("serious, unrelated, expectedness pending", True, [R.UNRELATED] * 3, None, False),
]


@pytest.mark.parametrize(
    ("label", "serious", "relationships", "expected", "susar"), SUSAR, ids=[s[0] for s in SUSAR]
)
def test_is_susar(
    label: str, serious: bool, relationships: list[Relationship], expected: bool | None, susar: bool | None
) -> None:
    assert is_susar(serious=serious, relationships=relationships, expected=expected) is susar


# --- Deadlines ---

DUE = datetime(2025, 5, 2, 10, 0, tzinfo=SHANGHAI)
DEADLINES = [
    ("open", None, DUE - 5 * H, DeadlineState.OPEN, 5 * H),
    ("open at the due time", None, DUE, DeadlineState.OPEN, timedelta(0)),
    ("overdue", None, DUE + 2 * H, DeadlineState.OVERDUE, -2 * H),
    ("met", DUE - 3 * H, DUE + 10 * DAYS, DeadlineState.MET, 3 * H),
    ("met at the due time", DUE, DUE + DAYS, DeadlineState.MET, timedelta(0)),
    ("late", DUE + H, DUE + DAYS, DeadlineState.LATE, -H),
    ("other time zone, open", None, datetime(2025, 5, 2, 1, 0, tzinfo=UTC), DeadlineState.OPEN, 1 * H),
]


@pytest.mark.parametrize(("label", "done", "now", "state", "left"), DEADLINES, ids=[d[0] for d in DEADLINES])
def test_deadline(
    label: str, done: datetime | None, now: datetime, state: DeadlineState, left: timedelta
) -> None:
    result = deadline(DUE, done_at=done, now=now)
    assert (result.state, result.time_left) == (state, left)


# --- SAE clock ---


def event(
    *,
    criteria: SeriousnessCriteria = SeriousnessCriteria(hospitalisation=True),  # noqa: B008
    rel_axitinib: Relationship = R.POSSIBLE,
    expected: bool | None = False,
    awareness_at: datetime | None = AWARE,
    reported_at: datetime | None = None,
    serious: bool = True,
) -> SeriousEvent:
    return SeriousEvent(
        serious=serious,
        criteria=criteria,
        rel_sabr=R.UNRELATED,
        rel_axitinib=rel_axitinib,
        rel_toripalimab=R.UNLIKELY,
        expected=expected,
        awareness_at=awareness_at,
        reported_at=reported_at,
    )


FATAL = SeriousnessCriteria(death=True)
LIFE = SeriousnessCriteria(life_threatening=True)
REPORTED = AWARE + 20 * H


def clock(ev: SeriousEvent, **kwargs: datetime) -> SaeClock:
    return sae_clock(ev, now=kwargs.pop("now", AWARE + H), **kwargs)


def due(item: Deadline | None) -> datetime | None:
    return None if item is None else item.due_at


CLOCK = [
    ("site due = awareness + 24 h", clock(event()).site.due_at, AWARE + DAYS),
    ("site open", clock(event()).site.state, DeadlineState.OPEN),
    ("site time left", clock(event()).site.time_left, 23 * H),
    ("site overdue", clock(event(), now=AWARE + 25 * H).site.state, DeadlineState.OVERDUE),
    ("site met", clock(event(reported_at=REPORTED)).site.state, DeadlineState.MET),
    ("site late", clock(event(reported_at=AWARE + 30 * H)).site.state, DeadlineState.LATE),
    ("SUSAR flag", clock(event()).susar, True),
    (
        "hospitalisation SUSAR: day 0 + 15",
        due(clock(event(reported_at=REPORTED)).sponsor),
        REPORTED + 15 * DAYS,
    ),
    (
        "fatal SUSAR follow-up: day 0 + 7 + 8",
        due(clock(event(criteria=FATAL, reported_at=REPORTED)).follow_up),
        REPORTED + 15 * DAYS,
    ),
    ("not a SUSAR: expected", clock(event(expected=True)).sponsor, None),
    ("not a SUSAR: unrelated", clock(event(rel_axitinib=R.UNLIKELY)).susar, False),
    ("not a SUSAR: no follow-up", clock(event(expected=True)).follow_up, None),
    ("pending expectedness", clock(event(expected=None)).susar, None),
    ("day 0 = report to sponsor", clock(event(reported_at=REPORTED)).sponsor_day0, REPORTED),
    ("day 0 from sponsor", clock(event(), sponsor_aware_at=AWARE + 2 * H).sponsor_day0, AWARE + 2 * H),
    ("day 0 provisional", clock(event()).sponsor_day0_provisional, True),
    ("day 0 known", clock(event(reported_at=REPORTED)).sponsor_day0_provisional, False),
]


@pytest.mark.parametrize(("label", "actual", "expected"), CLOCK, ids=[c[0] for c in CLOCK])
def test_sae_clock(label: str, actual: object, expected: object) -> None:
    assert actual == expected


SPONSOR_DUE = [
    ("fatal: day 0 + 7", FATAL, 7),
    ("life-threatening: day 0 + 7", LIFE, 7),
    ("hospitalisation: day 0 + 15", SeriousnessCriteria(hospitalisation=True), 15),
    ("disability: day 0 + 15", SeriousnessCriteria(disability=True), 15),
    ("important medical event: day 0 + 15", SeriousnessCriteria(important_medical_event=True), 15),
]


@pytest.mark.parametrize(("label", "criteria", "days"), SPONSOR_DUE, ids=[s[0] for s in SPONSOR_DUE])
def test_sponsor_due(label: str, criteria: SeriousnessCriteria, days: int) -> None:
    assert due(clock(event(criteria=criteria, reported_at=REPORTED)).sponsor) == REPORTED + days * DAYS


@pytest.mark.parametrize(
    ("criteria", "has_follow_up"),
    [(FATAL, True), (LIFE, True), (SeriousnessCriteria(hospitalisation=True), False)],
    ids=["fatal", "life-threatening", "hospitalisation"],
)
def test_follow_up_only_for_7_day_reports(criteria: SeriousnessCriteria, has_follow_up: bool) -> None:
    assert (clock(event(criteria=criteria)).follow_up is not None) is has_follow_up


@pytest.mark.parametrize(
    ("now", "done", "state"),
    [
        (REPORTED + 6 * DAYS, None, DeadlineState.OPEN),
        (REPORTED + 8 * DAYS, None, DeadlineState.OVERDUE),
        (REPORTED + 8 * DAYS, REPORTED + 5 * DAYS, DeadlineState.MET),
        (REPORTED + 9 * DAYS, REPORTED + 7 * DAYS + H, DeadlineState.LATE),
    ],
    ids=["open", "overdue", "met", "late"],
)
def test_sponsor_state(now: datetime, done: datetime | None, state: DeadlineState) -> None:
    result = sae_clock(event(criteria=FATAL, reported_at=REPORTED), now=now, regulator_reported_at=done)
    assert (None if result.sponsor is None else result.sponsor.state) is state


def test_site_clock_counts_elapsed_hours_across_dst() -> None:
    # 29 Mar 2025 12:00 CET + 24 elapsed hours = 30 Mar 13:00 CEST (the clocks went forward).
    aware = datetime(2025, 3, 29, 12, 0, tzinfo=BERLIN)
    result = sae_clock(event(awareness_at=aware), now=aware)
    assert (result.site.due_at.hour, result.site.time_left) == (13, 24 * H)


@pytest.mark.parametrize(
    "ev",
    [
        event(serious=False),
        event(awareness_at=None),
        event(awareness_at=datetime(2025, 5, 1, 10, 0)),
        event(reported_at=datetime(2025, 5, 1, 12, 0)),
        event(reported_at=AWARE - H),
    ],
    ids=["not-serious", "no-awareness", "naive-awareness", "naive-report", "report-before-awareness"],
)
def test_sae_clock_errors(ev: SeriousEvent) -> None:
    with pytest.raises(SafetyError):
        sae_clock(ev, now=AWARE)


def test_sae_clock_naive_now() -> None:
    with pytest.raises(SafetyError, match="timezone-aware"):
        sae_clock(event(), now=datetime(2025, 5, 1, 12, 0))


def test_event_is_frozen() -> None:
    with pytest.raises(AttributeError):
        event().serious = False  # type: ignore[misc]


def test_event_relationships_in_agent_order() -> None:
    assert replace(event(), rel_sabr=R.DEFINITE).relationships == (R.DEFINITE, R.POSSIBLE, R.UNLIKELY)


# --- Treatment-emergent (D8, EC-AE-5) ---

START = date(2025, 1, 1)
LAST = START + timedelta(days=100)

TEAE = [
    ("day before start", -1, LAST, False, False, False),
    ("start day", 0, LAST, False, False, True),
    ("last dose + 30", 130, LAST, False, False, True),
    ("last dose + 31", 131, LAST, False, False, False),
    ("serious at + 31", 131, LAST, True, False, True),
    ("serious at + 90", 190, LAST, True, False, True),
    ("serious at + 91", 191, LAST, True, False, False),
    ("irAE at + 90", 190, LAST, False, True, True),
    ("irAE at + 91", 191, LAST, False, True, False),
    ("still on treatment", 500, None, False, False, True),
]


@pytest.mark.parametrize(
    ("label", "onset_day", "last_dose", "serious", "immune", "emergent"), TEAE, ids=[t[0] for t in TEAE]
)
def test_treatment_emergent(
    label: str, onset_day: int, last_dose: date | None, serious: bool, immune: bool, emergent: bool
) -> None:
    result = is_treatment_emergent(
        onset=START + timedelta(days=onset_day),
        treatment_start=START,
        last_dose=last_dose,
        serious=serious,
        immune_related=immune,
    )
    assert result is emergent


def test_never_treated_is_not_emergent() -> None:
    assert not is_treatment_emergent(
        onset=START, treatment_start=None, last_dose=None, serious=True, immune_related=True
    )


def test_last_dose_before_start() -> None:
    with pytest.raises(SafetyError):
        is_treatment_emergent(
            onset=START, treatment_start=START, last_dose=START - DAYS, serious=False, immune_related=False
        )


@pytest.mark.parametrize(
    ("serious", "immune", "days"),
    [(False, False, 30), (True, False, 90), (False, True, 90), (True, True, 90)],
)
def test_ae_window_end(serious: bool, immune: bool, days: int) -> None:
    assert ae_window_end(LAST, serious=serious, immune_related=immune) == LAST + timedelta(days=days)
