"""Forms of the lesion registry (form 8) and the tumour assessment grid (form 9)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from assessments.models import MAX_DIAMETER_MM, Lesion, LesionResult, NewLesion, TumourAssessment, YesNo
from sabr_trial.forms import CrfForm, DateInput


class Axis(forms.ChoiceField):
    """For lymph nodes: which axis was measured. Nodes are measured in short axis (R1.2)."""

    SHORT, LONG = "SHORT", "LONG"

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("label", _l("Axis measured (nodes)"))
        kwargs.setdefault("required", False)
        kwargs.setdefault("initial", self.SHORT)
        kwargs.setdefault("choices", [(self.SHORT, _l("Short axis")), (self.LONG, _l("Long axis"))])
        super().__init__(**kwargs)


def node_axis_error() -> str:
    return _(
        "Lymph nodes are measured in SHORT axis (R1.2); a long axis is not accepted. Enter the short axis."
    )


class LesionForm(CrfForm):
    """CRF 8. The rules (EC-LR-1..5) run in ``Lesion.clean`` via ``assessments.rules``."""

    takes_patient = True
    axis = Axis(help_text=_l("Only for lymph nodes: the value must be the short axis (R1.2)."))

    class Meta:
        model = Lesion
        fields = [
            "role",
            "organ",
            "laterality",
            "location_text",
            "method",
            "slice_thickness_mm",
            "baseline_date",
            "axis",
            "baseline_value_mm",
            "nonmeasurable_type",
            "group_count",
            "previously_irradiated",
            "progressed_since_rt",
        ]
        widgets = {"baseline_date": DateInput()}

    def __init__(self, *args: Any, patient: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = [c for c in self.fields["role"].choices if c[0] != Lesion.Role.NEW]
        self.order_fields(self.Meta.fields + ["expected_version", "change_reason"])

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("organ") == "LYMPH NODE" and data.get("axis") == Axis.LONG:
            self.add_error("axis", node_axis_error())
        return data


class TumourAssessmentForm(CrfForm):
    """The time-point part of CRF 9; the lesion grid and the new lesions are separate forms on the same page."""

    class Meta:
        model = TumourAssessment
        fields = [
            "imaging_done",
            "not_done_reason",
            "scan_date_first",
            "scan_date_last",
            "visit_date",
            "modality",
            "clinical_deterioration",
            "clinically_stable",
            "investigator_response",
        ]
        widgets = {
            "scan_date_first": DateInput(),
            "scan_date_last": DateInput(),
            "visit_date": DateInput(),
            "imaging_done": forms.RadioSelect,
            "clinical_deterioration": forms.RadioSelect,
        }


class LesionRowForm(forms.Form):
    """One grid row: one registered lesion at this time point (EC-TA-1)."""

    result_status = forms.ChoiceField(
        label=_l("Result"), required=False, choices=[("", "—"), *LesionResult.Status.choices]
    )
    value_mm = forms.DecimalField(label=_l("mm"), required=False, max_digits=5, decimal_places=1)
    axis = Axis()
    split_merge = forms.ChoiceField(
        label=_l("Split / merged"), required=False, choices=LesionResult.SplitMerge.choices, initial="NONE"
    )
    merged_into = forms.ModelChoiceField(
        label=_l("Merged into"), required=False, queryset=Lesion.objects.none()
    )
    nontarget_state = forms.ChoiceField(
        label=_l("Non-target status"),
        required=False,
        choices=[("", "—"), *LesionResult.NonTargetState.choices],
    )
    further_increase = forms.ChoiceField(
        label=_l("Further increase (iRECIST)"), required=False, choices=[("", "—"), *YesNo.choices]
    )
    infield_progression = forms.ChoiceField(
        label=_l("In-field progression"), required=False, choices=[("", "—"), *YesNo.choices]
    )
    lf_confirmation = forms.ChoiceField(
        label=_l("LF confirmation"), required=False, choices=[("", "—"), *LesionResult.LfConfirmation.choices]
    )

    def __init__(self, *args: Any, lesion: Lesion, lesions: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lesion = lesion
        self.fields["merged_into"].queryset = lesions.exclude(pk=lesion.pk).filter(role="TARGET")
        self.is_target = lesion.role == Lesion.Role.TARGET
        self.irradiated = lesion.irradiated_protocol
        for name, f in self.fields.items():
            # The width is a class (static/css/edc.css): the Content-Security-Policy allows no style attribute.
            css = "form-control form-control-sm w-6em" if name == "value_mm" else "form-select form-select-sm"
            f.widget.attrs.update({"class": css, "aria-label": f"{lesion.lesion_code} {f.label}"})
        self.fields["value_mm"].widget.attrs.update({"step": "0.1"})

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        code = self.lesion.lesion_code
        status = data.get("result_status") or ""
        value: Decimal | None = data.get("value_mm")
        if value is not None and value < 0:
            self.add_error("value_mm", _("%(code)s: a diameter cannot be negative.") % {"code": code})
        elif value is not None and value > MAX_DIAMETER_MM:
            self.add_error(
                "value_mm",
                _("%(code)s: %(v)s mm is not a plausible diameter (at most 400 mm). Check the unit.")
                % {"code": code, "v": value},
            )
        if self.lesion.nodal and data.get("axis") == Axis.LONG:
            self.add_error("axis", f"{code}: {node_axis_error()}")
        if self.is_target:
            if data.get("nontarget_state"):
                self.add_error(
                    "nontarget_state", _("%(code)s is a target: record its diameter.") % {"code": code}
                )
            if data.get("split_merge") == "MERGED":
                if not data.get("merged_into"):
                    self.add_error(
                        "merged_into", _("%(code)s: name the lesion it merged into (R1.11).") % {"code": code}
                    )
                if status == "":
                    data["result_status"] = status = LesionResult.Status.MEASURED
                if value not in (None, Decimal(0)):
                    self.add_error(
                        "value_mm",
                        _(
                            "%(code)s merged: record the merged diameter on the other lesion and 0 mm here (R1.11)."
                        )
                        % {"code": code},
                    )
                data["value_mm"] = Decimal(0)
                return data
            if data.get("merged_into"):
                self.add_error("merged_into", _("Only for a merged lesion (R1.11)."))
            if status == "" and value is not None:
                data["result_status"] = status = LesionResult.Status.MEASURED
            if status == "":
                self.add_error(
                    "value_mm",
                    _(
                        "%(code)s: no value. Enter the diameter, or choose TOO SMALL TO MEASURE, DISAPPEARED or "
                        "NOT EVALUABLE; a blank is never taken as 0 (EC-TA-1, R1.17)."
                    )
                    % {"code": code},
                )
            elif status == LesionResult.Status.MEASURED and value is None:
                self.add_error(
                    "value_mm",
                    _(
                        "%(code)s: MEASURED needs the diameter; choose NOT EVALUABLE if it was not measured (EC-TA-1)."
                    )
                    % {"code": code},
                )
            elif status == LesionResult.Status.TOO_SMALL:
                if value not in (None, Decimal(5)):
                    self.add_error(
                        "value_mm",
                        _("TOO SMALL TO MEASURE counts as 5 mm; choose MEASURED for a real value (R1.10)."),
                    )
                data["value_mm"] = None
            elif status == LesionResult.Status.DISAPPEARED:
                if value not in (None, Decimal(0)):
                    self.add_error(
                        "value_mm", _("DISAPPEARED counts as 0 mm; leave the diameter blank (R1.10).")
                    )
                data["value_mm"] = None
            elif status == LesionResult.Status.NOT_EVALUABLE and value is not None:
                self.add_error("value_mm", _("NOT EVALUABLE with a diameter: choose one (R1.17)."))
        else:
            sized = (LesionResult.Status.TOO_SMALL, LesionResult.Status.DISAPPEARED)
            if status in sized and self.irradiated:
                # CRF-SPEC form 9, R1.10: an irradiated lesion's size for local control (D5, D12) may be TOO SMALL
                # TO MEASURE (5 mm) or DISAPPEARED (0 mm); its non-target state still decides RECIST (R1.18).
                if value is not None:
                    self.add_error(
                        "value_mm",
                        _("%(code)s: %(status)s stands for the size; leave the diameter blank (R1.10).")
                        % {"code": code, "status": LesionResult.Status(status).label},
                    )
                if status == LesionResult.Status.DISAPPEARED and data.get("nontarget_state") in (
                    LesionResult.NonTargetState.PRESENT,
                    LesionResult.NonTargetState.UNEQUIVOCAL_PROGRESSION,
                ):
                    self.add_error(
                        "nontarget_state",
                        _("%(code)s: recorded as DISAPPEARED, so its status is ABSENT (R1.18).")
                        % {"code": code},
                    )
            elif status in sized:
                self.add_error(
                    "result_status",
                    _(
                        "%(code)s is a non-target that was not irradiated: record its status only; a size is kept "
                        "only for lesions treated with protocol SABR (R1.8)."
                    )
                    % {"code": code},
                )
            elif status and status != LesionResult.Status.MEASURED:
                self.add_error(
                    "result_status", _("%(code)s is a non-target: record its status.") % {"code": code}
                )
            if status not in sized:
                data["result_status"] = ""
            if not data.get("nontarget_state"):
                self.add_error(
                    "nontarget_state",
                    _(
                        "%(code)s: choose PRESENT, ABSENT, UNEQUIVOCAL PROGRESSION or NOT EVALUABLE (EC-TA-1, R1.18)."
                    )
                    % {"code": code},
                )
            if data.get("split_merge") not in ("", "NONE") or data.get("merged_into"):
                self.add_error("split_merge", _("Split and merge apply to target lesions (R1.11)."))
            if value is not None and not self.irradiated:
                self.add_error(
                    "value_mm",
                    _("Non-targets are not measured (R1.8); a size is kept only for irradiated lesions."),
                )
        if not self.irradiated and (data.get("infield_progression") or data.get("lf_confirmation")):
            self.add_error(
                "infield_progression",
                _("In-field progression applies only to lesions treated with protocol SABR (EC-TA-5)."),
            )
        return data

    def row_data(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "lesion": self.lesion,
            "result_status": data.get("result_status") or "",
            "value_mm": data.get("value_mm"),
            "split_merge": data.get("split_merge") or "NONE",
            "merged_into": data.get("merged_into"),
            "nontarget_state": data.get("nontarget_state") or "",
            "further_increase": data.get("further_increase") or "",
            "infield_progression": data.get("infield_progression") or "",
            "lf_confirmation": data.get("lf_confirmation") or "",
        }


class NewLesionForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = NewLesion
        fields = [
            "code",
            "organ",
            "laterality",
            "location_text",
            "detected_by",
            "first_seen_date",
            "unequivocal",
            "pet_baseline",
            "ct_confirmed",
            "new_value_mm",
            "present",
        ]
        widgets = {"first_seen_date": DateInput()}

    def clean_new_value_mm(self) -> Decimal | None:
        value = self.cleaned_data.get("new_value_mm")
        if value is not None and not (0 <= value <= MAX_DIAMETER_MM):
            raise forms.ValidationError(_("A diameter lies between 0 and 400 mm."))
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("detected_by") == "PET/CT" and not data.get("pet_baseline"):
            self.add_error(
                "pet_baseline", _("For a lesion found on PET, say whether a baseline PET exists (R1.20).")
            )
        return data


class BaseNewLesionFormSet(forms.BaseInlineFormSet):  # type: ignore[type-arg]
    """The new lesions of a time point. A row is matched by its code when saved (``save_assessment``), so the
    hidden row id is a plain number: a row another user removed meanwhile comes back as a new row to merge, not as
    "Select a valid choice" on a hidden field."""

    def add_fields(self, form: forms.BaseForm, index: int | None) -> None:
        super().add_fields(form, index)
        pk = getattr(getattr(form, "instance", None), "pk", None)
        form.fields["id"] = forms.IntegerField(required=False, widget=forms.HiddenInput, initial=pk)


NewLesionFormSet = forms.inlineformset_factory(
    TumourAssessment, NewLesion, form=NewLesionForm, formset=BaseNewLesionFormSet, extra=1, can_delete=True
)
