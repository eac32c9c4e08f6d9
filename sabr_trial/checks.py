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


def unbounded_dates(model: Any) -> list[str]:
    """Return the editable date and date-time fields of ``model`` that carry no EC-G1 range validator."""
    from django.db import models

    from sabr_trial.validators import DATE_RANGE_VALIDATORS

    return [
        field.name
        for field in model._meta.concrete_fields
        if isinstance(field, models.DateField)  # DateTimeField is a DateField
        and field.editable
        and not field.auto_now
        and not field.auto_now_add
        and not any(v in DATE_RANGE_VALIDATORS for v in field.validators)
    ]


@checks.register()
def crf_date_ranges(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Every editable date of a CRF (and of the rows a CRF owns) is bounded: 1900-01-01 to today, or a plan."""
    from sabr_trial.crf import registry

    models_ = {spec.model for spec in registry.all()}
    for model in list(models_):
        models_.update(
            rel.related_model
            for rel in model._meta.related_objects
            if rel.one_to_many
            and rel.on_delete.__name__ == "CASCADE"
            and not rel.related_model.__name__.startswith("Historical")
        )
    return [
        checks.Error(
            f"{model.__name__}.{name} is a CRF date without a range validator.",
            hint="Add validators=[not_in_future] (or plan_date for a planned date) from sabr_trial.validators.",
            obj=model,
            id="sabr_trial.E002",
        )
        for model in sorted(models_, key=lambda m: m._meta.label)
        for name in unbounded_dates(model)
    ]
