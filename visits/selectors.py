"""Read every patient's anchors, forms and marks with a fixed number of queries and run the schedule.

One query per source table whatever the number of patients (tests count them): the worklist, the navigation
badge and the per-patient grid share this collector. The anchors follow the selectors other apps use
(D1 from ``treatment.origins``, as ``treatment.selectors.treatment_start`` / ``sabr_start``;
``enrollment.selectors.death_date`` / ``end_of_study_date``); a test checks that they agree on the demo study.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from enrollment.models import Patient
from sabr_trial import compiled
from sabr_trial import generation as data_generation
from sabr_trial.crf import registry
from sabr_trial.roles import Perm, has_perm
from treatment import origins
from visits import schedule
from visits.models import NotDone

#: slug -> (clinical date field or None, extra fields read for the anchors)
FORM_FIELDS: dict[str, tuple[str | None, tuple[str, ...]]] = {
    "screening": ("screening_date", ()),
    "consent": (None, ()),
    "eligibility": (None, ()),
    "baseline": ("assessment_date", ()),
    "lesion": ("baseline_date", ()),
    "sabr-course": (None, ("course_number", "is_protocol")),
    "sabr-target": (None, ()),
    "sabr-fraction": ("fraction_date", ("delivered", "target__course_id")),
    "axitinib": ("start_date", ("end_date", "dose_level")),
    "toripalimab": ("infusion_date", ("cycle_number", "infusion_status")),
    "adverse-event": ("onset_date", ()),
    "tumour-assessment": ("scan_date_first", ("visit_date",)),
    "survival": ("contact_date", ()),
}
TERMINAL = {"disposition": ("eot_reason", "eos_date"), "death": ("death_date",)}


@dataclass
class PatientSchedule:
    patient_id: int
    label: str
    anchors: schedule.Anchors
    forms: list[schedule.ExpectedForm] = field(default_factory=list)
    error: str = ""

    def summary(self, today: datetime.date) -> schedule.Summary:
        return schedule.summarize(self.forms, today=today)


def _reads() -> list[tuple[str, tuple[str, ...]]]:
    """The (form, fields) read for the schedule: each form's clinical date and anchor fields, then the terminal
    forms."""
    out = []
    for slug, (date_field, extra) in FORM_FIELDS.items():
        if slug in registry:
            out.append((slug, ((date_field,) if date_field else ()) + extra))
    return out + [(slug, fields) for slug, fields in TERMINAL.items() if slug in registry]


def _rows_of(
    reads: list[tuple[str, tuple[str, ...]]], patient_ids: list[int] | None
) -> list[list[dict[str, Any]]]:
    """Each read's rows (``pk``, ``patient_id`` and its fields, in ``pk`` order), of every patient or some.

    Some patients' rows (a save's recompute of its patient) are read in one query with SQL built once per process
    (``sabr_trial.compiled.patient_rows_of_reads``): fifteen reads built and sent one by one were most of that
    recompute (issue 20).
    """
    names = [("pk", "patient_id", *fields) for _slug, fields in reads]
    querysets = [registry.get(slug).model.objects.all() for slug, _fields in reads]
    if patient_ids is None:
        return [list(qs.values(*n).order_by("pk")) for qs, n in zip(querysets, names, strict=True)]

    def build(qs: Any, n: tuple[str, ...]) -> Any:
        return lambda ids: qs.filter(patient_id__in=ids).values_list(*n).order_by("pk")

    key = "visits:rows:" + ";".join(f"{slug}:{','.join(fields)}" for slug, fields in reads)
    builds = [build(qs, n) for qs, n in zip(querysets, names, strict=True)]
    return [
        [dict(zip(n, row, strict=True)) for row in rows]
        for n, rows in zip(names, compiled.patient_rows_of_reads(key, builds, patient_ids), strict=True)
    ]


def _anchors(registration: datetime.date | None, d: dict[str, list[dict[str, Any]]]) -> schedule.Anchors:
    courses = {c["pk"]: c for c in d.get("sabr-course", [])}
    fractions = [
        origins.Fraction(
            date=f["fraction_date"],
            delivered=f["delivered"] == "Y",
            protocol=courses[f["target__course_id"]]["is_protocol"] == "Y",
            course_number=courses[f["target__course_id"]]["course_number"],
        )
        for f in d.get("sabr-fraction", [])
    ]
    periods = [origins.AxitinibPeriod(a["start_date"], a["dose_level"]) for a in d.get("axitinib", [])]
    given = [t for t in d.get("toripalimab", []) if t["infusion_status"] == "GIVEN" and t["infusion_date"]]
    # D1 (treatment.origins, the one implementation): SABR start and treatment start (OS origin).
    sabr_origin = origins.sabr_start(fractions)
    sabr_start = sabr_origin.date if sabr_origin else None
    start_origin = origins.treatment_start(
        fractions=fractions,
        periods=periods,
        infusions=[
            origins.Infusion(t["infusion_date"], t["infusion_status"]) for t in d.get("toripalimab", [])
        ],
    )
    treatment_start = start_origin.date if start_origin else None
    axitinib = [a for a in d.get("axitinib", []) if a["dose_level"] in origins.DOSED_AXITINIB_LEVELS]
    infusions = tuple(
        schedule.Infusion(
            cycle=t["cycle_number"],
            date=t["infusion_date"] if t["infusion_status"] == "GIVEN" else None,
            discontinued=t["infusion_status"] == "PERMANENTLY DISCONTINUED",
        )
        for t in d.get("toripalimab", [])
    )
    dispo = next(iter(d.get("disposition", [])), None)
    death = next(iter(d.get("death", [])), None)
    end_of_treatment = None
    if dispo and dispo["eot_reason"]:  # EC-DS-1: the last dose of any agent (DM.RFXENDTC)
        doses = [f["fraction_date"] for f in d.get("sabr-fraction", []) if f["delivered"] == "Y"]
        doses += [t["infusion_date"] for t in given]
        doses += [a["end_date"] or a["start_date"] for a in axitinib]
        end_of_treatment = max(doses, default=None) or dispo["eos_date"] or registration
    return schedule.Anchors(
        registration=registration,
        treatment_start=treatment_start,
        sabr_start=sabr_start,
        infusions=infusions,
        end_of_treatment=end_of_treatment,
        off_study=dispo["eos_date"] if dispo else None,
        death=death["death_date"] if death else None,
    )


def _records(d: dict[str, list[dict[str, Any]]]) -> list[schedule.FormRecord]:
    records = []
    for slug, (date_field, _extra) in FORM_FIELDS.items():
        for row in d.get(slug, []):
            day = row.get(date_field) if date_field else None
            if slug == "tumour-assessment":
                day = row["scan_date_first"] or row["visit_date"]
            key = f"C{row['cycle_number']}" if slug == "toripalimab" else ""
            records.append(schedule.FormRecord(slug, day, visit_key=key, ref=row["pk"]))
    return records


def collect(
    *, today: datetime.date, patient_ids: list[int] | None = None, s: schedule.ScheduleSettings | None = None
) -> list[PatientSchedule]:
    """Return the schedule of every registered patient (or of ``patient_ids``) on ``today``."""
    patients = Patient.objects.filter(study_number__isnull=False)
    names = ("pk", "study_number", "registration_date")
    if patient_ids is None:
        rows = list(patients.values(*names).order_by("study_number"))
    else:
        rows = [
            dict(zip(names, row, strict=True))
            for row in compiled.patient_rows(
                "visits:schedule-patients",
                lambda ids: patients.filter(pk__in=ids).values_list(*names).order_by("study_number"),
                patient_ids,
            )
        ]
    ids = [p["pk"] for p in rows] if patient_ids is not None else None
    by: dict[int, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    reads = _reads()
    for (slug, _fields), form_rows in zip(reads, _rows_of(reads, ids), strict=True):
        for row in form_rows:
            by[row["patient_id"]][slug].append(row)
    marks: dict[int, list[schedule.Mark]] = defaultdict(list)
    mark_qs = NotDone.objects.filter(cancelled_at__isnull=True).select_related("marked_by")
    if ids is not None:  # a save's recompute of its patient: SQL built once, as ``_rows``
        marks_read = compiled.patient_objects(
            "visits:marks", lambda some: mark_qs.filter(patient_id__in=some), ids
        )
    else:
        marks_read = list(mark_qs)
    for m in marks_read:
        marks[m.patient_id].append(
            schedule.Mark(
                m.form_slug,
                m.visit_key,
                m.reason,
                nothing_to_report=m.reason_code == NotDone.ReasonCode.NOTHING_TO_REPORT,
                ref=m,
            )
        )
    out = []
    for p in rows:
        d = by.get(p["pk"], {})
        anchors = _anchors(p["registration_date"], d)
        item = PatientSchedule(patient_id=p["pk"], label=p["study_number"], anchors=anchors)
        try:
            item.forms = schedule.expected_forms(
                anchors, _records(d), marks.get(p["pk"], []), today=today, s=s or schedule.DEFAULT_SETTINGS
            )
        except schedule.ScheduleError as exc:
            item.error = str(exc)
        out.append(item)
    return out


#: Safety net for writes that bypass the model signals (bulk loads): the count is recomputed at least this often.
BADGE_CACHE_SECONDS = 300
#: The worklist's lists and counts are stored per (day, data generation) (``sabr_trial.generation``): a count
#: computed from data that changed meanwhile is stored under the old generation and never read.
bump_generation = data_generation.bump
generation = data_generation.current


def cached_worklist_count(request: HttpRequest) -> int:
    """Overdue forms plus forms due this week, all patients: each patient's count kept under that patient's data
    version (``_per_patient``), the total under the study-wide one."""
    from django.core.cache import cache

    if not has_perm(request.user, Perm.VIEW):
        raise PermissionDenied
    today = timezone.localdate()
    key = f"visits:worklist-count:{today.isoformat()}:{generation()}"
    count = cache.get(key)
    if count is None:
        count = sum(overdue + week for overdue, week in _per_patient(today, counts=True).values())
        cache.set(key, count, timeout=BADGE_CACHE_SECONDS)
    return int(count)


def _registered() -> list[int]:
    """Registered patients' ids in the worklist's order (study number)."""
    return [
        pk
        for (pk,) in compiled.rows(
            "visits:registered",
            lambda: (
                Patient.objects.filter(study_number__isnull=False).order_by("study_number").values_list("pk")
            ),
        )
    ]


def _per_patient(today: datetime.date, *, counts: bool) -> dict[int, Any]:
    """patient id -> (overdue, due this week) work items (``counts``: their numbers), in study-number order.

    Each patient's part is computed from that patient's rows only (``collect`` reads each patient alone) and kept in
    the shared cache under the patient's data version (``sabr_trial.generation.per_patient``): a save recomputes the
    patient it changed, not the study (issue 20: the navigation badge recomputed every patient's schedule after
    each save, a quarter of the CPU of a page under load).
    """
    ids = _registered()

    def lists(missing: list[int]) -> dict[int, Any]:
        out: dict[int, Any] = {pk: ([], []) for pk in missing}
        for ps in collect(today=today, patient_ids=missing):
            summary = ps.summary(today)
            out[ps.patient_id] = (
                [WorkItem(ps.patient_id, ps.label, f) for f in summary.overdue_forms],
                [WorkItem(ps.patient_id, ps.label, f) for f in summary.due_this_week],
            )
        return out

    items_key = f"visits:worklist-patient:{today.isoformat()}"
    counts_key = f"visits:worklist-patient-count:{today.isoformat()}"
    views = {  # the badge reads the numbers, the worklist page the items: both kept when either is computed
        items_key: lambda v: v,
        counts_key: lambda v: (len(v[0]), len(v[1])),
    }
    found = data_generation.per_patient(views, counts_key if counts else items_key, ids, lists)
    return {pk: found[pk] for pk in ids}


def cached_worklist(request: HttpRequest, *, today: datetime.date | None = None) -> dict[str, list[WorkItem]]:
    """Forms overdue and forms due within 7 days ({"overdue": [...], "week": [...]}), all patients, assembled from
    each patient's part, kept in the shared cache under that patient's data version.

    The worklist grows with the study (issue 20: 86 ms at 6 patients, 441 ms at 66); after a save only the patient
    changed is computed again. A part computed from data that changed meanwhile is stored under the old version and
    never read.
    """
    if not has_perm(request.user, Perm.VIEW):
        raise PermissionDenied
    today = today or timezone.localdate()
    overdue: list[WorkItem] = []
    week: list[WorkItem] = []
    for o, w in _per_patient(today, counts=False).values():
        overdue += o
        week += w
    return {"overdue": overdue, "week": week}


def patient_schedule(user: Any, patient: Any) -> PatientSchedule | None:
    """Return one patient's schedule (None before registration), with the same queries as the worklist."""
    if not has_perm(user, Perm.VIEW):
        raise PermissionDenied
    found = collect(today=timezone.localdate(), patient_ids=[patient.pk])
    return found[0] if found else None


@dataclass(frozen=True)
class WorkItem:
    patient_id: int
    patient_label: str
    form: schedule.ExpectedForm

    @property
    def sort_patient(self) -> tuple[str, datetime.date]:
        return (self.patient_label, self.form.due_date)


def form_url(patient_id: int, ef: schedule.ExpectedForm) -> str | None:
    """Return the link of an expected form: the row when done, otherwise the page that creates it."""
    if ef.slug not in registry:
        return None
    if ef.record is not None:
        return reverse("crf_detail", args=[patient_id, ef.slug, ef.record.ref])
    if ef.state is schedule.State.NOT_REQUIRED or ef.reason is schedule.Reason.NOTHING_TO_REPORT:
        return None
    return reverse("crf_create", args=[patient_id, ef.slug])
