"""Issue 16 (4): every CRF date is bounded (1900-01-01 .. today, EC-G1) on every path, and a row stored out of range
before the bound existed is flagged on every read instead of answering 500."""

from __future__ import annotations

import datetime
import zipfile

import pytest
from django.db import connection
from django.urls import reverse

from endpoints.models import Job
from enrollment.models import Baseline, Consent, Patient, ScreeningLog
from reports import jobs
from sabr_trial.checks import crf_date_ranges
from tests import factories_enrollment as fe
from tests.conftest import on_postgres
from tests.factories_api import Api, crf_path, token_for

pytestmark = pytest.mark.django_db

TODAY = fe.TODAY
DAY = datetime.timedelta(days=1)


def _counts() -> tuple[int, ...]:
    return (
        Patient.objects.count(),
        ScreeningLog.objects.count(),
        Consent.objects.count(),
        Consent.history.count(),
        Baseline.objects.count(),
    )


def consent_form(coordinator, when: str) -> dict[str, str]:
    return {
        "consent_type": "INITIAL",
        "icf_version": "2.0",
        "consent_datetime": when,
        "obtained_by": str(coordinator.pk),
        "withdrawn": "N",
        "withdrawal_date": "",
        "withdrawal_scope": "",
        "action": "submit",
    }


@pytest.mark.parametrize(
    ("when", "message"),
    [
        ("0001-01-01 00:00", "0001-01-01 is before 1900-01-01: check the year (EC-G1)."),
        ("1899-12-31 23:00", "1899-12-31 is before 1900-01-01: check the year (EC-G1)."),
        ((TODAY + 2 * DAY).isoformat() + " 09:00", "This date and time is in the future (EC-G1)."),
    ],
)
def test_browser_consent_refuses_a_date_out_of_range_next_to_the_field(
    as_coordinator, coordinator, when, message
):
    patient = fe.screen(coordinator)
    before = _counts()
    response = as_coordinator.post(
        reverse("crf_create", args=[patient.pk, "consent"]), consent_form(coordinator, when)
    )
    assert response.status_code == 200
    assert message in response.context["form"].errors["consent_datetime"]
    assert _counts() == before


def test_browser_screening_date_year_0001_is_refused(as_coordinator):
    before = _counts()
    response = as_coordinator.post(reverse("patient_new"), {"screening_date": "0001-01-01"})
    assert response.status_code == 200
    assert "0001-01-01 is before 1900-01-01: check the year (EC-G1)." in response.text
    assert _counts() == before


@pytest.fixture
def api(coordinator):
    return Api(token_for(coordinator))


def test_api_screening_date_year_0001_is_a_field_error(api):
    before = _counts()
    response = api.post("patients/", {"screening_date": "0001-01-01"})
    assert response.status_code == 422, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == ["screening_date"]
    assert _counts() == before


@pytest.mark.parametrize(
    "when", ["0001-01-01T00:00:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00"]
)
def test_api_consent_datetime_at_the_ends_of_the_calendar_is_a_422_not_a_500(api, coordinator, when):
    patient = fe.screen(coordinator)
    before = _counts()
    response = api.post(
        crf_path(patient, "consent"),
        {
            "consent_type": "INITIAL",
            "icf_version": "2.0",
            "obtained_by": coordinator.username,
            "consent_datetime": when,
        },
    )
    assert response.status_code == 422, response.content
    assert {e["field"] for e in response.json()["errors"]} == {"consent_datetime"}
    assert _counts() == before


@pytest.mark.parametrize("value", [10**30, -(10**30), 2**31, 1e308])
def test_api_numbers_out_of_range_are_field_errors(api, coordinator, investigator, value):
    patient = fe.registered(coordinator, investigator)
    before = (_counts(), Baseline.history.count())
    body = {**fe.post_data(fe.baseline_data()), "birth_year": value}
    body.pop("action", None)
    response = api.post(crf_path(patient, "baseline"), body)
    assert response.status_code in (400, 422), response.content
    assert "birth_year" in {e["field"] for e in response.json()["errors"]}
    assert (_counts(), Baseline.history.count()) == before


def test_service_path_of_the_importer_refuses_year_0001(coordinator):
    """The importer writes each row with ``crf_create`` (reports/importer.py): the model's validator refuses it."""
    from django.core.exceptions import ValidationError

    from sabr_trial.services import crf_create

    patient = fe.screen(coordinator)
    before = _counts()
    data = {
        "consent_type": "INITIAL",
        "icf_version": "2.0",
        "obtained_by": coordinator,
        "consent_datetime": datetime.datetime(1, 1, 1, tzinfo=datetime.UTC),
    }
    with pytest.raises(ValidationError) as refused:
        crf_create(model=Consent, patient=patient, data=data, acting_user=coordinator)
    assert refused.value.message_dict["consent_datetime"] == [
        "0001-01-01 is before 1900-01-01: check the year (EC-G1)."
    ]
    assert _counts() == before


def test_system_check_fails_for_a_crf_date_without_a_range_validator(monkeypatch):
    assert crf_date_ranges() == []
    field = Consent._meta.get_field("consent_datetime")
    field.__dict__.pop("validators", None)
    monkeypatch.setattr(field, "_validators", [])
    try:
        errors = crf_date_ranges()
    finally:
        field.__dict__.pop("validators", None)
    assert [(e.id, e.msg) for e in errors] == [
        ("sabr_trial.E002", "Consent.consent_datetime is a CRF date without a range validator.")
    ]


# --- a row already out of range -------------------------------------------------------------------------------


@pytest.fixture
def year_one_patient(coordinator, investigator):
    """A registered patient whose consent PostgreSQL holds as 0001-12-31 BC, written with raw SQL."""
    patient = fe.registered(coordinator, investigator)
    consent = Consent.objects.get(patient=patient)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE enrollment_consent SET consent_datetime = %s WHERE id = %s",
            ["0001-01-01 00:00:00+08:00", consent.pk],
        )
        cursor.execute(
            f"UPDATE {Consent.history.model._meta.db_table} SET consent_datetime = %s WHERE id = %s",
            ["0001-01-01 00:00:00+08:00", consent.pk],
        )
    return patient, consent


pg_only = pytest.mark.skipif(not on_postgres(), reason="years BC exist only in PostgreSQL")


@pg_only
def test_stored_year_0001_is_flagged_on_every_read(year_one_patient, as_coordinator, as_monitor, coordinator):
    patient, consent = year_one_patient
    with connection.cursor() as cursor:
        cursor.execute("SELECT consent_datetime::text FROM enrollment_consent WHERE id = %s", [consent.pk])
        assert cursor.fetchone()[0].endswith(" BC")
    for client, url in [
        (as_coordinator, reverse("casebook", args=[patient.pk])),
        (as_coordinator, reverse("crf_detail", args=[patient.pk, "consent", consent.pk])),
        (as_coordinator, reverse("crf_audit", args=[patient.pk, "consent", consent.pk])),
        (as_coordinator, reverse("patient_audit", args=[patient.pk])),
        (as_monitor, reverse("patient_sdv", args=[patient.pk])),
        (as_coordinator, reverse("crf_update", args=[patient.pk, "consent", consent.pk])),
    ]:
        response = client.get(url)
        assert response.status_code == 200, url
    detail = as_coordinator.get(reverse("crf_detail", args=[patient.pk, "consent", consent.pk]))
    assert "out of range (EC-G1), correct this date" in detail.text
    listed = Api(token_for(coordinator)).get(crf_path(patient, "consent"))
    assert listed.status_code == 200
    assert listed.json()["results"][0]["consent_datetime"].startswith("0001-01-01")


@pg_only
def test_later_save_of_that_patient_is_refused_by_field_not_500(year_one_patient, as_coordinator):
    """check_not_before_consent reads the clamped consent date and names it instead of raising."""
    patient, _consent = year_one_patient
    response = as_coordinator.post(
        reverse("crf_create", args=[patient.pk, "baseline"]),
        fe.post_data({**fe.baseline_data(), "action": "submit"}),
    )
    assert response.status_code == 200
    assert "The consent on record is dated 0001-01-01" in response.text
    assert Baseline.objects.filter(patient=patient).count() == 0


@pg_only
def test_whole_study_export_with_a_year_0001_row(
    year_one_patient,
    as_data_manager,
    monkeypatch,
    settings,
    tmp_path,
    django_capture_on_commit_callbacks,
    tasks_in_process,
):
    monkeypatch.setattr(jobs, "RUN_IN_THREAD", False)
    settings.MEDIA_ROOT = tmp_path / "media"
    with django_capture_on_commit_callbacks(execute=True):
        response = as_data_manager.post(
            reverse("reports:report_start"), {"kind": "export", "cutoff": TODAY.isoformat()}
        )
    assert response.status_code in (200, 302)
    job = Job.objects.get()
    assert job.state == "done", job.error
    consent_csv = zipfile.ZipFile(jobs.media_path(job.file_path)).read("crf/consent.csv").decode()
    assert "0001-01-01" in consent_csv


MH = {
    "mh_term": "Hypertension",
    "mh_category": "CARDIOVASCULAR",
    "ongoing": "N",
    "baseline_grade": None,
    "systemic_tx_needed": "N",
}


@pytest.mark.parametrize(
    ("start", "message"),
    [
        ("0001", "0001-01-01 is before 1900-01-01: check the year (EC-G1)."),
        ("1899-12", "1899-12-01 is before 1900-01-01: check the year (EC-G1)."),
        (str(TODAY.year + 1), f"{TODAY.year + 1} is in the future: today is {TODAY.isoformat()} (EC-G1)."),
    ],
)
def test_partial_history_dates_are_bounded_like_full_dates(coordinator, investigator, start, message):
    """A partial date (YYYY, YYYY-MM) is bounded by its earliest day: 1900 .. today (EC-G1), on the service path
    that the browser, the API and the importer share."""
    from django.core.exceptions import ValidationError

    from enrollment.models import MedicalHistory
    from sabr_trial.services import crf_create

    patient = fe.registered(coordinator, investigator)
    before = MedicalHistory.history.count()
    with pytest.raises(ValidationError) as refused:
        crf_create(
            model=MedicalHistory,
            patient=patient,
            acting_user=coordinator,
            data={**MH, "start_date": start, "end_date": ""},
        )
    assert refused.value.message_dict["start_date"] == [message]
    assert MedicalHistory.history.count() == before
    row = crf_create(
        model=MedicalHistory,
        patient=patient,
        acting_user=coordinator,
        data={**MH, "start_date": "1900", "end_date": str(TODAY.year)},
    )
    assert (row.start_date, row.end_date) == ("1900", str(TODAY.year))
