"""Demo tumour assessments for the registered demo patients (run by ``manage.py setup_demo``; idempotent).

Each treated demo patient gets a baseline lesion registry (1-5 lesions of RCC sites: lung, lymph node, bone,
adrenal, liver, kidney bed; targets and non-targets, nodal and non-nodal; scanned within 28 days before treatment
start) and follow-up CT every ~8 weeks from treatment start, stopping at death, consent withdrawal or end of study.
Across the patients the series cover, as the RECIST module computes them (never typed in):

* SR-001: PR, confirmed PR 8 weeks later, PR, PD by a new liver lesion at week 32, next line after it (PFS2 event);
  imaging goes on for local control and shows the local failure of the irradiated right-lung lesion at week 40.
* SR-002: SD, then PD by the sum (a non-irradiated para-aortic node grows) at week 16; died of progression later.
* SR-003: PR, then an NE time point (the liver target not evaluable); withdrew consent: PR stays unconfirmed.
* SR-004: PR, CR, confirmed CR; lost to follow-up afterwards.
* SR-005: recently treated: baseline only, first scan not yet due.

Every row goes through the real services: lesions through ``crf_create`` (the registry edit checks), time points
through ``assessments.services.save_assessment`` with each grid row and new lesion first validated by the very
forms the page uses, so the derived responses are computed exactly as for data typed in. The SABR targets that
treat these lesions come from ``treatment.demo`` (``SABR_PLAN`` below is what it prescribes), which recomputes the
responses and local control once the fractions exist.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from assessments.forms import LesionRowForm, NewLesionForm
from assessments.models import Lesion
from assessments.services import save_assessment
from enrollment.models import Patient
from sabr_trial.crf import CrfStatus
from sabr_trial.services import crf_create

DAY = datetime.timedelta(days=1)
#: The demo starts treatment (first SABR fraction, axitinib, toripalimab) this many days after registration.
TREATMENT_START_DAYS = 3
#: Baseline CT this many days before registration (within the 28-day window before treatment start).
BASELINE_BEFORE_REGISTRATION_DAYS = 4
#: Scheduled imaging every 8 weeks from treatment start (D6); each visit's offset from that day (within +/- 7).
INTERVAL_DAYS = 56


@dataclass(frozen=True)
class LesionSpec:
    role: str
    organ: str
    location: str
    value_mm: str | None = None
    laterality: str = ""
    nonmeasurable_type: str = ""
    group_count: int = 1
    previously_irradiated: str = "N"
    progressed_since_rt: str = ""


@dataclass(frozen=True)
class NewSpec:
    organ: str
    location: str
    laterality: str = ""
    value_mm: str | None = None


@dataclass(frozen=True)
class Visit:
    """One follow-up time point: week, days off schedule, a value per lesion code, new lesions."""

    week: int
    shift: int
    values: dict[str, str]
    new: tuple[NewSpec, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class Case:
    lesions: tuple[LesionSpec, ...]
    visits: tuple[Visit, ...] = field(default_factory=tuple)


# Target values: a number (mm; short axis for nodes), "NE" not evaluable, "DIS" disappeared, "TS" too small.
# Non-target values: "P" present, "A" absent, "UP" unequivocal progression, "NE" not evaluable.
T, NT = "TARGET", "NON-TARGET"
LIVER_N1 = NewSpec("LIVER", "Segment VII, subcapsular, 14 mm", value_mm="14")
CASES: list[Case] = [
    Case(  # SR-001
        lesions=(
            LesionSpec(T, "LUNG", "Right upper lobe, posterior segment", "28", "RIGHT"),
            LesionSpec(T, "LYMPH NODE", "Subcarinal node (station 7)", "19"),
            LesionSpec(T, "LUNG", "Left lower lobe, basal segment", "15", "LEFT"),
            LesionSpec(NT, "BONE", "T9 vertebral body, lytic"),
        ),
        visits=(
            Visit(8, 2, {"L1": "18", "L2": "12", "L3": "12", "L4": "P"}),
            Visit(16, 1, {"L1": "14", "L2": "9", "L3": "10", "L4": "P"}),
            Visit(24, 2, {"L1": "12", "L2": "8", "L3": "11", "L4": "P"}),
            Visit(32, 2, {"L1": "11", "L2": "8", "L3": "12", "L4": "P"}, new=(LIVER_N1,)),
            Visit(40, 2, {"L1": "17", "L2": "8", "L3": "13", "L4": "P"}, new=(LIVER_N1,)),
            Visit(48, 2, {"L1": "19", "L2": "9", "L3": "12", "L4": "P"}, new=(LIVER_N1,)),
            Visit(56, -2, {"L1": "20", "L2": "9", "L3": "12", "L4": "P"}, new=(LIVER_N1,)),
        ),
    ),
    Case(  # SR-002
        lesions=(
            LesionSpec(T, "KIDNEY", "Left renal fossa (nephrectomy bed) recurrence", "34", "LEFT"),
            LesionSpec(T, "ADRENAL GLAND", "Right adrenal gland", "26", "RIGHT"),
            LesionSpec(T, "LYMPH NODE", "Left para-aortic node at L2", "17"),
            LesionSpec(
                NT,
                "BONE",
                "Right iliac wing (8 Gy before enrolment)",
                laterality="RIGHT",
                previously_irradiated="Y",
                progressed_since_rt="N",
            ),
            LesionSpec(
                NT,
                "LIVER",
                "Several sub-centimetre liver metastases",
                nonmeasurable_type="SMALL",
                group_count=3,
            ),
        ),
        visits=(
            Visit(8, -1, {"L1": "30", "L2": "22", "L3": "18", "L4": "P", "L5": "P"}),
            Visit(16, 2, {"L1": "29", "L2": "21", "L3": "35", "L4": "P", "L5": "P"}),
        ),
    ),
    Case(  # SR-003
        lesions=(
            LesionSpec(T, "LUNG", "Right middle lobe, lateral segment", "22", "RIGHT"),
            LesionSpec(T, "LIVER", "Segment IVa", "31"),
            LesionSpec(NT, "BONE", "T11 vertebral body, sclerotic rim"),
        ),
        visits=(
            Visit(8, 1, {"L1": "14", "L2": "20", "L3": "P"}),
            Visit(16, -1, {"L1": "13", "L2": "NE", "L3": "P"}, note="Liver target not evaluable"),
        ),
    ),
    Case(  # SR-004
        lesions=(
            LesionSpec(T, "LUNG", "Left upper lobe, apicoposterior segment", "17", "LEFT"),
            LesionSpec(T, "ADRENAL GLAND", "Left adrenal gland", "23", "LEFT"),
            LesionSpec(NT, "LYMPH NODE", "Left hilar node", "12"),
        ),
        visits=(
            Visit(8, 1, {"L1": "8", "L2": "11", "L3": "P"}),
            Visit(16, 1, {"L1": "DIS", "L2": "DIS", "L3": "A"}),
            Visit(24, 1, {"L1": "DIS", "L2": "DIS", "L3": "A"}),
        ),
    ),
    Case(  # SR-005: first follow-up scan not yet due
        lesions=(
            LesionSpec(T, "LUNG", "Right lower lobe, superior segment", "21", "RIGHT"),
            LesionSpec(T, "LYMPH NODE", "Right retrocrural node", "16"),
            LesionSpec(
                NT,
                "LUNG",
                "Multiple sub-centimetre nodules, both lungs",
                nonmeasurable_type="SMALL",
                group_count=4,
                laterality="BILATERAL",
            ),
        ),
    ),
]

#: Protocol SABR per demo patient (registration order): lesion code -> (total dose Gy, fractions). Read by
#: ``treatment.demo``; SR-001's L1 is the lesion that fails locally, SR-002's growing node L3 is not irradiated.
SABR_PLAN: list[dict[str, tuple[Decimal, int]]] = [
    {"L1": (Decimal(50), 5), "L2": (Decimal(40), 5), "L4": (Decimal(24), 1)},
    {"L1": (Decimal(40), 5), "L2": (Decimal(35), 5)},
    {"L1": (Decimal(30), 3)},
    {"L1": (Decimal(50), 5), "L2": (Decimal(40), 5)},
    {"L1": (Decimal(35), 5), "L2": (Decimal(30), 3)},
]

#: (patient index, lesion code, week): the scan showing local failure, confirmed on PET (entered once SABR exists).
LOCAL_FAILURE = (0, "L1", 40)


def treatment_start(patient: Patient) -> datetime.date:
    return patient.registration_date + TREATMENT_START_DAYS * DAY


def visit_date(patient: Patient, visit: Visit) -> datetime.date:
    return treatment_start(patient) + (visit.week * 7 + visit.shift) * DAY


def follow_up_limit(patient: Patient) -> datetime.date:
    """The last day imaging can be dated: today, the death, the end of study or the consent withdrawal."""
    from enrollment.models import Consent
    from enrollment.selectors import death_date, end_of_study_date

    dates = [timezone.localdate(), death_date(patient), end_of_study_date(patient)]
    dates += list(
        Consent.objects.filter(patient=patient, withdrawn="Y").values_list("withdrawal_date", flat=True)
    )
    return min(d for d in dates if d is not None)


def demo_patients() -> list[Patient]:
    """The registered demo patients in registration order (the order the other demo modules use)."""
    return list(Patient.objects.filter(study_number__isnull=False).order_by("registration_date", "pk"))


def _register(patient: Patient, user: Any, spec: LesionSpec, day: datetime.date) -> Lesion:
    data: dict[str, Any] = {
        "role": spec.role,
        "organ": spec.organ,
        "laterality": spec.laterality,
        "location_text": spec.location,
        "method": "CT SCAN",
        "slice_thickness_mm": Decimal("1.0"),
        "baseline_date": day,
        "baseline_value_mm": Decimal(spec.value_mm) if spec.value_mm else None,
        "nonmeasurable_type": spec.nonmeasurable_type,
        "group_count": spec.group_count,
        "previously_irradiated": spec.previously_irradiated,
        "progressed_since_rt": spec.progressed_since_rt,
    }
    return crf_create(model=Lesion, patient=patient, data=data, acting_user=user, status=CrfStatus.SUBMITTED)


def grid_row(lesion: Lesion, lesions: Any, value: str, **extra: str) -> dict[str, Any]:
    """Validate one grid row with the page's own form and return what the service stores."""
    data: dict[str, str] = {"split_merge": "NONE", **extra}
    if lesion.role == Lesion.Role.TARGET:
        if value == "NE":
            data["result_status"] = "NOT EVALUABLE"
        elif value == "DIS":
            data["result_status"] = "DISAPPEARED"
        elif value == "TS":
            data["result_status"] = "TOO SMALL TO MEASURE"
        else:
            data.update(result_status="MEASURED", value_mm=value)
    else:
        states = {"P": "PRESENT", "A": "ABSENT", "UP": "UNEQUIVOCAL PROGRESSION", "NE": "NOT EVALUABLE"}
        data["nontarget_state"] = states[value]
    form = LesionRowForm(data, lesion=lesion, lesions=lesions)
    if not form.is_valid():
        raise ValidationError(f"{lesion.lesion_code}: {form.errors.as_text()}")
    return form.row_data()


def new_lesion_row(spec: NewSpec, first_seen: datetime.date, code: str = "") -> dict[str, Any]:
    data = {
        "code": code,
        "organ": spec.organ,
        "laterality": spec.laterality,
        "location_text": spec.location,
        "detected_by": "CT SCAN",
        "first_seen_date": first_seen.isoformat(),
        "unequivocal": "Y",
        "new_value_mm": spec.value_mm or "",
        "present": "Y",
    }
    form = NewLesionForm(data)
    if not form.is_valid():
        raise ValidationError(f"new lesion: {form.errors.as_text()}")
    return {k: v for k, v in form.cleaned_data.items() if k not in ("id", "assessment", "DELETE")}


def _follow_up(
    patient: Patient,
    user: Any,
    visit: Visit,
    day: datetime.date,
    first_seen: dict[NewSpec, tuple[str, datetime.date]],
) -> Any:
    lesions = Lesion.objects.filter(patient=patient).exclude(role="NEW").order_by("id")
    rows = [grid_row(lesion, lesions, visit.values[lesion.lesion_code]) for lesion in lesions]
    new_rows = []
    for index, spec in enumerate(visit.new, start=1):
        code, seen = first_seen.get(spec, ("", day))
        new_rows.append(new_lesion_row(spec, seen, code))
        first_seen.setdefault(spec, (f"N{index}", day))
    data = {"imaging_done": "Y", "scan_date_first": day, "modality": "CT SCAN", "clinical_deterioration": "N"}
    assessment, _ = save_assessment(
        patient=patient,
        instance=None,
        data=data,
        rows=rows,
        new_lesions=new_rows,
        acting_user=user,
        submit=True,
    )
    return assessment


def load(*, users: dict[str, Any], stdout: Any) -> None:
    if Lesion.objects.exists():
        stdout.write("Demo lesions already present: skipped.")
        return
    user = users["coordinator"]
    for patient, case in zip(demo_patients(), CASES, strict=False):
        baseline = patient.registration_date - BASELINE_BEFORE_REGISTRATION_DAYS * DAY
        limit = follow_up_limit(patient)
        if baseline > limit:
            continue
        done = 0
        try:
            with transaction.atomic():
                for spec in case.lesions:
                    _register(patient, user, spec, baseline)
                first_seen: dict[NewSpec, tuple[str, datetime.date]] = {}
                for visit in case.visits:
                    day = visit_date(patient, visit)
                    if day > limit:
                        break
                    _follow_up(patient, user, visit, day, first_seen)
                    done += 1
        except ValidationError as exc:
            stdout.write(f"Assessment demo for {patient}: not loaded ({'; '.join(exc.messages)[:300]}).")
            continue
        stdout.write(f"Assessment demo for {patient}: {len(case.lesions)} lesion(s), {done} follow-up(s).")


def after_sabr(patient: Patient, users: dict[str, Any]) -> None:
    """Once the SABR targets exist (``treatment.demo``): recompute the patient's time points (irradiated-lesion
    response, local control, visit labels from the real treatment start) and, for the lesion that failed locally,
    enter the investigator's review: unequivocal in-field progression, confirmed on PET (R1.42, D5)."""
    from assessments.models import LesionResult, TumourAssessment
    from assessments.services import recompute_patient

    recompute_patient(patient)
    index, code, week = LOCAL_FAILURE
    patients = demo_patients()
    if index >= len(patients) or patients[index].pk != patient.pk:
        return
    visit = next(v for v in CASES[index].visits if v.week == week)
    assessment = TumourAssessment.objects.filter(
        patient=patient, scan_date_first=visit_date(patient, visit)
    ).first()
    if (
        assessment is None
        or LesionResult.objects.filter(assessment=assessment, lf_confirmation__gt="").exists()
    ):
        return
    lesions = Lesion.objects.filter(patient=patient).exclude(role="NEW").order_by("id")
    review = {"infield_progression": "Y", "lf_confirmation": "PET AVIDITY"}
    rows = [
        grid_row(
            lesion,
            lesions,
            visit.values[lesion.lesion_code],
            **(review if lesion.lesion_code == code else {}),
        )
        for lesion in lesions
    ]
    new_rows = [
        new_lesion_row(
            NewSpec(n.organ, n.location_text, n.laterality, str(n.new_value_mm or "")),
            n.first_seen_date,
            n.code,
        )
        for n in assessment.new_lesions.all()
    ]
    data = {
        "imaging_done": "Y",
        "scan_date_first": assessment.scan_date_first,
        "modality": assessment.modality,
        "clinical_deterioration": assessment.clinical_deterioration,
    }
    save_assessment(
        patient=patient,
        instance=assessment,
        data=data,
        rows=rows,
        new_lesions=new_rows,
        acting_user=users.get("investigator") or users["coordinator"],
        reason=f"{code}: growth in the SABR field, FDG-avid on PET/CT",
        expected_version=assessment.version,
    )
