"""Custom pages of the tumour assessment CRF: one grid row per registered lesion plus the new lesions."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from assessments import grid_merge, selectors
from assessments.forms import LesionRowForm, NewLesionForm, NewLesionFormSet, TumourAssessmentForm
from assessments.models import Lesion, NewLesion, TumourAssessment
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
            "result_status": r.result_status,
            "value_mm": r.value_mm,
            "split_merge": r.split_merge,
            "merged_into": r.merged_into_id,
            "nontarget_state": r.nontarget_state,
            "further_increase": r.further_increase,
            "infield_progression": r.infield_progression,
            "lf_confirmation": r.lf_confirmation,
        }
        for r in instance.results.all()
    }


def _forms(
    request: HttpRequest, patient: Any, instance: TumourAssessment | None, data: Any = None
) -> tuple[Any, list[Any], Any]:
    if data is None:
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


def _page(
    request: HttpRequest,
    spec: CrfSpec,
    patient: Any,
    instance: Any,
    header: Any,
    rows: Any,
    formset: Any,
    status: int = 200,
    merge: dict[str, Any] | None = None,
    stale_message: str = "",
) -> HttpResponse:
    history = selectors.grid_history(patient, instance)
    marked: dict[int, set[str]] = {}
    for conflict in (merge or {}).get("conflicts", []):
        if conflict.name[:1] == "l" and "-" in conflict.name:
            prefix, cell = conflict.name.split("-", 1)
            marked.setdefault(int(prefix[1:]), set()).add(cell)
    for row in rows:
        row.conflicts = marked.get(row.lesion.pk, set())  # cells both people changed: marked in the grid
    grid = [(row, history.get(row.lesion.pk, {})) for row in rows]
    ctx = {
        "spec": spec,
        "patient": patient,
        "instance": instance,
        "form": header,
        "grid": grid,
        "formset": formset,
        "has_lesions": bool(rows),
        "merge": merge,
        "stale_message": stale_message,
    }
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


def _mine(header: Any, rows: list[Any], formset: Any, imaging: bool) -> grid_merge.Grid:
    """The user's grid as entered: the header, a row per lesion, the new lesions by code (an unsaved one by
    its place, ``+<n>``)."""
    grid = grid_merge.Grid(header=header.crf_data(), entered=imaging)
    if not imaging:
        return grid
    grid.rows = {row.lesion.pk: {k: v for k, v in row.row_data().items() if k != "lesion"} for row in rows}
    for index, form in enumerate(formset.forms):
        data = form.cleaned_data
        saved = form.instance.pk is not None
        # A saved row is kept even when untouched (it would otherwise be removed); an empty extra row is no row.
        if not data or data.get("DELETE") or not (saved or form.has_changed()):
            continue
        values = {name: data.get(name) for name in grid_merge.NEW_FIELDS}
        key = values.get("code") or (form.instance.code if saved else "") or f"{grid_merge.UNSAVED}{index}"
        grid.new[key] = values
    return grid


def _write(
    request: HttpRequest,
    patient: Any,
    instance: TumourAssessment | None,
    grid: grid_merge.Grid,
    *,
    reason: str,
    expected: int,
) -> tuple[TumourAssessment, bool]:
    lesions = {lesion.pk: lesion for lesion in selectors.lesions_of(patient)}
    imaging = grid.header.get("imaging_done") == "Y"
    rows = [{"lesion": lesions[pk], **values} for pk, values in grid.rows.items() if pk in lesions]
    new = [
        {**values, "code": "" if key.startswith(grid_merge.UNSAVED) else values.get("code") or key}
        for key, values in grid.new.items()
    ]
    return save_assessment(
        patient=patient,
        instance=instance,
        data=grid.header,
        rows=rows if imaging else [],
        new_lesions=new if imaging else [],
        acting_user=request.user,
        reason=reason,
        expected_version=expected,
        submit=request.POST.get("action") == "submit",
    )


def _raw(form_field: Any, value: Any) -> str:
    """A value as the form's widget posts it."""
    formatted = form_field.widget.format_value(form_field.prepare_value(value))
    if isinstance(formatted, list):  # a select gives its chosen values as a list (one here)
        formatted = formatted[0] if formatted else ""
    return "" if formatted is None else str(formatted)


def _conflict_page(
    request: HttpRequest,
    spec: CrfSpec,
    patient: Any,
    current: TumourAssessment,
    base_version: int,
    result: grid_merge.GridMerge,
    conflicts: list[Any],
    stale_message: str = "",
) -> HttpResponse:
    """The grid again (409): cells only the other person changed show their value, conflicting cells are marked
    with both values and a choice is asked; the hidden version moves to the current one, the merge base stays."""
    posted = request.POST.copy()
    posted["expected_version"] = str(current.version)
    posted["merge_base"] = str(base_version)
    header_fields = TumourAssessmentForm(instance=current).fields
    for name in result.taken:
        if name in header_fields:
            posted[name] = _raw(header_fields[name], result.values.header.get(name))
        elif name[:1] == "l" and "-" in name:
            prefix, cell = name.split("-", 1)
            value = result.values.rows.get(int(prefix[1:]), {}).get(cell)
            posted[name] = _raw(LesionRowForm.base_fields[cell], value)
    # The new lesions as merged: the rows saved now first (with their ids), then the others.
    for key in [k for k in posted if k.startswith("new-")]:
        del posted[key]
    saved = {n.code: n.pk for n in current.new_lesions.all()}
    merged = sorted(result.values.new.items(), key=lambda item: item[0] not in saved)
    for index, (key, values) in enumerate(merged):
        posted[f"new-{index}-id"] = str(saved.get(key, ""))
        for name in grid_merge.NEW_FIELDS:
            value = "" if name == "code" and key.startswith(grid_merge.UNSAVED) else values.get(name)
            posted[f"new-{index}-{name}"] = _raw(NewLesionForm.base_fields[name], value)
    blank = NewLesionForm(instance=NewLesion())  # one empty row to add a lesion, posted as the page sends it
    for name in grid_merge.NEW_FIELDS:
        posted[f"new-{len(merged)}-{name}"] = _raw(blank.fields[name], blank[name].value())
    posted["new-TOTAL_FORMS"] = str(len(merged) + 1)
    posted["new-INITIAL_FORMS"] = str(sum(1 for key, _v in merged if key in saved))
    posted["new-MIN_NUM_FORMS"], posted["new-MAX_NUM_FORMS"] = "0", "1000"
    header, rows, formset = _forms(request, patient, current, data=posted)
    header.is_valid()
    for row in rows:
        row.is_valid()
    formset.is_valid()
    who = current.updated_by.get_username() if current.updated_by else "?"
    by_lesion = {row.lesion.pk: row for row in rows}
    by_code = {(f.data.get(f"{f.prefix}-code") or ""): f for f in formset.forms}
    for conflict in conflicts:
        text = _(
            "%(user)s changed this to “%(theirs)s” (it was “%(base)s”) while you entered “%(mine)s”: choose "
            "which value to keep."
        ) % {"user": who, "theirs": conflict.theirs, "base": conflict.base, "mine": conflict.mine}
        if conflict.name in header.fields:
            header.add_error(conflict.name, text)
        elif conflict.name.startswith("new:"):
            parts = conflict.name.split(":")
            form = by_code.get(parts[1])
            if form is not None and len(parts) == 3 and parts[2] in form.fields:
                form.add_error(parts[2], text)
        else:
            prefix, cell = conflict.name.split("-", 1)
            row = by_lesion.get(int(prefix[1:]))
            if row is not None:
                row.add_error(cell, text)
    merge_ctx = {"conflicts": conflicts, "taken": result.taken_labels, "user": who, "base": base_version}
    return _page(
        request,
        spec,
        patient,
        current,
        header,
        rows,
        formset,
        status=409,
        merge=merge_ctx,
        stale_message=stale_message,
    )


def _save(
    request: HttpRequest, spec: CrfSpec, patient: Any, instance: TumourAssessment | None
) -> HttpResponse:
    if not has_perm(request.user, Perm.ENTER):
        raise PermissionDenied
    if instance is not None and (instance.status == CrfStatus.LOCKED or patient.locked_at):
        messages.error(request, _("This form is locked by data management: no change is possible."))
        return redirect(instance.get_absolute_url())
    header, rows, formset = _forms(request, patient, instance)
    if request.method != "POST":
        return _page(request, spec, patient, instance, header, rows, formset)
    imaging = request.POST.get("imaging_done") == "Y"
    header_ok = header.is_valid()
    valid_rows = [row.is_valid() for row in rows] if imaging else []  # every row validated, every error shown
    rows_ok = all(valid_rows)
    new_ok = formset.is_valid() if imaging else True
    if imaging and not rows:
        header.add_error(None, _("Register the baseline lesions before a follow-up assessment (EC-TA-1)."))
        header_ok = False
    if not (header_ok and rows_ok and new_ok):
        return _page(request, spec, patient, instance, header, rows, formset)
    mine = _mine(header, rows, formset, imaging)
    grid = mine
    reason = header.cleaned_data.get("change_reason", "")
    expected = header.cleaned_data.get("expected_version") or 0
    raw_base = request.POST.get("merge_base", "")
    base_version = int(raw_base) if instance is not None and raw_base.isdigit() else None
    merged_from: list[str] = []
    result = None
    stale_message = ""
    for _attempt in range(3):
        if base_version is not None:
            assert instance is not None
            # A stale save (or the answer to a merge): merge the user's grid into the current one, cell by cell.
            current, result = grid_merge.merge_grid(instance, base_version, mine)
            choices = {c.name: request.POST.get(f"resolve__{c.name}", "") for c in result.conflicts}
            unresolved = grid_merge.resolve(result, choices)
            if unresolved:
                return _conflict_page(
                    request, spec, patient, current, base_version, result, unresolved, stale_message
                )
            grid, instance, expected, merged_from = (
                result.values,
                current,
                current.version,
                result.taken_labels,
            )
            if grid_merge.same(
                grid, result.theirs
            ):  # the merge leaves the saved grid as it is: nothing to save
                messages.info(request, _("No value changed: nothing was saved."))
                return redirect(after_save_url(request, spec, patient, current))
        try:
            row, changed = _write(request, patient, instance, grid, reason=reason, expected=expected)
        except services.StaleVersion as exc:
            if base_version is None:
                base_version, stale_message = exc.expected_version, str(exc)
            continue
        except services.CrfLocked as exc:
            messages.error(request, str(exc))
            return redirect("casebook", patient.pk)
        except ValidationError as exc:
            apply_errors(header, exc)
            return _page(request, spec, patient, instance, header, rows, formset)
        break
    else:  # the row kept moving under this user: show the newest values instead of trying for ever
        assert instance is not None and result is not None and base_version is not None
        current = TumourAssessment.objects.get(pk=instance.pk)
        return _conflict_page(request, spec, patient, current, base_version, result, [])
    if changed:
        messages.success(
            request,
            _("Saved. Overall response %(r)s; all time points of this patient recomputed (EC-TA-3).")
            % {"r": row.overall_resp or "—"},
        )
        if merged_from:
            messages.info(
                request,
                _("Merged with a change saved meanwhile by another user; kept their value of: %(fields)s.")
                % {"fields": ", ".join(merged_from)},
            )
    else:
        messages.info(request, _("No value changed: nothing was saved."))
    warning = not_used_for_pfs(row)
    if warning:
        messages.warning(request, warning)
    return redirect(after_save_url(request, spec, patient, row))


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
