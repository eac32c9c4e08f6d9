"""Reads of the AE app: SAE list with clocks, episodes for the safety tables, the safety population."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from adverse_events.models import AdverseEvent
from adverse_events.reporting import AeEpisode
from adverse_events.rules import criteria_of
from adverse_events.safety import (
    ActionTaken,
    DeadlineState,
    Relationship,
    SaeClock,
    SafetyError,
    SeriousEvent,
    sae_clock,
)
from enrollment.models import Patient
from sabr_trial import compiled
from treatment.dosing import AxitinibAe
from treatment.models import AxitinibPeriod, SabrFraction, ToripalimabInfusion


def clock_for(ae: AdverseEvent, now: datetime.datetime | None = None) -> SaeClock | None:
    """The SAE/SUSAR clock of a serious row at ``now`` (R7.4), or None when not serious or no awareness."""
    if ae.serious != "Y" or ae.awareness_at is None:
        return None
    event = SeriousEvent(
        serious=True,
        criteria=criteria_of(ae),
        rel_sabr=Relationship(ae.rel_sabr),
        rel_axitinib=Relationship(ae.rel_axitinib),
        rel_toripalimab=Relationship(ae.rel_toripalimab),
        expected={"Y": True, "N": False}.get(ae.expected),
        awareness_at=ae.awareness_at,
        reported_at=ae.reported_at,
    )
    try:
        return sae_clock(event, now=now or timezone.now())
    except SafetyError:
        return None


@dataclass(frozen=True)
class SaeRow:
    ae: AdverseEvent
    clock: SaeClock | None
    is_open: bool
    overdue: bool
    reports: list[Any]


def sae_rows(now: datetime.datetime | None = None) -> list[SaeRow]:
    """Every SAE episode, open (site report not sent) first, most urgent first."""
    now = now or timezone.now()
    rows = []
    qs = (
        AdverseEvent.objects.filter(serious="Y")
        .select_related("patient", "ctcae_term")
        .prefetch_related("sae_reports")
        .order_by("sae_due_at", "id")
    )
    for ae in qs:
        clock = clock_for(ae, now)
        is_open = ae.reported_at is None
        overdue = bool(clock and clock.site.state == DeadlineState.OVERDUE)
        rows.append(
            SaeRow(ae=ae, clock=clock, is_open=is_open, overdue=overdue, reports=list(ae.sae_reports.all()))
        )
    rows.sort(key=lambda r: (not r.is_open, r.ae.sae_due_at or now))
    return rows


@dataclass(frozen=True)
class PanelRow:
    """What the casebook's AE panel shows of one AE row."""

    pk: int
    ae_number: int | None
    display_term: str
    outcome_display: str
    ongoing: str
    serious: str
    immune_related: str


def panel_rows(patient_id: int) -> dict[int, PanelRow]:
    """The patient's AE rows as the panel shows them, by id: one read of the columns it needs (with SQL built
    once), not every AE as a model row with its term (three quarters of the panel's time for 175 AEs)."""
    outcomes = {value: str(label) for value, label in AdverseEvent._meta.get_field("outcome").flatchoices}
    rows = compiled.patient_rows(
        "adverse_events:panel-rows",
        lambda ids: (
            AdverseEvent.objects.filter(patient_id__in=ids)
            .order_by("pk")
            .values_list(
                "pk",
                "ae_number",
                "ctcae_term__term",
                "ctcae_term__is_other_specify",
                "verbatim",
                "outcome",
                "ongoing",
                "serious",
                "immune_related",
            )
        ),
        [patient_id],
    )
    return {
        pk: PanelRow(
            pk=pk,
            ae_number=number,
            display_term=AdverseEvent.term_text(term, bool(other), verbatim),
            outcome_display=outcomes.get(outcome, outcome),
            ongoing=ongoing,
            serious=serious,
            immune_related=immune,
        )
        for pk, number, term, other, verbatim, outcome, ongoing, serious, immune in rows
    }


def overdue_count(now: datetime.datetime | None = None) -> int:
    """Open SAEs whose 24 h site report is overdue (the nav badge).

    Counted once per data generation and kept in the shared cache with the time the next open SAE falls due:
    the count is the same until the data change or that time comes (every page counted it before, issue 20).
    """
    from sabr_trial import generation

    now = now or timezone.now()
    kept = generation.fragment(
        "adverse_events:overdue",
        lambda: (*_overdue_and_next(now), now),
        # kept while no open SAE has fallen due since it was counted (and not asked about an earlier time)
        valid=lambda k: (k[1] is None or now < k[1]) and k[2] <= now,
    )
    return kept[0]


def _overdue_and_next(now: datetime.datetime) -> tuple[int, datetime.datetime | None]:
    """How many open SAEs are overdue at ``now``, and when the next open one falls due (None: none will).

    The open SAEs' due times are read with SQL built once (``compiled.rows``; ``now`` is compared here, not in the
    SQL, so the read has no time parameter): a few rows, read after every change to the study (issue 20)."""
    dues = [
        due
        for (due,) in compiled.rows(
            "adverse_events:open-sae-dues",
            lambda: AdverseEvent.objects.filter(
                serious="Y", reported_at__isnull=True, sae_due_at__isnull=False
            ).values_list("sae_due_at"),
        )
    ]
    return sum(1 for due in dues if due < now), min((due for due in dues if due >= now), default=None)


#: The form 17 fields an episode is built from; the endpoint recompute hashes the same fields per patient
#: (endpoints.collect.AE_SOURCE), so a change to any of them recomputes that patient's safety counts.
EPISODE_FIELDS = (
    "pk",
    "patient_id",
    "ctcae_term__term",
    "ctcae_term__soc",
    "grade",
    "serious",
    "immune_related",
    "rel_sabr",
    "rel_axitinib",
    "rel_toripalimab",
    "acn_sabr",
    "acn_axitinib",
    "acn_toripalimab",
    "onset_date",
    "parent_episode_id",
)


def episodes(patient: Any = None, *, patient_ids: Any = None) -> list[AeEpisode]:
    """Form 17 rows as the pure safety-table episodes (drafts included: the tables show entered data).

    ``patient`` or ``patient_ids`` (an iterable of ids) restrict the read; neither: the whole study.
    """
    qs = AdverseEvent.objects.all()
    if patient is not None:
        qs = qs.filter(patient=patient)
    if patient_ids is not None:
        qs = qs.filter(patient_id__in=list(patient_ids))
    fields = EPISODE_FIELDS
    # Plain rows, not model instances: the study-wide tables read every AE (12,000+ in the benchmark study).
    return [
        AeEpisode(
            episode_id=pk,
            patient_id=patient_id,
            term=term,
            soc=soc,
            grade=grade,
            serious=serious == "Y",
            immune_related=immune == "Y",
            rel_sabr=Relationship(rel_s),
            rel_axitinib=Relationship(rel_a),
            rel_toripalimab=Relationship(rel_t),
            acn_sabr=ActionTaken(acn_s),
            acn_axitinib=ActionTaken(acn_a),
            acn_toripalimab=ActionTaken(acn_t),
            onset_date=onset,
            parent_episode_id=parent,
        )
        for (
            pk,
            patient_id,
            term,
            soc,
            grade,
            serious,
            immune,
            rel_s,
            rel_a,
            rel_t,
            acn_s,
            acn_a,
            acn_t,
            onset,
            parent,
        ) in qs.order_by("pk").values_list(*fields)
    ]


def safety_population() -> int:
    """N of the safety tables: patients with any study treatment recorded (SAFFL), else registered patients;
    never fewer than the patients with AEs."""
    treated: set[int] = set()
    for queryset in (
        SabrFraction.objects.filter(delivered="Y"),
        AxitinibPeriod.objects.all(),
        ToripalimabInfusion.objects.filter(infusion_status=ToripalimabInfusion.Status.GIVEN),
    ):
        treated.update(queryset.values_list("patient_id", flat=True).order_by().distinct())
    with_ae = set(AdverseEvent.objects.values_list("patient_id", flat=True).order_by().distinct())
    base = treated or set(Patient.objects.filter(study_number__isnull=False).values_list("pk", flat=True))
    return max(len(base | with_ae), 1)


#: R7.1: attributable to axitinib (EC-AX-3 counts these).
AXITINIB_RELATED = ("POSSIBLE", "PROBABLE", "DEFINITE")


# --- Facts the treatment app asks for (registered in patient_facts: treatment sits below this app) -----------


def axitinib_aes(patient: Any) -> list[AxitinibAe]:
    """The patient's AEs as the axitinib titration check sees them (EC-AX-3, R4.3)."""
    return [
        AxitinibAe(
            term=str(ae),
            grade=int(ae.grade or 0),
            onset_date=ae.onset_date,
            resolution_date=ae.resolution_date,
            axitinib_related=ae.rel_axitinib in AXITINIB_RELATED,
        )
        for ae in AdverseEvent.objects.filter(patient=patient).select_related("ctcae_term").order_by("pk")
    ]


def axitinib_ae_actions(patient: Any) -> list[tuple[AdverseEvent, int, datetime.date, str]]:
    """(AE, pk, onset, action shown) of the AEs that reduced or interrupted axitinib (EC-AX-4)."""
    rows = AdverseEvent.objects.filter(patient=patient, acn_axitinib__in=["DOSE REDUCED", "DRUG INTERRUPTED"])
    return [
        (ae, ae.pk, ae.onset_date, ae.get_acn_axitinib_display().lower())
        for ae in rows.select_related("ctcae_term").order_by("pk")
    ]
