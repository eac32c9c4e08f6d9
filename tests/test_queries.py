"""Queries through HTTP: raise on a field, answer by correcting or explaining, close, re-open, refusals, page."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from enrollment.models import ScreeningLog
from sabr_trial.crf import CrfStatus
from sabr_trial.models import AuditEvent, Query, QueryMessage
from tests.factories import RegisteredPatientFactory, ScreeningLogFactory

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()


@pytest.fixture
def log():
    return ScreeningLogFactory(
        patient=RegisteredPatientFactory(),
        screening_date=TODAY - datetime.timedelta(days=20),
        status=CrfStatus.SUBMITTED,
    )


def detail(log):
    return reverse("crf_detail", args=[log.patient_id, "screening", log.pk])


def raise_url(log):
    return reverse("query_raise", args=[log.patient_id, "screening", log.pk])


def raise_query(client, log, **data):
    payload = {"field_name": "screening_date", "text": "Source says 3 days earlier", "priority": "high"}
    payload.update(data)
    return client.post(raise_url(log), payload)


def edit_payload(log, **changes):
    data = {
        "screening_date": log.screening_date.isoformat(),
        "outcome": log.outcome,
        "outcome_date": "",
        "failure_reason": log.failure_reason,
        "failure_text": log.failure_text,
        "expected_version": log.version,
    }
    data.update(changes)
    return data


@pytest.mark.parametrize("role", ["monitor", "data_manager"])
def test_monitor_or_data_manager_raises_a_query_on_a_field(request, log, role):
    response = raise_query(request.getfixturevalue(f"as_{role}"), log)
    query = Query.objects.get()
    assert response.status_code == 302
    assert (query.field_name, query.priority, query.query_status, query.crf_version) == (
        "screening_date",
        "high",
        "open",
        log.version,
    )
    assert query.messages.get().kind == QueryMessage.Kind.RAISE
    assert AuditEvent.objects.filter(action=AuditEvent.Action.QUERY_RAISE, object_id=log.pk).count() == 1


@pytest.mark.parametrize("role", ["coordinator", "investigator"])
def test_site_staff_raising_a_query_get_403_and_nothing_is_saved(request, log, role):
    response = raise_query(request.getfixturevalue(f"as_{role}"), log)
    assert response.status_code == 403 and Query.objects.count() == 0


@pytest.mark.parametrize(
    ("data", "message"),
    [({"text": ""}, "This field is required"), ({"field_name": "nope"}, "Select a valid choice")],
)
def test_bad_query_input_is_refused_next_to_the_field(as_monitor, log, data, message):
    response = raise_query(as_monitor, log, **data)
    assert response.status_code == 422 and message in response.text and Query.objects.count() == 0


def test_open_query_shows_beside_its_field_and_on_the_casebook(as_monitor, as_coordinator, log):
    raise_query(as_monitor, log)
    page = as_coordinator.get(detail(log)).text
    casebook = as_coordinator.get(reverse("casebook", args=[log.patient_id])).text
    assert 'data-field="screening_date"' in page and "Source says 3 days earlier" in page
    assert "Correct the value" in page
    assert 'data-testid="casebook-queries"' in casebook and "1 Q" in casebook


def test_coordinator_corrects_the_value_from_the_form_and_the_query_is_answered(
    as_monitor, as_coordinator, log
):
    raise_query(as_monitor, log)
    query = Query.objects.get()
    new_date = TODAY - datetime.timedelta(days=23)
    url = reverse("crf_update", args=[log.patient_id, "screening", log.pk]) + f"?query={query.pk}"
    assert "Correcting for query" in as_coordinator.get(url).text
    response = as_coordinator.post(
        url, edit_payload(log, screening_date=new_date.isoformat(), change_reason="Clinic note says the 3rd")
    )
    query.refresh_from_db()
    message = query.messages.order_by("-id").first()
    assert response.status_code == 302 and ScreeningLog.objects.get().screening_date == new_date
    assert query.query_status == "answered" and message.kind == QueryMessage.Kind.CORRECTION
    assert message.text == "Clinic note says the 3rd" and message.changes[0]["field"] == "screening_date"


def test_coordinator_explains_and_monitor_closes_then_reopens(as_monitor, as_coordinator, log):
    raise_query(as_monitor, log)
    query = Query.objects.get()
    as_coordinator.post(reverse("query_action", args=[query.pk, "answer"]), {"text": "Value matches source"})
    query.refresh_from_db()
    assert (query.query_status, query.messages.last().kind) == ("answered", "answer")
    as_monitor.post(reverse("query_action", args=[query.pk, "close"]), {"text": "OK"})
    query.refresh_from_db()
    assert query.query_status == "closed" and query.closed_by.username == "mon"
    refused = as_monitor.post(reverse("query_action", args=[query.pk, "reopen"]), {"text": ""})
    as_monitor.post(reverse("query_action", args=[query.pk, "reopen"]), {"text": "Second page differs"})
    query.refresh_from_db()
    assert refused.status_code == 422 and query.query_status == "open"


def test_answering_a_closed_query_is_refused_with_a_message(as_monitor, as_coordinator, log):
    raise_query(as_monitor, log)
    query = Query.objects.get()
    as_monitor.post(reverse("query_action", args=[query.pk, "close"]), {"text": ""})
    response = as_coordinator.post(
        reverse("query_action", args=[query.pk, "answer"]), {"text": "late answer"}
    )
    query.refresh_from_db()
    assert response.status_code == 422 and "This query is closed" in response.text
    assert query.query_status == "closed" and query.messages.count() == 2


@pytest.mark.parametrize(
    ("role", "action"),
    [("coordinator", "close"), ("monitor", "answer"), ("data_manager", "answer"), ("investigator", "reopen")],
)
def test_each_query_action_needs_its_role(request, as_monitor, log, role, action):
    raise_query(as_monitor, log)
    query = Query.objects.get()
    response = request.getfixturevalue(f"as_{role}").post(
        reverse("query_action", args=[query.pk, action]), {"text": "x"}
    )
    query.refresh_from_db()
    assert response.status_code == 403 and query.query_status == "open"


def test_queries_page_filters_and_ageing(as_monitor, as_data_manager, log):
    other = ScreeningLogFactory(patient=RegisteredPatientFactory(), status=CrfStatus.SUBMITTED)
    with time_machine.travel(timezone.now() - datetime.timedelta(days=40)):
        raise_query(as_monitor, log, priority="low", text="old one")
    raise_query(
        as_data_manager, other, text="new one"
    )  # the monitor's session expired during the time travel
    page = as_data_manager.get(reverse("query_list"))
    old = as_data_manager.get(reverse("query_list"), {"age": "gt30"}).text
    by_patient = as_data_manager.get(reverse("query_list"), {"patient": other.patient.study_number}).text
    high = as_data_manager.get(reverse("query_list"), {"priority": "high"}).text
    assert "old one" in page.text and "new one" in page.text and ">40<" in page.text
    assert "old one" in old and "new one" not in old
    assert "new one" in by_patient and "old one" not in by_patient
    assert "new one" in high and "old one" not in high


def test_navigation_badge_counts_what_waits_for_the_role(as_monitor, as_coordinator, log):
    raise_query(as_monitor, log)
    raise_query(as_monitor, log, field_name="outcome", text="check outcome")
    query = Query.objects.first()
    as_coordinator.post(reverse("query_action", args=[query.pk, "answer"]), {"text": "fine"})
    coordinator_nav = as_coordinator.get(reverse("patient_list")).text
    monitor_nav = as_monitor.get(reverse("patient_list")).text
    assert 'Queries <span class="badge text-bg-warning">1</span>' in coordinator_nav
    assert 'Queries <span class="badge text-bg-warning">2</span>' in monitor_nav
