"""Role matrix: every operation of the schema, as each role, against DESIGN.md's role table.

A refused operation answers 403 and writes nothing; an allowed one never answers 401/403 (it may answer 404, 409, 412,
422 or 428 for the empty body and ids used here).
"""

from __future__ import annotations

import pytest

from sabr_trial.models import AuditEvent
from tests import factories_enrollment as fe
from tests.factories_api import Api, token_for

pytestmark = pytest.mark.django_db

ALL = {"coordinator", "investigator", "data_manager", "monitor"}
#: DESIGN.md "Roles": action -> roles allowed (written from the document, not from sabr_trial.roles).
DESIGN_TABLE = {
    "enter": {"coordinator", "investigator"},
    "view": ALL,
    "sdv": {"monitor"},
    "sign": {"investigator"},
    "lock": {"data_manager"},
    "manage": {"data_manager"},
    "answer_query": {"coordinator", "investigator"},
    "raise_query": {"data_manager", "monitor"},
    "export": {"investigator", "data_manager"},
}
#: Bodies that decide the permission (the job kind); every other write is sent an empty object.
BODIES = {"/api/v1/jobs/": {"kind": "export"}}
TRANSITION_ACTION = {
    "submit": "enter",
    "verify": "sdv",
    "sign": "sign",
    "lock": "lock",
    "unlock": "lock",
    "confirm": "investigator-only",
}


def _operations(schema: dict) -> list[tuple[str, str, str]]:
    """(method, path template, design action) for every operation (transitions once per action)."""
    ops = []
    for path, item in schema["paths"].items():
        for method, op in item.items():
            if method not in ("get", "post", "patch", "put", "delete"):
                continue
            if path.startswith("/api/v1/tokens"):
                ops.append((method, path, "manage"))
            elif method == "post" and path.startswith("/api/v1/queries/"):
                ops.append((method, path, "answer_query" if path.endswith("/answer/") else "raise_query"))
            elif method == "post" and path == "/api/v1/jobs/":
                ops.append((method, path, "export"))  # with kind=export (BODIES); a casebook needs view only
            elif method == "post" and path.endswith("/retry/"):
                ops.append((method, path, "view"))  # per job: its owner, or the export permission (own test)
            elif path.endswith("/{action}/"):
                actions = next(p["schema"]["enum"] for p in op["parameters"] if p["name"] == "action")
                ops.extend((method, path.replace("{action}", a), TRANSITION_ACTION[a]) for a in actions)
            elif method == "get":
                ops.append((method, path, "view"))
            else:
                ops.append((method, path, "enter"))
    return ops


def _allowed(action: str, role: str) -> bool:
    if role == "outsider":
        return False
    if action == "investigator-only":  # EC-EL-1: only an investigator confirms eligibility
        return role == "investigator"
    return role in DESIGN_TABLE[action]


@pytest.mark.parametrize("role", ["coordinator", "investigator", "data_manager", "monitor", "outsider"])
def test_every_operation_follows_the_role_table(personas, role, as_monitor, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"api_burst": "100000/min", "api_sustained": "100000/day"},
    }
    schema = as_monitor.get("/api/v1/schema/?format=json").json()
    patient = fe.registered(personas["coordinator"], personas["investigator"])
    from enrollment.models import Eligibility

    eligibility = Eligibility.objects.get(patient=patient)
    ids = {
        "patient_pk": patient.pk,
        "pk": 999999,
        "id": 999999,
        "code": 10016256,
        "slug": "baseline",
        "name": "km-os",
        "report_pk": 999999,
    }
    api = Api(token_for(personas[role]))
    operations = _operations(schema)
    assert len(operations) >= 200
    audit_before = AuditEvent.objects.count()
    wrong = []
    for method, template, action in operations:
        path = template
        if "/crfs/eligibility/" in path:  # confirm: the investigator check needs the real checklist
            path = path.replace("{id}", str(eligibility.pk))
        for key, value in ids.items():
            path = path.replace("{" + key + "}", str(value))
        body = BODIES.get(template, {}) if method in ("post", "patch", "put") else None
        response = api.call(method, path, body, if_match=1)
        allowed = _allowed(action, role)
        if allowed and response.status_code in (401, 403):
            wrong.append(f"{role} refused {method.upper()} {path}: {response.status_code}")
        if not allowed and response.status_code != 403:
            wrong.append(f"{role} not refused {method.upper()} {path}: {response.status_code}")
        assert response.status_code < 500, (method, path, response.content[:300])
    assert not wrong, "\n".join(wrong)
    if role in ("monitor", "outsider"):
        assert AuditEvent.objects.count() == audit_before  # nothing written by a refused role


def test_design_table_matches_the_roles_module():
    from sabr_trial.roles import ROLE_PERMISSIONS, Perm

    perm = {
        "enter": Perm.ENTER,
        "view": Perm.VIEW,
        "sdv": Perm.VERIFY,
        "sign": Perm.SIGN,
        "lock": Perm.LOCK,
        "manage": Perm.MANAGE,
        "answer_query": Perm.ANSWER_QUERY,
        "raise_query": Perm.RAISE_QUERY,
        "export": Perm.EXPORT,
    }
    for action, roles in DESIGN_TABLE.items():
        assert {r for r, perms in ROLE_PERMISSIONS.items() if perm[action] in perms} == roles, action


@pytest.mark.parametrize("role", ["coordinator", "investigator", "data_manager", "monitor", "outsider"])
def test_query_job_and_sae_operations_on_real_objects(
    personas, role, settings, tmp_path, tasks_in_process, django_capture_on_commit_callbacks
):
    """The new resources reach their services with real ids: allowed roles succeed, the others get 403."""
    import hashlib

    from django.utils import timezone

    from endpoints.models import Job
    from sabr_trial import queries
    from tests.factories_adverse_events import AdverseEventFactory

    settings.MEDIA_ROOT = tmp_path
    patient = fe.registered(personas["coordinator"], personas["investigator"])
    base = fe.baseline(patient, personas["coordinator"])
    query = queries.raise_query(
        row=base, text="Check KPS", field_name="kps", acting_user=personas["data_manager"]
    )
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "x.zip").write_bytes(b"PK zip")
    done = Job.objects.create(
        kind="export",
        user=personas["data_manager"],
        data_cutoff=timezone.localdate(),
        state="done",
        file_path="reports/x.zip",
        sha256=hashlib.sha256(b"PK zip").hexdigest(),
        progress=100,
    )
    ae = AdverseEventFactory(
        patient=patient, serious="Y", aeshosp="Y", awareness_at=timezone.now() - timezone.timedelta(hours=2)
    )
    api = Api(token_for(personas[role]))
    allowed = {action: _allowed(action, role) for action in DESIGN_TABLE}
    with django_capture_on_commit_callbacks(execute=False):  # a started job is not built here
        steps = [
            ("view", 200, api.get(f"queries/{query.pk}/")),
            ("view", 200, api.get(f"queries/?patient={patient.pk}")),
            ("answer_query", 200, api.post(f"queries/{query.pk}/answer/", {"text": "KPS is right"})),
            ("raise_query", 200, api.post(f"queries/{query.pk}/close/", {"text": "Accepted"})),
            ("raise_query", 201, api.post("queries/", {"form": "baseline", "row": base.pk, "text": "Date?"})),
            ("export", 202, api.post("jobs/", {"kind": "report"})),
            ("export", 200, api.get(f"jobs/{done.pk}/")),
            ("export", 200, api.get(f"jobs/{done.pk}/download/")),
            ("view", 200, api.get("jobs/")),
            ("view", 200, api.get("saes/")),
            ("view", 200, api.get(f"patients/{patient.pk}/crfs/adverse-event/{ae.pk}/sae-reports/")),
            (
                "enter",
                201,
                api.post(
                    f"patients/{patient.pk}/crfs/adverse-event/{ae.pk}/sae-reports/",
                    {"kind": "INITIAL", "sent_at": timezone.now().isoformat(), "summary": "x"},
                ),
            ),
        ]
    wrong = [
        f"{role} {i}: {action} -> {response.status_code} {response.content[:200]!r}"
        for i, (action, ok, response) in enumerate(steps)
        if response.status_code != (ok if allowed[action] else 403)
    ]
    assert not wrong, "\n".join(wrong)


def test_operation_counts_by_resource_cover_the_whole_schema(as_monitor):
    """manage.py api_operations (the README table): every schema operation falls in a named resource."""
    from api.management.commands.api_operations import METHODS, operation_counts

    schema = as_monitor.get("/api/v1/schema/?format=json").json()
    total = sum(1 for item in schema["paths"].values() for method in item if method in METHODS)
    counts, counted = operation_counts()
    assert counted == total and "Other" not in counts
    assert (counts["Queries"], counts["Report and export jobs"], counts["SAE reports"]) == (6, 5, 4)
