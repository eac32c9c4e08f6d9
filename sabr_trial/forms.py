"""Base form of every CRF: Bootstrap layout, the version the user saw, and the reason for change."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils.translation import gettext_lazy as _

from sabr_trial import pipeline
from sabr_trial.formrender import FieldsHelper

#: Prefix of the form field that carries a field's missing-data code (``missing__ecog``; the API's
#: ``missing_codes`` object is posted the same way).
MISSING_PREFIX = "missing__"


class DateInput(forms.DateInput):
    """A browser date picker that submits ISO dates."""

    input_type = "date"

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("format", "%Y-%m-%d")
        super().__init__(**kwargs)


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("format", "%Y-%m-%dT%H:%M")
        super().__init__(**kwargs)


class CrfForm(forms.ModelForm):  # type: ignore[type-arg]
    """ModelForm for a CRF. Adds ``expected_version`` (hidden) and ``change_reason`` when needed."""

    expected_version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    change_reason = forms.CharField(
        label=_("Reason for change"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Required: this form has been submitted, so every change is kept with its reason."),
    )

    #: True where the page saves through the write pipeline, which runs the CRF's rules (``CrfBase.clean``) in the
    #: save's transaction: the form then checks the fields and the model's field validators, the rules run once
    #: (not once here and again in the service), and their messages come back next to the fields. A form with a
    #: field error runs them here, so that every message shows at once.
    defer_rules = False

    def _post_clean(self) -> None:
        codes = self.missing_codes_posted()
        if codes is not None:
            self.instance.missing_codes = codes
        # The rules read the many-to-many answers of this form (they are written after the row).
        with pipeline.m2m_submitted(self.instance, self.crf_m2m()):
            if not self.defer_rules or self._errors:
                super()._post_clean()
                return
            # The pipeline's full_clean also validates uniqueness and the table's constraints, after the rules (a
            # rule's message names the field; a constraint on a field a rule refused is not checked again).
            self._validate_unique = False  # uniqueness; CrfBase.validate_constraints defers the constraints
            self.instance._rules_deferred = True
            try:
                super()._post_clean()
            finally:
                del self.instance._rules_deferred

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # every field at render time, each by crispy-bootstrap5's field.html written in Python (issue 20)
        self.helper = FieldsHelper(self)
        instance = self.instance
        if instance.pk:
            self.fields["expected_version"].initial = instance.version
        if not instance.pk or not instance.needs_reason:
            del self.fields["change_reason"]
        else:
            self.fields["change_reason"].required = True
        self.add_missing_controls()
        self.order_fields([f for f in self.fields if f not in ("change_reason",)] + ["change_reason"])
        self.mark_branches()

    def _spec(self) -> Any:
        from sabr_trial.crf import registry

        try:
            return registry.for_model(self._meta.model)
        except KeyError:
            return None

    def add_missing_controls(self) -> None:
        """Put a missing-data code select right after each field the CRF allows codes on (``CrfSpec.missing``,
        issue 19 item 9). The field itself is no longer required by the form: ``CrfBase.clean`` requires a value
        or a code. static/js/missing.js empties and disables the field while a code is chosen."""
        from sabr_trial.crf import missing_label

        spec = self._spec()
        if spec is None or not spec.missing:
            return
        order = list(self.fields)
        for name in spec.missing_fields():
            if name not in self.fields:
                continue
            field = self.fields[name]
            key = MISSING_PREFIX + name
            if field.required:
                field.required = False
                field.widget.attrs["data-missing-required"] = "yes"
            choices = [("", _("(value entered)"))] + [
                (c, f"{missing_label(c)} ({c})") for c in spec.missing_codes_for(name)
            ]
            label = _("Missing-data code: %(field)s") % {"field": field.label}
            self.fields[key] = forms.ChoiceField(
                label=label,
                required=False,
                choices=choices,
                initial=self.instance.missing_code(name),
                help_text=_("Only when the value cannot be given: the field then stays empty."),
                widget=forms.Select(
                    attrs={
                        "class": "form-select form-select-sm missing-code",
                        "aria-label": label,
                        "title": label,
                        "data-missing-for": self.add_prefix(name),
                    }
                ),
            )
            field.widget.attrs["data-missing-code"] = self.add_prefix(key)
            order.insert(order.index(name) + 1, key)
        self.order_fields(order)

    def missing_codes_posted(self) -> dict[str, str] | None:
        """``{field: code}`` as posted: the code selects, and any other ``missing__<name>`` key (the API's
        ``missing_codes``), which ``CrfBase.clean`` refuses next to the field when the field allows no code.
        None when the form carries no codes (the row's codes are left as they are)."""
        spec = self._spec()
        prefix = self.add_prefix(MISSING_PREFIX)
        posted = [k for k in getattr(self, "data", {}) if str(k).startswith(prefix)]
        if not posted and (spec is None or not spec.missing):
            return None
        codes: dict[str, str] = {}
        for key in posted:
            name = str(key)[len(prefix) :]
            value = str(self.data.get(key) or "").strip()
            if value:
                codes[name] = value
        return codes

    def _update_errors(self, errors: ValidationError) -> None:
        """A model error on a field this form does not show goes at the top, naming the field."""
        if hasattr(errors, "error_dict"):
            moved: dict[str, list[Any]] = {}
            for name, messages in errors.error_dict.items():
                if name == NON_FIELD_ERRORS or name in self.fields:
                    moved.setdefault(name, []).extend(messages)
                    continue
                try:
                    label = str(self._meta.model._meta.get_field(name).verbose_name)
                except Exception:
                    label = name
                for message in messages:
                    text = " ".join(ValidationError(message).messages)
                    moved.setdefault(NON_FIELD_ERRORS, []).append(ValidationError(f"{label}: {text}"))
            errors = ValidationError(moved)
        super()._update_errors(errors)

    def mark_branches(self) -> None:
        """Mark each field the CRF's branching declares (``CrfSpec.branching``) with its controlling field's name and
        the values that show it; static/js/branching.js shows and hides the field's wrapper live."""
        from sabr_trial.crf import registry

        try:
            spec = registry.for_model(self._meta.model)
        except KeyError:
            return
        for branch in spec.branching:
            if branch.controller not in self.fields:
                continue
            for name in branch.fields:
                if name in self.fields:
                    self.fields[name].widget.attrs.update(
                        {
                            "data-branch-field": self.add_prefix(branch.controller),
                            "data-branch-values": json.dumps(list(branch.when[1])),
                        }
                    )

    def crf_data(self) -> dict[str, Any]:
        """Return the cleaned CRF field values (no lifecycle helpers, no many-to-many)."""
        model_fields = {f.name for f in self._meta.model._meta.get_fields()}
        skip = {"expected_version", "change_reason"}
        out = {}
        for name, value in self.cleaned_data.items():
            if name in skip or name not in model_fields:
                continue
            if self._meta.model._meta.get_field(name).many_to_many:
                continue
            out[name] = value
        codes = self.missing_codes_posted()
        if codes is not None:
            out["missing_codes"] = codes
        return out

    def crf_m2m(self) -> dict[str, Any]:
        model = self._meta.model
        out = {}
        for name, value in self.cleaned_data.items():
            try:
                f = model._meta.get_field(name)
            except Exception:
                continue
            if f.many_to_many:
                out[name] = list(value)
        return out


class SignForm(forms.Form):
    password = forms.CharField(
        label=_("Your password"),
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text=_("Re-enter your password to sign. A wrong password counts toward the account lockout."),
    )


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=500, widget=forms.Textarea(attrs={"rows": 2}))


class LockForm(forms.Form):
    """The data manager's explicit confirmation under the pre-lock report."""

    reason = forms.CharField(
        label=_("Reason for locking"), max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )
    confirm = forms.BooleanField(
        label=_(
            "I have read the report above and lock this casebook: no form can change until it is unlocked."
        ),
        error_messages={"required": _("Tick the confirmation to lock the casebook.")},
    )


class OptionalReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason (optional)"), max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class RaiseQueryForm(forms.Form):
    """A data manager's or monitor's query on a form or one field of it."""

    field_name = forms.ChoiceField(label=_("Field"), required=False)
    text = forms.CharField(label=_("Query"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
    priority = forms.ChoiceField(label=_("Priority"), initial="normal")

    def __init__(self, *args: Any, fields: list[tuple[str, str]] | None = None, **kwargs: Any) -> None:
        from sabr_trial.models import Query

        super().__init__(*args, **kwargs)
        self.fields["field_name"].choices = [("", _("(the whole form)"))] + list(fields or [])
        self.fields["priority"].choices = Query.Priority.choices


class QueryMessageForm(forms.Form):
    text = forms.CharField(label=_("Message"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


class OptionalQueryMessageForm(forms.Form):
    text = forms.CharField(
        label=_("Message (optional)"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
