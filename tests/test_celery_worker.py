"""A real Celery worker against the Redis broker runs a task end to end (CI marks: worker)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.db import connection

from sabr_trial.models import TaskHeartbeat
from sabr_trial.tasks import heartbeat

ROOT = Path(__file__).resolve().parent.parent


def _database_url() -> str:
    s = connection.settings_dict
    user = s.get("USER") or "postgres"
    auth = f"{user}:{s['PASSWORD']}@" if s.get("PASSWORD") else f"{user}@"
    return f"postgres://{auth}{s.get('HOST') or '127.0.0.1'}:{s.get('PORT') or 5432}/{s['NAME']}"


@pytest.fixture
def worker(transactional_db):
    if not os.environ.get("CELERY_BROKER_URL") or connection.vendor != "postgresql":
        pytest.skip("needs CELERY_BROKER_URL (Redis) and PostgreSQL")
    env = {**os.environ, "DATABASE_URL": _database_url()}
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
            f"test-{uuid.uuid4().hex[:6]}@%h",
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


@pytest.mark.worker
def test_real_worker_runs_task_and_writes_database(worker):
    token = uuid.uuid4().hex
    heartbeat.delay(token)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not TaskHeartbeat.objects.filter(token=token).exists():
        assert worker.poll() is None, worker.stdout.read() if worker.stdout else "worker died"
        time.sleep(0.3)
    assert TaskHeartbeat.objects.filter(token=token).exists()


@pytest.mark.django_db
def test_without_broker_tasks_run_in_process(settings):
    if os.environ.get("CELERY_BROKER_URL"):
        pytest.skip("a broker is configured")
    token = uuid.uuid4().hex
    heartbeat.delay(token)
    assert TaskHeartbeat.objects.filter(token=token).exists()
