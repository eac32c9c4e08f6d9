"""Cross-cutting Celery tasks."""

from __future__ import annotations

import socket

from celery import shared_task


@shared_task(name="sabr_trial.heartbeat", acks_late=True)
def heartbeat(token: str) -> str:
    """Record that a worker ran and reached the database; idempotent for one token."""
    from sabr_trial.models import TaskHeartbeat

    TaskHeartbeat.objects.get_or_create(token=token, defaults={"worker": socket.gethostname()})
    return token
