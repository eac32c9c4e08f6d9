"""Reads of the assessment data: the grid's previous values, the patient's response summary, dates."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.urls import reverse
from django.utils.translation import gettext as _

from assessments import adapters, recist
from assessments.models import Lesion, LesionResult, TumourAssessment
from sabr_trial.patient_dates import PatientDate
from sabr_trial.services import casebook_lock
from treatment import selectors as treatment_selectors


def treatment_start(patient: Any) -> datetime.date | None:
    """D1 treatment start (``treatment.selectors.treatment_start``).

    Placeholder while no treatment is recorded: the day after the baseline scan.
    """
    return treatment_start_info(patient)[0]


def treatment_start_info(patient: Any) -> tuple[datetime.date | None, bool]:
    """Return (treatment start, whether it is the baseline + 1 day placeholder)."""
    start = treatment_selectors.treatment_start(patient)
    if start:
        return start, False
    from assessments.rules import baseline_date

    base = baseline_date(patient)
    return (base + datetime.timedelta(days=1) if base else None), True


def lesion_value_used(row: LesionResult) -> Decimal | None:
    """The millimetres recist counts for a target row (5 mm too small, 0 mm disappeared, R1.10); None otherwise."""
    if row.lesion.role != Lesion.Role.TARGET:
        return row.value_mm
    try:
        return recist.lesion_value_mm(
            adapters.to_lesion(row.lesion, irradiated=False), adapters.to_result(row)
        )
    except recist.RecistError:
        return None


def lesions_of(patient: Any) -> Any:
    return Lesion.objects.filter(patient=patient).exclude(role="NEW").order_by("id")


def grid_history(patient: Any, before: TumourAssessment | None) -> dict[int, dict[str, Any]]:
    """Per lesion id: earlier values (baseline first) and its nadir, for the assessment grid."""
    lesions = list(lesions_of(patient))
    earlier = TumourAssessment.objects.filter(patient=patient, imaging_done="Y")
    if before is not None and before.assessment_date:
        earlier = earlier.filter(scan_date_first__lt=before.assessment_date)
    earlier = sorted(earlier, key=lambda a: (a.assessment_date, a.pk))
    rows = {
        (r.assessment_id, r.lesion_id): r
        for r in LesionResult.objects.filter(assessment__in=earlier).select_related("lesion")
    }
    out: dict[int, dict[str, Any]] = {}
    for lesion in lesions:
        values: list[tuple[str, str]] = [(str(lesion.baseline_date), _mm(lesion.baseline_value_mm))]
        nadir = lesion.baseline_value_mm
        for a in earlier:
            r = rows.get((a.pk, lesion.pk))
            if r is None:
                continue
            if lesion.role == Lesion.Role.TARGET:
                used = r.value_used_mm if r.value_used_mm is not None else lesion_value_used(r)
                label = (
                    _mm(used)
                    if r.result_status == LesionResult.Status.MEASURED
                    else r.get_result_status_display()
                )
                if used is not None and (nadir is None or used < nadir):
                    nadir = used
            else:
                label = r.get_nontarget_state_display()
            values.append((str(a.assessment_date), label))
        out[lesion.pk] = {
            "previous": values,
            "nadir": _mm(nadir) if lesion.role == Lesion.Role.TARGET else "",
        }
    return out


def _mm(value: Decimal | None) -> str:
    return (
        "—"
        if value is None
        else f"{value.normalize():f} mm"
        if value == value.to_integral()
        else f"{value} mm"
    )


def response_summary(patient: Any, *, can_enter: bool = True) -> dict[str, Any] | None:
    """The casebook panel: time points, BOR (unconfirmed, confirmed), first PD, local control, iRECIST."""
    from assessments.services import first_fraction_dates, patient_series

    if not Lesion.objects.filter(patient=patient).exists():
        return None
    s = patient_series(patient)
    locked = not can_enter or bool(casebook_lock(patient))
    assessments: list[TumourAssessment] = s["assessments"]
    start, placeholder = treatment_start_info(patient)
    ctx: dict[str, Any] = {
        "lesions": s["lesions"],
        "timeline": assessments,
        "treatment_start": start,
        "placeholder_start": placeholder,
        "first_pd": next((a for a in assessments if a.overall_resp == "PD"), None),
        # no create buttons for a role that cannot enter data, nor on a locked casebook (issue 19)
        "new_url": None if locked else reverse("crf_create", args=[patient.pk, "tumour-assessment"]),
        "lesion_url": None if locked else reverse("crf_create", args=[patient.pk, "lesion"]),
    }
    if not assessments or start is None:
        return ctx
    try:
        series = recist.evaluate_series(s["pure_lesions"], s["pure_assessments"])
        responses = series.responses()
        nt_only = series.nontarget_only
        ctx["bor"] = recist.best_overall_response(
            responses, treatment_start=start, confirm=False, nontarget_only=nt_only
        )
        ctx["cbor"] = recist.best_overall_response(
            responses, treatment_start=start, confirm=True, nontarget_only=nt_only
        )
        irecist = recist.irecist_series(s["pure_lesions"], s["pure_assessments"])
        ctx["ibor"] = recist.irecist_best_overall_response(irecist, treatment_start=start)
        ffd = first_fraction_dates(s["lesions"])
        ctx["local_control"] = recist.local_control(
            s["pure_lesions"], s["pure_assessments"], first_fraction_dates=ffd
        )
    except recist.RecistError as exc:
        ctx["error"] = exc.msg  # a message id: the panel renders it with |ruletext
    return ctx


def patient_dates(patient: Any) -> Iterable[PatientDate]:
    """Every dated fact of the assessment CRFs (for death / end-of-study checks)."""
    for lesion in Lesion.objects.filter(patient=patient):
        yield PatientDate(
            form=_("Lesion %(code)s") % {"code": lesion.lesion_code},
            field=str(Lesion._meta.get_field("baseline_date").verbose_name),
            date=lesion.baseline_date,
            url=lesion.get_absolute_url(),
        )
    for a in TumourAssessment.objects.filter(patient=patient).prefetch_related("new_lesions"):
        title = _("Tumour assessment %(label)s") % {"label": a.visit_label_text}
        for name in ("scan_date_first", "scan_date_last", "visit_date"):
            when = getattr(a, name)
            if when:
                field = str(TumourAssessment._meta.get_field(name).verbose_name)
                yield PatientDate(form=title, field=field, date=when, url=a.get_absolute_url())
        for new in a.new_lesions.all():
            yield PatientDate(
                form=title,
                field=_("New lesion %(code)s first seen") % {"code": new.code},
                date=new.first_seen_date,
                url=a.get_absolute_url(),
            )


def pd_dates(patient: Any) -> list[datetime.date]:
    """The dates of the patient's time points with overall response PD (EC-SU-3 asks, through patient_facts)."""
    rows = TumourAssessment.objects.filter(patient=patient, overall_resp="PD").values_list(
        "scan_date_first", "visit_date"
    )
    return sorted(first or visit for first, visit in rows if first or visit)
