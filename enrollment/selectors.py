"""Reads of the patient registry, scoped by the user's role."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404

from enrollment.models import Patient
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
    return get_object_or_404(Patient, pk=pk)
