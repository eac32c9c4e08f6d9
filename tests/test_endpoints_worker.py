"""A CRF save reaches a new endpoint snapshot through Redis and a real Celery worker (CI marks: worker).

The web side is this test process (HTTP client, committed transactions so ``on_commit`` fires); the worker is a
separate ``celery worker`` process on the same test database. The debounce is shortened to a few seconds here
(``endpoints.services.DEBOUNCE_SECONDS`` in this process, ``ENDPOINT_DEBOUNCE_SECONDS`` in the worker's).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from endpoints import services
from endpoints.models import EndpointSnapshot
from tests.factories import UserFactory
from tests.factories_enrollment import registered
from tests.test_celery_worker import _database_url

ROOT = Path(__file__).resolve().parent.parent
DEBOUNCE = 4  # seconds: long enough to cover a burst of 10 HTTP saves on a loaded CI machine
pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def endpoint_worker(django_db_setup, django_db_blocker):
    if not os.environ.get("CELERY_BROKER_URL") or connection.vendor != "postgresql":
        pytest.skip("needs CELERY_BROKER_URL (Redis) and PostgreSQL")
    with django_db_blocker.unblock():
        url = _database_url()
    env = {**os.environ, "DATABASE_URL": url, "ENDPOINT_DEBOUNCE_SECONDS": str(DEBOUNCE)}
    # Earlier tests enqueue recomputes with nobody consuming them; start from an empty queue.
    subprocess.run(
        [sys.executable, "-m", "celery", "-A", "sabr_trial", "purge", "-f"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=60,
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "sabr_trial",
            "worker",
            "-P",
            "solo",
            "-c",
            "1",
            "-l",
            "INFO",
            "-n",
            f"endpoints-{uuid.uuid4().hex[:6]}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    yield proc
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture
def web(endpoint_worker, monkeypatch):
    from sabr_trial.celery import app

    assert not app.conf.task_always_eager, (
        "an earlier test left Celery eager: saves would recompute in-process"
    )
    monkeypatch.setattr(services, "DEBOUNCE_SECONDS", DEBOUNCE)
    cache.delete("endpoints:recompute-scheduled")
    coordinator = UserFactory(username="coord-w", role="coordinator")
    investigator = UserFactory(username="inv-w", role="investigator")
    patient = registered(coordinator, investigator)
    client = Client()
    client.force_login(coordinator)
    return {"client": client, "patient": patient, "worker": endpoint_worker}


def _wait_for(worker, predicate, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        assert worker.poll() is None, worker.stdout.read() if worker.stdout else "worker died"
        time.sleep(0.5)
    raise AssertionError("timed out waiting for the worker")


def _data_snapshots():
    return EndpointSnapshot.objects.filter(trigger="data change")


def _save(client, patient, slug: str, data: dict[str, str]) -> None:
    response = client.post(reverse("crf_create", args=[patient.pk, slug]), {**data, "action": "submit"})
    assert response.status_code == 302, response.context and response.context["form"].errors


def _axitinib(today: str) -> dict[str, str]:
    return {
        "start_date": today,
        "end_date": "",
        "dose_level": "5 MG BID",
        "other_dose_mg": "",
        "other_dose_reason": "",
        "dose_change_reason": "START",
        "missed_doses": "0",
        "bp_ok_no_antihtn": "",
        "adverse_event": "",
    }


def test_crf_save_reaches_a_new_snapshot_made_by_the_worker(web):
    patient, today = web["patient"], timezone.localdate().isoformat()
    assert not _data_snapshots().exists()
    _save(web["client"], patient, "axitinib", _axitinib(today))
    _wait_for(web["worker"], _data_snapshots().exists)
    snap = _data_snapshots().get()
    row = next(r for r in snap.patient_rows() if r["patient_id"] == patient.pk)
    assert (snap.status, snap.n_patients, row["os"]["origin"]) == ("ok", 1, today)  # D1: the axitinib start
    assert not services.is_stale(services.latest_snapshot())


def test_burst_of_ten_saves_gives_one_or_two_snapshots(web):
    patient, today = web["patient"], timezone.localdate().isoformat()
    _save(web["client"], patient, "axitinib", _axitinib(today))
    started = time.monotonic()
    gaps, last = [], started
    for number in range(9):
        _save(
            web["client"],
            patient,
            "subsequent-therapy",
            {
                "therapy_type": "OTHER",
                "regimen": f"Supportive regimen {number}",
                "start_date": today,
                "end_date": "",
                "reason": "OTHER",
                "local_on_protocol": "N",
                "sabr_course": "",
            },
        )
        gaps.append(time.monotonic() - last)
        last = time.monotonic()
    burst = time.monotonic() - started
    _wait_for(web["worker"], _data_snapshots().exists)
    time.sleep(2 * DEBOUNCE + 3)  # room for a second run scheduled at the end of the burst
    _wait_for(web["worker"], lambda: not services.is_stale(services.latest_snapshot()))
    count = _data_snapshots().count()
    # Trailing-edge debounce: one run when every gap is shorter than the window, whatever the burst's length.
    assert 1 <= count <= 2, (
        f"{count} snapshots for 10 saves in {burst:.1f} s (gaps {[round(g, 1) for g in gaps]})"
    )
    latest = services.latest_snapshot()
    assert latest is not None and latest.fingerprint == services.input_fingerprint(timezone.localdate())
