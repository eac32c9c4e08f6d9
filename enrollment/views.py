"""Patient list, new patient (screening), registration, and the casebook."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from enrollment import services
from enrollment.forms import NewPatientForm, RegisterPatientForm
from enrollment.selectors import get_patient_for_user, patients_for_user
from sabr_trial.crf import registry
from sabr_trial.roles import Perm, has_perm
from sabr_trial.selectors import crfs_of_patient
from sabr_trial.views import apply_errors

PAGE_SIZE = 25


def home(request: HttpRequest) -> HttpResponse:
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
            return redirect("casebook", patient.pk)
    elif request.method == "GET":
        from django.utils import timezone

        problems = services.registration_problems(patient, timezone.localdate())
    return render(
        request, "enrollment/patient_register.html", {"form": form, "patient": patient, "problems": problems}
    )


def casebook(request: HttpRequest, pk: int) -> HttpResponse:
    patient = get_patient_for_user(request.user, pk)
    sections: dict[str, list[dict[str, object]]] = {}
    for spec, rows in crfs_of_patient(request.user, patient):
        sections.setdefault(str(spec.section), []).append({"spec": spec, "rows": rows})
    panels = []
    for panel in registry.panels:
        ctx = panel.context(request, patient)
        if ctx is not None:
            panels.append({"template": panel.template, "ctx": ctx})
    return render(
        request,
        "enrollment/casebook.html",
        {
            "patient": patient,
            "sections": sections,
            "panels": panels,
            "can_enter": has_perm(request.user, Perm.ENTER),
        },
    )
