"""Background builds of downloadable files: study report, patient casebook, data export.

``start_job`` creates the row, writes the EXPORT audit event and dispatches the build; the Celery
task ``endpoints.build_job`` is a thin wrapper (job id in, ``run_job`` out). ``run_job`` writes the
stage and progress to the row as it goes, stores the file under MEDIA_ROOT with its SHA-256 and
records any failure with its reason, so the page can show it and offer a retry.

Without a broker (the embedded default) the build runs in a background thread of the web process,
so the page can show progress instead of blocking the request.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from celery import shared_task
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import close_old_connections, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from endpoints.models import EndpointSnapshot, Job
from sabr_trial.models import AuditEvent
from sabr_trial.roles import Perm, has_perm

log = logging.getLogger(__name__)

#: In the embedded default (no broker) builds run in a thread; tests set this to False to build inline.
RUN_IN_THREAD = True

Progress = Callable[[str, int], None]


def can_start(user: Any, kind: str) -> bool:
    """Every build (report, data export, casebook PDF) needs the export permission: investigators and data
    managers (DESIGN.md role table); coordinators and monitors read the casebook on screen."""
    return has_perm(user, Perm.EXPORT)


def can_see(user: Any, job: Job) -> bool:
    return job.user_id == user.pk or has_perm(user, Perm.EXPORT)


def _audit(user: Any, action: str, description: str, patient: Any = None) -> None:
    AuditEvent.objects.create(user=user, action=action, patient=patient, description=description[:300])


def start_job(
    *, user: Any, kind: str, cutoff: datetime.date, patient: Any = None, retry_of: Job | None = None
) -> Job:
    """Create a build job, audit it (EXPORT) and dispatch it after commit."""
    if not can_start(user, kind):
        raise PermissionDenied(_("Your role does not allow this export."))
    with transaction.atomic():
        job = Job.objects.create(
            kind=kind, user=user, data_cutoff=cutoff, patient=patient if kind == Job.Kind.CASEBOOK else None,
            retry_of=retry_of, stage=str(_("Waiting for a worker")),
        )  # fmt: skip
        what = str(Job.Kind(kind).label)
        if patient is not None and kind == Job.Kind.CASEBOOK:
            what += f" {patient.label}"
        _audit(
            user, AuditEvent.Action.EXPORT,
            _("%(what)s requested at cut-off %(c)s (job %(id)s)%(retry)s") % {
                "what": what, "c": cutoff.isoformat(), "id": job.pk,
                "retry": _(", retry of job %(r)s") % {"r": retry_of.pk} if retry_of else "",
            },
            patient=job.patient,
        )  # fmt: skip
        transaction.on_commit(lambda: dispatch(job.pk))
    return job


def dispatch(job_id: int) -> None:
    """Send the build to Celery, or run it in a thread when there is no broker."""
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        try:
            build_job.apply_async(args=[job_id], retry=False)
            return
        except Exception as exc:  # broker down: say so on the job instead of a 500
            Job.objects.filter(pk=job_id).update(
                state=Job.State.FAILED, finished_at=timezone.now(),
                error=_("The task queue is not reachable: %(e)s") % {"e": exc},
            )  # fmt: skip
            return
    if RUN_IN_THREAD:
        threading.Thread(target=_run_in_thread, args=(job_id,), daemon=True, name=f"job-{job_id}").start()
    else:
        run_job(job_id)


def _run_in_thread(job_id: int) -> None:
    close_old_connections()
    try:
        run_job(job_id)
    finally:
        connection.close()


def retry_job(*, job: Job, user: Any) -> Job:
    if job.state != Job.State.FAILED:
        raise PermissionDenied(_("Only a failed build can be retried."))
    return start_job(user=user, kind=job.kind, cutoff=job.data_cutoff, patient=job.patient, retry_of=job)


def snapshot_for(cutoff: datetime.date, user_id: int | None) -> EndpointSnapshot:
    """Return the latest OK snapshot at the cut-off, computing one when there is none."""
    from endpoints.services import latest_snapshot, run_recompute

    snap = latest_snapshot(cutoff)
    if snap is None:
        snap = run_recompute(trigger="report", cutoff=cutoff, user_id=user_id)
        if snap.status != EndpointSnapshot.Status.OK:
            raise RuntimeError(_("The endpoint recompute failed: %(e)s") % {"e": snap.error.splitlines()[0]})
    return snap


def _file_name(job: Job) -> str:
    study = getattr(settings, "STUDY_ID", "study")
    stamp = timezone.localtime(job.created_at).strftime("%Y%m%d-%H%M%S")
    if job.kind == Job.Kind.REPORT:
        return f"{study}_report_cutoff-{job.data_cutoff:%Y%m%d}_{stamp}_job{job.pk}.pdf"
    if job.kind == Job.Kind.CASEBOOK:
        return f"{study}_casebook_{job.patient.label if job.patient else ''}_{stamp}_job{job.pk}.pdf"
    return f"{study}_export_cutoff-{job.data_cutoff:%Y%m%d}_{stamp}_job{job.pk}.zip"


def media_path(relative: str) -> Path:
    return Path(settings.MEDIA_ROOT) / relative


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def run_job(job_id: int) -> Job:
    """Build the job's file; never raises: a failure is stored on the row with its reason."""
    job = Job.objects.select_related("user", "patient").get(pk=job_id)
    if job.state == Job.State.DONE:
        return job  # idempotent: a redelivered task does not rebuild
    started = time.perf_counter()
    marks: dict[str, float] = {}
    last = {"stage": "", "t": started}

    def progress(stage: str, pct: int) -> None:
        now = time.perf_counter()
        if last["stage"]:
            marks[str(last["stage"])] = round(now - float(last["t"]), 3)
        last.update(stage=stage, t=now)
        Job.objects.filter(pk=job_id).update(stage=stage[:120], progress=max(0, min(pct, 100)))

    Job.objects.filter(pk=job_id).update(
        state=Job.State.RUNNING, started_at=timezone.now(), error="", progress=0
    )
    try:
        relative = f"reports/{_file_name(job)}"
        target = media_path(relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        if job.kind == Job.Kind.REPORT:
            from endpoints.report import build_report

            progress(str(_("Finding the endpoint snapshot")), 2)
            snap = snapshot_for(job.data_cutoff, job.user_id)
            Job.objects.filter(pk=job_id).update(snapshot=snap)
            data = build_report(snap, user=job.user, progress=progress)
        elif job.kind == Job.Kind.CASEBOOK:
            from endpoints.casebook_pdf import build_casebook

            data = build_casebook(job.patient, user=job.user, progress=progress)
        else:
            from endpoints.exports import build_export

            progress(str(_("Finding the endpoint snapshot")), 2)
            snap = snapshot_for(job.data_cutoff, job.user_id)
            Job.objects.filter(pk=job_id).update(snapshot=snap)
            data = build_export(snap, user=job.user, progress=progress)
        progress(str(_("Storing the file")), 98)
        tmp = target.with_suffix(target.suffix + ".part")
        tmp.write_bytes(data)
        tmp.replace(target)
        progress(str(_("Done")), 100)
        Job.objects.filter(pk=job_id).update(
            state=Job.State.DONE, file_path=relative, file_size=len(data), sha256=hashlib.sha256(data).hexdigest(),
            finished_at=timezone.now(), timings={**marks, "total_s": round(time.perf_counter() - started, 3)},
        )  # fmt: skip
    except Exception as exc:
        log.exception("job %s failed", job_id)
        Job.objects.filter(pk=job_id).update(
            state=Job.State.FAILED, finished_at=timezone.now(),
            error=f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=6)}",
            timings={**marks, "total_s": round(time.perf_counter() - started, 3)},
        )  # fmt: skip
    return Job.objects.get(pk=job_id)


def open_download(*, job: Job, user: Any) -> Path:
    """Check the permission, the state and the checksum, audit the download, return the file path."""
    if not can_see(user, job):
        raise PermissionDenied
    if job.state != Job.State.DONE or not job.file_path:
        raise FileNotFoundError(_("This build has no file."))
    path = media_path(job.file_path)
    if not path.exists():
        raise FileNotFoundError(_("The file of this build is missing from the storage."))
    if sha256_of(path) != job.sha256:
        raise FileNotFoundError(
            _("The file of this build does not match its stored checksum: it was altered.")
        )
    _audit(
        user, AuditEvent.Action.DOWNLOAD,
        _("%(what)s downloaded (job %(id)s, sha256 %(sha)s)")
        % {"what": job.get_kind_display(), "id": job.pk, "sha": job.sha256[:16]},
        patient=job.patient,
    )  # fmt: skip
    return path


@shared_task(name="endpoints.build_job", acks_late=True)
def build_job(job_id: int) -> str:
    """Celery entry point: build one job (idempotent for a finished job)."""
    return run_job(job_id).state


def register_nav() -> None:
    from django.utils.translation import gettext_lazy

    from sabr_trial.crf import NavItem, registry

    registry.register_nav(
        NavItem(
            order=40, label=gettext_lazy("Reports & exports"), url_name="endpoints:reports", perm=Perm.EXPORT
        )
    )
