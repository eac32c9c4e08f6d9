"""Builders for enrollment CRFs through the real services, so every row passes the same checks as the forms."""

from __future__ import annotations

import datetime
from typing import Any

from django.utils import timezone

from enrollment import criteria, services
from enrollment.models import Baseline, Consent, Eligibility
from enrollment.rules import all_met, format_answers
from sabr_trial.crf import CrfStatus
from sabr_trial.services import crf_create

TODAY = timezone.localdate()


def aware(day: datetime.date, hour: int = 9) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour, 0)))


def screen(coordinator: Any, *, days_ago: int = 10) -> Any:
    return services.patient_screen(
        screening_date=TODAY - datetime.timedelta(days=days_ago), acting_user=coordinator
    )


def consent(
    patient: Any,
    coordinator: Any,
    *,
    on: datetime.date | None = None,
    version: str = "2.0",
    status: str = CrfStatus.SUBMITTED,
    **extra: Any,
) -> Consent:
    data = {
        "consent_type": Consent.ConsentType.INITIAL,
        "icf_version": version,
        "consent_datetime": aware(on or TODAY - datetime.timedelta(days=9)),
        "obtained_by": coordinator,
    }
    data.update(extra)
    return crf_create(model=Consent, patient=patient, data=data, acting_user=coordinator, status=status)


def qualifying_answers(**overrides: str) -> dict[str, str]:
    answers = {c.id: c.qualifying_answer for c in criteria.criteria_for()}
    answers.update(overrides)
    return answers


def eligibility(
    patient: Any,
    coordinator: Any,
    *,
    investigator: Any = None,
    answers: dict[str, str] | None = None,
    status: str = CrfStatus.SUBMITTED,
) -> Eligibility:
    answers = qualifying_answers() if answers is None else answers
    data = {
        "criteria_version": criteria.CURRENT_VERSION,
        "answers_summary": format_answers(answers),
        "all_met": all_met(answers, criteria.CURRENT_VERSION),
    }
    elig = services.eligibility_create(patient=patient, data=data, acting_user=coordinator, status=status)
    if investigator is not None:
        elig = services.eligibility_confirm(
            instance=elig, expected_version=elig.version, acting_user=investigator
        )
    return elig


def registrable(coordinator: Any, investigator: Any, *, days_ago: int = 10) -> Any:
    """Return a screened patient with a submitted consent and a confirmed, all-met checklist."""
    patient = screen(coordinator, days_ago=days_ago)
    consent(patient, coordinator, on=TODAY - datetime.timedelta(days=days_ago - 1))
    eligibility(patient, coordinator, investigator=investigator)
    return patient


def registered(coordinator: Any, investigator: Any, *, days_ago: int = 10) -> Any:
    patient = registrable(coordinator, investigator, days_ago=days_ago)
    return services.patient_register(patient=patient, registration_date=TODAY, acting_user=coordinator)


def baseline_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "birth_year": TODAY.year - 60,
        "sex": "M",
        "assessment_date": TODAY - datetime.timedelta(days=5),
        "ecog": 1,
        "kps": 80,
        "histology": "CLEAR CELL",
        "histology_other": "",
        "sarcomatoid": "N",
        "diagnosis_date": TODAY - datetime.timedelta(days=800),
        "prior_nephrectomy": "N",
        "nephrectomy_date": None,
        "prior_systemic_lines": 0,
        "metastatic_lesion_count": 3,
        "imdc_lab_date": TODAY - datetime.timedelta(days=5),
        "hgb_below_lln": "N",
        "calcium_above_uln": "N",
        "neutrophils_above_uln": "N",
        "platelets_above_uln": "N",
    }
    data.update(overrides)
    return data


def baseline(patient: Any, coordinator: Any, **overrides: Any) -> Baseline:
    return crf_create(
        model=Baseline, patient=patient, data=baseline_data(**overrides), acting_user=coordinator
    )


def post_data(data: dict[str, Any]) -> dict[str, Any]:
    """Return form POST values for a data dict (dates as ISO, None as empty, users as pk)."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if value is None:
            out[key] = ""
        elif isinstance(value, datetime.datetime):
            out[key] = timezone.localtime(value).strftime("%Y-%m-%dT%H:%M")
        elif isinstance(value, datetime.date):
            out[key] = value.isoformat()
        elif hasattr(value, "pk"):
            out[key] = value.pk
        else:
            out[key] = value
    return out
