"""Investigator opens the endpoint dashboard after a recompute and sees every figure; a patient opens the casebook."""

from __future__ import annotations

import pytest

from bench.synthetic import generate
from endpoints import services
from enrollment.models import Patient
from tests.browser.conftest import login
from tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FIGURES = ["km_pfs1", "km_pfs2", "km_os", "lc_patient", "lc_lesion", "waterfall", "spider", "swimmer"]


@pytest.fixture
def study():
    coordinator = UserFactory(username="coord", role="coordinator")
    UserFactory(username="inv", role="investigator")
    generate(14, user=coordinator, seed=11)  # responders, stable and progressing patients, deaths, next lines
    snap = services.run_recompute(trigger="browser test")
    assert snap.status == "ok", snap.error
    return snap


def test_dashboard_shows_every_figure_and_links_patients_to_the_casebook(
    page, live_server, screenshot, study
):
    login(page, "inv", PASSWORD)
    page.goto(f"{live_server.url}/endpoints/")
    for name in FIGURES:
        figure = page.get_by_test_id(f"fig-{name}")
        assert figure.locator("svg").count() == 1, name
        box = figure.locator("svg").bounding_box()
        assert box and box["width"] > 200 and box["height"] > 120, (name, box)
    headline = page.get_by_test_id("headline")
    assert "14" in headline.inner_text()  # N treated
    for testid in ("pfs1-median", "orr", "dcr"):
        assert page.get_by_test_id(testid).inner_text().strip()
    assert page.get_by_test_id("bor-table").locator("tbody tr").count() >= 3
    listing = page.get_by_test_id("listing")
    assert listing.locator("tbody tr").count() == 14
    # D4: the non-irradiated lesions' response, and the safety summary from the AE tables, with the snapshot's numbers
    nonirr = page.get_by_test_id("nonirr")
    assert nonirr.is_visible() and study.results["headline"]["ORR_NONIRR"]["confirmed"] in nonirr.inner_text()
    assert page.get_by_test_id("bor-nonirr-table").locator("tbody tr").count() >= 3
    safety = page.get_by_test_id("safety-summary")
    assert safety.is_visible() and "Any AE" in safety.inner_text()
    assert page.get_by_test_id("safety-related").locator("tbody tr").count() == 4  # 3 agents + any
    screenshot("endpoints-dashboard")

    # "Recompute now" with no form changed: every patient comes from the per-patient memo, and the page says so.
    page.get_by_test_id("recompute").click()
    page.wait_for_url("**/endpoints/?cutoff=*")
    assert "0 of 14 patients derived in this run" in page.get_by_test_id("derived-info").inner_text()
    for name in FIGURES:
        assert page.get_by_test_id(f"fig-{name}").locator("svg").count() == 1, name

    # A lane of the swimmer plot is a link to the patient's casebook.
    first = Patient.objects.filter(study_number__isnull=False).order_by("study_number").first()
    href = f"/patients/{first.pk}/"  # endpoints/plots.py wraps each lane in <a href=...>
    lane = (
        page.get_by_test_id("fig-swimmer")
        .locator(f"xpath=.//*[local-name()='a'][@*[local-name()='href']='{href}']")
        .first
    )
    lane.click()
    page.wait_for_url(f"**/patients/{first.pk}/")
    assert first.study_number in page.content()

    # So is the patient number in the listing.
    page.go_back()
    page.get_by_test_id("listing").get_by_role("link", name=first.study_number, exact=True).click()
    page.wait_for_url(f"**/patients/{first.pk}/")
    screenshot("endpoints-dashboard-casebook")
