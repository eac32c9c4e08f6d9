"""Enrollment: the patient registry and the enrollment CRFs (CRF-SPEC forms 1-7 and 18-20)."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from sabr_trial.crf import CrfBase
from sabr_trial.validators import not_in_future, partial_date_range


class Patient(models.Model):
    """One screened person. No direct identifiers: a screening number, then a study number."""

    screening_number = models.CharField(_("screening number"), max_length=8, unique=True, editable=False)
    study_number = models.CharField(
        _("study number"), max_length=8, unique=True, null=True, blank=True, editable=False
    )
    registration_date = models.DateField(_("registration date"), null=True, blank=True, editable=False)
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )
    locked_at = models.DateTimeField(null=True, blank=True, editable=False)
    locked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, editable=False, related_name="+"
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("patient")
        verbose_name_plural = _("patients")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(study_number__isnull=True) | models.Q(registration_date__isnull=False),
                name="patient_registered_has_date",
            )
        ]

    def __str__(self) -> str:
        return self.study_number or self.screening_number

    def get_absolute_url(self) -> str:
        return reverse("casebook", args=[self.pk])

    @property
    def label(self) -> str:
        """Return the number staff use: the study number once registered."""
        return self.study_number or self.screening_number

    @property
    def is_registered(self) -> bool:
        return bool(self.study_number)


class ScreeningLog(CrfBase):
    """CRF 1: screening log (CRF-SPEC section 1)."""

    class Outcome(models.TextChoices):
        PENDING = "PENDING", _("Pending")
        ELIGIBLE = "ELIGIBLE", _("Eligible")
        SCREEN_FAILURE = "SCREEN FAILURE", _("Screen failure")
        WITHDRAWAL = "WITHDRAWAL BY SUBJECT", _("Withdrew before registration")

    class FailureReason(models.TextChoices):
        CRITERIA = "CRITERIA NOT MET", _("Criteria not met")
        CONSENT_REFUSED = "CONSENT REFUSED", _("Consent refused")
        OTHER = "OTHER", _("Other")

    screening_date = models.DateField(
        _("Date of screening visit"),
        validators=[not_in_future],
        help_text=_("The day of the screening visit: today or earlier (EC-G1)."),
    )
    outcome = models.CharField(
        _("Screening outcome"), max_length=25, choices=Outcome.choices, default=Outcome.PENDING
    )
    outcome_date = models.DateField(_("Outcome date"), null=True, blank=True, validators=[not_in_future])
    failure_reason = models.CharField(
        _("Main reason for screen failure"), max_length=20, choices=FailureReason.choices, blank=True
    )
    failed_criteria = models.JSONField(
        _("Criteria not met"),
        default=list,
        blank=True,
        help_text=_("Ids of the eligibility criteria not met (EC-SC-1: required for 'Criteria not met')."),
    )
    failure_text = models.CharField(_("Specify"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("screening log")
        constraints = [models.UniqueConstraint(fields=["patient"], name="one_screening_log_per_patient")]

    def __str__(self) -> str:
        return f"{self.patient} {self.screening_date}"


class YesNo(models.TextChoices):
    YES = "Y", _("Yes")
    NO = "N", _("No")


class YesNoUnknown(models.TextChoices):
    YES = "Y", _("Yes")
    NO = "N", _("No")
    UNKNOWN = "U", _("Unknown")


#: Partial ISO date YYYY[-MM[-DD]] for history and prior-therapy dates (CRF-SPEC conventions, "pdate").
partial_date_validator = RegexValidator(
    r"^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$",
    _("Enter a year, a year and month or a full date: YYYY, YYYY-MM or YYYY-MM-DD."),
)


class Eligibility(CrfBase):
    """CRF 2: eligibility checklist; one EligibilityAnswer per criterion (CRF-SPEC section 2)."""

    criteria_version = models.CharField(_("Protocol version of the criteria"), max_length=20, editable=False)
    answers_summary = models.CharField(
        _("Answers"),
        max_length=400,
        blank=True,
        help_text=_("Every criterion with its answer, kept so the history shows each change."),
    )
    all_met = models.CharField(
        _("Were all eligibility criteria met?"),
        max_length=1,
        choices=YesNo.choices,
        blank=True,
        editable=False,
    )
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("Investigator confirming eligibility"),
    )
    confirmed_at = models.DateTimeField(_("Confirmed at"), null=True, blank=True, validators=[not_in_future])

    class Meta:
        verbose_name = _("eligibility checklist")
        constraints = [models.UniqueConstraint(fields=["patient"], name="one_eligibility_per_patient")]

    def __str__(self) -> str:
        met = {"Y": _("all met"), "N": _("not all met")}.get(self.all_met, _("incomplete"))
        return str(_("Eligibility (%(met)s)") % {"met": met})


class EligibilityAnswer(models.Model):
    """One criterion of a checklist and its answer (IE)."""

    class Category(models.TextChoices):
        INCLUSION = "INCLUSION", _("Inclusion")
        EXCLUSION = "EXCLUSION", _("Exclusion")

    eligibility = models.ForeignKey(Eligibility, on_delete=models.PROTECT, related_name="answers")
    criterion_id = models.CharField(_("Criterion"), max_length=8)
    category = models.CharField(_("Inclusion or exclusion"), max_length=9, choices=Category.choices)
    answer = models.CharField(_("Answer"), max_length=1, choices=YesNo.choices, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["eligibility", "id"]
        constraints = [
            models.UniqueConstraint(fields=["eligibility", "criterion_id"], name="one_answer_per_criterion")
        ]

    def __str__(self) -> str:
        return f"{self.criterion_id}={self.answer or '?'}"

    @property
    def criterion(self):  # type: ignore[no-untyped-def]
        from enrollment import criteria

        return criteria.get(self.criterion_id)

    @property
    def qualifies(self) -> bool:
        return bool(self.answer) and self.answer == self.criterion.qualifying_answer


class Consent(CrfBase):
    """CRF 3: informed consent, one row per signature; a re-consent is a new row (CRF-SPEC section 3)."""

    class ConsentType(models.TextChoices):
        INITIAL = "INITIAL", _("Initial consent")
        RECONSENT = "RECONSENT", _("Re-consent (new form version)")

    class WithdrawalScope(models.TextChoices):
        TREATMENT = "TREATMENT ONLY", _("Study treatment only")
        VISITS = "VISITS", _("Visits (records and phone follow-up still allowed)")
        ALL = "ALL CONTACT AND DATA", _("All contact and data")

    consent_type = models.CharField(
        _("Initial or re-consent"), max_length=10, choices=ConsentType.choices, default=ConsentType.INITIAL
    )
    icf_version = models.CharField(_("Consent form version"), max_length=20)
    consent_datetime = models.DateTimeField(
        _("Date and time consent was signed"),
        validators=[not_in_future],
        help_text=_("When the patient signed, in site time: now or earlier (EC-G1)."),
    )
    obtained_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("Person obtaining consent"),
    )
    withdrawn = models.CharField(
        _("Has the patient withdrawn consent?"), max_length=1, choices=YesNo.choices, default=YesNo.NO
    )
    withdrawal_date = models.DateField(
        _("Date of withdrawal"),
        null=True,
        blank=True,
        validators=[not_in_future],
        help_text=_("The day the patient withdrew consent: on or after the consent date (EC-IC-2)."),
    )
    withdrawal_scope = models.CharField(
        _("What does the withdrawal cover?"), max_length=25, choices=WithdrawalScope.choices, blank=True
    )

    class Meta:
        verbose_name = _("informed consent")
        ordering = ["consent_datetime", "id"]

    def __str__(self) -> str:
        return f"{_('ICF')} {self.icf_version} {self.consent_datetime:%Y-%m-%d}" + (
            f" ({_('withdrawn')})" if self.withdrawn == YesNo.YES else ""
        )

    @property
    def is_active(self) -> bool:
        return self.withdrawn != YesNo.YES


class Baseline(CrfBase):
    """CRF 5: demographics, disease and IMDC risk; exactly one per patient (CRF-SPEC section 5)."""

    class Sex(models.TextChoices):
        F = "F", _("Female")
        M = "M", _("Male")
        U = "U", _("Unknown")

    class Histology(models.TextChoices):
        CLEAR_CELL = "CLEAR CELL", _("Clear cell")
        PAPILLARY = "PAPILLARY", _("Papillary")
        CHROMOPHOBE = "CHROMOPHOBE", _("Chromophobe")
        OTHER = "OTHER", _("Other")

    class ImdcGroup(models.TextChoices):
        FAVOURABLE = "FAVOURABLE", _("Favourable")
        INTERMEDIATE = "INTERMEDIATE", _("Intermediate")
        POOR = "POOR", _("Poor")

    ECOG_CHOICES = [(i, str(i)) for i in range(5)]
    KPS_CHOICES = [(i, str(i)) for i in range(100, 0, -10)]

    birth_year = models.PositiveSmallIntegerField(
        _("Year of birth"), validators=[MinValueValidator(1900)], help_text=_("Year only: no date of birth.")
    )
    sex = models.CharField(_("Sex"), max_length=1, choices=Sex.choices)
    age_at_consent = models.PositiveSmallIntegerField(_("Age at consent (years)"), null=True, editable=False)
    assessment_date = models.DateField(_("Date of baseline assessment"), validators=[not_in_future])
    # null: left empty with a missing-data code (CrfSpec.missing), still required otherwise (CrfBase.clean).
    ecog = models.PositiveSmallIntegerField(_("ECOG performance status"), choices=ECOG_CHOICES, null=True)
    kps = models.PositiveSmallIntegerField(
        _("Karnofsky performance status"),
        choices=KPS_CHOICES,
        null=True,
        help_text=_(
            "Must agree with the ECOG status: ECOG 0 is 90-100, 1 is 70-80, 2 is 50-60, 3 is 30-40, 4 is 10-20, give or take 10 (EC-BL-1)."
        ),
    )
    histology = models.CharField(_("Histology"), max_length=12, choices=Histology.choices)
    histology_other = models.CharField(_("Specify histology"), max_length=100, blank=True)
    sarcomatoid = models.CharField(_("Sarcomatoid features"), max_length=1, choices=YesNoUnknown.choices)
    diagnosis_date = models.DateField(_("Date of initial RCC diagnosis"), validators=[not_in_future])
    prior_nephrectomy = models.CharField(_("Prior nephrectomy?"), max_length=1, choices=YesNo.choices)
    nephrectomy_date = models.DateField(
        _("Date of nephrectomy"), null=True, blank=True, validators=[not_in_future]
    )
    prior_systemic_lines = models.PositiveSmallIntegerField(
        _("Prior systemic lines (metastatic setting)"), validators=[MaxValueValidator(9)]
    )
    metastatic_lesion_count = models.PositiveSmallIntegerField(
        _("Known metastatic lesions"), validators=[MinValueValidator(1), MaxValueValidator(99)]
    )
    imdc_lab_date = models.DateField(_("Date of IMDC laboratory values"), validators=[not_in_future])
    hgb_below_lln = models.CharField(_("Haemoglobin < LLN"), max_length=1, choices=YesNo.choices)
    calcium_above_uln = models.CharField(_("Corrected calcium > ULN"), max_length=1, choices=YesNo.choices)
    neutrophils_above_uln = models.CharField(_("Neutrophils > ULN"), max_length=1, choices=YesNo.choices)
    platelets_above_uln = models.CharField(_("Platelets > ULN"), max_length=1, choices=YesNo.choices)
    kps_below_80 = models.CharField(_("KPS < 80"), max_length=1, choices=YesNo.choices, editable=False)
    dx_to_systemic_lt_1y = models.CharField(
        _("Diagnosis to systemic treatment < 1 year"), max_length=1, choices=YesNo.choices, editable=False
    )
    imdc_score = models.PositiveSmallIntegerField(_("IMDC score"), null=True, editable=False)
    imdc_group = models.CharField(
        _("IMDC risk group"), max_length=12, choices=ImdcGroup.choices, blank=True, editable=False
    )
    imdc_provisional = models.BooleanField(_("IMDC group provisional"), default=True, editable=False)

    class Meta:
        verbose_name = _("baseline")
        constraints = [
            models.UniqueConstraint(fields=["patient"], name="one_baseline_per_patient"),
            models.CheckConstraint(
                condition=models.Q(prior_nephrectomy="N", nephrectomy_date__isnull=True)
                | models.Q(prior_nephrectomy="Y", nephrectomy_date__isnull=False),
                name="baseline_nephrectomy_date_iff_yes",
            ),
        ]

    def __str__(self) -> str:
        group = self.get_imdc_group_display() if self.imdc_group else "?"
        return f"{_('IMDC')} {group}" + (f" ({_('provisional')})" if self.imdc_provisional else "")


class MedicalHistory(CrfBase):
    """CRF 6: medical history, one row per condition (CRF-SPEC section 6)."""

    class Category(models.TextChoices):
        AUTOIMMUNE = "AUTOIMMUNE", _("Autoimmune")
        CARDIOVASCULAR = "CARDIOVASCULAR", _("Cardiovascular")
        ENDOCRINE = "ENDOCRINE", _("Endocrine")
        RENAL = "RENAL", _("Renal")
        OTHER = "OTHER", _("Other")

    class Grade(models.IntegerChoices):
        G1 = 1, _("Grade 1")
        G2 = 2, _("Grade 2")
        G3 = 3, _("Grade 3")
        G4 = 4, _("Grade 4")

    mh_term = models.CharField(_("Condition"), max_length=200)
    mh_category = models.CharField(_("Category"), max_length=15, choices=Category.choices)
    start_date = models.CharField(
        _("Start date"),
        max_length=10,
        validators=[partial_date_validator, partial_date_range],
        help_text=_(
            "As much of the date as is known: the year (2019), the month (2019-05) or the day (2019-05-14)."
        ),
    )
    ongoing = models.CharField(_("Ongoing at consent?"), max_length=1, choices=YesNo.choices)
    end_date = models.CharField(
        _("End date"),
        max_length=10,
        blank=True,
        validators=[partial_date_validator, partial_date_range],
        help_text=_(
            "Blank while the condition is ongoing; once it has ended, on or after the start date (EC-MH-1)."
        ),
    )
    baseline_grade = models.PositiveSmallIntegerField(
        _("CTCAE grade at baseline (if ongoing)"), choices=Grade.choices, null=True, blank=True
    )
    systemic_tx_needed = models.CharField(
        _("Needs systemic treatment?"), max_length=1, choices=YesNo.choices, blank=True
    )

    class Meta:
        verbose_name = _("medical history")
        verbose_name_plural = _("medical history")

    def __str__(self) -> str:
        return f"{self.mh_term} ({self.start_date})"


class PriorTherapy(CrfBase):
    """CRF 7: prior cancer therapy incl. prior radiotherapy, one row per therapy (CRF-SPEC section 7)."""

    class TherapyType(models.TextChoices):
        SYSTEMIC = "SYSTEMIC", _("Systemic therapy")
        RADIOTHERAPY = "RADIOTHERAPY", _("Radiotherapy")
        SURGERY = "SURGERY", _("Surgery")
        OTHER = "OTHER", _("Other")

    class Setting(models.TextChoices):
        ADJUVANT = "ADJUVANT", _("Adjuvant")
        METASTATIC = "METASTATIC", _("Metastatic")
        OTHER = "OTHER", _("Other")

    class Procedure(models.TextChoices):
        RADICAL_NEPHRECTOMY = "RADICAL NEPHRECTOMY", _("Radical nephrectomy")
        PARTIAL_NEPHRECTOMY = "PARTIAL NEPHRECTOMY", _("Partial nephrectomy")
        METASTASECTOMY = "METASTASECTOMY", _("Metastasectomy")
        OTHER = "OTHER", _("Other")

    class Site(models.TextChoices):
        BONE = "BONE", _("Bone")
        BRAIN = "BRAIN", _("Brain")
        LUNG = "LUNG", _("Lung")
        LIVER = "LIVER", _("Liver")
        LYMPH_NODE = "LYMPH NODE", _("Lymph node")
        ADRENAL = "ADRENAL GLAND", _("Adrenal gland")
        KIDNEY = "KIDNEY", _("Kidney")
        SOFT_TISSUE = "SOFT TISSUE", _("Soft tissue")
        OTHER = "OTHER", _("Other")

    class Laterality(models.TextChoices):
        LEFT = "LEFT", _("Left")
        RIGHT = "RIGHT", _("Right")
        BILATERAL = "BILATERAL", _("Bilateral")
        NA = "NOT APPLICABLE", _("Not applicable")

    class Response(models.TextChoices):
        CR = "CR", _("Complete response")
        PR = "PR", _("Partial response")
        SD = "SD", _("Stable disease")
        PD = "PD", _("Progressive disease")
        NE = "NE", _("Not evaluable")
        UNKNOWN = "UNKNOWN", _("Unknown")

    therapy_type = models.CharField(_("Type of therapy"), max_length=12, choices=TherapyType.choices)
    agent = models.CharField(_("Drug or regimen"), max_length=200, blank=True)
    setting = models.CharField(_("Setting"), max_length=10, choices=Setting.choices, blank=True)
    pd1_pdl1 = models.CharField(
        _("PD-1/PD-L1 antibody?"),
        max_length=1,
        choices=YesNo.choices,
        blank=True,
        help_text=_("Yes breaks exclusion EXCL01: registration is then refused (EC-PT-3)."),
    )
    procedure = models.CharField(_("Procedure"), max_length=20, choices=Procedure.choices, blank=True)
    rt_site = models.CharField(_("Irradiated site"), max_length=15, choices=Site.choices, blank=True)
    rt_laterality = models.CharField(_("Side"), max_length=15, choices=Laterality.choices, blank=True)
    rt_dose_gy = models.DecimalField(
        _("Total dose (Gy)"),
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(150)],
    )
    rt_fractions = models.PositiveSmallIntegerField(
        _("Fractions"), null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(50)]
    )
    start_date = models.CharField(
        _("Start date"),
        max_length=10,
        validators=[partial_date_validator, partial_date_range],
        help_text=_(
            "As much of the date as is known: the year (2019), the month (2019-05) or the day (2019-05-14)."
        ),
    )
    end_date = models.CharField(
        _("End date"),
        max_length=10,
        blank=True,
        validators=[partial_date_validator, partial_date_range],
        help_text=_("On or after the start date, and before the study treatment started (EC-PT-2)."),
    )
    best_response = models.CharField(
        _("Best response to this therapy"), max_length=7, choices=Response.choices, blank=True
    )

    class Meta:
        verbose_name = _("prior cancer therapy")
        verbose_name_plural = _("prior cancer therapies")

    def __str__(self) -> str:
        what = self.agent or self.get_procedure_display() or self.get_rt_site_display() or ""
        return f"{self.get_therapy_type_display()} {what} ({self.start_date})".replace("  ", " ")


class Disposition(CrfBase):
    """CRF 18: end of treatment and off-study (CRF-SPEC section 18)."""

    class EotReason(models.TextChoices):
        COMPLETED = "COMPLETED", _("Completed")
        PROGRESSION = "PROGRESSIVE DISEASE", _("Progressive disease")
        ADVERSE_EVENT = "ADVERSE EVENT", _("Adverse event")
        WITHDRAWAL = "WITHDRAWAL BY SUBJECT", _("Withdrawal by patient")
        PHYSICIAN = "PHYSICIAN DECISION", _("Investigator decision")
        DEATH = "DEATH", _("Death")
        OTHER = "OTHER", _("Other")

    class EosReason(models.TextChoices):
        COMPLETED = "COMPLETED", _("Completed")
        PROGRESSION = "PROGRESSIVE DISEASE", _("Progressive disease")
        ADVERSE_EVENT = "ADVERSE EVENT", _("Adverse event")
        WITHDRAWAL = "WITHDRAWAL BY SUBJECT", _("Withdrawal by patient")
        LOST = "LOST TO FOLLOW-UP", _("Lost to follow-up")
        DEATH = "DEATH", _("Death")
        PHYSICIAN = "PHYSICIAN DECISION", _("Investigator decision")
        OTHER = "OTHER", _("Other")

    eot_reason = models.CharField(
        _("Why did all study treatment end?"), max_length=25, choices=EotReason.choices, blank=True
    )
    eot_reason_text = models.CharField(_("Specify (end of treatment)"), max_length=200, blank=True)
    eot_adverse_event = models.ForeignKey(
        "adverse_events.AdverseEvent",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="treatment_ends",
        verbose_name=_("Adverse event that ended treatment"),
        help_text=_("Required when treatment ended for an adverse event."),
    )
    eos_date = models.DateField(_("Off-study date"), null=True, blank=True, validators=[not_in_future])
    eos_reason = models.CharField(_("Reason off study"), max_length=25, choices=EosReason.choices, blank=True)
    eos_reason_text = models.CharField(_("Specify (off study)"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("off-study / disposition")
        constraints = [models.UniqueConstraint(fields=["patient"], name="one_disposition_per_patient")]

    def __str__(self) -> str:
        if self.eos_date:
            return f"{_('Off study')} {self.eos_date} ({self.get_eos_reason_display()})"
        return f"{_('End of treatment')} ({self.get_eot_reason_display()})"


class DeathReport(CrfBase):
    """CRF 19: death, at most one per patient (CRF-SPEC section 19)."""

    class Cause(models.TextChoices):
        PROGRESSION = "DISEASE PROGRESSION", _("Disease progression")
        ADVERSE_EVENT = "ADVERSE EVENT", _("Adverse event")
        OTHER = "OTHER", _("Other")
        UNKNOWN = "UNKNOWN", _("Unknown")

    class Source(models.TextChoices):
        HOSPITAL = "HOSPITAL RECORD", _("Hospital record")
        RELATIVE = "RELATIVE", _("Relative")
        PHYSICIAN = "TREATING PHYSICIAN", _("Treating physician")
        REGISTRY = "REGISTRY", _("Registry")
        OTHER = "OTHER", _("Other")

    death_date = models.DateField(
        _("Date of death"),
        validators=[not_in_future],
        help_text=_("No other date in the casebook may be later than the death (EC-DD-1)."),
    )
    primary_cause = models.CharField(_("Primary cause"), max_length=20, choices=Cause.choices)
    cause_text = models.CharField(_("Specify or contributing cause"), max_length=200, blank=True)
    adverse_event = models.ForeignKey(
        "adverse_events.AdverseEvent",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="death_reports",
        verbose_name=_("Fatal adverse event"),
        help_text=_(
            "The grade 5 adverse event that caused the death, when the cause is an adverse event (EC-DD-2)."
        ),
    )
    autopsy = models.CharField(_("Autopsy performed?"), max_length=1, choices=YesNoUnknown.choices)
    source = models.CharField(_("Source of information"), max_length=20, choices=Source.choices)

    class Meta:
        verbose_name = _("death report")
        constraints = [models.UniqueConstraint(fields=["patient"], name="one_death_report_per_patient")]

    def __str__(self) -> str:
        return f"{_('Death')} {self.death_date}"


class SurvivalContact(CrfBase):
    """CRF 20: survival follow-up contact (CRF-SPEC section 20)."""

    class Method(models.TextChoices):
        CLINIC = "CLINIC VISIT", _("Clinic visit")
        TELEPHONE = "TELEPHONE", _("Telephone")
        RECORD = "MEDICAL RECORD", _("Medical record")
        REGISTRY = "REGISTRY", _("Registry")
        OTHER = "OTHER", _("Other")

    class Status(models.TextChoices):
        ALIVE = "ALIVE", _("Alive")
        DEAD = "DEAD", _("Dead")
        UNKNOWN = "UNKNOWN", _("Unknown")

    contact_date = models.DateField(_("Date of contact"), validators=[not_in_future])
    method = models.CharField(_("How"), max_length=15, choices=Method.choices)
    reached = models.CharField(_("Was status obtained?"), max_length=1, choices=YesNo.choices)
    survival_status = models.CharField(
        _("Survival status"),
        max_length=7,
        choices=Status.choices,
        blank=True,
        help_text=_(
            "Only Alive counts as the last date known alive; Dead needs a death report dated on or before this contact (EC-SV-1, EC-SV-2)."
        ),
    )
    new_anticancer_tx = models.CharField(
        _("New anticancer therapy since the last contact?"),
        max_length=1,
        choices=YesNoUnknown.choices,
        blank=True,
    )
    progression_reported = models.CharField(
        _("Progression reported?"), max_length=1, choices=YesNoUnknown.choices, blank=True
    )

    class Meta:
        verbose_name = _("survival follow-up contact")
        ordering = ["contact_date", "id"]

    def __str__(self) -> str:
        return f"{self.contact_date} {self.get_survival_status_display() or _('not reached')}"
