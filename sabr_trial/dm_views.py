"""Data-management pages: queries, bulk SDV, casebook signature, patient and study locks, audit trails."""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.dateparse import parse_date
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from sabr_trial import generation, queries, services
from sabr_trial.crf import CrfStatus, registry
from sabr_trial.forms import (
    LockForm,
    OptionalQueryMessageForm,
    QueryMessageForm,
    RaiseQueryForm,
    ReasonForm,
    SignForm,
)
from sabr_trial.models import AuditEvent, CasebookSignature, Query, StudyLock
from sabr_trial.patient_facts import get_patient_for_user
from sabr_trial.roles import Perm, has_perm
from sabr_trial.selectors import get_crf_for_user, history_rows, prelock_report
from sabr_trial.templatetags.ruletext import text as ruletext_text
from sabr_trial.views import apply_errors

# --- queries -----------------------------------------------------------------------------------------------------


def query_list(request: HttpRequest) -> HttpResponse:
    g = request.GET
    default_status = "" if "status" in g else "active"
    filters = {
        "status": g.get("status", default_status),
        "patient": g.get("patient", "").strip(),
        "form": g.get("form", ""),
        "priority": g.get("priority", ""),
        "age": g.get("age", ""),
        "origin": g.get("origin", ""),
    }
    qs = queries.filter_queries(request.user, **filters)
    page = Paginator(qs, 50).get_page(g.get("page"))
    rows = []
    for q in page.object_list:
        try:
            spec = registry.for_model(q.content_type.model_class())  # type: ignore[arg-type]
        except KeyError:
            spec = None
        rows.append(
            {
                "q": q,
                "spec": spec,
                "age": queries.age_days(q),
                "url": reverse("query_detail", args=[q.pk]),
                "field_label": _field_label(spec, q.field_name),
            }
        )
    return render(
        request,
        "sabr_trial/query_list.html",
        {
            "rows": rows,
            "page": page,
            "filters": filters,
            "counts": queries.status_counts(),
            "statuses": Query.Status.choices,
            "priorities": Query.Priority.choices,
            "forms": [(s.slug, s.title) for s in registry.all()],
            "ages": [("lt7", _("under 7 days")), ("7to30", _("7 to 30 days")), ("gt30", _("over 30 days"))],
        },
    )


def _field_label(spec: Any, field_name: str) -> str:
    if not field_name or spec is None:
        return ""
    try:
        return str(spec.model._meta.get_field(field_name).verbose_name)
    except Exception:
        return field_name


def _query_for_user(user: Any, pk: int) -> Query:
    if not has_perm(user, Perm.VIEW):
        raise PermissionDenied
    return get_object_or_404(Query.objects.select_related("patient", "content_type"), pk=pk)


def query_detail(request: HttpRequest, pk: int) -> HttpResponse:
    query = _query_for_user(request.user, pk)
    return render(request, "sabr_trial/query_detail.html", _query_context(request, query))


def _query_context(request: HttpRequest, query: Query, **forms: Any) -> dict[str, Any]:
    row = query.target
    spec = registry.for_model(type(row))
    user = request.user
    closed = query.query_status == Query.Status.CLOSED
    locked = services.is_locked(row)
    return {
        "query": query,
        "row": row,
        "spec": spec,
        "patient": query.patient,
        "field_label": _field_label(spec, query.field_name),
        "thread": query.messages.select_related("author"),
        "age": queries.age_days(query),
        "can_answer": has_perm(user, Perm.ANSWER_QUERY)
        and query.query_status == Query.Status.OPEN
        and not locked,
        "can_correct": has_perm(user, Perm.ENTER) and query.query_status == Query.Status.OPEN and not locked,
        "can_close": has_perm(user, Perm.RAISE_QUERY) and not closed,
        "can_reopen": has_perm(user, Perm.RAISE_QUERY)
        and query.query_status != Query.Status.OPEN
        and not locked,
        "answer_form": forms.get("answer_form") or QueryMessageForm(),
        "close_form": forms.get("close_form") or OptionalQueryMessageForm(),
        "reopen_form": forms.get("reopen_form") or QueryMessageForm(),
    }


@require_POST
def query_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    query = _query_for_user(request.user, pk)
    form_class = OptionalQueryMessageForm if action == "close" else QueryMessageForm
    form = form_class(request.POST)
    service = {
        "answer": queries.answer_query,
        "close": queries.close_query,
        "reopen": queries.reopen_query,
    }.get(action)
    if service is None:
        raise PermissionDenied
    text = request.POST.get("text", "")
    try:
        service(query=query, acting_user=request.user, text=text)
    except services.CrfLocked as exc:
        messages.error(request, str(exc))
        status = 409
    except ValidationError as exc:
        form.is_valid()
        apply_errors(form, exc)
        status = 422
    else:
        done = {"answer": _("Answer sent."), "close": _("Query closed."), "reopen": _("Query re-opened.")}
        messages.success(request, done[action])
        return redirect(request.POST.get("next") or reverse("query_detail", args=[query.pk]))
    query.refresh_from_db()
    context = _query_context(request, query, **{f"{action}_form": form})
    visible = {"answer": "can_answer", "close": "can_close", "reopen": "can_reopen"}[action]
    if status == 422 and not context[visible]:  # the form is not shown: say why at the top
        for errors in form.errors.values():
            for message in errors:
                messages.error(request, message)
    return render(request, "sabr_trial/query_detail.html", context, status=status)


@require_POST
def query_raise(request: HttpRequest, patient_pk: int, slug: str, pk: int) -> HttpResponse:
    spec, row = get_crf_for_user(request.user, patient_pk=patient_pk, slug=slug, pk=pk)
    if not has_perm(request.user, Perm.RAISE_QUERY):
        raise PermissionDenied
    form = RaiseQueryForm(request.POST, fields=field_choices(type(row)))
    if form.is_valid():
        try:
            queries.raise_query(
                row=row,
                text=form.cleaned_data["text"],
                field_name=form.cleaned_data["field_name"],
                priority=form.cleaned_data["priority"],
                acting_user=request.user,
            )
        except services.CrfLocked as exc:
            messages.error(request, str(exc))
            return redirect(row.get_absolute_url())
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Query raised."))
            return redirect(row.get_absolute_url())
    from sabr_trial.views import crf_detail_context

    context = crf_detail_context(request, spec, row)
    context["raise_form"] = form
    return render(request, "crf/crf_detail.html", context, status=422)


def field_choices(model: type[Any]) -> list[tuple[str, str]]:
    return [(f.name, str(f.verbose_name)) for f in services.data_fields(model)]


# --- SDV ---------------------------------------------------------------------------------------------------------


def _sdv_rows(patient: Any) -> list[dict[str, Any]]:
    rows = []
    for spec in registry.all():
        for row in (
            spec.model.objects.filter(patient=patient).select_related(*spec.model.str_related).order_by("pk")
        ):
            rows.append({"spec": spec, "row": row, "date": _row_date(row), "awaiting": _awaiting_sdv(row)})
    rows.sort(key=lambda r: (r["date"] or datetime.date.min, r["spec"].order, r["row"].pk))
    return rows


def _awaiting_sdv(row: Any) -> bool:
    return row.status in (CrfStatus.SUBMITTED, CrfStatus.SIGNED) and not row.verified_at


def _row_date(row: Any) -> datetime.date | None:
    """The clinical date of a row for grouping by visit: its first date field, else its creation date."""
    from django.db import models

    for f in services.data_fields(type(row)):
        if isinstance(f, models.DateField) and not isinstance(f, models.DateTimeField):
            value = getattr(row, f.name)
            if value:
                return value  # type: ignore[no-any-return]
        if isinstance(f, models.DateTimeField):
            value = getattr(row, f.name)
            if value:
                return value.date()  # type: ignore[no-any-return]
    return row.created_at.date()  # type: ignore[no-any-return]


def patient_sdv(request: HttpRequest, pk: int) -> HttpResponse:
    """The monitor's SDV page: every form of the patient, those awaiting SDV with a checkbox; verify in bulk."""
    patient = get_patient_for_user(request.user, pk)
    if request.method == "POST":
        if not has_perm(request.user, Perm.VERIFY):
            raise PermissionDenied
        rows = _sdv_rows(patient)
        selected = set(request.POST.getlist("rows"))
        if request.POST.get("date"):
            selected |= {
                f"{r['spec'].slug}:{r['row'].pk}"
                for r in rows
                if r["awaiting"] and str(r["date"]) == request.POST["date"]
            }
        if request.POST.get("all") == "1":
            selected |= {f"{r['spec'].slug}:{r['row'].pk}" for r in rows if r["awaiting"]}
        chosen = [r["row"] for r in rows if f"{r['spec'].slug}:{r['row'].pk}" in selected]
        if not chosen:
            messages.error(request, _("Select at least one form to verify."))
            return render(
                request, "sabr_trial/patient_sdv.html", _sdv_context(request, patient, rows), status=422
            )
        result = services.crf_verify_many(rows=chosen, acting_user=request.user)
        if result.done:
            messages.success(
                request, _("%(n)s form(s) marked as source-data verified.") % {"n": len(result.done)}
            )
        for row, message in result.refused:
            messages.error(request, f"{row}: {message}")
        if result.refused and not result.done:
            return render(
                request,
                "sabr_trial/patient_sdv.html",
                _sdv_context(request, patient, _sdv_rows(patient)),
                status=409,
            )
        return redirect("patient_sdv", patient.pk)
    return render(request, "sabr_trial/patient_sdv.html", _sdv_context(request, patient))


def _sdv_body(rows: list[dict[str, Any]], *, can_verify: bool) -> dict[str, Any]:
    """The SDV table and its buttons, rendered without the request (the form's CSRF token is the page's): kept
    per patient data version, language and whether the reader verifies (issue 20: 47 ms of Python per view)."""
    awaiting = sum(1 for r in rows if r["awaiting"])
    html = render_to_string(
        "sabr_trial/_patient_sdv_body.html",
        {
            "rows": rows,
            "dates": sorted({str(r["date"]) for r in rows if r["awaiting"]}),
            "awaiting": awaiting,
            "can_verify": can_verify,
        },
    )
    return {"html": html, "awaiting": awaiting}


def _sdv_context(
    request: HttpRequest, patient: Any, rows: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The page's context: the table of ``rows`` (read just now, after a refused verification), or else the table
    kept per patient data version, language and whether the reader verifies."""
    can_verify = has_perm(request.user, Perm.VERIFY)
    if rows is None:
        body = generation.patient_fragment(
            patient.pk,
            f"sdv:{patient.pk}:{get_language()}:{int(can_verify)}",
            lambda: _sdv_body(_sdv_rows(patient), can_verify=can_verify),
        )
    else:
        body = _sdv_body(rows, can_verify=can_verify)
    return {"patient": patient, "body": mark_safe(body["html"]), "awaiting": body["awaiting"]}


# --- casebook signature and locks --------------------------------------------------------------------------------


def casebook_sign(request: HttpRequest, pk: int) -> HttpResponse:
    patient = get_patient_for_user(request.user, pk)
    if not has_perm(request.user, Perm.SIGN):
        raise PermissionDenied
    form = SignForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            services.casebook_sign(
                patient=patient,
                acting_user=request.user,
                password=form.cleaned_data["password"],
                request=request,
            )
        except services.CrfLocked as exc:
            messages.error(request, str(exc))
            status = 409
        except ValidationError as exc:
            apply_errors(form, exc)
            status = 422
        else:
            messages.success(request, _("Casebook signed."))
            return redirect("casebook", patient.pk)
    context = {
        "patient": patient,
        "form": form,
        "meaning": _(services.CASEBOOK_SIGNATURE_MEANING),
        "signer": request.user.get_full_name() or request.user.get_username(),
        "forms": services.casebook_forms(patient),
        "signatures": CasebookSignature.objects.filter(patient=patient).select_related("voided_by"),
    }
    return render(request, "sabr_trial/casebook_sign.html", context, status=status)


def patient_lock(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Lock: the pre-lock report, then an explicit confirmation with a reason. Unlock: a reason (POST)."""
    patient = get_patient_for_user(request.user, pk)
    if action == "lock":
        return _patient_lock(request, patient)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    reason = request.POST.get("reason", "")
    try:
        if action == "unlock":
            services.patient_unlock(patient=patient, acting_user=request.user, reason=reason)
            messages.success(request, _("Casebook unlocked."))
        else:
            raise PermissionDenied
    except services.CrfLocked as exc:
        messages.error(request, str(exc))
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    return redirect("casebook", patient.pk)


def _patient_lock(request: HttpRequest, patient: Any) -> HttpResponse:
    if not has_perm(request.user, Perm.LOCK):
        raise PermissionDenied
    form = LockForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.patient_lock(
                    patient=patient, acting_user=request.user, reason=form.cleaned_data["reason"]
                )
            except services.CrfLocked as exc:
                form.add_error(None, str(exc))
            except ValidationError as exc:
                apply_errors(form, exc)
            else:
                messages.success(request, _("Casebook locked."))
                return redirect("casebook", patient.pk)
        status = 422
    report = prelock_report(patient)
    context = {
        "patient": patient,
        "form": form,
        "report": report,
        "open_items": sum(len(s["items"]) for s in report),
        "lock": services.casebook_lock(patient),
    }
    return render(request, "sabr_trial/patient_lock.html", context, status=status)


def study_lock(request: HttpRequest) -> HttpResponse:
    if not has_perm(request.user, Perm.LOCK):
        raise PermissionDenied
    form = ReasonForm(request.POST or None)
    status = 200
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "lock":
                services.study_lock(acting_user=request.user, reason=request.POST.get("reason", ""))
                messages.success(request, _("The study database is locked."))
            else:
                services.study_unlock(acting_user=request.user, reason=request.POST.get("reason", ""))
                messages.success(request, _("The study database is unlocked."))
        except ValidationError as exc:
            form.is_valid()
            apply_errors(form, exc)
            status = 422
        else:
            return redirect("study_lock")
    context = {
        "form": form,
        "active": StudyLock.active(),
        "history": StudyLock.objects.select_related("locked_by", "unlocked_by")[:20],
        "open_queries": Query.objects.exclude(query_status=Query.Status.CLOSED).count(),
    }
    return render(request, "sabr_trial/study_lock.html", context, status=status)


# --- audit trail -------------------------------------------------------------------------------------------------


def _audit_filters(request: HttpRequest) -> dict[str, Any]:
    g = request.GET
    return {
        "user": g.get("user", "").strip(),
        "from": parse_date(g.get("from", "") or "") if g.get("from") else None,
        "to": parse_date(g.get("to", "") or "") if g.get("to") else None,
        "raw_from": g.get("from", ""),
        "raw_to": g.get("to", ""),
    }


def _keep(entry: dict[str, Any], filters: dict[str, Any]) -> bool:
    user = entry["user"]
    if filters["user"] and (user is None or user.get_username() != filters["user"]):
        return False
    from django.utils import timezone

    day = timezone.localtime(entry["when"]).date()
    if filters["from"] and day < filters["from"]:
        return False
    return not (filters["to"] and day > filters["to"])


def _row_entries(spec: Any, row: Any) -> list[dict[str, Any]]:
    out = []
    for h in history_rows(row):
        out.append({**h, "kind": "change", "form": spec.title, "row": row, "url": row.get_absolute_url()})
    return out


def _event_entries(events: Any) -> list[dict[str, Any]]:
    out = []
    for e in events:
        out.append(
            {
                "when": e.at,
                "user": e.user,
                "kind": "event",
                "type": e.get_action_display(),
                "description": ruletext_text(e.description),
                "reason": ruletext_text(e.reason),
                "version": e.crf_version,
                "action": e.action,
            }
        )
    return out


def _render_audit(request: HttpRequest, entries: list[dict[str, Any]], **context: Any) -> HttpResponse:
    filters = _audit_filters(request)
    entries = [e for e in entries if _keep(e, filters)]
    entries.sort(key=lambda e: e["when"], reverse=True)
    users = (
        get_user_model()
        .objects.filter(is_active=True)
        .order_by("username")
        .values_list("username", flat=True)
    )
    return render(
        request,
        "sabr_trial/audit_trail.html",
        {"entries": entries, "filters": filters, "users": list(users), **context},
    )


def patient_audit(request: HttpRequest, pk: int) -> HttpResponse:
    """Every change of every CRF of the patient (who, when, old -> new, reason) and every audit event."""
    patient = get_patient_for_user(request.user, pk)
    entries: list[dict[str, Any]] = []
    for spec in registry.all():
        for row in spec.model.objects.filter(patient=patient).order_by("pk"):
            entries.extend(_row_entries(spec, row))
    entries.extend(
        e
        for e in _event_entries(AuditEvent.objects.filter(patient=patient).select_related("user"))
        if e["action"]
        not in (AuditEvent.Action.CREATE, AuditEvent.Action.UPDATE)  # already in the history rows
    )
    return _render_audit(request, entries, patient=patient, title=_("Audit trail"), scope="patient")


def crf_audit(request: HttpRequest, patient_pk: int, slug: str, pk: int) -> HttpResponse:
    spec, row = get_crf_for_user(request.user, patient_pk=patient_pk, slug=slug, pk=pk)
    from sabr_trial.selectors import audit_events_for

    entries = _row_entries(spec, row) + [
        e
        for e in _event_entries(audit_events_for(row))
        if e["action"] not in (AuditEvent.Action.CREATE, AuditEvent.Action.UPDATE)
    ]
    return _render_audit(
        request, entries, patient=row.patient, spec=spec, row=row, title=spec.title, scope="form"
    )
