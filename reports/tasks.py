"""Celery tasks of the reports app (workers find tasks in each app's tasks.py)."""

from reports.jobs import build_job

__all__ = ["build_job"]
