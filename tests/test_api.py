"""REST API: tokens, HTTP conventions (ETag/If-Match, problem+json), bad input, the same rules as the forms."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.urls import reverse

from adverse_events.models import AdverseEvent
from api.models import TokenRecord
from enrollment.models import Baseline, Patient
from sabr_trial.crf import CrfStatus
from sabr_trial.models import AuditEvent
from tests import factories_enrollment as fe
from tests.factories_adverse_events import FATIGUE, ae_payload
from tests.factories_api import TODAY, Api, crf_path, fields_of, token_for

pytestmark = pytest.mark.django_db
DAY = datetime.timedelta(days=1)
PROBLEM = "application/problem+json"


@pytest.fixture
def api(coordinator):
    return Api(token_for(coordinator))


@pytest.fixture
def dm_api(data_manager):
    return Api(token_for(data_manager))


@pytest.fixture
def patient(coordinator, investigator):
    return fe.registered(coordinator, investigator)


# --- authentication and tokens ------------------------------------------------------------------------------------


def test_no_credentials_is_401_problem():
    response = Api().get("patients/")
    assert response.status_code == 401
    assert response["Content-Type"] == PROBLEM and response["WWW-Authenticate"].startswith("Token")
    assert response.json()["status"] == 401


@pytest.mark.parametrize("header", ["Token nonsense", "Token " + "a" * 80, "Bearer abc", "Token"])
def test_wrong_token_is_401(header):
    response = Api().get("patients/", Authorization=header)
    assert response.status_code == 401 and response["Content-Type"] == PROBLEM


def test_data_manager_issues_token_shown_once_and_stored_hashed(dm_api, coordinator):
    response = dm_api.post(
        "tokens/", {"username": coordinator.username, "label": "R analysis", "expiry_days": 7}
    )
    assert response.status_code == 201, response.content
    token = response.json()["token"]
    record = TokenRecord.objects.get()
    assert (record.user, record.label, record.issued_by.username) == (coordinator, "R analysis", "dm")
    from knox.models import AuthToken

    stored = AuthToken.objects.get(user=coordinator)
    assert token not in (stored.digest, stored.token_key) and len(stored.digest) == 128  # sha512 hex only
    assert abs((stored.expiry - record.issued_at) - 7 * DAY) < datetime.timedelta(minutes=1)
    assert Api(token).get("patients/").status_code == 200
    listing = dm_api.get("tokens/").json()["results"]
    assert listing[0]["active"] is True and "token" not in listing[0]


def test_revoked_token_is_401_at_once(dm_api, coordinator):
    issued = dm_api.post("tokens/", {"username": coordinator.username}).json()
    assert Api(issued["token"]).get("patients/").status_code == 200
    assert dm_api.delete(f"tokens/{issued['id']}/").status_code == 204
    assert Api(issued["token"]).get("patients/").status_code == 401
    record = TokenRecord.objects.get()
    assert record.revoked_at and record.revoked_by.username == "dm"


def test_expired_token_is_401(coordinator):
    token = token_for(coordinator, days=1)
    with time_machine.travel(datetime.datetime.now(tz=datetime.UTC) + 2 * DAY, tick=False):
        assert Api(token).get("patients/").status_code == 401


@pytest.mark.parametrize("role", ["coordinator", "investigator", "monitor"])
def test_only_data_managers_issue_tokens(personas, role):
    client = Api(token_for(personas[role]))
    assert client.post("tokens/", {"username": role}).status_code == 403
    assert client.get("tokens/").status_code == 403


def test_token_for_user_without_role_is_refused(dm_api, outsider):
    response = dm_api.post("tokens/", {"username": outsider.username})
    assert response.status_code == 422 and "username" in fields_of(response)


def test_outsider_token_allows_nothing(outsider):
    assert Api(token_for(outsider)).get("patients/").status_code == 403


def test_session_works_for_the_browser(as_monitor, patient):
    response = as_monitor.get("/api/v1/patients/")
    assert response.status_code == 200 and response.json()["count"] == 1


def test_schema_and_offline_docs(as_monitor):
    schema = as_monitor.get("/api/v1/schema/?format=json")
    assert schema.status_code == 200 and schema.json()["openapi"].startswith("3.")
    docs = as_monitor.get("/api/v1/docs/")
    assert docs.status_code == 200
    text = docs.content.decode()
    assert "cdn" not in text.lower() and "/static/drf_spectacular_sidecar/" in text


# --- patients ----------------------------------------------------------------------------------------------------


def test_screen_and_register_a_patient(coordinator, investigator):
    inv = Api(token_for(investigator))
    created = inv.post("patients/", {"screening_date": (TODAY - 3 * DAY).isoformat()})
    assert created.status_code == 201, created.content
    patient = Patient.objects.get(pk=created.json()["id"])
    refused = inv.post(f"patients/{patient.pk}/register/", {"registration_date": TODAY.isoformat()})
    assert refused.status_code == 422 and "registration_date" in fields_of(refused)
    fe.consent(patient, coordinator, on=TODAY - 2 * DAY)
    fe.eligibility(patient, coordinator, investigator=investigator)
    done = inv.post(f"patients/{patient.pk}/register/", {"registration_date": TODAY.isoformat()})
    assert done.status_code == 200 and done.json()["study_number"]
    assert inv.get(f"patients/?q={done.json()['study_number']}").json()["count"] == 1


# --- ETag / If-Match ---------------------------------------------------------------------------------------------


def test_update_needs_if_match_and_refuses_stale(api, patient, coordinator):
    row = fe.baseline(patient, coordinator)
    path = crf_path(patient, "baseline", row.pk)
    read = api.get(path)
    assert read.status_code == 200 and read["ETag"] == f'"{row.version}"'
    missing = api.patch(path, {"ecog": 0, "kps": 90})
    assert missing.status_code == 428 and missing["Content-Type"] == PROBLEM
    stale = api.patch(path, {"ecog": 0, "kps": 90}, if_match=row.version + 5)
    assert stale.status_code == 412 and stale.json()["current_version"] == row.version
    row.refresh_from_db()
    assert (row.ecog, row.version) == (1, 1)
    ok = api.patch(path, {"ecog": 0, "kps": 90}, if_match=read["ETag"])
    assert ok.status_code == 200, ok.content
    assert ok["ETag"] == '"2"' and ok.json()["ecog"] == 0
    assert row.history.count() == 2 and row.history.first().history_user == coordinator


def test_change_after_submission_needs_a_reason_then_is_audited(api, patient, coordinator):
    row = fe.baseline(patient, coordinator)
    path = crf_path(patient, "baseline", row.pk)
    assert api.post(path + "submit/", if_match=1).status_code == 200
    no_reason = api.patch(path, {"kps": 90}, if_match=2)
    assert no_reason.status_code == 422 and "change_reason" in fields_of(no_reason)
    ok = api.patch(path, {"kps": 90, "change_reason": "Transcription error"}, if_match=2)
    assert ok.status_code == 200 and ok.json()["kps"] == 90
    row.refresh_from_db()
    assert row.history.first().history_change_reason == "Transcription error"
    assert AuditEvent.objects.filter(action="update", reason="Transcription error").exists()


def test_lifecycle_through_the_api(patient, coordinator, monitor, investigator, data_manager, password):
    row = fe.baseline(patient, coordinator)
    path = crf_path(patient, "baseline", row.pk)
    assert Api(token_for(coordinator)).post(path + "submit/", if_match=1).json()["status"] == "submitted"
    assert Api(token_for(monitor)).post(path + "verify/", if_match=2).json()["status"] == "verified"
    wrong = Api(token_for(investigator)).post(path + "sign/", {"password": "nope"}, if_match=3)
    assert wrong.status_code == 422 and "password" in fields_of(wrong)
    signed = Api(token_for(investigator)).post(path + "sign/", {"password": password}, if_match=3)
    assert signed.json()["status"] == "signed", signed.content
    dm = Api(token_for(data_manager))
    assert dm.post(path + "lock/", {"reason": "DB lock"}, if_match=4).json()["status"] == "locked"
    no_reason = dm.post(path + "unlock/", {}, if_match=5)
    assert no_reason.status_code == 422 and "reason" in fields_of(no_reason)
    assert dm.post(path + "unlock/", {"reason": "query"}, if_match=5).json()["status"] != "locked"
    again = Api(token_for(coordinator)).post(path + "submit/", if_match=6)
    assert again.status_code == 409  # a form past draft is not submitted again


def test_write_to_locked_form_is_409_and_changes_nothing(api, patient, coordinator, data_manager):
    from sabr_trial import services

    row = fe.baseline(patient, coordinator)
    row = services.crf_submit(instance=row, acting_user=coordinator)
    row = services.crf_lock(instance=row, acting_user=data_manager)
    response = api.patch(
        crf_path(patient, "baseline", row.pk), {"kps": 90, "change_reason": "x"}, if_match=row.version
    )
    assert response.status_code == 409 and response["Content-Type"] == PROBLEM
    row.refresh_from_db()
    assert row.kps == 80 and row.status == CrfStatus.LOCKED


# --- bad input ---------------------------------------------------------------------------------------------------


def _ae_json(**changes):
    body = {k: v for k, v in ae_payload().items() if k != "action"}
    body = {k: (None if v == "" else v) for k, v in body.items()}
    body.update(ctcae_term=FATIGUE, grade=2)
    body.update(changes)
    return body


@pytest.mark.parametrize(
    ("raw", "body", "status", "field"),
    [
        ('{"ctcae_term": 1001', None, 400, None),  # malformed JSON
        (None, ["a list"], 422, None),
        (None, {"grade": "two"}, 422, "grade"),  # wrong type
        (None, {"onset_date": "31/01/2025"}, 422, "onset_date"),  # wrong date format
        (None, {"colour": "blue"}, 422, "colour"),  # unknown field
        (None, {"ctcae_term": 123}, 422, "ctcae_term"),  # not a CTCAE code
    ],
)
def test_bad_input_is_refused_naming_the_field(api, patient, raw, body, status, field):
    if isinstance(body, dict):
        body = _ae_json(**body)
    response = api.call("post", crf_path(patient, "adverse-event"), body, raw=raw)
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    if field:
        assert field in fields_of(response)
    assert not AdverseEvent.objects.exists()


def test_unknown_patient_and_form_are_404(api, patient):
    assert api.get("patients/999999/").status_code == 404
    assert api.get(crf_path(patient, "baseline", 999999)).status_code == 404
    assert api.get(f"patients/{patient.pk}/crfs/nonsense/").status_code == 404


def test_throttling_per_token(settings, coordinator, monitor):
    from django.core.cache import cache

    cache.clear()
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"api_burst": "3/min", "api_sustained": "100/day"},
    }
    first, second = Api(token_for(coordinator)), Api(token_for(monitor))
    codes = [first.get("crfs/").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert second.get("crfs/").status_code == 200  # another token has its own budget
    cache.clear()


# --- the same rule refuses the same input in the form and in the API ------------------------------------------


def _form_errors(response):
    return response.text


@pytest.mark.parametrize(
    ("case", "rule"),
    [("future", "EC-G1"), ("kps", "EC-BL-1")],
)
def test_baseline_form_and_api_refuse_with_the_same_rule(
    as_coordinator, api, coordinator, investigator, case, rule
):
    patient = fe.registered(coordinator, investigator)
    data = (
        fe.baseline_data(assessment_date=TODAY + 3 * DAY)
        if case == "future"
        else fe.baseline_data(ecog=0, kps=60)
    )
    field = "assessment_date" if case == "future" else "kps"
    page = as_coordinator.post(reverse("crf_create", args=[patient.pk, "baseline"]), fe.post_data(data))
    response = api.post(crf_path(patient, "baseline"), data)
    assert response.status_code == 422, response.content
    messages = fields_of(response)[field]
    import html

    assert any(html.escape(m) in page.text for m in messages), messages
    if rule != "EC-G1":
        assert any(rule in m for m in messages)
    assert not Baseline.objects.filter(patient=patient).exists()


@pytest.mark.parametrize(("grade", "ok"), [(2, True), (4, False), (5, False)])
def test_ctcae_grade_not_allowed_same_rule_in_form_and_api(as_coordinator, api, patient, grade, ok):
    # Fatigue has grades 1-3 only (R6.3): grade 4/5 refused by EC-AE-1 in both paths.
    page = as_coordinator.post(
        reverse("crf_create", args=[patient.pk, "adverse-event"]), ae_payload(grade=str(grade))
    )
    after_form = AdverseEvent.objects.count()
    response = api.post(crf_path(patient, "adverse-event"), _ae_json(grade=grade))
    if ok:
        assert response.status_code == 201, response.content
        assert AdverseEvent.objects.count() == after_form + 1
    else:
        assert response.status_code == 422
        messages = fields_of(response)["grade"]
        import html

        assert any(html.escape(m) in page.text for m in messages), (messages, page.status_code)
        assert AdverseEvent.objects.count() == after_form == 0


def test_ctcae_lookup(api):
    rows = api.get("ctcae-terms/?q=fatig").json()
    assert rows[0]["code"] == FATIGUE and rows[0]["allowed_grades"] == [1, 2, 3]
    assert api.get(f"ctcae-terms/{FATIGUE}/").json()["term"] == "Fatigue"
    assert api.get("ctcae-terms/1/").status_code == 404
