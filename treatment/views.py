"""Treatment CRF pages: the generic create page with initial values from the query string, a detail page
that shows the derived values and the soft-check warnings, the SABR fraction-day grid and the exposure panel."""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from enrollment.selectors import get_patient_for_user
from sabr_trial import services
from sabr_trial.crf import CrfBase, CrfSpec, CrfStatus
from sabr_trial.roles import Perm, has_perm
from sabr_trial.templatetags.ruletext import text as ruletext_text
from sabr_trial.views import crf_detail_context, crf_form_page, next_form_url
from treatment import rules, selectors
from treatment.models import (
    AxitinibPeriod,
    Immunosuppressant,
    SabrCourse,
    SabrFraction,
    SabrTarget,
    SubsequentTherapy,
    ToripalimabInfusion,
    YesNo,
)

#: Query-string keys a create page accepts as initial values (e.g. ?course=3 from the course page).
INITIAL_KEYS = ("course", "target", "fraction_number", "cycle_number")


def crf_create(request: HttpRequest, *, patient_pk: int, spec: CrfSpec) -> HttpResponse:
    """The one CRF save page (sabr_trial.views.crf_form_page) plus initial values from the query string."""
    patient = get_patient_for_user(request.user, patient_pk)
    initial = {k: request.GET[k] for k in INITIAL_KEYS if request.GET.get(k)}
    assert spec.form_class is not None
    form_class = spec.form_class

    def form_factory(data: Any, row: CrfBase) -> Any:
        return form_class(data, instance=row, patient=patient, initial=initial)

    return crf_form_page(
        request, spec=spec, patient=patient, form_factory=form_factory, warnings=warnings_for
    )


def warnings_for(instance: CrfBase) -> list[str]:
    """The soft checks (saved, shown as warnings) of one treatment row."""
    if isinstance(instance, SabrCourse):
        return rules.course_warnings(instance)
    if isinstance(instance, SabrFraction):
        return rules.fraction_warnings(instance)
    if isinstance(instance, SabrTarget):
        return [w for f in instance.fractions.all() for w in rules.fraction_warnings(f)]
    if isinstance(instance, AxitinibPeriod):
        return rules.axitinib_warnings(instance)
    if isinstance(instance, ToripalimabInfusion):
        return rules.infusion_warnings(instance)
    if isinstance(instance, Immunosuppressant):
        return rules.immunosuppressant_warnings(instance)
    if isinstance(instance, SubsequentTherapy):
        return rules.subsequent_therapy_warnings(instance)
    return []


def _derived(instance: CrfBase) -> list[tuple[str, str]]:
    """Read-only derived values of a row, as (label, value) with the α/β in every BED/EQD2 label (R3.2)."""
    rows: list[tuple[str, str]] = []

    def add(label: str, value: Any) -> None:
        rows.append((label, "—" if value in (None, "") else str(value)))

    if isinstance(instance, SabrCourse):
        add(_("Course"), instance.course_number)
        add(_("First delivered fraction (course start)"), instance.start_date)
        add(_("Last delivered fraction (completion)"), instance.completion_date)
    elif isinstance(instance, SabrTarget):
        ab = f"{instance.alpha_beta_gy.normalize():f}"
        add(_("Dose per fraction (Gy)"), instance.dose_per_fraction_gy)
        add(_("BED10 (α/β 10 Gy)"), instance.bed10_display)
        add(_("EQD2 (α/β 10 Gy)"), instance.eqd2_10_display)
        add(_("BED3 (α/β 3 Gy)"), instance.bed3_display)
        add(_("EQD2 (α/β 3 Gy)"), instance.eqd2_3_display)
        add(_("BED (α/β %(ab)s Gy, chosen)") % {"ab": ab}, selectors.round_gy(instance.bed_gy))
        add(_("EQD2 (α/β %(ab)s Gy, chosen)") % {"ab": ab}, selectors.round_gy(instance.eqd2_gy))
        add(_("BED10 as delivered (α/β 10 Gy)"), instance.bed10_delivered_display)
        add(_("Lesion SABR start"), instance.first_fraction_date)
        add(_("Lesion SABR end"), instance.last_fraction_date)
    elif isinstance(instance, ToripalimabInfusion):
        add(_("Planned date (previous given + 21 days)"), instance.planned_date)
    elif isinstance(instance, Immunosuppressant):
        add(_("Prednisone-equivalent dose per day (mg)"), instance.pred_equiv_mg_day)
    elif isinstance(instance, SubsequentTherapy):
        add(_("Counts as PFS2 event (D2)"), instance.get_pfs2_event_display())
    return rows


def crf_detail(request: HttpRequest, *, spec: CrfSpec, instance: CrfBase) -> HttpResponse:
    context = crf_detail_context(request, spec, instance)
    context["derived"] = _derived(instance)
    context["warnings"] = warnings_for(instance)
    context["can_enter"] = context["can_edit"]
    if isinstance(instance, SabrCourse):
        context["course_targets"] = course_table(instance)
    context["parent_links"] = [
        (str(_("SABR %(c)s") % {"c": parent}), parent.get_absolute_url())
        for parent in (getattr(instance, "target", None), getattr(instance, "course", None))
        if isinstance(parent, SabrTarget | SabrCourse)
    ]
    if isinstance(instance, SabrFraction):
        context["parent_links"].append(
            (str(_("SABR %(c)s") % {"c": instance.target.course}), instance.target.course.get_absolute_url())
        )
    if isinstance(instance, SabrTarget):
        context["target_fractions"] = list(instance.fractions.order_by("fraction_number"))
    return render(request, "treatment/crf_detail.html", context)


def course_table(course: SabrCourse) -> list[dict[str, Any]]:
    """Planned vs delivered per target of a course, with BED/EQD2 and their α/β."""
    out = []
    for target in course.targets.order_by("pk").prefetch_related("fractions"):
        fractions = list(target.fractions.all())
        delivered = [f for f in fractions if f.delivered == YesNo.Y]
        out.append(
            {
                "target": target,
                "planned": target.n_fractions,
                "delivered": len(delivered),
                "not_delivered": len(fractions) - len(delivered),
                "complete": len(delivered) >= target.n_fractions,
                "next_fraction": max([f.fraction_number for f in fractions], default=0) + 1,
            }
        )
    return out


def exposure_panel(request: HttpRequest, patient: Any) -> dict[str, Any] | None:
    if not patient.is_registered:
        return None
    summary = selectors.exposure(patient)
    return {"exposure": summary, "patient": patient}


def fraction_day(request: HttpRequest, patient_pk: int, course_pk: int) -> HttpResponse:
    """Record one treatment day of a course: a fraction per target in one submission (EC-FX-1..3)."""
    patient = get_patient_for_user(request.user, patient_pk)
    if not has_perm(request.user, Perm.ENTER):
        raise PermissionDenied
    course = get_object_or_404(SabrCourse, pk=course_pk, patient=patient)
    table = course_table(course)
    errors: dict[int, list[str]] = {}
    posted: dict[int, dict[str, str]] = {}
    day = request.POST.get("fraction_date", "") if request.method == "POST" else ""
    if request.method == "POST":
        try:
            fraction_date = datetime.date.fromisoformat(day)
        except ValueError:
            fraction_date = None
            messages.error(request, _("Enter the date of the fractions (YYYY-MM-DD)."))
        status = CrfStatus.SUBMITTED if request.POST.get("action") == "submit" else CrfStatus.DRAFT
        chosen = [row for row in table if request.POST.get(f"t{row['target'].pk}-record")]
        for row in table:
            pk = row["target"].pk
            posted[pk] = {
                k: request.POST.get(f"t{pk}-{k}", "") for k in ("record", "delivered", "dose", "reason")
            }
        if fraction_date and not chosen:
            messages.error(request, _("Tick at least one target."))
        if fraction_date and chosen:
            saved: Any = None
            try:
                with transaction.atomic():
                    for row in chosen:
                        target = row["target"]
                        data = posted[target.pk]
                        delivered = YesNo.N if data["delivered"] == "N" else YesNo.Y
                        try:
                            dose = services_decimal(data["dose"]) if delivered == YesNo.Y else None
                        except ValueError:
                            errors[target.pk] = [_("Enter the delivered dose in Gy.")]
                            continue
                        try:
                            saved = services.crf_create(
                                model=SabrFraction,
                                patient=patient,
                                acting_user=request.user,
                                status=status,
                                data={
                                    "target": target,
                                    "fraction_number": row["next_fraction"],
                                    "fraction_date": fraction_date,
                                    "delivered": delivered,
                                    "dose_delivered_gy": dose,
                                    "not_delivered_reason": data["reason"] if delivered == YesNo.N else "",
                                },
                            )
                        except ValidationError as exc:
                            errors[target.pk] = [m for ms in exc.message_dict.values() for m in ms]
                    if errors:
                        raise ValidationError("rollback")
            except ValidationError:
                messages.error(request, _("Nothing was saved: correct the targets marked below."))
            else:
                messages.success(request, _("%(n)s fraction(s) recorded.") % {"n": len(chosen)})
                for warning in rules.course_warnings(course):
                    messages.warning(request, ruletext_text(warning))
                if request.GET.get("next") == "continue":  # the next treatment day, or the visit's next form
                    return redirect(next_form_url(patient, "sabr-fraction", saved))
                return redirect(course.get_absolute_url())
    rows = []
    for row in table:
        pk = row["target"].pk
        rows.append({**row, "errors": errors.get(pk, []), "posted": posted.get(pk, {})})
    return render(
        request,
        "treatment/fraction_day.html",
        {
            "patient": patient,
            "course": course,
            "rows": rows,
            "day": day,
            "reasons": SabrFraction.NotDeliveredReason.choices,
        },
    )


def services_decimal(value: str) -> Any:
    from decimal import Decimal, InvalidOperation

    try:
        number = Decimal(value.strip())
    except (InvalidOperation, AttributeError):
        raise ValueError(value) from None
    if not number.is_finite():
        raise ValueError(value)
    return number
