"""The treatment app's automatic edit checks (registered in ``sabr_trial.editchecks`` when this app is ready)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy, gettext_noop

from ruletext import say
from sabr_trial.editchecks import Finding, from_warnings, patient_rows, rule, submitted
from treatment import rules as tx
from treatment.models import (
    AxitinibPeriod,
    Immunosuppressant,
    SabrCourse,
    SabrFraction,
    SubsequentTherapy,
    ToripalimabInfusion,
)


@rule("DM-1", gettext_lazy("Axitinib dosing recorded for a patient who is not registered"))
def axitinib_without_registration(patient: Any) -> list[Finding]:
    rows = submitted(
        patient_rows(
            "DM-1",
            patient,
            lambda ids: AxitinibPeriod.objects.filter(patient_id__in=ids).order_by("start_date"),
        )
    )
    out = []
    for row in rows:
        if not patient.registration_date:
            out.append(
                Finding(
                    "DM-1",
                    row,
                    "start_date",
                    say(
                        gettext_noop(
                            "Axitinib dosing from %(d)s is recorded but the patient is not registered: register the patient or "
                            "correct the form (DM-1)."
                        ),
                        d=row.start_date,
                    ),
                )
            )
        elif row.start_date < patient.registration_date:
            out.append(
                Finding(
                    "DM-1",
                    row,
                    "start_date",
                    say(
                        gettext_noop("Axitinib dosing starts %(d)s, before registration on %(r)s (DM-1)."),
                        d=row.start_date,
                        r=patient.registration_date,
                    ),
                )
            )
    return out


@rule(
    "SOFT-TX",
    gettext_lazy(
        "Soft checks of the treatment forms (EC-AX-3/4, EC-TO-3, EC-CM-2, EC-SU-3, EC-FX-2, EC-SB-3)"
    ),
    reports=("EC-AX-3", "EC-AX-4", "EC-TO-3", "EC-CM-2", "EC-SU-3", "EC-FX-1", "EC-FX-2", "EC-SB-3"),
)
def treatment_soft_checks(patient: Any) -> list[Finding]:
    pairs: list[tuple[Any, Any]] = [
        (AxitinibPeriod, tx.axitinib_warnings),
        (ToripalimabInfusion, tx.infusion_warnings),
        (Immunosuppressant, tx.immunosuppressant_warnings),
        (SubsequentTherapy, tx.subsequent_therapy_warnings),
        (SabrFraction, tx.fraction_warnings),
        (SabrCourse, tx.course_own_warnings),  # its fractions' flags are raised on the fractions
    ]
    out: list[Finding] = []
    related = {SabrFraction: ("target__course", "target__lesion")}  # what the warnings read of each row
    for model, func in pairs:
        rows = patient_rows(
            f"SOFT-TX:{model._meta.label}",
            patient,
            lambda ids, model=model: model.objects.filter(patient_id__in=ids).select_related(
                "patient", *related.get(model, model.str_related)
            ),
        )
        out.extend(from_warnings(rows, func, "SOFT-TX"))
    return out
