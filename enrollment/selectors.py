"""Reads of the patient registry, scoped by the user's role."""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone

from enrollment.models import Consent, DeathReport, Disposition, Patient, YesNo
from sabr_trial import compiled, patient_facts, pipeline
from sabr_trial.crf import CrfStatus
from sabr_trial.patient_dates import dates_of
from sabr_trial.roles import Perm, has_perm


def patients_for_user(user: Any, *, search: str = "") -> QuerySet[Patient]:
    """Return the patients the user may see (single centre: every study role sees all)."""
    if not has_perm(user, Perm.VIEW):
        raise PermissionDenied
    qs = Patient.objects.all()
    if search:
        qs = qs.filter(Q(study_number__icontains=search) | Q(screening_number__icontains=search))
    return qs.order_by("-created_at", "-id")


def get_patient_for_user(user: Any, pk: int) -> Patient:
    """Return one patient if the user may see it; 404 if it does not exist, 403 if not allowed."""
    if not has_perm(user, Perm.VIEW):
        raise PermissionDenied
    if not isinstance(pk, int):
        return get_object_or_404(Patient, pk=pk)
    # Every patient page reads it: its SQL is built once per process (issue 20).
    found = compiled.patient_objects(
        "enrollment:patient", lambda ids: Patient.objects.filter(pk__in=ids), [pk]
    )
    if not found:
        raise Http404("No Patient matches the given query.")
    return found[0]


# Reads of enrollment facts for other apps (no role check: they serve rules and derivations, not pages).


def active_consents(patient: Any) -> QuerySet[Any]:
    """Return the patient's consents that are not drafts and not withdrawn, oldest first."""

    return (
        Consent.objects.filter(patient=patient)
        .exclude(status=CrfStatus.DRAFT)
        .exclude(withdrawn=YesNo.YES)
        .order_by("consent_datetime", "id")
    )


def first_consent(patient: Any) -> Any:
    """Return the patient's first consent entered (draft or not), or None."""

    return Consent.objects.filter(patient=patient).order_by("consent_datetime", "id").first()


def consent_datetime(patient: Any) -> datetime.datetime | None:
    """Return when the patient first gave consent (DM.RFICDTC): the first active consent, or None."""
    consent = active_consents(patient).first()
    return consent.consent_datetime if consent is not None else None


def consent_date(patient: Any) -> datetime.date | None:
    """Return the local date of the first consent entered, or None (EC-G3 compares dates with it)."""

    def read() -> datetime.date | None:
        consent = first_consent(patient)
        return timezone.localtime(consent.consent_datetime).date() if consent is not None else None

    return pipeline.batch_read(("consent_date", _pk(patient)), (Consent,), read)


def death_date(patient: Any) -> datetime.date | None:
    """Return the patient's date of death, or None."""

    def read() -> datetime.date | None:
        rows = compiled.patient_rows(
            "enrollment:death_date",
            lambda ids: (
                DeathReport.objects.filter(patient_id__in=ids).values_list("death_date").order_by("pk")
            ),
            [_pk(patient)],
        )
        return rows[0][0] if rows else None

    return pipeline.batch_read(("death_date", _pk(patient)), (DeathReport,), read)


def end_of_study_date(patient: Any) -> datetime.date | None:
    """Return the off-study date (DM.RFPENDTC), or None while the patient is on study."""

    return pipeline.batch_read(
        ("end_of_study_date", _pk(patient)),
        (Disposition,),
        lambda: (
            Disposition.objects.filter(patient=patient, eos_date__isnull=False)
            .values_list("eos_date", flat=True)
            .first()
        ),
    )


def _pk(patient: Any) -> Any:
    return getattr(patient, "pk", patient)


#: Kinds of patient dates that do not prove the patient was alive (R5.6).
NOT_ALIVE_EVIDENCE = frozenset({"history", "death", "contact_other", "end_of_study"})


def last_known_alive(patient: Any) -> datetime.date | None:
    """Return the latest date the patient is known alive (R5.6, EC-SV-1).

    The latest visit, scan, dose, AE or survival contact with status ALIVE; never after death.
    Medical-history dates and contacts without status ALIVE do not count.
    """

    dates = [d.date for d in dates_of(patient) if d.kind not in NOT_ALIVE_EVIDENCE]
    died = death_date(patient)
    if died is not None:
        dates = [d for d in dates if d <= died]
    return max(dates, default=None)


def first_systemic_dose_date(patient: Any) -> datetime.date | None:
    """Return the first axitinib or toripalimab dose date, or None (fixes the IMDC interval, EC-BL-4).

    The treatment app answers it (``patient_facts``: enrollment sits below treatment and never imports it).
    """
    return patient_facts.fact("first_systemic_dose", patient)
