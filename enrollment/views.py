"""Patient list, new patient (screening), registration, and the casebook."""

from __future__ import annotations

import copy
import secrets
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from enrollment import criteria, services
from enrollment.forms import EligibilityConfirmForm, EligibilityForm, NewPatientForm, RegisterPatientForm
from enrollment.models import Baseline, Eligibility
from enrollment.rules import derive_imdc, holds_investigator_role, parse_answers
from enrollment.selectors import get_patient_for_user, patients_for_user
from sabr_trial import generation as data_generation
from sabr_trial import services as sabr_services
from sabr_trial.crf import CrfSpec, CrfStatus, registry
from sabr_trial.roles import Perm, has_perm
from sabr_trial.selectors import crfs_of_patient, get_crf_for_user
from sabr_trial.views import apply_errors, crf_detail_context, crf_form_page, next_form_url

PAGE_SIZE = 25


def home(request: HttpRequest) -> HttpResponse:
    """A role with a to-do list lands on it (issue 19); everyone else on the patient list."""
    for page in registry.home_pages:
        if has_perm(request.user, page.perm):
            return redirect(page.url_name)
    return redirect("patient_list")


def patient_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    patients = patients_for_user(request.user, search=query)
    page = Paginator(patients, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "enrollment/patient_list.html", {"page": page, "query": query})


def patient_new(request: HttpRequest) -> HttpResponse:
    if not has_perm(request.user, Perm.ENTER):
        raise PermissionDenied
    form = NewPatientForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            patient = services.patient_screen(
                screening_date=form.cleaned_data["screening_date"], acting_user=request.user
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Patient %(n)s created.") % {"n": patient.screening_number})
            if request.GET.get("next") == "continue":
                return redirect(next_form_url(patient, "screening", None))
            return redirect("casebook", patient.pk)
    return render(request, "enrollment/patient_new.html", {"form": form})


def patient_register(request: HttpRequest, pk: int) -> HttpResponse:
    patient = get_patient_for_user(request.user, pk)
    if not has_perm(request.user, Perm.ENTER):
        raise PermissionDenied
    form = RegisterPatientForm(request.POST or None)
    problems: list[str] = []
    if request.method == "POST" and form.is_valid():
        try:
            services.patient_register(
                patient=patient,
                registration_date=form.cleaned_data["registration_date"],
                acting_user=request.user,
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            patient.refresh_from_db()
            messages.success(request, _("Registered: study number %(n)s.") % {"n": patient.study_number})
            if request.GET.get("next") == "continue":
                return redirect(next_form_url(patient, "registration", None))
            return redirect("casebook", patient.pk)
    elif request.method == "GET":
        precheck = services.registration_precheck(patient, timezone.localdate())
        problems = precheck[0][1]
        form = RegisterPatientForm(
            initial={
                "registration_date": next((day for day, found in precheck if not found), timezone.localdate())
            }
        )
    return render(
        request,
        "enrollment/patient_register.html",
        {
            "form": form,
            "patient": patient,
            "problems": problems,
            "precheck": precheck if request.method == "GET" else [],
        },
    )


def casebook(request: HttpRequest, pk: int) -> HttpResponse:
    """The patient's casebook: the panels, then every form's rows by section.

    The form tables and the ``cached`` panels depend on the study data, the language, the day and the reader's
    permissions only: they are rendered once per data generation (``sabr_trial.generation``) and read from the
    shared cache (issue 20: about 95 ms of Python per view). Their forms carry a placeholder that each view
    replaces with the reader's CSRF token.
    """
    patient = get_patient_for_user(request.user, pk)
    lock = sabr_services.casebook_lock(patient)
    can_enter = has_perm(request.user, Perm.ENTER) and not lock
    perms = "".join("1" if has_perm(request.user, p) else "0" for p in CASEBOOK_PERMS)
    key = f"casebook:{patient.pk}:{get_language()}:{timezone.localdate().isoformat()}:{perms}"
    fragments = data_generation.patient_fragment(
        patient.pk, key, lambda: _casebook_fragments(request, patient, can_enter=can_enter)
    )
    token = get_token(request)

    def with_token(html: str) -> str:
        return mark_safe(html.replace(fragments["csrf"], token))

    panels = []
    for panel in registry.panels:
        if panel.cached:
            panels.append(with_token(fragments["panels"].get(panel.template, "")))
            continue
        ctx = panel.context(request, patient)
        if ctx is not None:
            panels.append(render_to_string(panel.template, {"ctx": ctx}, request=request))
    return render(
        request,
        "enrollment/casebook.html",
        {
            "patient": patient,
            "panels": panels,
            "sections_html": with_token(fragments["sections"]),
            "can_enter": can_enter,
            "lock": lock,
        },
    )


#: The permissions the casebook's cached parts check (its key names which of them the reader holds).
CASEBOOK_PERMS = (Perm.VIEW, Perm.ENTER, Perm.RAISE_QUERY, Perm.VERIFY, Perm.SIGN, Perm.LOCK)


def _casebook_fragments(request: HttpRequest, patient: Any, *, can_enter: bool) -> dict[str, Any]:
    """Render the casebook's form tables and its ``cached`` panels without the request: no messages, nothing of
    the session, and in place of the CSRF token a random placeholder (kept with the fragments) that each view
    replaces with its own token."""
    placeholder = secrets.token_hex(16)
    sections: dict[str, list[dict[str, object]]] = {}
    for spec, rows in crfs_of_patient(request.user, patient):
        sections.setdefault(str(spec.section), []).append({"spec": spec, "rows": rows})
    out: dict[str, Any] = {
        "csrf": placeholder,
        "sections": render_to_string(
            "enrollment/_casebook_sections.html",
            {"patient": patient, "sections": sections, "can_enter": can_enter, "csrf_token": placeholder},
        ),
        "panels": {},
    }
    for panel in registry.panels:
        if panel.cached:
            ctx = panel.context(request, patient)
            out["panels"][panel.template] = (
                ""
                if ctx is None
                else render_to_string(panel.template, {"ctx": ctx, "csrf_token": placeholder})
            )
    return out


# --- custom CRF pages (CrfSpec.views): the eligibility grid and the baseline's derived IMDC ---------------------


def _eligibility_context(
    spec: CrfSpec, patient: Any, form: Any, instance: Any, **extra: Any
) -> dict[str, Any]:
    return {"spec": spec, "patient": patient, "form": form, "instance": instance, **extra}


def _eligibility_save(
    *,
    spec: CrfSpec,
    patient: Any,
    instance: Any,
    data: dict[str, Any],
    m2m: dict[str, Any],
    reason: str,
    expected_version: int,
    submit: bool,
    acting_user: Any,
) -> tuple[Any, int]:
    """The checklist and one answer row per criterion (enrollment.services)."""
    if instance is None:
        row = services.eligibility_create(
            patient=patient,
            data=data,
            acting_user=acting_user,
            status=CrfStatus.SUBMITTED if submit else CrfStatus.DRAFT,
        )
        return row, 1
    row, changes = services.eligibility_update(
        instance=instance,
        expected_version=expected_version,
        data=data,
        reason=reason,
        acting_user=acting_user,
    )
    return row, len(changes)


def _eligibility_form(data: Any, row: Any) -> Any:
    return EligibilityForm(data, instance=row)


def eligibility_create(request: HttpRequest, *, patient_pk: int, spec: CrfSpec) -> HttpResponse:
    """Show every criterion with its Yes/No; save the checklist and one answer row per criterion."""
    patient = get_patient_for_user(request.user, patient_pk)
    existing = Eligibility.objects.filter(patient=patient).first()
    if existing is not None:
        return redirect(existing.get_absolute_url())
    return crf_form_page(
        request,
        spec=spec,
        patient=patient,
        form_factory=_eligibility_form,
        save=_eligibility_save,
        template="enrollment/eligibility_form.html",
    )


def eligibility_update(request: HttpRequest, *, spec: CrfSpec, instance: Any) -> HttpResponse:
    return crf_form_page(
        request,
        spec=spec,
        patient=instance.patient,
        instance=instance,
        form_factory=_eligibility_form,
        save=_eligibility_save,
        template="enrollment/eligibility_form.html",
    )


def eligibility_detail(
    request: HttpRequest, *, spec: CrfSpec, instance: Any, confirm_form: EligibilityConfirmForm | None = None
) -> HttpResponse:
    context = crf_detail_context(request, spec, instance)
    answers = parse_answers(instance.answers_summary)
    context["criteria_rows"] = [
        {
            "criterion": c,
            "answer": {"Y": _("Yes"), "N": _("No")}.get(answers.get(c.id, ""), "—"),
            "qualifies": answers.get(c.id) == c.qualifying_answer,
            "answered": answers.get(c.id) in ("Y", "N"),
        }
        for c in criteria.criteria_for(instance.criteria_version or criteria.CURRENT_VERSION)
    ]
    context["can_confirm"] = (
        holds_investigator_role(request.user)
        and has_perm(request.user, Perm.ENTER)
        and not instance.confirmed_by_id
        and not (instance.status == CrfStatus.LOCKED or sabr_services.casebook_lock(instance.patient))
    )
    context["confirm_form"] = confirm_form or EligibilityConfirmForm(
        initial={"expected_version": instance.version}
    )
    entered = services.confirmation_entered_at(instance)
    context["entered_late"] = (
        entered if entered and services.is_entered_late(instance.confirmed_at, entered) else None
    )
    return render(request, "enrollment/eligibility_detail.html", context)


@require_POST
def eligibility_confirm(request: HttpRequest, patient_pk: int, pk: int) -> HttpResponse:
    """An investigator confirms the checklist as it stands (EC-EL-1)."""
    spec, instance = get_crf_for_user(request.user, patient_pk=patient_pk, slug="eligibility", pk=pk)
    form = EligibilityConfirmForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError(
                form.errors.get("confirmed_at") or _("Enter the date and time of the confirmation.")
            )
        services.eligibility_confirm(
            instance=instance,
            expected_version=form.cleaned_data["expected_version"],
            acting_user=request.user,
            confirmed_at=form.cleaned_data["confirmed_at"] or None,
        )
    except (sabr_services.StaleVersion, sabr_services.CrfLocked) as exc:
        messages.error(request, str(exc))
    except ValidationError as exc:
        form = EligibilityConfirmForm(request.POST)
        form.is_valid()
        by_field = exc.message_dict if hasattr(exc, "error_dict") else {"confirmed_at": exc.messages}
        for field, errors in by_field.items():
            for message in errors:
                if field in ("confirmed_at", "confirmed_by", "__all__") and "confirmed_at" in form.fields:
                    if message not in form.errors.get("confirmed_at", []):
                        form.add_error("confirmed_at", message)
                else:
                    messages.error(request, message)
        response = eligibility_detail(request, spec=spec, instance=instance, confirm_form=form)
        response.status_code = 422
        return response
    else:
        messages.success(request, _("Eligibility confirmed."))
    return redirect(instance.get_absolute_url())


def baseline_detail(request: HttpRequest, *, spec: CrfSpec, instance: Any) -> HttpResponse:
    """The generic page plus the derived values: age, IMDC flags, score and group, provisional or final."""
    context = crf_detail_context(request, spec, instance)
    live = copy.copy(instance)
    try:
        derive_imdc(live)
    except Exception:
        live = instance
    provisional = live.imdc_provisional
    group = live.get_imdc_group_display() if live.imdc_group else "—"
    state = _("provisional: no axitinib or toripalimab dose yet (EC-BL-4)") if provisional else _("final")
    derived = [
        ("age_at_consent", instance.age_at_consent or "—"),
        ("kps_below_80", live.get_kps_below_80_display() or "—"),  # blank: KPS coded missing
        ("dx_to_systemic_lt_1y", live.get_dx_to_systemic_lt_1y_display()),
        ("imdc_score", "—" if live.imdc_score is None else live.imdc_score),
        ("imdc_group", f"{group} ({state})"),
    ]
    rows = [r for r in context["field_rows"] if r["name"] not in {name for name, _v in derived}]
    context["field_rows"] = rows + [
        {"name": name, "label": Baseline._meta.get_field(name).verbose_name, "value": value, "queries": []}
        for name, value in derived
    ]
    return render(request, "crf/crf_detail.html", context)
