"""Forms of the treatment CRFs (forms 10-16)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from sabr_trial.forms import CrfForm, DateInput
from treatment.models import (
    AxitinibPeriod,
    Immunosuppressant,
    SabrCourse,
    SabrFraction,
    SabrTarget,
    SubsequentTherapy,
    ToripalimabInfusion,
)
from treatment.selectors import new_lesions_to_treat


class PatientCrfForm(CrfForm):
    """A CRF form that limits its foreign keys to the patient's own rows and accepts initial values."""

    takes_patient = True

    def __init__(self, *args: Any, patient: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.patient = patient if patient is not None else getattr(self.instance, "patient", None)
        self.limit_choices()

    def limit_choices(self) -> None:
        pass


class SabrCourseForm(PatientCrfForm):
    class Meta:
        model = SabrCourse
        fields = [
            "is_protocol",
            "indication",
            "simulation_date",
            "technique",
            "image_guidance",
            "completion_status",
            "stop_reason",
        ]
        widgets = {"simulation_date": DateInput()}


class SabrTargetForm(PatientCrfForm):
    class Meta:
        model = SabrTarget
        fields = [
            "course",
            "lesion",
            "prescribed_dose_gy",
            "n_fractions",
            "isodose_pct",
            "gtv_cc",
            "ptv_cc",
            "alpha_beta_gy",
            "dose_override_reason",
            "is_reirradiation",
            "reirradiation_reason",
        ]

    def limit_choices(self) -> None:
        courses = SabrCourse.objects.filter(patient=self.patient).order_by("course_number")
        self.fields["course"].queryset = courses
        if not self.instance.pk and courses.exists() and not self.initial.get("course"):
            self.initial["course"] = courses.last().pk
        if "lesion" in self.fields:
            # The field's own queryset names the lesion model (a string FK: treatment never imports assessments).
            self.fields["lesion"].queryset = self.fields["lesion"].queryset.filter(patient=self.patient)


class SabrFractionForm(PatientCrfForm):
    class Meta:
        model = SabrFraction
        fields = [
            "target",
            "fraction_number",
            "fraction_date",
            "delivered",
            "dose_delivered_gy",
            "not_delivered_reason",
            "adverse_event",
        ]
        widgets = {"fraction_date": DateInput()}

    def limit_choices(self) -> None:
        targets = SabrTarget.objects.filter(patient=self.patient).select_related("course")
        self.fields["target"].queryset = targets
        self.fields["target"].label_from_instance = lambda t: f"{t.course}: {t}"
        if "adverse_event" in self.fields:
            self.fields["adverse_event"].queryset = self.fields["adverse_event"].queryset.filter(
                patient=self.patient
            )


class AxitinibPeriodForm(PatientCrfForm):
    class Meta:
        model = AxitinibPeriod
        fields = [
            "start_date",
            "end_date",
            "dose_level",
            "other_dose_mg",
            "other_dose_reason",
            "dose_change_reason",
            "missed_doses",
            "bp_ok_no_antihtn",
            "adverse_event",
        ]
        widgets = {"start_date": DateInput(), "end_date": DateInput()}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["dose_level"].error_messages["invalid_choice"] = _(
            "%(value)s is not an axitinib dose level: only 10, 7, 5, 3 or 2 mg BID, interrupted or permanently "
            "discontinued; any other dose goes in 'Other dose' with a reason (R4.2, EC-AX-2)."
        )

    def limit_choices(self) -> None:
        if "adverse_event" in self.fields:
            self.fields["adverse_event"].queryset = self.fields["adverse_event"].queryset.filter(
                patient=self.patient
            )


class ToripalimabInfusionForm(PatientCrfForm):
    class Meta:
        model = ToripalimabInfusion
        fields = [
            "cycle_number",
            "infusion_status",
            "infusion_date",
            "dose_mg",
            "dose_deviation_reason",
            "status_reason",
            "adverse_event",
            "infusion_interrupted",
            "lot_number",
        ]
        widgets = {"infusion_date": DateInput()}

    def limit_choices(self) -> None:
        if not self.instance.pk and self.patient is not None:
            count = ToripalimabInfusion.objects.filter(patient=self.patient).count()
            if not self.initial.get("cycle_number"):
                self.initial["cycle_number"] = count + 1
        if "adverse_event" in self.fields:
            self.fields["adverse_event"].queryset = self.fields["adverse_event"].queryset.filter(
                patient=self.patient
            )


class ImmunosuppressantForm(PatientCrfForm):
    class Meta:
        model = Immunosuppressant
        fields = [
            "drug",
            "drug_other",
            "dose",
            "dose_unit",
            "frequency",
            "route",
            "start_date",
            "ongoing",
            "end_date",
            "indication",
            "adverse_event",
        ]
        widgets = {"start_date": DateInput(), "end_date": DateInput()}

    def limit_choices(self) -> None:
        if "adverse_event" in self.fields:
            self.fields["adverse_event"].queryset = self.fields["adverse_event"].queryset.filter(
                patient=self.patient
            )


class SubsequentTherapyForm(PatientCrfForm):
    class Meta:
        model = SubsequentTherapy
        fields = [
            "therapy_type",
            "regimen",
            "start_date",
            "end_date",
            "reason",
            "local_on_protocol",
            "lesions_treated",
            "new_lesions_treated",
            "sabr_course",
        ]
        widgets = {"start_date": DateInput(), "end_date": DateInput()}

    def limit_choices(self) -> None:
        """Only the patient's own rows; EC-SU-1 (a lesion for radiotherapy or surgery) and EC-SU-4 are rules of
        the model (``treatment.rules.check_subsequent_therapy``), so the API and the importer apply them too."""
        self.fields["sabr_course"].queryset = SabrCourse.objects.filter(patient=self.patient)
        if "lesions_treated" in self.fields:
            field = self.fields["lesions_treated"]
            field.queryset = field.queryset.filter(patient=self.patient)
            self.fields["lesions_treated"].required = False
        if "new_lesions_treated" in self.fields:
            field = self.fields["new_lesions_treated"]
            # One choice per code (the record that first showed it, ``new_lesions_to_treat``), posted as the
            # code (N1): the API and the CSV name a new lesion the same way.
            field.queryset = new_lesions_to_treat(self.patient)
            field.to_field_name = "code"
            field.label_from_instance = new_lesion_label
            field.required = False


def new_lesion_label(new: Any) -> str:
    """A new lesion as a choice: code, organ, side, location and the date of the scan that first showed it."""
    site = new.get_organ_display()
    if new.laterality:
        site = f"{site} ({new.get_laterality_display()})"
    return str(
        _("%(code)s: %(site)s, %(location)s, first seen %(date)s")
        % {"code": new.code, "site": site, "location": new.location_text, "date": new.first_seen_date}
    )
