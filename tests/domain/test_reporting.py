"""Safety tables (DOMAIN.md R7.1-R7.3, R5.8; CRF-SPEC form 17, EC-AE-4).

One fixed data set of 11 episodes in 6 patients, safety population N = 10:

| id | patient | term          | grade | parent | related             | flags            | action                       |
|----|---------|---------------|-------|--------|---------------------|------------------|------------------------------|
| 1  | P1      | Fatigue       | 1     |        | axitinib possible   |                  |                              |
| 2  | P1      | Fatigue       | 3     | 1      | axitinib possible   |                  | axitinib interrupted         |
| 3  | P1      | Hypertension  | 2     |        | axitinib probable   |                  | axitinib reduced             |
| 4  | P2      | Diarrhea      | 2     |        | axi + tori possible |                  |                              |
| 5  | P2      | Colitis       | 3     |        | tori probable       | serious, irAE    | tori withdrawn, axi interr.  |
| 6  | P3      | Pneumonitis   | 2     |        | tori definite, SABR | irAE             | tori interrupted             |
| 7  | P3      | Pneumonitis   | 4     | 6      | tori definite, SABR | serious, irAE    | tori withdrawn               |
| 8  | P4      | Fatigue       | 2     |        | none                |                  |                              |
| 9  | P5      | Death NOS     | 5     |        | none                | serious          |                              |
| 10 | P6      | Hypertension  | 1     |        | axitinib possible   |                  |                              |
| 11 | P1      | Diarrhea      | 1     |        | none                |                  |                              |
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

import pytest

from adverse_events.reporting import (
    ActionRow,
    AeEpisode,
    Count,
    GradeCounts,
    ReportingError,
    by_soc_and_term,
    immune_related_by_soc_and_term,
    immune_related_by_worst_grade,
    leading_to_action,
    merge_episodes,
    overview,
    patients_by_worst_grade,
    related_by_agent,
    related_by_soc_and_term,
    related_to,
    serious_by_soc_and_term,
    serious_by_worst_grade,
)
from adverse_events.safety import ActionTaken, Agent, Relationship

R = Relationship
ACT = ActionTaken
GEN = "General disorders and administration site conditions"
GI = "Gastrointestinal disorders"
VASC = "Vascular disorders"
RESP = "Respiratory, thoracic and mediastinal disorders"
N = 10
START = date(2025, 1, 6)


def ep(
    episode_id: int,
    patient: str,
    term: str,
    soc: str,
    grade: int,
    *,
    parent: int | None = None,
    serious: bool = False,
    immune: bool = False,
    sabr: Relationship = R.UNRELATED,
    axi: Relationship = R.UNRELATED,
    tori: Relationship = R.UNRELATED,
    acn_sabr: ActionTaken = ACT.NOT_APPLICABLE,
    acn_axi: ActionTaken = ACT.DOSE_NOT_CHANGED,
    acn_tori: ActionTaken = ACT.DOSE_NOT_CHANGED,
) -> AeEpisode:
    return AeEpisode(
        episode_id=episode_id,
        patient_id=patient,
        term=term,
        soc=soc,
        grade=grade,
        serious=serious,
        immune_related=immune,
        rel_sabr=sabr,
        rel_axitinib=axi,
        rel_toripalimab=tori,
        acn_sabr=acn_sabr,
        acn_axitinib=acn_axi,
        acn_toripalimab=acn_tori,
        onset_date=START + timedelta(days=episode_id * 7),
        parent_episode_id=parent,
    )


EPISODES = [
    ep(1, "P1", "Fatigue", GEN, 1, axi=R.POSSIBLE),
    ep(2, "P1", "Fatigue", GEN, 3, parent=1, axi=R.POSSIBLE, acn_axi=ACT.DRUG_INTERRUPTED),
    ep(3, "P1", "Hypertension", VASC, 2, axi=R.PROBABLE, acn_axi=ACT.DOSE_REDUCED),
    ep(4, "P2", "Diarrhea", GI, 2, axi=R.POSSIBLE, tori=R.POSSIBLE),
    ep(
        5,
        "P2",
        "Colitis",
        GI,
        3,
        serious=True,
        immune=True,
        tori=R.PROBABLE,
        acn_tori=ACT.DRUG_WITHDRAWN,
        acn_axi=ACT.DRUG_INTERRUPTED,
    ),
    ep(
        6,
        "P3",
        "Pneumonitis",
        RESP,
        2,
        immune=True,
        tori=R.DEFINITE,
        sabr=R.POSSIBLE,
        acn_tori=ACT.DRUG_INTERRUPTED,
    ),
    ep(
        7,
        "P3",
        "Pneumonitis",
        RESP,
        4,
        parent=6,
        serious=True,
        immune=True,
        tori=R.DEFINITE,
        sabr=R.POSSIBLE,
        acn_tori=ACT.DRUG_WITHDRAWN,
    ),
    ep(8, "P4", "Fatigue", GEN, 2),
    ep(9, "P5", "Death NOS", GEN, 5, serious=True),
    ep(10, "P6", "Hypertension", VASC, 1, axi=R.POSSIBLE),
    ep(11, "P1", "Diarrhea", GI, 1),
]


def c(n: int, pct: str) -> Count:
    return Count(n=n, pct=Decimal(pct))


def grades_of(counts: GradeCounts) -> tuple[int, ...]:
    """(any, G1, G2, G3, G4, G5, G>=3, events) as plain numbers, for compact table rows."""
    return (
        counts.any_grade.n,
        *(counts.grade(g).n for g in (1, 2, 3, 4, 5)),
        counts.grade_3_or_higher.n,
        counts.events,
    )


# --- All AEs by worst grade ---

ALL_BY_GRADE = [
    ("any grade", lambda t: t.any_grade, c(6, "60.0")),
    ("worst G1", lambda t: t.grade(1), c(1, "10.0")),
    ("worst G2", lambda t: t.grade(2), c(1, "10.0")),
    ("worst G3", lambda t: t.grade(3), c(2, "20.0")),
    ("worst G4", lambda t: t.grade(4), c(1, "10.0")),
    ("worst G5", lambda t: t.grade(5), c(1, "10.0")),
    ("G3 or higher", lambda t: t.grade_3_or_higher, c(4, "40.0")),
    ("events (chains 1-2 and 6-7 count once)", lambda t: t.events, 9),
]


@pytest.mark.parametrize(("label", "pick", "expected"), ALL_BY_GRADE, ids=[a[0] for a in ALL_BY_GRADE])
def test_patients_by_worst_grade(label: str, pick: Callable[[GradeCounts], object], expected: object) -> None:
    assert pick(patients_by_worst_grade(EPISODES, N)) == expected


# --- SOC x term ---

SOC_TERM_ROWS = [
    # (soc, term): (any, G1, G2, G3, G4, G5, G>=3, events)
    ((GEN, None), (3, 0, 1, 1, 0, 1, 2, 3)),
    ((GEN, "Fatigue"), (2, 0, 1, 1, 0, 0, 1, 2)),
    ((GEN, "Death NOS"), (1, 0, 0, 0, 0, 1, 1, 1)),
    ((GI, None), (2, 1, 0, 1, 0, 0, 1, 3)),
    ((GI, "Diarrhea"), (2, 1, 1, 0, 0, 0, 0, 2)),
    ((GI, "Colitis"), (1, 0, 0, 1, 0, 0, 1, 1)),
    ((VASC, None), (2, 1, 1, 0, 0, 0, 0, 2)),
    ((VASC, "Hypertension"), (2, 1, 1, 0, 0, 0, 0, 2)),
    ((RESP, None), (1, 0, 0, 0, 1, 0, 1, 1)),
    ((RESP, "Pneumonitis"), (1, 0, 0, 0, 1, 0, 1, 1)),
]


def test_soc_term_order() -> None:
    # SOCs by patients (desc) then name; each SOC row precedes its terms, also by patients then name.
    rows = by_soc_and_term(EPISODES, N)
    assert [(row.soc, row.term) for row in rows] == [key for key, _ in SOC_TERM_ROWS]


@pytest.mark.parametrize(
    ("key", "numbers"), SOC_TERM_ROWS, ids=[f"{k[0][:12]}-{k[1]}" for k, _ in SOC_TERM_ROWS]
)
def test_soc_term_counts(key: tuple[str, str | None], numbers: tuple[int, ...]) -> None:
    rows = {(row.soc, row.term): row for row in by_soc_and_term(EPISODES, N)}
    assert grades_of(rows[key].counts) == numbers


def test_soc_term_percent() -> None:
    rows = {(row.soc, row.term): row for row in by_soc_and_term(EPISODES, N)}
    assert rows[(GEN, None)].counts.any_grade == c(3, "30.0")


# --- Treatment-related per agent (R7.1, R7.2) ---

RELATED = [
    (Agent.SABR, (1, 0, 0, 0, 1, 0, 1, 1)),
    (Agent.AXITINIB, (3, 1, 1, 1, 0, 0, 1, 4)),
    (Agent.TORIPALIMAB, (2, 0, 0, 1, 1, 0, 2, 3)),
    (None, (4, 1, 0, 2, 1, 0, 3, 6)),
]


@pytest.mark.parametrize(("agent", "numbers"), RELATED, ids=["sabr", "axitinib", "toripalimab", "any"])
def test_related_by_agent(agent: Agent | None, numbers: tuple[int, ...]) -> None:
    rows = {row.agent: row for row in related_by_agent(EPISODES, N)}
    assert grades_of(rows[agent].counts) == numbers


def test_related_by_agent_row_order() -> None:
    assert [row.agent for row in related_by_agent(EPISODES, N)] == [
        Agent.SABR,
        Agent.AXITINIB,
        Agent.TORIPALIMAB,
        None,
    ]


def test_related_soc_term_for_axitinib() -> None:
    rows = related_by_soc_and_term(EPISODES, N, agent=Agent.AXITINIB)
    assert [(row.soc, row.term, row.counts.any_grade.n) for row in rows] == [
        (VASC, None, 2),
        (VASC, "Hypertension", 2),
        (GI, None, 1),
        (GI, "Diarrhea", 1),
        (GEN, None, 1),
        (GEN, "Fatigue", 1),
    ]


# --- SAEs and irAEs ---

SERIOUS_IRAE = [
    ("SAE", lambda: serious_by_worst_grade(EPISODES, N), (3, 0, 0, 1, 1, 1, 3, 3)),
    ("irAE", lambda: immune_related_by_worst_grade(EPISODES, N), (2, 0, 0, 1, 1, 0, 2, 2)),
]


@pytest.mark.parametrize(("label", "table", "numbers"), SERIOUS_IRAE, ids=[s[0] for s in SERIOUS_IRAE])
def test_serious_and_immune_related(
    label: str, table: Callable[[], GradeCounts], numbers: tuple[int, ...]
) -> None:
    assert grades_of(table()) == numbers


def test_serious_soc_term() -> None:
    # Only episode 7 of the pneumonitis chain is serious: the SAE table shows its grade 4.
    rows = serious_by_soc_and_term(EPISODES, N)
    assert [(row.term, grades_of(row.counts)) for row in rows if row.term] == [
        ("Colitis", (1, 0, 0, 1, 0, 0, 1, 1)),
        ("Death NOS", (1, 0, 0, 0, 0, 1, 1, 1)),
        ("Pneumonitis", (1, 0, 0, 0, 1, 0, 1, 1)),
    ]


def test_immune_related_soc_term() -> None:
    rows = immune_related_by_soc_and_term(EPISODES, N)
    assert [row.term for row in rows if row.term] == ["Colitis", "Pneumonitis"]


# --- AEs leading to an action (R7.2) ---

ACTIONS = [
    (Agent.SABR, ACT.DRUG_INTERRUPTED, c(0, "0.0")),
    (Agent.SABR, ACT.DRUG_WITHDRAWN, c(0, "0.0")),
    (Agent.AXITINIB, ACT.DRUG_INTERRUPTED, c(2, "20.0")),
    (Agent.AXITINIB, ACT.DOSE_REDUCED, c(1, "10.0")),
    (Agent.AXITINIB, ACT.DRUG_WITHDRAWN, c(0, "0.0")),
    (Agent.TORIPALIMAB, ACT.DRUG_INTERRUPTED, c(1, "10.0")),
    (Agent.TORIPALIMAB, ACT.DRUG_WITHDRAWN, c(2, "20.0")),
    (None, ACT.DRUG_WITHDRAWN, c(2, "20.0")),
]


def test_action_rows() -> None:
    assert [(row.agent, row.action) for row in leading_to_action(EPISODES, N)] == [
        (agent, action) for agent, action, _ in ACTIONS
    ]


@pytest.mark.parametrize(("agent", "action", "count"), ACTIONS, ids=[f"{a[0]}-{a[1].value}" for a in ACTIONS])
def test_leading_to_action(agent: Agent | None, action: ActionTaken, count: Count) -> None:
    rows = {(row.agent, row.action): row for row in leading_to_action(EPISODES, N)}
    assert rows[(agent, action)] == ActionRow(agent=agent, action=action, count=count)


# --- Overview ---

OVERVIEW = [
    ("Any AE", c(6, "60.0")),
    ("Grade >= 3 AE", c(4, "40.0")),
    ("Grade 5 AE", c(1, "10.0")),
    ("Treatment-related AE", c(4, "40.0")),
    ("Treatment-related grade >= 3 AE", c(3, "30.0")),
    ("Serious AE", c(3, "30.0")),
    ("Immune-related AE", c(2, "20.0")),
    ("AE leading to discontinuation of any study treatment", c(2, "20.0")),
]


@pytest.mark.parametrize(("index", "label", "count"), [(i, *o) for i, o in enumerate(OVERVIEW)])
def test_overview(index: int, label: str, count: Count) -> None:
    row = overview(EPISODES, N)[index]
    assert (row.label, row.count) == (label, count)


# --- Chains (EC-AE-4) ---


def test_merge_chains() -> None:
    events = merge_episodes(EPISODES)
    assert [(e.root_episode_id, e.episode_ids, e.worst_grade) for e in events[:2]] == [
        (1, (1, 2), 3),
        (3, (3,), 2),
    ]


def test_child_joins_chain_when_parent_filtered_out() -> None:
    # Grade 1 unrelated, then grade 2 related: the related table has one AE at grade 2, rooted at the first.
    episodes = [
        ep(1, "P1", "Nausea", GI, 1),
        ep(2, "P1", "Nausea", GI, 2, parent=1, axi=R.POSSIBLE),
    ]
    events = merge_episodes(episodes, where=related_to(Agent.AXITINIB))
    assert [(e.root_episode_id, e.episode_ids, e.worst_grade) for e in events] == [(1, (2,), 2)]


def test_three_episode_chain_counts_once_at_worst() -> None:
    episodes = [
        ep(1, "P1", "Nausea", GI, 2),
        ep(2, "P1", "Nausea", GI, 3, parent=1),
        ep(3, "P1", "Nausea", GI, 1, parent=2),
    ]
    assert grades_of(patients_by_worst_grade(episodes, 4)) == (1, 0, 0, 1, 0, 0, 1, 1)


def test_separate_episodes_count_as_separate_events() -> None:
    episodes = [ep(1, "P1", "Nausea", GI, 2), ep(2, "P1", "Nausea", GI, 3)]
    assert grades_of(patients_by_worst_grade(episodes, 4)) == (1, 0, 0, 1, 0, 0, 1, 2)


def test_no_episodes() -> None:
    assert grades_of(patients_by_worst_grade([], 5)) == (0, 0, 0, 0, 0, 0, 0, 0)


@pytest.mark.parametrize(
    ("n", "population", "text"),
    [(1, 3, "1 (33.3%)"), (2, 3, "2 (66.7%)"), (1, 8, "1 (12.5%)"), (3, 3, "3 (100.0%)")],
)
def test_percent_rounding(n: int, population: int, text: str) -> None:
    episodes = [ep(i, f"P{i}", "Nausea", GI, 1) for i in range(1, n + 1)]
    assert str(patients_by_worst_grade(episodes, population).any_grade) == text


ERRORS = [
    ("N = 0", EPISODES, 0),
    ("N not int", EPISODES, 10.0),
    ("N below patients with AEs", EPISODES, 5),
    ("duplicate episode id", [ep(1, "P1", "Nausea", GI, 1), ep(1, "P1", "Nausea", GI, 2)], N),
    ("unknown parent", [ep(2, "P1", "Nausea", GI, 1, parent=99)], N),
    ("parent cycle", [ep(1, "P1", "Nausea", GI, 1, parent=2), ep(2, "P1", "Nausea", GI, 2, parent=1)], N),
    ("parent of another patient", [ep(1, "P1", "Nausea", GI, 1), ep(2, "P2", "Nausea", GI, 2, parent=1)], N),
    ("grade 0", [ep(1, "P1", "Nausea", GI, 0)], N),
    ("grade 6", [ep(1, "P1", "Nausea", GI, 6)], N),
]


@pytest.mark.parametrize(("label", "episodes", "population"), ERRORS, ids=[e[0] for e in ERRORS])
def test_errors(label: str, episodes: list[AeEpisode], population: int) -> None:
    with pytest.raises(ReportingError):
        patients_by_worst_grade(episodes, population)


@pytest.mark.parametrize("grade", [0, 6])
def test_grade_accessor_errors(grade: int) -> None:
    with pytest.raises(ReportingError):
        patients_by_worst_grade(EPISODES, N).grade(grade)


@pytest.mark.parametrize(
    ("agent", "relationship", "action"),
    [
        (Agent.SABR, R.UNRELATED, ACT.NOT_APPLICABLE),
        (Agent.AXITINIB, R.POSSIBLE, ACT.DRUG_INTERRUPTED),
        (Agent.TORIPALIMAB, R.UNRELATED, ACT.DOSE_NOT_CHANGED),
    ],
)
def test_episode_per_agent_accessors(agent: Agent, relationship: Relationship, action: ActionTaken) -> None:
    assert (EPISODES[1].relationship(agent), EPISODES[1].action(agent)) == (relationship, action)
