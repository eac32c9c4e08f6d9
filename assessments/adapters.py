"""Conversions between the stored CRF rows and the pure ``assessments.recist`` inputs (no clinical maths here)."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

from assessments import recist

if TYPE_CHECKING:
    from assessments.models import Lesion, LesionResult, NewLesion, TumourAssessment


def dec(value: object) -> Decimal | None:
    return (
        None if value is None or value == "" else value if isinstance(value, Decimal) else Decimal(str(value))
    )


def _enum(kind: type, value: str) -> object | None:
    return kind(value) if value else None


def to_lesion(lesion: Lesion, *, code: str | None = None, irradiated: bool | None = None) -> recist.Lesion:
    """The registry row as recist sees it; ``irradiated`` overrides the lazy SABR-target lookup (D4)."""
    return recist.Lesion(
        code=code or lesion.lesion_code or "new",
        role=recist.LesionRole(lesion.role),
        organ=recist.Organ(lesion.organ),
        method=recist.Method(lesion.method),
        baseline_value_mm=dec(lesion.baseline_value_mm),
        laterality=_enum(recist.Laterality, lesion.laterality),  # type: ignore[arg-type]
        location_text=lesion.location_text,
        slice_thickness_mm=dec(lesion.slice_thickness_mm),
        nonmeasurable_type=_enum(recist.NonMeasurableType, lesion.nonmeasurable_type),  # type: ignore[arg-type]
        previously_irradiated=lesion.previously_irradiated == "Y",
        progressed_since_rt=lesion.progressed_since_rt == "Y",
        irradiated_protocol=lesion.irradiated_protocol if irradiated is None else irradiated,
    )


def to_result(row: LesionResult, scan_date: datetime.date | None = None) -> recist.LesionResult:
    return recist.LesionResult(
        lesion_code=row.lesion.lesion_code,
        status=_enum(recist.ResultStatus, row.result_status),  # type: ignore[arg-type]
        value_mm=dec(row.value_mm),
        split_merge=recist.SplitMerge(row.split_merge or "NONE"),
        merged_into=row.merged_into.lesion_code if row.merged_into_id else None,  # type: ignore[union-attr]
        nontarget_state=_enum(recist.NonTargetState, row.nontarget_state),  # type: ignore[arg-type]
        further_increase=row.further_increase == "Y",
        infield_progression=row.infield_progression == "Y",
        lf_confirmation=_enum(recist.LfConfirmation, row.lf_confirmation),  # type: ignore[arg-type]
    )


def to_new_lesion(row: NewLesion) -> recist.NewLesion:
    return recist.NewLesion(
        code=row.code,
        first_seen_date=row.first_seen_date,
        unequivocal=row.unequivocal == "Y",
        detected_by=recist.DetectionMethod(row.detected_by),
        organ=recist.Organ(row.organ),
        pet_baseline=_enum(recist.PetBaseline, row.pet_baseline),  # type: ignore[arg-type]
        ct_confirmed=row.ct_confirmed == "Y",
        reappearance_of=row.reappearance_of.lesion_code if row.reappearance_of_id else None,  # type: ignore[union-attr]
        value_mm=dec(row.new_value_mm),
        present=row.present != "N",
    )


def to_assessment(
    assessment: TumourAssessment, results: Iterable[LesionResult], new_lesions: Iterable[NewLesion]
) -> recist.Assessment:
    done = assessment.imaging_done == "Y"
    return recist.Assessment(
        scan_date_first=assessment.scan_date_first if done else None,
        scan_date_last=assessment.scan_date_last if done else None,
        imaging_done=done,
        results=tuple(to_result(r) for r in results) if done else (),
        new_lesions=tuple(to_new_lesion(n) for n in new_lesions) if done else (),
        visit_date=assessment.visit_date or assessment.scan_date_first,
        label=assessment.visit_label,
    )


def registry_lesions(lesions: Sequence[Lesion]) -> list[recist.Lesion]:
    return [to_lesion(lesion) for lesion in lesions if lesion.role != "NEW"]
