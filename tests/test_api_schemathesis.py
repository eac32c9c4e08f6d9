"""Schemathesis against the live OpenAPI schema (all operations) as a data manager and as a coordinator.

Bounded: ``API_FUZZ_EXAMPLES`` examples per operation (default 4; CI may raise it). Path ids are pointed at a real casebook half of the
time (queries, jobs and SAE reports at real ones too), so the bodies reach the forms and the services; the checks: no 5xx, documented status codes and content types,
responses that match the schema.
"""

from __future__ import annotations

import os
import random

import hypothesis
import pytest
import schemathesis
from django.core import signals
from django.core.cache import cache
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from adverse_events.models import AdverseEvent
from sabr_trial.crf import registry
from tests import factories_enrollment as fe
from tests.factories_api import token_for

pytestmark = pytest.mark.django_db
EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "4"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def wsgi_app(settings):
    """The WSGI app inside the test transaction (no connection closing between requests, no throttling)."""
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"api_burst": "100000/min", "api_sustained": "1000000/day"},
    }
    settings.ALLOWED_HOSTS = ["*"]
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield get_wsgi_application()
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)
    cache.clear()


def _casebook(coordinator, investigator):
    from tests.factories_adverse_events import AdverseEventFactory

    patient = fe.registered(coordinator, investigator)
    fe.baseline(patient, coordinator)
    AdverseEventFactory(patient=patient)
    return patient


def _data_management(patient, data_manager, media_root) -> dict[str, list[int]]:
    """A query (open), SAE reports and builds in every state, so the new operations reach their services."""
    import datetime
    import hashlib

    from django.utils import timezone

    from adverse_events.models import SaeReport
    from endpoints.models import Job
    from enrollment.models import Baseline
    from sabr_trial import queries
    from tests.factories_adverse_events import AdverseEventFactory

    base = Baseline.objects.get(patient=patient)
    query = queries.raise_query(row=base, text="Check KPS", field_name="kps", acting_user=data_manager)
    ae = AdverseEventFactory(
        patient=patient, serious="Y", aeshosp="Y", awareness_at=timezone.now() - datetime.timedelta(hours=5)
    )
    report = SaeReport.objects.create(adverse_event=ae, kind="INITIAL", sent_at=timezone.now(), summary="x")
    (media_root / "reports").mkdir(parents=True)
    (media_root / "reports" / "x.zip").write_bytes(b"PK export")
    today = timezone.localdate()
    job_ids = [
        Job.objects.create(
            kind="export",
            user=data_manager,
            data_cutoff=today,
            state="done",
            progress=100,
            file_path="reports/x.zip",
            sha256=hashlib.sha256(b"PK export").hexdigest(),
        ).pk,
        Job.objects.create(kind="report", user=data_manager, data_cutoff=today, state="failed", error="E").pk,
        Job.objects.create(kind="report", user=data_manager, data_cutoff=today).pk,
    ]
    return {"/api/v1/queries/": [query.pk], "/api/v1/jobs/": job_ids, "report_pk": [report.pk]}


def _checker(operation, headers, patient, rows, rng, known):
    @hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(hypothesis.HealthCheck),
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
    )
    @hypothesis.given(case=operation.as_strategy())
    def check(case):
        params = case.path_parameters or {}
        if "patient_pk" in params and rng.random() < 0.7:
            params["patient_pk"] = patient.pk
            if "id" in params and rows and rng.random() < 0.8:
                params["id"] = rng.choice(rows)
            if "report_pk" in params and rng.random() < 0.8:
                params["report_pk"] = rng.choice(known["report_pk"])
        ids = next((v for k, v in known.items() if operation.path.startswith(k)), None)
        if ids and "id" in params and rng.random() < 0.8:  # a real query or job
            params["id"] = rng.choice(ids)
        response = case.call(headers=headers)
        case.validate_response(response, checks=CHECKS)

    return check


def _run(schema, headers, patient, known) -> list[str]:
    failures: list[str] = []
    rng = random.Random(10)
    for result in schema.get_all_operations():
        operation = result.ok()
        slug = next((s.slug for s in registry.all() if f"/crfs/{s.slug}/" in operation.path), None)
        rows = (
            list(registry.get(slug).model.objects.filter(patient=patient).values_list("pk", flat=True))
            if slug
            else []
        )

        if slug == "adverse-event" and "/sae-reports/" in operation.path:
            rows = (
                list(AdverseEvent.objects.filter(patient=patient, serious="Y").values_list("pk", flat=True))
                or rows
            )
        check = _checker(operation, headers, patient, rows, rng, known)
        try:
            check()
        except Exception as exc:  # collect every operation's first failure
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:1500]}")
    return failures


@pytest.mark.parametrize("role", ["data_manager", "coordinator"])
def test_schemathesis_all_operations(wsgi_app, personas, role, settings, tmp_path, tasks_in_process):
    settings.MEDIA_ROOT = tmp_path
    patient = _casebook(personas["coordinator"], personas["investigator"])
    known = _data_management(patient, personas["data_manager"], tmp_path)
    headers = {"Authorization": f"Token {token_for(personas[role])}"}
    schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", wsgi_app, headers=headers)
    assert len(list(schema.get_all_operations())) >= 127
    failures = _run(schema, headers, patient, known)
    if failures and os.environ.get("API_FUZZ_REPORT"):
        with open(os.environ["API_FUZZ_REPORT"], "a") as fh:
            fh.write("\n\n".join(failures))
    assert not failures, "\n\n".join(failures)
