"""Writes of the API: JSON values -> the CRF's own form (its rules) -> ``sabr_trial.services`` (or the app's service).

The form is the same class the browser posts to, so form-level rules (choices, cross-field checks, the CTCAE term
look-up) refuse the same input with the same message; the services add permission, lock, ``full_clean()`` (model
rules, EC-...), version check, history row with reason and audit event.
"""

from __future__ import annotations

import datetime
import json
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.datastructures import MultiValueDict

from sabr_trial.crf import CrfBase, CrfSpec
from sabr_trial.forms import MISSING_PREFIX


def _value(field: forms.Field, value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(field, forms.ModelMultipleChoiceField):
        key = field.to_field_name or "pk"
        return [str(getattr(v, key, v)) for v in value]
    if isinstance(field, forms.ModelChoiceField):
        key = field.to_field_name or "pk"
        return str(getattr(value, key, value))
    if isinstance(field, forms.MultipleChoiceField):
        return [str(v) for v in value]
    if isinstance(field, forms.JSONField):
        return json.dumps(value)
    if isinstance(field, forms.BooleanField):
        return "on" if value else ""
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def form_data(
    form_class: type[forms.BaseForm], values: dict[str, Any], prefix: str = "", **kwargs: Any
) -> MultiValueDict:
    """Encode parsed JSON values the way a browser would post them to ``form_class``."""
    probe = form_class(**kwargs)
    data: MultiValueDict = MultiValueDict()
    for name, field in probe.fields.items():
        if name not in values:
            continue
        encoded = _value(field, values[name])
        key = f"{prefix}-{name}" if prefix else name
        data.setlist(key, encoded if isinstance(encoded, list) else [encoded])
    # Missing-data codes ({"ecog": "ND"}) as the form's code selects receive them (issue 19 item 9); a code on a
    # field that allows none is refused by CrfBase.clean next to that field.
    codes = values.get("missing_codes")
    if isinstance(codes, dict):
        for name, code in codes.items():
            key = f"{MISSING_PREFIX}{name}"
            data.setlist(f"{prefix}-{key}" if prefix else key, ["" if code is None else str(code)])
    return data


def form_errors(form: forms.BaseForm, prefix: str = "") -> ValidationError:
    """The form's errors as one ValidationError keyed by field (``prefix.field`` for nested rows)."""
    out: dict[str, list[str]] = {}
    for name, errors in form.errors.items():
        key = name if name != "__all__" else "__all__"
        if prefix:
            key = f"{prefix}.{name}" if name != "__all__" else prefix
        out.setdefault(key, []).extend(errors)
    return ValidationError(out)


def current_values(instance: models.Model, names: list[str]) -> dict[str, Any]:
    """The stored values of ``names`` (many-to-many as lists), to merge a partial update into."""
    out: dict[str, Any] = {}
    for name in names:
        f = instance._meta.get_field(name)
        if f.many_to_many:
            out[name] = list(getattr(instance, name).all()) if instance.pk else []
        else:
            out[name] = getattr(instance, name)
    return out


def bound_form(
    spec: CrfSpec,
    instance: CrfBase,
    values: dict[str, Any],
    *,
    expected_version: int | None = None,
    reason: str = "",
) -> forms.ModelForm:  # type: ignore[type-arg]
    """The CRF's form bound to ``values`` (plus version and reason) exactly as the browser would post it."""
    assert spec.form_class is not None
    kwargs: dict[str, Any] = {"instance": instance}
    if getattr(spec.form_class, "takes_patient", False):
        kwargs["patient"] = instance.patient
    data = form_data(spec.form_class, values, **kwargs)  # type: ignore[arg-type]
    if expected_version is not None:
        data["expected_version"] = str(expected_version)
    if reason:
        data["change_reason"] = reason
    return spec.form_class(data, **kwargs)
