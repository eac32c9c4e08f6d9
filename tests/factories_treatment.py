"""factory_boy factories for the treatment CRFs (forms 10-16)."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import factory
from django.utils import timezone

from sabr_trial.crf import CrfStatus
from sabr_trial.services import crf_create
from tests.factories import CrfFactory, RegisteredPatientFactory, UserFactory
from tests.factories_assessments import LesionFactory
from tests.factories_enrollment import consent
from treatment.models import (
    AxitinibPeriod,
    Immunosuppressant,
    SabrCourse,
    SabrFraction,
    SabrTarget,
    SubsequentTherapy,
    ToripalimabInfusion,
)


def days_ago(n: int) -> datetime.date:
    return timezone.localdate() - datetime.timedelta(days=n)


def consented_patient(*, registered_days_ago: int = 60, consent_days_ago: int | None = None, **kwargs):
    """A registered patient with a submitted consent before registration (EC-G3 holds for treatment dates)."""
    patient = RegisteredPatientFactory(registration_date=days_ago(registered_days_ago), **kwargs)
    user = UserFactory(username="consent-taker", role="coordinator")
    consent(patient, user, on=days_ago(consent_days_ago or registered_days_ago + 3))
    return patient


class SabrCourseFactory(CrfFactory):
    class Meta:
        model = SabrCourse

    patient = factory.LazyFunction(consented_patient)
    is_protocol = "Y"
    indication = SabrCourse.Indication.INITIAL
    simulation_date = factory.LazyAttribute(lambda o: o.patient.registration_date)
    technique = SabrCourse.Technique.VMAT
    image_guidance = SabrCourse.ImageGuidance.CBCT


class SabrTargetFactory(CrfFactory):
    class Meta:
        model = SabrTarget

    course = factory.SubFactory(SabrCourseFactory)
    patient = factory.SelfAttribute("course.patient")
    lesion = factory.SubFactory(LesionFactory, patient=factory.SelfAttribute("..patient"))
    prescribed_dose_gy = Decimal("30")
    n_fractions = 3
    isodose_pct = 80
    ptv_cc = Decimal("25.5")


class SabrFractionFactory(CrfFactory):
    class Meta:
        model = SabrFraction

    target = factory.SubFactory(SabrTargetFactory)
    patient = factory.SelfAttribute("target.patient")
    fraction_number = 1
    fraction_date = factory.LazyAttribute(
        lambda o: o.target.course.simulation_date + datetime.timedelta(days=5)
    )
    delivered = "Y"
    dose_delivered_gy = factory.LazyAttribute(lambda o: o.target.dose_per_fraction_gy)


class AxitinibPeriodFactory(CrfFactory):
    class Meta:
        model = AxitinibPeriod

    patient = factory.LazyFunction(consented_patient)
    start_date = factory.LazyAttribute(lambda o: o.patient.registration_date)
    end_date = None
    dose_level = AxitinibPeriod.DoseLevel.START_5MG
    dose_change_reason = AxitinibPeriod.ChangeReason.START


class ToripalimabInfusionFactory(CrfFactory):
    class Meta:
        model = ToripalimabInfusion

    patient = factory.LazyFunction(consented_patient)
    cycle_number = 1
    infusion_status = ToripalimabInfusion.Status.GIVEN
    infusion_date = factory.LazyAttribute(lambda o: o.patient.registration_date)
    dose_mg = Decimal("240")
    infusion_interrupted = "N"


class ImmunosuppressantFactory(CrfFactory):
    class Meta:
        model = Immunosuppressant

    patient = factory.LazyFunction(consented_patient)
    drug = Immunosuppressant.Drug.PREDNISONE
    dose = Decimal("40")
    frequency = Immunosuppressant.Frequency.QD
    route = Immunosuppressant.Route.ORAL
    start_date = factory.LazyAttribute(lambda o: o.patient.registration_date)
    indication = Immunosuppressant.Indication.OTHER


class SubsequentTherapyFactory(CrfFactory):
    class Meta:
        model = SubsequentTherapy

    patient = factory.LazyFunction(consented_patient)
    therapy_type = SubsequentTherapy.TherapyType.SYSTEMIC
    regimen = "Cabozantinib 60 mg QD"
    start_date = factory.LazyFunction(lambda: days_ago(1))
    reason = SubsequentTherapy.Reason.PROGRESSION
    local_on_protocol = "N"


# --- Real treatment rows through the services (no fakes of the treatment app, STYLE.md 14) -------------------


def _treatment_user() -> Any:
    from django.contrib.auth import get_user_model

    existing = get_user_model().objects.filter(username="treatment-entry").first()
    return existing or UserFactory(username="treatment-entry", role="coordinator")


def give_axitinib(
    patient: Any,
    *,
    start: datetime.date,
    end: datetime.date | None = None,
    dose_level: str = AxitinibPeriod.DoseLevel.START_5MG,
) -> AxitinibPeriod:
    """Enter a submitted axitinib period through the CRF service."""
    data = {
        "start_date": start,
        "end_date": end,
        "dose_level": dose_level,
        "dose_change_reason": AxitinibPeriod.ChangeReason.START,
    }
    return crf_create(
        model=AxitinibPeriod,
        patient=patient,
        data=data,
        acting_user=_treatment_user(),
        status=CrfStatus.SUBMITTED,
    )


def give_toripalimab(
    patient: Any, *, on: datetime.date, cycle: int = 1, status: str = ToripalimabInfusion.Status.GIVEN
) -> ToripalimabInfusion:
    """Enter a submitted toripalimab infusion through the CRF service (240 mg when GIVEN)."""
    given = status == ToripalimabInfusion.Status.GIVEN
    data = {
        "cycle_number": cycle,
        "infusion_status": status,
        "infusion_date": on if given else None,
        "dose_mg": Decimal("240") if given else None,
        "infusion_interrupted": "N" if given else "",
    }
    if not given:
        data["status_reason"] = ToripalimabInfusion.StatusReason.PATIENT_DECISION
    return crf_create(
        model=ToripalimabInfusion,
        patient=patient,
        data=data,
        acting_user=_treatment_user(),
        status=CrfStatus.SUBMITTED,
    )


def give_sabr(patient: Any, *, on: datetime.date, is_protocol: str = "Y", lesion: Any = None) -> SabrFraction:
    """Enter a SABR course, its target and one delivered fraction on ``on`` through the CRF service."""
    user = _treatment_user()
    if lesion is None:
        lesion = LesionFactory(patient=patient, baseline_date=on - datetime.timedelta(days=10))
    course = crf_create(
        model=SabrCourse,
        patient=patient,
        acting_user=user,
        status=CrfStatus.SUBMITTED,
        data={
            "is_protocol": is_protocol,
            "indication": SabrCourse.Indication.INITIAL,
            "simulation_date": on - datetime.timedelta(days=5),
            "technique": SabrCourse.Technique.VMAT,
            "image_guidance": SabrCourse.ImageGuidance.CBCT,
        },
    )
    target = crf_create(
        model=SabrTarget,
        patient=patient,
        acting_user=user,
        status=CrfStatus.SUBMITTED,
        data={
            "course": course,
            "lesion": lesion,
            "prescribed_dose_gy": Decimal("30"),
            "n_fractions": 3,
            "isodose_pct": 80,
            "ptv_cc": Decimal("25.5"),
        },
    )
    return crf_create(
        model=SabrFraction,
        patient=patient,
        acting_user=user,
        status=CrfStatus.SUBMITTED,
        data={
            "target": target,
            "fraction_number": 1,
            "fraction_date": on,
            "delivered": "Y",
            "dose_delivered_gy": target.dose_per_fraction_gy,
        },
    )
