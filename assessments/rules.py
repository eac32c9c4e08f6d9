"""Cross-field edit checks of the assessment CRFs (CRF-SPEC EC-LR-*, EC-TA-*).

Each check raises ``ValidationError({field: "message (EC-..)"})``. The clinical tests (measurability, target
limits) are recist's; this module maps recist's reasons onto the form fields and the edit-check ids.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

import ruletext
from assessments import recist
from enrollment import selectors as enrollment_selectors
from sabr_trial.templatetags.ruletext import text

if TYPE_CHECKING:
    from assessments.models import Lesion, TumourAssessment

CROSS_SECTIONAL = {"CT SCAN", "MRI", "PET/CT"}
#: recist rule of a target-selection problem -> (edit check, form field)
_SELECTION_CHECK = {"R1.6": ("EC-LR-1", "role"), "R1.4": ("EC-LR-3", "role")}


def dec(value: Any) -> Decimal | None:
    return (
        None if value is None or value == "" else value if isinstance(value, Decimal) else Decimal(str(value))
    )


def derive_lesion(lesion: Lesion) -> recist.MeasurabilityResult | None:
    """Set the derived registry fields (organ group, nodal flag, measurability, R1.1-R1.3, R1.6)."""
    if not lesion.organ:
        return None
    organ = recist.Organ(lesion.organ)
    lesion.organ_group = recist.organ_group(organ).value
    lesion.is_nodal = "Y" if organ is recist.Organ.LYMPH_NODE else "N"
    if not lesion.method:
        return None
    try:
        result = recist.assess_measurability(
            organ=organ,
            method=recist.Method(lesion.method),
            value_mm=dec(lesion.baseline_value_mm),
            slice_thickness_mm=dec(lesion.slice_thickness_mm),
            nonmeasurable_type=recist.NonMeasurableType(lesion.nonmeasurable_type)
            if lesion.nonmeasurable_type
            else None,
        )
    except recist.RecistError:
        if lesion.missing_code("slice_thickness_mm"):  # slice coded missing: measurability is not known
            lesion.measurable, lesion.measurability_rule = "", ""
        return None
    lesion.measurable = "Y" if result.measurable else "N"
    # Stored as a message id with parameters (ruletext); a text that would not fit is kept as English.
    stored = ruletext.dumps(result.rule)
    lesion.measurability_rule = stored if len(stored) <= 200 else str(result.rule)[:200]
    return result


def baseline_date(patient: Any) -> datetime.date | None:
    """The latest baseline scan date of the patient's registry (follow-up scans must come after it)."""
    from assessments.models import Lesion

    dates = list(Lesion.objects.filter(patient=patient).values_list("baseline_date", flat=True))
    return max(dates) if dates else None


def death_date(patient: Any) -> datetime.date | None:
    """The patient's date of death (EC-G2), from the enrollment death report."""
    return enrollment_selectors.death_date(patient)


def check_lesion(lesion: Lesion) -> None:
    """EC-LR-1 (R1.6), EC-LR-2 (R1.1-R1.3), EC-LR-3 (R1.4), EC-LR-5 (freeze after the first follow-up)."""
    from assessments.models import Lesion as LesionModel

    errors: dict[str, str] = {}
    coded = lesion.missing_code("slice_thickness_mm")
    if (
        lesion.slice_thickness_mm is None
        and lesion.method in CROSS_SECTIONAL
        and (not coded or lesion.role == "TARGET")
    ):
        errors["slice_thickness_mm"] = _(
            "Give the slice thickness: on CT, MRI and PET/CT it sets the minimum measurable size (R1.1, EC-LR-2)."
        )
        if coded:  # a missing-data code: allowed on a non-target only (issue 19 item 9)
            errors["slice_thickness_mm"] = _(
                "A target needs its slice thickness: it sets the minimum measurable size (R1.1, EC-LR-2). "
                "Only a non-target's may be left unknown."
            )
    if lesion.previously_irradiated == "Y" and not lesion.progressed_since_rt:
        errors["progressed_since_rt"] = _(
            "Say whether the lesion progressed since its earlier radiotherapy (R1.4, EC-LR-3)."
        )
    if lesion.previously_irradiated != "Y" and lesion.progressed_since_rt:
        errors["progressed_since_rt"] = _("Only for a lesion irradiated before enrolment (R1.4).")
    measurability = derive_lesion(lesion)
    if (
        lesion.organ == "LYMPH NODE"
        and lesion.baseline_value_mm is not None
        and lesion.baseline_value_mm < Decimal(10)
        and not lesion.nonmeasurable_type
    ):
        errors["baseline_value_mm"] = _(
            "A node with short axis %(v)s mm (< 10 mm) is normal and is not registered (R1.2, EC-LR-2)."
        ) % {"v": lesion.baseline_value_mm}
    if lesion.role == "TARGET" and "slice_thickness_mm" not in errors and "baseline_value_mm" not in errors:
        if lesion.baseline_value_mm is None and not lesion.nonmeasurable_type:
            errors["baseline_value_mm"] = _(
                "A target needs its baseline diameter (short axis for a node) (R1.7, EC-LR-2)."
            )
        elif measurability is not None and not measurability.measurable:
            errors["role"] = _(
                "Not measurable, so it cannot be a target: %(why)s (EC-LR-2). Register it as a non-target."
            ) % {"why": text(measurability.rule)}
        elif lesion.patient_id and lesion.organ and lesion.method:
            others = (
                LesionModel.objects.filter(patient_id=lesion.patient_id, role="TARGET")
                .exclude(pk=lesion.pk)
                .order_by("id")
            )
            from assessments.adapters import to_lesion

            code = lesion.lesion_code or _("this lesion")
            proposed = [to_lesion(o, irradiated=False) for o in others] + [
                to_lesion(lesion, code=str(code), irradiated=False)
            ]
            for problem in recist.validate_target_selection(proposed):
                if problem.lesion_code != str(code):
                    continue
                check, field = _SELECTION_CHECK.get(problem.rule, ("EC-LR-2", "role"))
                errors.setdefault(field, f"{text(problem.message)} ({check})")
    if lesion.pk and not errors:
        check_frozen(lesion)
    if errors:
        raise ValidationError(errors)


FROZEN_FIELDS = ("role", "organ", "baseline_value_mm")


def check_frozen(lesion: Lesion) -> None:
    """EC-LR-5: role, organ and baseline value freeze once a follow-up assessment records the lesion."""
    from assessments.models import Lesion as LesionModel
    from assessments.models import LesionResult

    if not LesionResult.objects.filter(lesion_id=lesion.pk).exists():
        return
    before = LesionModel.objects.get(pk=lesion.pk)
    errors = {
        name: _(
            "Frozen: a follow-up assessment already records this lesion, so %(field)s cannot change "
            "(EC-LR-5). Ask data management to unfreeze it."
        )
        % {"field": LesionModel._meta.get_field(name).verbose_name}
        for name in FROZEN_FIELDS
        if getattr(before, name) != getattr(lesion, name)
    }
    if errors:
        raise ValidationError(errors)


def check_assessment(assessment: TumourAssessment) -> None:
    """EC-TA-2: dates between the baseline scan and death, last >= first; imaging not done needs a reason."""
    errors: dict[str, str] = {}
    if assessment.imaging_done == "Y":
        if not assessment.scan_date_first:
            errors["scan_date_first"] = _("Give the first scan date of this time point (EC-TA-2).")
        if not assessment.modality:
            errors["modality"] = _("Give the imaging modality (R1.5).")
    else:
        if not assessment.not_done_reason.strip():
            errors["not_done_reason"] = _(
                "Say why imaging was not done; the time point is NE (R1.22, EC-TA-2)."
            )
        if not assessment.visit_date:
            errors["visit_date"] = _("Give the date of the missed time point (EC-TA-2).")
        # No scan dates nor modality then, no reason nor visit date with imaging: the CRF's branching (crfs.py).
    first = assessment.scan_date_first or assessment.visit_date
    last = assessment.scan_date_last
    if assessment.scan_date_first and last and last < assessment.scan_date_first:
        errors["scan_date_last"] = _(
            "The last scan date %(last)s is before the first %(first)s (EC-TA-2)."
        ) % {
            "last": last,
            "first": assessment.scan_date_first,
        }
    if assessment.patient_id and first:
        base = baseline_date(assessment.patient)
        field = "scan_date_first" if assessment.scan_date_first else "visit_date"
        if base is None:
            errors.setdefault(
                field,
                _("Register the baseline lesions (lesion registry) before a follow-up assessment (EC-TA-1)."),
            )
        elif first <= base:
            errors.setdefault(
                field,
                _(
                    "%(d)s is not after the baseline scan of %(b)s: a follow-up comes after baseline (EC-TA-2)."
                )
                % {"d": first, "b": base},
            )
        died = death_date(assessment.patient)
        latest = last or first
        if died and latest > died:
            errors.setdefault(
                "scan_date_last" if last else field,
                _("%(d)s is after the death of the patient on %(death)s (EC-TA-2, EC-G2).")
                % {"d": latest, "death": died},
            )
    if errors:
        raise ValidationError(errors)
