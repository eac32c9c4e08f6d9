"""One write path: every change of every CRF row leaves a history row (issue "one write path").

A scripted session enters a patient's forms through the services (create), corrects a registry lesion and a
SABR fraction (correct), which re-derives the stored responses, the target's delivered dose and the AE flags
(recompute). Then every CRF history table is walked: each row's versions 1..n each have a history row, and the
newest history row holds exactly the row's values, so no column was ever written without history.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.db import models

from adverse_events.models import AdverseEvent
from assessments.models import LesionResult, NewLesion, TumourAssessment
from sabr_trial.crf import CrfBase, registry
from sabr_trial.services import crf_update
from tests.factories_adverse_events import AdverseEventFactory
from tests.factories_assessments import LesionFactory, assessment_post, create_url, update_url
from tests.factories_treatment import (
    SabrCourseFactory,
    SabrFractionFactory,
    SabrTargetFactory,
    ToripalimabInfusionFactory,
)
from treatment.models import SabrCourse, SabrTarget, ToripalimabInfusion

pytestmark = pytest.mark.django_db

SKIP = {
    "updated_at",
    "created_at",
}  # auto_now columns: stamped by the save itself, compared by the version walk


def _values(row: models.Model, names: list[str]) -> dict[str, object]:
    return {name: getattr(row, name) for name in names}


def _walk(model: type[models.Model]) -> list[str]:
    """Every row of ``model`` against its history; returns the problems found."""
    problems = []
    names = [f.attname for f in model._meta.concrete_fields if f.attname not in SKIP]
    for row in model.objects.all():
        history = row.history.order_by("history_date", "history_id")
        latest = history.last()
        if latest is None:
            problems.append(f"{model.__name__} #{row.pk}: no history row")
            continue
        if _values(latest, names) != _values(row, names):
            diff = {n for n in names if getattr(latest, n) != getattr(row, n)}
            problems.append(f"{model.__name__} #{row.pk}: newest history row differs on {sorted(diff)}")
        if isinstance(row, CrfBase):
            versions = set(history.values_list("version", flat=True))
            missing = set(range(1, row.version + 1)) - versions
            if missing:
                problems.append(
                    f"{model.__name__} #{row.pk}: no history row for version(s) {sorted(missing)}"
                )
    return problems


def test_every_change_of_every_crf_row_has_a_history_row(as_coordinator, coordinator):
    # Create: registry, SABR with its fractions, toripalimab, an AE, two time points through the browser form.
    course = SabrCourseFactory()
    patient = course.patient
    # Entered before any dose; the fraction below (5 days after simulation) makes it treatment-emergent (R6.6).
    ae = AdverseEventFactory(patient=patient, onset_date=course.simulation_date + datetime.timedelta(days=7))
    assert ae.treatment_emergent != "Y"
    irradiated = LesionFactory(patient=patient, organ="LIVER", baseline_value_mm=Decimal(40))
    LesionFactory(patient=patient, organ="LUNG", baseline_value_mm=Decimal(30))
    target = SabrTargetFactory(course=course, patient=patient, lesion=irradiated)
    fraction = SabrFractionFactory(target=target, patient=patient)
    for cycle in (1, 2):
        ToripalimabInfusionFactory(
            patient=patient,
            cycle_number=cycle,
            infusion_date=patient.registration_date + datetime.timedelta(days=21 * (cycle - 1)),
        )
    for day, values in ((56, {"L1": 15, "L2": 25}), (112, {"L1": 20, "L2": 25})):
        response = as_coordinator.post(create_url(patient), assessment_post(patient, values, day=day))
        assert response.status_code == 302, response.content[:2000]
    responses_before = list(
        TumourAssessment.objects.order_by("scan_date_first").values_list("overall_resp", flat=True)
    )

    # Correct: the first time point (its nadir moves the second one's response, EC-TA-3), a registry lesion,
    # the fraction's date (the target, the course and the AE flags follow) and an infusion date.
    tp1 = TumourAssessment.objects.order_by("scan_date_first").first()
    post = assessment_post(
        patient,
        {"L1": 30, "L2": 25},
        day=56,
        expected_version=tp1.version,
        change_reason="Re-measured on the source images",
    )
    response = as_coordinator.post(update_url(tp1), post)
    assert response.status_code == 302, response.content[:3000]
    irradiated.refresh_from_db()
    crf_update(
        instance=irradiated,
        expected_version=irradiated.version,
        data={"location_text": "segment 8"},
        reason="Source: radiology report",
        acting_user=coordinator,
    )
    fraction.refresh_from_db()
    crf_update(
        instance=fraction,
        expected_version=fraction.version,
        data={"fraction_date": fraction.fraction_date - datetime.timedelta(days=1)},
        reason="Date from the treatment record",
        acting_user=coordinator,
    )
    first = ToripalimabInfusion.objects.get(patient=patient, cycle_number=1)
    crf_update(
        instance=first,
        expected_version=first.version,
        data={"infusion_date": first.infusion_date + datetime.timedelta(days=1)},
        reason="Infusion chart",
        acting_user=coordinator,
    )

    # The recompute really happened (otherwise the walk proves nothing): the responses moved with the baseline,
    # the target and the course took the new fraction date, cycle 2's planned date moved with cycle 1.
    responses_after = list(
        TumourAssessment.objects.order_by("scan_date_first").values_list("overall_resp", flat=True)
    )
    assert responses_after != responses_before
    target = SabrTarget.objects.get(pk=target.pk)
    assert target.first_fraction_date == fraction.fraction_date - datetime.timedelta(days=1)
    assert SabrCourse.objects.get(pk=course.pk).start_date == target.first_fraction_date
    second = ToripalimabInfusion.objects.get(patient=patient, cycle_number=2)
    assert second.planned_date == first.infusion_date + datetime.timedelta(days=22)
    reasons = set(TumourAssessment.history.values_list("history_change_reason", flat=True))
    assert any(r and r.startswith("Recomputed after Tumour assessment") for r in reasons), reasons

    # Walk every CRF history table, and the child rows of the assessment grid.
    problems = []
    for spec in registry.all():
        problems += _walk(spec.model)
    problems += _walk(LesionResult) + _walk(NewLesion)
    assert problems == []
    ae = AdverseEvent.objects.get(pk=ae.pk)
    assert ae.treatment_emergent == "Y"
    assert ae.history.filter(history_change_reason__startswith="Recomputed after SABR fraction").exists()
