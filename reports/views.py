"""Pages to start, watch and download report, casebook and export builds (reports.jobs does the work)."""

from __future__ import annotations

import datetime

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from endpoints.models import EndpointSnapshot, Job
from enrollment.models import Patient
from reports import jobs
from sabr_trial.roles import Perm, has_perm


def _visible_jobs(user):  # type: ignore[no-untyped-def]
    qs = Job.objects.select_related("user", "patient", "snapshot")
    return qs if has_perm(user, Perm.EXPORT) else qs.filter(user=user)


def job_list(request: HttpRequest) -> HttpResponse:
    if not (has_perm(request.user, Perm.EXPORT) or has_perm(request.user, Perm.VIEW)):
        raise PermissionDenied
    jobs.expire_lost_jobs(requeue=False)
    today = timezone.localdate()
    return render(
        request,
        "reports/jobs.html",
        {
            "jobs": _visible_jobs(request.user)[:50],
            "today": today,
            "can_export": has_perm(request.user, Perm.EXPORT),
            "patients": Patient.objects.order_by("screening_number"),
            "snapshots": EndpointSnapshot.objects.filter(status=EndpointSnapshot.Status.OK)
            .order_by("-created_at")
            .only("id", "created_at", "data_cutoff", "fingerprint")[:10],
            "kinds": Job.Kind,
        },
    )


def _parse_cutoff(raw: str) -> tuple[datetime.date | None, str]:
    today = timezone.localdate()
    if not raw:
        return today, ""
    try:
        day = datetime.date.fromisoformat(raw)
    except ValueError:
        return None, _("Enter the data cut-off as a date (YYYY-MM-DD).")
    if day > today:
        return None, _("The data cut-off cannot be in the future (EC-G1).")
    return day, ""


@require_POST
def job_start(request: HttpRequest) -> HttpResponse:
    kind = request.POST.get("kind", "")
    if kind not in Job.Kind.values:
        messages.error(request, _("Choose what to build."))
        return redirect("reports:reports")
    if not jobs.can_start(request.user, kind):
        raise PermissionDenied
    cutoff, problem = _parse_cutoff(request.POST.get("cutoff", "").strip())
    patient = None
    if kind == Job.Kind.CASEBOOK:
        patient = Patient.objects.filter(pk=request.POST.get("patient") or 0).first()
        if patient is None:
            problem = _("Choose the patient whose casebook to print.")
    if problem or cutoff is None:
        messages.error(request, problem)
        return redirect("reports:reports")
    job = jobs.start_job(user=request.user, kind=kind, cutoff=cutoff, patient=patient)
    return redirect("reports:report_job", pk=job.pk)


def _job_for(request: HttpRequest, pk: int) -> Job:
    jobs.expire_lost_jobs(requeue=False)
    job = get_object_or_404(Job.objects.select_related("user", "patient", "snapshot"), pk=pk)
    if not jobs.can_see(request.user, job):
        raise PermissionDenied
    return job


def job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job_for(request, pk)
    return render(request, "reports/jobs_detail.html", {"job": job})


def _status_payload(job: Job) -> dict[str, object]:
    return {
        "id": job.pk,
        "kind": job.kind,
        "state": job.state,
        "state_label": job.get_state_display(),
        "stage": job.stage,
        "progress": job.progress,
        "finished": job.is_finished,
        "error": job.error.splitlines()[0] if job.error else "",
        "sha256": job.sha256,
        "size": job.file_size,
        "duration_s": job.duration_s,
        "download_url": reverse("reports:report_job_download", args=[job.pk])
        if job.state == Job.State.DONE
        else "",
    }


def job_status(request: HttpRequest, pk: int) -> JsonResponse:
    return JsonResponse(_status_payload(_job_for(request, pk)))


def job_download(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job_for(request, pk)
    try:
        path = jobs.open_download(job=job, user=request.user)
    except FileNotFoundError as exc:
        raise Http404(str(exc)) from None
    content_type = "application/pdf" if path.suffix == ".pdf" else "application/zip"
    return FileResponse(path.open("rb"), as_attachment=True, filename=path.name, content_type=content_type)


@require_POST
def job_retry(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job_for(request, pk)
    if job.state != Job.State.FAILED:
        messages.error(request, _("Only a failed build can be retried."))
        return redirect("reports:report_job", pk=job.pk)
    new = jobs.retry_job(job=job, user=request.user)
    return redirect("reports:report_job", pk=new.pk)
