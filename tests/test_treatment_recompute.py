"""Adding protocol SABR to a lesion recomputes the stored responses (D4, EC-TA-3)."""

from __future__ import annotations

import pytest

from assessments.models import TumourAssessment
from tests.factories_assessments import LesionFactory, assessment_post, create_url
from tests.factories_treatment import SabrCourseFactory, SabrTargetFactory

pytestmark = pytest.mark.django_db


def test_sabr_on_the_growing_lesion_changes_the_non_irradiated_response(as_coordinator):
    course = SabrCourseFactory()
    patient = course.patient
    grower = LesionFactory(patient=patient, organ="LIVER")
    LesionFactory(patient=patient, organ="LUNG")
    response = as_coordinator.post(
        create_url(patient), assessment_post(patient, {"L1": 60, "L2": 30}, day=56)
    )
    assert response.status_code == 302, response.content[:2000]
    before = TumourAssessment.objects.get(patient=patient)
    SabrTargetFactory(course=course, patient=patient, lesion=grower)
    after = TumourAssessment.objects.get(patient=patient)
    # All lesions: 90 mm vs 60 mm = PD (R1.14). Without the irradiated L1: 30 vs 30 = SD (D4).
    assert (before.overall_resp, before.overall_resp_nonirr, after.overall_resp_nonirr) == ("PD", "PD", "SD")


def test_changing_only_the_lf_confirmation_is_saved_with_its_reason(as_coordinator):
    from assessments.services import entries_summary

    lesion = LesionFactory()
    base = {"lesion": lesion, "result_status": "MEASURED", "value_mm": 40, "infield_progression": "Y"}
    assert entries_summary([base], []) != entries_summary([{**base, "lf_confirmation": "PET AVIDITY"}], [])


def test_changing_only_a_new_lesion_detail_is_a_change():
    from assessments.services import entries_summary

    new = {
        "code": "N1",
        "organ": "LUNG",
        "location_text": "RLL",
        "first_seen_date": "2026-01-01",
        "unequivocal": "Y",
    }
    assert entries_summary([], [new]) != entries_summary([], [{**new, "ct_confirmed": "Y"}])
