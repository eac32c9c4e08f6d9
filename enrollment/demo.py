"""Demo patients for the enrollment forms (run by ``manage.py setup_demo``; idempotent).

Every branch of the enrollment flow, entered through the real services so each row passes the edit checks:
registered and followed alive, died, withdrew consent, lost to follow-up, recently registered, screen failure
(criterion not met), withdrew before registration.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.utils import timezone

from enrollment import criteria
from enrollment.models import (
    Baseline,
    Consent,
    DeathReport,
    Disposition,
    MedicalHistory,
    Patient,
    PriorTherapy,
    ScreeningLog,
    SurvivalContact,
)
from enrollment.rules import all_met, format_answers
from enrollment.services import eligibility_confirm, eligibility_create, patient_register, patient_screen
from sabr_trial.crf import CrfStatus
from sabr_trial.services import crf_create, crf_update

SUBMITTED = CrfStatus.SUBMITTED


def _at(day: datetime.date, hour: int) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour, 0)))


def _enrol(coord: Any, inv: Any, screened: datetime.date, **answers: str) -> Patient:
    """Screen, consent (day +1) and an investigator-confirmed checklist (day +2)."""
    patient = patient_screen(screening_date=screened, acting_user=coord)
    day = screened + datetime.timedelta(days=1)
    crf_create(
        model=Consent,
        patient=patient,
        acting_user=coord,
        status=SUBMITTED,
        data={
            "consent_type": Consent.ConsentType.INITIAL,
            "icf_version": "1.1",
            "consent_datetime": _at(day, 10),
            "obtained_by": coord,
        },
    )
    values = {c.id: c.qualifying_answer for c in criteria.criteria_for()} | answers
    elig = eligibility_create(
        patient=patient,
        acting_user=coord,
        status=SUBMITTED,
        data={
            "criteria_version": criteria.CURRENT_VERSION,
            "answers_summary": format_answers(values),
            "all_met": all_met(values, criteria.CURRENT_VERSION),
        },
    )
    eligibility_confirm(
        instance=elig,
        expected_version=elig.version,
        acting_user=inv,
        confirmed_at=_at(screened + datetime.timedelta(days=2), 15),
    )
    return patient


def _baseline(patient: Patient, coord: Any, day: datetime.date, **values: Any) -> None:
    data: dict[str, Any] = {
        "birth_year": day.year - 62,
        "sex": "M",
        "assessment_date": day,
        "ecog": 1,
        "kps": 80,
        "histology": "CLEAR CELL",
        "sarcomatoid": "N",
        "diagnosis_date": day - datetime.timedelta(days=900),
        "prior_nephrectomy": "Y",
        "nephrectomy_date": day - datetime.timedelta(days=860),
        "prior_systemic_lines": 0,
        "metastatic_lesion_count": 3,
        "imdc_lab_date": day,
        "hgb_below_lln": "N",
        "calcium_above_uln": "N",
        "neutrophils_above_uln": "N",
        "platelets_above_uln": "N",
    }
    data.update(values)
    crf_create(model=Baseline, patient=patient, data=data, acting_user=coord, status=SUBMITTED)


def _contact(
    patient: Patient, coord: Any, day: datetime.date, status: str = "ALIVE", reached: str = "Y"
) -> None:
    crf_create(
        model=SurvivalContact,
        patient=patient,
        acting_user=coord,
        status=SUBMITTED,
        data={
            "contact_date": day,
            "method": "TELEPHONE",
            "reached": reached,
            "survival_status": status if reached == "Y" else "",
            "new_anticancer_tx": "N" if reached == "Y" else "",
            "progression_reported": "",
        },
    )


def load(*, users: dict[str, Any], stdout: Any) -> None:
    if Patient.objects.exists():
        stdout.write("Demo patients already present: skipped.")
        return
    coord, inv = users["coordinator"], users["investigator"]
    today = timezone.localdate()

    def ago(days: int) -> datetime.date:
        return today - datetime.timedelta(days=days)

    # SR-001: followed, alive; history and a prior nephrectomy.
    p = _enrol(coord, inv, ago(420))
    patient_register(patient=p, registration_date=ago(410), acting_user=coord)
    _baseline(p, coord, ago(412))
    crf_create(
        model=MedicalHistory,
        patient=p,
        acting_user=coord,
        status=SUBMITTED,
        data={
            "mh_term": "Hypertension",
            "mh_category": "CARDIOVASCULAR",
            "start_date": "2015",
            "ongoing": "Y",
            "baseline_grade": 1,
            "systemic_tx_needed": "N",
        },
    )
    crf_create(
        model=PriorTherapy,
        patient=p,
        acting_user=coord,
        status=SUBMITTED,
        data={
            "therapy_type": "SURGERY",
            "procedure": "RADICAL NEPHRECTOMY",
            "start_date": ago(1272).strftime("%Y-%m"),
        },
    )
    _contact(p, coord, ago(20))

    # SR-002: poor risk, died of progression; off study on the date of death.
    p = _enrol(coord, inv, ago(360))
    patient_register(patient=p, registration_date=ago(352), acting_user=coord)
    _baseline(
        p,
        coord,
        ago(354),
        kps=70,
        ecog=2,
        hgb_below_lln="Y",
        calcium_above_uln="Y",
        diagnosis_date=ago(500),
        nephrectomy_date=ago(480),
    )
    crf_create(
        model=PriorTherapy,
        patient=p,
        acting_user=coord,
        status=SUBMITTED,
        data={
            "therapy_type": "RADIOTHERAPY",
            "rt_site": "BONE",
            "rt_laterality": "RIGHT",
            "rt_dose_gy": 8,
            "rt_fractions": 1,
            "start_date": ago(420).isoformat(),
            "end_date": ago(420).isoformat(),
        },
    )
    _contact(p, coord, ago(90))
    died = ago(45)
    crf_create(
        model=DeathReport,
        patient=p,
        acting_user=coord,
        status=SUBMITTED,
        data={
            "death_date": died,
            "primary_cause": "DISEASE PROGRESSION",
            "autopsy": "N",
            "source": "HOSPITAL RECORD",
        },
    )
    crf_create(
        model=Disposition,
        patient=p,
        acting_user=coord,
        status=SUBMITTED,
        data={
            "eot_reason": "PROGRESSIVE DISEASE",
            "eos_date": died,
            "eos_reason": "DEATH",
        },
    )

    # SR-003: withdrew consent for all contact and data.
    p = _enrol(coord, inv, ago(300))
    patient_register(patient=p, registration_date=ago(292), acting_user=coord)
    _baseline(
        p, coord, ago(294), sex="F", histology="PAPILLARY", prior_nephrectomy="N", nephrectomy_date=None
    )
    consent = Consent.objects.get(patient=p)
    crf_update(
        instance=consent,
        expected_version=consent.version,
        acting_user=coord,
        reason="Patient withdrew consent at the clinic",
        data={"withdrawn": "Y", "withdrawal_date": ago(150), "withdrawal_scope": "ALL CONTACT AND DATA"},
    )
    crf_create(
        model=Disposition,
        patient=p,
        acting_user=coord,
        status=SUBMITTED,
        data={
            "eot_reason": "WITHDRAWAL BY SUBJECT",
            "eos_date": ago(150),
            "eos_reason": "WITHDRAWAL BY SUBJECT",
        },
    )

    # SR-004: lost to follow-up after an unreached contact.
    p = _enrol(coord, inv, ago(240))
    patient_register(patient=p, registration_date=ago(232), acting_user=coord)
    _baseline(p, coord, ago(234), ecog=0, kps=90)
    _contact(p, coord, ago(100))
    _contact(p, coord, ago(10), reached="N")
    crf_create(
        model=Disposition,
        patient=p,
        acting_user=coord,
        status=SUBMITTED,
        data={
            "eos_date": ago(5),
            "eos_reason": "LOST TO FOLLOW-UP",
        },
    )

    # SR-005: recently registered; IMDC still provisional.
    p = _enrol(coord, inv, ago(30))
    patient_register(patient=p, registration_date=ago(24), acting_user=coord)
    _baseline(
        p, coord, ago(26), diagnosis_date=ago(200), nephrectomy_date=ago(180), neutrophils_above_uln="Y"
    )

    # S-0006: screen failure, no measurable lesion.
    p = _enrol(coord, inv, ago(60), INCL05="N")
    log = ScreeningLog.objects.get(patient=p)
    crf_update(
        instance=log,
        expected_version=log.version,
        acting_user=coord,
        reason="Screen failure",
        data={
            "outcome": "SCREEN FAILURE",
            "outcome_date": ago(57),
            "failure_reason": "CRITERIA NOT MET",
            "failed_criteria": ["INCL05"],
        },
    )

    # S-0007: consented, then withdrew before registration.
    p = _enrol(coord, inv, ago(15))
    log = ScreeningLog.objects.get(patient=p)
    crf_update(
        instance=log,
        expected_version=log.version,
        acting_user=coord,
        reason="Withdrew before registration",
        data={"outcome": "WITHDRAWAL BY SUBJECT", "outcome_date": ago(12)},
    )
    stdout.write(
        "Created 7 demo patients: 5 registered (alive, died, withdrew, lost, recent) and 2 not registered."
    )
