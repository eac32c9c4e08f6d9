"""Coordinator records Fatigue (grades 4-5 unavailable), then a grade 3 SAE seen on the SAE page with its due time."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from adverse_events.models import AdverseEvent
from tests.browser.conftest import login
from tests.factories import PASSWORD, RegisteredPatientFactory, UserFactory
from tests.factories_adverse_events import ensure_ctcae_terms

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def choose_term(page, query: str, term: str) -> None:
    page.get_by_test_id("ctcae-search").locator("input[type=search]").fill(query)
    page.locator(".ctcae-results li").first.wait_for()
    page.locator(".ctcae-results li", has_text=term).first.click()


def fill_common(page, onset: datetime.date) -> None:
    page.locator("input[name=onset_date]").fill(onset.isoformat())
    for name, value in {
        "ongoing": "Y",
        "rel_sabr": "UNLIKELY",
        "rel_axitinib": "POSSIBLE",
        "rel_toripalimab": "POSSIBLE",
        "immune_related": "N",
        "acn_axitinib": "DOSE NOT CHANGED",
        "acn_toripalimab": "DOSE NOT CHANGED",
        "acn_sabr": "NOT APPLICABLE",
        "treatment_given": "N",
    }.items():
        page.locator(f"select[name={name}]").select_option(value)


def test_fatigue_grades_and_sae_page(page, live_server, screenshot):
    ensure_ctcae_terms()
    UserFactory(username="coord", role="coordinator")
    patient = RegisteredPatientFactory()
    login(page, "coord", PASSWORD)
    new_ae = f"{live_server.url}/patients/{patient.pk}/forms/adverse-event/new/"
    onset = timezone.localdate() - datetime.timedelta(days=3)

    page.goto(new_ae)
    choose_term(page, "fatig", "Fatigue")
    grades = {g: page.locator(f"input[name=grade][value='{g}']") for g in range(1, 6)}
    assert [grades[g].is_disabled() for g in range(1, 6)] == [False, False, False, True, True]
    assert "not available" in page.locator("[data-available=no]").first.inner_text()
    screenshot("ae-fatigue-grades")
    grades[2].check()
    fill_common(page, onset)
    page.locator("select[name=serious]").select_option("N")
    page.get_by_role("button", name="Save draft").click()
    assert AdverseEvent.objects.filter(ctcae_term__term="Fatigue", grade=2).exists()

    page.goto(new_ae)
    choose_term(page, "hypertens", "Hypertension")
    page.locator("input[name=grade][value='3']").check()
    fill_common(page, onset)
    page.locator("select[name=serious]").select_option("Y")
    page.locator("select[name=aeshosp]").select_option("Y")
    aware = timezone.localtime() - datetime.timedelta(hours=2)
    page.locator("input[name=awareness_at]").fill(aware.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="Save and submit").click()
    sae = AdverseEvent.objects.get(serious="Y")
    assert sae.grade == 3 and sae.sae_due_at is not None

    page.get_by_role("link", name="SAEs").click()
    row = page.get_by_test_id("sae-open").locator(f"tr[data-ae='{sae.pk}']")
    due = timezone.localtime(sae.sae_due_at).strftime("%Y-%m-%d %H:%M")
    screenshot("ae-sae-page")
    assert due in row.get_by_test_id("sae-due").inner_text()
    assert "time left 21 h" in row.inner_text()
