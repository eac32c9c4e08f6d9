"""A coordinator's mark that an expected form of the visit schedule was not done, with the reason."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords


class NotDone(models.Model):
    """One expected form (slug) of one visit (key) marked not done, or with nothing to report.

    Not a CRF: it records the absence of data. Written only by ``visits.services`` (history row and
    an ``AuditEvent`` with the acting user). A cancelled mark stays in the table for the audit trail.
    """

    class ReasonCode(models.TextChoices):
        NOT_DONE = "NOT DONE", _("Not done")
        NOTHING_TO_REPORT = "NOTHING TO REPORT", _("Nothing to report (e.g. no new adverse event)")
        NOT_APPLICABLE = "NOT APPLICABLE", _("Not applicable")

    patient = models.ForeignKey("enrollment.Patient", on_delete=models.PROTECT, related_name="not_done_marks")
    form_slug = models.SlugField(_("Form"), max_length=40)
    visit_key = models.CharField(_("Visit"), max_length=20)
    reason_code = models.CharField(
        _("Why is the form missing?"), max_length=20, choices=ReasonCode.choices, default=ReasonCode.NOT_DONE
    )
    reason = models.CharField(
        _("Reason"), max_length=300, help_text=_("Say why, as it will be read by the monitor.")
    )
    marked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    marked_at = models.DateTimeField(_("Marked at"), auto_now_add=True)
    cancelled_at = models.DateTimeField(_("Cancelled at"), null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    cancel_reason = models.CharField(_("Reason for cancelling"), max_length=300, blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("expected form not done")
        verbose_name_plural = _("expected forms not done")
        ordering = ["patient", "visit_key", "form_slug", "-marked_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "form_slug", "visit_key"],
                condition=models.Q(cancelled_at__isnull=True),
                name="one_active_not_done_mark",
            ),
            models.CheckConstraint(condition=~models.Q(reason=""), name="not_done_needs_reason"),
            models.CheckConstraint(
                condition=models.Q(cancelled_at__isnull=True) | ~models.Q(cancel_reason=""),
                name="not_done_cancel_needs_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.patient} {self.visit_key} {self.form_slug}: {self.get_reason_code_display()}"

    @property
    def is_active(self) -> bool:
        return self.cancelled_at is None
