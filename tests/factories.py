"""factory_boy factories for users by role and for patients."""

from __future__ import annotations

import datetime

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from enrollment.models import Patient, ScreeningLog
from sabr_trial.crf import CrfStatus

PASSWORD = "correct-horse-battery-9"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = "Test"
    last_name = factory.SelfAttribute("username")

    @factory.post_generation
    def password(obj, create, extracted, **kwargs):
        obj.set_password(extracted or PASSWORD)
        if create:
            obj.save()

    @factory.post_generation
    def role(obj, create, extracted, **kwargs):
        if create and extracted:
            obj.groups.add(Group.objects.get(name=extracted))


def entry_user():
    """The coordinator on whose behalf factories enter CRF rows."""
    return UserFactory(username="factory-coordinator", role="coordinator")


class CrfFactory(factory.django.DjangoModelFactory):
    """Creates CRF rows through the write pipeline (``crf_create``), as a coordinator would: every rule,
    derivation, history row and follow-up runs (STYLE 14: no row bypasses the services)."""

    class Meta:
        abstract = True

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        from sabr_trial.services import crf_create

        patient = kwargs.pop("patient")
        status = kwargs.pop("status", CrfStatus.DRAFT)
        return crf_create(
            model=model_class, patient=patient, data=kwargs, acting_user=entry_user(), status=status
        )


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient

    screening_number = factory.Sequence(lambda n: f"S-{9000 + n}")


class RegisteredPatientFactory(PatientFactory):
    study_number = factory.Sequence(lambda n: f"T-{n:04d}")
    registration_date = factory.LazyFunction(lambda: timezone.localdate() - datetime.timedelta(days=30))


class ScreeningLogFactory(CrfFactory):
    class Meta:
        model = ScreeningLog

    patient = factory.SubFactory(PatientFactory)
    screening_date = factory.LazyFunction(lambda: timezone.localdate() - datetime.timedelta(days=40))
    status = CrfStatus.DRAFT
