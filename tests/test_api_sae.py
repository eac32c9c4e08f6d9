"""SAEs through the API: the study SAE list with its clock, SAE reports of an AE recorded through the AE page's form
and service (EC-AE-3, R7.4), the same refusals as the page, roles, locks."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from adverse_events.models import AdverseEvent, SaeReport
from tests import factories_enrollment as fe
from tests.factories_adverse_events import AdverseEventFactory
from tests.factories_api import Api, fields_of, token_for

pytestmark = pytest.mark.django_db
PROBLEM = "application/problem+json"
HOUR = datetime.timedelta(hours=1)


@pytest.fixture
def patient(coordinator, investigator):
    return fe.registered(coordinator, investigator)


@pytest.fixture
def sae(patient):
    return AdverseEventFactory(
        patient=patient, serious="Y", aeshosp="Y", awareness_at=timezone.now() - 3 * HOUR, grade=3
    )


@pytest.fixture
def inv(investigator):
    return Api(token_for(investigator))


def reports_path(ae, report=None):
    path = f"patients/{ae.patient_id}/crfs/adverse-event/{ae.pk}/sae-reports/"
    return f"{path}{report}/" if report else path


def test_initial_report_sets_reported_at_with_history_and_is_listed(inv, sae):
    before = sae.history.count()
    sent = timezone.localtime() - HOUR
    response = inv.post(
        reports_path(sae), {"kind": "INITIAL", "sent_at": sent.isoformat(), "summary": "Initial"}
    )
    assert response.status_code == 201, response.content
    body = response.json()
    report = SaeReport.objects.get()
    assert response["Location"].endswith(reports_path(sae, report.pk))
    assert (body["kind"], body["created_by"], body["adverse_event"]) == ("INITIAL", "inv", sae.pk)
    sae.refresh_from_db()
    assert abs(sae.reported_at - sent) < datetime.timedelta(seconds=1)
    assert sae.history.count() == before + 1 and sae.history.first().history_change_reason
    follow = inv.post(
        reports_path(sae),
        {"kind": "FOLLOW-UP", "sent_at": timezone.now().isoformat(), "summary": "Discharged"},
    )
    assert follow.status_code == 201
    listing = inv.get(reports_path(sae)).json()["results"]
    assert [r["kind"] for r in listing] == ["INITIAL", "FOLLOW-UP"]
    assert inv.get(reports_path(sae, report.pk)).json()["summary"] == "Initial"
    saes = inv.get("saes/").json()["results"]
    assert [(r["adverse_event"], r["is_open"], len(r["reports"])) for r in saes] == [(sae.pk, False, 2)]
    assert saes[0]["site"]["state"] == "MET" and saes[0]["term"] == sae.ctcae_term.term


def test_open_sae_shows_its_24h_clock(inv, sae):
    row = inv.get("saes/").json()["results"][0]
    due = datetime.datetime.fromisoformat(row["site"]["due_at"])
    assert row["is_open"] is True and row["overdue"] is False and row["site"]["state"] == "OPEN"
    assert abs(due - (sae.awareness_at + 24 * HOUR)) < datetime.timedelta(seconds=1)


def test_report_before_awareness_is_refused_like_the_page(inv, sae, as_investigator):
    early = timezone.localtime() - 5 * HOUR
    response = inv.post(reports_path(sae), {"kind": "INITIAL", "sent_at": early.isoformat(), "summary": "x"})
    assert response.status_code == 422 and response["Content-Type"] == PROBLEM
    message = fields_of(response)["sent_at"][0]
    page = as_investigator.post(
        reverse("adverse_events:sae_report", args=[sae.patient_id, sae.pk]),
        {"kind": "INITIAL", "sent_at": early.strftime("%Y-%m-%dT%H:%M"), "summary": "x"},
    )
    assert page.status_code == 422 and message in page.text and "EC-AE-3" in message
    assert not SaeReport.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "INITIAL", "sent_at": "2999-01-01T10:00:00Z", "summary": "x"}, "sent_at"),
        ({"kind": "INITIAL", "sent_at": "yesterday", "summary": "x"}, "sent_at"),
        ({"kind": "INITIAL", "summary": "x"}, "sent_at"),
        ({"kind": "FINAL", "sent_at": "2020-01-01T10:00:00Z", "summary": "x"}, "kind"),
        ({"kind": "INITIAL", "sent_at": "2020-01-01T10:00:00Z", "summary": ""}, "summary"),
        ({"kind": "INITIAL", "sent_at": "2020-01-01T10:00:00Z", "summary": "x", "grade": 5}, "grade"),
    ],
)
def test_bad_report_names_the_field(inv, sae, body, field):
    response = inv.post(reports_path(sae), body)
    assert response.status_code == 422 and field in fields_of(response), response.content
    assert not SaeReport.objects.exists()


def test_non_serious_ae_has_no_sae_reports(inv, patient):
    ae = AdverseEventFactory(patient=patient)
    response = inv.post(
        reports_path(ae), {"kind": "INITIAL", "sent_at": timezone.now().isoformat(), "summary": "x"}
    )
    assert response.status_code == 422 and "EC-AE-3" in fields_of(response)["kind"][0]


@pytest.mark.parametrize("role", ["data_manager", "monitor", "outsider"])
def test_only_site_staff_record_reports(request, role, sae):
    api = Api(token_for(request.getfixturevalue(role)))
    response = api.post(
        reports_path(sae), {"kind": "INITIAL", "sent_at": timezone.now().isoformat(), "summary": "x"}
    )
    assert response.status_code == 403 and not SaeReport.objects.exists()
    assert api.get(reports_path(sae)).status_code == (403 if role == "outsider" else 200)


def test_report_of_another_patients_ae_is_404(inv, sae, coordinator, investigator):
    other = fe.registered(coordinator, investigator)
    assert inv.get(f"patients/{other.pk}/crfs/adverse-event/{sae.pk}/sae-reports/").status_code == 404
    report = SaeReport.objects.create(adverse_event=sae, kind="INITIAL", sent_at=timezone.now(), summary="x")
    other_ae = AdverseEventFactory(
        patient=sae.patient, serious="Y", aeshosp="Y", awareness_at=timezone.now() - HOUR
    )
    assert inv.get(reports_path(other_ae, report.pk)).status_code == 404
    assert inv.get(reports_path(sae, report.pk)).status_code == 200


def test_report_on_a_locked_casebook_is_409(inv, sae, data_manager):
    from sabr_trial import services

    services.patient_lock(patient=sae.patient, acting_user=data_manager, reason="Interim analysis")
    response = inv.post(
        reports_path(sae),
        {"kind": "FOLLOW-UP", "sent_at": timezone.now().isoformat(), "summary": "New information"},
    )
    assert response.status_code == 409 and not SaeReport.objects.exists()


def test_sae_is_reachable_as_the_adverse_event_crf(inv):
    catalogue = {c["slug"]: c for c in inv.get("crfs/").json()}
    fields = catalogue["adverse-event"]["fields"]
    assert {"serious", "awareness_at", "reported_at", "expected"} <= set(fields)
    assert AdverseEvent._meta.get_field("awareness_at").name in fields
