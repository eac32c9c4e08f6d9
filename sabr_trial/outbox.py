"""The transactional outbox: after-commit work recorded in the database, delivered after the commit.

A save records one ``OutboxMessage`` per piece of work (run the edit checks, note that endpoint inputs changed,
e-mail an SAE, build a report) in its own transaction, so the work exists if and only if the change does. After
the commit the rows are delivered: each topic's handler, registered by the app that owns the work in its
``AppConfig.ready()``, runs (usually it enqueues a Celery task). A handler that raises (broker down, mail server
down) leaves its row pending and never reaches the response; the periodic sweep (Celery beat, and once at worker
start-up) delivers pending rows and runs the registered catch-up checks (a stale dashboard, a build whose worker
died). A row is taken by one deliverer at a time through a short lease, so a deliverer that dies mid-way leaves
the row to the next sweep: delivery is at least once, and handlers are idempotent.

Without a broker (the embedded default) the handlers run the work in-process after the commit, as before.
"""

from __future__ import annotations

import datetime
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from sabr_trial import pipeline

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], None]

#: How long one deliverer holds a row before another may take it.
LEASE = datetime.timedelta(seconds=60)
#: The sweep leaves younger rows to the after-commit delivery of the request that wrote them.
SWEEP_GRACE = datetime.timedelta(seconds=10)
#: Rows taken per sweep (the rest wait for the next one).
SWEEP_BATCH = 500

_handlers: dict[str, Handler] = {}
_catch_ups: list[Callable[[], Any]] = []


def register(topic: str, handler: Handler) -> None:
    """Deliver every message of ``topic`` by calling ``handler(payload)`` (idempotent, may raise)."""
    if topic in _handlers and _handlers[topic] is not handler:
        raise ValueError(f"outbox topic {topic!r} registered twice")
    _handlers[topic] = handler


def register_catch_up(check: Callable[[], Any]) -> None:
    """Run ``check()`` on every sweep: it repairs what a lost message or a dead worker left undone."""
    if check not in _catch_ups:
        _catch_ups.append(check)


class _Delivery:
    """The after-commit delivery of one transaction's messages.

    Every ``record`` registers it with ``transaction.on_commit`` (a savepoint that rolls back drops only its own
    registrations, and its rows); the first call after the commit delivers, later calls do nothing.
    """

    def __init__(self) -> None:
        #: The messages recorded: their ids, or the rows themselves while a bulk batch keeps them for its insert.
        self.ids: list[Any] = []
        #: (topic, key) -> ids recorded under it (``once`` asks the database about these only, not about all ids).
        self.by_key: dict[tuple[str, str], list[Any]] = {}
        self.started = False
        # Django's robust on_commit logs ``func.__qualname__`` when a callback raises; instances have none.
        self.__qualname__ = "outbox.deliver"

    def __call__(self) -> None:
        if self.started:
            return
        self.started = True
        deliver(_written(self.ids))


def _written(recorded: list[Any]) -> list[int]:
    """The ids of the recorded messages (a row a bulk batch kept has its id once inserted; a row dropped with a
    rolled-back savepoint before its insert has none and is left out)."""
    ids = [m if isinstance(m, int) else m.pk for m in recorded]
    return [pk for pk in ids if pk is not None]


#: Per thread (a connection belongs to one thread) and database alias: the delivery of the open transaction.
_open = threading.local()


def forget_pending() -> None:
    """Drop this thread's delivery of a transaction that will never commit (a test's, rolled back at its end): the
    next transaction would otherwise inherit its message ids."""
    _open.__dict__.clear()


def _current_delivery(alias: str) -> _Delivery:
    by_alias: dict[str, _Delivery] = _open.__dict__.setdefault("by_alias", {})
    delivery = by_alias.get(alias)
    if delivery is None or delivery.started:  # the previous transaction's delivery ran: this is a new one
        delivery = by_alias[alias] = _Delivery()
    return delivery


def record(topic: str, payload: dict[str, Any] | None = None, *, key: str = "", once: bool = False) -> None:
    """Record one message in the current transaction; it is delivered after the commit.

    ``once``: record it only once per (topic, key) in this atomic block (one edit-check run per patient for a
    transaction that saves several of the patient's forms).
    """
    if topic not in _handlers:
        raise KeyError(f"no outbox handler for {topic!r}")
    from sabr_trial.models import OutboxMessage

    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        with transaction.atomic():
            record(topic, payload, key=key, once=once)
        return
    delivery = _current_delivery(connection.alias)
    # Asked of the database, not of a list: the rows of a rolled-back savepoint are gone, so they never stand in
    # for a message recorded later (public transaction API only, no connection.run_on_commit / savepoint_ids).
    # Only the ids recorded under the same topic and key are asked about (a long transaction records thousands).
    same = delivery.by_key.setdefault((topic, key[:200]), [])
    queue = pipeline.bulk_batch()
    if once and same:
        # a message a bulk batch still keeps for its insert exists (a rolled-back savepoint drops it from the
        # batch's rows): no question to the database (an import records one per form and patient)
        if queue is not None and any(queue.is_pending(m) for m in same if not isinstance(m, int)):
            return
        written = _written(same)
        if written and OutboxMessage.objects.filter(pk__in=written, sent_at__isnull=True).exists():
            return
    message = OutboxMessage(topic=topic, key=key[:200], payload=payload or {})
    if queue is None:
        message.save()
        delivery.ids.append(message.pk)
        same.append(message.pk)
    else:  # written with the batch's other rows, with the time it has now (``services.write_pending``)
        message.created_at = timezone.now()
        queue.add_pending(message)
        delivery.ids.append(message)
        same.append(message)
    transaction.on_commit(delivery, robust=True)


@dataclass(frozen=True)
class Delivered:
    sent: int
    failed: int
    skipped: int


#: Messages taken by one statement (a sweep's 500 in five).
CLAIM_CHUNK = 100


def deliver(ids: list[int] | None = None) -> Delivered:
    """Deliver the given pending messages (all pending ones when ``ids`` is None); never raises.

    Messages are taken a chunk at a time with one statement (``UPDATE ... RETURNING``: a save's two messages cost
    three queries, not six), their handlers run in order, and the sent ones are marked with one statement. A
    deliverer that dies before the mark leaves them to the sweep, which delivers them again (at least once).
    """
    from sabr_trial.models import OutboxMessage

    sent = failed = skipped = 0
    if ids is None:
        ids = list(
            OutboxMessage.objects.filter(sent_at__isnull=True)
            .order_by("created_at", "pk")
            .values_list("pk", flat=True)[:SWEEP_BATCH]
        )
    for start in range(0, len(ids), CLAIM_CHUNK):
        chunk = ids[start : start + CLAIM_CHUNK]
        try:
            taken = _claim(chunk)
        except Exception:  # the database itself failed: the rows stay pending for the sweep
            log.exception("outbox messages %s: delivery failed", chunk)
            failed += len(chunk)
            continue
        skipped += len(chunk) - len(taken)  # sent already, or another deliverer holds them
        done: list[int] = []
        for message in taken:
            try:
                _handlers[message.topic](message.payload)
            except Exception as exc:
                log.warning(
                    "outbox %s %s not delivered (attempt %s): %s",
                    message.topic,
                    message.key,
                    message.attempts,
                    exc,
                )
                failed += 1
                try:
                    OutboxMessage.objects.filter(pk=message.pk).update(
                        claimed_until=None, last_error=f"{type(exc).__name__}: {exc}"[:2000]
                    )
                except Exception:
                    log.exception("outbox message %s: could not release it", message.pk)
                continue
            done.append(message.pk)
        if done:
            try:
                OutboxMessage.objects.filter(pk__in=done).update(
                    sent_at=timezone.now(), claimed_until=None, last_error=""
                )
            except (
                Exception
            ):  # delivered but not marked: the sweep delivers them again (handlers are idempotent)
                log.exception("outbox messages %s: delivered, not marked sent", done)
        sent += len(done)
    return Delivered(sent, failed, skipped)


def _claim(ids: list[int]) -> list[Any]:
    """Take the pending, unleased messages among ``ids`` for ``LEASE``, in one statement; returns them in id order."""
    from django.db import connection

    from sabr_trial.models import OutboxMessage

    if not ids:
        return []
    now = timezone.now()
    ops = connection.ops
    table = ops.quote_name(OutboxMessage._meta.db_table)
    marks = ", ".join(["%s"] * len(ids))
    sql = (
        f"UPDATE {table} SET claimed_until = %s, attempts = attempts + 1 "
        f"WHERE id IN ({marks}) AND sent_at IS NULL AND (claimed_until IS NULL OR claimed_until < %s) "
        "RETURNING " + ", ".join(ops.quote_name(f.column) for f in OutboxMessage._meta.concrete_fields)
    )
    params = [ops.adapt_datetimefield_value(now + LEASE), *ids, ops.adapt_datetimefield_value(now)]
    return sorted(OutboxMessage.objects.raw(sql, params), key=lambda m: m.pk)


def pending_count() -> int:
    from sabr_trial.models import OutboxMessage

    return OutboxMessage.objects.filter(sent_at__isnull=True).count()


def sweep() -> Delivered:
    """Deliver pending messages older than the grace period, then run every catch-up check; never raises."""
    from sabr_trial.models import OutboxMessage

    ids = list(
        OutboxMessage.objects.filter(sent_at__isnull=True, created_at__lt=timezone.now() - SWEEP_GRACE)
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    result = deliver(ids)
    for check in _catch_ups:
        try:
            check()
        except Exception:
            log.exception("outbox sweep: catch-up %s failed", getattr(check, "__qualname__", check))
    return result
