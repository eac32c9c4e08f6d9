"""The investigator dashboard: the latest endpoint snapshot at a data cut-off, and recompute."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from endpoints import services
from sabr_trial.roles import Perm, has_perm

FORM_SLUGS = {"tumour-assessment", "sabr-fraction", "axitinib", "toripalimab", "subsequent-therapy", "death",
              "disposition", "survival-contact", "consent", "sabr-target"}  # fmt: skip


def _cutoff(request: HttpRequest) -> datetime.date:
    raw = request.GET.get("cutoff") or request.POST.get("cutoff") or ""
    try:
        day = datetime.date.fromisoformat(raw)
    except ValueError:
        return timezone.localdate()
    return min(day, timezone.localdate())


def dashboard(request: HttpRequest) -> HttpResponse:
    if not has_perm(request.user, Perm.VIEW):
        raise PermissionDenied
    cutoff = _cutoff(request)
    snap = services.latest_snapshot(cutoff)
    if settings.CELERY_TASK_ALWAYS_EAGER and cutoff == timezone.localdate() and services.is_stale(snap):
        # No worker in the embedded default: compute in the request when newer data wait.
        snap = services.run_recompute(
            trigger="dashboard (in-process)", cutoff=cutoff, user_id=request.user.pk
        )
        if snap.status != snap.Status.OK:
            snap = services.latest_snapshot(cutoff)
    failure = services.latest_failure_after(snap)
    listing = []
    if snap:
        for row in snap.results.get("patients", []):
            for key in ("pfs1", "pfs2", "os", "lc"):
                tte = row.get(key)
                if tte and tte.get("source"):
                    tte["url"] = _source_url(row["patient_id"], tte["source"])
            listing.append(row)
    return render(
        request,
        "endpoints/dashboard.html",
        {
            "snap": snap,
            "failure": failure,
            "stale": services.is_stale(snap),
            "cutoff": cutoff,
            "today": timezone.localdate(),
            "listing": listing,
            "r": snap.results if snap else {},
            "figures": snap.figures if snap else {},
        },
    )


def _source_url(patient_id: int, source: dict[str, object]) -> str:
    from sabr_trial.crf import registry

    slug = str(source.get("form", ""))
    if slug in registry and source.get("object_id"):
        return reverse("crf_detail", args=[patient_id, slug, source["object_id"]])
    return reverse("casebook", args=[patient_id])


@require_POST
def recompute_now(request: HttpRequest) -> HttpResponse:
    if not has_perm(request.user, Perm.VIEW):
        raise PermissionDenied
    cutoff = _cutoff(request)
    snap = services.run_recompute(trigger="recompute now", cutoff=cutoff, user_id=request.user.pk)
    if snap.status == snap.Status.OK:
        messages.success(request, _("Endpoints recomputed at cut-off %(d)s.") % {"d": cutoff.isoformat()})
    else:
        messages.error(
            request,
            _("The recompute failed; the previous results are kept. Error: %(e)s")
            % {"e": snap.error.splitlines()[0]},
        )
    return redirect(f"{reverse('endpoints:dashboard')}?cutoff={cutoff.isoformat()}")
