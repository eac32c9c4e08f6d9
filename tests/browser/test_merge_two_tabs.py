"""The two-tab case of the one-write-path issue, in Chromium: nothing one tab saved is undone by the other.

Tab B changes the medical-history condition; tab A, opened before, changes only the grade and saves: both
changes are kept. Then both tabs change the condition: tab A is shown both values, saves nothing until it
chooses, and its choice is what is stored.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from enrollment.models import MedicalHistory
from sabr_trial.crf import CrfStatus
from sabr_trial.services import crf_create
from tests.browser.conftest import login
from tests.factories import PASSWORD, UserFactory
from tests.factories_enrollment import registered

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CONDITION = "Condition"
GRADE = "CTCAE grade at baseline (if ongoing)"
REASON = "Reason for change"


@pytest.fixture
def setup():
    coordinator = UserFactory(username="coord", role="coordinator")
    investigator = UserFactory(username="inv", role="investigator")
    patient = registered(coordinator, investigator)
    row = crf_create(
        model=MedicalHistory,
        patient=patient,
        acting_user=coordinator,
        status=CrfStatus.SUBMITTED,
        data={
            "mh_term": "Hypertension",
            "mh_category": "CARDIOVASCULAR",
            "start_date": "2019-03",
            "ongoing": "Y",
            "end_date": "",
            "baseline_grade": 1,
            "systemic_tx_needed": "N",
        },
    )
    return row


def _tab(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1366, "height": 900})
    context.set_default_timeout(15000)
    page = context.new_page()
    login(page, "coord", PASSWORD)
    return context, page


def test_two_tabs_merge_and_conflict(browser, live_server, setup):
    row = setup
    edit = reverse("crf_update", args=[row.patient_id, "medical-history", row.pk])
    ctx_a, tab_a = _tab(browser, live_server)
    ctx_b, tab_b = _tab(browser, live_server)
    try:
        # 1. B changes the condition; A (opened before) changes only the grade.
        tab_a.goto(edit)
        tab_b.goto(edit)
        tab_b.get_by_label(CONDITION).fill("Essential hypertension")
        tab_b.get_by_label(REASON).fill("Discharge letter")
        tab_b.get_by_role("button", name="Save changes").click()
        tab_b.wait_for_url(f"**{row.get_absolute_url()}")
        tab_a.get_by_label(GRADE, exact=True).select_option("2")
        tab_a.get_by_label(REASON).fill("Clinic note")
        tab_a.get_by_role("button", name="Save changes").click()
        tab_a.wait_for_url(f"**{row.get_absolute_url()}")
        assert "kept their value of: Condition" in tab_a.content()
        row.refresh_from_db()
        assert (row.mh_term, row.baseline_grade) == ("Essential hypertension", 2)

        # 2. Both change the condition: A sees both values and must choose; nothing is saved before.
        tab_a.goto(edit)
        tab_b.goto(edit)
        tab_b.get_by_label(CONDITION).fill("Renovascular hypertension")
        tab_b.get_by_label(REASON).fill("Nephrology letter")
        tab_b.get_by_role("button", name="Save changes").click()
        tab_b.wait_for_url(f"**{row.get_absolute_url()}")
        tab_a.get_by_label(CONDITION).fill("Secondary hypertension")
        tab_a.get_by_label(REASON).fill("Typo")
        tab_a.get_by_role("button", name="Save changes").click()
        conflicts = tab_a.get_by_test_id("merge-conflicts")
        assert conflicts.is_visible()
        assert "Renovascular hypertension" in conflicts.inner_text()
        assert "Secondary hypertension" in conflicts.inner_text()
        row.refresh_from_db()
        assert row.mh_term == "Renovascular hypertension"
        tab_a.get_by_role("button", name="Save changes").click()  # no choice yet: still refused
        assert tab_a.get_by_test_id("merge-conflicts").is_visible()
        row.refresh_from_db()
        assert row.mh_term == "Renovascular hypertension"
        tab_a.get_by_test_id("merge-conflicts").locator('input[value="mine"]').check()
        tab_a.get_by_role("button", name="Save changes").click()
        tab_a.wait_for_url(f"**{row.get_absolute_url()}")
        row.refresh_from_db()
        assert row.mh_term == "Secondary hypertension"
        # Every save left its history row: created, B, A (merged), B, A (chosen).
        assert row.history.count() == 5
    finally:
        ctx_a.close()
        ctx_b.close()
