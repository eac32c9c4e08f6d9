"""Derived values of the treatment CRFs (pipeline stages 4 and 8), registered in ``treatment.crfs``.

Stage 4 functions fill the derived fields of the row being saved; stage 8 functions re-derive rows of other
forms through ``crf_system_update`` (own history row, reason "recomputed after ...").
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models

from sabr_trial.services import crf_system_update, followup_rows
from treatment import dosing, radiobiology
from treatment.models import (
    Immunosuppressant,
    SabrCourse,
    SabrFraction,
    SabrTarget,
    SubsequentTherapy,
    ToripalimabInfusion,
    YesNo,
)
from treatment.rules import pfs2_event
from treatment.selectors import patient_infusions, weight_kg


# --- Stage 4: the row being saved ------------------------------------------------------------------------------
def derive_course_number(course: SabrCourse) -> None:
    """Number a new course after the patient's last one."""
    if not course.course_number:
        last = SabrCourse.objects.filter(patient_id=course.patient_id).aggregate(
            m=models.Max("course_number")
        )
        course.course_number = (last["m"] or 0) + 1


def derive_prescription(target: SabrTarget) -> None:
    """R3.1/R3.2: dose per fraction, BED and EQD2 of the prescription (EC-ST-2)."""
    target.compute_prescription_values()


def _planned_date(infusion: ToripalimabInfusion) -> object:
    earlier = [
        row
        for row in patient_infusions(infusion.patient_id)
        if row.pk != infusion.pk
        and row.cycle_number < infusion.cycle_number
        and row.infusion_status == ToripalimabInfusion.Status.GIVEN
    ]
    previous = max(earlier, key=lambda row: row.cycle_number) if earlier else None
    if previous is None or not previous.infusion_date:
        return None
    return dosing.toripalimab_planned_date(previous.infusion_date)


def derive_planned_date(infusion: ToripalimabInfusion) -> None:
    """R4.6: the planned date of a cycle is three weeks (q3w) after the last given infusion."""
    infusion.planned_date = _planned_date(infusion)


def derive_prednisone_equivalent(row: Immunosuppressant) -> None:
    """EC-CM-2 (R4.8): the daily prednisone-equivalent dose (mg/day) of an immunosuppressant; none while the dose
    is unknown (a missing-data code: DM-5 raises the query)."""
    if row.dose is None:
        row.pred_equiv_mg_day = None
        return
    try:
        value = dosing.prednisone_equivalent_mg_day(
            drug=dosing.Immunosuppressant(row.drug),
            dose=Decimal(row.dose),
            unit=dosing.DoseUnit(row.dose_unit),
            frequency=dosing.DoseFrequency(row.frequency),
            weight_kg=weight_kg(row.patient),
        )
    except (dosing.DosingError, ValueError):
        value = None
    row.pred_equiv_mg_day = None if value is None else value.quantize(Decimal("0.01"))


def derive_pfs2_event(row: SubsequentTherapy) -> None:
    """D2: whether this subsequent therapy starts the PFS2 clock."""
    row.pfs2_event = YesNo.Y if pfs2_event(row.reason, row.local_on_protocol) else YesNo.N


# --- Stage 8: rows of other forms -------------------------------------------------------------------------------
def refresh_target_and_course(fraction: SabrFraction) -> None:
    """EC-SB-2 / R3.1: the fraction log sets the target's first and last fraction, its delivered BED10, and the
    course's start and completion dates."""
    targets, locked = followup_rows(SabrTarget.objects.filter(pk=fraction.target_id))
    target = targets.get()
    delivered = list(
        SabrFraction.objects.filter(target_id=target.pk, delivered=YesNo.Y).order_by("fraction_date")
    )
    doses = [Decimal(f.dose_delivered_gy) for f in delivered if f.dose_delivered_gy]
    bed10: Decimal | None = None
    if doses and len(doses) <= radiobiology.MAX_FRACTIONS:
        bed10 = radiobiology.bed_delivered(doses).bed_gy.quantize(Decimal("0.0001"))
    crf_system_update(
        instance=target,
        values={
            "first_fraction_date": delivered[0].fraction_date if delivered else None,
            "last_fraction_date": delivered[-1].fraction_date if delivered else None,
            "bed10_delivered_gy": bed10,
        },
        locked=locked,
    )
    refresh_course_dates(target.course_id)


def refresh_course_dates(course_id: object) -> None:
    span = SabrFraction.objects.filter(target__course_id=course_id, delivered=YesNo.Y).aggregate(
        first=models.Min("fraction_date"), last=models.Max("fraction_date")
    )
    courses, locked = followup_rows(SabrCourse.objects.filter(pk=course_id))
    crf_system_update(
        instance=courses.get(),
        values={"start_date": span["first"], "completion_date": span["last"]},
        locked=locked,
    )


def refresh_later_planned_dates(infusion: ToripalimabInfusion) -> None:
    """R4.6: a cycle's date moves the planned date of the cycles after it."""
    rows = patient_infusions(infusion.patient_id)
    later_rows = [row for row in rows if row.cycle_number > infusion.cycle_number]
    if not later_rows:
        return
    # read once for all the later cycles (the same choice as ``_planned_date``, which reads one cycle's)
    given = sorted(
        (row for row in rows if row.infusion_status == ToripalimabInfusion.Status.GIVEN),
        key=lambda row: -row.cycle_number,
    )
    for later in later_rows:
        previous = next((g for g in given if g.cycle_number < later.cycle_number and g.pk != later.pk), None)
        planned = (
            dosing.toripalimab_planned_date(previous.infusion_date)
            if previous is not None and previous.infusion_date
            else None
        )
        if later.planned_date != planned:
            crf_system_update(instance=later, values={"planned_date": planned}, cascade=False)
