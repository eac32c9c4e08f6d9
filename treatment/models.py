"""Treatment CRFs (CRF-SPEC forms 10-16): SABR course, target, fraction; axitinib; toripalimab;
immunosuppressants; subsequent anticancer therapy.

Derived columns (``editable=False``) are computed from the pure modules ``treatment.radiobiology`` and
``treatment.dosing`` on save, never typed. Cross-field checks live in ``treatment.rules``.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from sabr_trial.crf import CrfBase
from sabr_trial.validators import not_in_future
from treatment import dosing, radiobiology

POSITIVE = MinValueValidator(Decimal("0.01"))


class YesNo(models.TextChoices):
    """CDISC NY codelist (Y/N only)."""

    Y = "Y", _("Yes")
    N = "N", _("No")


class RulesFirstMixin:
    """Run the named rule checks (clean) first; the database constraints, a safety net behind the rules, are
    validated only when the rules passed, so the user sees one specific message per field, not both."""

    def full_clean(self, exclude=None, validate_unique=True, validate_constraints=True):  # type: ignore[no-untyped-def]
        super().full_clean(exclude=exclude, validate_unique=validate_unique, validate_constraints=False)  # type: ignore[misc]
        if validate_constraints:
            self.validate_constraints(exclude=exclude)  # type: ignore[attr-defined]


def _gy(value: Decimal | None) -> str:
    return "—" if value is None else f"{radiobiology.round_gy(value)}"


# --- Form 10 ---------------------------------------------------------------------------------------------


class SabrCourse(RulesFirstMixin, CrfBase):
    """CRF 10: a SABR course (CRF-SPEC section 10)."""

    class Indication(models.TextChoices):
        INITIAL = "INITIAL PROTOCOL SABR", _("Initial protocol SABR")
        OLIGOPROGRESSION = "OLIGOPROGRESSION ON PROTOCOL DRUGS", _("Oligoprogression on protocol drugs")
        OTHER = "OTHER", _("Other")

    class Technique(models.TextChoices):
        VMAT = "VMAT", _("VMAT")
        IMRT = "IMRT", _("IMRT")
        CRT3D = "3D-CRT", _("3D-CRT")
        CYBERKNIFE = "CYBERKNIFE", _("CyberKnife")
        OTHER = "OTHER", _("Other")

    class ImageGuidance(models.TextChoices):
        CBCT = "CBCT", _("Cone-beam CT")
        PLANAR = "KV/MV PLANAR", _("kV/MV planar")
        FIDUCIAL = "FIDUCIAL TRACKING", _("Fiducial tracking")
        MR = "MR-GUIDED", _("MR-guided")
        OTHER = "OTHER", _("Other")

    class CompletionStatus(models.TextChoices):
        AS_PLANNED = "AS PLANNED", _("As planned")
        WITH_CHANGES = "WITH CHANGES", _("With changes")
        STOPPED_EARLY = "STOPPED EARLY", _("Stopped early")

    class StopReason(models.TextChoices):
        TOXICITY = "TOXICITY", _("Toxicity")
        PROGRESSION = "PROGRESSION", _("Progression")
        PATIENT_DECISION = "PATIENT DECISION", _("Patient decision")
        OTHER = "OTHER", _("Other")

    course_number = models.PositiveSmallIntegerField(
        _("Course"), editable=False, help_text=_("Numbered 1, 2, ... per patient when the course is created.")
    )
    is_protocol = models.CharField(
        _("Protocol SABR course?"),
        max_length=1,
        choices=YesNo.choices,
        default=YesNo.Y,
        help_text=_("The first delivered fraction of the first protocol course is the SABR start (D1)."),
    )
    indication = models.CharField(
        _("Indication"),
        max_length=40,
        choices=Indication.choices,
        default=Indication.INITIAL,
        help_text=_(
            "Oligoprogression SABR or a non-protocol course needs a subsequent-therapy form (EC-SB-3)."
        ),
    )
    simulation_date = models.DateField(
        _("Planning CT date"),
        validators=[not_in_future],
        help_text=_("On or before the first fraction (EC-SB-1)."),
    )
    technique = models.CharField(_("Technique"), max_length=12, choices=Technique.choices)
    image_guidance = models.CharField(_("Image guidance"), max_length=20, choices=ImageGuidance.choices)
    start_date = models.DateField(
        _("First delivered fraction"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("Derived from the fraction log (D1, EC-SB-2)."),
    )
    completion_date = models.DateField(
        _("Last delivered fraction"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("Derived from the fraction log."),
    )
    completion_status = models.CharField(
        _("How did the course end?"),
        max_length=16,
        choices=CompletionStatus.choices,
        blank=True,
        help_text=_("Fill in once the last fraction is given."),
    )
    stop_reason = models.CharField(
        _("Why changed or stopped?"),
        max_length=20,
        choices=StopReason.choices,
        blank=True,
        help_text=_("Required when the course ended with changes or stopped early."),
    )

    class Meta:
        verbose_name = _("SABR course")
        ordering = ["patient", "course_number"]
        constraints = [
            models.UniqueConstraint(fields=["patient", "course_number"], name="sabr_course_number_unique"),
            models.CheckConstraint(
                condition=~models.Q(completion_status__in=["WITH CHANGES", "STOPPED EARLY"])
                | ~models.Q(stop_reason=""),
                name="sabr_course_stop_needs_reason",
            ),
        ]

    def __str__(self) -> str:
        return str(_("Course %(n)s") % {"n": self.course_number or "?"})


# --- Form 11 ---------------------------------------------------------------------------------------------


class SabrTarget(RulesFirstMixin, CrfBase):
    """CRF 11: one treated lesion in one course, with its prescription and BED/EQD2 (R3.1-R3.3)."""

    class ReirradiationReason(models.TextChoices):
        LOCAL_FAILURE = "LOCAL FAILURE", _("Local failure")
        OTHER = "OTHER", _("Other")

    course = models.ForeignKey(
        SabrCourse, on_delete=models.PROTECT, related_name="targets", verbose_name=_("Course")
    )
    lesion = models.ForeignKey(
        "assessments.Lesion",
        on_delete=models.PROTECT,
        related_name="sabr_targets",
        null=True,
        verbose_name=_("Lesion treated"),
        help_text=_("The lesion treated, chosen from this patient's lesion registry (D4, R1.41)."),
    )
    prescribed_dose_gy = models.DecimalField(
        _("Prescribed total dose (Gy)"),
        max_digits=5,
        decimal_places=2,
        validators=[POSITIVE],
        help_text=_("More than 80 Gy needs an override reason (EC-ST-1)."),
    )
    n_fractions = models.PositiveSmallIntegerField(
        _("Number of fractions"),
        validators=[
            MinValueValidator(radiobiology.MIN_FRACTIONS, _("At least 1 fraction (EC-ST-1).")),
            MaxValueValidator(radiobiology.MAX_FRACTIONS, _("At most 15 fractions for SABR (EC-ST-1).")),
        ],
        help_text=_("How many fractions are planned for this lesion: 1 to 15 (EC-ST-1)."),
    )
    dose_per_fraction_gy = models.DecimalField(
        _("Dose per fraction (Gy)"),
        max_digits=5,
        decimal_places=2,
        null=True,
        editable=False,
        help_text=_("Derived: total / number of fractions (R3.1)."),
    )
    isodose_pct = models.PositiveSmallIntegerField(
        _("Prescription isodose line (%)"),
        validators=[MinValueValidator(50), MaxValueValidator(100)],
        help_text=_("The isodose line the dose is prescribed to: 50 to 100 %."),
    )
    gtv_cc = models.DecimalField(
        _("GTV volume (cm³)"), max_digits=7, decimal_places=2, null=True, blank=True, validators=[POSITIVE]
    )
    ptv_cc = models.DecimalField(_("PTV volume (cm³)"), max_digits=7, decimal_places=2, validators=[POSITIVE])
    alpha_beta_gy = models.DecimalField(
        _("α/β for the headline BED (Gy)"),
        max_digits=4,
        decimal_places=1,
        default=radiobiology.ALPHA_BETA_TUMOUR_GY,
        validators=[MinValueValidator(Decimal("0.5"))],
        help_text=_("Default 10 Gy (tumour, R3.2). BED10 and BED3 are always stored as well."),
    )
    bed_gy = models.DecimalField(
        _("BED at the chosen α/β (Gy)"), max_digits=9, decimal_places=4, null=True, editable=False
    )
    eqd2_gy = models.DecimalField(
        _("EQD2 at the chosen α/β (Gy)"), max_digits=9, decimal_places=4, null=True, editable=False
    )
    bed10_gy = models.DecimalField(
        _("BED10 (α/β 10 Gy)"), max_digits=9, decimal_places=4, null=True, editable=False
    )
    eqd2_10_gy = models.DecimalField(
        _("EQD2 (α/β 10 Gy)"), max_digits=9, decimal_places=4, null=True, editable=False
    )
    bed3_gy = models.DecimalField(
        _("BED3 (α/β 3 Gy)"), max_digits=9, decimal_places=4, null=True, editable=False
    )
    eqd2_3_gy = models.DecimalField(
        _("EQD2 (α/β 3 Gy)"), max_digits=9, decimal_places=4, null=True, editable=False
    )
    bed10_delivered_gy = models.DecimalField(
        _("BED10 as delivered (α/β 10 Gy)"), max_digits=9, decimal_places=4, null=True, editable=False
    )
    dose_override_reason = models.CharField(
        _("Reason the total dose exceeds 80 Gy"),
        max_length=200,
        blank=True,
        help_text=_("Required only when the prescribed total dose is over 80 Gy (EC-ST-1)."),
    )
    is_reirradiation = models.CharField(
        _("Re-irradiation of this lesion?"),
        max_length=1,
        choices=YesNo.choices,
        default=YesNo.N,
        help_text=_("Yes when this lesion already has a SABR target (EC-ST-1, R2.3)."),
    )
    reirradiation_reason = models.CharField(
        _("Why re-irradiated?"),
        max_length=16,
        choices=ReirradiationReason.choices,
        blank=True,
        help_text=_("Required when the lesion is irradiated again (EC-ST-1)."),
    )
    first_fraction_date = models.DateField(_("Lesion SABR start"), null=True, editable=False)
    last_fraction_date = models.DateField(_("Lesion SABR end"), null=True, editable=False)

    class Meta:
        verbose_name = _("SABR target")
        ordering = ["course", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(n_fractions__gte=1, n_fractions__lte=15), name="sabr_target_fractions_1_15"
            ),
            models.UniqueConstraint(
                fields=["course", "lesion"], name="sabr_target_one_per_lesion_per_course"
            ),
            models.CheckConstraint(
                condition=models.Q(prescribed_dose_gy__lte=80) | ~models.Q(dose_override_reason=""),
                name="sabr_target_over_80_needs_reason",
            ),
            models.CheckConstraint(
                condition=models.Q(is_reirradiation="N") | ~models.Q(reirradiation_reason=""),
                name="sabr_target_reirradiation_needs_reason",
            ),
        ]

    str_related = ("lesion",)

    def __str__(self) -> str:
        where = str(self.lesion) if self.lesion_id else f"#{self.pk or '?'}"
        return f"{where}: {self.prescribed_dose_gy.normalize():f} Gy/{self.n_fractions}"

    def compute_prescription_values(self) -> None:
        """R3.1/R3.2: d = D/n, BED and EQD2 at α/β 10, 3 and the chosen α/β (EC-ST-2)."""
        try:
            d = radiobiology.dose_per_fraction(Decimal(self.prescribed_dose_gy), int(self.n_fractions))
            pair = radiobiology.standard_bed(
                total_dose_gy=Decimal(self.prescribed_dose_gy), n_fractions=self.n_fractions
            )
            headline = radiobiology.bed_from_prescription(
                total_dose_gy=Decimal(self.prescribed_dose_gy),
                n_fractions=self.n_fractions,
                alpha_beta_gy=Decimal(self.alpha_beta_gy),
            )
        except (radiobiology.RadiobiologyError, TypeError, ValueError):
            self.dose_per_fraction_gy = None
            self.bed_gy = self.eqd2_gy = self.bed10_gy = self.eqd2_10_gy = self.bed3_gy = self.eqd2_3_gy = (
                None
            )
            return
        q = Decimal("0.0001")
        self.dose_per_fraction_gy = radiobiology.round_gy(d, 2)
        self.bed10_gy = pair.bed10_gy.quantize(q)
        self.eqd2_10_gy = pair.eqd2_10_gy.quantize(q)
        self.bed3_gy = pair.bed3_gy.quantize(q)
        self.eqd2_3_gy = pair.eqd2_3_gy.quantize(q)
        self.bed_gy = headline.bed_gy.quantize(q)
        self.eqd2_gy = headline.eqd2_gy.quantize(q)

    @property
    def planned_dose_per_fraction(self) -> Decimal | None:
        try:
            return radiobiology.dose_per_fraction(Decimal(self.prescribed_dose_gy), int(self.n_fractions))
        except (radiobiology.RadiobiologyError, TypeError, ValueError):
            return None

    @property
    def bed10_display(self) -> str:
        return _gy(self.bed10_gy)

    @property
    def eqd2_10_display(self) -> str:
        return _gy(self.eqd2_10_gy)

    @property
    def bed3_display(self) -> str:
        return _gy(self.bed3_gy)

    @property
    def eqd2_3_display(self) -> str:
        return _gy(self.eqd2_3_gy)

    @property
    def bed10_delivered_display(self) -> str:
        return _gy(self.bed10_delivered_gy)


# --- Form 12 ---------------------------------------------------------------------------------------------


class SabrFraction(RulesFirstMixin, CrfBase):
    """CRF 12: one fraction of one target."""

    class NotDeliveredReason(models.TextChoices):
        TOXICITY = "TOXICITY", _("Toxicity")
        MACHINE = "MACHINE OR LOGISTIC", _("Machine or logistic")
        PATIENT_DECISION = "PATIENT DECISION", _("Patient decision")
        DETERIORATION = "CLINICAL DETERIORATION", _("Clinical deterioration")
        OTHER = "OTHER", _("Other")

    target = models.ForeignKey(
        SabrTarget, on_delete=models.PROTECT, related_name="fractions", verbose_name=_("Target")
    )
    fraction_number = models.PositiveSmallIntegerField(
        _("Fraction number"),
        validators=[MinValueValidator(1, _("Fractions are numbered from 1 (EC-FX-1)."))],
        help_text=_("1 to the target's number of fractions (EC-FX-1)."),
    )
    fraction_date = models.DateField(_("Date"), validators=[not_in_future])
    delivered = models.CharField(_("Delivered?"), max_length=1, choices=YesNo.choices, default=YesNo.Y)
    dose_delivered_gy = models.DecimalField(
        _("Dose delivered (Gy)"),
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[POSITIVE],
        help_text=_("The dose given at this fraction, in Gy: required when it was delivered (EC-FX-2)."),
    )
    not_delivered_reason = models.CharField(
        _("Reason not delivered"),
        max_length=24,
        choices=NotDeliveredReason.choices,
        blank=True,
        help_text=_("Required when not delivered (EC-FX-2)."),
    )
    adverse_event = models.ForeignKey(
        "adverse_events.AdverseEvent",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="sabr_fractions",
        verbose_name=_("Related AE"),
        help_text=_("Required when not delivered for toxicity (EC-FX-2)."),
    )

    class Meta:
        verbose_name = _("SABR fraction")
        ordering = ["target", "fraction_number"]
        constraints = [
            models.UniqueConstraint(fields=["target", "fraction_number"], name="sabr_fraction_number_unique"),
            models.CheckConstraint(
                condition=~models.Q(delivered="Y") | models.Q(dose_delivered_gy__isnull=False),
                name="sabr_fraction_delivered_has_dose",
            ),
            models.CheckConstraint(
                condition=~models.Q(delivered="N") | ~models.Q(not_delivered_reason=""),
                name="sabr_fraction_not_delivered_has_reason",
            ),
        ]

    str_related = ("target__lesion",)

    def __str__(self) -> str:
        lesion = self.target.lesion.lesion_code if self.target_id and self.target.lesion_id else ""
        return str(
            _("%(l)s fraction %(n)s, %(d)s")
            % {"l": lesion, "n": self.fraction_number, "d": self.fraction_date}
        )


# --- Form 13 ---------------------------------------------------------------------------------------------


class AxitinibPeriod(RulesFirstMixin, CrfBase):
    """CRF 13: one constant-dose period of axitinib (R4.1-R4.5)."""

    class DoseLevel(models.TextChoices):
        PLUS2_10MG = dosing.AxitinibDose.PLUS2_10MG.value, _("10 mg BID (+2)")
        PLUS1_7MG = dosing.AxitinibDose.PLUS1_7MG.value, _("7 mg BID (+1)")
        START_5MG = dosing.AxitinibDose.START_5MG.value, _("5 mg BID (0, start)")
        MINUS1_3MG = dosing.AxitinibDose.MINUS1_3MG.value, _("3 mg BID (−1)")
        MINUS2_2MG = dosing.AxitinibDose.MINUS2_2MG.value, _("2 mg BID (−2)")
        INTERRUPTED = dosing.AxitinibDose.INTERRUPTED.value, _("Interrupted")
        DISCONTINUED = dosing.AxitinibDose.PERMANENTLY_DISCONTINUED.value, _("Permanently discontinued")

    class OtherDoseReason(models.TextChoices):
        CYP3A4 = "STRONG CYP3A4/5 INHIBITOR", _("Strong CYP3A4/5 inhibitor")
        HEPATIC = "HEPATIC IMPAIRMENT", _("Hepatic impairment")
        OTHER = "OTHER", _("Other")

    class ChangeReason(models.TextChoices):
        START = "START", _("Start")
        TITRATION_UP = "TITRATION UP", _("Titration up")
        REDUCTION_TOXICITY = "REDUCTION FOR TOXICITY", _("Reduction for toxicity")
        INTERRUPTION_TOXICITY = "INTERRUPTION FOR TOXICITY", _("Interruption for toxicity")
        SURGERY = "SURGERY", _("Surgery")
        OTHER = "OTHER", _("Other")

    start_date = models.DateField(_("Start of period"), validators=[not_in_future])
    end_date = models.DateField(
        _("End of period"),
        null=True,
        blank=True,
        validators=[not_in_future],
        help_text=_("Blank while the period is ongoing; only the last period may be open (EC-AX-1)."),
    )
    dose_level = models.CharField(
        _("Dose level"),
        max_length=24,
        choices=DoseLevel.choices,
        help_text=_("Only the protocol levels (R4.2); any other dose goes in 'Other dose' with a reason."),
    )
    other_dose_mg = models.DecimalField(
        _("Other dose (mg BID)"),
        max_digits=4,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[POSITIVE],
        help_text=_("Only for a dose off the level list; it replaces the level's dose (EC-AX-2)."),
    )
    other_dose_reason = models.CharField(
        _("Reason for the other dose"), max_length=28, choices=OtherDoseReason.choices, blank=True
    )
    dose_change_reason = models.CharField(
        _("Reason for this period"),
        max_length=28,
        choices=ChangeReason.choices,
        help_text=_(
            "Why this dose period started: the first dose, a titration, a reduction or an interruption (R4.3-R4.5)."
        ),
    )
    adverse_event = models.ForeignKey(
        "adverse_events.AdverseEvent",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="axitinib_periods",
        verbose_name=_("Related AE"),
        help_text=_("Required for a reduction or interruption for toxicity (EC-AX-2)."),
    )
    missed_doses = models.PositiveSmallIntegerField(
        _("Doses missed or vomited (not replaced)"),
        default=0,
        help_text=_("Doses missed or vomited in this period: a missed dose is not made up (R4.1)."),
    )
    bp_ok_no_antihtn = models.CharField(
        _("Normotensive without antihypertensives?"),
        max_length=1,
        choices=YesNo.choices,
        blank=True,
        help_text=_(
            "Answer when the dose goes up: was the blood pressure normal without antihypertensive drugs? (R4.3)."
        ),
    )

    class Meta:
        verbose_name = _("axitinib period")
        ordering = ["patient", "start_date"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end_date__isnull=True) | models.Q(end_date__gte=models.F("start_date")),
                name="axitinib_end_not_before_start",
            ),
            models.UniqueConstraint(fields=["patient", "start_date"], name="axitinib_one_period_per_start"),
        ]

    def __str__(self) -> str:
        end = self.end_date.isoformat() if self.end_date else str(_("ongoing"))
        dose = f"{self.other_dose_mg} mg BID" if self.other_dose_mg else self.get_dose_level_display()
        return f"{self.start_date} – {end}: {dose}"

    def as_pure(self) -> dosing.AxitinibPeriod:
        return dosing.AxitinibPeriod(
            start_date=self.start_date,
            end_date=self.end_date,
            dose=dosing.AxitinibDose(self.dose_level),
            missed_doses=self.missed_doses or 0,
            other_dose_mg=self.other_dose_mg,
        )


# --- Form 14 ---------------------------------------------------------------------------------------------


class ToripalimabInfusion(RulesFirstMixin, CrfBase):
    """CRF 14: one toripalimab cycle (R4.6-R4.8)."""

    class Status(models.TextChoices):
        GIVEN = dosing.InfusionStatus.GIVEN.value, _("Given")
        DELAYED = dosing.InfusionStatus.DELAYED.value, _("Delayed")
        OMITTED = dosing.InfusionStatus.OMITTED.value, _("Omitted")
        DISCONTINUED = dosing.InfusionStatus.PERMANENTLY_DISCONTINUED.value, _("Permanently discontinued")

    class StatusReason(models.TextChoices):
        ADVERSE_EVENT = "ADVERSE EVENT", _("Adverse event")
        PROGRESSION = "PROGRESSION", _("Progression")
        LOGISTIC = "LOGISTIC", _("Logistic")
        PATIENT_DECISION = "PATIENT DECISION", _("Patient decision")
        OTHER = "OTHER", _("Other")

    cycle_number = models.PositiveSmallIntegerField(
        _("Cycle"),
        validators=[MinValueValidator(1, _("Cycles are numbered from 1 (EC-TO-1)."))],
        help_text=_("Cycles are numbered 1, 2, 3 ... without gaps (EC-TO-1)."),
    )
    planned_date = models.DateField(
        _("Planned date"), null=True, editable=False, help_text=_("Previous given infusion + 21 days (R4.6).")
    )
    infusion_status = models.CharField(
        _("Status"),
        max_length=24,
        choices=Status.choices,
        default=Status.GIVEN,
        help_text=_(
            "Was the infusion given, delayed or omitted, or is toripalimab stopped for good? (R4.7, R4.8)."
        ),
    )
    infusion_date = models.DateField(
        _("Date of infusion"),
        null=True,
        blank=True,
        validators=[not_in_future],
        help_text=_("Required when given; on or after registration (EC-TO-1)."),
    )
    dose_mg = models.DecimalField(
        _("Dose (mg)"),
        max_digits=5,
        decimal_places=1,
        null=True,
        blank=True,
        default=dosing.TORIPALIMAB_DOSE_MG,
        validators=[POSITIVE],
        help_text=_("Fixed 240 mg; any other dose needs a reason; no dose reductions (R4.7)."),
    )
    dose_deviation_reason = models.CharField(_("Reason the dose is not 240 mg"), max_length=200, blank=True)
    status_reason = models.CharField(
        _("Reason for delay, omission or stop"), max_length=20, choices=StatusReason.choices, blank=True
    )
    adverse_event = models.ForeignKey(
        "adverse_events.AdverseEvent",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="toripalimab_infusions",
        verbose_name=_("Related AE"),
        help_text=_(
            "Required when the reason is an adverse event; its toripalimab action must match (EC-TO-4)."
        ),
    )
    infusion_interrupted = models.CharField(
        _("Infusion slowed or interrupted?"),
        max_length=1,
        choices=YesNo.choices,
        blank=True,
        help_text=_("Answer when the infusion was given (R4.8)."),
    )
    lot_number = models.CharField(_("Lot"), max_length=20, blank=True)

    class Meta:
        verbose_name = _("toripalimab infusion")
        ordering = ["patient", "cycle_number"]
        constraints = [
            models.UniqueConstraint(fields=["patient", "cycle_number"], name="toripalimab_cycle_unique"),
            models.CheckConstraint(
                condition=~models.Q(infusion_status="GIVEN")
                | models.Q(infusion_date__isnull=False, dose_mg__isnull=False),
                name="toripalimab_given_has_date_and_dose",
            ),
        ]

    def __str__(self) -> str:
        when = self.infusion_date.isoformat() if self.infusion_date else self.get_infusion_status_display()
        return str(_("Cycle %(n)s, %(w)s") % {"n": self.cycle_number, "w": when})

    def as_pure(self) -> dosing.ToripalimabInfusion:
        return dosing.ToripalimabInfusion(
            cycle_number=self.cycle_number,
            status=dosing.InfusionStatus(self.infusion_status),
            infusion_date=self.infusion_date,
            dose_mg=self.dose_mg,
        )


# --- Form 15 ---------------------------------------------------------------------------------------------


class Immunosuppressant(RulesFirstMixin, CrfBase):
    """CRF 15: concomitant steroid or immunosuppressant (CM, CMCAT=IMMUNOSUPPRESSANT)."""

    class Drug(models.TextChoices):
        PREDNISONE = "PREDNISONE", _("Prednisone")
        PREDNISOLONE = "PREDNISOLONE", _("Prednisolone")
        METHYLPREDNISOLONE = "METHYLPREDNISOLONE", _("Methylprednisolone")
        DEXAMETHASONE = "DEXAMETHASONE", _("Dexamethasone")
        HYDROCORTISONE = "HYDROCORTISONE", _("Hydrocortisone")
        INFLIXIMAB = "INFLIXIMAB", _("Infliximab")
        MMF = "MYCOPHENOLATE MOFETIL", _("Mycophenolate mofetil")
        OTHER = "OTHER", _("Other")

    class Unit(models.TextChoices):
        MG = "mg", _("mg")
        MG_PER_KG = "mg/kg", _("mg/kg")

    class Frequency(models.TextChoices):
        ONCE = "ONCE", _("Once")
        QD = "QD", _("Once a day")
        BID = "BID", _("Twice a day")
        TID = "TID", _("Three times a day")
        OTHER = "OTHER", _("Other")

    class Route(models.TextChoices):
        ORAL = "ORAL", _("Oral")
        IV = "INTRAVENOUS", _("Intravenous")
        OTHER = "OTHER", _("Other")

    class Indication(models.TextChoices):
        IRAE = "IMMUNE-RELATED AE", _("Immune-related AE")
        INFUSION_REACTION = "INFUSION REACTION", _("Infusion reaction")
        HORMONE = "HORMONE REPLACEMENT", _("Hormone replacement")
        PREMEDICATION = "PREMEDICATION", _("Premedication")
        OTHER = "OTHER", _("Other")

    drug = models.CharField(_("Drug"), max_length=24, choices=Drug.choices)
    drug_other = models.CharField(_("Specify the drug"), max_length=100, blank=True)
    # null: left empty with a missing-data code (CrfSpec.missing), still required otherwise (CrfBase.clean).
    dose = models.DecimalField(_("Dose"), max_digits=7, decimal_places=2, validators=[POSITIVE], null=True)
    dose_unit = models.CharField(_("Unit"), max_length=6, choices=Unit.choices, default=Unit.MG)
    frequency = models.CharField(_("Frequency"), max_length=6, choices=Frequency.choices)
    route = models.CharField(_("Route"), max_length=12, choices=Route.choices)
    start_date = models.DateField(_("Start"), validators=[not_in_future])
    ongoing = models.CharField(_("Ongoing?"), max_length=1, choices=YesNo.choices, default=YesNo.Y)
    end_date = models.DateField(
        _("Stop"),
        null=True,
        blank=True,
        validators=[not_in_future],
        help_text=_("Required when not ongoing; blank when ongoing (EC-CM-1)."),
    )
    indication = models.CharField(_("Indication"), max_length=20, choices=Indication.choices)
    adverse_event = models.ForeignKey(
        "adverse_events.AdverseEvent",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="immunosuppressants",
        verbose_name=_("Related AE"),
        help_text=_("Required for an immune-related AE or infusion reaction (EC-CM-1)."),
    )
    pred_equiv_mg_day = models.DecimalField(
        _("Prednisone-equivalent dose per day (mg)"),
        max_digits=9,
        decimal_places=2,
        null=True,
        editable=False,
        help_text=_("Derived for corticosteroids (R4.8)."),
    )

    class Meta:
        verbose_name = _("immunosuppressant")
        ordering = ["patient", "start_date"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end_date__isnull=True) | models.Q(end_date__gte=models.F("start_date")),
                name="immunosuppressant_end_not_before_start",
            ),
            models.CheckConstraint(
                condition=(models.Q(ongoing="Y") & models.Q(end_date__isnull=True))
                | (models.Q(ongoing="N") & models.Q(end_date__isnull=False)),
                name="immunosuppressant_ongoing_xor_end",
            ),
        ]

    def __str__(self) -> str:
        name = (
            self.drug_other if self.drug == self.Drug.OTHER and self.drug_other else self.get_drug_display()
        )
        return f"{name} {self.dose.normalize():f} {self.dose_unit} {self.frequency}, {self.start_date}"


# --- Form 16 ---------------------------------------------------------------------------------------------


class SubsequentTherapy(RulesFirstMixin, CrfBase):
    """CRF 16: subsequent anticancer therapy; what PFS2 reads (D2)."""

    class TherapyType(models.TextChoices):
        SYSTEMIC = "SYSTEMIC", _("Systemic")
        RADIOTHERAPY = "RADIOTHERAPY", _("Radiotherapy")
        SURGERY = "SURGERY", _("Surgery")
        OTHER = "OTHER", _("Other")

    class Reason(models.TextChoices):
        PROGRESSION = "PROGRESSION", _("Progression")
        DETERIORATION = "CLINICAL DETERIORATION", _("Clinical deterioration")
        TOXICITY = "TOXICITY", _("Toxicity")
        PATIENT_CHOICE = "PATIENT CHOICE", _("Patient choice")
        OTHER = "OTHER", _("Other")

    therapy_type = models.CharField(_("Type"), max_length=14, choices=TherapyType.choices)
    regimen = models.CharField(_("Regimen or procedure"), max_length=200)
    start_date = models.DateField(
        _("Start"), validators=[not_in_future], help_text=_("On or after treatment start (D1, EC-SU-1).")
    )
    end_date = models.DateField(_("End"), null=True, blank=True, validators=[not_in_future])
    reason = models.CharField(_("Reason for next-line therapy"), max_length=24, choices=Reason.choices)
    local_on_protocol = models.CharField(
        _("Local therapy while axitinib/toripalimab continue?"),
        max_length=1,
        choices=YesNo.choices,
        help_text=_("Yes: local therapy, not a PFS2 next line (D2); it censors PFS1 before PD (R1.43)."),
    )
    lesions_treated = models.ManyToManyField(
        "assessments.Lesion",
        blank=True,
        related_name="subsequent_therapies",
        verbose_name=_("Lesions treated"),
        help_text=_("Required for radiotherapy or surgery (EC-SU-1, R1.43, R2.3)."),
    )
    new_lesions_treated = models.ManyToManyField(
        "assessments.NewLesion",
        blank=True,
        related_name="subsequent_therapies",
        verbose_name=_("New lesions treated"),
        help_text=_(
            "Lesions that appeared after baseline (N1, N2, ...), e.g. SABR to oligoprogression. For radiotherapy "
            "or surgery a registry lesion or a new lesion is required (EC-SU-1); a new lesion must have been "
            "seen on or before the start (EC-SU-4)."
        ),
    )
    sabr_course = models.ForeignKey(
        SabrCourse,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="subsequent_therapies",
        verbose_name=_("SABR course if given as SABR"),
    )
    pfs2_event = models.CharField(
        _("Counts as PFS2 event"),
        max_length=1,
        choices=YesNo.choices,
        editable=False,
        default=YesNo.N,
        help_text=_(
            "Derived: reason progression or clinical deterioration and not local therapy (D2, EC-SU-2)."
        ),
    )

    class Meta:
        verbose_name = _("subsequent anticancer therapy")
        verbose_name_plural = _("subsequent anticancer therapies")
        ordering = ["patient", "start_date"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end_date__isnull=True) | models.Q(end_date__gte=models.F("start_date")),
                name="subsequent_therapy_end_not_before_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_therapy_type_display()}: {self.regimen}, {self.start_date}"
