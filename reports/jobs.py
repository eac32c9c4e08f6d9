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
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from endpoints.models import EndpointSnapshot, Job
from sabr_trial import outbox
from sabr_trial.env import env_int
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
    *,
    user: Any,
    kind: str,
    cutoff: datetime.date,
    patient: Any = None,
    retry_of: Job | None = None,
    language: str = "",
) -> Job:
    """Create a build job, audit it (EXPORT) and dispatch it after commit.

    The file is built in ``language``, by default the requesting user's active language (issue 18).
    """
    if not can_start(user, kind):
        raise PermissionDenied(_("Your role does not allow this export."))
    with transaction.atomic():
        job = Job.objects.create(
            kind=kind,
            user=user,
            data_cutoff=cutoff,
            patient=patient if kind == Job.Kind.CASEBOOK else None,
            retry_of=retry_of,
            stage=str(_("Waiting for a worker")),
            language=language or translation.get_language() or settings.LANGUAGE_CODE,
        )
        what = str(Job.Kind(kind).label)
        if patient is not None and kind == Job.Kind.CASEBOOK:
            what += f" {patient.label}"
        _audit(
            user,
            AuditEvent.Action.EXPORT,
            _("%(what)s requested at cut-off %(c)s (job %(id)s)%(retry)s")
            % {
                "what": what,
                "c": cutoff.isoformat(),
                "id": job.pk,
                "retry": _(", retry of job %(r)s") % {"r": retry_of.pk} if retry_of else "",
            },
            patient=job.patient,
        )
        outbox.record(BUILD_TOPIC, {"job_id": job.pk}, key=str(job.pk))
    return job


#: Outbox topic of a build (``sabr_trial.outbox``): with the broker down the job stays queued and the sweep sends
#: it when the broker is back.
BUILD_TOPIC = "endpoints.build_job"
#: A running build writes ``heartbeat_at`` this often; the sweep fails a build silent for ``JOB_LEASE_SECONDS``
#: (its worker died: ``kill -9``, out of memory, a restarted container) so the page offers a retry.
HEARTBEAT_SECONDS = env_int("JOB_HEARTBEAT_SECONDS", 10, minimum=1)
LEASE_SECONDS = env_int("JOB_LEASE_SECONDS", 90, minimum=2)
#: A queued build no worker took (its message lost with a Redis restart) is sent again after this long.
REQUEUE_SECONDS = env_int("JOB_REQUEUE_SECONDS", 300, minimum=1)


def deliver_build(payload: dict[str, Any]) -> None:
    dispatch(int(payload["job_id"]))


def dispatch(job_id: int) -> None:
    """Send the build to Celery (raises when the broker is down), or run it in a thread when there is none."""
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        Job.objects.filter(pk=job_id, state=Job.State.QUEUED).update(heartbeat_at=timezone.now())
        build_job.apply_async(args=[job_id], retry=False)
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
    return start_job(
        user=user,
        kind=job.kind,
        cutoff=job.data_cutoff,
        patient=job.patient,
        retry_of=job,
        language=job.language,
    )


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


def _claim(job_id: int) -> bool:
    """Take the build: a queued job, or a running one whose worker stopped beating (a redelivered task)."""
    now = timezone.now()
    silent = now - datetime.timedelta(seconds=LEASE_SECONDS)
    return bool(
        Job.objects.filter(pk=job_id)
        .filter(
            Q(state=Job.State.QUEUED)
            | Q(state=Job.State.RUNNING, heartbeat_at__lt=silent)
            | Q(state=Job.State.RUNNING, heartbeat_at__isnull=True, started_at__lt=silent)
        )
        .update(state=Job.State.RUNNING, started_at=now, heartbeat_at=now, error="", progress=0)
    )


class _Heartbeat(threading.Thread):
    """Writes the running build's ``heartbeat_at`` every ``HEARTBEAT_SECONDS`` while the build works."""

    def __init__(self, job_id: int) -> None:
        super().__init__(daemon=True, name=f"job-{job_id}-heartbeat")
        self.job_id = job_id
        self.done = threading.Event()

    def run(self) -> None:
        try:
            while not self.done.wait(HEARTBEAT_SECONDS):
                Job.objects.filter(pk=self.job_id, state=Job.State.RUNNING).update(
                    heartbeat_at=timezone.now()
                )
        except Exception:
            log.exception("job %s: heartbeat stopped", self.job_id)
        finally:
            connection.close()


def run_job(job_id: int) -> Job:
    """Build the job's file; never raises: a failure is stored on the row with its reason.

    Idempotent: a finished or failed job, or one another worker is building (its heartbeat is fresh), is left
    alone, so a redelivered or duplicated task changes nothing.
    """
    if not _claim(job_id):
        return Job.objects.get(pk=job_id)
    job = Job.objects.select_related("user", "patient").get(pk=job_id)
    with translation.override(job.language or settings.LANGUAGE_CODE):  # the requesting user's language
        return _build(job)


def _build(job: Job) -> Job:
    job_id = job.pk
    started = time.perf_counter()
    marks: dict[str, float] = {}
    last = {"stage": "", "t": started}

    def progress(stage: str, pct: int) -> None:
        now = time.perf_counter()
        if last["stage"]:
            marks[str(last["stage"])] = round(now - float(last["t"]), 3)
        last.update(stage=stage, t=now)
        Job.objects.filter(pk=job_id).update(
            stage=stage[:120], progress=max(0, min(pct, 100)), heartbeat_at=timezone.now()
        )

    heartbeat = _Heartbeat(job_id)
    heartbeat.start()
    try:
        relative = f"reports/{_file_name(job)}"
        target = media_path(relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        if job.kind == Job.Kind.REPORT:
            from reports.report import build_report

            progress(str(_("Finding the endpoint snapshot")), 2)
            snap = snapshot_for(job.data_cutoff, job.user_id)
            Job.objects.filter(pk=job_id).update(snapshot=snap)
            data = build_report(snap, user=job.user, progress=progress)
        elif job.kind == Job.Kind.CASEBOOK:
            from reports.casebook_pdf import build_casebook

            data = build_casebook(job.patient, user=job.user, progress=progress)
        else:
            from reports.exports import build_export

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
            state=Job.State.DONE,
            file_path=relative,
            file_size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            finished_at=timezone.now(),
            timings={**marks, "total_s": round(time.perf_counter() - started, 3)},
        )
    except Exception as exc:
        log.exception("job %s failed", job_id)
        Job.objects.filter(pk=job_id).update(
            state=Job.State.FAILED,
            finished_at=timezone.now(),
            error=f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=6)}",
            timings={**marks, "total_s": round(time.perf_counter() - started, 3)},
        )
    finally:
        heartbeat.done.set()
    return Job.objects.get(pk=job_id)


def expire_lost_jobs(*, requeue: bool = True) -> int:
    """Fail every running build whose worker stopped beating, and send again a queued build no worker took.

    Run by the outbox sweep (``sabr_trial.outbox.register_catch_up``) and, without the re-send, when a page or
    the API shows builds (so the embedded default, which has no sweep, fails a build its thread lost too).
    Returns the number of builds failed.
    """
    now = timezone.now()
    silent = now - datetime.timedelta(seconds=LEASE_SECONDS)
    lost = Q(state=Job.State.RUNNING) & (
        Q(heartbeat_at__lt=silent) | Q(heartbeat_at__isnull=True, started_at__lt=silent)
    )
    failed = Job.objects.filter(lost).update(
        state=Job.State.FAILED,
        finished_at=now,
        error=_("The worker building this file stopped (no sign of life for %(s)s s). Retry the build.")
        % {"s": LEASE_SECONDS},
    )
    if failed:
        log.warning("%s build(s) failed: their worker stopped", failed)
    if requeue and not settings.CELERY_TASK_ALWAYS_EAGER:
        stuck = now - datetime.timedelta(seconds=REQUEUE_SECONDS)
        for pk in Job.objects.filter(
            Q(heartbeat_at__lt=stuck) | Q(heartbeat_at__isnull=True, created_at__lt=stuck),
            state=Job.State.QUEUED,
        ).values_list("pk", flat=True):
            dispatch(pk)
    return failed


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
        user,
        AuditEvent.Action.DOWNLOAD,
        _("%(what)s downloaded (job %(id)s, sha256 %(sha)s)")
        % {"what": job.get_kind_display(), "id": job.pk, "sha": job.sha256[:16]},
        patient=job.patient,
    )
    return path


@shared_task(name="endpoints.build_job", acks_late=True, reject_on_worker_lost=True)
def build_job(job_id: int) -> str:
    """Celery entry point: build one job (idempotent for a finished job)."""
    return run_job(job_id).state


def register_nav() -> None:
    from django.utils.translation import gettext_lazy

    from sabr_trial.crf import NavItem, registry

    registry.register_nav(
        NavItem(
            order=40, label=gettext_lazy("Reports & exports"), url_name="reports:reports", perm=Perm.EXPORT
        )
    )
