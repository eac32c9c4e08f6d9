"""factory_boy factories for the treatment CRFs (forms 10-16)."""

from __future__ import annotations

import datetime
from decimal import Decimal

import factory
from django.utils import timezone

from tests.factories import RegisteredPatientFactory
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


class SabrCourseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SabrCourse

    patient = factory.SubFactory(RegisteredPatientFactory)
    is_protocol = "Y"
    indication = SabrCourse.Indication.INITIAL
    simulation_date = factory.LazyAttribute(lambda o: o.patient.registration_date)
    technique = SabrCourse.Technique.VMAT
    image_guidance = SabrCourse.ImageGuidance.CBCT


class SabrTargetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SabrTarget

    course = factory.SubFactory(SabrCourseFactory)
    patient = factory.SelfAttribute("course.patient")
    prescribed_dose_gy = Decimal("30")
    n_fractions = 3
    isodose_pct = 80
    ptv_cc = Decimal("25.5")


class SabrFractionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SabrFraction

    target = factory.SubFactory(SabrTargetFactory)
    patient = factory.SelfAttribute("target.patient")
    fraction_number = 1
    fraction_date = factory.LazyAttribute(lambda o: o.target.course.simulation_date + datetime.timedelta(days=5))
    delivered = "Y"
    dose_delivered_gy = factory.LazyAttribute(lambda o: o.target.dose_per_fraction_gy)


class AxitinibPeriodFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AxitinibPeriod

    patient = factory.SubFactory(RegisteredPatientFactory)
    start_date = factory.LazyAttribute(lambda o: o.patient.registration_date)
    end_date = None
    dose_level = AxitinibPeriod.DoseLevel.START_5MG
    change_reason = AxitinibPeriod.ChangeReason.START


class ToripalimabInfusionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ToripalimabInfusion

    patient = factory.SubFactory(RegisteredPatientFactory)
    cycle_number = 1
    status = ToripalimabInfusion.Status.GIVEN
    infusion_date = factory.LazyAttribute(lambda o: o.patient.registration_date)
    dose_mg = Decimal("240")
    infusion_interrupted = "N"


class ImmunosuppressantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Immunosuppressant

    patient = factory.SubFactory(RegisteredPatientFactory)
    drug = Immunosuppressant.Drug.PREDNISONE
    dose = Decimal("40")
    frequency = Immunosuppressant.Frequency.QD
    route = Immunosuppressant.Route.ORAL
    start_date = factory.LazyAttribute(lambda o: o.patient.registration_date)
    indication = Immunosuppressant.Indication.OTHER


class SubsequentTherapyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SubsequentTherapy

    patient = factory.SubFactory(RegisteredPatientFactory)
    therapy_type = SubsequentTherapy.TherapyType.SYSTEMIC
    regimen = "Cabozantinib 60 mg QD"
    start_date = factory.LazyFunction(lambda: days_ago(1))
    reason = SubsequentTherapy.Reason.PROGRESSION
    local_on_protocol = "N"
