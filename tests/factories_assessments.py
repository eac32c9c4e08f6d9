"""Factories and HTTP helpers for the assessment CRFs (lesion registry, tumour assessment)."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import factory
from django.urls import reverse
from django.utils import timezone

from assessments.models import Lesion
from tests.factories import CrfFactory, RegisteredPatientFactory

BASELINE = timezone.localdate() - datetime.timedelta(days=200)


class LesionFactory(CrfFactory):
    class Meta:
        model = Lesion

    patient = factory.SubFactory(RegisteredPatientFactory)
    role = Lesion.Role.TARGET
    organ = "LIVER"
    location_text = factory.Sequence(lambda n: f"segment {n % 8 + 1}")
    method = "CT SCAN"
    slice_thickness_mm = Decimal("2.5")
    # Relative to the (possibly frozen) today at creation, not at import: a frozen test must not see it in the future.
    baseline_date = factory.LazyFunction(lambda: timezone.localdate() - datetime.timedelta(days=200))
    baseline_value_mm = Decimal(30)


def baseline_lesions(patient: Any) -> Any:
    """Baseline SOD 100 mm: L1 liver 60, L2 lung 40; L3 non-target bone."""
    LesionFactory(patient=patient, organ="LIVER", baseline_value_mm=Decimal(60))
    LesionFactory(patient=patient, organ="LUNG", baseline_value_mm=Decimal(40))
    LesionFactory(
        patient=patient,
        organ="BONE",
        role="NON-TARGET",
        baseline_value_mm=None,
        nonmeasurable_type="BLASTIC BONE",
    )
    return patient


def lesion_post(**changes: Any) -> dict[str, Any]:
    data = {
        "role": "TARGET",
        "organ": "LIVER",
        "laterality": "",
        "location_text": "segment 7",
        "method": "CT SCAN",
        "slice_thickness_mm": "2.5",
        "baseline_date": BASELINE.isoformat(),
        "axis": "SHORT",
        "baseline_value_mm": "30",
        "nonmeasurable_type": "",
        "group_count": "1",
        "previously_irradiated": "N",
        "progressed_since_rt": "",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def assessment_post(
    patient: Any, values: dict[str, Any], *, day: int, new: list[dict[str, Any]] | None = None, **changes: Any
) -> dict[str, Any]:
    """POST data for a time point ``day`` days after baseline; ``values``: lesion code -> mm, status or state."""
    when = (BASELINE + datetime.timedelta(days=day)).isoformat()
    data: dict[str, Any] = {
        "imaging_done": "Y",
        "not_done_reason": "",
        "scan_date_first": when,
        "scan_date_last": "",
        "visit_date": "",
        "modality": "CT SCAN",
        "clinical_deterioration": "N",
        "clinically_stable": "",
        "investigator_response": "",
        "action": "submit",
    }
    for lesion in Lesion.objects.filter(patient=patient):
        p = f"l{lesion.pk}-"
        value = values.get(lesion.lesion_code, "")
        data[p + "split_merge"] = "NONE"
        data[p + "axis"] = "SHORT"
        if lesion.role == "TARGET":
            if isinstance(value, (int, float, Decimal)) or (isinstance(value, str) and value[:1].isdigit()):
                data[p + "result_status"], data[p + "value_mm"] = "MEASURED", str(value)
            elif isinstance(value, tuple):
                data[p + "result_status"], data[p + "value_mm"] = value
            else:
                data[p + "result_status"], data[p + "value_mm"] = value, ""
        else:
            data[p + "nontarget_state"] = value or "PRESENT"
    new = new or []
    data.update(
        {
            "new-TOTAL_FORMS": str(len(new)),
            "new-INITIAL_FORMS": "0",
            "new-MIN_NUM_FORMS": "0",
            "new-MAX_NUM_FORMS": "1000",
        }
    )
    for i, n in enumerate(new):
        row = {
            "code": "",
            "organ": "LUNG",
            "laterality": "",
            "location_text": "new nodule",
            "detected_by": "CT SCAN",
            "first_seen_date": when,
            "unequivocal": "Y",
            "pet_baseline": "",
            "ct_confirmed": "",
            "new_value_mm": "",
            "present": "Y",
        }
        row.update(n)
        data.update({f"new-{i}-{k}": v for k, v in row.items()})
    data.update(changes)
    return data


def create_url(patient: Any, slug: str = "tumour-assessment") -> str:
    return reverse("crf_create", args=[patient.pk, slug])


def update_url(obj: Any, slug: str = "tumour-assessment") -> str:
    return reverse("crf_update", args=[obj.patient_id, slug, obj.pk])
