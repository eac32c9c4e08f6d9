"""The investigator dashboard: the latest endpoint snapshot at a data cut-off, and recompute."""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.http import require_POST

from endpoints import services
from sabr_trial.roles import Perm, has_perm

FORM_SLUGS = {
    "tumour-assessment",
    "sabr-fraction",
    "axitinib",
    "toripalimab",
    "subsequent-therapy",
    "death",
    "disposition",
    "survival-contact",
    "consent",
    "sabr-target",
}


#: Row labels of the safety overview (adverse_events.reporting is a pure module): translated in the template;
#: the agent rows are endpoints.services.AGENT_LABELS.
SAFETY_OVERVIEW_LABELS = (
    gettext_noop("Any AE"),
    gettext_noop("Grade >= 3 AE"),
    gettext_noop("Grade 5 AE"),
    gettext_noop("Treatment-related AE"),
    gettext_noop("Treatment-related grade >= 3 AE"),
    gettext_noop("Serious AE"),
    gettext_noop("Immune-related AE"),
    gettext_noop("AE leading to discontinuation of any study treatment"),
)

#: Study numbers of flagged patients named in the warning above the figures (all are in the listing).
FLAGGED_SHOWN = 30


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
    snap = services.latest_snapshot(cutoff, bare=True)
    if settings.CELERY_TASK_ALWAYS_EAGER and cutoff == timezone.localdate() and services.is_stale(snap):
        # No worker in the embedded default: compute in the request when newer data wait.
        snap = services.run_recompute(
            trigger="dashboard (in-process)", cutoff=cutoff, user_id=request.user.pk
        )
        if snap.status != snap.Status.OK:
            snap = services.latest_snapshot(cutoff, bare=True)
    failure = services.latest_failure_after(snap)
    page = _page(request)
    return render(
        request,
        "endpoints/dashboard.html",
        {
            "snap": snap,
            "failure": failure,
            "stale": services.is_stale(snap),
            "cutoff": cutoff,
            "today": timezone.localdate(),
            "body": _dashboard_body(snap, page, cutoff) if snap else "",
        },
    )


#: How long a rendered dashboard body is kept (a snapshot never changes, so this only bounds the cache's size).
BODY_SECONDS = 3600


def _dashboard_body(snap: Any, page: int, cutoff: datetime.date) -> str:
    """The dashboard below the snapshot line (headline, figures, tables, one listing page), rendered once per
    snapshot, language and page and kept in the shared cache: a snapshot is never changed after its recompute
    commits, and nothing in the body depends on the reader (no form, no token, no message). With the cache down it
    is rendered on every view."""
    from django.core.cache import cache
    from django.utils import translation

    key = (
        f"endpoints:dashboard-body:{snap.pk}:{snap.created_at.timestamp()}:{snap.fingerprint[:16]}:"
        f"{translation.get_language()}:{page}:{cutoff.isoformat()}"
    )
    found = cache.get(key)
    if isinstance(found, str):
        return mark_safe(found)  # rendered by our own template below
    summary, listing, pages = services.dashboard_parts(snap, page)
    page = min(page, pages)
    for row in listing:
        for name in ("pfs1", "pfs2", "os", "lc"):
            tte = row.get(name)
            if isinstance(tte, dict) and tte.get("source"):
                tte["url"] = _source_url(int(row["patient_id"]), tte["source"])  # type: ignore[call-overload]
    flagged = list(summary.get("flagged", []))  # type: ignore[call-overload]
    body = render_to_string(
        "endpoints/_dashboard_body.html",
        {
            "snap": snap,
            "cutoff": cutoff,
            "listing": listing,
            "page": page,
            "pages": pages,
            "page_range": range(1, pages + 1) if pages <= 20 else None,
            "flagged_count": len(flagged),
            "flagged_shown": flagged[:FLAGGED_SHOWN],
            "r": summary,
            "figures": services.figures_in(snap),
            "notes": summary.get("figure_notes", {}),
        },
    )
    cache.set(key, body, timeout=BODY_SECONDS)
    return mark_safe(body)


def _page(request: HttpRequest) -> int:
    try:
        return max(1, int(request.GET.get("page", "1")))
    except ValueError:
        return 1


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
