"""To-do pages per role (issue 19 item 10): the investigator's and the data manager's lists, the monitor's
study-wide SDV list. Each item links to the page where the work is done; the reads are in ``visits.todo``."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from sabr_trial.crf import registry
from sabr_trial.roles import Perm, has_perm
from sabr_trial.services import crf_verify_many
from visits import todo

#: Forms per page of the SDV list (the selection and "all matching" work across pages).
SDV_PAGE_SIZE = 100


def _require(request: HttpRequest, perm: str) -> None:
    if not has_perm(request.user, perm):
        raise PermissionDenied


def investigator(request: HttpRequest) -> HttpResponse:
    """Eligibility to confirm, casebooks to sign, SAEs awaiting causality, queries to answer."""
    _require(request, Perm.SIGN)
    result = todo.investigator_todo(request.user)
    return render(
        request,
        "visits/todo_investigator.html",
        {
            "todo": result,
            "queries": [todo.query_row(q) for q in result.queries],
        },
    )


def data_manager(request: HttpRequest) -> HttpResponse:
    """Queries not closed by age, casebooks of patients off study: ready to lock, or what the pre-lock report lists."""
    _require(request, Perm.LOCK)
    result = todo.data_manager_todo(request.user)
    labels = {"gt30": _("over 30 days"), "7to30": _("7 to 30 days"), "lt7": _("under 7 days")}
    groups = [
        (key, labels[key], [todo.query_row(a.query, age=a.age) for a in result.queries.get(key, [])])
        for key, _low, _high in todo.AGE_GROUPS
    ]
    return render(request, "visits/todo_data_manager.html", {"todo": result, "groups": groups})


def _filters(data: Any) -> dict[str, str]:
    form = data.get("form", "")
    return {"patient": data.get("patient", "").strip()[:20], "form": form if form in registry else ""}


def _list_url(filters: dict[str, str]) -> str:
    query = urlencode({k: v for k, v in filters.items() if v})
    return reverse("visits:sdv_list") + (f"?{query}" if query else "")


def sdv_list(request: HttpRequest) -> HttpResponse:
    """Every form of the study awaiting SDV with its values; filter by patient and form, select, confirm, verify.

    Verifying goes in two steps: the selection (ticked rows, or every form matching the filters) is shown with its
    count for confirmation, then each form is verified through ``crf_verify_many`` (one audited verification per
    form, refusals reported per form: a lock the ``SDV_ON_LOCKED_CASEBOOK`` policy does not let pass).
    """
    _require(request, Perm.VERIFY)
    filters = _filters(request.POST if request.method == "POST" else request.GET)
    if request.method == "POST":
        return _sdv_post(request, filters)
    items = todo.sdv_items(**filters)
    page = Paginator(items, SDV_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "visits/sdv_list.html",
        {
            "page": page,
            "filters": filters,
            "total": len(items),
            "verifiable": sum(1 for i in items if not i.blocked),
            "forms": [(spec.slug, spec.title) for spec in registry.all()],
            "query": urlencode({k: v for k, v in filters.items() if v}),
        },
    )


def _sdv_post(request: HttpRequest, filters: dict[str, str]) -> HttpResponse:
    step = request.POST.get("step", "review")
    if request.POST.get("all") == "1":
        keys = [i.key for i in todo.sdv_items(**filters) if not i.blocked]
    else:
        keys = request.POST.getlist("rows")
    rows = todo.sdv_selected(keys)
    if not rows:
        messages.error(request, _("Select at least one form to verify."))
        return redirect(_list_url(filters))
    if step != "confirm":
        chosen = [
            {
                "key": f"{registry.for_model(type(r)).slug}:{r.pk}",
                "title": registry.for_model(type(r)).title,
                "row": r,
            }
            for r in rows
        ]
        chosen.sort(key=lambda c: (c["row"].patient.label, str(c["title"]), c["row"].pk))
        return render(
            request,
            "visits/sdv_confirm.html",
            {"chosen": chosen, "filters": filters, "back": _list_url(filters)},
        )
    result = crf_verify_many(rows=rows, acting_user=request.user)
    if result.done:
        messages.success(
            request, _("%(n)s form(s) marked as source-data verified.") % {"n": len(result.done)}
        )
    for row, message in result.refused:
        messages.error(request, f"{row.patient.label} · {row}: {message}")
    return redirect(_list_url(filters))
