"""Data management in the browser: a query on a field answered by a correction and closed; a casebook signature
voided by an edit; a locked patient refusing an edit."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from sabr_trial.crf import CrfStatus
from sabr_trial.models import CasebookSignature, Query
from tests.browser.conftest import login
from tests.factories import PASSWORD, RegisteredPatientFactory, ScreeningLogFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TODAY = timezone.localdate()


@pytest.fixture
def users(db):
    return {
        role: UserFactory(
            username=name,
            role=role,
            first_name="Ines" if role == "investigator" else "Test",
            last_name="Investigator" if role == "investigator" else name,
        )
        for role, name in [
            ("coordinator", "coord"),
            ("investigator", "inv"),
            ("monitor", "mon"),
            ("data_manager", "dm"),
        ]
    }


@pytest.fixture
def log(users):
    return ScreeningLogFactory(
        patient=RegisteredPatientFactory(),
        screening_date=TODAY - datetime.timedelta(days=20),
        status=CrfStatus.SUBMITTED,
    )


def logout(page):
    page.get_by_role("button", name="Log out").click()


def detail(log):
    return f"/patients/{log.patient_id}/forms/screening/{log.pk}/"


def test_monitor_raises_a_field_query_coordinator_corrects_monitor_closes(page, screenshot, log):
    login(page, "mon", PASSWORD)
    page.goto(detail(log))
    page.get_by_text("Raise a query").click()
    page.get_by_label("Field").select_option("screening_date")
    page.get_by_test_id("raise-query").locator("textarea[name=text]").fill("Clinic note says 3 days earlier")
    page.get_by_role("button", name="Raise query").click()
    assert "Clinic note says 3 days earlier" in page.locator('[data-field="screening_date"]').inner_text()
    logout(page)

    login(page, "coord", PASSWORD)
    assert "1" in page.get_by_role("link", name="Queries").inner_text()
    page.goto(detail(log))
    page.get_by_test_id("correct-query").click()
    page.get_by_label("Date of screening visit").fill((TODAY - datetime.timedelta(days=23)).isoformat())
    page.get_by_label("Reason for change").fill("Corrected from the clinic note")
    page.get_by_role("button", name="Save changes").click()
    assert "answered with the correction" in page.content()
    logout(page)

    login(page, "mon", PASSWORD)
    query = Query.objects.get()
    page.goto(f"/queries/{query.pk}/")
    assert "Corrected from the clinic note" in page.get_by_test_id("query-thread").inner_text()
    page.get_by_role("button", name="Close query").click()
    screenshot("data-management-query-closed")
    assert page.get_by_test_id("query-status").get_attribute("data-status") == "closed"


def test_investigator_signs_coordinator_edits_signature_shows_voided(page, screenshot, log):
    login(page, "inv", PASSWORD)
    page.goto(f"/patients/{log.patient_id}/")
    page.get_by_role("link", name="Sign casebook").click()
    assert "Ines Investigator" in page.get_by_test_id("signature-manifest").inner_text()
    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_role("button", name="Sign the casebook").click()
    assert page.get_by_test_id("casebook-signature").get_attribute("data-voided") == "false"
    logout(page)

    login(page, "coord", PASSWORD)
    page.goto(detail(log))
    page.get_by_role("link", name="Edit").click()
    page.get_by_label("Date of screening visit").fill((TODAY - datetime.timedelta(days=21)).isoformat())
    page.get_by_label("Reason for change").fill("Typo")
    page.get_by_role("button", name="Save changes").click()
    page.goto(f"/patients/{log.patient_id}/")
    screenshot("data-management-signature-voided")
    signature = page.get_by_test_id("casebook-signature")
    assert signature.get_attribute("data-voided") == "true" and "VOIDED" in signature.inner_text()
    assert CasebookSignature.objects.get().voided_at is not None


def test_locked_patient_refuses_an_edit(page, screenshot, log):
    login(page, "dm", PASSWORD)
    page.goto(f"/patients/{log.patient_id}/")
    page.get_by_test_id("lock-casebook").click()
    assert "Forms not source-data verified" in page.get_by_test_id("prelock-report").inner_text()
    page.get_by_label("Reason for locking").fill("Data complete")
    page.get_by_role("button", name="Lock casebook").click()
    assert "Tick the confirmation" in page.content()  # nothing locked without the explicit confirmation
    page.get_by_label("Reason for locking").fill("Data complete")
    page.get_by_label("I have read the report above").check()
    screenshot("data-management-prelock-report")
    page.get_by_role("button", name="Lock casebook").click()
    assert "Casebook locked" in page.get_by_test_id("patient-lock-state").inner_text()
    logout(page)

    login(page, "coord", PASSWORD)
    page.goto(detail(log))
    assert page.get_by_role("link", name="Edit").count() == 0
    page.goto(detail(log) + "edit/")
    screenshot("data-management-locked-patient")
    assert "no change is possible" in page.content()
    log.refresh_from_db()
    assert log.version == 1
