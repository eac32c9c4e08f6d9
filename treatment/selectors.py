"""Reads of the treatment data: the D1 origins other apps use, and the exposure summary.

Other apps import ``treatment_start`` and ``sabr_start`` from here: keep those names.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.utils import timezone

from sabr_trial import compiled, pipeline
from treatment import dosing, origins, radiobiology
from treatment.models import (
    AxitinibPeriod,
    SabrCourse,
    SabrFraction,
    SabrTarget,
    SubsequentTherapy,
    ToripalimabInfusion,
    YesNo,
)


def first_protocol_course(patient: Any) -> SabrCourse | None:
    """The first course with is_protocol = Y (EC-SB-2)."""
    return SabrCourse.objects.filter(patient=patient, is_protocol=YesNo.Y).order_by("course_number").first()


def _patient_id(patient: Any) -> int:
    return int(getattr(patient, "pk", patient))


def fraction_records(patient: Any) -> list[origins.Fraction]:
    """The patient's SABR fractions as D1 records (one query, its SQL built once), in primary-key order."""
    rows = compiled.patient_rows(
        "treatment:fraction_records",
        lambda ids: (
            SabrFraction.objects.filter(patient_id__in=ids)
            .order_by("pk")
            .values_list(
                "pk",
                "fraction_date",
                "delivered",
                "target__course__is_protocol",
                "target__course__course_number",
            )
        ),
        [_patient_id(patient)],
    )
    return [
        origins.Fraction(
            date=day,
            delivered=delivered == YesNo.Y,
            protocol=protocol == YesNo.Y,
            course_number=number,
            ref=pk,
        )
        for pk, day, delivered, protocol, number in rows
    ]


def axitinib_rows(patient: Any) -> list[tuple[int, datetime.date | None, datetime.date | None, str]]:
    """The patient's axitinib periods as (pk, start date, end date, dose level), in primary-key order (one query,
    its SQL built once)."""
    return compiled.patient_rows(  # type: ignore[return-value]
        "treatment:axitinib_rows",
        lambda ids: (
            AxitinibPeriod.objects.filter(patient_id__in=ids)
            .order_by("pk")
            .values_list("pk", "start_date", "end_date", "dose_level")
        ),
        [_patient_id(patient)],
    )


def axitinib_records(
    patient: Any, rows: list[tuple[int, datetime.date | None, datetime.date | None, str]] | None = None
) -> list[origins.AxitinibPeriod]:
    """The patient's axitinib periods as D1 records (one query; none when ``rows`` of ``axitinib_rows`` are
    given), in primary-key order."""
    return [
        origins.AxitinibPeriod(start_date=day, dose_level=level, ref=pk)
        for pk, day, _end, level in (axitinib_rows(patient) if rows is None else rows)
    ]


def infusion_records(patient: Any) -> list[origins.Infusion]:
    """The patient's toripalimab infusions as D1 records (one query, its SQL built once), in primary-key order."""
    rows = compiled.patient_rows(
        "treatment:infusion_records",
        lambda ids: (
            ToripalimabInfusion.objects.filter(patient_id__in=ids)
            .order_by("pk")
            .values_list("pk", "infusion_date", "infusion_status")
        ),
        [_patient_id(patient)],
    )
    return [origins.Infusion(date=day, infusion_status=status, ref=pk) for pk, day, status in rows]


def _date(origin: origins.Origin | None) -> datetime.date | None:
    return origin.date if origin is not None else None


def sabr_start(patient: Any) -> datetime.date | None:
    """D1 / EC-SB-2 / EC-FX-3: the first delivered fraction of the first protocol SABR course."""
    return _date(origins.sabr_start(fraction_records(patient)))


def first_axitinib_dose(patient: Any) -> datetime.date | None:
    """D1: the start of the first axitinib period with a dose."""
    return _date(origins.first_axitinib_dose(axitinib_records(patient)))


def first_toripalimab_given(patient: Any) -> datetime.date | None:
    """D1: the first toripalimab infusion GIVEN."""
    return _date(origins.first_toripalimab_dose(infusion_records(patient)))


def first_systemic_dose(patient: Any) -> datetime.date | None:
    """D1: the first axitinib dose or toripalimab infusion GIVEN, whichever is earlier (EC-BL-4's IMDC interval)."""
    return _date(
        origins.treatment_start(periods=axitinib_records(patient), infusions=infusion_records(patient))
    )


def treatment_start(patient: Any) -> datetime.date | None:
    """D1 (OS origin, DM.RFSTDTC): the earliest of the first delivered fraction of the first protocol course,
    the first axitinib period with a dose and the first toripalimab infusion GIVEN (``treatment.origins``)."""
    return _date(
        origins.treatment_start(
            fractions=fraction_records(patient),
            periods=axitinib_records(patient),
            infusions=infusion_records(patient),
        )
    )


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
    targets = SabrTarget.objects.filter(lesion=lesion).order_by("course__course_number", "pk")
    for target in targets:
        first = target_first_fraction(target)
        if first is not None:
            return first
    return None


def weight_kg(patient: Any) -> Decimal | None:
    """Body weight for mg/kg doses: None, because no CRF of this trial records a weight (CRF-SPEC), so a steroid
    dosed in mg/kg has no prednisone equivalent. (A look-up of a ``weight_kg`` field that does not exist used to
    hide this behind a "missing field" guard.)"""
    del patient
    return None


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
    and planned dose with RDI, toripalimab cycles and RDI, SABR completion and BED/EQD2 per lesion, as of a date."""
    as_of = as_of or timezone.localdate()
    out = exposures([patient.pk], as_of)[0]
    out.treatment_start, out.sabr_start = treatment_start(patient), sabr_start(patient)
    return out


def exposures(patient_ids: list[int], as_of: datetime.date) -> list[Exposure]:
    """Exposure of many patients (in the order given) with four queries whatever their number.

    The one implementation behind the casebook panel, the study report's exposure section and ADSL's AXIRDI and
    TORRDI: toripalimab infusions and SABR fractions dated after ``as_of`` are left out, axitinib periods are cut
    at it. ``treatment_start`` and ``sabr_start`` stay None here (``exposure`` fills them for one patient).
    """
    from django.db.models import Q

    periods: dict[int, list[AxitinibPeriod]] = {}
    for period in AxitinibPeriod.objects.filter(patient_id__in=patient_ids).order_by(
        "patient_id", "start_date"
    ):
        periods.setdefault(period.patient_id, []).append(period)
    given: dict[int, list[ToripalimabInfusion]] = {}
    for inf in ToripalimabInfusion.objects.filter(
        patient_id__in=patient_ids,
        infusion_status=ToripalimabInfusion.Status.GIVEN,
        infusion_date__isnull=False,
        infusion_date__lte=as_of,
    ).order_by("patient_id", "cycle_number"):
        given.setdefault(inf.patient_id, []).append(inf)
    fractions: dict[int, list[SabrFraction]] = {}
    for fx in SabrFraction.objects.filter(target__patient_id__in=patient_ids).filter(
        Q(fraction_date__isnull=True) | Q(fraction_date__lte=as_of)
    ):
        fractions.setdefault(fx.target_id, []).append(fx)
    targets: dict[int, list[SabrTarget]] = {}
    related = ["course"] + (
        ["lesion"] if any(f.name == "lesion" for f in SabrTarget._meta.get_fields()) else []
    )
    for target in (
        SabrTarget.objects.filter(patient_id__in=patient_ids)
        .select_related(*related)
        .order_by("patient_id", "course__course_number", "pk")
    ):
        targets.setdefault(target.patient_id, []).append(target)

    out = []
    for pid in patient_ids:
        e = Exposure(treatment_start=None, sabr_start=None, as_of=as_of)
        _axitinib(periods.get(pid, []), as_of, e)
        infusions = given.get(pid, [])
        e.toripalimab_cycles = len(infusions)
        if infusions:
            e.toripalimab_first = min(i.infusion_date for i in infusions)
            e.toripalimab_last = max(i.infusion_date for i in infusions)
            e.toripalimab_days = (
                e.toripalimab_last - e.toripalimab_first
            ).days + dosing.TORIPALIMAB_CYCLE_DAYS
            e.toripalimab_cumulative_mg = sum((Decimal(i.dose_mg or 0) for i in infusions), Decimal(0))
            try:
                e.toripalimab_rdi_pct = dosing.toripalimab_rdi([i.as_pure() for i in infusions])
            except dosing.DosingError:
                e.toripalimab_rdi_pct = None
        for target in targets.get(pid, []):
            fxs = fractions.get(target.pk, [])
            delivered = [f for f in fxs if f.delivered == YesNo.Y]
            dates = [f.fraction_date for f in delivered]
            e.targets.append(
                TargetExposure(
                    target=target,
                    course_number=target.course.course_number,
                    lesion=str(getattr(target, "lesion", "") or f"#{target.pk}"),
                    planned_fractions=target.n_fractions,
                    delivered_fractions=len(delivered),
                    not_delivered_fractions=len(fxs) - len(delivered),
                    delivered_dose_gy=sum((Decimal(f.dose_delivered_gy or 0) for f in delivered), Decimal(0)),
                    complete=len(delivered) >= target.n_fractions,
                    first_fraction=min(dates) if dates else None,
                    last_fraction=max(dates) if dates else None,
                )
            )
        out.append(e)
    return out


def round_gy(value: Decimal | None) -> Decimal | None:
    return None if value is None else radiobiology.round_gy(value)


def new_lesions_to_treat(patient: Any) -> Any:
    """The patient's new lesions (form 9) a subsequent therapy may name: one row per code, the record of the time
    point that first showed it.

    A new lesion is re-recorded with the same code at every later time point; the therapy links one of those
    records. The first is the natural one: its time point is the scan that found the lesion, it exists as soon as the
    lesion is known (a therapy started before the next scan can name it), and it never moves when later time
    points are added. Exports and imports name the lesion by its code, so they find the same record again.
    Read through the relation of ``SubsequentTherapy``: the treatment app does not import the assessments app.
    """
    rows = SubsequentTherapy._meta.get_field("new_lesions_treated").related_model._default_manager.filter(
        assessment__patient=patient
    )
    first: dict[str, int] = {}
    for pk, code in rows.order_by(
        "first_seen_date", "assessment__scan_date_first", "assessment__visit_date", "pk"
    ).values_list("pk", "code"):
        first.setdefault(code, pk)
    return rows.filter(pk__in=first.values()).select_related("assessment").order_by("first_seen_date", "code")


def patient_infusions(patient_id: Any) -> list[ToripalimabInfusion]:
    """The patient's toripalimab infusions in cycle order, read once per save (the EC-TO-1 rules and the R4.6
    planned date both ask), or once per batch, which takes in its own saves (``pipeline.batch_rows``: each imported
    cycle's rules and the flush's planned-date refresh). Filter the list, never change its rows."""
    rows = pipeline.batch_rows(ToripalimabInfusion, "patient_id", patient_id)
    return sorted(rows, key=lambda row: (row.cycle_number, row.pk))
