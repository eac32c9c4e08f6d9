"""Branching in the browser (issue 19 item 8): the consent's withdrawal fields and the AE's SAE fields appear when
the controlling answer is chosen and disappear again (their values are then not sent, so the save goes through)."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from enrollment.models import Consent
from tests.browser.conftest import login
from tests.browser.test_adverse_events_journey import choose_term, fill_common
from tests.factories import PASSWORD, RegisteredPatientFactory, UserFactory
from tests.factories_adverse_events import ensure_ctcae_terms

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_consent_shows_withdrawal_fields_only_when_withdrawn(page, screenshot):
    UserFactory(username="coord", role="coordinator")
    login(page, "coord", PASSWORD)
    page.get_by_role("link", name="New patient (screening)").click()
    page.get_by_role("button", name="Create patient").click()
    page.locator('tr[data-crf="consent"]').get_by_role("link", name="Add").click()
    date = page.locator("#div_id_withdrawal_date")
    scope = page.locator("#div_id_withdrawal_scope")
    expect(page.locator("input[name=withdrawn][value=N]")).to_be_checked()  # the form is there
    expect(date).to_be_hidden()  # the deferred script has run (the wrappers are in the page)
    expect(scope).to_be_hidden()
    screenshot("branching-consent-not-withdrawn")

    page.locator("input[name=withdrawn][value=Y]").check()
    expect(date).to_be_visible()
    expect(scope).to_be_visible()
    expect(page.get_by_label("Date of withdrawal")).to_be_enabled()
    signed = timezone.localtime(timezone.now() - datetime.timedelta(hours=2))
    page.get_by_label("Date and time consent was signed").fill(signed.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Person obtaining consent").select_option(label="coord")
    page.get_by_label("Date of withdrawal").fill(timezone.localdate().isoformat())
    page.get_by_label("What does the withdrawal cover?").select_option("VISITS")
    screenshot("branching-consent-withdrawn")

    # Changed their mind: asked whether to erase the withdrawal values (yes), the fields hide and nothing is sent.
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("input[name=withdrawn][value=N]").check()
    expect(date).to_be_hidden()
    expect(scope).to_be_hidden()
    page.get_by_role("button", name="Save and submit").click()
    expect(page.locator("input[name=withdrawn]")).to_have_count(0)  # saved: the form page is left
    consent = Consent.objects.get()
    assert (consent.withdrawn, consent.withdrawal_date, consent.withdrawal_scope) == ("N", None, "")


def test_ae_shows_sae_fields_only_when_serious(page, live_server, screenshot):
    ensure_ctcae_terms()
    UserFactory(username="coord", role="coordinator")
    patient = RegisteredPatientFactory()
    login(page, "coord", PASSWORD)
    page.goto(f"{live_server.url}/patients/{patient.pk}/forms/adverse-event/new/")
    sae_fields = [page.locator(f"#div_id_{name}") for name in ("awareness_at", "reported_at", "expected")]
    expect(page.locator("select[name=serious]")).to_be_visible()  # the form is there
    for f in sae_fields:
        expect(f).to_be_hidden()
    choose_term(page, "hypertens", "Hypertension")
    page.locator("input[name=grade][value='3']").check()
    fill_common(page, timezone.localdate() - datetime.timedelta(days=3))
    page.locator("select[name=serious]").select_option("N")
    for f in sae_fields:
        expect(f).to_be_hidden()
    page.locator("select[name=serious]").select_option("Y")
    for f in sae_fields:
        expect(f).to_be_visible()
    screenshot("branching-ae-serious")


def test_assessment_asks_why_only_when_imaging_was_not_done(page, live_server, screenshot):
    UserFactory(username="coord", role="coordinator")
    patient = RegisteredPatientFactory()
    login(page, "coord", PASSWORD)
    page.goto(f"{live_server.url}/patients/{patient.pk}/forms/tumour-assessment/new/")
    with_imaging = [page.locator(f"#div_id_{n}") for n in ("scan_date_first", "scan_date_last", "modality")]
    without = [page.locator(f"#div_id_{n}") for n in ("not_done_reason", "visit_date")]
    expect(page.locator("input[name=imaging_done][value=Y]")).to_be_checked()  # the form is there
    for f in without:
        expect(f).to_be_hidden()
    for f in with_imaging:
        expect(f).to_be_visible()
    page.locator("input[name=imaging_done][value=N]").check()
    for f in without:
        expect(f).to_be_visible()
    for f in with_imaging:
        expect(f).to_be_hidden()
    expect(page.get_by_label("Why not?")).to_be_enabled()
    expect(page.get_by_test_id("lesion-grid")).to_be_hidden()  # the grid counts only with imaging
    page.locator("input[name=imaging_done][value=Y]").check()
    expect(page.get_by_test_id("lesion-grid")).to_be_visible()
    page.locator("input[name=imaging_done][value=N]").check()
    screenshot("branching-assessment-not-done")


def test_hiding_a_field_that_holds_a_value_asks_before_erasing_it(page, screenshot):
    """Before: the script disabled the hidden input and its value was dropped without a word. Now, as in REDCap,
    the change asks; Cancel puts the answer back, OK erases the value."""
    from tests.factories_treatment import consented_patient

    UserFactory(username="coord", role="coordinator")
    patient = consented_patient(registered_days_ago=20)
    login(page, "coord", PASSWORD)
    page.goto(f"/patients/{patient.pk}/forms/medical-history/new/")
    ongoing, end = page.get_by_label("Ongoing at consent?"), page.locator("#div_id_end_date")
    expect(end).to_be_hidden()
    ongoing.select_option("N")
    expect(end).to_be_visible()
    page.get_by_label("End date").fill("2012")
    asked: list[str] = []

    def answer(accept: bool):
        def handle(dialog):
            asked.append(dialog.message)
            dialog.accept() if accept else dialog.dismiss()

        return handle

    page.once("dialog", answer(False))
    ongoing.select_option("Y")
    assert asked and "End date" in asked[0] and "Erase" in asked[0]
    expect(ongoing).to_have_value("N")  # Cancel: the previous answer is back, the value kept
    expect(end).to_be_visible()
    expect(page.get_by_label("End date")).to_have_value("2012")
    page.once("dialog", answer(True))
    ongoing.select_option("Y")
    assert len(asked) == 2
    expect(end).to_be_hidden()
    expect(page.get_by_label("CTCAE grade at baseline (if ongoing)", exact=True)).to_be_visible()
    ongoing.select_option("N")
    expect(page.get_by_label("End date")).to_have_value("")  # erased, not just hidden
    ongoing.select_option("Y")  # nothing typed in the end date now: no question
    assert len(asked) == 2
    screenshot("branching-erase-asked")


def test_the_reason_for_an_other_axitinib_dose_shows_once_a_dose_is_typed(page):
    from tests.factories_treatment import consented_patient

    UserFactory(username="coord", role="coordinator")
    patient = consented_patient(registered_days_ago=20)
    login(page, "coord", PASSWORD)
    page.goto(f"/patients/{patient.pk}/forms/axitinib/new/")
    reason = page.locator("#div_id_other_dose_reason")
    expect(reason).to_be_hidden()
    page.get_by_label("Other dose (mg BID)").fill("4")
    page.get_by_label("Other dose (mg BID)").press("Tab")
    expect(reason).to_be_visible()
