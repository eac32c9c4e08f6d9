"""Layers (README "Layers"): registries instead of run-time look-ups, each rule registered by the app that owns it,
and one edit-check run per patient per commit without Django's private transaction internals."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone

from sabr_trial import editchecks, patient_facts
from sabr_trial import tasks as sabr_tasks
from tests.factories_treatment import consented_patient, give_axitinib, give_toripalimab


def test_asking_for_a_fact_nobody_registered_raises():
    with pytest.raises(ImproperlyConfigured, match="no installed app registered the patient fact 'no_such_fact'"):
        patient_facts.fact("no_such_fact", None)


def test_a_fact_has_one_answer():
    with pytest.raises(ImproperlyConfigured, match="registered twice"):
        patient_facts.register("first_systemic_dose", lambda patient: None)


@pytest.mark.parametrize(
    ("fact", "app"),
    [
        ("first_systemic_dose", "treatment"),
        ("axitinib_aes", "adverse_events"),
        ("axitinib_ae_actions", "adverse_events"),
        ("recist_pd_dates", "assessments"),
    ],
)
def test_each_fact_is_answered_by_the_app_that_owns_the_data(fact, app):
    assert patient_facts._facts[fact].__module__.split(".")[0] == app


@pytest.mark.parametrize(
    ("rule_id", "app"),
    [
        ("DM-1", "treatment"),
        ("SOFT-TX", "treatment"),
        ("EC-TA-5", "assessments"),
        ("DM-3", "adverse_events"),
        ("SOFT-AE", "adverse_events"),
        ("DM-2", "visits"),
    ],
)
def test_each_edit_check_is_registered_by_its_app(rule_id, app):
    assert editchecks.RULES[rule_id].check.__module__ == f"{app}.editchecks"


def test_the_patient_registry_is_enrollments():
    from enrollment.models import Patient

    assert patient_facts.patient_model() is Patient


@pytest.mark.django_db(transaction=True)
def test_one_edit_check_run_per_patient_per_commit_and_a_rolled_back_savepoint_drops_only_its_own(monkeypatch):
    """Several saves of one patient in one transaction enqueue one run; a save in a savepoint that rolls back
    leaves the others' run in place (public on_commit only, no connection.run_on_commit / savepoint_ids)."""
    runs: list[int] = []
    monkeypatch.setattr(sabr_tasks.run_edit_checks, "delay", runs.append)  # a spy on the base app's own task
    first, second = consented_patient(registered_days_ago=60), consented_patient(registered_days_ago=60)
    runs.clear()
    today = timezone.localdate()
    with transaction.atomic():
        give_axitinib(first, start=today - datetime.timedelta(days=50), end=today - datetime.timedelta(days=40))
        give_toripalimab(first, on=today - datetime.timedelta(days=45))
        try:
            with transaction.atomic():
                give_toripalimab(second, on=today - datetime.timedelta(days=45))
                raise RuntimeError("roll this savepoint back")
        except RuntimeError:
            pass
        give_toripalimab(first, on=today - datetime.timedelta(days=24), cycle=2)
    assert runs == [first.pk]
    with transaction.atomic():
        give_toripalimab(second, on=today - datetime.timedelta(days=45))
    assert runs == [first.pk, second.pk]
