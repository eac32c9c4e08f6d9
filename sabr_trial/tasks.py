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


@shared_task(name="sabr_trial.run_edit_checks", acks_late=True, reject_on_worker_lost=True)
def run_edit_checks(patient_id: int) -> int:
    """Run every automatic edit check for one patient after a CRF save; returns the open system queries."""
    from sabr_trial import editchecks

    return editchecks.run_for_patient_id(patient_id)


@shared_task(name="sabr_trial.nightly_edit_checks", acks_late=True, reject_on_worker_lost=True)
def nightly_edit_checks() -> int:
    """Run every automatic edit check for every patient (Celery beat, nightly)."""
    from sabr_trial import editchecks

    return editchecks.run_all()


@shared_task(name="sabr_trial.outbox_sweep", acks_late=True, ignore_result=True)
def outbox_sweep() -> int:
    """Deliver the after-commit work still pending and run the catch-up checks (Celery beat, worker start-up)."""
    from sabr_trial import outbox

    return outbox.sweep().sent
