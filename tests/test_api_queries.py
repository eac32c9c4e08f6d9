"""Queries through the API: raise, read with the thread, answer, close, re-open, list filters; the same services,
permissions, audit rows and messages as the queries pages; 404 / 409 / 422 where the conventions say."""

from __future__ import annotations

import datetime
import re

import pytest
from django.urls import reverse

from enrollment.models import Baseline
from sabr_trial import queries
from sabr_trial.crf import CrfStatus
from sabr_trial.models import AuditEvent, Query, QueryMessage
from tests import factories_enrollment as fe
from tests.factories_api import Api, crf_path, fields_of, token_for

pytestmark = pytest.mark.django_db
PROBLEM = "application/problem+json"


@pytest.fixture
def patient(coordinator, investigator):
    return fe.registered(coordinator, investigator)


@pytest.fixture
def base(patient, coordinator):
    return fe.baseline(patient, coordinator)


@pytest.fixture
def dm(data_manager):
    return Api(token_for(data_manager))


@pytest.fixture
def crc(coordinator):
    return Api(token_for(coordinator))


def raise_on(api, target, form="baseline", **body):
    payload = {"form": form, "row": target.pk, "field_name": "kps", "text": "Source says KPS 80", **body}
    return api.post("queries/", payload)


def _strip_number(text: str) -> str:
    return re.sub(r"Q\d+", "Q#", text)


def test_data_manager_raises_a_query_on_a_field_with_the_browsers_audit_row(
    dm, as_data_manager, base, patient
):
    response = raise_on(dm, base, priority="high")
    assert response.status_code == 201, response.content
    body = response.json()
    query = Query.objects.get()
    assert response["Location"].endswith(f"/api/v1/queries/{query.pk}/")
    assert (
        body["form"],
        body["row"],
        body["field_name"],
        body["status"],
        body["priority"],
        body["raised_by"],
    ) == (
        "baseline",
        base.pk,
        "kps",
        "open",
        "high",
        "dm",
    )
    assert body["field_label"] == str(Baseline._meta.get_field("kps").verbose_name)
    assert [(m["kind"], m["author"], m["text"]) for m in body["messages"]] == [
        ("raise", "dm", "Source says KPS 80")
    ]
    api_event = AuditEvent.objects.get(action=AuditEvent.Action.QUERY_RAISE)
    # The same input through the page: the same service, the same audit row.
    page = as_data_manager.post(
        reverse("query_raise", args=[patient.pk, "baseline", base.pk]),
        {"field_name": "kps", "text": "Source says KPS 80", "priority": "high"},
    )
    assert page.status_code == 302
    page_event = (
        AuditEvent.objects.filter(action=AuditEvent.Action.QUERY_RAISE).exclude(pk=api_event.pk).get()
    )
    fields = ("object_id", "patient_id", "content_type_id", "user_id")
    assert [getattr(api_event, f) for f in fields] == [getattr(page_event, f) for f in fields]
    assert _strip_number(api_event.description) == _strip_number(page_event.description)


def test_monitor_raises_on_the_whole_form(monitor, base):
    response = raise_on(Api(token_for(monitor)), base, field_name="")
    assert response.status_code == 201 and response.json()["field_name"] == ""


@pytest.mark.parametrize("role", ["coordinator", "investigator"])
def test_site_staff_may_not_raise(request, role, base):
    response = raise_on(Api(token_for(request.getfixturevalue(role))), base)
    assert response.status_code == 403 and response["Content-Type"] == PROBLEM
    assert not Query.objects.exists() and not AuditEvent.objects.filter(action="query_raise").exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"field_name": "no_such_field"}, "field_name"),
        ({"text": ""}, "text"),
        ({"text": "x" * 2001}, "text"),
        ({"row": 999999}, "row"),
        ({"form": "no-such-form"}, "form"),
        ({"priority": "urgent"}, "priority"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_raise_names_the_field_and_writes_nothing(dm, base, changes, field):
    response = raise_on(dm, base, **changes)
    assert response.status_code == 422 and response["Content-Type"] == PROBLEM, response.content
    assert field in fields_of(response)
    assert not Query.objects.exists()


def test_raise_on_a_locked_casebook_is_409(dm, base, patient, data_manager):
    from sabr_trial import services

    services.patient_lock(patient=patient, acting_user=data_manager, reason="Interim analysis")
    response = raise_on(dm, base)
    assert response.status_code == 409 and response.json()["errors"][0]["code"] == "locked"
    assert not Query.objects.exists()


def test_coordinator_answers_by_explanation_with_the_audit_row(dm, crc, base):
    qid = raise_on(dm, base).json()["id"]
    response = crc.post(f"queries/{qid}/answer/", {"text": "KPS 90 is right: see the clinic note"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["answered_by"]) == ("answered", "coord")
    assert [m["kind"] for m in body["messages"]] == ["raise", "answer"]
    event = AuditEvent.objects.get(action=AuditEvent.Action.QUERY_ANSWER)
    assert (event.reason, event.object_id, event.user.username) == (
        "KPS 90 is right: see the clinic note",
        base.pk,
        "coord",
    )


def test_answer_after_a_correction_through_the_api_keeps_old_and_new(dm, crc, base, patient):
    qid = raise_on(dm, base).json()["id"]
    read = crc.get(crf_path(patient, "baseline", base.pk))
    kps = read.json()["kps"]
    new = 80 if kps != 80 else 70
    change_reason = {"change_reason": "Query answered"} if base.status != CrfStatus.DRAFT else {}
    patched = crc.patch(
        crf_path(patient, "baseline", base.pk), {"kps": new, **change_reason}, if_match=read["ETag"]
    )
    assert patched.status_code == 200, patched.content
    answer = crc.post(f"queries/{qid}/answer/", {"text": "Corrected from the clinic note"}).json()
    last = answer["messages"][-1]
    assert last["kind"] == "correction"
    assert [(c["field"], str(c["old"]), str(c["new"])) for c in last["changes"]] == [
        ("kps", str(kps), str(new))
    ]


def test_answer_without_text_names_the_field_like_the_page(dm, crc, base, as_coordinator):
    qid = raise_on(dm, base).json()["id"]
    response = crc.post(f"queries/{qid}/answer/", {"text": "   "})
    assert response.status_code == 422 and list(fields_of(response)) == ["text"]
    page = as_coordinator.post(reverse("query_action", args=[qid, "answer"]), {"text": "   "})
    assert page.status_code == 422
    for message in fields_of(response)["text"]:
        assert message in page.text.replace("&#x27;", "'")
    assert QueryMessage.objects.filter(query_id=qid).count() == 1


@pytest.mark.parametrize("role", ["data_manager", "monitor"])
def test_raisers_may_not_answer(request, role, dm, base):
    qid = raise_on(dm, base).json()["id"]
    response = Api(token_for(request.getfixturevalue(role))).post(f"queries/{qid}/answer/", {"text": "fine"})
    assert response.status_code == 403 and Query.objects.get().query_status == "open"


def test_close_then_close_again_is_409_and_writes_nothing(dm, crc, base):
    qid = raise_on(dm, base).json()["id"]
    crc.post(f"queries/{qid}/answer/", {"text": "Right as entered"})
    closed = dm.post(f"queries/{qid}/close/", {})
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    assert closed.json()["closed_by"] == "dm" and closed.json()["messages"][-1]["kind"] == "close"
    events = AuditEvent.objects.count()
    again = dm.post(f"queries/{qid}/close/", {"text": "again"})
    assert again.status_code == 409 and again["Content-Type"] == PROBLEM
    assert again.json()["errors"][0]["message"] == "This query is already closed."
    assert AuditEvent.objects.count() == events and QueryMessage.objects.filter(query_id=qid).count() == 3


def test_coordinator_may_not_close(dm, crc, base):
    qid = raise_on(dm, base).json()["id"]
    assert crc.post(f"queries/{qid}/close/", {}).status_code == 403
    assert Query.objects.get().query_status == "open"


def test_answering_a_closed_or_answered_query_is_409(dm, crc, base):
    qid = raise_on(dm, base).json()["id"]
    assert crc.post(f"queries/{qid}/answer/", {"text": "Right"}).status_code == 200
    twice = crc.post(f"queries/{qid}/answer/", {"text": "Right again"})
    assert twice.status_code == 409 and "already answered" in twice.json()["detail"]
    dm.post(f"queries/{qid}/close/", {"text": "Accepted"})
    closed = crc.post(f"queries/{qid}/answer/", {"text": "More"})
    assert closed.status_code == 409 and "closed" in closed.json()["detail"]


def test_reopen_needs_a_reason_and_an_open_query_is_409(dm, base):
    qid = raise_on(dm, base).json()["id"]
    assert dm.post(f"queries/{qid}/reopen/", {"text": "again"}).status_code == 409
    dm.post(f"queries/{qid}/close/", {})
    no_reason = dm.post(f"queries/{qid}/reopen/", {})
    assert no_reason.status_code == 422 and "text" in fields_of(no_reason)
    reopened = dm.post(f"queries/{qid}/reopen/", {"text": "The source was misread"})
    assert reopened.status_code == 200 and reopened.json()["status"] == "open"
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.QUERY_REOPEN, reason="The source was misread"
    ).exists()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "queries/999999/"),
        ("post", "queries/999999/close/"),
        ("post", "queries/999999/reopen/"),
    ],
)
def test_unknown_query_is_404_problem(dm, method, path):
    response = dm.call(method, path, {"text": "x"} if method == "post" else None)
    assert response.status_code == 404 and response["Content-Type"] == PROBLEM


def test_unknown_query_answer_is_404_for_site_staff(crc):
    assert crc.post("queries/999999/answer/", {"text": "x"}).status_code == 404


def test_list_filters_and_pagination(dm, monitor, crc, base, patient, coordinator, investigator):
    other = fe.registered(coordinator, investigator)
    other_base = fe.baseline(other, coordinator)
    mon = Api(token_for(monitor))
    q1 = raise_on(dm, base).json()["id"]
    q2 = raise_on(mon, base, field_name="").json()["id"]
    q3 = raise_on(dm, other_base).json()["id"]
    crc.post(f"queries/{q1}/answer/", {"text": "Right"})
    dm.post(f"queries/{q2}/close/", {})
    system = queries.sync_system_queries(other, [], set())  # nothing to find: no system query appears
    assert system == 0

    def ids(query: str) -> list[int]:
        response = crc.get(f"queries/?{query}")
        assert response.status_code == 200, response.content
        return [r["id"] for r in response.json()["results"]]

    assert ids("") == [q3, q2, q1]
    assert ids(f"patient={patient.pk}") == [q2, q1]
    assert (
        ids("status=answered") == [q1] and ids("status=closed") == [q2] and ids("status=active") == [q3, q1]
    )
    assert ids("raised_by=mon") == [q2] and ids("raised_by=dm") == [q3, q1]
    assert ids(f"form=baseline&row={base.pk}") == [q2, q1] and ids("form=consent") == []
    assert (
        ids("field_name=kps") == [q3, q1]
        and ids("origin=system") == []
        and ids("origin=manual") == [q3, q2, q1]
    )
    page = crc.get("queries/?page_size=2").json()
    assert page["count"] == 3 and len(page["results"]) == 2 and page["next"]
    assert "messages" not in page["results"][0] and page["results"][0]["patient_label"] == other.study_number


def test_system_queries_are_listed_as_system(crc, patient, base):
    from sabr_trial.editchecks import Finding

    finding = Finding(rule_id="EC-TEST", row=base, field="kps", message="KPS out of range (EC-TEST)")
    queries.sync_system_queries(patient, [finding], {"EC-TEST"})
    rows = crc.get("queries/?origin=system").json()["results"]
    assert [(r["rule_id"], r["system"], r["raised_by"]) for r in rows] == [("EC-TEST", True, None)]


@pytest.mark.parametrize(
    "query", ["status=pending", "patient=abc", "patient=²", "form=nope", "row=1", "age=old"]
)
def test_bad_list_filter_is_422_naming_it(crc, query):
    response = crc.get(f"queries/?{query}")
    assert response.status_code == 422 and response["Content-Type"] == PROBLEM
    name = query.split("=")[0]
    assert name in fields_of(response)


def test_query_read_has_the_thread_in_order(dm, crc, base):
    qid = raise_on(dm, base).json()["id"]
    crc.post(f"queries/{qid}/answer/", {"text": "Right"})
    dm.post(f"queries/{qid}/reopen/", {"text": "Please check page 2"})
    body = crc.get(f"queries/{qid}/").json()
    assert [m["kind"] for m in body["messages"]] == ["raise", "answer", "reopen"]
    assert body["age_days"] == 0 and body["crf_version"] == Baseline.objects.get().version
    assert isinstance(datetime.datetime.fromisoformat(body["raised_at"]), datetime.datetime)
