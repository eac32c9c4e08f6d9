"""The CRF lifecycle through HTTP as each persona: draft -> submitted -> verified -> signed -> locked."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from enrollment.models import ScreeningLog
from sabr_trial.crf import CrfStatus
from sabr_trial.models import AuditEvent, Signature
from tests.factories import PASSWORD, RegisteredPatientFactory, ScreeningLogFactory

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()


@pytest.fixture
def log():
    return ScreeningLogFactory(
        patient=RegisteredPatientFactory(), screening_date=TODAY - datetime.timedelta(days=20)
    )


def url(log, name="crf_detail", action=None):
    args = [log.patient_id, "screening", log.pk] + ([action] if action else [])
    return reverse(name, args=args)


def edit(client, log, **changes):
    data = {
        "screening_date": log.screening_date.isoformat(),
        "outcome": log.outcome,
        "outcome_date": log.outcome_date.isoformat() if log.outcome_date else "",
        "failure_reason": log.failure_reason,
        "failure_text": log.failure_text,
        "expected_version": log.version,
    }
    data.update(changes)
    return client.post(url(log, "crf_update"), data)


def test_draft_edit_needs_no_reason_and_keeps_history(as_coordinator, log):
    response = edit(as_coordinator, log, screening_date=(TODAY - datetime.timedelta(days=21)).isoformat())
    log.refresh_from_db()
    assert (response.status_code, log.version, log.history.count()) == (302, 2, 2)


def test_submit_then_edit_without_reason_is_refused_next_to_the_field(as_coordinator, log):
    as_coordinator.post(url(log, "crf_transition", "submit"))
    log.refresh_from_db()
    response = edit(as_coordinator, log, failure_text="typo")
    log.refresh_from_db()
    assert (
        response.status_code == 200 and "This field is required" in response.text and log.failure_text == ""
    )


def test_change_after_submit_records_user_time_and_reason(as_coordinator, coordinator, log):
    as_coordinator.post(url(log, "crf_transition", "submit"))
    log.refresh_from_db()
    edit(
        as_coordinator,
        log,
        screening_date=(TODAY - datetime.timedelta(days=22)).isoformat(),
        change_reason="Wrong date copied from the clinic note",
    )
    latest = log.history.order_by("-history_date").first()
    assert (latest.history_user, latest.history_change_reason, latest.version) == (
        coordinator,
        "Wrong date copied from the clinic note",
        3,
    )


def test_stale_save_of_a_field_both_changed_is_held_with_both_values_and_changes_nothing(
    as_coordinator, as_investigator, log
):
    """Both changed the screening date: nothing is saved, the form shows both values (issue: one write path;
    a stale save that changes only other fields is merged instead, tests/test_merge.py)."""
    stale_version = log.version
    edit(
        as_investigator,
        log,
        failure_text="",
        outcome="SCREEN FAILURE",
        failure_reason="CONSENT REFUSED",
        outcome_date=TODAY.isoformat(),
        screening_date=(TODAY - datetime.timedelta(days=21)).isoformat(),
    )
    response = edit(
        as_coordinator,
        log,
        expected_version=stale_version,
        screening_date=(TODAY - datetime.timedelta(days=25)).isoformat(),
    )
    log.refresh_from_db()
    assert response.status_code == 409
    assert "Screen failure" in response.text and "after you opened it" in response.text
    assert (log.screening_date, log.outcome) == (TODAY - datetime.timedelta(days=21), "SCREEN FAILURE")
    assert AuditEvent.objects.filter(action=AuditEvent.Action.STALE_REFUSED, object_id=log.pk).count() == 1


def test_invalid_values_come_back_next_to_each_field(as_coordinator, log):
    response = edit(as_coordinator, log, screening_date="not-a-date", outcome="SCREEN FAILURE")
    assert response.status_code == 200 and "Enter a valid date" in response.text


def test_future_date_is_refused_with_the_rule(as_coordinator, log):
    response = edit(as_coordinator, log, screening_date=(TODAY + datetime.timedelta(days=3)).isoformat())
    assert "EC-G1" in response.text and ScreeningLog.objects.get(pk=log.pk).version == 1


def test_cross_field_rule_is_shown_next_to_the_field(as_coordinator, log):
    response = edit(as_coordinator, log, outcome="SCREEN FAILURE", outcome_date=TODAY.isoformat())
    assert "needs its main reason (EC-SC-1)" in response.text


def test_monitor_verifies_submitted_form(as_coordinator, as_monitor, log):
    as_coordinator.post(url(log, "crf_transition", "submit"))
    as_monitor.post(url(log, "crf_transition", "verify"))
    log.refresh_from_db()
    assert log.status == CrfStatus.VERIFIED and log.verified_by.username == "mon"


@pytest.mark.parametrize("role", ["coordinator", "investigator", "data_manager"])
def test_only_monitor_may_verify(request, log, role):
    client = request.getfixturevalue(f"as_{role}")
    log.status = CrfStatus.SUBMITTED
    log.save()
    response = client.post(url(log, "crf_transition", "verify"))
    log.refresh_from_db()
    assert response.status_code == 403 and log.status == CrfStatus.SUBMITTED


def test_investigator_signs_with_password(as_coordinator, as_investigator, log):
    as_coordinator.post(url(log, "crf_transition", "submit"))
    as_investigator.post(url(log, "crf_transition", "sign"), {"password": PASSWORD})
    log.refresh_from_db()
    signature = Signature.objects.get(object_id=log.pk)
    assert (log.status, signature.signer_name, signature.crf_version) == (
        CrfStatus.SIGNED,
        "Ines Investigator",
        3,
    )


def test_wrong_signature_password_signs_nothing_and_is_audited(as_coordinator, as_investigator, log):
    as_coordinator.post(url(log, "crf_transition", "submit"))
    response = as_investigator.post(url(log, "crf_transition", "sign"), {"password": "wrong"})
    log.refresh_from_db()
    assert response.status_code == 422 and log.status == CrfStatus.SUBMITTED
    assert AuditEvent.objects.filter(action=AuditEvent.Action.SIGN_FAILED).count() == 1


def test_change_after_signature_voids_it_visibly(as_coordinator, as_investigator, log):
    as_coordinator.post(url(log, "crf_transition", "submit"))
    as_investigator.post(url(log, "crf_transition", "sign"), {"password": PASSWORD})
    log.refresh_from_db()
    edit(
        as_coordinator,
        log,
        failure_text="",
        screening_date=(TODAY - datetime.timedelta(days=19)).isoformat(),
        change_reason="Correction from source",
    )
    log.refresh_from_db()
    signature = Signature.objects.get(object_id=log.pk)
    page = as_coordinator.get(url(log)).text
    assert log.status == CrfStatus.SUBMITTED and signature.voided_at is not None and "VOIDED" in page


def test_locked_form_refuses_crafted_edit_post(as_coordinator, as_data_manager, log):
    as_coordinator.post(url(log, "crf_transition", "submit"))
    as_data_manager.post(url(log, "crf_transition", "lock"))
    log.refresh_from_db()
    edit(
        as_coordinator,
        log,
        screening_date=(TODAY - datetime.timedelta(days=2)).isoformat(),
        change_reason="x",
    )
    log.refresh_from_db()
    assert log.status == CrfStatus.LOCKED and log.screening_date == TODAY - datetime.timedelta(days=20)


@pytest.mark.parametrize(("role", "action"), [("monitor", "verify"), ("investigator", "sign")])
def test_locked_form_refuses_sdv_and_signature(request, as_coordinator, as_data_manager, log, role, action):
    as_coordinator.post(url(log, "crf_transition", "submit"))
    as_data_manager.post(url(log, "crf_transition", "lock"))
    response = request.getfixturevalue(f"as_{role}").post(
        url(log, "crf_transition", action), {"password": PASSWORD}
    )
    log.refresh_from_db()
    assert response.status_code == 409 and log.status == CrfStatus.LOCKED


def test_unlock_needs_reason_and_restores_previous_status(as_coordinator, as_data_manager, log):
    as_coordinator.post(url(log, "crf_transition", "submit"))
    as_data_manager.post(url(log, "crf_transition", "lock"))
    refused = as_data_manager.post(url(log, "crf_transition", "unlock"), {"reason": ""})
    as_data_manager.post(url(log, "crf_transition", "unlock"), {"reason": "Query on onset date"})
    log.refresh_from_db()
    assert refused.status_code == 422 and log.status == CrfStatus.SUBMITTED


def test_coordinator_cannot_lock(as_coordinator, log):
    as_coordinator.post(url(log, "crf_transition", "submit"))
    response = as_coordinator.post(url(log, "crf_transition", "lock"))
    assert response.status_code == 403


def test_draft_cannot_be_locked(as_data_manager, log):
    response = as_data_manager.post(url(log, "crf_transition", "lock"))
    log.refresh_from_db()
    assert response.status_code == 422 and log.status == CrfStatus.DRAFT


def test_monitor_cannot_edit(as_monitor, log):
    response = edit(as_monitor, log, failure_text="x")
    assert response.status_code == 403


def test_detail_page_shows_audit_trail(as_coordinator, log):
    as_coordinator.post(url(log, "crf_transition", "submit"))
    page = as_coordinator.get(url(log)).text
    assert "Audit trail" in page and "Submitted" in page


def test_unknown_transition_is_not_allowed(as_coordinator, log):
    assert as_coordinator.post(url(log, "crf_transition", "explode")).status_code == 405


def test_refused_fields_are_listed_at_the_top_of_the_form(as_coordinator, coordinator):
    """Issue 19: a missing reason for change was reported only at the bottom of a long form; every refused field is
    now listed first, with a link to it."""
    import re

    from django.urls import reverse

    from tests.factories_enrollment import screen

    patient = screen(coordinator)
    log = patient.enrollment_screeninglog_set.get()
    url = reverse("crf_update", args=[patient.pk, "screening", log.pk])
    page = as_coordinator.post(
        url, {"expected_version": log.version, "screening_date": "", "change_reason": ""}
    )
    html = page.content.decode()
    assert page.status_code == 200
    summary = html[
        html.index('data-testid="error-summary"') : html.index('<form method="post" class="bg-white')
    ]
    linked = re.findall(r'<a href="#id_([a-z_]+)">', summary)
    assert "change_reason" in linked, summary and "screening_date" in linked
    assert html.index('data-testid="error-summary"') < html.index('name="screening_date"')
