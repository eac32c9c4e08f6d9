"""Forms of the enrollment CRFs and patient actions."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from enrollment.models import ScreeningLog
from sabr_trial.forms import CrfForm, DateInput


class NewPatientForm(forms.Form):
    screening_date = forms.DateField(label=_("Date of screening visit"), widget=DateInput())

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["screening_date"].initial = timezone.localdate()


class RegisterPatientForm(forms.Form):
    registration_date = forms.DateField(label=_("Date of registration"), widget=DateInput())

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["registration_date"].initial = timezone.localdate()


class ScreeningLogForm(CrfForm):
    class Meta:
        model = ScreeningLog
        fields = ["screening_date", "outcome", "outcome_date", "failure_reason", "failure_text"]
        widgets = {"screening_date": DateInput(), "outcome_date": DateInput()}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # EC-SC-2: only registration sets ELIGIBLE.
        choices = [c for c in ScreeningLog.Outcome.choices if c[0] != ScreeningLog.Outcome.ELIGIBLE]
        if self.instance.outcome == ScreeningLog.Outcome.ELIGIBLE:
            choices = ScreeningLog.Outcome.choices
        self.fields["outcome"].choices = choices
