"""Issue 16 (5): hostile input gets a clear 4xx (problem+json on the API) and changes nothing; browser forms turn
every domain error into a field error."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories_treatment import consented_patient, days_ago
from treatment.models import AxitinibPeriod

pytestmark = pytest.mark.django_db


def axi_data(**changes):
    data = {"start_date": days_ago(55).isoformat(), "end_date": "", "dose_level": "5 MG BID", "other_dose_mg": "",
            "other_dose_reason": "", "dose_change_reason": "START", "missed_doses": "0", "bp_ok_no_antihtn": "",
            "adverse_event": "", "action": "submit"}  # fmt: skip
    data.update(changes)
    return data


@pytest.mark.parametrize("dose", ["-1", "0", "-0.5"])
def test_axitinib_non_positive_other_dose_is_a_field_error_not_a_dosing_error(as_coordinator, dose):
    patient = consented_patient(registered_days_ago=60)
    response = as_coordinator.post(
        reverse("crf_create", args=[patient.pk, "axitinib"]), axi_data(other_dose_mg=dose, other_dose_reason="OTHER")
    )
    assert response.status_code == 200
    assert response.context["form"].errors["other_dose_mg"]
    assert not AxitinibPeriod.objects.exists() and not AxitinibPeriod.history.exists()
