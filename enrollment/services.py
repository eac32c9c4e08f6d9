"""Writes of the patient registry: screening a new patient and registering them."""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from enrollment.models import Patient, ScreeningLog
from sabr_trial.crf import CrfStatus
from sabr_trial.models import AuditEvent
from sabr_trial.roles import Perm
from sabr_trial.services import crf_create, next_number, require_perm
from sabr_trial.validators import not_in_future

#: EC-RG-2: registration within this many days of screening.
REGISTRATION_WINDOW_DAYS = 28


@transaction.atomic
def patient_screen(*, screening_date: datetime.date, acting_user: Any) -> Patient:
    """Create a patient with the next screening number and an open screening log."""
    require_perm(acting_user, Perm.ENTER)
    try:
        not_in_future(screening_date)
    except ValidationError as exc:
        raise ValidationError({"screening_date": exc.messages}) from None
    number = next_number("screening")
    patient = Patient(screening_number=f"S-{number:04d}", created_by=acting_user)
    patient._history_user = acting_user  # type: ignore[attr-defined]
    patient.full_clean()
    patient.save()
    crf_create(
        model=ScreeningLog, patient=patient, data={"screening_date": screening_date}, acting_user=acting_user,
        status=CrfStatus.SUBMITTED,
    )  # fmt: skip
    return patient


def registration_problems(patient: Patient, registration_date: datetime.date) -> list[str]:
    """Return every reason the patient cannot be registered on that date (EC-RG-1, EC-RG-2)."""
    problems: list[str] = []
    if patient.is_registered:
        problems.append(_("The patient is already registered as %(n)s.") % {"n": patient.study_number})
    log = ScreeningLog.objects.filter(patient=patient).first()
    if log is None:
        problems.append(_("There is no screening log for this patient."))
    else:
        if log.outcome in (ScreeningLog.Outcome.SCREEN_FAILURE, ScreeningLog.Outcome.WITHDRAWAL):
            problems.append(
                _("The screening outcome is '%(o)s': a screen failure is never registered (EC-SC-2).")
                % {"o": log.get_outcome_display()}
            )
        if registration_date < log.screening_date:
            problems.append(_("The registration date is before the screening date."))
        elif (registration_date - log.screening_date).days > REGISTRATION_WINDOW_DAYS:
            problems.append(
                _("Registration is %(d)s days after screening: the limit is %(w)s days (EC-RG-2).")
                % {"d": (registration_date - log.screening_date).days, "w": REGISTRATION_WINDOW_DAYS}
            )
    for check in REGISTRATION_CHECKS:
        problems.extend(check(patient, registration_date))
    return problems


#: Further registration checks (consent, eligibility) appended by the enrollment CRFs.
REGISTRATION_CHECKS: list[Any] = []


@transaction.atomic
def patient_register(*, patient: Patient, registration_date: datetime.date, acting_user: Any) -> Patient:
    """Register a screened patient: assign the next study number, gap-free (EC-RG-1, EC-RG-2)."""
    require_perm(acting_user, Perm.ENTER)
    try:
        not_in_future(registration_date)
    except ValidationError as exc:
        raise ValidationError({"registration_date": exc.messages}) from None
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    problems = registration_problems(patient, registration_date)
    if problems:
        raise ValidationError({"registration_date": problems})
    number = next_number("study")
    patient.study_number = f"{settings.STUDY_NUMBER_PREFIX}{number:03d}"
    patient.registration_date = registration_date
    patient.registered_by = acting_user
    patient._history_user = acting_user  # type: ignore[attr-defined]
    patient._change_reason = "Registered"  # type: ignore[attr-defined]
    patient.save()
    log = ScreeningLog.objects.select_for_update().get(patient=patient)
    if log.outcome != ScreeningLog.Outcome.ELIGIBLE:
        # EC-SC-2: only registration sets ELIGIBLE.
        log.outcome = ScreeningLog.Outcome.ELIGIBLE
        log.outcome_date = registration_date
        log.version += 1
        log._change_reason = "Registration sets the outcome ELIGIBLE (EC-SC-2)"  # type: ignore[attr-defined]
        log._history_user = acting_user  # type: ignore[attr-defined]
        log.updated_by = acting_user
        log.save()
    AuditEvent.objects.create(
        user=acting_user, action=AuditEvent.Action.REGISTER, patient=patient,
        description=_("Registered as %(n)s on %(d)s") % {"n": patient.study_number, "d": registration_date},
    )  # fmt: skip
    return patient
