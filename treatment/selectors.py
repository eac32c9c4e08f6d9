"""Reads of the treatment data: the D1 origins other apps use, and the exposure summary.

Other apps import ``treatment_start`` and ``sabr_start`` from here: keep those names.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.utils import timezone

from treatment import dosing, radiobiology
from treatment.models import (
    AxitinibPeriod,
    SabrCourse,
    SabrFraction,
    SabrTarget,
    ToripalimabInfusion,
    YesNo,
)

_DOSED_LEVELS = [d.value for d in dosing.AxitinibDose if dosing.axitinib_level(d) is not None]


def first_protocol_course(patient: Any) -> SabrCourse | None:
    """The first course with is_protocol = Y (EC-SB-2)."""
    return SabrCourse.objects.filter(patient=patient, is_protocol=YesNo.Y).order_by("course_number").first()


def sabr_start(patient: Any) -> datetime.date | None:
    """D1 / EC-SB-2 / EC-FX-3: the first delivered fraction of the first protocol SABR course."""
    course = first_protocol_course(patient)
    if course is None:
        return None
    row = (
        SabrFraction.objects.filter(target__course=course, delivered=YesNo.Y)
        .order_by("fraction_date")
        .values_list("fraction_date", flat=True)
        .first()
    )
    return row


def first_axitinib_dose(patient: Any) -> datetime.date | None:
    return (
        AxitinibPeriod.objects.filter(patient=patient, dose_level__in=_DOSED_LEVELS)
        .order_by("start_date")
        .values_list("start_date", flat=True)
        .first()
    )


def first_toripalimab_given(patient: Any) -> datetime.date | None:
    return (
        ToripalimabInfusion.objects.filter(
            patient=patient, infusion_status=ToripalimabInfusion.Status.GIVEN, infusion_date__isnull=False
        )
        .order_by("infusion_date")
        .values_list("infusion_date", flat=True)
        .first()
    )


def treatment_start(patient: Any) -> datetime.date | None:
    """D1 (OS origin, DM.RFSTDTC): the earliest of the first delivered fraction of the first protocol course,
    the first axitinib period with a dose and the first toripalimab infusion GIVEN."""
    dates = [
        d for d in (sabr_start(patient), first_axitinib_dose(patient), first_toripalimab_given(patient)) if d
    ]
    return min(dates) if dates else None


def target_first_fraction(target: SabrTarget) -> datetime.date | None:
    return (
        target.fractions.filter(delivered=YesNo.Y)
        .order_by("fraction_date")
        .values_list("fraction_date", flat=True)
        .first()
    )


def lesion_lc_origin(lesion: Any) -> datetime.date | None:
    """R2.1, EC-FX-3: a lesion's local-control origin is the first delivered fraction of its first SABR target
    (a re-irradiation does not move it)."""
    if not any(f.name == "lesion" for f in SabrTarget._meta.get_fields()):
        return None
    targets = SabrTarget.objects.filter(lesion=lesion).order_by("course__course_number", "pk")
    for target in targets:
        first = target_first_fraction(target)
        if first is not None:
            return first
    return None


def weight_kg(patient: Any) -> Decimal | None:
    """Baseline weight for mg/kg doses, read lazily from the enrollment baseline form when it exists."""
    try:
        model = apps.get_model("enrollment", "Baseline")
    except LookupError:
        return None
    if not any(f.name == "weight_kg" for f in model._meta.get_fields()):
        return None
    row = model.objects.filter(patient=patient).values_list("weight_kg", flat=True).first()
    return Decimal(row) if row is not None else None


# --- Exposure summary ----------------------------------------------------------------------------------------


@dataclass
class TargetExposure:
    target: SabrTarget
    course_number: int
    lesion: str
    planned_fractions: int
    delivered_fractions: int
    not_delivered_fractions: int
    delivered_dose_gy: Decimal
    complete: bool
    first_fraction: datetime.date | None
    last_fraction: datetime.date | None


@dataclass
class Exposure:
    treatment_start: datetime.date | None
    sabr_start: datetime.date | None
    as_of: datetime.date
    axitinib_first: datetime.date | None = None
    axitinib_last: datetime.date | None = None
    axitinib_days: int | None = None
    axitinib_cumulative_mg: Decimal | None = None
    axitinib_planned_mg: Decimal | None = None
    axitinib_rdi_pct: Decimal | None = None
    axitinib_current: str = ""
    toripalimab_cycles: int = 0
    toripalimab_first: datetime.date | None = None
    toripalimab_last: datetime.date | None = None
    toripalimab_days: int | None = None
    toripalimab_cumulative_mg: Decimal | None = None
    toripalimab_rdi_pct: Decimal | None = None
    targets: list[TargetExposure] = field(default_factory=list)

    @property
    def has_data(self) -> bool:
        return bool(self.treatment_start or self.targets or self.axitinib_first or self.toripalimab_cycles)


def _axitinib(periods: list[AxitinibPeriod], as_of: datetime.date, out: Exposure) -> None:
    settings = dosing.DEFAULT_AXITINIB_RDI
    taken = Decimal(0)
    first = last = None
    for period in periods:
        mg = Decimal(0)
        if dosing.axitinib_level(dosing.AxitinibDose(period.dose_level)) is not None:
            mg = period.other_dose_mg or dosing.axitinib_dose_mg(dosing.AxitinibDose(period.dose_level))
        if mg == 0:
            continue
        end = min(period.end_date or as_of, as_of)
        if end < period.start_date:
            continue
        days = (end - period.start_date).days + 1
        taken += mg * settings.administrations_per_day * days - (period.missed_doses or 0) * mg
        first = period.start_date if first is None else min(first, period.start_date)
        last = end if last is None else max(last, end)
    if periods:
        out.axitinib_current = str(periods[-1])
    if first is None or last is None:
        return
    out.axitinib_first, out.axitinib_last = first, last
    out.axitinib_days = (last - first).days + 1
    out.axitinib_cumulative_mg = taken
    out.axitinib_planned_mg = settings.planned_mg_per_day * out.axitinib_days
    try:
        rdi = dosing.axitinib_rdi([p.as_pure() for p in periods if p.start_date <= as_of], as_of=as_of)
    except dosing.DosingError:
        rdi = None
    out.axitinib_rdi_pct = rdi


def exposure(patient: Any, *, as_of: datetime.date | None = None) -> Exposure:
    """The casebook's exposure summary (issue 5 item 7): D1 dates, duration on each drug, axitinib cumulative
    and planned dose with RDI, toripalimab cycles and RDI, SABR completion and BED/EQD2 per lesion."""
    as_of = as_of or timezone.localdate()
    out = Exposure(treatment_start=treatment_start(patient), sabr_start=sabr_start(patient), as_of=as_of)
    _axitinib(list(AxitinibPeriod.objects.filter(patient=patient).order_by("start_date")), as_of, out)
    infusions = list(ToripalimabInfusion.objects.filter(patient=patient).order_by("cycle_number"))
    given = [
        i for i in infusions if i.infusion_status == ToripalimabInfusion.Status.GIVEN and i.infusion_date
    ]
    out.toripalimab_cycles = len(given)
    if given:
        out.toripalimab_first = min(i.infusion_date for i in given)
        out.toripalimab_last = max(i.infusion_date for i in given)
        out.toripalimab_days = (
            out.toripalimab_last - out.toripalimab_first
        ).days + dosing.TORIPALIMAB_CYCLE_DAYS
        out.toripalimab_cumulative_mg = sum((Decimal(i.dose_mg or 0) for i in given), Decimal(0))
        try:
            out.toripalimab_rdi_pct = dosing.toripalimab_rdi([i.as_pure() for i in given])
        except dosing.DosingError:
            out.toripalimab_rdi_pct = None
    targets = (
        SabrTarget.objects.filter(patient=patient)
        .select_related("course")
        .prefetch_related("fractions")
        .order_by("course__course_number", "pk")
    )
    for target in targets:
        fractions = list(target.fractions.all())
        delivered = [f for f in fractions if f.delivered == YesNo.Y]
        dates = [f.fraction_date for f in delivered]
        out.targets.append(
            TargetExposure(
                target=target,
                course_number=target.course.course_number,
                lesion=str(getattr(target, "lesion", "") or f"#{target.pk}"),
                planned_fractions=target.n_fractions,
                delivered_fractions=len(delivered),
                not_delivered_fractions=len(fractions) - len(delivered),
                delivered_dose_gy=sum((Decimal(f.dose_delivered_gy or 0) for f in delivered), Decimal(0)),
                complete=len(delivered) >= target.n_fractions,
                first_fraction=min(dates) if dates else None,
                last_fraction=max(dates) if dates else None,
            )  # fmt: skip
        )
    return out


def round_gy(value: Decimal | None) -> Decimal | None:
    return None if value is None else radiobiology.round_gy(value)
