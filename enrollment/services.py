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
from sabr_trial.models import AuditEvent, NumberSequence
from sabr_trial.roles import Perm
from sabr_trial.services import (
    crf_create,
    crf_update,
    insert_with_history,
    next_number,
    require_perm,
    save_with_history,
)
from sabr_trial.sitetime import stamp
from sabr_trial.validators import not_in_future

#: EC-RG-2: registration within this many days of screening.
REGISTRATION_WINDOW_DAYS = 28


def _claim_number(name: str, wanted: int | None, taken: Any, field: str) -> int:
    """Return the next number of the sequence, or ``wanted``: an imported patient keeps the number it has in the
    source study (a migration must not renumber the patients of paper records). The counter moves past it, so
    the site never hands it out again; an imported number already in use is refused."""
    if wanted is None:
        return next_number(name)
    if wanted <= 0:
        raise ValidationError({field: _("%(n)s is not a valid number.") % {"n": wanted}})
    if taken(wanted):
        raise ValidationError({field: _("Number %(n)s is already used by another patient.") % {"n": wanted}})
    NumberSequence.objects.get_or_create(name=name)
    seq = NumberSequence.objects.select_for_update().get(name=name)
    if wanted > seq.last_value:
        seq.last_value = wanted
        seq.save(update_fields=["last_value"])
    return wanted


def screening_number_of(number: int) -> str:
    return f"S-{number:04d}"


def study_number_of(number: int) -> str:
    return f"{settings.STUDY_NUMBER_PREFIX}{number:03d}"


@transaction.atomic
def patient_screen(*, screening_date: datetime.date, acting_user: Any, number: int | None = None) -> Patient:
    """Create a patient with the next screening number (or ``number``, for an import) and an open screening log."""
    require_perm(acting_user, Perm.ENTER)
    try:
        not_in_future(screening_date)
    except ValidationError as exc:
        raise ValidationError({"screening_date": exc.messages}) from None
    number = _claim_number(
        "screening",
        number,
        lambda n: Patient.objects.filter(screening_number=screening_number_of(n)).exists(),
        "screening_number",
    )
    patient = Patient(screening_number=screening_number_of(number), created_by=acting_user)
    patient._history_user = acting_user  # type: ignore[attr-defined]
    patient.full_clean()
    patient.save()
    crf_create(
        model=ScreeningLog,
        patient=patient,
        data={"screening_date": screening_date},
        acting_user=acting_user,
        status=CrfStatus.SUBMITTED,
    )
    return patient


def registration_precheck(patient: Patient, today: datetime.date) -> list[tuple[datetime.date, list[str]]]:
    """The registration page's pre-check: every rule that blocks registration today and, for a late registration,
    on the last day of the 28-day window (EC-RG-2); [(date, problems)], an empty list of problems where it works.

    A patient screened on paper more than 28 days ago can only be registered on a past date, so the page names
    what blocks that date too (a confirmation dated at the click, a consent entered later...).
    """
    dates = [today]
    log = ScreeningLog.objects.filter(patient=patient).first()
    if log is not None:
        last = log.screening_date + datetime.timedelta(days=REGISTRATION_WINDOW_DAYS)
        if log.screening_date <= last < today:
            dates.append(last)
    return [(day, registration_problems(patient, day)) for day in dates]


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
def patient_register(
    *, patient: Patient, registration_date: datetime.date, acting_user: Any, number: int | None = None
) -> Patient:
    """Register a screened patient: assign the next study number, gap-free (EC-RG-1, EC-RG-2); ``number`` keeps
    an imported patient's study number."""
    require_perm(acting_user, Perm.ENTER)
    try:
        not_in_future(registration_date)
    except ValidationError as exc:
        raise ValidationError({"registration_date": exc.messages}) from None
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    problems = registration_problems(patient, registration_date)
    if problems:
        raise ValidationError({"registration_date": problems})
    number = _claim_number(
        "study",
        number,
        lambda n: Patient.objects.filter(study_number=study_number_of(n)).exists(),
        "study_number",
    )
    patient.study_number = study_number_of(number)
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
        user=acting_user,
        action=AuditEvent.Action.REGISTER,
        patient=patient,
        description=_("Registered as %(n)s on %(d)s") % {"n": patient.study_number, "d": registration_date},
    )
    return patient


# --- eligibility checklist (CRF 2): the parent row plus one answer row per criterion --------------------------


def _sync_answers(elig: Any, *, acting_user: Any, new: bool = False) -> None:
    """Keep one EligibilityAnswer per criterion equal to the checklist's stored answers.

    ``new``: the checklist was created by this call, so it has no answer yet: none is read, and the answers are
    validated without asking the database whether the checklist exists or an answer clashes with another (one per
    criterion, the criteria's ids being distinct), then written with one insert (``services.insert_with_history``;
    one by one outside a bulk batch)."""
    from enrollment import criteria
    from enrollment.models import EligibilityAnswer
    from enrollment.rules import parse_answers

    answers = parse_answers(elig.answers_summary)
    if new:
        rows = []
        for c in criteria.criteria_for(elig.criteria_version or criteria.CURRENT_VERSION):
            row = EligibilityAnswer(
                eligibility=elig, criterion_id=c.id, category=c.category, answer=answers.get(c.id, "")
            )
            row._history_user = acting_user  # type: ignore[attr-defined]
            row.full_clean(exclude=["eligibility"], validate_constraints=False)
            rows.append(row)
        insert_with_history(rows)
        return
    existing = {a.criterion_id: a for a in EligibilityAnswer.objects.filter(eligibility=elig)}
    for c in criteria.criteria_for(elig.criteria_version or criteria.CURRENT_VERSION):
        row = existing.get(c.id) or EligibilityAnswer(
            eligibility=elig, criterion_id=c.id, category=c.category
        )
        value = answers.get(c.id, "")
        if row.pk and row.answer == value:
            continue
        row.answer = value
        row._history_user = acting_user  # type: ignore[attr-defined]
        row.full_clean()
        save_with_history(row)


@transaction.atomic
def eligibility_create(*, patient: Patient, data: dict[str, Any], acting_user: Any, status: str) -> Any:
    """Create the checklist and its answer rows (CRF-SPEC form 2)."""
    from enrollment.models import Eligibility

    elig = crf_create(model=Eligibility, patient=patient, data=data, acting_user=acting_user, status=status)
    _sync_answers(elig, acting_user=acting_user, new=True)
    return elig


@transaction.atomic
def eligibility_update(
    *, instance: Any, expected_version: int, data: dict[str, Any], reason: str, acting_user: Any
) -> tuple[Any, list[Any]]:
    """Change the answers; a changed answer voids the investigator's confirmation (EC-EL-1)."""
    row, changes = crf_update(
        instance=instance,
        expected_version=expected_version,
        data=data,
        reason=reason,
        acting_user=acting_user,
    )
    if changes:
        _sync_answers(row, acting_user=acting_user)
    return row, changes


@transaction.atomic
def eligibility_confirm(
    *, instance: Any, expected_version: int, acting_user: Any, confirmed_at: datetime.datetime | None = None
) -> Any:
    """Record the acting investigator's confirmation of every answer, now or at ``confirmed_at`` (EC-EL-1).

    ``confirmed_at`` serves transcription of a dated paper checklist; it is validated like any entry.
    """
    from django.core.exceptions import PermissionDenied
    from django.utils import timezone

    from enrollment.rules import holds_investigator_role

    if not holds_investigator_role(acting_user):
        raise PermissionDenied(_("Only an investigator confirms eligibility (EC-EL-1)."))
    now = timezone.now()
    when = confirmed_at or now
    reason = _("Eligibility confirmed by the investigator")
    if is_entered_late(when, now):
        reason = _("Eligibility confirmed by the investigator on %(when)s, entered late") % {
            "when": stamp(when)
        }
    row, _changes = crf_update(
        instance=instance,
        expected_version=expected_version,
        data={"confirmed_by": acting_user, "confirmed_at": when},
        reason=reason,
        acting_user=acting_user,
    )
    return row


#: A confirmation dated more than this before it was entered is shown as "entered late" (issue 19).
LATE_ENTRY = datetime.timedelta(hours=1)


def is_entered_late(confirmed_at: datetime.datetime, entered_at: datetime.datetime) -> bool:
    """True when the confirmation was entered well after the time it carries (transcribed from paper)."""
    return entered_at - confirmed_at > LATE_ENTRY


def confirmation_entered_at(elig: Any) -> datetime.datetime | None:
    """When the current confirmation was entered: the first history row that carries it."""
    if not elig.confirmed_at:
        return None
    row = elig.history.filter(confirmed_at=elig.confirmed_at).order_by("history_date").first()
    return row.history_date if row is not None else None


def _append_registration_checks() -> None:
    from enrollment.rules import REGISTRATION_CHECKS as OURS

    for check in OURS:
        if check not in REGISTRATION_CHECKS:
            REGISTRATION_CHECKS.append(check)


_append_registration_checks()
