"""Celery tasks of the endpoint engine: thin wrappers around endpoints.services."""

from __future__ import annotations

import datetime

from celery import shared_task


@shared_task(name="endpoints.recompute", acks_late=True, reject_on_worker_lost=True)
def recompute(
    trigger: str = "manual", cutoff: str | None = None, user_id: int | None = None, debounced: bool = False
) -> int | None:
    """Recompute every endpoint and store a snapshot; returns its id. Idempotent: a rerun adds a snapshot.

    A debounced run (``schedule_recompute``) that comes due while saves are still arriving postpones itself
    to the end of the burst and returns None (``endpoints.services.debounce_delay``).
    """
    from endpoints.services import debounce_delay, run_recompute

    # Run in-process (eager), re-enqueueing would call this task again at once: run now instead.
    delay = debounce_delay() if debounced and not recompute.request.is_eager else 0.0
    if delay > 0:
        kwargs = {"trigger": trigger, "cutoff": cutoff, "user_id": user_id, "debounced": True}
        recompute.apply_async(kwargs=kwargs, countdown=delay, retry=False)
        return None
    day = datetime.date.fromisoformat(cutoff) if cutoff else None
    return run_recompute(trigger=trigger, cutoff=day, user_id=user_id).pk


@shared_task(name="endpoints.nightly_recompute", acks_late=True, reject_on_worker_lost=True)
def nightly_recompute() -> int:
    """The nightly run (Celery beat), at today's cut-off."""
    from endpoints.services import run_recompute

    return run_recompute(trigger="nightly").pk
