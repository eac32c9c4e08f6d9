"""Enrollment: the patient registry and the screening log (more enrollment CRFs follow)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from sabr_trial.crf import CrfBase
from sabr_trial.validators import not_in_future


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
        _("Date of screening visit"), validators=[not_in_future], help_text=_("EC-G1: not in the future.")
    )
    outcome = models.CharField(
        _("Screening outcome"), max_length=25, choices=Outcome.choices, default=Outcome.PENDING
    )
    outcome_date = models.DateField(_("Outcome date"), null=True, blank=True, validators=[not_in_future])
    failure_reason = models.CharField(
        _("Main reason for screen failure"), max_length=20, choices=FailureReason.choices, blank=True
    )
    failure_text = models.CharField(_("Specify"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("screening log")
        constraints = [models.UniqueConstraint(fields=["patient"], name="one_screening_log_per_patient")]

    def __str__(self) -> str:
        return f"{self.patient} {self.screening_date}"

    def clean(self) -> None:
        from enrollment.rules import check_screening

        check_screening(self)
