"""Casebook e-signature: password re-entered, 21 CFR 11.50 meaning, voided visibly by any later change."""

from __future__ import annotations

import datetime

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from sabr_trial import services
from sabr_trial.crf import CrfStatus
from sabr_trial.models import AuditEvent, CasebookSignature
from tests.factories import PASSWORD, RegisteredPatientFactory, ScreeningLogFactory

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()


@pytest.fixture
def log():
    return ScreeningLogFactory(
        patient=RegisteredPatientFactory(),
        screening_date=TODAY - datetime.timedelta(days=20),
        status=CrfStatus.SUBMITTED,
    )


def sign(client, log, password=PASSWORD):
    return client.post(reverse("casebook_sign", args=[log.patient_id]), {"password": password})


def test_sign_page_shows_name_and_meaning(as_investigator, log):
    page = as_investigator.get(reverse("casebook_sign", args=[log.patient_id])).text
    assert "Ines Investigator" in page and "Meaning of this signature" in page and "1 form" in page


def test_investigator_signs_the_casebook(as_investigator, log):
    response = sign(as_investigator, log)
    signature = CasebookSignature.objects.get()
    assert response.status_code == 302 and signature.signer_name == "Ines Investigator"
    assert signature.forms == [
        {
            "model": "enrollment.ScreeningLog",
            "slug": "screening",
            "pk": log.pk,
            "version": log.version,
            "status": "submitted",
        }
    ]
    assert AuditEvent.objects.filter(action=AuditEvent.Action.CASEBOOK_SIGN).count() == 1


def test_wrong_password_signs_nothing_is_audited_and_counts_toward_lockout(as_investigator, log):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = sign(as_investigator, log, password="wrong")
    assert response.status_code in (403, 422) and not CasebookSignature.objects.exists()
    assert AuditEvent.objects.filter(action=AuditEvent.Action.SIGN_FAILED).count() >= 1
    from axes.models import AccessAttempt

    assert AccessAttempt.objects.filter(username="inv").exists()


@pytest.mark.parametrize("role", ["coordinator", "data_manager", "monitor"])
def test_only_investigators_sign(request, log, role):
    response = sign(request.getfixturevalue(f"as_{role}"), log)
    assert response.status_code == 403 and not CasebookSignature.objects.exists()


def test_drafts_block_the_casebook_signature(as_investigator, log):
    type(log).objects.filter(pk=log.pk).update(status=CrfStatus.DRAFT)
    response = sign(as_investigator, log)
    assert response.status_code == 422 and "still drafts" in response.text


def test_locked_casebook_cannot_be_signed(as_investigator, log, data_manager):
    services.patient_lock(patient=log.patient, acting_user=data_manager, reason="complete")
    response = sign(as_investigator, log)
    assert response.status_code == 409 and not CasebookSignature.objects.exists()


def test_a_change_after_signing_voids_the_casebook_signature_visibly(as_investigator, as_coordinator, log):
    sign(as_investigator, log)
    as_coordinator.post(
        reverse("crf_update", args=[log.patient_id, "screening", log.pk]),
        {
            "screening_date": (TODAY - datetime.timedelta(days=22)).isoformat(),
            "outcome": log.outcome,
            "outcome_date": "",
            "failure_reason": "",
            "failure_text": "",
            "expected_version": log.version,
            "change_reason": "Date from the clinic letter",
        },
    )
    signature = CasebookSignature.objects.get()
    casebook = as_coordinator.get(reverse("casebook", args=[log.patient_id])).text
    audit = as_coordinator.get(reverse("patient_audit", args=[log.patient_id])).text
    assert signature.voided_at is not None and "Date from the clinic letter" in signature.void_reason
    assert 'data-voided="true"' in casebook and "VOIDED" in casebook
    assert 'data-action="casebook_void"' in audit
