"""Every rule text the code defines is known in every process, whatever it has imported (issue 18, item 3).

A web process renders texts stored by the recompute (the dashboard's landmark rates) without ever loading the
engine; a text whose definition was not loaded rendered as its id and parameters ("endpoints.landmark {'n': ...}").
The check runs in a fresh interpreter that only sets Django up, as gunicorn does before the first request."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFINE = re.compile(r'\bdefine\(\s*"([^"]+)"')


def _defined_in_source() -> set[str]:
    from django.apps import apps

    ids: set[str] = set()
    own = [
        Path(c.path) for c in apps.get_app_configs() if Path(c.path).is_relative_to(ROOT)
    ]  # first-party apps
    for folder in own:
        for path in folder.rglob("*.py"):
            ids.update(DEFINE.findall(path.read_text(encoding="utf-8")))
    return ids


def test_a_process_that_only_set_django_up_knows_every_rule_text():
    code = (
        "import django, json, sys; django.setup(); from ruletext import CATALOGUE; "
        "print(json.dumps({'ids': sorted(CATALOGUE), 'engine': 'endpoints.engine' in sys.modules}))"
    )
    env = {
        "DJANGO_DEBUG": "1",
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "sabr_trial.settings",
        "PYTHONPATH": str(ROOT),
    }
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    defined = _defined_in_source()
    assert len(defined) > 100 and "endpoints.landmark" in defined  # the scan finds the definitions
    assert sorted(defined - set(loaded["ids"])) == []
    assert not loaded["engine"]  # the statistics stack stays out of a process that does not recompute


def test_the_dashboard_shows_landmark_rates_in_words(as_investigator, db):
    """The rendered dashboard never shows a rule text's id (the landmark rates of a real recompute)."""
    from django.urls import reverse

    from endpoints import services
    from tests.factories_visits import treated_patient

    treated_patient(start_days_ago=400, study_number="SR-901")
    services.run_recompute(trigger="test")
    page = as_investigator.get(reverse("endpoints:dashboard")).text
    assert "n at risk" in page
    assert "endpoints.landmark" not in page and "endpoints.not_estimable" not in page
