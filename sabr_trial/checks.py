"""System checks for CRF models: a CRF field must not shadow the lifecycle machinery."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core import checks

#: Names owned by CrfForm; a CRF field with one of them would never be saved.
RESERVED = {"change_reason", "expected_version"}


def _kw(field: Any) -> dict[str, str]:
    kwargs = dict(field.deconstruct()[3])
    kwargs.pop("related_name", None)  # "%(app_label)s_%(class)s_set" is expanded per model
    return {k: repr(v) for k, v in kwargs.items()}


def shadowing(fields: Iterable[Any]) -> list[str]:
    """Return the names among ``fields`` that redefine a CrfBase field or use a reserved form name."""
    from sabr_trial.crf import CrfBase

    base_fields = {f.name: f for f in CrfBase._meta.get_fields()}
    bad = []
    for field in fields:
        base = base_fields.get(field.name)
        if field.name in RESERVED or (
            base is not None
            and hasattr(field, "deconstruct")
            and (field.deconstruct()[1] != base.deconstruct()[1] or _kw(field) != _kw(base))
        ):
            bad.append(field.name)
    return bad


@checks.register()
def crf_field_names(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    from sabr_trial.crf import registry

    return [
        checks.Error(
            f"{spec.model.__name__}.{name} shadows the CRF lifecycle machinery; rename the field.",
            obj=spec.model,
            id="sabr_trial.E001",
        )
        for spec in registry.all()
        for name in shadowing(spec.model._meta.get_fields())
    ]
