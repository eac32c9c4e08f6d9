"""Endpoint snapshots: the stored result of one recompute, and the study's "data changed" marker."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class EndpointSnapshot(models.Model):
    """One recompute: results JSON, SVG figures, data cut-off, input fingerprint and timings.

    Written atomically by ``endpoints.services.snapshot_store``; a failed run stores the error
    and leaves the last good snapshot as the one the dashboard shows.
    """

    class Status(models.TextChoices):
        OK = "ok", _("Computed")
        FAILED = "failed", _("Failed")

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    data_cutoff = models.DateField(_("data cut-off"))
    status = models.CharField(max_length=10, choices=Status.choices)
    trigger = models.CharField(max_length=40, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    data_as_of = models.DateTimeField(
        _("data as of"), help_text=_("Latest data change included in this run.")
    )
    fingerprint = models.CharField(max_length=64, blank=True)
    results = models.JSONField(default=dict)
    figures = models.JSONField(default=dict)
    timings = models.JSONField(default=dict)
    n_patients = models.PositiveIntegerField(default=0)
    queries = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        get_latest_by = "created_at"

    def __str__(self) -> str:
        return f"{self.get_status_display()} {self.created_at:%Y-%m-%d %H:%M} cut-off {self.data_cutoff}"


class EndpointState(models.Model):
    """A single row: when data feeding the endpoints last changed (drives "newer data waiting")."""

    data_changed_at = models.DateTimeField(null=True, blank=True)
    last_enqueued_at = models.DateTimeField(null=True, blank=True)
    last_enqueue_error = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"changed {self.data_changed_at}"
