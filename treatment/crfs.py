"""The treatment CRFs (forms 10-16) as the casebook lists them, the exposure panel and the dated facts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.utils.translation import gettext_lazy as _

from sabr_trial import patient_dates, patient_facts, pipeline
from sabr_trial.crf import Branch, CasebookPanel, CrfSpec, Missing, registry
from sabr_trial.patient_dates import PatientDate
from treatment import derivations, rules, selectors, views
from treatment.forms import (
    AxitinibPeriodForm,
    ImmunosuppressantForm,
    SabrCourseForm,
    SabrFractionForm,
    SabrTargetForm,
    SubsequentTherapyForm,
    ToripalimabInfusionForm,
)
from treatment.models import (
    AxitinibPeriod,
    Immunosuppressant,
    SabrCourse,
    SabrFraction,
    SabrTarget,
    SubsequentTherapy,
    ToripalimabInfusion,
)

SECTION = _("Treatment")
VIEWS = {"create": views.crf_create, "detail": views.crf_detail}


def _no_course(patient: Any) -> str | None:
    if not SabrCourse.objects.filter(patient=patient).exists():
        return str(_("Record the SABR course first."))
    return None


def _no_target(patient: Any) -> str | None:
    if not SabrTarget.objects.filter(patient=patient).exists():
        return str(_("Record a SABR target first."))
    return None


def _registered(patient: Any) -> str | None:
    if not patient.is_registered:
        return str(_("Treatment is recorded only for a registered patient."))
    return None


SPECS = [
    ("sabr-course", SabrCourse, SabrCourseForm, _("SABR course"), 100, _registered),
    ("sabr-target", SabrTarget, SabrTargetForm, _("SABR target (per lesion)"), 110, _no_course),
    ("sabr-fraction", SabrFraction, SabrFractionForm, _("SABR fraction"), 120, _no_target),
    ("axitinib", AxitinibPeriod, AxitinibPeriodForm, _("Axitinib dosing period"), 130, _registered),
    (
        "toripalimab",
        ToripalimabInfusion,
        ToripalimabInfusionForm,
        _("Toripalimab infusion"),
        140,
        _registered,
    ),
    (
        "immunosuppressant",
        Immunosuppressant,
        ImmunosuppressantForm,
        _("Steroid / immunosuppressant"),
        150,
        None,
    ),
    (
        "subsequent-therapy",
        SubsequentTherapy,
        SubsequentTherapyForm,
        _("Subsequent anticancer therapy"),
        160,
        _registered,
    ),
]

#: Which fields apply when (issue 19 item 8): the form shows them live, every write refuses a hidden one's value.
BRANCHING = {
    "sabr-course": (
        Branch(fields=("stop_reason",), when=("completion_status", ("WITH CHANGES", "STOPPED EARLY"))),
    ),
    "sabr-target": (
        Branch(fields=("reirradiation_reason",), when=("is_reirradiation", ("Y",)), rule="EC-ST-1"),
    ),
    "sabr-fraction": (
        Branch(fields=("dose_delivered_gy",), when=("delivered", ("Y",)), rule="EC-FX-2"),
        Branch(fields=("not_delivered_reason",), when=("delivered", ("N",)), rule="EC-FX-2"),
    ),
    "axitinib": (
        Branch(fields=("other_dose_reason",), when=("other_dose_mg", (Branch.FILLED,)), rule="EC-AX-2"),
    ),
    "toripalimab": (
        Branch(
            fields=("status_reason",),
            when=("infusion_status", ("DELAYED", "OMITTED", "PERMANENTLY DISCONTINUED")),
            rule="EC-TO-4",
        ),
    ),
    "immunosuppressant": (
        Branch(fields=("drug_other",), when=("drug", ("OTHER",)), rule="EC-CM-1"),
        Branch(fields=("end_date",), when=("ongoing", ("N",)), rule="EC-CM-1"),
    ),
}

#: Which fields may be left empty with a missing-data code (issue 19 item 9; the data dictionary).
MISSING = {
    "sabr-target": (Missing(fields=("gtv_cc",), codes=("ND", "NA")),),
    "toripalimab": (Missing(fields=("lot_number",), codes=("UNK",)),),
    "immunosuppressant": (
        Missing(fields=("dose",), codes=("UNK",), feeds=_("Prednisone-equivalent dose per day")),
    ),
}

for slug, model, form, title, order, can_add in SPECS:
    registry.register(
        CrfSpec(
            slug=slug,
            model=model,
            form_class=form,
            title=title,
            section=SECTION,
            order=order,
            feeds_endpoints=True,
            views=dict(VIEWS),
            can_add=can_add,
            branching=BRANCHING.get(slug, ()),
            missing=MISSING.get(slug, ()),
        )
    )

registry.register_panel(
    CasebookPanel(
        order=30, template="treatment/exposure_panel.html", context=views.exposure_panel, cached=True
    )
)
patient_facts.register("first_systemic_dose", selectors.first_systemic_dose)


@patient_dates.register
def treatment_dates(patient: Any) -> Iterator[PatientDate]:
    """Every dated fact of the treatment forms: fraction and dose dates are kind "treatment" (EC-G2/EC-G4,
    end of treatment/study); planning CT, steroids and next-line therapy are kind "procedure"."""
    for f in SabrFraction.objects.filter(patient=patient).select_related("target__course"):
        yield PatientDate(
            form=str(_("SABR fraction %(n)s (%(c)s)") % {"n": f.fraction_number, "c": f.target.course}),
            field=str(_("Date")),
            date=f.fraction_date,
            url=f.get_absolute_url(),
            kind="treatment",
        )
    for c in SabrCourse.objects.filter(patient=patient):
        yield PatientDate(
            form=str(_("SABR %(c)s") % {"c": c}),
            field=str(_("Planning CT date")),
            date=c.simulation_date,
            url=c.get_absolute_url(),
            kind="procedure",
        )
    for p in AxitinibPeriod.objects.filter(patient=patient):
        yield PatientDate(
            form=str(_("Axitinib %(p)s") % {"p": p}),
            field=str(_("Start of period")),
            date=p.start_date,
            url=p.get_absolute_url(),
            kind="treatment",
        )
        if p.end_date:
            yield PatientDate(
                form=str(_("Axitinib %(p)s") % {"p": p}),
                field=str(_("End of period")),
                date=p.end_date,
                url=p.get_absolute_url(),
                kind="treatment",
            )
    for i in ToripalimabInfusion.objects.filter(patient=patient, infusion_date__isnull=False):
        yield PatientDate(
            form=str(_("Toripalimab infusion cycle %(n)s") % {"n": i.cycle_number}),
            field=str(_("Date of infusion")),
            date=i.infusion_date,
            url=i.get_absolute_url(),
            kind="treatment",
        )
    for s in Immunosuppressant.objects.filter(patient=patient):
        for field, value in ((_("Start"), s.start_date), (_("Stop"), s.end_date)):
            if value:
                yield PatientDate(
                    form=str(_("Immunosuppressant %(s)s") % {"s": s}),
                    field=str(field),
                    date=value,
                    url=s.get_absolute_url(),
                    kind="procedure",
                )
    for t in SubsequentTherapy.objects.filter(patient=patient):
        for field, value in ((_("Start"), t.start_date), (_("End"), t.end_date)):
            if value:
                yield PatientDate(
                    form=str(_("Subsequent therapy %(t)s") % {"t": t}),
                    field=str(field),
                    date=value,
                    url=t.get_absolute_url(),
                    kind="procedure",
                )


# --- The write pipeline's hooks (sabr_trial.pipeline) ----------------------------------------------------------
for _model, _check in (
    (SabrCourse, rules.check_course),
    (SabrTarget, rules.check_target),
    (SabrFraction, rules.check_fraction),
    (AxitinibPeriod, rules.check_axitinib_period),
    (ToripalimabInfusion, rules.check_infusion),
    (Immunosuppressant, rules.check_immunosuppressant),
    (SubsequentTherapy, rules.check_subsequent_therapy),
):
    pipeline.rules.register(_model, _check)
pipeline.derivations.register(SabrCourse, derivations.derive_course_number)
pipeline.derivations.register(SabrTarget, derivations.derive_prescription)
pipeline.derivations.register(ToripalimabInfusion, derivations.derive_planned_date)
pipeline.derivations.register(Immunosuppressant, derivations.derive_prednisone_equivalent)
pipeline.derivations.register(SubsequentTherapy, derivations.derive_pfs2_event)
# In a batch (import_study) a target and its course are re-derived once for all their fractions.
pipeline.followups.register(
    SabrFraction, derivations.refresh_target_and_course, once_per=lambda f: f.target_id
)
pipeline.followups.register(ToripalimabInfusion, derivations.refresh_later_planned_dates)
