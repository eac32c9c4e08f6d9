"""Safety tables over AE episodes: patients by worst grade, by SOC and term, related, serious,
immune-related, and AEs leading to a change in each study treatment.

Pure module: standard library only. Each form 17 row is one episode at one grade; a grade change closes
the row and opens a child (``parent_episode_id``), so a chain of linked episodes is one AE whose worst
grade wins (EC-AE-4). Percentages are of the safety population N passed in (ADSL SAFFL; R5.8: show the
n behind every %).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from adverse_events.safety import ActionTaken, Agent, Relationship, is_related

__all__ = [
    "ActionRow",
    "AdverseEvent",
    "AeEpisode",
    "AgentRow",
    "Count",
    "GradeCounts",
    "OverviewRow",
    "ReportingError",
    "SocTermRow",
    "by_soc_and_term",
    "immune_related_by_soc_and_term",
    "immune_related_by_worst_grade",
    "is_immune_related",
    "is_serious",
    "leading_to_action",
    "merge_episodes",
    "overview",
    "patients_by_worst_grade",
    "related_by_agent",
    "related_by_soc_and_term",
    "related_to",
    "serious_by_soc_and_term",
    "serious_by_worst_grade",
]

PatientId = str | int
GRADES = (1, 2, 3, 4, 5)


class ReportingError(ValueError):
    """The episodes or the population cannot make a consistent safety table."""


@dataclass(frozen=True)
class AeEpisode:
    """One form 17 row: one AE episode at one grade."""

    episode_id: int
    patient_id: PatientId
    term: str
    soc: str
    grade: int
    serious: bool
    immune_related: bool
    rel_sabr: Relationship
    rel_axitinib: Relationship
    rel_toripalimab: Relationship
    acn_sabr: ActionTaken
    acn_axitinib: ActionTaken
    acn_toripalimab: ActionTaken
    onset_date: date
    parent_episode_id: int | None = None

    def relationship(self, agent: Agent) -> Relationship:
        """Return the attribution to ``agent`` (R7.2)."""
        return {
            Agent.SABR: self.rel_sabr,
            Agent.AXITINIB: self.rel_axitinib,
            Agent.TORIPALIMAB: self.rel_toripalimab,
        }[Agent(agent)]

    def action(self, agent: Agent) -> ActionTaken:
        """Return the action taken with ``agent`` (R7.2)."""
        return {
            Agent.SABR: self.acn_sabr,
            Agent.AXITINIB: self.acn_axitinib,
            Agent.TORIPALIMAB: self.acn_toripalimab,
        }[Agent(agent)]


EpisodeFilter = Callable[[AeEpisode], bool]


@dataclass(frozen=True)
class AdverseEvent:
    """One AE: the episodes of a parent chain that pass a filter. Term and SOC are the first episode's."""

    root_episode_id: int
    patient_id: PatientId
    term: str
    soc: str
    worst_grade: int
    onset_date: date
    episode_ids: tuple[int, ...]


@dataclass(frozen=True)
class Count:
    """n patients and n as % of N, rounded half-up to 0.1 for display."""

    n: int
    pct: Decimal

    def __str__(self) -> str:
        return f"{self.n} ({self.pct}%)"


@dataclass(frozen=True)
class GradeCounts:
    """Patients by their worst grade; each patient counted once. ``events`` counts AEs (linked chains)."""

    any_grade: Count
    by_grade: tuple[Count, Count, Count, Count, Count]
    grade_3_or_higher: Count
    events: int

    def grade(self, grade: int) -> Count:
        """Return the count of patients whose worst grade is ``grade``."""
        if grade not in GRADES:
            raise ReportingError(f"grade must be 1-5, got {grade!r}")
        return self.by_grade[grade - 1]


@dataclass(frozen=True)
class SocTermRow:
    """One row of the SOC x term table; ``term`` None is the SOC's own row."""

    soc: str
    term: str | None
    counts: GradeCounts


@dataclass(frozen=True)
class AgentRow:
    """Treatment-related AEs for one agent; ``agent`` None = related to any study treatment."""

    agent: Agent | None
    counts: GradeCounts


@dataclass(frozen=True)
class ActionRow:
    """Patients with >= 1 AE that led to ``action`` with ``agent``; ``agent`` None = any study treatment."""

    agent: Agent | None
    action: ActionTaken
    count: Count


@dataclass(frozen=True)
class OverviewRow:
    """One line of the overall safety summary."""

    label: str
    count: Count


# --- Filters ---


def is_serious(episode: AeEpisode) -> bool:
    """SAE episodes (R7.3)."""
    return episode.serious


def is_immune_related(episode: AeEpisode) -> bool:
    """Investigator-flagged immune-related episodes (R7.2)."""
    return episode.immune_related


def related_to(agent: Agent | None) -> EpisodeFilter:
    """Return a filter for episodes related (possible, probable, definite; R7.1) to ``agent`` or any."""
    agents = tuple(Agent) if agent is None else (Agent(agent),)

    def predicate(episode: AeEpisode) -> bool:
        return any(is_related(episode.relationship(a)) for a in agents)

    return predicate


def _all(_: AeEpisode) -> bool:
    return True


# --- Chains and counting ---


def _roots(episodes: Sequence[AeEpisode]) -> dict[int, int]:
    """Map every episode id to the id of the first episode of its chain (EC-AE-4)."""
    by_id: dict[int, AeEpisode] = {}
    for episode in episodes:
        if episode.episode_id in by_id:
            raise ReportingError(f"episode {episode.episode_id} appears twice")
        by_id[episode.episode_id] = episode
    roots: dict[int, int] = {}
    for episode in episodes:
        seen = [episode.episode_id]
        current = episode
        while current.parent_episode_id is not None:
            parent = by_id.get(current.parent_episode_id)
            if parent is None:
                raise ReportingError(
                    f"episode {current.episode_id} links to unknown parent {current.parent_episode_id}"
                )
            if parent.patient_id != current.patient_id:
                raise ReportingError(
                    f"episode {current.episode_id} and its parent {parent.episode_id} "
                    "belong to different patients"
                )
            if parent.episode_id in seen:
                raise ReportingError(f"episode {episode.episode_id} is in a parent cycle")
            seen.append(parent.episode_id)
            current = parent
        roots[episode.episode_id] = current.episode_id
    return roots


def merge_episodes(
    episodes: Sequence[AeEpisode], *, where: EpisodeFilter | None = None
) -> tuple[AdverseEvent, ...]:
    """Group the episodes that pass ``where`` into AEs by parent chain; the worst grade wins (EC-AE-4).

    Chains are resolved over all ``episodes`` first, so a child still joins its chain when the parent does
    not pass the filter.
    """
    predicate = where or _all
    for episode in episodes:
        if isinstance(episode.grade, bool) or episode.grade not in GRADES:
            raise ReportingError(f"episode {episode.episode_id} has grade {episode.grade!r}, not 1-5")
    roots = _roots(episodes)
    by_id = {episode.episode_id: episode for episode in episodes}
    chains: dict[int, list[AeEpisode]] = defaultdict(list)
    for episode in episodes:
        if predicate(episode):
            chains[roots[episode.episode_id]].append(episode)
    events = []
    for root_id, members in chains.items():
        root = by_id[root_id]
        events.append(
            AdverseEvent(
                root_episode_id=root_id,
                patient_id=root.patient_id,
                term=root.term,
                soc=root.soc,
                worst_grade=max(member.grade for member in members),
                onset_date=root.onset_date,
                episode_ids=tuple(sorted(member.episode_id for member in members)),
            )
        )
    return tuple(sorted(events, key=lambda event: event.root_episode_id))


def _require_population(population_n: int, episodes: Sequence[AeEpisode]) -> None:
    if isinstance(population_n, bool) or not isinstance(population_n, int) or population_n < 1:
        raise ReportingError(f"the safety population N must be a positive int, got {population_n!r}")
    patients = {episode.patient_id for episode in episodes}
    if len(patients) > population_n:
        raise ReportingError(
            f"{len(patients)} patients have AEs but the safety population N is {population_n}"
        )


@lru_cache(maxsize=8192)
def _count(n: int, population_n: int) -> Count:
    # Counts are frozen, so one instance per (n, N) is shared (the recompute asks ~250,000 times per study).
    pct = (Decimal(n) * 100 / population_n).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return Count(n=n, pct=pct)


def patient_count(n: int, population_n: int) -> Count:
    """``n`` patients as a Count of N, as the tables show it (for tables summed over per-patient parts)."""
    if isinstance(population_n, bool) or not isinstance(population_n, int) or population_n < 1:
        raise ReportingError(f"the safety population N must be a positive int, got {population_n!r}")
    return _count(n, population_n)


def _grade_counts(events: Iterable[AdverseEvent], population_n: int) -> GradeCounts:
    events = list(events)
    worst: dict[PatientId, int] = {}
    for event in events:
        worst[event.patient_id] = max(worst.get(event.patient_id, 0), event.worst_grade)
    per_grade = [sum(1 for grade in worst.values() if grade == g) for g in GRADES]
    c1, c2, c3, c4, c5 = (_count(n, population_n) for n in per_grade)
    return GradeCounts(
        any_grade=_count(len(worst), population_n),
        by_grade=(c1, c2, c3, c4, c5),
        grade_3_or_higher=_count(sum(per_grade[2:]), population_n),
        events=len(events),
    )


# --- Tables ---


def patients_by_worst_grade(
    episodes: Sequence[AeEpisode], population_n: int, *, where: EpisodeFilter | None = None
) -> GradeCounts:
    """Return patients with any AE (passing ``where``) by their worst grade over all AEs."""
    _require_population(population_n, episodes)
    return _grade_counts(merge_episodes(episodes, where=where), population_n)


def by_soc_and_term(
    episodes: Sequence[AeEpisode], population_n: int, *, where: EpisodeFilter | None = None
) -> tuple[SocTermRow, ...]:
    """Return the SOC x term table by worst grade: each SOC row, then its terms.

    SOCs and terms are ordered by the number of patients (descending), then alphabetically. A patient counts
    once per term and once per SOC, at the worst grade within it.
    """
    _require_population(population_n, episodes)
    events = merge_episodes(episodes, where=where)
    by_soc: dict[str, list[AdverseEvent]] = defaultdict(list)
    for event in events:
        by_soc[event.soc].append(event)
    soc_blocks: list[tuple[GradeCounts, str, list[SocTermRow]]] = []
    for soc, soc_events in by_soc.items():
        by_term: dict[str, list[AdverseEvent]] = defaultdict(list)
        for event in soc_events:
            by_term[event.term].append(event)
        term_rows = [
            SocTermRow(soc=soc, term=term, counts=_grade_counts(term_events, population_n))
            for term, term_events in by_term.items()
        ]
        term_rows.sort(key=lambda row: (-row.counts.any_grade.n, (row.term or "").casefold()))
        soc_blocks.append((_grade_counts(soc_events, population_n), soc, term_rows))
    soc_blocks.sort(key=lambda block: (-block[0].any_grade.n, block[1].casefold()))
    rows: list[SocTermRow] = []
    for counts, soc, term_rows in soc_blocks:
        rows.append(SocTermRow(soc=soc, term=None, counts=counts))
        rows.extend(term_rows)
    return tuple(rows)


def related_by_agent(episodes: Sequence[AeEpisode], population_n: int) -> tuple[AgentRow, ...]:
    """Return treatment-related AEs by worst grade for SABR, axitinib, toripalimab and any (R7.1, R7.2)."""
    agents: list[Agent | None] = [*Agent, None]
    return tuple(
        AgentRow(
            agent=agent,
            counts=patients_by_worst_grade(episodes, population_n, where=related_to(agent)),
        )
        for agent in agents
    )


def related_by_soc_and_term(
    episodes: Sequence[AeEpisode], population_n: int, *, agent: Agent | None = None
) -> tuple[SocTermRow, ...]:
    """Return the SOC x term table of AEs related to ``agent`` (None = any agent)."""
    return by_soc_and_term(episodes, population_n, where=related_to(agent))


def serious_by_worst_grade(episodes: Sequence[AeEpisode], population_n: int) -> GradeCounts:
    """Return patients with an SAE by worst grade (R7.3)."""
    return patients_by_worst_grade(episodes, population_n, where=is_serious)


def serious_by_soc_and_term(episodes: Sequence[AeEpisode], population_n: int) -> tuple[SocTermRow, ...]:
    """Return the SOC x term table of SAEs (R7.3)."""
    return by_soc_and_term(episodes, population_n, where=is_serious)


def immune_related_by_worst_grade(episodes: Sequence[AeEpisode], population_n: int) -> GradeCounts:
    """Return patients with an irAE by worst grade (R7.2)."""
    return patients_by_worst_grade(episodes, population_n, where=is_immune_related)


def immune_related_by_soc_and_term(
    episodes: Sequence[AeEpisode], population_n: int
) -> tuple[SocTermRow, ...]:
    """Return the SOC x term table of irAEs (R7.2)."""
    return by_soc_and_term(episodes, population_n, where=is_immune_related)


# R4.7 / form 17: DOSE REDUCED exists for axitinib only; SABR and toripalimab are interrupted or withdrawn.
_ACTIONS: tuple[tuple[Agent | None, ActionTaken], ...] = (
    (Agent.SABR, ActionTaken.DRUG_INTERRUPTED),
    (Agent.SABR, ActionTaken.DRUG_WITHDRAWN),
    (Agent.AXITINIB, ActionTaken.DRUG_INTERRUPTED),
    (Agent.AXITINIB, ActionTaken.DOSE_REDUCED),
    (Agent.AXITINIB, ActionTaken.DRUG_WITHDRAWN),
    (Agent.TORIPALIMAB, ActionTaken.DRUG_INTERRUPTED),
    (Agent.TORIPALIMAB, ActionTaken.DRUG_WITHDRAWN),
    (None, ActionTaken.DRUG_WITHDRAWN),
)


def _leads_to(agent: Agent | None, action: ActionTaken) -> EpisodeFilter:
    agents = tuple(Agent) if agent is None else (agent,)

    def predicate(episode: AeEpisode) -> bool:
        return any(episode.action(a) is action for a in agents)

    return predicate


def leading_to_action(episodes: Sequence[AeEpisode], population_n: int) -> tuple[ActionRow, ...]:
    """Return patients with AEs leading to interruption, reduction or discontinuation of each treatment
    (R7.2); the last row is discontinuation of any study treatment."""
    _require_population(population_n, episodes)
    rows = []
    for agent, action in _ACTIONS:
        events = merge_episodes(episodes, where=_leads_to(agent, action))
        patients = {event.patient_id for event in events}
        rows.append(ActionRow(agent=agent, action=action, count=_count(len(patients), population_n)))
    return tuple(rows)


def overview(episodes: Sequence[AeEpisode], population_n: int) -> tuple[OverviewRow, ...]:
    """Return the overall safety summary: patients with any AE, grade >= 3, grade 5, related, SAE, irAE and
    AEs leading to discontinuation of any study treatment."""
    _require_population(population_n, episodes)
    any_ae = patients_by_worst_grade(episodes, population_n)
    related = patients_by_worst_grade(episodes, population_n, where=related_to(None))
    withdrawn = merge_episodes(episodes, where=_leads_to(None, ActionTaken.DRUG_WITHDRAWN))
    return (
        OverviewRow("Any AE", any_ae.any_grade),
        OverviewRow("Grade >= 3 AE", any_ae.grade_3_or_higher),
        OverviewRow("Grade 5 AE", any_ae.grade(5)),
        OverviewRow("Treatment-related AE", related.any_grade),
        OverviewRow("Treatment-related grade >= 3 AE", related.grade_3_or_higher),
        OverviewRow("Serious AE", serious_by_worst_grade(episodes, population_n).any_grade),
        OverviewRow("Immune-related AE", immune_related_by_worst_grade(episodes, population_n).any_grade),
        OverviewRow(
            "AE leading to discontinuation of any study treatment",
            _count(len({event.patient_id for event in withdrawn}), population_n),
        ),
    )
