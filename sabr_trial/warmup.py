"""Start-up work of a serving process: what its first requests would otherwise pay for (issue 20).

Each app registers a step in its ``AppConfig.ready()``; ``sabr_trial.wsgi`` runs them once, after the
application is loaded and before the server answers (``runserver`` and gunicorn both load it). Tests and
management commands never load ``sabr_trial.wsgi``, so they do not pay for the steps.

On the embedded default (no broker) the dashboard recomputes the endpoints in the request after a change, and
report and casebook builds run in the process that started them: importing the statistics stack (numpy,
pandas, SciPy, lifelines: about 1.5 s of CPU) or WeasyPrint inside such a request stalled it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)

Step = Callable[[], None]
_steps: list[Step] = []


def register(step: Step) -> Step:
    """Register ``step()`` to run when a server process starts; usable as a decorator."""
    if step not in _steps:
        _steps.append(step)
    return step


def run() -> None:
    """Run every registered step once, in registration order, logging how long each took."""
    for step in _steps:
        started = time.perf_counter()
        step()
        logger.info("warm-up %s: %.2f s", step.__qualname__, time.perf_counter() - started)
