"""The hook registries of the one write pipeline (WRITE-PIPELINE.md, README "Architecture").

The base app owns these registries and calls whatever was registered; it imports no clinical app.
Each clinical app fills them from its ``AppConfig.ready()`` (through its ``crfs`` module):

- ``rules``: stage 3, cross-field and cross-form edit checks of one row, ``fn(instance)``; each raises
  ``ValidationError`` with the rule id in its message. ``CrfBase.clean()`` runs them, so a ModelForm, the
  services, the API and the importer all run the same rules.
- ``derivations``: stage 4, ``fn(instance)`` fills the derived fields of the row being saved (from pure
  functions). It changes no other row.
- ``followups``: stage 8, ``fn(instance)`` re-derives rows of other forms that the change invalidates. They
  write through ``sabr_trial.services.crf_system_update``, in the same transaction, so each re-derived row
  gets its own history row with the reason "recomputed after <form> v<n> changed".

A model's hooks are those registered for it and for its base classes, in registration order (the apps'
order in ``INSTALLED_APPS``, which is the layer order: a lower app's hook runs first).

Batch entry (:func:`batch`, used by ``import_study``): inside a batch the follow-ups of each save are not run at
once but queued, one per hook and key (``register(..., once_per=...)``: a SABR target is re-derived once for all
its fractions, a patient's AEs once for all the treatment rows), and run when the batch is flushed
(``sabr_trial.services.flush_batch``), in the same transaction, with the cause and the history rows they would
have had. Every save still passes every rule and leaves its own history row; only the repeated re-derivations of
the same rows collapse into one.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

Hook = Callable[[Any], None]


class HookRegistry:
    """Callables per model class, looked up along the model's MRO."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._hooks: dict[type, list[Hook]] = {}
        self._once_per: dict[Hook, Callable[[Any], Any]] = {}

    def register(self, model: type, hook: Hook, *, once_per: Callable[[Any], Any] | None = None) -> Hook:
        """Register ``hook`` for ``model`` (and its subclasses); registering the same hook twice is a no-op.

        ``once_per(instance)``: in a batch, the hook runs once per this key (the first instance queued with it)
        instead of once per save; the hook must then read what it re-derives afresh, not from the instance.
        """
        hooks = self._hooks.setdefault(model, [])
        if hook not in hooks:
            hooks.append(hook)
        if once_per is not None:
            self._once_per[hook] = once_per
        return hook

    def batch_key(self, hook: Hook, instance: Any) -> Any:
        """The key under which a batch queues ``hook(instance)``: its ``once_per`` key, else this call alone."""
        once_per = self._once_per.get(hook)
        return (hook, once_per(instance)) if once_per is not None else (hook, next(_calls))

    def for_model(self, model: type) -> list[Hook]:
        found: list[Hook] = []
        for klass in reversed(model.__mro__):
            found.extend(self._hooks.get(klass, ()))
        return found

    def run(self, instance: Any) -> None:
        for hook in self.for_model(type(instance)):
            hook(instance)

    def __repr__(self) -> str:
        return f"<HookRegistry {self.name}: {sum(len(v) for v in self._hooks.values())} hooks>"


_calls = itertools.count()

rules = HookRegistry("rules")
derivations = HookRegistry("derivations")
followups = HookRegistry("followups")


@dataclass(frozen=True)
class Cause:
    """The change whose follow-ups are running: who made it, to which form, at which version."""

    user: Any
    title: str
    model: type
    pk: Any
    version: int


_cause: ContextVar[Cause | None] = ContextVar("crf_change_cause", default=None)


_reads: ContextVar[dict[Any, Any] | None] = ContextVar("crf_save_reads", default=None)


@contextlib.contextmanager
def same_reads() -> Iterator[None]:
    """Stages 3-4 of one save (rules, then derivations) read other rows that the save has not changed yet: a
    read asked twice there (the AE rules and the AE derivation both read the patient's exposure) is made once."""
    token = _reads.set({})
    try:
        yield
    finally:
        _reads.reset(token)


def read_once(key: Any, compute: Callable[[], Any]) -> Any:
    """``compute()``, made once per key inside :func:`same_reads` (each call outside it computes afresh)."""
    memo = _reads.get()
    if memo is None:
        return compute()
    if key not in memo:
        memo[key] = compute()
    return memo[key]


#: The attribute on a row being saved that holds its many-to-many values as submitted (``{name: [rows]}``):
#: a many-to-many link is written after the row, so the rules (stage 3) read the links from here.
PENDING_M2M = "_m2m_pending"


def m2m_values(instance: Any, name: str) -> list[Any]:
    """The rows of the many-to-many field ``name`` that the save of ``instance`` will leave: those submitted with
    it (form, API, importer, services), else those stored, else none (a new row)."""
    pending = getattr(instance, PENDING_M2M, None) or {}
    if name in pending:
        return list(pending[name] or [])
    if getattr(instance, "pk", None):
        return list(getattr(instance, name).all())
    return []


@contextlib.contextmanager
def m2m_submitted(instance: Any, m2m: dict[str, Any] | None) -> Iterator[None]:
    """Let the rules of ``instance`` see the many-to-many values ``m2m`` while the block runs (see
    :func:`m2m_values`)."""
    had = getattr(instance, PENDING_M2M, None)
    setattr(instance, PENDING_M2M, {**(had or {}), **(m2m or {})})
    try:
        yield
    finally:
        if had is None:
            delattr(instance, PENDING_M2M)
        else:
            setattr(instance, PENDING_M2M, had)


def current_cause() -> Cause | None:
    """The change whose follow-ups are running now, or None (a recompute started by a command or a job)."""
    return _cause.get()


@contextlib.contextmanager
def caused_by(cause: Cause) -> Iterator[None]:
    """Run the follow-ups of ``cause`` with it as the current cause (nested causes keep the outermost)."""
    if _cause.get() is not None:
        yield
        return
    token = _cause.set(cause)
    try:
        yield
    finally:
        _cause.reset(token)


# --- Batch entry -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Deferred:
    """A follow-up queued by a batch: what to run, the change that caused it, and the caller's tag at that time."""

    run: Callable[[], None]
    cause: Cause | None
    tag: Any
    #: Run in its own savepoint at the flush (a refusal rolls back this follow-up only); False for the pipeline's
    #: own bookkeeping that refuses nothing (the outbox records, the casebook-signature void).
    savepoint: bool = True


class Batch:
    """The follow-ups queued since the batch opened, one per key, in the order first queued.

    A bulk batch (``batch(bulk=True)``, the importer) also keeps rows that nothing reads back while it runs (the
    history row and the audit event of each new CRF row, built when the row is saved: :func:`add_pending`), to write
    them with one insert per table (``sabr_trial.services.write_pending``)."""

    def __init__(self, *, bulk: bool = False) -> None:
        self._queue: dict[Any, Deferred] = {}
        #: Reads kept for the batch (:func:`batch_read`): value by key, and the keys that read each model.
        self.reads: dict[Any, Any] = {}
        self.read_models: dict[type, set[Any]] = {}
        #: The kept row lists of :func:`batch_rows` (in ``reads``), which take a saved row of their model in: by
        #: model, field and value, their key; and by (model, pk), the keys of the lists that hold that row. A save
        #: looks up the lists it concerns, not every list of its model (one per patient: that was quadratic).
        self.row_reads: dict[type, dict[str, dict[Any, Any]]] = {}
        self.row_holders: dict[tuple[type, Any], set[Any]] = {}
        self.bulk = bulk
        #: Rows waiting for their bulk insert, by model, in the order they were made.
        self.pending: dict[type, list[Any]] = {}

    def add_pending(self, row: Any) -> None:
        rows = self.pending.setdefault(type(row), [])
        row._pending_at = (self, len(rows))  # ``is_pending`` without a walk through the list
        rows.append(row)

    def is_pending(self, row: Any) -> bool:
        """Whether ``row`` still waits for its insert here (not written, not dropped with a savepoint)."""
        at = getattr(row, "_pending_at", None)
        if at is None or at[0] is not self:
            return False
        rows = self.pending.get(type(row), [])
        return at[1] < len(rows) and rows[at[1]] is row

    def take_pending(self, model: type | None = None) -> dict[type, list[Any]]:
        """The rows waiting (of ``model``, or all), oldest first; they wait no more afterwards."""
        if model is None:
            taken, self.pending = self.pending, {}
            return taken
        rows = self.pending.pop(model, None)
        return {model: rows} if rows else {}

    @contextlib.contextmanager
    def savepoint(self) -> Iterator[None]:
        """Around a savepoint: the rows made in the block that raises are dropped with the block's other writes."""
        mark = {model: len(rows) for model, rows in self.pending.items()}
        try:
            yield
        except BaseException:
            for model in list(self.pending):
                del self.pending[model][mark.get(model, 0) :]
                if not self.pending[model]:
                    del self.pending[model]
            raise

    def defer(
        self, key: Any, run: Callable[[], None], *, cause: Cause | None = None, savepoint: bool = True
    ) -> None:
        """Queue ``run`` under ``key`` unless something is queued under it already (cause: the current one)."""
        if key not in self._queue:
            self._queue[key] = Deferred(
                run, cause if cause is not None else _cause.get(), _tag.get(), savepoint=savepoint
            )

    def take(self) -> list[Deferred]:
        """Everything queued, oldest first; the queue is empty afterwards."""
        queued = list(self._queue.values())
        self._queue.clear()
        return queued

    def __len__(self) -> int:
        return len(self._queue)


_batch: ContextVar[Batch | None] = ContextVar("crf_batch", default=None)
_tag: ContextVar[Any] = ContextVar("crf_batch_tag", default=None)


@contextlib.contextmanager
def batch(*, bulk: bool = False, carry: Batch | None = None) -> Iterator[Batch]:
    """Open a batch (a batch opened inside another one is the outer one): flush it before it closes.

    ``bulk``: keep the history rows and audit events of the batch's new rows for one insert per table (the caller
    writes them: ``sabr_trial.services.flush_batch`` or ``write_pending``, before the batch closes).
    ``carry``: a batch closed just before, in the same transaction, with nothing written between them: its kept
    reads (:func:`batch_read`) stay kept (the importer's form after form: the locks and the consent date are read
    once per patient, not once per form)."""
    outer = _batch.get()
    if outer is not None:
        yield outer
        return
    opening = Batch(bulk=bulk)
    if carry is not None:
        opening.reads = dict(carry.reads)
        opening.read_models = {model: set(keys) for model, keys in carry.read_models.items()}
        # the closed batch is not used again: its row indexes are taken over, not copied
        opening.row_reads, opening.row_holders = carry.row_reads, carry.row_holders
        carry.row_reads, carry.row_holders = {}, {}
    token = _batch.set(opening)
    try:
        opened = _batch.get()
        yield opened  # type: ignore[misc]
        if opened is not None and opened.pending:
            raise RuntimeError("a bulk batch closed with rows not written: flush it before it closes")
    finally:
        _batch.reset(token)


def current_batch() -> Batch | None:
    return _batch.get()


def bulk_batch() -> Batch | None:
    """The current batch if it keeps rows for bulk inserts (``batch(bulk=True)``), else None."""
    current = _batch.get()
    return current if current is not None and current.bulk else None


@contextlib.contextmanager
def tagged(tag: Any) -> Iterator[None]:
    """Name what is being saved (the importer: file, line, patient): a follow-up queued meanwhile carries it."""
    token = _tag.set(tag)
    try:
        yield
    finally:
        _tag.reset(token)


def batch_read(key: Any, models: tuple[type, ...], compute: Callable[[], Any]) -> Any:
    """``compute()``, a read of rows of ``models``; inside a batch it is made once and kept until a row of one of
    these models is saved (:func:`forget_reads`, wired to ``post_save``; the models read here are CRFs, whose rows
    are never deleted) or a row is refused. A rule that reads another form's rows for every row of a batch (the
    consent date for every dose) reads them once; the batch's own writes of those rows make the next read ask
    again. Outside a batch: once per save (:func:`read_once`)."""
    current = _batch.get()
    if current is None:
        return read_once(key, compute)
    if key in current.reads:
        return current.reads[key]
    value = compute()
    current.reads[key] = value
    for model in models:
        current.read_models.setdefault(model, set()).add(key)
    return value


def forget_reads(model: type | None = None, saved: Any = None) -> None:
    """Drop the batch's kept reads of ``model`` (a row of it was written), or all of them (``None``: a save was
    refused, and its savepoint's writes rolled back). ``saved``: the row saved (``post_save``); the row lists of
    :func:`batch_rows` take it in instead of being dropped."""
    current = _batch.get()
    if current is None:
        return
    if model is None:
        current.reads.clear()
        current.read_models.clear()
        current.row_reads.clear()
        current.row_holders.clear()
        return
    for key in current.read_models.pop(model, ()):
        current.reads.pop(key, None)
    scopes = current.row_reads.get(model)
    if not scopes:
        return
    if saved is None:  # an update(): the model's row lists may be stale
        for by_value in scopes.values():
            for key in by_value.values():
                current.reads.pop(key, None)
        del current.row_reads[model]
        return
    holders = current.row_holders.setdefault((model, saved.pk), set())
    keys = set(holders)  # the lists that hold the row (it may have left one)
    for field, by_value in scopes.items():
        key = by_value.get(getattr(saved, field))
        if key is not None:
            keys.add(key)  # the list it belongs to now
    for key in keys:
        rows = current.reads.get(key)
        if rows is None:
            holders.discard(key)
            continue
        _take, _model, field, value = key
        others = [row for row in rows if row.pk != saved.pk]
        if getattr(saved, field) != value:
            current.reads[key] = others
            holders.discard(key)
        else:
            current.reads[key] = sorted([*others, saved], key=lambda row: row.pk)
            holders.add(key)


def batch_rows(model: Any, field: str, value: Any) -> list[Any]:
    """The rows of ``model`` whose ``field`` (an attribute name: ``patient_id``, ``target_id``) is ``value``, in
    primary-key order: the "earlier rows of this patient" a rule compares a row with. Inside a batch they are read
    once and the batch's own saves of that model are taken in as they happen (a saved row replaces its old self,
    or joins the list), so a rule of the next row sees every row written before it without asking the database
    again; an ``update()`` (no ``post_save``) or a refusal drops the read (:func:`forget_reads`). Outside a batch:
    once per save (:func:`read_once`). The list is shared: filter it, never change it."""

    def compute() -> list[Any]:
        return list(model._default_manager.filter(**{field: value}).order_by("pk"))

    key = ("batch_rows", model, field, value)
    current = _batch.get()
    if current is None:
        return read_once(key, compute)  # type: ignore[no-any-return]
    if key in current.reads:
        return current.reads[key]  # type: ignore[no-any-return]
    rows = compute()
    current.reads[key] = rows
    current.row_reads.setdefault(model, {}).setdefault(field, {})[value] = key
    for row in rows:
        current.row_holders.setdefault((model, row.pk), set()).add(key)
    return rows


def once_per_batch(key: Any, run: Callable[[], None], *, savepoint: bool = True) -> None:
    """Run ``run()`` now; inside a batch, once per ``key`` when the batch is flushed (``savepoint=False``: ``run``
    refuses nothing, so the flush gives it no savepoint of its own)."""
    current = _batch.get()
    if current is None:
        run()
    else:
        current.defer(key, run, savepoint=savepoint)
