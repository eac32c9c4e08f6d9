"""Irradiated non-target lesions in the tumour-assessment grid: a size for local control (EC-TA-1, CRF-SPEC form 9)
and the D12 query on UNEQUIVOCAL PROGRESSION without the in-field flag."""

from __future__ import annotations

import pytest

from assessments.models import Lesion, LesionResult, TumourAssessment
from sabr_trial import editchecks
from sabr_trial.models import Query
from tests.factories_assessments import LesionFactory, assessment_post, create_url, update_url
from tests.factories_treatment import (
    SabrCourseFactory,
    SabrFractionFactory,
    SabrTargetFactory,
    consented_patient,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def irradiated_bone():
    """L1 liver target; L2 bone non-target treated with protocol SABR 185 days ago (before every scan below)."""
    course = SabrCourseFactory(patient=consented_patient(registered_days_ago=190))
    patient = course.patient
    LesionFactory(patient=patient, organ="LIVER", baseline_value_mm=40)
    bone = LesionFactory(
        patient=patient,
        organ="BONE",
        role="NON-TARGET",
        baseline_value_mm=None,
        nonmeasurable_type="BLASTIC BONE",
    )
    SabrFractionFactory(target=SabrTargetFactory(course=course, patient=patient, lesion=bone))
    return patient


def _post(client, patient, l2: dict[str, str], day: int = 56, **changes):
    data = assessment_post(patient, {"L1": 30}, day=day, **changes)
    pk = Lesion.objects.get(patient=patient, lesion_code="L2").pk
    data.update({f"l{pk}-{k}": v for k, v in l2.items()})
    return client.post(create_url(patient), data)


def _errors(response) -> str:
    return " ".join(str(e) for row, _hist in response.context["grid"] for e in row.errors.values())


STATUSES = [
    pytest.param("TOO SMALL TO MEASURE", "PRESENT", id="EC-TA-1-irradiated-non-target-too-small-accepted"),
    pytest.param("DISAPPEARED", "ABSENT", id="EC-TA-1-irradiated-non-target-disappeared-accepted"),
]


@pytest.mark.parametrize(("status", "state"), STATUSES)
def test_irradiated_non_target_size_status_is_saved(as_coordinator, irradiated_bone, status, state):
    response = _post(as_coordinator, irradiated_bone, {"result_status": status, "nontarget_state": state})
    assert response.status_code == 302, _errors(response)
    row = LesionResult.objects.get(lesion__lesion_code="L2")
    assert (row.result_status, row.nontarget_state, row.value_mm) == (status, state, None)


REFUSED = [
    pytest.param(
        {"result_status": "DISAPPEARED", "nontarget_state": "PRESENT"}, "ABSENT", id="disappeared-but-present"
    ),
    pytest.param(
        {"result_status": "TOO SMALL TO MEASURE", "nontarget_state": "PRESENT", "value_mm": "7"},
        "leave the diameter blank",
        id="too-small-with-a-diameter",
    ),
    pytest.param(
        {"result_status": "NOT EVALUABLE", "nontarget_state": "PRESENT"},
        "record its status",
        id="not-evaluable-status-on-non-target",
    ),
]


@pytest.mark.parametrize(("l2", "message"), REFUSED)
def test_contradictory_size_status_refused(as_coordinator, irradiated_bone, l2, message):
    response = _post(as_coordinator, irradiated_bone, l2)
    assert response.status_code == 200 and message in _errors(response)
    assert not TumourAssessment.objects.exists()


def test_non_irradiated_non_target_size_status_refused(as_coordinator, irradiated_bone):
    lung = LesionFactory(patient=irradiated_bone, organ="LUNG", role="NON-TARGET", baseline_value_mm=None)
    data = assessment_post(irradiated_bone, {"L1": 30}, day=56)
    data[f"l{lung.pk}-result_status"] = "DISAPPEARED"
    response = as_coordinator.post(create_url(irradiated_bone), data)
    assert response.status_code == 200 and "not irradiated" in _errors(response)


def test_unflagged_unequivocal_progression_raises_the_d12_query(as_coordinator, irradiated_bone):
    assert (
        _post(as_coordinator, irradiated_bone, {"nontarget_state": "PRESENT", "value_mm": "20"}).status_code
        == 302
    )
    response = _post(as_coordinator, irradiated_bone, {"nontarget_state": "UNEQUIVOCAL PROGRESSION"}, day=112)
    assert response.status_code == 302, _errors(response)
    later = TumourAssessment.objects.get(
        scan_date_first__gt=TumourAssessment.objects.earliest("scan_date_first").scan_date_first
    )
    row = LesionResult.objects.get(assessment=later, lesion__lesion_code="L2")
    assert (later.overall_resp, row.local_failure) == ("PD", "N")  # RECIST non-target PD, not local failure
    editchecks.run_for_patient(irradiated_bone)
    query = Query.objects.get(rule_id="DM-4")
    assert query.object_id == later.pk and "L2" in query.text and "D12" in query.text


def test_flag_set_is_local_failure_and_closes_the_query(as_coordinator, irradiated_bone):
    _post(as_coordinator, irradiated_bone, {"nontarget_state": "PRESENT", "value_mm": "20"})
    _post(as_coordinator, irradiated_bone, {"nontarget_state": "UNEQUIVOCAL PROGRESSION"}, day=112)
    editchecks.run_for_patient(irradiated_bone)
    later = TumourAssessment.objects.order_by("scan_date_first").last()
    pk = Lesion.objects.get(patient=irradiated_bone, lesion_code="L2").pk
    data = assessment_post(
        irradiated_bone,
        {"L1": 30},
        day=112,
        expected_version=later.version,
        change_reason="investigator: in-field",
    )
    data.update({f"l{pk}-nontarget_state": "UNEQUIVOCAL PROGRESSION", f"l{pk}-infield_progression": "Y"})
    response = as_coordinator.post(update_url(later), data)
    assert response.status_code == 302, _errors(response)
    assert LesionResult.objects.get(assessment=later, lesion__lesion_code="L2").local_failure == "Y"
    editchecks.run_for_patient(irradiated_bone)
    assert Query.objects.get(rule_id="DM-4").query_status == Query.Status.CLOSED
