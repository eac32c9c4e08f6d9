"""Forms of the AE CRF (form 17): CTCAE term by search, grade limited to the term's grades (R6.3)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from adverse_events import ctcae
from adverse_events.models import AdverseEvent, CtcaeTerm, SaeReport
from sabr_trial import compiled
from sabr_trial.forms import CrfForm, DateInput, DateTimeInput


class CtcaeTermField(forms.ModelChoiceField):
    """The term as its MedDRA LLT code (the value the search widget sets); unknown codes are refused."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(queryset=CtcaeTerm.objects.all(), to_field_name="meddra_code", **kwargs)

    def to_python(self, value: Any) -> CtcaeTerm | None:
        if value in self.empty_values:
            return None
        text = str(value).strip()
        if not text.isdigit():
            raise forms.ValidationError(
                _("Choose a CTCAE v%(v)s term from the search list (EC-AE-1): %(value)s is not a term code.")
                % {"v": ctcae.CTCAE_VERSION, "value": text},
                code="invalid_choice",
            )
        known = getattr(self.widget, "known_term", None)
        if known is not None and known.meddra_code == int(text):
            return known  # the edited row's own term, read with the row
        found = compiled.patient_objects(
            "ctcae:term-by-code", lambda codes: CtcaeTerm.objects.filter(meddra_code__in=codes), [int(text)]
        )
        term = found[0] if found else None  # the code is unique
        if term is None:
            raise forms.ValidationError(
                _("Unknown CTCAE v%(v)s term code %(code)s (EC-AE-1).")
                % {"v": ctcae.CTCAE_VERSION, "code": text},
                code="invalid_choice",
            )
        return term


class CtcaeSearchWidget(forms.TextInput):
    """A search box with a hidden code input; static/adverse_events/ctcae_search.js does the rest."""

    template_name = "adverse_events/widgets/ctcae_search.html"
    #: The edited row's own term, read with the row (``AdverseEventForm``): shown without asking the database.
    known_term: CtcaeTerm | None = None

    class Media:
        js = ("adverse_events/ctcae_search.js",)

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        term = None
        if self.known_term is not None and str(value) == str(self.known_term.meddra_code):
            term = self.known_term
        elif value not in (None, ""):
            term = CtcaeTerm.objects.filter(meddra_code=value).first() if str(value).isdigit() else None
            if term is None and isinstance(value, int):
                term = CtcaeTerm.objects.filter(pk=value).first()
        context["term"] = term
        context["code"] = term.meddra_code if term else (value or "")
        return context

    def format_value(self, value: Any) -> Any:
        return value

    def render(self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None) -> str:
        # The project template dir is not on the form renderer's path: render with the site engine.
        from django.template.loader import render_to_string
        from django.utils.safestring import mark_safe

        context = self.get_context(name, value, attrs)
        return mark_safe(render_to_string(self.template_name, context))


class AdverseEventForm(CrfForm):
    ctcae_term = CtcaeTermField(
        label=_("CTCAE term"),
        widget=CtcaeSearchWidget(),
        help_text=_(
            "Type part of the term (e.g. 'fatig'), its MedDRA code or its system organ class (R6.1)."
        ),
    )

    class Meta:
        model = AdverseEvent
        fields = [
            "ctcae_term",
            "verbatim",
            "grade",
            "onset_date",
            "ongoing",
            "resolution_date",
            "serious",
            "aesdth",
            "aeslife",
            "aeshosp",
            "aesdisab",
            "aescong",
            "aesmie",
            "rel_sabr",
            "rel_axitinib",
            "rel_toripalimab",
            "immune_related",
            "acn_axitinib",
            "acn_toripalimab",
            "acn_sabr",
            "treatment_given",
            "outcome",
            "awareness_at",
            "reported_at",
            "expected",
        ]
        widgets = {
            "onset_date": DateInput(),
            "resolution_date": DateInput(),
            "awareness_at": DateTimeInput(),
            "reported_at": DateTimeInput(),
            "grade": forms.RadioSelect(attrs={"class": "ae-grade"}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and self.instance.ctcae_term_id:
            if not self.is_bound:
                self.initial["ctcae_term"] = self.instance.ctcae_term.meddra_code
            if AdverseEvent.ctcae_term.is_cached(self.instance):  # type: ignore[attr-defined]
                self.fields["ctcae_term"].widget.known_term = self.instance.ctcae_term
        self.fields["grade"].choices = [c for c in self.fields["grade"].choices if c[0] != ""]
        # Dose reduction exists for axitinib only (R4.7).
        for name in ("acn_sabr", "acn_toripalimab"):
            self.fields[name].choices = [c for c in self.fields[name].choices if c[0] != "DOSE REDUCED"]


class GradeChangeForm(forms.Form):
    """EC-AE-4: the date the grade changed and the new grade."""

    change_date = forms.DateField(label=_("Grade changed on"), widget=DateInput())
    new_grade = forms.TypedChoiceField(
        label=_("New grade"), coerce=int, choices=[(g, g) for g in ctcae.GRADES], widget=forms.RadioSelect
    )
    reason = forms.CharField(label=_("Reason for change"), max_length=500, required=False)

    def __init__(self, *args: Any, ae: AdverseEvent | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if ae is not None:
            allowed = ae.ctcae_term.allowed_grades()
            self.fields["new_grade"].choices = [(g, g) for g in allowed if g != ae.grade]
        self.fields["change_date"].initial = timezone.localdate()


class SaeReportForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = SaeReport
        fields = ["kind", "sent_at", "summary"]
        widgets = {"sent_at": DateTimeInput(), "summary": forms.Textarea(attrs={"rows": 3})}
