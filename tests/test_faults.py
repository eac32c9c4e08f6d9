"""Outages and crashes against real processes (issue 16): a private redis-server stopped mid-test, gunicorn, real
Celery workers killed with SIGKILL. Never the shared Redis: the stack gets its own redis-server on a free port.

The web side is gunicorn on the test database; the assertions read that database from this process.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from adverse_events.models import AdverseEvent
from bench.procs import Browser, RedisServer, Service, celery_worker, free_port, gunicorn, wait_log
from endpoints import services
from endpoints.models import EndpointState, Job
from reports import jobs
from sabr_trial import outbox
from sabr_trial.models import OutboxMessage
from sabr_trial.services import EDIT_CHECKS_TOPIC
from tests.factories import RegisteredPatientFactory, UserFactory
from tests.factories_adverse_events import ae_payload, ensure_ctcae_terms
from tests.test_celery_worker import _database_url

pytestmark = [pytest.mark.worker, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
PASSWORD = "outage-proof-password-1"


def wait_for(predicate: Any, seconds: float, what: str, *alive: Service) -> float:
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if predicate():
            return time.monotonic() - start
        for service in alive:
            assert service.alive(), f"{service.name} died:\n{service.output()[-4000:]}"
        time.sleep(0.5)
    raise AssertionError(f"{what}: not after {seconds} s")


def dashboard_current() -> bool:
    changed = EndpointState.objects.filter(pk=1).values_list("data_changed_at", flat=True).first()
    snap = services.latest_snapshot(light=True)
    return changed is not None and snap is not None and snap.data_as_of >= changed


@pytest.fixture
def stack(transactional_db) -> Iterator[dict[str, Any]]:
    if not os.environ.get("CELERY_BROKER_URL") or connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL and a Celery broker (CI)")
    redis = RedisServer().start()
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "DATABASE_CONN_MAX_AGE": "0",
        "REDIS_URL": redis.url(0),
        "CELERY_BROKER_URL": redis.url(1),
        "ENDPOINT_DEBOUNCE_SECONDS": "2",
        "OUTBOX_SWEEP_SECONDS": "3",
        "JOB_HEARTBEAT_SECONDS": "1",
        "JOB_LEASE_SECONDS": "5",
    }
    started: list[Service] = []
    try:
        yield {"redis": redis, "env": env, "started": started}
    finally:
        for service in started:
            service.stop()
        redis.cleanup()


def test_redis_outage_pages_render_saves_commit_once_and_the_outbox_drains(stack):
    ensure_ctcae_terms()
    UserFactory(username="coord-outage", role="coordinator", password=PASSWORD)
    patient = RegisteredPatientFactory()
    env, redis, started = stack["env"], stack["redis"], stack["started"]
    port = free_port()
    started.append(web := gunicorn(env, port, workers=2))
    # A worker as docker-compose runs it (prefork, broker heartbeats, no gossip: restarting gossip after a reconnect
    # is where kombu raised AttributeError), with beat for the outbox sweep.
    started.append(worker := celery_worker("faults", env, beat=True, pool="prefork"))
    wait_log(worker, r"ready\.")
    user = Browser(f"http://127.0.0.1:{port}", "coord-outage", PASSWORD)
    pages = [
        reverse("visits:worklist"),
        reverse("casebook", args=[patient.pk]),
        reverse("endpoints:dashboard"),
        "/api/v1/patients/",
    ]
    create = reverse("crf_create", args=[patient.pk, "adverse-event"])

    assert user.post_form(create, ae_payload(verbatim="before outage")).status_code == 302
    redis.stop()
    statuses = [user.get(page).status_code for page in pages]
    saves = [user.post_form(create, ae_payload(verbatim=f"during outage {i}")).status_code for i in range(3)]
    assert statuses == [200] * len(pages), statuses
    assert saves == [302] * 3, saves
    for i in range(3):
        assert AdverseEvent.objects.filter(verbatim=f"during outage {i}").count() == 1
    pending = OutboxMessage.objects.filter(sent_at__isnull=True, topic=EDIT_CHECKS_TOPIC)
    assert pending.exists() and all("OperationalError" in m.last_error for m in pending)
    assert not dashboard_current()

    redis.start()  # same port, empty: whatever was queued in it is gone
    drained = wait_for(lambda: outbox.pending_count() == 0, 120, "outbox drained", worker, web)
    caught_up = wait_for(dashboard_current, 120, "dashboard current without a new save", worker, web)
    assert worker.alive() and "AttributeError" not in worker.output()
    assert [user.get(page).status_code for page in pages] == [200] * len(pages)
    print(f"outbox drained {drained:.1f} s, dashboard current {caught_up:.1f} s after Redis came back")


def test_killed_worker_fails_the_build_in_hand_and_the_retry_builds_it(stack, monkeypatch, client):
    """SIGKILL of the worker during a report build: the job is failed by the sweep, the retry builds and downloads."""
    env, started = stack["env"], stack["started"]
    monkeypatch.setattr(jobs, "LEASE_SECONDS", 5)
    investigator = UserFactory(username="inv-kill", role="investigator", password=PASSWORD)
    RegisteredPatientFactory()
    port = free_port()
    started.append(gunicorn(env, port, workers=1))
    started.append(worker := celery_worker("killed", env))
    wait_log(worker, r"ready\.")
    user = Browser(f"http://127.0.0.1:{port}", "inv-kill", PASSWORD)
    today = timezone.localdate().isoformat()
    start = user.post_form(
        reverse("reports:report_start"), {"kind": "report", "cutoff": today}, page=reverse("reports:reports")
    )
    assert start.status_code == 302
    job = Job.objects.get()
    wait_for(lambda: Job.objects.get(pk=job.pk).state == Job.State.RUNNING, 120, "build started", worker)
    worker.kill9()
    assert Job.objects.get(pk=job.pk).state == Job.State.RUNNING
    wait_for(
        lambda: outbox.sweep() is not None and Job.objects.get(pk=job.pk).state == Job.State.FAILED,
        30,
        "killed build failed by the sweep",
    )
    failed = Job.objects.get(pk=job.pk)
    assert "stopped" in failed.error and failed.finished_at is not None

    started.append(worker2 := celery_worker("after-kill", env))
    wait_log(worker2, r"ready\.")
    retried = user.post_form(
        reverse("reports:report_job_retry", args=[job.pk]),
        {},
        page=reverse("reports:report_job", args=[job.pk]),
    )
    assert retried.status_code == 302
    retry = Job.objects.exclude(pk=job.pk).get()
    wait_for(lambda: Job.objects.get(pk=retry.pk).state == Job.State.DONE, 300, "retry built", worker2)
    download = user.get(reverse("reports:report_job_download", args=[retry.pk]))
    assert download.status_code == 200 and download.content.startswith(b"%PDF")
    assert not Job.objects.filter(state=Job.State.RUNNING).exists()
    del investigator


def test_killed_endpoints_worker_dashboard_catches_up_without_a_new_save(stack):
    """SIGKILL of the endpoints worker holding the debounced recompute: the sweep gets a new run done."""
    env, started = stack["env"], stack["started"]
    ensure_ctcae_terms()
    UserFactory(username="coord-kill", role="coordinator", password=PASSWORD)
    patient = RegisteredPatientFactory()
    env = {
        **env,
        "ENDPOINT_DEBOUNCE_SECONDS": "30",
    }  # the run stays in the worker's hand long enough to kill it
    port = free_port()
    started.append(gunicorn(env, port, workers=1))
    started.append(worker := celery_worker("endpoints-kill", env))
    wait_log(worker, r"ready\.")
    user = Browser(f"http://127.0.0.1:{port}", "coord-kill", PASSWORD)
    create = reverse("crf_create", args=[patient.pk, "adverse-event"])
    assert user.post_form(create, ae_payload(verbatim="before the kill")).status_code == 302
    wait_log(worker, r"endpoints\.recompute.*received", 60)
    worker.kill9()
    assert not dashboard_current()

    fresh_env = {**env, "ENDPOINT_DEBOUNCE_SECONDS": "2"}
    started.append(worker2 := celery_worker("endpoints-after", fresh_env, beat=True))
    wait_log(worker2, r"ready\.")
    # The lost run's debounce key still says "pending"; the new worker's sweep (beat) sees it overdue and the
    # dashboard stale, and schedules a run.
    seconds = wait_for(dashboard_current, 120, "dashboard current", worker2)
    print(f"dashboard current {seconds:.1f} s after the sweep")
