"""Start-up warm-up (issue 20): a server process on the embedded default loads the recompute's statistics stack
and WeasyPrint before it answers, so the first dashboard after a change does not; with a broker it loads neither."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROBE = (
    "import sys, sabr_trial.wsgi; "
    "print(' '.join(str(m in sys.modules) for m in ('lifelines', 'endpoints.engine', 'weasyprint')))"
)


def _modules_after_wsgi(tmp_path: Path, broker: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "CELERY_", "REDIS_URL"))}
    env.update(
        DJANGO_SETTINGS_MODULE="sabr_trial.settings",
        DJANGO_DEBUG="1",
        DATABASE_URL=f"sqlite:///{tmp_path / 'probe.sqlite3'}",
        CELERY_BROKER_URL=broker,
        PYTHONPATH=str(ROOT),
    )
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, check=True, stdout=subprocess.PIPE, text=True
    )
    return out.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("broker", "expected"),
    [
        ("", "True True True"),  # embedded default: loaded at start-up, not in the first request
        (
            "redis://127.0.0.1:1/0",
            "False False False",
        ),  # a worker recomputes and builds: the web process never needs them
    ],
)
def test_server_start_loads_heavy_modules_only_without_broker(
    tmp_path: Path, broker: str, expected: str
) -> None:
    assert _modules_after_wsgi(tmp_path, broker) == expected
