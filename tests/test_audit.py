"""Audit trail pages: per patient and per form, who, when, old -> new and reason, filters, monitors may read."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from sabr_trial.crf import CrfStatus
from tests.factories import RegisteredPatientFactory, ScreeningLogFactory

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()


@pytest.fixture
def changed_log(as_coordinator):
    log = ScreeningLogFactory(
        patient=RegisteredPatientFactory(),
        screening_date=TODAY - datetime.timedelta(days=20),
        status=CrfStatus.SUBMITTED,
    )
    as_coordinator.post(
        reverse("crf_update", args=[log.patient_id, "screening", log.pk]),
        {
            "screening_date": (TODAY - datetime.timedelta(days=25)).isoformat(),
            "outcome": log.outcome,
            "outcome_date": "",
            "failure_reason": "",
            "failure_text": "",
            "expected_version": log.version,
            "change_reason": "Wrong visit copied",
        },
    )
    return log


@pytest.mark.parametrize("name", ["patient_audit", "crf_audit"])
def test_monitor_reads_every_change_with_old_new_and_reason(as_monitor, changed_log, name):
    args = (
        [changed_log.patient_id]
        if name == "patient_audit"
        else [changed_log.patient_id, "screening", changed_log.pk]
    )
    page = as_monitor.get(reverse(name, args=args)).text
    old = (TODAY - datetime.timedelta(days=20)).isoformat()
    new = (TODAY - datetime.timedelta(days=25)).isoformat()
    assert f"{old} → <strong>{new}</strong>" in page and "Wrong visit copied" in page and "coord" in page


@pytest.mark.parametrize(
    ("params", "visible"),
    [
        ({"user": "coord"}, True),
        ({"user": "mon"}, False),
        ({"from": (TODAY + datetime.timedelta(days=1)).isoformat()}, False),
        ({"to": TODAY.isoformat()}, True),
    ],
)
def test_filters_by_user_and_date(as_monitor, changed_log, params, visible):
    page = as_monitor.get(reverse("patient_audit", args=[changed_log.patient_id]), params).text
    assert ("Wrong visit copied" in page) is visible


def test_outsider_cannot_read_the_audit_trail(as_outsider, changed_log):
    assert as_outsider.get(reverse("patient_audit", args=[changed_log.patient_id])).status_code == 403
