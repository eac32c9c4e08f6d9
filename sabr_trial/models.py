"""Cross-cutting EDC records: audit events, e-signatures, number sequences, task heartbeats.

The abstract CRF base lives in ``sabr_trial.crf``.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils.translation import gettext_lazy as _

from sabr_trial.crf import CrfBase, CrfStatus  # noqa: F401  (re-exported for app imports)
from sabr_trial.roles import PERMISSION_LABELS


class AuditEvent(models.Model):
    """One event that is not a row change: a lifecycle transition, a signature, an export, a download."""

    class Action(models.TextChoices):
        CREATE = "create", _("Created")
        UPDATE = "update", _("Changed")
        SUBMIT = "submit", _("Submitted")
        VERIFY = "verify", _("Source-data verified")
        SIGN = "sign", _("Signed")
        SIGNATURE_VOID = "signature_void", _("Signature voided")
        SIGN_FAILED = "sign_failed", _("Signature refused")
        LOCK = "lock", _("Locked")
        UNLOCK = "unlock", _("Unlocked")
        REGISTER = "register", _("Registered")
        EXPORT = "export", _("Exported")
        DOWNLOAD = "download", _("Downloaded")
        STALE_REFUSED = "stale_refused", _("Stale save refused")

    at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    action = models.CharField(_("action"), max_length=20, choices=Action.choices)
    patient = models.ForeignKey(
        "enrollment.Patient", on_delete=models.PROTECT, null=True, blank=True, related_name="audit_events"
    )
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, null=True, blank=True)
    object_id = models.PositiveBigIntegerField(null=True, blank=True)
    target = GenericForeignKey("content_type", "object_id")
    crf_version = models.PositiveIntegerField(null=True, blank=True)
    description = models.CharField(_("description"), max_length=300)
    reason = models.TextField(_("reason"), blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["content_type", "object_id"])]
        permissions = PERMISSION_LABELS

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.get_action_display()}: {self.description}"


class Signature(models.Model):
    """An investigator's e-signature of one CRF version (21 CFR 11.50: name, date and time, meaning)."""

    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT)
    object_id = models.PositiveBigIntegerField()
    target = GenericForeignKey("content_type", "object_id")
    patient = models.ForeignKey("enrollment.Patient", on_delete=models.PROTECT, related_name="signatures")
    crf_version = models.PositiveIntegerField()
    signer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    signer_name = models.CharField(max_length=150)
    signed_at = models.DateTimeField(auto_now_add=True)
    meaning = models.CharField(max_length=300)
    voided_at = models.DateTimeField(null=True, blank=True)
    voided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    void_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-signed_at"]
        indexes = [models.Index(fields=["content_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.signer_name} {self.signed_at:%Y-%m-%d %H:%M}: {self.meaning}"


class NumberSequence(models.Model):
    """A gap-free counter (screening and study numbers), incremented under a row lock."""

    name = models.CharField(max_length=40, unique=True)
    last_value = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}={self.last_value}"


class TaskHeartbeat(models.Model):
    """Written by the heartbeat task: proves that a worker reaches the database."""

    token = models.CharField(max_length=64, unique=True)
    worker = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.token
