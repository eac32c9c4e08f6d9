"""Issue 16 (8): optional two-factor sign-in (TOTP, django-otp) that a data manager can require for a role."""

from __future__ import annotations

import time

import pytest
from django.test import Client
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from sabr_trial.models import AuditEvent, TwoFactorRole
from tests.factories import PASSWORD
from tests.factories_api import Api, token_for

pytestmark = pytest.mark.django_db


def sign_in(user) -> Client:
    client = Client()
    response = client.post(reverse("login"), {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302, response.content[:300]
    return client


def code_for(device: TOTPDevice, *, offset: int = 0) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=offset):06d}"


def test_data_manager_requires_two_factor_for_a_role_and_it_is_audited(as_data_manager, as_coordinator):
    assert as_coordinator.get(reverse("two_factor_roles")).status_code == 403
    response = as_data_manager.post(reverse("two_factor_roles"), {"roles": ["coordinator"]})
    assert response.status_code == 302
    assert list(TwoFactorRole.objects.values_list("role", flat=True)) == ["coordinator"]
    event = AuditEvent.objects.get(action="role_change")
    assert event.description == "two-factor sign-in required for: - -> coordinator"


def test_required_role_enrols_then_signs_in_with_a_code(coordinator, data_manager, monitor):
    TwoFactorRole.objects.create(role="coordinator", required_by=data_manager)
    client = sign_in(coordinator)
    response = client.get("/patients/")
    assert response.status_code == 302 and response["Location"] == "/account/two-factor/?next=/patients/"
    page = client.get(response["Location"])
    assert page.status_code == 200 and 'data-testid="two-factor-secret"' in page.text
    device = TOTPDevice.objects.get(user=coordinator, confirmed=False)
    wrong = client.post(
        "/account/two-factor/?next=/patients/",
        {"code": "000000" if code_for(device) != "000000" else "111111"},
    )
    assert wrong.status_code == 200 and "This code is wrong or expired" in wrong.text
    assert client.get("/patients/").status_code == 302
    device.refresh_from_db()
    device.throttling_failure_count, device.throttling_failure_timestamp = (
        0,
        None,
    )  # the wrong code throttles it
    device.save()
    done = client.post("/account/two-factor/?next=/patients/", {"code": code_for(device)})
    assert done.status_code == 302 and done["Location"] == "/patients/"
    assert client.get("/patients/").status_code == 200
    assert TOTPDevice.objects.get(pk=device.pk).confirmed
    assert AuditEvent.objects.filter(description__contains="two-factor authenticator enrolled").count() == 1
    # The next sign-in asks for the code of the confirmed device; another role is not asked.
    again = sign_in(coordinator)
    assert again.get("/patients/").status_code == 302
    time.sleep(0)  # same 30 s step is refused as a replay by django-otp: use the next step's code
    assert again.post("/account/two-factor/", {"code": code_for(device, offset=1)}).status_code == 302
    assert again.get("/patients/").status_code == 200
    assert sign_in(monitor).get("/patients/").status_code == 200


def test_api_tokens_are_not_asked_for_a_code(coordinator, data_manager):
    TwoFactorRole.objects.create(role="coordinator", required_by=data_manager)
    assert Api(token_for(coordinator)).get("patients/").status_code == 200
