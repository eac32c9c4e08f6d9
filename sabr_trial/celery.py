"""Celery application: broker from CELERY_BROKER_URL; without one, tasks run in-process."""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sabr_trial.settings")

app = Celery("sabr_trial")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def _sweep_at_start_up(sender: object = None, **kwargs: object) -> None:
    """Deliver what waited in the outbox while no worker (or no broker) was there."""
    from sabr_trial.tasks import outbox_sweep

    outbox_sweep.apply_async(retry=False)
