"""Every date-time the site shows is in the site's time zone, to the second, with its offset (issue 19).

A consent taken at 09:30 in Shanghai must read 09:30:00+08:00 on its page, in the casebook PDF and in the API,
never 01:30:00+00:00, and no page or PDF prints microseconds. The test enters real rows through the services
and the forms, then renders every CRF detail page of the patient and both PDFs.
"""

from __future__ import annotations

import datetime
import re
import subprocess

import pytest
from django.urls import reverse
from django.utils import timezone

from adverse_events.models import AdverseEvent
from endpoints.services import run_recompute
from enrollment.models import Consent, Eligibility
from reports.casebook_pdf import build_casebook
from reports.report import html_to_pdf, render_html
from sabr_trial import services
from sabr_trial.crf import registry
from sabr_trial.sitetime import stamp
from tests.factories import PASSWORD
from tests.factories_adverse_events import ae_payload, ensure_ctcae_terms
from tests.factories_api import Api, crf_path
from tests.factories_assessments import create_url
from tests.factories_enrollment import registered

pytestmark = pytest.mark.django_db

UTC_OFFSET = "+00:00"
MICROSECONDS = re.compile(r"\d\d:\d\d:\d\d\.\d{3,6}")


def pdf_text(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "out.pdf"
    path.write_bytes(pdf)
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


@pytest.fixture
def patient(coordinator, investigator, monitor, as_coordinator, as_investigator, data_manager, settings):
    assert settings.TIME_ZONE == "Asia/Shanghai"
    ensure_ctcae_terms()
    patient = registered(coordinator, investigator)
    consent = Consent.objects.get(patient=patient)
    nine_thirty = timezone.make_aware(
        datetime.datetime.combine(timezone.localdate() - datetime.timedelta(days=9), datetime.time(9, 30))
    )
    consent, _changes = services.crf_update(
        instance=consent,
        expected_version=consent.version,
        data={"consent_datetime": nine_thirty},
        reason="time from the source",
        acting_user=coordinator,
    )
    consent = services.crf_verify(instance=consent, acting_user=monitor)
    signed = as_investigator.post(
        reverse("crf_transition", args=[patient.pk, "consent", consent.pk, "sign"]),
        {"password": PASSWORD, "expected_version": consent.version},
    )
    assert signed.status_code == 302
    awareness = timezone.localtime().replace(hour=8, minute=5, second=0) - datetime.timedelta(days=1)
    response = as_coordinator.post(
        create_url(patient, "adverse-event"),
        ae_payload(serious="Y", aeshosp="Y", awareness_at=awareness.strftime("%Y-%m-%dT%H:%M")),
    )
    assert response.status_code == 302, response.text[:2000]
    services.patient_lock(patient=patient, acting_user=data_manager, reason="complete")
    return patient


def test_stamp_is_site_time_to_the_second_with_offset():
    moment = datetime.datetime(2026, 12, 6, 1, 30, 0, 603085, tzinfo=datetime.UTC)
    assert stamp(moment) == "2026-12-06 09:30:00+08:00"


def test_every_crf_page_shows_site_time_without_microseconds(patient, as_data_manager):
    shown = 0
    for spec in registry.all():
        for row in spec.model.objects.filter(patient=patient):
            page = as_data_manager.get(reverse("crf_detail", args=[patient.pk, spec.slug, row.pk])).text
            assert UTC_OFFSET not in page, spec.slug
            assert not MICROSECONDS.search(page), (spec.slug, MICROSECONDS.search(page))
            shown += 1
    assert shown >= 4  # screening, consent, eligibility, adverse event
    consent = Consent.objects.get(patient=patient)
    page = as_data_manager.get(consent.get_absolute_url()).text
    assert "09:30:00+08:00" in page
    ae_page = as_data_manager.get(
        reverse(
            "crf_detail", args=[patient.pk, "adverse-event", AdverseEvent.objects.get(patient=patient).pk]
        )
    ).text
    sae_list = as_data_manager.get(reverse("adverse_events:sae_list")).text
    awareness = "08:05:00+08:00"
    assert awareness in ae_page and awareness in sae_list


def test_casebook_pdf_prints_site_time(patient, data_manager, tmp_path):
    text = pdf_text(build_casebook(patient, user=data_manager), tmp_path)
    assert UTC_OFFSET not in text and not MICROSECONDS.search(text)
    assert "09:30:00+08:00" in text
    elig = Eligibility.objects.get(patient=patient)
    assert stamp(elig.confirmed_at) in text


def test_study_report_pdf_prints_site_time(patient, data_manager, tmp_path):
    snap = run_recompute(trigger="test", cutoff=timezone.localdate())
    text = pdf_text(html_to_pdf(render_html(snap, user=data_manager)), tmp_path)
    assert UTC_OFFSET not in text and not MICROSECONDS.search(text)
    assert stamp(snap.created_at) in text


def test_api_times_carry_the_site_offset(patient, data_manager):
    api = Api(client=None)
    api.client.force_login(data_manager)
    consent = Consent.objects.get(patient=patient)
    body = api.get(crf_path(patient, "consent", consent.pk)).json()
    assert body["consent_datetime"].endswith("+08:00") and "T09:30:00" in body["consent_datetime"]
