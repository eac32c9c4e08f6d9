"""Settings come from the environment, fail loudly, and pass `check --deploy` with DEBUG off."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sabr_trial.env import ImproperlyConfiguredEnv, env_bool, env_int, env_list, env_str

ROOT = Path(__file__).resolve().parent.parent

PRODUCTION_ENV = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "a-production-like-secret-key-with-enough-entropy-0123456789abcdefXYZ",
    "DJANGO_ALLOWED_HOSTS": "edc.example.org",
}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1", True),
        ("true", True),
        ("YES", True),
        ("on", True),
        ("0", False),
        ("false", False),
        ("off", False),
    ],
)
def test_env_bool_reads_common_spellings(monkeypatch, value, expected):
    monkeypatch.setenv("X_FLAG", value)
    assert env_bool("X_FLAG") is expected


def test_env_bool_refuses_garbage(monkeypatch):
    monkeypatch.setenv("X_FLAG", "maybe")
    with pytest.raises(ImproperlyConfiguredEnv, match="X_FLAG"):
        env_bool("X_FLAG")


def test_env_int_refuses_garbage(monkeypatch):
    monkeypatch.setenv("X_INT", "ten")
    with pytest.raises(ImproperlyConfiguredEnv, match="X_INT"):
        env_int("X_INT", 1)


def test_env_int_enforces_minimum(monkeypatch):
    monkeypatch.setenv("X_INT", "-1")
    with pytest.raises(ImproperlyConfiguredEnv, match=">= 0"):
        env_int("X_INT", 1, minimum=0)


def test_env_str_required(monkeypatch):
    monkeypatch.delenv("X_STR", raising=False)
    with pytest.raises(ImproperlyConfiguredEnv, match="X_STR"):
        env_str("X_STR", required=True)


def test_env_list_splits_and_strips(monkeypatch):
    monkeypatch.setenv("X_LIST", " a.org, b.org ,,")
    assert env_list("X_LIST") == ["a.org", "b.org"]


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    base.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=base, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_reports_no_issue_with_debug_off():
    result = _run(["check", "--deploy", "--fail-level", "WARNING"], PRODUCTION_ENV)
    assert result.returncode == 0 and "no issues" in result.stdout, result.stdout + result.stderr


@pytest.mark.parametrize("missing", ["DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS"])
def test_debug_off_requires_secret_key_and_allowed_hosts(missing):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}
    result = _run(["check"], env)
    assert result.returncode != 0 and missing in result.stderr


def test_short_secret_key_is_refused():
    result = _run(["check"], {**PRODUCTION_ENV, "DJANGO_SECRET_KEY": "short"})
    assert "at least 50 characters" in result.stderr


@pytest.mark.parametrize(("queue", "expected"), [("", "celery"), ("endpoints", "endpoints")])
def test_endpoint_queue_routes_the_recompute_tasks_and_nothing_else(queue, expected):
    """ENDPOINT_QUEUE (docker-compose.yml: worker-endpoints) sends both recompute tasks to their own queue."""
    code = (
        "import django; django.setup(); from sabr_trial.celery import app; r = app.amqp.router; "
        "print(*(r.route({}, name)['queue'].name for name in "
        "('endpoints.recompute', 'endpoints.nightly_recompute', 'endpoints.build_job')))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(PRODUCTION_ENV, ENDPOINT_QUEUE=queue, DJANGO_SETTINGS_MODULE="sabr_trial.settings")
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.stdout.split() == [expected, expected, "celery"], result.stdout + result.stderr
