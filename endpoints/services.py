"""Recompute orchestration: mark data changed, debounce the enqueue, store snapshots atomically."""

from __future__ import annotations

import datetime
import logging
import time
import traceback
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from endpoints.models import EndpointSnapshot, EndpointState
from sabr_trial.env import env_int

log = logging.getLogger(__name__)

#: Saves within this many seconds of the first one share one recompute (a burst gives one or two runs).
#: Environment variable ``ENDPOINT_DEBOUNCE_SECONDS`` (default 20); the worker test sets it to 2.
DEBOUNCE_SECONDS = env_int("ENDPOINT_DEBOUNCE_SECONDS", 20, minimum=1)
_SCHEDULED_KEY = "endpoints:recompute-scheduled"


def _state() -> EndpointState:
    state, _ = EndpointState.objects.get_or_create(pk=1)
    return state


def mark_data_changed(instance: Any = None) -> None:
    """Record that endpoint inputs changed and schedule one (debounced) recompute.

    Called after commit. If the broker is down the change is still recorded, so the dashboard
    says its results are stale; the nightly run or the next save catches up. Nothing is lost.
    """
    now = timezone.now()
    EndpointState.objects.update_or_create(pk=1, defaults={"data_changed_at": now})
    schedule_recompute(trigger="data change")


def schedule_recompute(
    *, trigger: str, cutoff: datetime.date | None = None, user_id: int | None = None
) -> bool:
    """Enqueue the recompute task unless one is already scheduled in the debounce window."""
    from endpoints.tasks import recompute

    if settings.CELERY_TASK_ALWAYS_EAGER:
        # Embedded default (no broker): a save must stay fast, so nothing runs here; the dashboard
        # recomputes when it is opened with newer data waiting (see endpoints.views.dashboard).
        return False
    if not cache.add(_SCHEDULED_KEY, "1", timeout=DEBOUNCE_SECONDS):
        return False
    kwargs = {"trigger": trigger, "cutoff": cutoff.isoformat() if cutoff else None, "user_id": user_id}
    try:
        recompute.apply_async(kwargs=kwargs, countdown=DEBOUNCE_SECONDS, retry=False)
    except Exception as exc:  # broker down: the form save must still succeed
        cache.delete(_SCHEDULED_KEY)
        EndpointState.objects.update_or_create(
            pk=1, defaults={"last_enqueue_error": f"{type(exc).__name__}: {exc}"}
        )
        log.warning("endpoint recompute not enqueued: %s", exc)
        return False
    EndpointState.objects.update_or_create(
        pk=1, defaults={"last_enqueued_at": timezone.now(), "last_enqueue_error": ""}
    )
    return True


def run_recompute(
    *, trigger: str, cutoff: datetime.date | None = None, user_id: int | None = None
) -> EndpointSnapshot:
    """Read the whole study, derive, compute, draw, and store one snapshot (or the error)."""
    from endpoints.collect import collect_study
    from endpoints.engine import compute_snapshot

    cache.delete(_SCHEDULED_KEY)
    cutoff = cutoff or timezone.localdate()
    state = _state()
    data_as_of = state.data_changed_at or timezone.now()
    started = time.perf_counter()
    queries_before = len(connection.queries) if settings.DEBUG else None
    from django.test.utils import CaptureQueriesContext

    try:
        with CaptureQueriesContext(connection) as ctx:
            t0 = time.perf_counter()
            records, plot_data = collect_study(cutoff)
            read_s = time.perf_counter() - t0
        url = reverse("casebook", args=[0]).replace("/0/", "/{patient_id}/")
        result = compute_snapshot(records, plot_data, data_cutoff=cutoff, url_template=url)
        timings = {"read_s": read_s, **result.timings, "total_s": time.perf_counter() - started}
        with transaction.atomic():
            snap = EndpointSnapshot.objects.create(
                data_cutoff=cutoff, status=EndpointSnapshot.Status.OK, trigger=trigger, requested_by_id=user_id,
                data_as_of=data_as_of, fingerprint=result.fingerprint, results=result.results, figures=result.figures,
                timings={k: round(v, 4) for k, v in timings.items()}, n_patients=result.results["n_patients"],
                queries=len(ctx.captured_queries),
            )  # fmt: skip
        del queries_before
        return snap
    except Exception as exc:
        log.exception("endpoint recompute failed")
        return EndpointSnapshot.objects.create(
            data_cutoff=cutoff, status=EndpointSnapshot.Status.FAILED, trigger=trigger, requested_by_id=user_id,
            data_as_of=data_as_of, error=f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}",
            timings={"total_s": round(time.perf_counter() - started, 4)},
        )  # fmt: skip


def latest_snapshot(cutoff: datetime.date | None = None) -> EndpointSnapshot | None:
    qs = EndpointSnapshot.objects.filter(status=EndpointSnapshot.Status.OK)
    if cutoff is not None:
        qs = qs.filter(data_cutoff=cutoff)
    return qs.order_by("-created_at", "-id").first()


def latest_failure_after(snapshot: EndpointSnapshot | None) -> EndpointSnapshot | None:
    qs = EndpointSnapshot.objects.filter(status=EndpointSnapshot.Status.FAILED)
    if snapshot is not None:
        qs = qs.filter(created_at__gt=snapshot.created_at)
    return qs.order_by("-created_at").first()


def is_stale(snapshot: EndpointSnapshot | None) -> bool:
    state = EndpointState.objects.filter(pk=1).first()
    if snapshot is None:
        return True
    return bool(state and state.data_changed_at and state.data_changed_at > snapshot.data_as_of)
