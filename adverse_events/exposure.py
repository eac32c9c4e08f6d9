"""Study-treatment exposure of a patient, read lazily from the treatment app (no FK to treatment).

adverse_events must not import treatment (FK directions of the codebase): the models are looked up with
``apps.get_model`` and every lookup is guarded, so this app works before the treatment app has models.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.core.exceptions import FieldError
from django.db.models import Max, Min

from adverse_events.safety import Agent


@dataclass(frozen=True)
class Exposure:
    """First and last dose date per agent; ``known`` lists the agents whose records could be read."""

    first_dose: dict[Agent, datetime.date | None] = field(default_factory=dict)
    last_dose: dict[Agent, datetime.date | None] = field(default_factory=dict)
    ongoing: frozenset[Agent] = frozenset()
    known: frozenset[Agent] = frozenset()

    @property
    def treatment_start(self) -> datetime.date | None:
        """Earliest first dose of any agent (CRF-SPEC derived values, D1)."""
        dates = [d for d in self.first_dose.values() if d is not None]
        return min(dates) if dates else None

    @property
    def last_any_dose(self) -> datetime.date | None:
        """Last dose of any agent; None while an agent is still being taken (open axitinib period)."""
        if self.ongoing:
            return None
        dates = [d for d in self.last_dose.values() if d is not None]
        return max(dates) if dates else None

    def received_by(self, agent: Agent, day: datetime.date) -> bool | None:
        """True/False when the agent's records are readable, None when unknown."""
        if agent not in self.known:
            return None
        first = self.first_dose.get(agent)
        return first is not None and first <= day


def _model(name: str) -> Any | None:
    try:
        return apps.get_model("treatment", name)
    except LookupError:
        return None


def _span(model_name: str, patient: Any, date_field: str, end_field: str | None = None, **filters: Any):
    model = _model(model_name)
    if model is None:
        return None
    try:
        qs = model.objects.filter(patient=patient, **filters)
        agg = qs.aggregate(first=Min(date_field), last=Max(end_field or date_field))
        open_rows = qs.filter(**{f"{end_field}__isnull": True}).exists() if end_field else False
    except (FieldError, ValueError, TypeError):
        return None
    return agg["first"], agg["last"], open_rows


def exposure_for(patient: Any) -> Exposure:
    """Return the patient's exposure to SABR (delivered fractions), axitinib (dosed periods) and
    toripalimab (GIVEN infusions), from whatever the treatment app holds."""
    first: dict[Agent, datetime.date | None] = {}
    last: dict[Agent, datetime.date | None] = {}
    ongoing: set[Agent] = set()
    known: set[Agent] = set()
    spans = {
        Agent.SABR: _span("SabrFraction", patient, "fraction_date", delivered="Y"),
        Agent.TORIPALIMAB: _span("ToripalimabInfusion", patient, "infusion_date", status="GIVEN"),
    }
    axi_model = _model("AxitinibPeriod")
    axi = None
    if axi_model is not None:
        try:
            qs = axi_model.objects.filter(patient=patient).exclude(
                dose_level__in=["INTERRUPTED", "PERMANENTLY DISCONTINUED"]
            )
            agg = qs.aggregate(first=Min("start_date"), last=Max("end_date"), last_start=Max("start_date"))
            is_open = qs.filter(end_date__isnull=True).exists()
            axi = (agg["first"], agg["last"] or agg["last_start"], is_open)
        except (FieldError, ValueError, TypeError):
            axi = None
    spans[Agent.AXITINIB] = axi
    for agent, span in spans.items():
        if span is None:
            continue
        known.add(agent)
        first[agent], last[agent], is_open = span
        if is_open:
            ongoing.add(agent)
    return Exposure(first_dose=first, last_dose=last, ongoing=frozenset(ongoing), known=frozenset(known))


def death_date(patient: Any) -> tuple[bool, datetime.date | None]:
    """Return (death report model available?, death date or None) from enrollment.DeathReport."""
    try:
        model = apps.get_model("enrollment", "DeathReport")
    except LookupError:
        return False, None
    try:
        report = model.objects.filter(patient=patient).only("death_date").first()
    except (FieldError, ValueError):
        return False, None
    return True, (report.death_date if report is not None else None)
