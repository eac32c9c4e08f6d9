"""Read-side facts of a patient that a lower app needs from a higher one (layers: README "Architecture").

An app answers a fact it owns by registering a function in its ``AppConfig.ready()``; a lower app asks for the
fact by name and never imports, or looks up at run time, the app that answers it. Every fact has exactly one
answer: a second registration under the same name is a configuration error, and asking for a fact nobody
registered raises (a missing app is a bug, never a reason to switch a rule off).

Facts registered today:
  ``first_systemic_dose``  treatment: first axitinib or toripalimab dose (D1 records), for the IMDC interval (EC-BL-4).
The patient registry itself (enrollment's ``Patient``, which every CRF's ``patient`` link names as a string, and
its role-checked look-up) is registered the same way, for the base app's pages and study-wide runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from sabr_trial import pipeline

Fact = Callable[[Any], Any]
_facts: dict[str, Fact] = {}


def register(name: str, func: Fact) -> Fact:
    """Register ``func(patient)`` as the one answer to the fact ``name``."""
    current = _facts.get(name)
    if current is not None and current is not func:
        raise ImproperlyConfigured(f"patient fact {name!r} is registered twice ({current!r}, {func!r})")
    _facts[name] = func
    return func


def fact(name: str, patient: Any) -> Any:
    """Return the registered answer to ``name`` for ``patient`` (asked once per patient inside
    ``pipeline.same_reads``: a save's rules and derivations, an edit-check run)."""
    try:
        func = _facts[name]
    except KeyError:
        raise ImproperlyConfigured(f"no installed app registered the patient fact {name!r}") from None
    pk = getattr(patient, "pk", None)
    if pk is None:
        return func(patient)
    return pipeline.read_once(("fact", name, pk), lambda: func(patient))


_patients: dict[str, Any] = {}


def register_patients(*, model: Any, get_for_user: Callable[[Any, int], Any]) -> None:
    """Register the patient registry (enrollment): its model and its one role-checked look-up of a patient."""
    if _patients and _patients["model"] is not model:
        raise ImproperlyConfigured(
            f"the patient registry is registered twice ({_patients['model']!r}, {model!r})"
        )
    _patients.update(model=model, get_for_user=get_for_user)


def _registry(key: str) -> Any:
    try:
        return _patients[key]
    except KeyError:
        raise ImproperlyConfigured("no installed app registered the patient registry") from None


def patient_model() -> Any:
    """Return the registered patient model."""
    return _registry("model")


def get_patient_for_user(user: Any, pk: int) -> Any:
    """Return one patient the user may see (the registry's own look-up: 404 if absent, 403 if not allowed)."""
    return _registry("get_for_user")(user, pk)
