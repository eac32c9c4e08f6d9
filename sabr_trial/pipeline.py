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
"""

from __future__ import annotations

import contextlib
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

    def register(self, model: type, hook: Hook) -> Hook:
        """Register ``hook`` for ``model`` (and its subclasses); registering the same hook twice is a no-op."""
        hooks = self._hooks.setdefault(model, [])
        if hook not in hooks:
            hooks.append(hook)
        return hook

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
