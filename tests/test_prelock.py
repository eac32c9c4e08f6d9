"""Locking a casebook: a pre-lock report (open queries, forms not verified, casebook signature missing or voided,
expected forms missing), then an explicit confirmation with a reason; the SDV-after-lock policy (issue 19)."""

from __future__ import annotations

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from sabr_trial import queries, services
from sabr_trial.crf import CrfStatus, registry
from sabr_trial.models import AuditEvent, CrfLocked
from tests.factories import PASSWORD, ScreeningLogFactory
from tests.factories_visits import treated_patient

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()


@pytest.fixture
def log(as_investigator, coordinator, data_manager):
    """A treated patient (so visits are expected) whose screening form is submitted, not verified, queried,
    and whose casebook signature was voided by a later change."""
    patient = treated_patient(start_days_ago=120)
    log = ScreeningLogFactory(
        patient=patient, screening_date=TODAY - datetime.timedelta(days=150), status=CrfStatus.SUBMITTED
    )
    for spec in registry.all():
        for row in spec.model.objects.filter(patient=patient, status=CrfStatus.DRAFT):
            services.crf_submit(instance=row, acting_user=coordinator)
    signed = as_investigator.post(reverse("casebook_sign", args=[patient.pk]), {"password": PASSWORD})
    assert signed.status_code == 302, re.findall(r"alert-danger[^>]*>(.*?)</div>", signed.text, re.S)
    log, _changes = services.crf_update(
        instance=log,
        expected_version=log.version,
        data={"failure_text": "see letter"},
        reason="Date from the clinic letter",
        acting_user=coordinator,
    )
    queries.raise_query(row=log, text="Screening date differs from the source", acting_user=data_manager)
    return log


def lock_url(log):
    return reverse("patient_lock", args=[log.patient_id])


def section(page: str, key: str) -> str:
    return page.split(f'data-section="{key}"')[1].split("</div></div></div>")[0]


def test_the_report_lists_everything_still_open_and_locks_nothing(as_data_manager, log):
    response = as_data_manager.get(lock_url(log))
    page = response.text
    assert response.status_code == 200
    assert "Screening date differs from the source" in section(page, "queries")
    assert "Screening" in section(page, "sdv") and "Submitted" in section(page, "sdv")
    signatures = section(page, "signatures")
    assert (
        "not signed" in signatures and "voided" in signatures and "Date from the clinic letter" in signatures
    )
    assert "<li>" in section(page, "expected")
    log.patient.refresh_from_db()
    assert log.patient.locked_at is None


@pytest.mark.parametrize(
    ("post", "message"),
    [
        ({"reason": "Data complete", "confirm": ""}, "Tick the confirmation to lock the casebook."),
        ({"reason": "", "confirm": "on"}, "This field is required."),
    ],
)
def test_locking_needs_the_confirmation_and_a_reason(as_data_manager, log, post, message):
    response = as_data_manager.post(lock_url(log), post)
    log.patient.refresh_from_db()
    assert response.status_code == 422 and message in response.text and log.patient.locked_at is None
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.PATIENT_LOCK).exists()


def test_confirmed_lock_with_reason_is_audited(as_data_manager, log):
    response = as_data_manager.post(lock_url(log), {"reason": "Ready for interim analysis", "confirm": "on"})
    log.patient.refresh_from_db()
    assert response.status_code == 302 and log.patient.locked_at is not None
    assert (
        AuditEvent.objects.get(action=AuditEvent.Action.PATIENT_LOCK).reason == "Ready for interim analysis"
    )


def test_the_service_refuses_a_lock_without_reason(log, data_manager):
    with pytest.raises(services.ValidationError):
        services.patient_lock(patient=log.patient, acting_user=data_manager, reason=" ")


@pytest.mark.parametrize("role", ["coordinator", "investigator", "monitor"])
def test_only_a_data_manager_sees_the_lock_page(request, log, role):
    assert request.getfixturevalue(f"as_{role}").get(lock_url(log)).status_code == 403


def test_the_casebook_links_to_the_report_instead_of_locking_at_one_click(as_data_manager, log):
    page = as_data_manager.get(reverse("casebook", args=[log.patient_id])).text
    assert f'href="{lock_url(log)}" data-testid="lock-casebook"' in page


@pytest.mark.parametrize(("policy", "verified"), [(True, True), (False, False)])
def test_sdv_of_a_locked_casebook_follows_the_study_policy(
    settings, log, data_manager, monitor, policy, verified
):
    settings.SDV_ON_LOCKED_CASEBOOK = policy
    services.patient_lock(patient=log.patient, acting_user=data_manager, reason="complete")
    log.refresh_from_db()
    if verified:
        row = services.crf_verify(instance=log, acting_user=monitor)
        assert row.verified_at is not None and row.status == CrfStatus.VERIFIED
    else:
        with pytest.raises(CrfLocked):
            services.crf_verify(instance=log, acting_user=monitor)


def test_sdv_policy_never_passes_a_study_lock(settings, log, data_manager, monitor):
    settings.SDV_ON_LOCKED_CASEBOOK = True
    services.study_lock(acting_user=data_manager, reason="final analysis")
    with pytest.raises(CrfLocked):
        services.crf_verify(instance=log, acting_user=monitor)


def test_the_monitor_sees_the_sdv_button_on_a_locked_casebook_when_allowed(
    settings, log, data_manager, as_monitor
):
    settings.SDV_ON_LOCKED_CASEBOOK = True
    services.patient_lock(patient=log.patient, acting_user=data_manager, reason="complete")
    page = as_monitor.get(reverse("crf_detail", args=[log.patient_id, "screening", log.pk])).text
    assert "Mark SDV done" in page
