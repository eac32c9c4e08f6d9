"""Automatic edit checks: D6 window maths, system queries never duplicated, closed when fixed, run after commit."""

from __future__ import annotations

import datetime

import pytest

from assessments.models import TumourAssessment
from sabr_trial import editchecks, services
from sabr_trial.crf import CrfStatus
from sabr_trial.models import Query
from sabr_trial.templatetags.ruletext import text
from tests.factories import PatientFactory
from tests.factories_treatment import AxitinibPeriodFactory, consented_patient
from visits import editchecks as visits_editchecks

D0 = datetime.date(2026, 1, 5)


@pytest.fixture(autouse=True)
def _tasks_in_process(tasks_in_process):
    """CI sets a broker; these tests build in-process (see tests/conftest.py)."""


@pytest.mark.parametrize(
    ("day", "nominal", "deviation"),
    [
        (56, 56, 0),
        (63, 56, 7),
        (64, 56, 8),
        (49, 56, -7),
        (20, 56, -36),
        (112, 112, 0),
        (728, 728, 0),
        (812, 812, 0),
        (770, 728, 42),
        (900, 896, 4),
    ],
)
def test_d6_imaging_window(day, nominal, deviation):
    result = visits_editchecks.imaging_window(D0, D0 + datetime.timedelta(days=day))
    assert result == (D0 + datetime.timedelta(days=nominal), deviation)


def test_baseline_scan_has_no_window():
    assert visits_editchecks.imaging_window(D0, D0 - datetime.timedelta(days=3)) is None


def test_every_rule_has_an_id_and_a_description():
    assert {"DM-1", "DM-2", "DM-3", "EC-TA-5", "SOFT-TX", "SOFT-AE"} <= set(editchecks.RULES)
    assert all(str(r.description) for r in editchecks.RULES.values())


def _legacy(row):
    """Store a row as data entered before the hard check existed: saved as it is, bypassing today's rules (the
    pipeline would refuse it), with its history row; the nightly edit checks must still find it."""
    row.save()
    return row


@pytest.fixture
def early_period(db):
    """A submitted axitinib period that starts before registration (entered before the hard check existed)."""
    patient = consented_patient(registered_days_ago=30)
    return _legacy(
        AxitinibPeriodFactory.build(
            patient=patient,
            start_date=patient.registration_date - datetime.timedelta(days=2),
            status=CrfStatus.SUBMITTED,
        )
    )


def test_axitinib_before_registration_raises_one_system_query_never_duplicated(early_period):
    editchecks.run_for_patient(early_period.patient)
    editchecks.run_for_patient(early_period.patient)
    query = Query.objects.get()
    assert (query.rule_id, query.field_name, query.raised_by, query.query_status) == (
        "DM-1",
        "start_date",
        None,
        "open",
    )
    assert "before registration" in query.text


def test_axitinib_for_unregistered_patient(db):
    period = _legacy(
        AxitinibPeriodFactory.build(
            patient=PatientFactory(), start_date=datetime.date(2026, 1, 5), status=CrfStatus.SUBMITTED
        )
    )
    editchecks.run_for_patient(period.patient)
    assert "not registered" in Query.objects.get(rule_id="DM-1").text


def test_draft_rows_raise_nothing(early_period):
    type(early_period).objects.filter(pk=early_period.pk).update(status=CrfStatus.DRAFT)
    editchecks.run_for_patient(early_period.patient)
    assert Query.objects.count() == 0


def test_fixing_the_data_through_the_service_closes_the_query_after_commit(
    early_period, coordinator, django_capture_on_commit_callbacks
):
    editchecks.run_for_patient(early_period.patient)
    with django_capture_on_commit_callbacks(execute=True):
        services.crf_update(
            instance=early_period,
            expected_version=early_period.version,
            acting_user=coordinator,
            data={"start_date": early_period.patient.registration_date},
            reason="Started on registration day",
        )
    query = Query.objects.get()
    assert query.query_status == "closed" and query.auto_closed and query.closed_by is None


def test_a_finding_that_returns_reopens_the_system_closed_query(early_period):
    editchecks.run_for_patient(early_period.patient)
    start = early_period.start_date
    type(early_period).objects.filter(pk=early_period.pk).update(
        start_date=early_period.patient.registration_date
    )
    editchecks.run_for_patient(early_period.patient)
    type(early_period).objects.filter(pk=early_period.pk).update(start_date=start)
    editchecks.run_for_patient(early_period.patient)
    assert Query.objects.count() == 1 and Query.objects.get().query_status == "open"


def test_a_query_a_person_closed_stays_closed(early_period, data_manager):
    from sabr_trial.queries import close_query

    editchecks.run_for_patient(early_period.patient)
    close_query(
        query=Query.objects.get(), acting_user=data_manager, text="Accepted: protocol deviation filed"
    )
    editchecks.run_for_patient(early_period.patient)
    assert Query.objects.get().query_status == "closed"


def test_investigator_response_differing_from_computed_raises_ec_ta_5(db):
    patient = consented_patient(registered_days_ago=90)
    TumourAssessment.objects.create(
        patient=patient,
        imaging_done="Y",
        scan_date_first=patient.registration_date + datetime.timedelta(days=5),
        investigator_response="PR",
        overall_resp="SD",
        deciding_rule="sum -12% from baseline",
        status=CrfStatus.SUBMITTED,
    )
    editchecks.run_for_patient(patient)
    query = Query.objects.get(rule_id="EC-TA-5")
    assert query.field_name == "investigator_response" and "sum -12% from baseline" in query.text


def test_assessment_outside_the_d6_window_raises_dm_2(db):
    period = AxitinibPeriodFactory(status=CrfStatus.SUBMITTED)
    start = period.start_date
    TumourAssessment.objects.create(
        patient=period.patient,
        imaging_done="Y",
        scan_date_first=start + datetime.timedelta(days=70),
        status=CrfStatus.SUBMITTED,
    )
    TumourAssessment.objects.create(
        patient=period.patient,
        imaging_done="Y",
        scan_date_first=start - datetime.timedelta(days=3),
        status=CrfStatus.SUBMITTED,
    )
    editchecks.run_for_patient(period.patient)
    query = Query.objects.get(rule_id="DM-2")
    assert "14 days after" in text(query.text) and query.field_name == "scan_date_first"


def test_nightly_task_runs_every_patient(early_period):
    from sabr_trial.tasks import nightly_edit_checks

    assert nightly_edit_checks() >= 1 and Query.objects.filter(rule_id="DM-1").count() == 1


def test_nightly_schedule_is_registered(settings):
    assert settings.CELERY_BEAT_SCHEDULE["nightly-edit-checks"]["task"] == "sabr_trial.nightly_edit_checks"
