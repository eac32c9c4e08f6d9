"""Recompute orchestration: mark data changed, debounce the enqueue, store snapshots atomically."""

from __future__ import annotations

import datetime
import gc
import hashlib
import json
import logging
import time
import traceback
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import JSONField, Value
from django.db.models.functions import Cast
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_noop

from endpoints.models import EndpointListingContent, EndpointListingPage, EndpointSnapshot, EndpointState
from sabr_trial.env import env_int

log = logging.getLogger(__name__)

#: Debounce (issue 7: a burst of saves gives one or two runs, not one per save). The first save of a burst
#: enqueues one recompute ``DEBOUNCE_SECONDS`` ahead; when it comes due, the task runs only if no save came in
#: the last ``DEBOUNCE_SECONDS`` (trailing edge), otherwise it postpones itself to that quiet point. A burst of
#: any length with gaps shorter than the window thus gives one run, and saves made while it runs give one more.
#: A steady stream never starves the dashboard: after ``DEBOUNCE_MAX_WAIT`` seconds the run happens anyway.
#: Environment: ``ENDPOINT_DEBOUNCE_SECONDS`` (default 20; the worker test sets a few seconds) and
#: ``ENDPOINT_DEBOUNCE_MAX_WAIT_SECONDS`` (default 6 windows).
DEBOUNCE_SECONDS = env_int("ENDPOINT_DEBOUNCE_SECONDS", 20, minimum=1)
DEBOUNCE_MAX_WAIT = env_int("ENDPOINT_DEBOUNCE_MAX_WAIT_SECONDS", 6 * DEBOUNCE_SECONDS, minimum=1)
#: Cache key (Redis, shared by web and workers) holding the epoch second the pending run was first scheduled.
_SCHEDULED_KEY = "endpoints:recompute-scheduled"


def _state() -> EndpointState:
    state, _ = EndpointState.objects.get_or_create(pk=1)
    return state


def mark_data_changed(model: Any = None, pk: Any = None) -> None:
    """Record that endpoint inputs changed and schedule one (debounced) recompute.

    Called after commit. If the broker is down the change is still recorded, so the dashboard
    says its results are stale; the nightly run or the next save catches up. Nothing is lost.
    """
    now = timezone.now()
    if not EndpointState.objects.filter(pk=1).update(data_changed_at=now):  # one statement (was four)
        EndpointState.objects.update_or_create(pk=1, defaults={"data_changed_at": now})
    schedule_recompute(trigger="data change")


def _key_timeout() -> int:
    # Outlives the longest legitimate wait, so a lost task (worker killed) frees the key by itself.
    return DEBOUNCE_MAX_WAIT + 3 * DEBOUNCE_SECONDS


def schedule_recompute(
    *, trigger: str, cutoff: datetime.date | None = None, user_id: int | None = None
) -> bool:
    """Enqueue the recompute task unless one is already pending (the debounce)."""
    from endpoints.tasks import recompute

    if settings.CELERY_TASK_ALWAYS_EAGER:
        # Embedded default (no broker): a save must stay fast, so nothing runs here; the dashboard
        # recomputes when it is opened with newer data waiting (see endpoints.views.dashboard).
        return False
    if not cache.add(_SCHEDULED_KEY, time.time(), timeout=_key_timeout()):
        return False
    kwargs = {
        "trigger": trigger,
        "cutoff": cutoff.isoformat() if cutoff else None,
        "user_id": user_id,
        "debounced": True,
    }
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


def catch_up() -> bool:
    """Outbox sweep: schedule a recompute when the dashboard is stale and no run is on its way (issue 16).

    Covers what a save's own scheduling could not: the broker or the cache was down, the worker was killed in the
    middle of a run or with the debounced task in hand, Redis restarted empty. A duplicate run is harmless (the
    recompute is idempotent and incremental). Returns True when a run was scheduled.
    """
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return False  # the embedded default recomputes when the dashboard is opened
    changed = EndpointState.objects.filter(pk=1).values_list("data_changed_at", flat=True).first()
    if changed is None:
        return False
    latest = EndpointSnapshot.objects.order_by("-created_at", "-id").only("data_as_of", "status").first()
    if latest is not None and latest.data_as_of is not None and latest.data_as_of >= changed:
        return (
            False  # current (or its last run failed on these very data: the next change or the night retries)
        )
    now = time.time()
    if now - changed.timestamp() < DEBOUNCE_SECONDS:
        return False  # the save's own debounced run is still due
    scheduled_at = cache.get(_SCHEDULED_KEY)
    if scheduled_at is not None and now - float(scheduled_at) < DEBOUNCE_MAX_WAIT + 2 * DEBOUNCE_SECONDS:
        return False  # a run is pending and not overdue
    cache.delete(_SCHEDULED_KEY)
    return schedule_recompute(trigger="sweep")


def debounce_delay(now: datetime.datetime | None = None) -> float:
    """Seconds the due debounced run should still wait (0: run now, and free the key for the next burst).

    Trailing edge: wait until ``DEBOUNCE_SECONDS`` have passed since the last recorded change, unless the run
    has already waited ``DEBOUNCE_MAX_WAIT`` seconds since it was first scheduled.
    """
    now = now or timezone.now()
    scheduled_at = cache.get(_SCHEDULED_KEY)
    changed = EndpointState.objects.filter(pk=1).values_list("data_changed_at", flat=True).first()
    if changed is not None and scheduled_at is not None:
        quiet = (now - changed).total_seconds()
        waited = now.timestamp() - float(scheduled_at)
        if quiet < DEBOUNCE_SECONDS and waited < DEBOUNCE_MAX_WAIT:
            return max(0.5, min(DEBOUNCE_SECONDS - quiet, DEBOUNCE_MAX_WAIT - waited))
    # Free the key before reading the data: a save committed from now on schedules the next run.
    cache.delete(_SCHEDULED_KEY)
    return 0.0


class _QueryCounter:
    """Count the queries of the study read (Django's public ``execute_wrapper``; no test utility in production)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.count += 1
        return execute(sql, params, many, context)


def run_recompute(
    *, trigger: str, cutoff: datetime.date | None = None, user_id: int | None = None
) -> EndpointSnapshot:
    """Read the whole study, derive, compute, draw, and store one snapshot (or the error).

    Only patients whose data changed since an earlier run are derived again (``endpoints.incremental``: the
    per-patient memo, keyed by the content of each patient's rows); statistics and figures are always computed
    from every patient.
    """
    from endpoints import incremental
    from endpoints.engine import summarise

    cutoff = cutoff or timezone.localdate()
    state = _state()
    data_as_of = state.data_changed_at or timezone.now()
    started = time.perf_counter()
    gc_was_enabled = gc.isenabled()
    gc.disable()  # a cold run builds ~10^6 acyclic objects: pausing the cycle collector saves a third of it
    try:
        with connection.execute_wrapper(counter := _QueryCounter()):
            t0 = time.perf_counter()
            study = incremental.read_study(cutoff)
            read_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            safety = summarise_safety(study.safety_parts, _safety_population())
            safety_s = time.perf_counter() - t0
        url = reverse("casebook", args=[0]).replace("/0/", "/{patient_id}/")
        entries = study.entries
        result = summarise(
            [e.derived for e in entries],
            [e.plot for e in entries],
            data_cutoff=cutoff,
            url_template=url,
            input_fingerprint=study.fingerprint,
            labels=plot_labels(),
            patient_rows=[e.row_json for e in entries],
            labels_by_language={code: plot_labels(code) for code, _name in settings.LANGUAGES},
        )
        result.results["safety"] = safety
        timings: dict[str, float] = {
            "read_s": read_s,
            **{f"read_{k}": v for k, v in study.timings.items()},
            "safety_s": safety_s,
            **result.timings,
            "patients_derived": study.misses,
            "memo_hits": study.hits,
            "shared_memo_hits": study.shared_hits,
            "ae_patients_counted": study.safety_misses,
        }
        t_store = time.perf_counter()
        rows = result.results.pop(
            "patients"
        )  # stored once, in the listing pages (EndpointSnapshot.patient_rows)
        with transaction.atomic():
            snap = EndpointSnapshot.objects.create(
                data_cutoff=cutoff,
                status=EndpointSnapshot.Status.OK,
                trigger=trigger,
                requested_by_id=user_id,
                data_as_of=data_as_of,
                fingerprint=result.fingerprint,
                results=result.results,
                figures=result.figures,
                figures_i18n=result.figures_by_language,
                summary={k: v for k, v in result.results.items() if k not in _HEAVY_KEYS},
                timings={},
                n_patients=result.results["n_patients"],
                queries=counter.count,
            )
            _store_listing(snap, rows)
            timings.update(store_s=time.perf_counter() - t_store, total_s=time.perf_counter() - started)
            snap.timings = {k: round(v, 4) for k, v in timings.items()}
            snap.save(update_fields=["timings"])
        return snap
    except Exception as exc:
        log.exception("endpoint recompute failed")
        return EndpointSnapshot.objects.create(
            data_cutoff=cutoff,
            status=EndpointSnapshot.Status.FAILED,
            trigger=trigger,
            requested_by_id=user_id,
            data_as_of=data_as_of,
            error=f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}",
            timings={"total_s": round(time.perf_counter() - started, 4)},
        )
    finally:
        if gc_was_enabled:
            gc.enable()


def _store_listing(snap: EndpointSnapshot, rows: list[str]) -> None:
    """Store the listing in pages of ``LISTING_PAGE_SIZE`` rows, each page's rows once under their SHA-256.

    ``rows``: each patient's row as JSON text (``engine.patient_row_json``). A page whose rows an earlier snapshot
    already stored is not sent again: after one form save, one page is written.
    """
    pages = [
        "[" + ",".join(rows[i : i + LISTING_PAGE_SIZE]) + "]" for i in range(0, len(rows), LISTING_PAGE_SIZE)
    ]
    digests = [hashlib.sha256(text.encode()).hexdigest() for text in pages]
    known = set(EndpointListingContent.objects.filter(digest__in=digests).values_list("digest", flat=True))
    fresh = {d: text for d, text in zip(digests, pages, strict=True) if d not in known}
    if fresh:
        # The text goes to PostgreSQL as one parameter cast to jsonb: no dump and reload of the rows in Python.
        on_pg = connection.vendor == "postgresql"
        EndpointListingContent.objects.bulk_create(
            (
                EndpointListingContent(
                    digest=d, rows=Cast(Value(text), JSONField()) if on_pg else json.loads(text)
                )
                for d, text in fresh.items()
            ),
            ignore_conflicts=True,
        )
    EndpointListingPage.objects.bulk_create(
        EndpointListingPage(snapshot=snap, number=n, content_id=d) for n, d in enumerate(digests, start=1)
    )


def plot_labels(language: str | None = None) -> dict[str, str]:
    """The figures' texts in ``language`` (default: the active one, the site's LANGUAGE_CODE in a worker)."""
    from django.utils import translation

    from endpoints.plots import DEFAULT_LABELS

    with translation.override(language or translation.get_language()):
        return {key: translation.gettext(text) for key, text in DEFAULT_LABELS.items()}


def figures_in(snap: EndpointSnapshot | None, language: str | None = None) -> dict[str, str]:
    """The snapshot's SVG figures with their texts in ``language`` (default: the reader's active language).

    Snapshots computed before the figures were drawn per language have only ``figures``.
    """
    from django.utils import translation

    if snap is None:
        return {}
    by_language = snap.figures_i18n or {}
    return by_language.get(language or translation.get_language() or "") or snap.figures or {}


def input_fingerprint(cutoff: datetime.date) -> str:
    """The fingerprint a recompute at ``cutoff`` would store for the data as they are now."""
    from endpoints import incremental

    return incremental.input_fingerprint(cutoff)


#: Rows of the related-AE tables (the dashboard's safety summary and the report's): translated where shown.
AGENT_LABELS: dict[str | None, str] = {
    None: gettext_noop("Any study treatment"),
    "SABR": "SABR",
    "AXITINIB": gettext_noop("Axitinib"),
    "TORIPALIMAB": gettext_noop("Toripalimab"),
}


def _safety_population() -> int:
    from adverse_events.selectors import safety_population

    return safety_population()


def summarise_safety(parts: Iterable[Any], n: int) -> dict[str, Any]:
    """The dashboard's safety summary from per-patient parts (``incremental.safety_part``) and the population N.

    The rows and labels are those of ``adverse_events.reporting.overview`` and ``related_by_agent`` (the safety
    page's and the study report's tables); every count is a count of patients, so it is the sum of the parts.
    """
    from adverse_events import reporting

    parts = list(parts)
    with_ae = sum(1 for part in parts if part.n_episodes)
    if with_ae > n:
        raise reporting.ReportingError(f"{with_ae} patients have AEs but the safety population N is {n}")
    overview = reporting.overview((), 1)
    related = reporting.related_by_agent((), 1)
    return {
        "n": n,
        "n_episodes": sum(part.n_episodes for part in parts),
        "overview": [
            (row.label, str(reporting.patient_count(sum(part.overview[i] for part in parts), n)))
            for i, row in enumerate(overview)
        ],
        "related": [
            {
                "label": AGENT_LABELS.get(row.agent, str(row.agent)),
                "any": str(reporting.patient_count(sum(part.related[i][0] for part in parts), n)),
                "g3": str(reporting.patient_count(sum(part.related[i][1] for part in parts), n)),
            }
            for i, row in enumerate(related)
        ],
    }


def latest_snapshot(
    cutoff: datetime.date | None = None, *, light: bool = False, bare: bool = False
) -> EndpointSnapshot | None:
    """The latest good snapshot (at ``cutoff``); ``light`` leaves the large results JSON in the database, ``bare``
    also the figures and the summary (read when first used: the dashboard's cached body needs none of them)."""
    qs = EndpointSnapshot.objects.filter(status=EndpointSnapshot.Status.OK)
    if light or bare:
        qs = qs.defer("results", *(("figures", "figures_i18n", "summary") if bare else ()))
    if cutoff is not None:
        qs = qs.filter(data_cutoff=cutoff)
    return qs.order_by("-created_at", "-id").first()


def latest_failure_after(snapshot: EndpointSnapshot | None) -> EndpointSnapshot | None:
    qs = EndpointSnapshot.objects.filter(status=EndpointSnapshot.Status.FAILED).defer(
        "results", "figures", "summary"
    )
    if snapshot is not None:
        qs = qs.filter(created_at__gt=snapshot.created_at)
    return qs.order_by("-created_at").first()


def is_stale(snapshot: EndpointSnapshot | None) -> bool:
    state = EndpointState.objects.filter(pk=1).first()
    if snapshot is None:
        return True
    return bool(state and state.data_changed_at and state.data_changed_at > snapshot.data_as_of)


#: Patients per page of the dashboard's derivation listing.
LISTING_PAGE_SIZE = 50
#: Keys of ``results`` the dashboard does not show (large: curves and the full per-patient rows).
_HEAVY_KEYS = ("patients", "km", "lc_patient", "lc_lesion")


def dashboard_parts(
    snapshot: EndpointSnapshot, page: int
) -> tuple[dict[str, Any], list[dict[str, Any]], int]:
    """Return (results without the heavy keys, one page of patient rows, number of pages) of a snapshot.

    On PostgreSQL only the summary and the page leave the database (two jsonb expressions on one row), so the
    dashboard's cost does not grow with the number of patients; elsewhere the results are sliced in Python.
    """
    total = snapshot.n_patients
    pages = max(1, -(-total // LISTING_PAGE_SIZE))
    page = min(max(page, 1), pages)
    stored = snapshot.summary
    if stored:  # snapshots since migration 0003: the summary and one listing page, two small rows
        page_rows = (
            EndpointListingPage.objects.filter(snapshot_id=snapshot.pk, number=page)
            .values_list("content__rows", flat=True)
            .first()
        )
        return stored, page_rows or [], pages
    first, last = (page - 1) * LISTING_PAGE_SIZE, min(page * LISTING_PAGE_SIZE, total) - 1
    if connection.vendor == "postgresql":
        from django.db.models import JSONField
        from django.db.models.expressions import RawSQL

        path = f"$.patients[{first} to {max(first, last)}]"
        row = (
            EndpointSnapshot.objects.filter(pk=snapshot.pk)
            .annotate(
                summary=RawSQL("results - %s::text[]", [list(_HEAVY_KEYS)], output_field=JSONField()),
                rows=RawSQL(
                    "jsonb_path_query_array(results, %s::jsonpath)", [path], output_field=JSONField()
                ),
            )
            .values("summary", "rows")
            .get()
        )
        rows = row["rows"] if last >= first else []
        return row["summary"], rows, pages
    results = EndpointSnapshot.objects.values_list("results", flat=True).get(pk=snapshot.pk)
    rows = results.get("patients", [])[first : last + 1]
    return {k: v for k, v in results.items() if k not in _HEAVY_KEYS}, rows, pages
