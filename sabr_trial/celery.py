"""Celery application: broker from CELERY_BROKER_URL; without one, tasks run in-process."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sabr_trial.settings")

app = Celery("sabr_trial")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
