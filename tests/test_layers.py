"""Layers (README "Layers"): registries instead of run-time look-ups, each rule registered by the app that owns it."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from sabr_trial import editchecks, patient_facts


def test_asking_for_a_fact_nobody_registered_raises():
    with pytest.raises(
        ImproperlyConfigured, match="no installed app registered the patient fact 'no_such_fact'"
    ):
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
