"""Every control of every CRF page has a label, and a text field shows its length limit and keeps a paste longer
than it, with a warning (issue 19 item 6). Before: two selects of the assessment grid had no visible label, and the
browser's maxlength cut pasted text without a word."""

from __future__ import annotations

import pytest
from django.urls import reverse

from sabr_trial.crf import registry
from tests.browser.conftest import login
from tests.factories import PASSWORD, UserFactory
from tests.factories_adverse_events import ensure_ctcae_terms
from tests.factories_assessments import LesionFactory
from tests.factories_visits import treated_patient
from treatment.models import SabrCourse

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

UNLABELLED = """() => Array.from(document.querySelectorAll('main input, main select, main textarea'))
  .filter(e => e.type !== 'hidden' && !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
               && !e.getAttribute('aria-labelledby'))
  .map(e => e.name || e.id || e.outerHTML.slice(0, 80))"""


def test_every_control_of_every_new_form_page_has_a_label(page, live_server):
    ensure_ctcae_terms()
    UserFactory(username="coord", role="coordinator")
    patient = treated_patient(start_days_ago=60, cycles_given=3)
    LesionFactory(patient=patient, organ="LIVER")
    LesionFactory(patient=patient, organ="LYMPH NODE", role="NON-TARGET", baseline_value_mm=None)
    login(page, "coord", PASSWORD)
    course = SabrCourse.objects.get(patient=patient)
    urls = [reverse("crf_create", args=[patient.pk, spec.slug]) for spec in registry.all()]
    urls += [
        reverse("treatment:fraction_day", args=[patient.pk, course.pk]),
        reverse("visits:patient_grid", args=[patient.pk]),
    ]
    missing = {}
    for url in urls:
        page.goto(url)
        found = page.evaluate(UNLABELLED)
        if found:
            missing[url] = found
    assert missing == {}


def test_a_paste_longer_than_the_limit_is_kept_and_flagged_then_refused_with_its_length(
    page, live_server, screenshot
):
    UserFactory(username="coord", role="coordinator")
    patient = treated_patient(start_days_ago=30)
    login(page, "coord", PASSWORD)
    page.goto(reverse("crf_create", args=[patient.pk, "medical-history"]))
    term = page.get_by_label("Condition")
    limit = page.locator('[data-length-for="id_mh_term"]')
    assert limit.inner_text() == "At most 200 characters."
    term.fill("Hypertension")
    assert limit.inner_text() == "12 of 200 characters."
    term.fill("")
    term.focus()
    page.keyboard.insert_text("x" * 250)  # as a paste: one insertion of 250 characters
    assert len(term.input_value()) == 250  # not cut
    assert limit.get_attribute("data-over") == "yes"
    assert "250 characters: 50 too many" in limit.inner_text()
    screenshot("length-limit-paste")
    page.get_by_label("Category").select_option("OTHER")
    page.get_by_label("Start date", exact=True).fill("2019")
    page.get_by_label("Ongoing at consent?").select_option("Y")
    page.get_by_role("button", name="Save and submit").click()
    assert "at most 200 characters (it has 250)" in page.get_by_test_id("error-summary").inner_text()
