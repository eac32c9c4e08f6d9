"""Demo treatment data for the registered demo patients (run by ``manage.py setup_demo``; idempotent).

Protocol SABR on the lesions ``assessments.demo`` registered (its ``SABR_PLAN``: 1-3 targets per patient, common
fractionations 50 Gy/5, 40 Gy/5, 35 Gy/5, 30 Gy/3, 24 Gy/1), one fraction every other day from treatment start, so
every treated patient has a SABR start (D1) and every irradiated lesion a local-control origin. Axitinib started at 5 mg BID and titrated
where the blood pressure allowed (the reductions and interruptions for toxicity come with their AEs from
``adverse_events.demo``), toripalimab cycles with a delay; both drugs stop at the review after
the first RECIST PD (a permanent-discontinuation row), on the day before end of study (withdrawal), when the supply
given at the last visit ran out (lost to follow-up), or for SR-004 toripalimab after cycle 3 (``adverse_events.demo`` records the discontinuation linked to the colitis that caused it). SR-001 starts
cabozantinib for progression after its PD (the PFS2 event). Nothing is dated after death, end of study or today.
Every row goes through the CRF services, so it passes the same checks as the forms. With the SABR targets in place
the assessments are recomputed (irradiated-lesion response, local control) as the lesion registry page does.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

# The demo study is seed data that crosses the apps in loading order (setup_demo): SABR goes on the lesions the
# assessments demo entered, so this module alone imports upwards (declared in the layers contract, pyproject.toml).
from assessments.demo import SABR_PLAN, after_sabr
from assessments.models import Lesion, TumourAssessment
from enrollment.models import Patient
from enrollment.selectors import death_date
from sabr_trial.crf import CrfStatus
from sabr_trial.services import crf_create, crf_update
from treatment.models import (
    AxitinibPeriod,
    SabrCourse,
    SabrFraction,
    SabrTarget,
    SubsequentTherapy,
    ToripalimabInfusion,
)
from treatment.rules import end_of_study

#: For a patient beyond ``assessments.demo.SABR_PLAN``: the first lesions get these fractionations in turn.
FRACTIONATIONS = [
    (Decimal("30"), 3),
    (Decimal("35"), 5),
    (Decimal("24"), 1),
    (Decimal("40"), 5),
    (Decimal("50"), 5),
]
DAY = datetime.timedelta(days=1)
START_AFTER_REGISTRATION_DAYS = 3  # the same day assessments.demo schedules imaging from
#: Days from the scan showing PD to the clinic review that stops the protocol drugs.
PD_REVIEW_DAYS = 5
#: Days from the scan showing PD to the next-line therapy of the PFS2 patient (index 0).
NEXT_LINE_AFTER_PD_DAYS = 16
#: Toripalimab permanently discontinued after this cycle (patient index -> cycle): SR-004's colitis.
TORIPALIMAB_LAST_CYCLE = {3: 3}
#: Days a delayed cycle 3 is put back (patient index -> days; default 7): SR-003 waits for its ALT to settle.
TORIPALIMAB_DELAY_DAYS = {2: 21}


def _create(model: Any, patient: Patient, user: Any, **data: Any) -> Any:
    return crf_create(model=model, patient=patient, data=data, acting_user=user, status=CrfStatus.SUBMITTED)


def _plan(patient: Patient, index: int) -> list[tuple[Any, Decimal, int]]:
    """The lesions to irradiate with their (total dose, fractions)."""
    lesions = list(Lesion.objects.filter(patient=patient).exclude(role="NEW").order_by("pk"))
    if index < len(SABR_PLAN):
        by_code = {lesion.lesion_code: lesion for lesion in lesions}
        return [(by_code[c], d, n) for c, (d, n) in SABR_PLAN[index].items() if c in by_code]
    return [
        (lesion, *FRACTIONATIONS[(index + k) % len(FRACTIONATIONS)])
        for k, lesion in enumerate(lesions[: 1 + index % 5])
    ]


def _sabr(patient: Patient, user: Any, start: datetime.date, index: int, limit: datetime.date) -> str:
    if SabrCourse.objects.filter(patient=patient).exists():
        return "present"
    plan = _plan(patient, index)
    if not plan:
        return "skipped (no registered lesion yet)"
    course = _create(
        SabrCourse,
        patient,
        user,
        is_protocol="Y",
        indication=SabrCourse.Indication.INITIAL,
        simulation_date=start - 2 * DAY,
        technique="VMAT",
        image_guidance="CBCT",
    )
    complete = True
    for number, (lesion, dose, n) in enumerate(plan):
        target = _create(
            SabrTarget,
            patient,
            user,
            course=course,
            lesion=lesion,
            prescribed_dose_gy=dose,
            n_fractions=n,
            isodose_pct=80,
            ptv_cc=Decimal("18.5") + number * 7,
        )
        for fraction in range(1, n + 1):
            day = start + (fraction - 1) * 2 * DAY
            if day > limit:
                complete = False
                break
            _create(
                SabrFraction,
                patient,
                user,
                target=target,
                fraction_number=fraction,
                fraction_date=day,
                delivered="Y",
                dose_delivered_gy=target.dose_per_fraction_gy,
            )
    if complete:
        course.refresh_from_db()
        crf_update(
            instance=course,
            expected_version=course.version,
            acting_user=user,
            reason="Course completed",
            data={"completion_status": "AS PLANNED"},
        )
    return ", ".join(f"{lesion.lesion_code} {dose:g} Gy/{n}" for lesion, dose, n in plan)


#: Axitinib plan per patient index: (day from treatment start, dose level, reason, normotensive for a titration).
#: A step up after 6 weeks at a dose when normotensive (R4.3, EC-AX-3); SR-001 (hypertension from day 11), SR-002
#: (hand-foot syndrome) and SR-003 (ALT increased at day 39) are not titrated; the toxicity interruptions and reductions are entered by
#: ``adverse_events.demo`` with the AE that caused them (EC-AX-2 needs the AE, which is recorded after this).
AXITINIB_PLAN: dict[int, list[tuple[int, str, str, str]]] = {
    0: [(0, "5 MG BID", "START", "")],
    1: [(0, "5 MG BID", "START", "")],
    2: [(0, "5 MG BID", "START", "")],
}
DEFAULT_AXITINIB_PLAN = [(0, "5 MG BID", "START", ""), (42, "7 MG BID", "TITRATION UP", "Y")]


def _axitinib(
    patient: Patient,
    user: Any,
    start: datetime.date,
    index: int,
    stop: datetime.date | None,
    limit: datetime.date,
    discontinue: bool,
) -> None:
    """Periods from ``start``; the last one ends the day before ``stop`` (then a discontinuation if asked)."""
    if AxitinibPeriod.objects.filter(patient=patient).exists():
        return
    plan = AXITINIB_PLAN.get(index, DEFAULT_AXITINIB_PLAN)
    last_day = min(stop - DAY, limit) if stop else limit
    for i, (offset, level, reason, bp) in enumerate(plan):
        day = start + offset * DAY
        if day > last_day:
            break
        following = start + plan[i + 1][0] * DAY if i + 1 < len(plan) else None
        final = following is None or following > last_day
        end_date = (last_day if stop else None) if final else following - DAY  # type: ignore[operator]
        _create(
            AxitinibPeriod,
            patient,
            user,
            start_date=day,
            end_date=end_date,
            dose_level=level,
            dose_change_reason=reason,
            missed_doses=index % 3,
            bp_ok_no_antihtn=bp,
        )
        if final:
            break
    if discontinue and stop is not None and stop <= limit:
        _create(
            AxitinibPeriod,
            patient,
            user,
            start_date=stop,
            dose_level="PERMANENTLY DISCONTINUED",
            dose_change_reason="OTHER",
        )


def _toripalimab(
    patient: Patient,
    user: Any,
    start: datetime.date,
    index: int,
    stop: datetime.date | None,
    limit: datetime.date,
    discontinue: bool,
) -> None:
    if ToripalimabInfusion.objects.filter(patient=patient).exists():
        return
    last_day = min(stop - DAY, limit) if stop else limit
    last_cycle = TORIPALIMAB_LAST_CYCLE.get(index, 12)
    day, cycle = start, 1
    while day <= last_day and cycle <= last_cycle:
        if cycle == 3 and index % 2 == 0:
            _create(
                ToripalimabInfusion,
                patient,
                user,
                cycle_number=cycle,
                infusion_status="DELAYED",
                status_reason="LOGISTIC",
                dose_mg=None,
            )
            cycle += 1
            day += TORIPALIMAB_DELAY_DAYS.get(index, 7) * DAY
            continue
        # The first patient's second lot number was not written down: left empty as Unknown (a missing-data code).
        lot = (
            {"lot_number": "", "missing_codes": {"lot_number": "UNK"}}
            if (index, cycle) == (0, 2)
            else {"lot_number": f"TP{2400 + cycle}"}
        )
        _create(
            ToripalimabInfusion,
            patient,
            user,
            cycle_number=cycle,
            infusion_status="GIVEN",
            infusion_date=day,
            dose_mg=Decimal("240"),
            infusion_interrupted="N",
            **lot,
        )
        cycle += 1
        day += 21 * DAY
    if discontinue and stop is not None and stop <= limit:
        _create(
            ToripalimabInfusion,
            patient,
            user,
            cycle_number=cycle,
            infusion_status="PERMANENTLY DISCONTINUED",
            status_reason="PROGRESSION",
            dose_mg=None,
        )


def _next_line(
    patient: Patient, user: Any, first_pd: datetime.date | None, index: int, limit: datetime.date
) -> None:
    if index != 0 or first_pd is None or SubsequentTherapy.objects.filter(patient=patient).exists():
        return
    next_line = first_pd + NEXT_LINE_AFTER_PD_DAYS * DAY
    if next_line <= limit:
        _create(
            SubsequentTherapy,
            patient,
            user,
            therapy_type="SYSTEMIC",
            regimen="Cabozantinib 60 mg QD",
            start_date=next_line,
            reason="PROGRESSION",
            local_on_protocol="N",
        )


def _first_pd(patient: Patient) -> datetime.date | None:
    """The scan date of the first RECIST PD time point."""
    row = (
        TumourAssessment.objects.filter(patient=patient, overall_resp="PD")
        .order_by("scan_date_first")
        .first()
    )
    return row.scan_date_first if row else None


def _lost_after(patient: Patient) -> datetime.date | None:
    """For a patient lost to follow-up: the end of the supply given at the last visit (last scan + 21 days)."""
    from enrollment.models import Disposition

    if not Disposition.objects.filter(patient=patient, eos_reason="LOST TO FOLLOW-UP").exists():
        return None
    last = (
        TumourAssessment.objects.filter(patient=patient)
        .order_by("-scan_date_first")
        .values_list("scan_date_first", flat=True)
        .first()
    )
    return last + 21 * DAY if last else None


def _death(patient: Patient) -> datetime.date | None:
    return death_date(patient)


def _after_sabr(patient: Patient, users: dict[str, Any]) -> None:
    """Recompute the patient's responses now that lesions are irradiated (and enter the LF confirmation)."""
    after_sabr(patient, users)


def load(*, users: dict[str, Any], stdout: Any) -> None:
    user = users["coordinator"]
    today = timezone.localdate()
    patients = Patient.objects.filter(study_number__isnull=False).order_by("registration_date", "pk")
    for index, patient in enumerate(patients):
        start = patient.registration_date + START_AFTER_REGISTRATION_DAYS * DAY
        # nothing after death or the end of study (EC-G2, EC-G4)
        eos, died = end_of_study(patient), _death(patient)
        limit = min(d for d in (today, eos, died) if d is not None)
        if start > limit:
            continue
        first_pd = _first_pd(patient)
        if first_pd is not None:
            stop, discontinue = first_pd + PD_REVIEW_DAYS * DAY, True
        else:
            stop, discontinue = (eos if eos and eos <= today else None), False
            lost_after = _lost_after(patient)
            if stop and lost_after:
                stop = min(stop, lost_after)
        try:
            with transaction.atomic():
                sabr = _sabr(patient, user, start, index, limit)
                _axitinib(patient, user, start, index, stop, limit, discontinue)
                _toripalimab(patient, user, start, index, stop, limit, discontinue)
                _next_line(patient, user, first_pd, index, limit)
                _after_sabr(patient, users)
        except ValidationError as exc:
            stdout.write(f"Treatment demo for {patient}: not loaded ({'; '.join(exc.messages)[:300]}).")
            continue
        stdout.write(f"Treatment demo for {patient}: SABR {sabr}, axitinib, toripalimab.")
