"""The two-tab case on the tumour assessment grid, in Chromium (issue 15 item 5): nothing one tab saved is undone.

Before this, a stale save of the grid answered 409 with the user's entries kept, the other person's values hidden
under them and the old version in the form, so saving again was refused again until the page was reloaded (and the
entries lost). Now: tab B corrects L2 and the investigator's response, tab A (opened before) corrects L1; both
save and all three changes are kept, the response recomputed from the merged grid. Then both tabs change L1: tab A
sees both values in the marked cell, nothing is saved until it chooses, and its choice is what is stored.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from assessments.models import LesionResult, TumourAssessment
from tests.browser.conftest import ARTIFACTS, login
from tests.factories import PASSWORD, RegisteredPatientFactory, UserFactory
from tests.factories_assessments import assessment_post, baseline_lesions, create_url

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REASON = "Reason for change"


@pytest.fixture
def opened(client):
    coordinator = UserFactory(username="coord", role="coordinator")
    UserFactory(username="coord2", role="coordinator")
    patient = baseline_lesions(RegisteredPatientFactory())
    client.force_login(coordinator)
    assert (
        client.post(create_url(patient), assessment_post(patient, {"L1": 35, "L2": 25}, day=56)).status_code
        == 302
    )
    return TumourAssessment.objects.get()


def _tab(browser, live_server, username):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1366, "height": 900})
    context.set_default_timeout(15000)
    page = context.new_page()
    login(page, username, PASSWORD)
    return context, page


def _cell(page, code):
    return page.get_by_test_id("lesion-grid").locator(f"tr[data-lesion={code}] input[name$=value_mm]")


def _mm(code):
    return LesionResult.objects.get(lesion__lesion_code=code).value_mm


def _save(page, reason, url=None):
    page.get_by_label(REASON).fill(reason)
    page.get_by_role("button", name="Save changes").click()
    if url is not None:
        page.wait_for_url(f"**{url}")


def test_two_tabs_grid_merge_and_conflict(browser, live_server, opened):
    a = opened
    edit = f"/patients/{a.patient_id}/forms/tumour-assessment/{a.pk}/edit/"
    detail = a.get_absolute_url()
    ctx_a, tab_a = _tab(browser, live_server, "coord")
    ctx_b, tab_b = _tab(browser, live_server, "coord2")
    try:
        # 1. B corrects L2 and the investigator's response; A, opened before, corrects L1. Both changes survive.
        tab_a.goto(edit)
        tab_b.goto(edit)
        _cell(tab_b, "L2").fill("20")
        tab_b.get_by_label("Investigator's overall response").select_option("PR")
        _save(tab_b, "B: radiology report", detail)
        _cell(tab_a, "L1").fill("30")
        _save(tab_a, "A: re-read", detail)
        assert "kept their value of" in tab_a.content()
        a.refresh_from_db()
        assert (_mm("L1"), _mm("L2"), a.investigator_response) == (Decimal(30), Decimal(20), "PR")
        # The stored response is that of the merged grid (30 + 20 = 50 mm from 100 mm), shown on the page.
        assert (a.sum_mm, a.overall_resp) == (Decimal("50.0"), "PR")
        assert "50.0 mm" in tab_a.get_by_test_id("sum").inner_text()

        # 2. Both change L1: A sees both values in the marked cell and must choose; nothing is saved before.
        tab_a.goto(edit)
        tab_b.goto(edit)
        _cell(tab_b, "L1").fill("28")
        _save(tab_b, "B: second look", detail)
        _cell(tab_a, "L1").fill("31")
        _cell(tab_a, "L2").fill("19")
        _save(tab_a, "A: caliper")
        conflicts = tab_a.get_by_test_id("merge-conflicts")
        assert conflicts.is_visible()
        marked = tab_a.locator("tr[data-lesion=L1] td[data-conflict=value_mm]")
        assert "28.0" in marked.inner_text() and "31" in marked.inner_text()
        assert "28.0" in conflicts.inner_text() and "31" in conflicts.inner_text()
        assert "This field is required" not in tab_a.content()  # only the conflict is asked about
        ARTIFACTS.mkdir(exist_ok=True)
        tab_a.screenshot(path=str(ARTIFACTS / "assessment-merge-conflict.png"), full_page=True)
        assert (_mm("L1"), _mm("L2")) == (Decimal(28), Decimal(20))
        _save(tab_a, "A: caliper")  # no choice yet: still refused
        assert tab_a.get_by_test_id("merge-conflicts").is_visible()
        assert (_mm("L1"), _mm("L2")) == (Decimal(28), Decimal(20))
        conflicts.locator('input[value="mine"]').check()
        _save(tab_a, "A: caliper", detail)
        a.refresh_from_db()
        assert (_mm("L1"), _mm("L2"), a.sum_mm) == (Decimal(31), Decimal(19), Decimal("50.0"))
        # Every save left its history row with its user and reason: created, B, A (merged), B, A (chosen).
        assert [(h.history_user.username, h.history_change_reason) for h in a.history.order_by("version")][
            1:
        ] == [
            ("coord2", "B: radiology report"),
            ("coord", "A: re-read"),
            ("coord2", "B: second look"),
            ("coord", "A: caliper"),
        ]
    finally:
        ctx_a.close()
        ctx_b.close()
