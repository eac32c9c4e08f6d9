"""The enrollment demo data load through the real services, cover every branch, and load only once."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from enrollment import selectors
from enrollment.models import Consent, DeathReport, Disposition, Patient, ScreeningLog

pytestmark = pytest.mark.django_db


def test_demo_covers_every_branch_and_is_idempotent():
    call_command("setup_demo", "--generated", "0", stdout=io.StringIO())
    call_command("setup_demo", "--generated", "0", stdout=io.StringIO())
    registered = Patient.objects.filter(study_number__isnull=False)
    reasons = set(Disposition.objects.values_list("eos_reason", flat=True))
    outcomes = set(ScreeningLog.objects.values_list("outcome", flat=True))
    dead = DeathReport.objects.get()
    assert (Patient.objects.count(), registered.count()) == (7, 5)
    assert reasons == {"DEATH", "WITHDRAWAL BY SUBJECT", "LOST TO FOLLOW-UP"}
    assert {"SCREEN FAILURE", "WITHDRAWAL BY SUBJECT", "ELIGIBLE"} <= outcomes
    assert Consent.objects.filter(withdrawn="Y").count() == 1
    assert selectors.last_known_alive(dead.patient) < dead.death_date
