"""Automatic edit checks: every cross-form rule that raises a system query, in one module.

A rule is ``function(patient) -> list[Finding]`` registered with an id and a description. The checks run after the
commit of any CRF save (``services._after_commit`` -> ``tasks.run_edit_checks``) and nightly for every patient
(Celery beat ``nightly-edit-checks``). ``queries.sync_system_queries`` turns findings into queries: one per rule,
row and field (never duplicated), closed automatically when the data are fixed. Findings on draft forms are ignored:
the coordinator is still typing.

Rules reading other apps go through ``django.apps.apps.get_model`` / lazy imports guarded by LookupError and
ImportError, so a missing app disables its rules instead of breaking the save.
"""

from __future__ import annotations

import datetime
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from django.apps import apps
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from sabr_trial.crf import CrfBase, CrfStatus

logger = logging.getLogger(__name__)



@dataclass(frozen=True)
class Finding:
    rule_id: str
    row: CrfBase
    field: str
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


def rule(rule_id: str, description: str, *, reports: tuple[str, ...] = ()) -> Callable[..., Any]:
    def register(func: Callable[[Any], list[Finding]]) -> Callable[[Any], list[Finding]]:
        RULES[rule_id] = Rule(rule_id, description, func, reports)
        return func

    return register


def _model(app_label: str, name: str) -> Any:
    try:
        return apps.get_model(app_label, name)
    except LookupError:
        return None


def _submitted(rows: Iterable[CrfBase]) -> list[CrfBase]:
    return [r for r in rows if r.status != CrfStatus.DRAFT]


# --- pure schedule maths (no Django) -----------------------------------------------------------------------------


def imaging_window(start: datetime.date, scan: datetime.date) -> tuple[datetime.date, int] | None:
    """Return (nominal date, deviation in days) of the D6 time point nearest ``scan``, or None for a baseline scan.

    The nominal days are the visit schedule's (``visits.schedule.imaging_days``: q8w to week 104, then q12w),
    continued q12w past the follow-up cap so a late scan still gets its nearest time point.
    """
    from visits.schedule import DEFAULT_SETTINGS, imaging_days

    day = (scan - start).days
    if day <= 0:
        return None
    days = imaging_days(DEFAULT_SETTINGS)
    while days[-1] < day:
        days.append(days[-1] + DEFAULT_SETTINGS.imaging_late_interval_days)
    nominal = min(days, key=lambda c: (abs(day - c), c))
    return start + datetime.timedelta(days=nominal), day - nominal


# --- rules -------------------------------------------------------------------------------------------------------


@rule("DM-1", gettext_lazy("Axitinib dosing recorded for a patient who is not registered"))
def axitinib_without_registration(patient: Any) -> list[Finding]:
    model = _model("treatment", "AxitinibPeriod")
    if model is None:
        return []
    rows = _submitted(model.objects.filter(patient=patient).order_by("start_date"))
    out = []
    for row in rows:
        if not patient.registration_date:
            out.append(Finding("DM-1", row, "start_date", _(
                "Axitinib dosing from %(d)s is recorded but the patient is not registered: register the patient or "
                "correct the form (DM-1).") % {"d": row.start_date}))  # fmt: skip
        elif row.start_date < patient.registration_date:
            out.append(Finding("DM-1", row, "start_date", _(
                "Axitinib dosing starts %(d)s, before registration on %(r)s (DM-1).")
                % {"d": row.start_date, "r": patient.registration_date}))  # fmt: skip
    return out


@rule(
    "DM-2",
    gettext_lazy("Tumour assessment outside its D6 window (q8w +/- 7 d from treatment start, then q12w)"),
)
def assessment_outside_window(patient: Any) -> list[Finding]:
    model = _model("assessments", "TumourAssessment")
    if model is None:
        return []
    try:
        from treatment.selectors import treatment_start
    except ImportError:
        return []
    from visits.schedule import DEFAULT_SETTINGS

    start = treatment_start(patient)
    if start is None:
        return []
    window_days = DEFAULT_SETTINGS.imaging_window_days  # D6 +/- 7 d, as the visit schedule
    out = []
    for row in _submitted(model.objects.filter(patient=patient)):
        when = row.assessment_date
        if when is None:
            continue
        window = imaging_window(start, when)
        if window is None:
            continue  # baseline (on or before treatment start)
        nominal, deviation = window
        if abs(deviation) > window_days:
            field = "scan_date_first" if row.scan_date_first else "visit_date"
            out.append(Finding("DM-2", row, field, _(
                "Assessment on %(d)s is %(n)s days %(side)s the scheduled time point %(nom)s (treatment start "
                "%(s)s; window +/- %(w)s days, D6) (DM-2).") % {
                    "d": when, "n": abs(deviation), "side": _("after") if deviation > 0 else _("before"),
                    "nom": nominal, "s": start, "w": window_days}))  # fmt: skip
    return out


@rule("DM-3", gettext_lazy("Adverse event still ongoing after the patient went off study"))
def ae_ongoing_after_off_study(patient: Any) -> list[Finding]:
    model = _model("adverse_events", "AdverseEvent")
    if model is None:
        return []
    try:
        from enrollment.selectors import end_of_study_date
    except ImportError:
        return []
    off = end_of_study_date(patient)
    if off is None:
        return []
    out = []
    for row in _submitted(model.objects.filter(patient=patient, ongoing="Y")):
        out.append(Finding("DM-3", row, "ongoing", _(
            "This adverse event is still ongoing while the patient went off study on %(d)s: record its outcome "
            "at the last contact (DM-3).") % {"d": off}))  # fmt: skip
    return out


@rule("EC-TA-5", gettext_lazy("Investigator response differs from the computed RECIST response"))
def investigator_response_differs(patient: Any) -> list[Finding]:
    model = _model("assessments", "TumourAssessment")
    if model is None:
        return []
    out = []
    for row in _submitted(model.objects.filter(patient=patient).exclude(investigator_response="")):
        if row.overall_resp and row.investigator_response != row.overall_resp:
            out.append(Finding("EC-TA-5", row, "investigator_response", _(
                "Investigator response %(i)s differs from the computed response %(c)s (%(rule)s) (EC-TA-5).")
                % {"i": row.get_investigator_response_display(), "c": row.get_overall_resp_display(),
                   "rule": row.deciding_rule or "—"}))  # fmt: skip
    return out


_RULE_ID = re.compile(r"\((?:[^()]*?)(EC-[A-Z]+-\d+)")


def _from_warnings(
    rows: Iterable[CrfBase], warnings: Callable[[Any], list[str]], default_id: str
) -> list[Finding]:
    """Turn an app's soft-check warnings (strings citing their rule id) into findings on the row."""
    out = []
    for row in _submitted(rows):
        for message in warnings(row):
            match = _RULE_ID.search(message)
            out.append(Finding(match.group(1) if match else default_id, row, "", str(message)))
    return out


@rule(
    "SOFT-TX",
    gettext_lazy(
        "Soft checks of the treatment forms (EC-AX-3/4, EC-TO-3, EC-CM-2, EC-SU-3, EC-FX-2, EC-SB-3)"
    ),
    reports=("EC-AX-3", "EC-AX-4", "EC-TO-3", "EC-CM-2", "EC-SU-3", "EC-FX-1", "EC-FX-2", "EC-SB-3"),
)
def treatment_soft_checks(patient: Any) -> list[Finding]:
    try:
        from treatment import rules as tx
    except ImportError:
        return []
    pairs = [
        ("AxitinibPeriod", tx.axitinib_warnings),
        ("ToripalimabInfusion", tx.infusion_warnings),
        ("Immunosuppressant", tx.immunosuppressant_warnings),
        ("SubsequentTherapy", tx.subsequent_therapy_warnings),
        ("SabrFraction", tx.fraction_warnings),
        ("SabrCourse", tx.course_warnings),
    ]
    out: list[Finding] = []
    for name, func in pairs:
        model = _model("treatment", name)
        if model is not None:
            out.extend(_from_warnings(model.objects.filter(patient=patient), func, "SOFT-TX"))
    return out


@rule(
    "SOFT-AE",
    gettext_lazy("Soft checks of the adverse event form (EC-AE-5 collection window, EC-AE-6)"),
    reports=("EC-AE-5", "EC-AE-6"),
)
def ae_soft_checks(patient: Any) -> list[Finding]:
    model = _model("adverse_events", "AdverseEvent")
    try:
        from adverse_events.rules import ae_warnings
    except ImportError:
        return []
    if model is None:
        return []
    return _from_warnings(
        model.objects.filter(patient=patient).select_related("ctcae_term"), ae_warnings, "SOFT-AE"
    )


# --- runner ------------------------------------------------------------------------------------------------------


def findings_for(patient: Any) -> tuple[list[Finding], set[str]]:
    """Run every rule; a rule that fails is logged and skipped (its queries are left as they are)."""
    findings: list[Finding] = []
    ran: set[str] = set()
    for r in RULES.values():
        try:
            found = r.check(patient)
        except Exception:
            logger.exception("edit check %s failed for patient %s", r.id, patient.pk)
            continue
        ran.add(r.id)
        findings.extend(replace(f, source=r.id) for f in found if f.row.status != CrfStatus.DRAFT)
    return findings, ran


def run_for_patient(patient: Any) -> int:
    from sabr_trial.queries import sync_system_queries

    findings, ran = findings_for(patient)
    return sync_system_queries(patient, findings, ran)


def run_for_patient_id(patient_id: int) -> int:
    from enrollment.models import Patient

    patient = Patient.objects.filter(pk=patient_id).first()
    return run_for_patient(patient) if patient is not None else 0


def run_all() -> int:
    from enrollment.models import Patient

    return sum(run_for_patient(p) for p in Patient.objects.order_by("pk").iterator())
