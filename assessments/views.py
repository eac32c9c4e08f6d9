"""Custom pages of the tumour assessment CRF: one grid row per registered lesion plus the new lesions."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from assessments import selectors
from assessments.forms import LesionRowForm, NewLesionFormSet, TumourAssessmentForm
from assessments.models import Lesion, TumourAssessment
from assessments.services import save_assessment
from enrollment.selectors import get_patient_for_user
from sabr_trial import services
from sabr_trial.crf import CrfSpec, CrfStatus
from sabr_trial.roles import Perm, has_perm
from sabr_trial.views import after_save_url, apply_errors, crf_detail_context
from treatment.selectors import sabr_start


def _row_initial(instance: TumourAssessment | None) -> dict[int, dict[str, Any]]:
    if instance is None:
        return {}
    return {
        r.lesion_id: {
            "result_status": r.result_status, "value_mm": r.value_mm, "split_merge": r.split_merge,
            "merged_into": r.merged_into_id, "nontarget_state": r.nontarget_state,
            "further_increase": r.further_increase, "infield_progression": r.infield_progression,
            "lf_confirmation": r.lf_confirmation,
        }
        for r in instance.results.all()
    }  # fmt: skip


def _forms(
    request: HttpRequest, patient: Any, instance: TumourAssessment | None
) -> tuple[Any, list[Any], Any]:
    data = request.POST if request.method == "POST" else None
    header = TumourAssessmentForm(data, instance=instance or TumourAssessment(patient=patient))
    lesions = selectors.lesions_of(patient)
    initial = _row_initial(instance)
    rows = [
        LesionRowForm(
            data, prefix=f"l{lesion.pk}", lesion=lesion, lesions=lesions, initial=initial.get(lesion.pk)
        )
        for lesion in lesions
    ]
    formset = NewLesionFormSet(data, instance=instance or TumourAssessment(patient=patient), prefix="new")
    return header, rows, formset


def _page(request: HttpRequest, spec: CrfSpec, patient: Any, instance: Any, header: Any, rows: Any, formset: Any,
          status: int = 200, stale: Any = None) -> HttpResponse:  # fmt: skip
    history = selectors.grid_history(patient, instance)
    grid = [(row, history.get(row.lesion.pk, {})) for row in rows]
    ctx = {
        "spec": spec, "patient": patient, "instance": instance, "form": header, "grid": grid, "formset": formset,
        "stale": stale, "has_lesions": bool(rows),
    }  # fmt: skip
    return render(request, "assessments/assessment_form.html", ctx, status=status)


def not_used_for_pfs(row: TumourAssessment) -> str:
    """Say at entry what the dashboard would flag later: an assessment on or before SABR start (the PFS origin,
    D1) is a pre-treatment time point and is not used for PFS (issue 19)."""
    start = sabr_start(row.patient)
    day = row.assessment_date
    if start is None or day is None or day > start:
        return ""
    return _(
        "This assessment (%(d)s) is on or before SABR start (%(s)s): it is not used for PFS, which starts at the "
        "first fraction (D1). Check the scan date if it was meant as a follow-up."
    ) % {"d": day, "s": start}


def _save(
    request: HttpRequest, spec: CrfSpec, patient: Any, instance: TumourAssessment | None
) -> HttpResponse:
    if not has_perm(request.user, Perm.ENTER):
        raise PermissionDenied
    if instance is not None and (instance.status == CrfStatus.LOCKED or patient.locked_at):
        messages.error(request, _("This form is locked by data management: no change is possible."))
        return redirect(instance.get_absolute_url())
    header, rows, formset = _forms(request, patient, instance)
    if request.method == "POST":
        imaging = request.POST.get("imaging_done") == "Y"
        header_ok = header.is_valid()
        valid_rows = [row.is_valid() for row in rows] if imaging else []
        rows_ok = all(valid_rows)
        new_ok = formset.is_valid() if imaging else True
        if imaging and not rows:
            header.add_error(
                None, _("Register the baseline lesions before a follow-up assessment (EC-TA-1).")
            )
            header_ok = False
        if header_ok and rows_ok and new_ok:
            new_lesions = [
                {k: v for k, v in f.cleaned_data.items() if k not in ("id", "assessment", "DELETE")}
                for f in formset.forms
                if f.has_changed() and f.cleaned_data and not f.cleaned_data.get("DELETE")
            ] if imaging else []  # fmt: skip
            try:
                row, changed = save_assessment(
                    patient=patient, instance=instance, data=header.crf_data(),
                    rows=[r.row_data() for r in rows] if imaging else [], new_lesions=new_lesions,
                    acting_user=request.user, reason=header.cleaned_data.get("change_reason", ""),
                    expected_version=header.cleaned_data.get("expected_version") or 0,
                    submit=request.POST.get("action") == "submit",
                )  # fmt: skip
            except services.StaleVersion as exc:
                return _page(
                    request, spec, patient, exc.current, header, rows, formset, status=409, stale=exc
                )
            except services.CrfLocked as exc:
                messages.error(request, str(exc))
                return redirect("casebook", patient.pk)
            except ValidationError as exc:
                apply_errors(header, exc)
            else:
                if changed:
                    messages.success(
                        request,
                        _(
                            "Saved. Overall response %(r)s; all time points of this patient recomputed (EC-TA-3)."
                        )
                        % {"r": row.overall_resp or "—"},
                    )
                else:
                    messages.info(request, _("No value changed: nothing was saved."))
                warning = not_used_for_pfs(row)
                if warning:
                    messages.warning(request, warning)
                return redirect(after_save_url(request, spec, patient, row))
    return _page(request, spec, patient, instance, header, rows, formset, status=200)


def assessment_create(request: HttpRequest, patient_pk: int, spec: CrfSpec) -> HttpResponse:
    patient = get_patient_for_user(request.user, patient_pk)
    return _save(request, spec, patient, None)


def assessment_update(request: HttpRequest, spec: CrfSpec, instance: TumourAssessment) -> HttpResponse:
    return _save(request, spec, instance.patient, instance)


def assessment_detail(request: HttpRequest, spec: CrfSpec, instance: TumourAssessment) -> HttpResponse:
    ctx = crf_detail_context(request, spec, instance)
    history = selectors.grid_history(instance.patient, instance)
    results = list(instance.results.select_related("lesion", "merged_into").order_by("lesion_id"))
    ctx.update(
        {
            "results": [(r, history.get(r.lesion_id, {})) for r in results],
            "new_lesions": list(instance.new_lesions.all()),
            "a": instance,
            "target_lesions": [r for r in results if r.lesion.role == Lesion.Role.TARGET],
        }
    )
    return render(request, "assessments/assessment_detail.html", ctx)
