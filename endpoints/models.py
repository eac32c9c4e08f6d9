"""Endpoint snapshots: the stored result of one recompute, and the study's "data changed" marker."""

from __future__ import annotations

from typing import Any

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
    #: ``results`` without the per-patient rows and curve points: what the dashboard header and cards read, so
    #: opening the dashboard costs the same at 100 and at 5,000 patients (issue 7).
    summary = models.JSONField(default=dict)
    figures = models.JSONField(default=dict)
    #: The same figures drawn with the texts of each language of ``LANGUAGES``: {"zh-hans": {name: svg}}.
    figures_i18n = models.JSONField(default=dict, blank=True)
    timings = models.JSONField(default=dict)
    n_patients = models.PositiveIntegerField(default=0)
    queries = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        get_latest_by = "created_at"

    def __str__(self) -> str:
        return f"{self.get_status_display()} {self.created_at:%Y-%m-%d %H:%M} cut-off {self.data_cutoff}"

    def patient_rows(self) -> list[dict[str, Any]]:
        """Every patient's derivation row, in patient order (the listing pages; ``results`` of snapshots stored
        before migration 0003 held them under "patients")."""
        pages = list(self.listing_pages.order_by("number").values_list("content__rows", flat=True))
        if pages:
            return [row for page in pages for row in page]
        return list((self.results or {}).get("patients", []))


class EndpointListingContent(models.Model):
    """The rows of one listing page, stored once under the SHA-256 of their JSON text.

    Snapshots whose page holds the same patients with the same derivations share the row (a recompute after one
    form save writes one new page, not the whole listing). Never deleted while a page refers to it.
    """

    digest = models.CharField(max_length=64, primary_key=True)
    rows = models.JSONField(default=list)

    def __str__(self) -> str:
        return f"listing content {self.digest[:12]}"


class EndpointListingPage(models.Model):
    """One page of a snapshot's per-patient derivation listing (the dashboard reads one row per page view)."""

    snapshot = models.ForeignKey(EndpointSnapshot, on_delete=models.CASCADE, related_name="listing_pages")
    number = models.PositiveIntegerField()
    content = models.ForeignKey(EndpointListingContent, on_delete=models.PROTECT, related_name="pages")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["snapshot", "number"], name="endpoint_listing_page_unique")
        ]

    def __str__(self) -> str:
        return f"snapshot {self.snapshot_id} page {self.number}"


class EndpointState(models.Model):
    """A single row: when data feeding the endpoints last changed (drives "newer data waiting")."""

    data_changed_at = models.DateTimeField(null=True, blank=True)
    last_enqueued_at = models.DateTimeField(null=True, blank=True)
    last_enqueue_error = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"changed {self.data_changed_at}"


class Job(models.Model):
    """One background build of a file for download: the study report, a patient casebook or the data export.

    Built by ``reports.jobs.run_job`` (Celery task ``endpoints.build_job``); the stage and progress are
    written to this row as the build goes, so the page can poll them. The file lives under MEDIA_ROOT
    with its SHA-256, which the download checks.
    """

    class Kind(models.TextChoices):
        REPORT = "report", _("Study report (PDF)")
        CASEBOOK = "casebook", _("Patient casebook (PDF)")
        EXPORT = "export", _("Data export (zip)")

    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.QUEUED)
    stage = models.CharField(_("stage"), max_length=120, blank=True)
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    data_cutoff = models.DateField(_("data cut-off"))
    snapshot = models.ForeignKey(
        EndpointSnapshot, on_delete=models.PROTECT, null=True, blank=True, related_name="jobs"
    )
    patient = models.ForeignKey(
        "enrollment.Patient", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    retry_of = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    file_path = models.CharField(_("file"), max_length=300, blank=True)
    file_size = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(_("SHA-256"), max_length=64, blank=True)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    #: Running: the last sign of life of the build (``reports.jobs``); queued: when it was last sent to a worker.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    timings = models.JSONField(default=dict, blank=True)
    #: The requesting user's interface language: the PDF's labels, headings and figures are built in it.
    language = models.CharField(
        _("language"), max_length=10, choices=settings.LANGUAGES, blank=True, default=""
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(progress__lte=100), name="job_progress_at_most_100"),
            models.CheckConstraint(
                condition=~models.Q(kind="casebook") | models.Q(patient__isnull=False),
                name="job_casebook_has_patient",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.get_state_display()})"

    @property
    def is_finished(self) -> bool:
        return self.state in (self.State.DONE, self.State.FAILED)

    @property
    def duration_s(self) -> float | None:
        if self.started_at and self.finished_at:
            return round((self.finished_at - self.started_at).total_seconds(), 2)
        return None
