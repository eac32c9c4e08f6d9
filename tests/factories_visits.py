"""Factories for the visit-schedule tests: a treated patient with day 0 = treatment start."""

from __future__ import annotations

import datetime

from django.utils import timezone

from tests.factories_treatment import (
    AxitinibPeriodFactory,
    SabrCourseFactory,
    SabrFractionFactory,
    SabrTargetFactory,
    ToripalimabInfusionFactory,
    consented_patient,
)


def treated_patient(*, start_days_ago: int, cycles_given: int = 1, study_number: str | None = None):
    """A registered, consented patient: SABR (1 fraction), axitinib and toripalimab C1 all on day 0,
    registration 3 days before; toripalimab given every 21 days for ``cycles_given`` cycles."""
    start = timezone.localdate() - datetime.timedelta(days=start_days_ago)
    extra = {"study_number": study_number} if study_number else {}
    patient = consented_patient(registered_days_ago=start_days_ago + 3, **extra)
    course = SabrCourseFactory(patient=patient, simulation_date=start - datetime.timedelta(days=2))
    target = SabrTargetFactory(course=course, patient=patient, n_fractions=1, prescribed_dose_gy=24)
    SabrFractionFactory(target=target, patient=patient, fraction_date=start)
    AxitinibPeriodFactory(patient=patient, start_date=start)
    for cycle in range(1, cycles_given + 1):
        ToripalimabInfusionFactory(
            patient=patient,
            cycle_number=cycle,
            infusion_date=start + datetime.timedelta(days=21 * (cycle - 1)),
        )
    return patient
