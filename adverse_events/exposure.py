"""Study-treatment exposure of a patient, read from the treatment app (below adverse_events in the layers)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from adverse_events.safety import Agent
from enrollment import selectors as enrollment_selectors
from sabr_trial import pipeline
from treatment import origins
from treatment import selectors as treatment_selectors
from treatment.models import AxitinibPeriod, SabrCourse, SabrFraction, SabrTarget, ToripalimabInfusion


@dataclass(frozen=True)
class Exposure:
    """First and last dose date per agent, and the agents still being taken."""

    first_dose: dict[Agent, datetime.date | None] = field(default_factory=dict)
    last_dose: dict[Agent, datetime.date | None] = field(default_factory=dict)
    ongoing: frozenset[Agent] = frozenset()

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

    def received_by(self, agent: Agent, day: datetime.date) -> bool:
        """True when the agent's first dose is on or before ``day``."""
        first = self.first_dose.get(agent)
        return first is not None and first <= day


def exposure_for(patient: Any) -> Exposure:
    """Return the patient's exposure to SABR, axitinib and toripalimab.

    First doses are the D1 origins of ``treatment.origins`` (SABR: the first delivered fraction of the first
    protocol course; axitinib: the first period with a dose; toripalimab: the first infusion GIVEN), so the
    treatment-emergent flag and the EC-AE-5 window start where OS does. Last doses: the last delivered fraction,
    the end (or, while open, the start) of the last dosed axitinib period, the last infusion GIVEN.
    Read once per save (``pipeline.read_once``): the AE rules and the AE derivation both ask for it; in a batch
    (``import_study``) once until a treatment row of the batch is written (``pipeline.batch_read``).
    """
    return pipeline.batch_read(("exposure", patient.pk), EXPOSURE_MODELS, lambda: _exposure(patient))


#: The rows an exposure is read from (a write of one of them makes a batch read it again).
EXPOSURE_MODELS = (SabrFraction, SabrTarget, SabrCourse, AxitinibPeriod, ToripalimabInfusion)


def _exposure(patient: Any) -> Exposure:
    fractions = treatment_selectors.fraction_records(patient)
    period_rows = treatment_selectors.axitinib_rows(patient)
    periods = treatment_selectors.axitinib_records(patient, period_rows)
    infusions = treatment_selectors.infusion_records(patient)
    first = {
        Agent.SABR: _date(origins.sabr_start(fractions)),
        Agent.AXITINIB: _date(origins.first_axitinib_dose(periods)),
        Agent.TORIPALIMAB: _date(origins.first_toripalimab_dose(infusions)),
    }
    # the dosed periods' dates (the latest end, else the latest start; one without an end is ongoing)
    dosed = [(start, end) for _pk, start, end, level in period_rows if level in origins.DOSED_AXITINIB_LEVELS]
    axitinib = {
        "last": max((end for _start, end in dosed if end is not None), default=None),
        "last_start": max((start for start, _end in dosed if start is not None), default=None),
    }
    last = {
        Agent.SABR: max((f.date for f in fractions if f.delivered and f.date), default=None),
        Agent.AXITINIB: axitinib["last"] or axitinib["last_start"],
        Agent.TORIPALIMAB: max(
            (i.date for i in infusions if i.date and i.infusion_status == ToripalimabInfusion.Status.GIVEN),
            default=None,
        ),
    }
    ongoing = frozenset({Agent.AXITINIB}) if any(end is None for _start, end in dosed) else frozenset()
    return Exposure(first_dose=first, last_dose=last, ongoing=ongoing)


def _date(origin: origins.Origin | None) -> datetime.date | None:
    return origin.date if origin is not None else None


def death_date(patient: Any) -> datetime.date | None:
    """Return the death date of the patient's death report, or None."""
    return enrollment_selectors.death_date(patient)
