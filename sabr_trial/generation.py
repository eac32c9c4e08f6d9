"""The data generation: a number in the shared cache, bumped after commit of every change to study data.

A page fragment or a count computed from study data is stored under the generation it was computed in and read
under the current one, so nothing computed before a change is read after it. The change signals that bump it are
wired in ``visits.apps`` (every row of the clinical apps, history records included, queries, signatures, locks,
users' names).

The generation is read before the data: a result computed from data that changed meanwhile lands under the old
generation and is never read again. With the cache down every read misses and every result is computed (issue 16).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

_KEY = "visits:worklist-generation"
#: Per-patient generations: bumped by a change to a row of that patient (``patient_id``, or the patient itself);
#: a change tied to no patient (a study lock, a user, a CTCAE term, a query message) bumps the shared one.
_SHARED_KEY = "generation:shared"


def _patient_key(patient_id: int) -> str:
    return f"generation:patient:{patient_id}"


def _incr(key: str) -> None:
    from django.core.cache import cache

    try:
        cache.incr(key)  # one round trip: a save writing many rows bumps once per row
    except ValueError:
        # A generation key lost (evicted, flushed) starts again at a number never used before, so a fragment
        # stored under an old generation can never be read as current. Set after this change's commit, it is new
        # to every result computed before.
        cache.add(key, time.time_ns(), timeout=None)


def bump() -> None:
    """Start a new study-wide generation (called after commit of any change to study data)."""
    _incr(_KEY)


def bump_for(patient_id: int | None) -> None:
    """Start a new generation of one patient's data, or of the shared data (``None``: a change tied to no patient)."""
    _incr(_SHARED_KEY if patient_id is None else _patient_key(patient_id))


class _BumpOnce:
    """The bump of one transaction: registered with ``on_commit`` by every change in it (a savepoint rolled back
    drops only its own registrations), it runs once (an import of a thousand rows bumped a thousand times)."""

    def __init__(self) -> None:
        self.done = False
        #: the patients whose data changed (None: a change tied to no one patient, ``bump_for``)
        self.patients: set[int | None] = set()
        self.__qualname__ = "generation.bump"  # Django's robust on_commit logs it when it raises

    def __call__(self) -> None:
        if not self.done:
            self.done = True
            bump()
            for patient_id in self.patients:
                bump_for(patient_id)


_pending = threading.local()


def bump_after_commit(patient_id: int | None = None) -> None:
    """Bump once the current transaction commits (at once outside a transaction), once per transaction: the
    study-wide generation and that of each patient whose data changed (``patient_id``; None: the shared one).

    A patient noted in a savepoint that rolls back is bumped all the same (a needless recompute, never a stale one).
    """
    from django.db import transaction

    once = getattr(_pending, "bump", None)
    if once is None or once.done:
        once = _pending.bump = _BumpOnce()
    once.patients.add(patient_id)
    transaction.on_commit(once, robust=True)


def forget_pending() -> None:
    """Drop the bump noted for a transaction that will never commit (a test's, rolled back at its end): the next
    transaction of this thread would otherwise carry its patients."""
    _pending.__dict__.clear()


def current() -> int:
    """The current data generation (0 when the cache is empty or down)."""
    from django.core.cache import cache

    return int(cache.get(_KEY, 0))


def current_or_none() -> int | None:
    """The current generation for a fragment cache, or None when the cache cannot say (down): then compute."""
    return counter_or_none(_KEY)


def bump_counter(key: str) -> None:
    """Move another counter kept like the generations (``sabr_trial.authcache``'s access generation)."""
    _incr(key)


def counter_or_none(key: str) -> int | None:
    """A generation-like counter's value, started at a never-used number when absent; None when the cache is down."""
    from django.core.cache import cache

    found = cache.get(key)
    if found is None:
        cache.add(key, time.time_ns(), timeout=None)
        found = cache.get(key)
    return None if found is None else int(found)


#: Safety net for writes that bypass the model signals (a bulk load): a fragment is recomputed at least this often.
FRAGMENT_SECONDS = 600


def fragment(key: str, compute: Callable[[], Any], *, valid: Callable[[Any], bool] | None = None) -> Any:
    """Return ``compute()`` from the shared cache under ``key`` and the current generation, computing it on a miss.

    ``key`` must name everything the result depends on besides the study data: the language, the day, the reader's
    permissions. Never store CSRF tokens, messages or anything of the session in a fragment. ``valid(found)``: a kept
    result that also depends on the clock (a due time passed) is computed again when it returns False.
    """
    from django.core.cache import cache

    gen = current_or_none()
    if gen is None:
        return compute()
    full = f"{key}:g{gen}"
    found = cache.get(full)
    if found is None or (valid is not None and not valid(found)):
        found = compute()
        cache.set(full, found, timeout=FRAGMENT_SECONDS)
    return found


def patient_generations(patient_ids: list[int]) -> dict[int, str] | None:
    """Each patient's data version as one string (the shared generation and the patient's own), read in one round
    trip; a missing counter starts at a never-used number. None when the cache is down (then compute)."""
    from django.core.cache import cache

    keys = [_SHARED_KEY] + [_patient_key(pk) for pk in patient_ids]
    found = cache.get_many(keys)
    missing = [k for k in keys if k not in found]
    if missing:
        start = time.time_ns()
        for key in missing:
            cache.add(key, start, timeout=None)
        found.update(cache.get_many(missing))
        if any(k not in found for k in keys):
            return None
    shared = int(found[_SHARED_KEY])
    return {pk: f"s{shared}:p{int(found[_patient_key(pk)])}" for pk in patient_ids}


def per_patient(
    views: dict[str, Callable[[Any], Any]],
    wanted: str,
    patient_ids: list[int],
    compute: Callable[[list[int]], dict[int, Any]],
) -> dict[int, Any]:
    """One result per patient, kept in the shared cache under that patient's data version: a change to one patient
    recomputes that patient only. ``compute(ids)`` returns, in bulk, a value per patient missing; ``views`` names
    each form of it kept (key prefix -> function of the value: a list and its length, say), all stored when one is
    computed; ``wanted`` is the prefix returned.

    Each prefix must name what its results depend on besides the data (the day, the language). Cache down: computed.
    """
    from django.core.cache import cache

    versions = patient_generations(patient_ids)
    if versions is None:
        return {pk: views[wanted](value) for pk, value in compute(patient_ids).items()}
    full = {pk: f"{wanted}:{pk}:{versions[pk]}" for pk in patient_ids}
    cached = cache.get_many(list(full.values()))
    out = {pk: cached[k] for pk, k in full.items() if k in cached}
    missing = [pk for pk in patient_ids if pk not in out]
    if missing:
        computed = compute(missing)
        cache.set_many(
            {
                f"{prefix}:{pk}:{versions[pk]}": view(value)
                for pk, value in computed.items()
                for prefix, view in views.items()
            },
            timeout=FRAGMENT_SECONDS,
        )
        out.update({pk: views[wanted](value) for pk, value in computed.items()})
    return out


def patient_fragment(patient_id: int, key: str, compute: Callable[[], Any]) -> Any:
    """Like ``fragment``, for a result that reads one patient's data (and shared data: users, locks, reference
    data) only: a change to another patient keeps it."""
    from django.core.cache import cache

    versions = patient_generations([patient_id])
    if versions is None:  # the cache is down: compute
        return compute()
    full = f"{key}:{versions[patient_id]}"
    result = cache.get(full)
    if result is None:
        result = compute()
        cache.set(full, result, timeout=FRAGMENT_SECONDS)
    return result
