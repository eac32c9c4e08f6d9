"""Tumour assessments: lesion registry (CRF-SPEC form 8) and tumour assessments (form 9).

Clinical maths (measurability, sums, responses, local control, iRECIST) lives in the pure module
``assessments.recist``; this module stores the entered data and the derived results recist computed.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from simple_history.models import HistoricalRecords

from sabr_trial import pipeline
from sabr_trial.crf import CrfBase, validate_constraints_in_python
from sabr_trial.validators import not_in_future

MAX_DIAMETER_MM = Decimal(400)


def _mm_field(
    verbose: Any, *, help_text: Any = "", editable: bool = True, derived: bool = False
) -> models.DecimalField:
    validators = [] if derived else [MinValueValidator(Decimal(0)), MaxValueValidator(MAX_DIAMETER_MM)]
    return models.DecimalField(
        verbose,
        max_digits=5 if not derived else 7,
        decimal_places=1,
        null=True,
        blank=True,
        validators=validators,
        help_text=help_text,
        editable=editable,
    )


def next_code(queryset: models.QuerySet[Any], field: str, prefix: str) -> str:
    """Return the next free code ``L1``, ``L2``... (or ``N1``...) among ``queryset``."""
    numbers = [0]
    for code in queryset.values_list(field, flat=True):
        if code and code.startswith(prefix) and code[len(prefix) :].isdigit():
            numbers.append(int(code[len(prefix) :]))
    return f"{prefix}{max(numbers) + 1}"


class YesNo(models.TextChoices):
    YES = "Y", _("Yes")
    NO = "N", _("No")


class Organ(models.TextChoices):
    LUNG = "LUNG", _("Lung")
    LYMPH_NODE = "LYMPH NODE", _("Lymph node")
    LIVER = "LIVER", _("Liver")
    BONE = "BONE", _("Bone")
    ADRENAL_GLAND = "ADRENAL GLAND", _("Adrenal gland")
    KIDNEY = "KIDNEY", _("Kidney")
    PANCREAS = "PANCREAS", _("Pancreas")
    BRAIN = "BRAIN", _("Brain")
    PLEURA = "PLEURA", _("Pleura")
    SOFT_TISSUE = "SOFT TISSUE", _("Soft tissue")
    OTHER = "OTHER", _("Other")


class Laterality(models.TextChoices):
    LEFT = "LEFT", _("Left")
    RIGHT = "RIGHT", _("Right")
    BILATERAL = "BILATERAL", _("Bilateral")


class Method(models.TextChoices):
    CT = "CT SCAN", _("CT scan")
    MRI = "MRI", _("MRI")
    PET_CT = "PET/CT", _("PET/CT")
    XRAY = "X-RAY", _("X-ray")
    PHYSICAL_EXAM = "PHYSICAL EXAMINATION", _("Physical examination (calipers)")


class DetectionMethod(models.TextChoices):
    CT = "CT SCAN", _("CT scan")
    MRI = "MRI", _("MRI")
    PET_CT = "PET/CT", _("PET/CT")
    BONE_SCAN = "BONE SCAN", _("Bone scan")
    CLINICAL = "CLINICAL", _("Clinical")


class Response(models.TextChoices):
    CR = "CR", _("CR")
    PR = "PR", _("PR")
    SD = "SD", _("SD")
    NON_CR_NON_PD = "NON-CR/NON-PD", _("Non-CR/non-PD")
    PD = "PD", _("PD")
    NE = "NE", _("NE")


class IResponse(models.TextChoices):
    ICR = "iCR", _("iCR")
    IPR = "iPR", _("iPR")
    ISD = "iSD", _("iSD")
    INN = "NON-iCR/NON-iUPD", _("Non-iCR/non-iUPD")
    IUPD = "iUPD", _("iUPD")
    ICPD = "iCPD", _("iCPD")
    INE = "iNE", _("iNE")


class Lesion(CrfBase):
    """CRF 8: one registered baseline lesion (target or non-target). New lesions are ``NewLesion`` rows of form 9."""

    class Role(models.TextChoices):
        TARGET = "TARGET", pgettext_lazy("lesion role", "Target")
        NON_TARGET = "NON-TARGET", _("Non-target")
        NEW = "NEW", _("New")

    class NonMeasurableType(models.TextChoices):
        BLASTIC_BONE = "BLASTIC BONE", _("Blastic bone")
        EFFUSION = "EFFUSION", _("Effusion")
        ASCITES = "ASCITES", _("Ascites")
        LEPTOMENINGEAL = "LEPTOMENINGEAL", _("Leptomeningeal")
        LYMPHANGITIC = "LYMPHANGITIC", _("Lymphangitic")
        SMALL = "SMALL", _("Small lesion")
        OTHER = "OTHER", _("Other")

    lesion_code = models.CharField(
        _("Lesion code"),
        max_length=4,
        editable=False,
        help_text=_("Numbered automatically in the order of entry: L1, L2, ..."),
    )
    role = models.CharField(
        _("Role"),
        max_length=10,
        choices=Role.choices,
        help_text=_(
            "At most 5 targets, at most 2 per organ; every other lesion is a non-target (R1.6, R1.8)."
        ),
    )
    organ = models.CharField(_("Organ / site"), max_length=15, choices=Organ.choices)
    laterality = models.CharField(_("Side"), max_length=10, choices=Laterality.choices, blank=True)
    location_text = models.CharField(_("Exact location"), max_length=100)
    organ_group = models.CharField(
        _("RECIST organ group"),
        max_length=15,
        choices=Organ.choices,
        editable=False,
        help_text=_("All nodes are one group; both lungs one; both kidneys one (R1.6)."),
    )
    is_nodal = models.CharField(_("Lymph node?"), max_length=1, choices=YesNo.choices, editable=False)
    method = models.CharField(_("Imaging method"), max_length=20, choices=Method.choices)
    slice_thickness_mm = models.DecimalField(
        _("Slice thickness (mm)"),
        max_digits=5,
        decimal_places=3,
        null=True,
        blank=True,
        # as scanners report it: 0.625, 1.25, 2.5, 5 mm (CRF-SPEC: decimal(5,3)); a rounded value fails SDV
        validators=[MinValueValidator(Decimal("0.001"))],
        help_text=_("Required for CT, MRI and PET/CT: above 5 mm the minimum size is 2 x slice (R1.1)."),
    )
    baseline_date = models.DateField(_("Baseline scan date"), validators=[not_in_future])
    baseline_value_mm = models.DecimalField(
        _("Longest diameter (short axis for nodes), mm"),
        max_digits=5,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.1")), MaxValueValidator(MAX_DIAMETER_MM)],
        help_text=_("Required for targets. Lymph nodes: the SHORT axis (R1.2). > 0 and at most 400 mm."),
    )
    nonmeasurable_type = models.CharField(
        _("Non-measurable type"), max_length=15, choices=NonMeasurableType.choices, blank=True
    )
    group_count = models.PositiveIntegerField(
        _("Lesions this record stands for"),
        default=1,
        validators=[MinValueValidator(1)],
        help_text=_(
            "Several non-targets in one organ may be one record, e.g. multiple liver metastases (R1.8)."
        ),
    )
    measurable = models.CharField(
        _("Measurable at baseline"), max_length=1, choices=YesNo.choices, editable=False
    )
    measurability_rule = models.CharField(_("Measurability rule"), max_length=200, blank=True, editable=False)
    previously_irradiated = models.CharField(
        _("Irradiated before enrolment?"),
        max_length=1,
        choices=YesNo.choices,
        default=YesNo.NO,
        help_text=_(
            "From the prior radiotherapy form (7). Such a lesion is a target only if it progressed since (R1.4)."
        ),
    )
    progressed_since_rt = models.CharField(
        _("Progressed since that radiotherapy?"), max_length=1, choices=YesNo.choices, blank=True
    )

    class Meta:
        verbose_name = _("lesion")
        verbose_name_plural = _("lesion registry")
        ordering = ["patient_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["patient", "lesion_code"], name="lesion_code_unique_per_patient"),
            models.CheckConstraint(
                condition=models.Q(baseline_value_mm__isnull=True) | models.Q(baseline_value_mm__gt=0),
                name="lesion_baseline_value_positive",
            ),
            models.CheckConstraint(
                condition=models.Q(group_count__gte=1), name="lesion_group_count_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.lesion_code} {self.get_organ_display()} {self.location_text}".strip()

    @property
    def nodal(self) -> bool:
        return self.organ == Organ.LYMPH_NODE

    @property
    def sabr_target_rows(self) -> list[Any]:
        """The protocol SABR targets treating this lesion (reverse FK added by the treatment app), or []."""
        manager = getattr(self, "sabr_targets", None)
        if manager is None or self.pk is None:
            return []
        return list(manager.all())

    @property
    def irradiated_protocol(self) -> bool:
        """D4: treated with protocol SABR (a SabrTarget points at this lesion). Read once per batch (the import's
        grid asks it of every lesion at every time point) until a target is written (``pipeline.batch_read``)."""
        manager = getattr(self, "sabr_targets", None)
        if (
            manager is None
            or self.pk is None
            or "sabr_targets" in getattr(self, "_prefetched_objects_cache", {})
        ):
            return bool(self.sabr_target_rows)
        return bool(
            pipeline.batch_read(
                ("irradiated_protocol", self.pk), (manager.model,), lambda: bool(self.sabr_target_rows)
            )
        )


class TumourAssessment(CrfBase):
    """CRF 9: one imaging time point, with one ``LesionResult`` per registered lesion and its ``NewLesion`` rows."""

    visit_label = models.CharField(_("Time point"), max_length=30, blank=True, editable=False)
    imaging_done = models.CharField(
        _("Was imaging done?"), max_length=1, choices=YesNo.choices, default=YesNo.YES
    )
    not_done_reason = models.CharField(
        _("Why not?"),
        max_length=200,
        blank=True,
        help_text=_("Required when imaging was not done: the time point is NE (R1.22)."),
    )
    scan_date_first = models.DateField(
        _("First scan date of this time point"), null=True, blank=True, validators=[not_in_future]
    )
    scan_date_last = models.DateField(
        _("Last scan date of this time point"),
        null=True,
        blank=True,
        validators=[not_in_future],
        help_text=_("Leave blank if all scans were on one day."),
    )
    visit_date = models.DateField(
        _("Visit date (no imaging)"),
        null=True,
        blank=True,
        validators=[not_in_future],
        help_text=_("Date of the missed time point when imaging was not done."),
    )
    modality = models.CharField(_("Modality"), max_length=20, choices=Method.choices, blank=True)
    clinical_deterioration = models.CharField(
        _("Symptomatic deterioration without objective PD?"),
        max_length=1,
        choices=YesNo.choices,
        default=YesNo.NO,
        help_text=_(
            "Symptoms got worse without progression on the scans. Recorded apart: it never changes the RECIST response (R1.22)."
        ),
    )
    clinically_stable = models.CharField(
        _("Clinically stable (treatment beyond iUPD)?"), max_length=1, choices=YesNo.choices, blank=True
    )
    investigator_response = models.CharField(
        _("Investigator's overall response"), max_length=15, choices=Response.choices, blank=True
    )
    entries_summary = models.TextField(
        _("Lesion entries"),
        blank=True,
        help_text=_(
            "Every lesion row and new lesion of this time point, as entered (kept in the audit trail)."
        ),
    )
    # Derived (recist), stored read-only.
    sum_mm = models.DecimalField(
        _("Sum of diameters (mm)"), max_digits=7, decimal_places=1, null=True, blank=True, editable=False
    )
    baseline_sum_mm = models.DecimalField(
        _("Baseline sum (mm)"), max_digits=7, decimal_places=1, null=True, blank=True, editable=False
    )
    nadir_mm = models.DecimalField(
        _("Nadir (mm)"), max_digits=7, decimal_places=1, null=True, blank=True, editable=False
    )
    pct_chg_baseline = models.DecimalField(
        _("Change from baseline (%)"), max_digits=8, decimal_places=2, null=True, blank=True, editable=False
    )
    pct_chg_nadir = models.DecimalField(
        _("Change from nadir (%)"), max_digits=8, decimal_places=2, null=True, blank=True, editable=False
    )
    chg_nadir_mm = models.DecimalField(
        _("Change from nadir (mm)"), max_digits=7, decimal_places=1, null=True, blank=True, editable=False
    )
    target_resp = models.CharField(
        _("Target response"), max_length=15, choices=Response.choices, blank=True, editable=False
    )
    target_rule = models.TextField(_("Target rule"), blank=True, editable=False)
    nontarget_resp = models.CharField(
        _("Non-target response"), max_length=15, choices=Response.choices, blank=True, editable=False
    )
    nontarget_rule = models.TextField(_("Non-target rule"), blank=True, editable=False)
    new_lesion_ind = models.CharField(
        _("New lesion"), max_length=1, choices=YesNo.choices, blank=True, editable=False
    )
    new_lesion_rule = models.TextField(_("New-lesion rule"), blank=True, editable=False)
    overall_resp = models.CharField(
        _("Overall response (RECIST 1.1)"),
        max_length=15,
        choices=Response.choices,
        blank=True,
        editable=False,
    )
    deciding_rule = models.TextField(_("Deciding rule"), blank=True, editable=False)
    overall_resp_nonirr = models.CharField(
        _("Response of non-irradiated lesions"),
        max_length=15,
        choices=Response.choices,
        blank=True,
        editable=False,
    )
    irecist_resp = models.CharField(
        _("iRECIST response"), max_length=20, choices=IResponse.choices, blank=True, editable=False
    )
    irecist_rule = models.TextField(_("iRECIST rule"), blank=True, editable=False)
    pd_date = models.DateField(_("PD date"), null=True, blank=True, editable=False)
    derivation_error = models.TextField(
        _("Why the response could not be computed"), blank=True, editable=False
    )

    class Meta:
        verbose_name = _("tumour assessment")
        ordering = ["patient_id", "scan_date_first", "visit_date", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(scan_date_last__isnull=True)
                | models.Q(scan_date_first__isnull=True)
                | models.Q(scan_date_last__gte=models.F("scan_date_first")),
                name="assessment_last_scan_after_first",
            ),
        ]

    def __str__(self) -> str:
        when = self.scan_date_first or self.visit_date
        return f"{self.visit_label_text or _('Assessment')} {when or ''}".strip()

    @property
    def visit_label_text(self) -> str:
        """The stored label ("Week 24", English for SDTM VISIT) in the reader's language."""
        found = re.fullmatch(r"Week (\d+)", self.visit_label or "")
        return _("Week %(w)s") % {"w": found[1]} if found else self.visit_label

    @property
    def assessment_date(self) -> date | None:
        return self.scan_date_first or self.visit_date


class LesionResult(models.Model):
    """One registered lesion at one time point (form 9, per lesion)."""

    class Status(models.TextChoices):
        MEASURED = "MEASURED", _("Measured")
        TOO_SMALL = "TOO SMALL TO MEASURE", _("Too small to measure (5 mm)")
        DISAPPEARED = "DISAPPEARED", _("Disappeared (0 mm)")
        NOT_EVALUABLE = "NOT EVALUABLE", _("Not evaluable")

    class SplitMerge(models.TextChoices):
        NONE = "NONE", _("None")
        SPLIT = "SPLIT", _("Split (sum of fragments)")
        MERGED = "MERGED", _("Merged into another lesion")

    class NonTargetState(models.TextChoices):
        PRESENT = "PRESENT", _("Present")
        ABSENT = "ABSENT", _("Absent")
        UNEQUIVOCAL_PROGRESSION = "UNEQUIVOCAL PROGRESSION", _("Unequivocal progression")
        NOT_EVALUABLE = "NOT EVALUABLE", _("Not evaluable")

    class LfConfirmation(models.TextChoices):
        CONSECUTIVE_GROWTH = "CONSECUTIVE GROWTH", _("Growth on consecutive scans")
        PET_AVIDITY = "PET AVIDITY", _("PET avidity")
        BIOPSY = "BIOPSY", _("Biopsy")
        NOT_YET = "NOT YET", _("Not yet confirmed")

    assessment = models.ForeignKey(TumourAssessment, on_delete=models.CASCADE, related_name="results")
    lesion = models.ForeignKey(
        Lesion, on_delete=models.PROTECT, related_name="results", verbose_name=_("Lesion")
    )
    result_status = models.CharField(_("Result"), max_length=25, choices=Status.choices, blank=True)
    value_mm = _mm_field(_("Diameter (short axis for nodes), mm"), help_text=_("0 to 400 mm."))
    split_merge = models.CharField(
        _("Split or merged"), max_length=6, choices=SplitMerge.choices, default=SplitMerge.NONE
    )
    merged_into = models.ForeignKey(
        Lesion,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("Merged into"),
    )
    nontarget_state = models.CharField(
        _("Non-target status"), max_length=25, choices=NonTargetState.choices, blank=True
    )
    further_increase = models.CharField(
        _("Further increase since the last assessment (iRECIST)?"),
        max_length=1,
        choices=YesNo.choices,
        blank=True,
    )
    infield_progression = models.CharField(
        _("Unequivocal in-field progression (investigator)?"), max_length=1, choices=YesNo.choices, blank=True
    )
    lf_confirmation = models.CharField(
        _("How was local failure confirmed?"), max_length=20, choices=LfConfirmation.choices, blank=True
    )
    # Derived
    value_used_mm = _mm_field(_("Value used in the sum (mm)"), editable=False, derived=True)
    local_failure = models.CharField(
        _("Local failure (computed)"), max_length=1, choices=YesNo.choices, blank=True, editable=False
    )
    lesion_nadir_mm = _mm_field(_("Lesion nadir (mm)"), editable=False, derived=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("lesion result")
        ordering = ["assessment_id", "lesion_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["assessment", "lesion"], name="one_result_per_lesion_per_assessment"
            ),
            models.CheckConstraint(
                condition=models.Q(value_mm__isnull=True)
                | (models.Q(value_mm__gte=0) & models.Q(value_mm__lte=400)),
                name="lesion_result_value_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.lesion.lesion_code} @ {self.assessment}"

    def validate_constraints(self, exclude: Any = None) -> None:
        """The check constraints evaluated in Python, as a CRF's are (no query and no savepoint per lesion row)."""
        validate_constraints_in_python(self, exclude)


class NewLesion(models.Model):
    """A new lesion recorded at one time point (form 9). Re-record it with the same code at later time points."""

    class PetBaseline(models.TextChoices):
        NEGATIVE = "NEGATIVE", _("Negative")
        POSITIVE = "POSITIVE", _("Positive")
        NO_BASELINE_PET = "NO BASELINE PET", _("No baseline PET")

    assessment = models.ForeignKey(TumourAssessment, on_delete=models.CASCADE, related_name="new_lesions")
    code = models.CharField(
        _("New lesion code"),
        max_length=4,
        blank=True,
        help_text=_(
            "N1, N2, ... Leave blank for a lesion seen for the first time; reuse the code to follow one."
        ),
    )
    organ = models.CharField(_("Organ / site"), max_length=15, choices=Organ.choices)
    laterality = models.CharField(_("Side"), max_length=10, choices=Laterality.choices, blank=True)
    location_text = models.CharField(_("Exact location"), max_length=100)
    detected_by = models.CharField(_("How detected"), max_length=20, choices=DetectionMethod.choices)
    first_seen_date = models.DateField(
        _("Date of the scan that first showed it"),
        validators=[not_in_future],
        help_text=_("Keep the same date at every time point: PD is dated to it (R1.19, R5.3)."),
    )
    unequivocal = models.CharField(
        _("Unequivocal?"),
        max_length=1,
        choices=YesNo.choices,
        help_text=_("N = equivocal: not PD yet, keep following (R1.19, EC-TA-4)."),
    )
    pet_baseline = models.CharField(
        _("Baseline PET at this site"),
        max_length=16,
        choices=PetBaseline.choices,
        blank=True,
        help_text=_("For lesions found on PET only (R1.20)."),
    )
    ct_confirmed = models.CharField(_("Confirmed on CT?"), max_length=1, choices=YesNo.choices, blank=True)
    reappearance_of = models.ForeignKey(
        Lesion,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("Reappearance of baseline lesion"),
        help_text=_("R1.21"),
    )
    new_value_mm = _mm_field(_("Size if measurable (iRECIST new target), mm"))
    present = models.CharField(_("Still present?"), max_length=1, choices=YesNo.choices, default=YesNo.YES)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("new lesion")
        ordering = ["assessment_id", "code", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["assessment", "code"], name="new_lesion_code_unique_per_assessment"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.get_organ_display()} {self.location_text}"
