"""Forms of the enrollment CRFs and patient actions."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from enrollment import criteria
from enrollment.models import (
    Baseline,
    Consent,
    DeathReport,
    Disposition,
    Eligibility,
    MedicalHistory,
    PriorTherapy,
    ScreeningLog,
    SurvivalContact,
    YesNo,
)
from enrollment.rules import all_met, format_answers, parse_answers
from sabr_trial.forms import CrfForm, DateInput, DateTimeInput
from sabr_trial.roles import Role

RADIO = forms.RadioSelect(attrs={"class": "form-check-inline"})


class NewPatientForm(forms.Form):
    screening_date = forms.DateField(
        label=_("Date of screening visit"),
        widget=DateInput(attrs={"autofocus": True}),  # keyboard-only entry
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["screening_date"].initial = timezone.localdate()


class RegisterPatientForm(forms.Form):
    registration_date = forms.DateField(
        label=_("Date of registration"),
        widget=DateInput(attrs={"autofocus": True}),  # keyboard-only entry
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["registration_date"].initial = timezone.localdate()


class EligibilityConfirmForm(forms.Form):
    """The investigator's confirmation, dated when it was really done (a paper checklist signed earlier)."""

    confirmed_at = forms.DateTimeField(
        label=_("Confirmed on (date and time, site time)"),
        widget=DateTimeInput(),
        required=False,  # empty: now
        help_text=_(
            "Now, or when you confirmed eligibility on paper: not in the future, not before the screening visit "
            "or the consent. A past time is recorded as entered late."
        ),
    )
    expected_version = forms.IntegerField(widget=forms.HiddenInput())

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["confirmed_at"].initial = timezone.localtime().replace(second=0, microsecond=0)


def _criterion_choices() -> list[tuple[str, str]]:
    return [(c.id, f"{c.id} {c.text}") for c in criteria.CRITERIA]


class ScreeningLogForm(CrfForm):
    failed_criteria = forms.MultipleChoiceField(
        label=_("Criteria not met"),
        required=False,
        choices=_criterion_choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Required when the reason is 'Criteria not met' (EC-SC-1)."),
    )

    class Meta:
        model = ScreeningLog
        fields = [
            "screening_date",
            "outcome",
            "outcome_date",
            "failure_reason",
            "failed_criteria",
            "failure_text",
        ]
        widgets = {"screening_date": DateInput(), "outcome_date": DateInput()}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # EC-SC-2: only registration sets ELIGIBLE.
        choices = [c for c in ScreeningLog.Outcome.choices if c[0] != ScreeningLog.Outcome.ELIGIBLE]
        if self.instance.outcome == ScreeningLog.Outcome.ELIGIBLE:
            choices = ScreeningLog.Outcome.choices
        self.fields["outcome"].choices = choices


def _staff() -> forms.ModelChoiceField:  # type: ignore[type-arg]
    users = (
        get_user_model()
        .objects.filter(is_active=True, groups__name__in=[Role.COORDINATOR, Role.INVESTIGATOR])
        .distinct()
        .order_by("last_name", "username")
    )
    return forms.ModelChoiceField(queryset=users, label=_("Person obtaining consent"))


class EligibilityForm(CrfForm):
    """The checklist: one Yes/No per criterion of the current protocol version (EC-EL-1)."""

    class Meta:
        model = Eligibility
        fields: list[str] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.version = self.instance.criteria_version or criteria.CURRENT_VERSION
        stored = parse_answers(self.instance.answers_summary)
        for c in criteria.criteria_for(self.version):
            self.fields[f"answer_{c.id}"] = forms.ChoiceField(
                label=f"{c.id} {c.text}",
                choices=YesNo.choices,
                required=False,
                widget=RADIO,
                initial=stored.get(c.id) or None,
                help_text=c.question,
            )
        self.order_fields([f for f in self.fields if f != "change_reason"] + ["change_reason"])

    def criterion_rows(self) -> list[dict[str, Any]]:
        return [
            {"criterion": c, "field": self[f"answer_{c.id}"]} for c in criteria.criteria_for(self.version)
        ]

    def answers(self) -> dict[str, str]:
        return {
            c.id: self.cleaned_data.get(f"answer_{c.id}") or "" for c in criteria.criteria_for(self.version)
        }

    def crf_data(self) -> dict[str, Any]:
        answers = self.answers()
        data: dict[str, Any] = {
            "criteria_version": self.version,
            "answers_summary": format_answers(answers),
            "all_met": all_met(answers, self.version),
        }
        if data["answers_summary"] != self.instance.answers_summary and self.instance.confirmed_by_id:
            # A changed answer voids the investigator's confirmation: it must be confirmed again (EC-EL-1).
            data["confirmed_by"] = None
            data["confirmed_at"] = None
        return data


class ConsentForm(CrfForm):
    icf_version = forms.ChoiceField(
        label=_("Consent form version"), choices=[(v, v) for v in criteria.ICF_VERSIONS]
    )

    class Meta:
        model = Consent
        fields = [
            "consent_type",
            "icf_version",
            "consent_datetime",
            "obtained_by",
            "withdrawn",
            "withdrawal_date",
            "withdrawal_scope",
        ]
        widgets = {
            "consent_datetime": DateTimeInput(),
            "withdrawal_date": DateInput(),
            "withdrawn": RADIO,
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = _staff()
        field.initial = self.fields["obtained_by"].initial
        self.fields["obtained_by"] = field
        if not self.instance.pk:
            self.fields["icf_version"].initial = criteria.ICF_VERSIONS[-1]


class BaselineForm(CrfForm):
    class Meta:
        model = Baseline
        fields = [
            "birth_year",
            "sex",
            "assessment_date",
            "ecog",
            "kps",
            "histology",
            "histology_other",
            "sarcomatoid",
            "diagnosis_date",
            "prior_nephrectomy",
            "nephrectomy_date",
            "prior_systemic_lines",
            "metastatic_lesion_count",
            "imdc_lab_date",
            "hgb_below_lln",
            "calcium_above_uln",
            "neutrophils_above_uln",
            "platelets_above_uln",
        ]
        widgets = {
            "assessment_date": DateInput(),
            "diagnosis_date": DateInput(),
            "nephrectomy_date": DateInput(),
            "imdc_lab_date": DateInput(),
        }


class MedicalHistoryForm(CrfForm):
    class Meta:
        model = MedicalHistory
        fields = [
            "mh_term",
            "mh_category",
            "start_date",
            "ongoing",
            "end_date",
            "baseline_grade",
            "systemic_tx_needed",
        ]
        widgets: dict[str, Any] = {}


class PriorTherapyForm(CrfForm):
    class Meta:
        model = PriorTherapy
        fields = [
            "therapy_type",
            "agent",
            "setting",
            "pd1_pdl1",
            "procedure",
            "rt_site",
            "rt_laterality",
            "rt_dose_gy",
            "rt_fractions",
            "start_date",
            "end_date",
            "best_response",
        ]


class _PatientAeForm(CrfForm):
    """Offers only the patient's own adverse events in its AE link."""

    takes_patient = True
    ae_field = ""

    def __init__(self, *args: Any, patient: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields[self.ae_field]
        field.queryset = field.queryset.filter(patient=patient or self.instance.patient)  # type: ignore[attr-defined]


class DispositionForm(_PatientAeForm):
    ae_field = "eot_adverse_event"

    class Meta:
        model = Disposition
        fields = [
            "eot_reason",
            "eot_reason_text",
            "eot_adverse_event",
            "eos_date",
            "eos_reason",
            "eos_reason_text",
        ]
        widgets = {"eos_date": DateInput()}


class DeathReportForm(_PatientAeForm):
    ae_field = "adverse_event"

    class Meta:
        model = DeathReport
        fields = ["death_date", "primary_cause", "cause_text", "adverse_event", "autopsy", "source"]
        widgets = {"death_date": DateInput()}


class SurvivalContactForm(CrfForm):
    class Meta:
        model = SurvivalContact
        fields = [
            "contact_date",
            "method",
            "reached",
            "survival_status",
            "new_anticancer_tx",
            "progression_reported",
        ]
        widgets = {"contact_date": DateInput()}
