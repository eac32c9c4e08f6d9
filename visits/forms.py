"""The coordinator's not-done form."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from visits.models import NotDone


class NotDoneForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = NotDone
        fields = ["reason_code", "reason"]
        widgets = {"reason": forms.Textarea(attrs={"rows": 2})}

    def clean_reason(self) -> str:
        reason = (self.cleaned_data.get("reason") or "").strip()
        if not reason:
            raise forms.ValidationError(_("Give the reason: the monitor will read it."))
        return reason


class CancelMarkForm(forms.Form):
    cancel_reason = forms.CharField(
        label=_("Reason for cancelling the mark"), max_length=300, widget=forms.Textarea(attrs={"rows": 2})
    )
