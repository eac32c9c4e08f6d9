"""Issue 16 (5): hostile input gets a clear 4xx (problem+json on the API) and changes nothing; browser forms turn
every domain error into a field error."""

from __future__ import annotations

import html

import pytest
from django.urls import reverse

from tests.factories_treatment import consented_patient, days_ago
from treatment.models import AxitinibPeriod

pytestmark = pytest.mark.django_db


def axi_data(**changes):
    data = {
        "start_date": days_ago(55).isoformat(),
        "end_date": "",
        "dose_level": "5 MG BID",
        "other_dose_mg": "",
        "other_dose_reason": "",
        "dose_change_reason": "START",
        "missed_doses": "0",
        "bp_ok_no_antihtn": "",
        "adverse_event": "",
        "action": "submit",
    }
    data.update(changes)
    return data


@pytest.mark.parametrize("dose", ["-1", "0", "-0.5"])
def test_axitinib_non_positive_other_dose_is_a_field_error_not_a_dosing_error(as_coordinator, dose):
    patient = consented_patient(registered_days_ago=60)
    response = as_coordinator.post(
        reverse("crf_create", args=[patient.pk, "axitinib"]),
        axi_data(other_dose_mg=dose, other_dose_reason="OTHER"),
    )
    assert response.status_code == 200
    assert response.context["form"].errors["other_dose_mg"]
    assert not AxitinibPeriod.objects.exists() and not AxitinibPeriod.history.exists()


# --- hostile payloads on the API and the pages --------------------------------------------------------------------


def _counts():
    from enrollment.models import Consent, Patient, ScreeningLog

    return (
        Patient.objects.count(),
        ScreeningLog.objects.count(),
        ScreeningLog.history.count(),
        Consent.objects.count(),
        Consent.history.count(),
    )


@pytest.fixture
def api(coordinator):
    from tests.factories_api import Api, token_for

    return Api(token_for(coordinator))


def _assert_problem(response, status, code, field=None):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.content.decode("utf-8")  # strict: a raw surrogate would not decode
    assert "\\ud800" not in body.lower() and "\x00" not in body and "\\u0000" not in body
    errors = response.json()["errors"]
    assert [(e["field"], e["code"]) for e in errors] == [(field, code)]


TODAY_ISO = days_ago(1).isoformat()


@pytest.mark.parametrize(
    ("raw", "code", "field"),
    [
        ('{"screening_date": "\\ud800"}', "surrogate", "screening_date"),
        ('{"\\udfff": "x"}', "surrogate", None),
        ('{"screening_date": "2024-01-01\\u0000"}', "nul_character", "screening_date"),
        (
            f'{{"screening_date": "{TODAY_ISO}", "screening_date": "{TODAY_ISO}"}}',
            "duplicate_key",
            "screening_date",
        ),
        ("[" * 100_000 + "]" * 100_000, "depth", None),
        ('{"a":' * 40 + "1" + "}" * 40, "depth", "a." * 32 + "a"),
        ('{"screening_date": NaN}', "not_finite", None),
        ('{"screening_date": Infinity}', "not_finite", None),
        ('{"screening_date": 1e400}', "out_of_range", "screening_date"),
        ('{"screening_date": ' + "9" * 5000 + "}", "parse_error", None),
        ('{"screening_date": "x"', "parse_error", None),
    ],
    ids=[
        "surrogate",
        "surrogate-key",
        "nul",
        "duplicate",
        "deep-100000",
        "deep-40",
        "nan",
        "inf",
        "1e400",
        "5000-digits",
        "truncated",
    ],
)
def test_hostile_json_is_a_400_problem_and_changes_nothing(api, raw, code, field):
    before = _counts()
    _assert_problem(api.post("patients/", raw=raw), 400, code, field)
    assert _counts() == before


def test_invalid_utf8_body_is_a_400(api):
    before = _counts()
    response = api.client.post(
        "/api/v1/patients/",
        data=b'{"screening_date": "\xed\xa0\x80"}',
        content_type="application/json",
        headers=api.headers,
    )
    _assert_problem(response, 400, "encoding")
    assert _counts() == before


def test_nul_in_a_consent_field_through_the_api(api, coordinator):
    from tests import factories_enrollment as fe
    from tests.factories_api import crf_path

    patient = fe.screen(coordinator)
    before = _counts()
    for name, value in [("obtained_by", "\x00"), ("icf_version", "2.0\x00")]:
        body = {
            "consent_type": "INITIAL",
            "icf_version": "2.0",
            "obtained_by": coordinator.username,
            "consent_datetime": f"{TODAY_ISO}T09:00:00",
            name: value,
        }
        _assert_problem(api.post(crf_path(patient, "consent"), body), 400, "nul_character", name)
    assert _counts() == before


def test_body_over_the_size_limit_is_a_413_problem_on_the_api(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    before = _counts()
    raw = '{"screening_date": "' + "x" * 2000 + '"}'
    _assert_problem(api.post("patients/", raw=raw), 413, "too_large")
    assert _counts() == before


@pytest.mark.parametrize("path", ["/api/v1/patients/?q=%00", "/api/v1/patients/?registered=%00x"])
def test_nul_in_the_api_query_string_is_a_400_problem(api, path):
    _assert_problem(api.get(path), 400, "nul_character", path.split("?")[1].split("=")[0])


def test_nul_in_the_patient_search_is_a_400_page(as_coordinator):
    response = as_coordinator.get("/patients/?q=%00")
    assert response.status_code == 400
    assert "'q' contains a NUL character (%00), which cannot be stored." in html.unescape(response.text)


def test_nul_in_a_browser_form_field_changes_nothing(as_coordinator, coordinator):
    from tests import factories_enrollment as fe

    patient = fe.screen(coordinator)
    before = _counts()
    data = {
        "consent_type": "INITIAL",
        "icf_version": "2.0\x00",
        "consent_datetime": f"{TODAY_ISO} 09:00",
        "obtained_by": "\x00",
        "withdrawn": "N",
        "action": "submit",
    }
    response = as_coordinator.post(reverse("crf_create", args=[patient.pk, "consent"]), data)
    assert response.status_code == 400
    assert "contains a NUL character" in response.text
    assert _counts() == before
