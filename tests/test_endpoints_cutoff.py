"""At an earlier data cut-off the endpoints cover only the patients registered by then (issue 19: "Treated 4 of 6
registered" at an earlier cut-off counted patients registered after it)."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from endpoints import services
from tests.factories import RegisteredPatientFactory

pytestmark = pytest.mark.django_db


def test_a_patient_registered_after_the_cutoff_is_not_in_the_study_at_that_cutoff():
    today = timezone.localdate()
    RegisteredPatientFactory(registration_date=today - datetime.timedelta(days=60))
    RegisteredPatientFactory(registration_date=today - datetime.timedelta(days=10))
    earlier = services.run_recompute(trigger="test", cutoff=today - datetime.timedelta(days=30))
    assert earlier.status == "ok", earlier.error
    assert earlier.results["n_patients"] == 1
    now = services.run_recompute(trigger="test", cutoff=today)
    assert now.results["n_patients"] == 2


def test_disposition_rows_add_up_to_the_screened(coordinator):
    """Screened = screen failures + withdrew + still in screening + registered (issue 19: no row for the patients
    still in screening, so the table did not add up), at an earlier cut-off too."""
    from enrollment.models import ScreeningLog
    from reports import report
    from tests.factories import PatientFactory, ScreeningLogFactory

    today = timezone.localdate()
    day = datetime.timedelta(days=1)
    outcomes = [
        ScreeningLog.Outcome.SCREEN_FAILURE,
        ScreeningLog.Outcome.WITHDRAWAL,
        ScreeningLog.Outcome.PENDING,
        ScreeningLog.Outcome.PENDING,
    ]
    for outcome in outcomes:
        extra = (
            {"failure_reason": ScreeningLog.FailureReason.CONSENT_REFUSED} if outcome == outcomes[0] else {}
        )
        if outcome != ScreeningLog.Outcome.PENDING:
            extra["outcome_date"] = today - 45 * day
        ScreeningLogFactory(
            patient=PatientFactory(), screening_date=today - 50 * day, outcome=outcome, **extra
        )
    for registered_days_ago in (40, 10):  # the second is registered after the earlier cut-off
        # (the factory's log stays PENDING: only the registration service sets ELIGIBLE, EC-SC-2)
        ScreeningLogFactory(
            patient=RegisteredPatientFactory(registration_date=today - registered_days_ago * day),
            screening_date=today - 55 * day,
        )
    for cutoff, registered in ((today, 2), (today - 30 * day, 1)):
        snap = services.run_recompute(trigger="test", cutoff=cutoff)
        rows = dict(report.disposition(cutoff, snap)["rows"])
        assert rows["Registered"] == str(registered)
        parts = (
            "Screen failures",
            "Withdrew before registration",
            "Still in screening at the cut-off",
            "Registered",
        )
        assert sum(int(rows[k]) for k in parts) == int(rows["Screened"]) == 6, rows
