"""Demo treatment data for the registered demo patients (run by ``manage.py setup_demo``; idempotent).

SABR courses with 1-5 targets and common fractionations (30 Gy/3, 35 Gy/5, 24 Gy/1, 40 Gy/5, 45 Gy/3) on the
patient's registered lesions (none are created here: with no lesion yet, SABR is skipped and a later run adds
it), axitinib titration and a reduction, toripalimab cycles with a delay, and one next-line therapy.
Every row goes through the CRF services, so it passes the same checks as the forms.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from enrollment.models import Patient
from sabr_trial.crf import CrfStatus
from sabr_trial.services import crf_create
from treatment.models import (
    AxitinibPeriod,
    SabrCourse,
    SabrFraction,
    SabrTarget,
    SubsequentTherapy,
    ToripalimabInfusion,
)
from treatment.rules import end_of_study

FRACTIONATIONS = [
    (Decimal("30"), 3),
    (Decimal("35"), 5),
    (Decimal("24"), 1),
    (Decimal("40"), 5),
    (Decimal("45"), 3),
]
DAY = datetime.timedelta(days=1)


def _create(model: Any, patient: Patient, user: Any, **data: Any) -> Any:
    return crf_create(model=model, patient=patient, data=data, acting_user=user, status=CrfStatus.SUBMITTED)


def _sabr(patient: Patient, user: Any, start: datetime.date, index: int, today: datetime.date) -> str:
    if SabrCourse.objects.filter(patient=patient).exists():
        return "present"
    try:
        lesion_model = apps.get_model("assessments", "Lesion")
    except LookupError:
        return "no lesion app"
    lesions = list(lesion_model.objects.filter(patient=patient).order_by("pk")[: 1 + index % 5])
    if not lesions:
        return "skipped (no registered lesion yet)"
    course = _create(SabrCourse, patient, user, is_protocol="Y", indication=SabrCourse.Indication.INITIAL,
                     simulation_date=start - 2 * DAY, technique="VMAT", image_guidance="CBCT")  # fmt: skip
    for number, lesion in enumerate(lesions):
        dose, n = FRACTIONATIONS[(index + number) % len(FRACTIONATIONS)]
        target = _create(SabrTarget, patient, user, course=course, lesion=lesion, prescribed_dose_gy=dose,
                         n_fractions=n, isodose_pct=80, ptv_cc=Decimal("18.5") + number * 7)  # fmt: skip
        for fraction in range(1, n + 1):
            day = start + (fraction - 1) * 2 * DAY
            if day > today:
                break
            _create(SabrFraction, patient, user, target=target, fraction_number=fraction, fraction_date=day,
                    delivered="Y", dose_delivered_gy=target.dose_per_fraction_gy)  # fmt: skip
    return f"{len(lesions)} target(s)"


def _axitinib(patient: Patient, user: Any, start: datetime.date, index: int, today: datetime.date) -> None:
    if AxitinibPeriod.objects.filter(patient=patient).exists():
        return
    plan = [("5 MG BID", "START", 42, ""), ("7 MG BID", "TITRATION UP", 42, "Y")]
    plan.append(("5 MG BID", "OTHER", 60, "") if index % 2 else ("INTERRUPTED", "SURGERY", 5, ""))
    plan.append(("5 MG BID", "OTHER", 10_000, ""))
    day = start
    for i, (level, reason, days, bp) in enumerate(plan):
        if day > today:
            break
        end = day + (days - 1) * DAY
        last = i == len(plan) - 1 or end + DAY > today
        _create(AxitinibPeriod, patient, user, start_date=day, end_date=None if last else end, dose_level=level,
                dose_change_reason=reason, missed_doses=index % 3, bp_ok_no_antihtn=bp)  # fmt: skip
        if last:
            break
        day = end + DAY


def _toripalimab(patient: Patient, user: Any, start: datetime.date, index: int, today: datetime.date) -> None:
    if ToripalimabInfusion.objects.filter(patient=patient).exists():
        return
    day, cycle = start, 1
    while day <= today and cycle <= 12:
        if cycle == 3 and index % 2 == 0:
            _create(ToripalimabInfusion, patient, user, cycle_number=cycle, infusion_status="DELAYED",
                    status_reason="LOGISTIC", dose_mg=None)  # fmt: skip
            cycle += 1
            day += 7 * DAY
            continue
        _create(ToripalimabInfusion, patient, user, cycle_number=cycle, infusion_status="GIVEN", infusion_date=day,
                dose_mg=Decimal("240"), infusion_interrupted="N", lot_number=f"TP{2400 + cycle}")  # fmt: skip
        cycle += 1
        day += 21 * DAY


def _next_line(patient: Patient, user: Any, start: datetime.date, index: int, today: datetime.date) -> None:
    next_line = start + 200 * DAY
    if index == 0 and next_line <= today and not SubsequentTherapy.objects.filter(patient=patient).exists():
        _create(SubsequentTherapy, patient, user, therapy_type="SYSTEMIC", regimen="Cabozantinib 60 mg QD",
                start_date=next_line, reason="PROGRESSION", local_on_protocol="N")  # fmt: skip


def _death(patient: Patient) -> datetime.date | None:
    try:
        from enrollment.selectors import death_date
    except ImportError:
        return None
    return death_date(patient)


def load(*, users: dict[str, Any], stdout: Any) -> None:
    user = users["coordinator"]
    today = timezone.localdate()
    patients = Patient.objects.filter(study_number__isnull=False).order_by("study_number")
    for index, patient in enumerate(patients):
        start = patient.registration_date + 3 * DAY
        # nothing after death or the end of study (EC-G2, EC-G4)
        limit = min(d for d in (today, end_of_study(patient), _death(patient)) if d is not None)
        if start > limit:
            continue
        try:
            with transaction.atomic():
                sabr = _sabr(patient, user, start, index, limit)
                _axitinib(patient, user, start, index, limit)
                _toripalimab(patient, user, start, index, limit)
                _next_line(patient, user, start, index, limit)
        except ValidationError as exc:
            stdout.write(f"Treatment demo for {patient}: not loaded ({'; '.join(exc.messages)[:300]}).")
            continue
        stdout.write(f"Treatment demo for {patient}: SABR {sabr}, axitinib, toripalimab.")
