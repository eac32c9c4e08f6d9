"""Automatic edit checks: every cross-form rule that raises a system query, in one module.

A rule is ``function(patient) -> list[Finding]`` registered with an id and a description. The checks run after the
commit of any CRF save (``services._after_commit`` -> ``tasks.run_edit_checks``) and nightly for every patient
(Celery beat ``nightly-edit-checks``). ``queries.sync_system_queries`` turns findings into queries: one per rule,
row and field (never duplicated), closed automatically when the data are fixed. Findings on draft forms are ignored:
the coordinator is still typing.

This module is the registry and the runner only: each clinical app registers its own rules from its
``AppConfig.ready()`` (``treatment/editchecks.py``, ``assessments/editchecks.py``, ``adverse_events/editchecks.py``,
``visits/editchecks.py``), so the base app imports no clinical app (README "Architecture", layers).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from django.utils import translation
from django.utils.translation import gettext_lazy, gettext_noop

from ruletext import Msg, say
from sabr_trial import compiled, patient_facts, pipeline
from sabr_trial.crf import CrfBase, CrfStatus, MissingCode, registry

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Finding:
    rule_id: str
    row: CrfBase
    field: str
    #: What the site reads: a ``ruletext`` message (``say(gettext_noop(...), ...)``) so the stored query reads in
    #: each reader's language; a plain text is stored and shown as it is.
    message: str
    #: The registered rule that produced it (set by the runner); a wrapped soft check reports its own EC id.
    source: str = ""


@dataclass(frozen=True)
class Rule:
    id: str
    description: str
    check: Callable[[Any], list[Finding]]
    #: Ids a rule may report under (wrapped soft checks report the EC-id found in each warning).
    reports: tuple[str, ...] = ()


RULES: dict[str, Rule] = {}


def rule(rule_id: str, description: Any, *, reports: tuple[str, ...] = ()) -> Callable[..., Any]:
    """Register the decorated ``check(patient) -> list[Finding]`` under ``rule_id`` (one rule per id)."""

    def register(func: Callable[[Any], list[Finding]]) -> Callable[[Any], list[Finding]]:
        current = RULES.get(rule_id)
        if current is not None and current.check is not func:
            raise ValueError(f"edit check {rule_id} is registered twice")
        RULES[rule_id] = Rule(rule_id, description, func, reports)
        return func

    return register


def submitted(rows: Iterable[CrfBase]) -> list[CrfBase]:
    """The rows past draft (findings on drafts are ignored: the coordinator is still typing)."""
    return [r for r in rows if r.status != CrfStatus.DRAFT]


def patient_rows(key: str, patient: Any, build: Callable[[list[int]], Any]) -> list[Any]:
    """The rows of ``build([patient.pk])`` (a queryset filtered with ``patient_id__in=ids``), read with SQL built
    once per process (``compiled.patient_objects``): a rule runs for every patient after every save and for every
    imported patient, and building its queryset's SQL cost more than reading the rows. ``key`` names the read
    (the same ``build`` always)."""
    return compiled.patient_objects(f"editchecks:{key}", build, [patient.pk])


# --- helpers for the apps' rules ----------------------------------------------------------------------------


_RULE_ID = re.compile(r"\((?:[^()]*?)(EC-[A-Z]+-\d+)")


def from_warnings(
    rows: Iterable[CrfBase], warnings: Callable[[Any], list[str]], default_id: str
) -> list[Finding]:
    """Turn an app's soft-check warnings (strings citing their rule id) into findings on the row."""
    out = []
    for row in submitted(rows):
        for message in warnings(row):
            match = _RULE_ID.search(message)
            text = message if isinstance(message, Msg) else str(message)  # a message keeps its id
            out.append(Finding(match.group(1) if match else default_id, row, "", text))
    return out


# --- the base app's own rule: a missing-data code on an input of a derivation --------------------------------------


def _english(text: Any) -> Msg:
    """A label as a message whose id is its English text (shown in the reader's language)."""
    with translation.override("en"):
        return say(str(text))


@rule(
    "DM-5",
    gettext_lazy(
        "A missing-data code on an input of a derivation: the derived value leaves it out (issue 19)"
    ),
)
def coded_derivation_input(patient: Any) -> list[Finding]:
    """Each field coded missing (``CrfSpec.missing``) whose declaration says it feeds a derivation (IMDC risk group,
    prednisone-equivalent dose...) raises a query on that field naming the code; it closes when a value is given."""
    out: list[Finding] = []
    for spec in registry.all():
        feeding = {name: entry for entry in spec.missing if entry.feeds for name in entry.fields}
        if not feeding:
            continue
        model = spec.model
        rows = patient_rows(
            f"coded:{spec.slug}",
            patient,
            lambda ids, model=model: (
                model.objects.filter(patient_id__in=ids).exclude(missing_codes={}).order_by("pk")
            ),
        )
        for row in submitted(rows):
            for name, entry in feeding.items():
                code = row.missing_code(name)
                if not code or code not in MissingCode.values:
                    continue
                out.append(
                    Finding(
                        "DM-5",
                        row,
                        name,
                        say(
                            gettext_noop(
                                "“%(field)s” is “%(label)s” (%(code)s): %(derived)s is derived without it. Enter the value "
                                "if it becomes known (DM-5)."
                            ),
                            field=_english(spec.model._meta.get_field(name).verbose_name),
                            label=_english(MissingCode(code).label),
                            code=code,
                            derived=_english(entry.feeds),
                        ),
                    )
                )
    return out


# --- runner ------------------------------------------------------------------------------------------------------


def findings_for(patient: Any) -> tuple[list[Finding], set[str]]:
    """Run every rule; a rule that fails is logged and skipped (its queries are left as they are)."""
    findings: list[Finding] = []
    ran: set[str] = set()
    with pipeline.same_reads():  # the rules only read: a fact several rules ask for is read once
        for r in RULES.values():
            _run_rule(r, patient, findings, ran)
    return findings, ran


def _run_rule(r: Any, patient: Any, findings: list[Finding], ran: set[str]) -> None:
    try:
        found = r.check(patient)
    except Exception:
        logger.exception("edit check %s failed for patient %s", r.id, patient.pk)
        return
    ran.add(r.id)
    findings.extend(replace(f, source=r.id) for f in found if f.row.status != CrfStatus.DRAFT)


def run_for_patient(patient: Any) -> int:
    from sabr_trial.queries import sync_system_queries

    findings, ran = findings_for(patient)
    return sync_system_queries(patient, findings, ran)


def run_for_patient_id(patient_id: int) -> int:
    patient = patient_facts.patient_model().objects.filter(pk=patient_id).first()
    return run_for_patient(patient) if patient is not None else 0


def run_all() -> int:
    return sum(run_for_patient(p) for p in patient_facts.patient_model().objects.order_by("pk").iterator())
