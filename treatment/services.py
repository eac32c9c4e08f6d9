"""Writes of the treatment app beyond the generic CRF services: the derived columns the fraction log drives.

Every CRF row is still created and changed through ``sabr_trial.services`` (crf_create / crf_update); these
functions only refresh derived, read-only columns (no version bump: they are not data anyone types).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import models

from treatment import radiobiology
from treatment.models import SabrCourse, SabrFraction, SabrTarget, YesNo


def refresh_sabr_derived(target: SabrTarget) -> None:
    """Recompute the target's first/last delivered fraction and BED10 as delivered (R3.1), then the course's
    start and completion dates (EC-SB-2: only the fraction log sets the SABR start)."""
    delivered = list(
        SabrFraction.objects.filter(target_id=target.pk, delivered=YesNo.Y).order_by("fraction_date")
    )
    doses = [Decimal(f.dose_delivered_gy) for f in delivered if f.dose_delivered_gy]
    bed10: Decimal | None = None
    if doses and len(doses) <= radiobiology.MAX_FRACTIONS:
        bed10 = radiobiology.bed_delivered(doses).bed_gy.quantize(Decimal("0.0001"))
    SabrTarget.objects.filter(pk=target.pk).update(
        first_fraction_date=delivered[0].fraction_date if delivered else None,
        last_fraction_date=delivered[-1].fraction_date if delivered else None,
        bed10_delivered_gy=bed10,
    )
    refresh_course_dates(target.course_id)
    recompute_responses(target.patient)


def recompute_responses(patient: Any) -> None:
    """A lesion's SABR link and first fraction move its local-control origin and its place in the
    non-irradiated response (D4, D5): recompute the patient's stored responses (EC-TA-3)."""
    from assessments.services import recompute_patient

    recompute_patient(patient)


def refresh_course_dates(course_id: Any) -> None:
    span = SabrFraction.objects.filter(target__course_id=course_id, delivered=YesNo.Y).aggregate(
        first=models.Min("fraction_date"), last=models.Max("fraction_date")
    )
    SabrCourse.objects.filter(pk=course_id).update(start_date=span["first"], completion_date=span["last"])
