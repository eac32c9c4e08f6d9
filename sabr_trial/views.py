"""Generic CRF pages: create, view (with history), edit, lifecycle transitions; error pages."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms import BaseForm
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from enrollment.selectors import get_patient_for_user
from sabr_trial import services
from sabr_trial.crf import CrfBase, CrfSpec, CrfStatus
from sabr_trial.forms import OptionalReasonForm, ReasonForm, SignForm
from sabr_trial.roles import Perm, has_perm
from sabr_trial.selectors import audit_events_for, get_crf_for_user, get_spec, history_rows, signatures_for


def apply_errors(form: BaseForm, exc: ValidationError) -> None:
    """Put a service's ValidationError next to the fields it names (others at the top)."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            if field in form.fields:
                for message in errors:
                    form.add_error(field, message)
            else:
                for message in errors:
                    form.add_error(None, message)
    else:
        for message in exc.messages:
            form.add_error(None, message)


def _form_kwargs(spec: CrfSpec, patient: Any) -> dict[str, Any]:
    return {"patient": patient} if getattr(spec.form_class, "takes_patient", False) else {}


def crf_create(request: HttpRequest, patient_pk: int, slug: str) -> HttpResponse:
    spec = get_spec(slug)
    patient = get_patient_for_user(request.user, patient_pk)
    # A locked casebook answers "locked" before anything is typed, and names the lock, not the role (issue 19).
    services.refuse_if_patient_locked(patient)
    if not has_perm(request.user, Perm.ENTER):
        raise PermissionDenied
    blocked = spec.can_add(patient) if spec.can_add else None
    if blocked:
        messages.error(request, blocked)
        return redirect("casebook", patient.pk)
    if "create" in spec.views:
        return spec.views["create"](request, patient_pk=patient_pk, spec=spec)
    if not spec.many:
        existing = spec.model.objects.filter(patient=patient).first()
        if existing is not None:
            return redirect(existing.get_absolute_url())
    instance = spec.model(patient=patient)
    assert spec.form_class is not None
    form = spec.form_class(request.POST or None, instance=instance, **_form_kwargs(spec, patient))
    if request.method == "POST" and form.is_valid():
        submit = request.POST.get("action") == "submit"
        try:
            row = services.crf_create(
                model=spec.model, patient=patient, data=form.crf_data(), m2m=form.crf_m2m(),
                acting_user=request.user, status=CrfStatus.SUBMITTED if submit else CrfStatus.DRAFT,
            )  # fmt: skip
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("%(title)s saved.") % {"title": spec.title})
            return redirect(row.get_absolute_url())
    return render(
        request, "crf/crf_form.html", {"spec": spec, "patient": patient, "form": form, "instance": None}
    )


def crf_detail(request: HttpRequest, patient_pk: int, slug: str, pk: int) -> HttpResponse:
    spec, instance = get_crf_for_user(request.user, patient_pk=patient_pk, slug=slug, pk=pk)
    if "detail" in spec.views:
        return spec.views["detail"](request, spec=spec, instance=instance)
    return render(request, "crf/crf_detail.html", crf_detail_context(request, spec, instance))


def crf_detail_context(request: HttpRequest, spec: CrfSpec, instance: CrfBase) -> dict[str, Any]:
    """Context shared by the generic detail page and custom CRF pages."""
    from sabr_trial import queries
    from sabr_trial.dm_views import field_choices
    from sabr_trial.forms import RaiseQueryForm

    by_field = queries.open_queries_by_field(instance)
    fields = [
        (f.verbose_name, services._display(instance, f), f.help_text)
        for f in services.data_fields(type(instance))
    ]
    field_rows = [
        {"name": f.name, "label": f.verbose_name, "value": services._display(instance, f),
         "queries": by_field.get(f.name, [])}
        for f in services.data_fields(type(instance))
    ]  # fmt: skip
    user = request.user
    status = instance.status
    locked = services.is_locked(instance)
    return {
        "field_rows": field_rows,
        "form_queries": by_field.get("", []),
        "all_queries": queries.queries_for_row(instance).select_related("raised_by"),
        "can_raise_query": has_perm(user, Perm.RAISE_QUERY) and not locked,
        "can_answer_query": has_perm(user, Perm.ANSWER_QUERY) and not locked,
        "raise_form": RaiseQueryForm(fields=field_choices(type(instance))),
        "changed_since_sdv": _changed_since_sdv(instance),
        "study_locked": services.StudyLock.active() is not None,
        "spec": spec,
        "patient": instance.patient,
        "instance": instance,
        "fields": fields,
        "history": history_rows(instance),
        "events": audit_events_for(instance)[:50],
        "signatures": signatures_for(instance),
        "can_edit": has_perm(user, Perm.ENTER) and not locked,
        "locked": locked,
        "can_submit": has_perm(user, Perm.ENTER) and status == CrfStatus.DRAFT and not locked,
        "can_verify": has_perm(user, Perm.VERIFY)
        and status in (CrfStatus.SUBMITTED, CrfStatus.SIGNED)
        and not instance.verified_at
        and not locked,
        "can_sign": has_perm(user, Perm.SIGN)
        and status in (CrfStatus.SUBMITTED, CrfStatus.VERIFIED)
        and not locked,
        "can_lock": has_perm(user, Perm.LOCK)
        and status in (CrfStatus.SUBMITTED, CrfStatus.VERIFIED, CrfStatus.SIGNED)
        and not locked,
        "can_unlock": has_perm(user, Perm.LOCK)
        and status == CrfStatus.LOCKED
        and not instance.patient.locked_at,
        "sign_form": SignForm(),
        "reason_form": ReasonForm(),
        "optional_reason_form": OptionalReasonForm(),
    }


def _changed_since_sdv(instance: CrfBase) -> list[dict[str, Any]]:
    """After a change dropped the SDV: the last verification and every change made since (who, what, reason)."""
    from sabr_trial.models import AuditEvent
    from sabr_trial.selectors import audit_events_for

    if instance.verified_at:
        return []
    last = audit_events_for(instance).filter(action=AuditEvent.Action.VERIFY).select_related("user").first()
    if last is None:
        return []
    rows = [h for h in history_rows(instance) if h["when"] > last.at and h["changes"]]
    return [{"verified": last, "rows": rows}] if rows else []


def _query_from_request(request: HttpRequest, instance: CrfBase) -> Any:
    """The open query a correction answers (``?query=<id>`` on the edit page), or None."""
    from sabr_trial.models import Query
    from sabr_trial.queries import queries_for_row

    raw = request.POST.get("query") or request.GET.get("query") or ""
    if not raw.isdigit() or not has_perm(request.user, Perm.ANSWER_QUERY):
        return None
    return queries_for_row(instance).filter(pk=int(raw), query_status=Query.Status.OPEN).first()


def crf_update(request: HttpRequest, patient_pk: int, slug: str, pk: int) -> HttpResponse:
    spec, instance = get_crf_for_user(request.user, patient_pk=patient_pk, slug=slug, pk=pk)
    if services.is_locked(instance):
        messages.error(request, services.lock_message(instance))
        return redirect(instance.get_absolute_url())
    if "update" in spec.views:
        return spec.views["update"](request, spec=spec, instance=instance)
    if not has_perm(request.user, Perm.ENTER):
        raise PermissionDenied
    assert spec.form_class is not None
    form = spec.form_class(request.POST or None, instance=instance, **_form_kwargs(spec, instance.patient))
    query = _query_from_request(request, instance)
    stale = None
    if request.method == "POST" and form.is_valid():
        expected = form.cleaned_data.get("expected_version") or 0
        try:
            row, changes = services.crf_update(
                instance=instance, expected_version=expected, data=form.crf_data(), m2m=form.crf_m2m(),
                reason=form.cleaned_data.get("change_reason", ""), acting_user=request.user,
            )  # fmt: skip
        except services.StaleVersion as exc:
            stale = exc
            data = request.POST.copy()
            data["expected_version"] = str(exc.current.version)
            form = spec.form_class(data, instance=exc.current, **_form_kwargs(spec, instance.patient))
            form.is_bound and form.errors  # noqa: B018  (bind so the user's values stay in the fields)
            return render(
                request,
                "crf/crf_form.html",
                {
                    "spec": spec,
                    "patient": instance.patient,
                    "form": form,
                    "instance": exc.current,
                    "stale": stale,
                    "answering": query,
                },
                status=409,
            )
        except services.CrfLocked as exc:
            messages.error(request, str(exc))
            return redirect(instance.get_absolute_url())
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            if changes:
                messages.success(request, _("Saved: %(n)s field(s) changed.") % {"n": len(changes)})
                if query is not None:
                    from sabr_trial.queries import answer_query

                    answer_query(
                        query=query, acting_user=request.user, text=form.cleaned_data.get("change_reason", "")
                        or _("Corrected."),
                    )  # fmt: skip
                    messages.success(
                        request, _("Query Q%(n)s answered with the correction.") % {"n": query.pk}
                    )
            else:
                messages.info(request, _("No value changed: nothing was saved."))
            return redirect(row.get_absolute_url())
    return render(
        request,
        "crf/crf_form.html",
        {"spec": spec, "patient": instance.patient, "form": form, "instance": instance, "answering": query},
    )


@require_POST
def crf_transition(request: HttpRequest, patient_pk: int, slug: str, pk: int, action: str) -> HttpResponse:
    spec, instance = get_crf_for_user(request.user, patient_pk=patient_pk, slug=slug, pk=pk)
    version = request.POST.get("expected_version")
    expected = int(version) if version and version.isdigit() else None
    try:
        if action == "submit":
            services.crf_submit(instance=instance, acting_user=request.user, expected_version=expected)
            messages.success(request, _("Submitted."))
        elif action == "verify":
            services.crf_verify(instance=instance, acting_user=request.user, expected_version=expected)
            messages.success(request, _("Marked as source-data verified."))
        elif action == "sign":
            form = SignForm(request.POST)
            password = request.POST.get("password", "")
            services.crf_sign(
                instance=instance, acting_user=request.user, password=password, request=request,
                expected_version=expected,
            )  # fmt: skip
            del form
            messages.success(request, _("Signed."))
        elif action == "lock":
            services.crf_lock(
                instance=instance, acting_user=request.user, reason=request.POST.get("reason", "")
            )
            messages.success(request, _("Locked."))
        elif action == "unlock":
            services.crf_unlock(
                instance=instance, acting_user=request.user, reason=request.POST.get("reason", "")
            )
            messages.success(request, _("Unlocked."))
        else:
            return HttpResponseNotAllowed(["POST"])
    except services.StaleVersion as exc:
        messages.error(request, str(exc))
        return redirect(instance.get_absolute_url())
    except services.CrfLocked as exc:
        messages.error(request, str(exc))
        return render(request, "crf/crf_detail.html", crf_detail_context(request, spec, instance), status=409)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
        return render(request, "crf/crf_detail.html", crf_detail_context(request, spec, instance), status=422)
    return redirect(reverse("crf_detail", args=[instance.patient_id, spec.slug, instance.pk]))


def error_403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    # A lock is not a missing right: say which lock refused, never "your role" (issue 19).
    locked = str(exception) if isinstance(exception, services.CrfLocked) else ""
    return render(request, "403.html", {"locked": locked}, status=403)


def error_404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "404.html", status=404)


def error_500(request: HttpRequest) -> HttpResponse:
    return render(request, "500.html", status=500)
