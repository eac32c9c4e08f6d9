"""The AE app's automatic edit checks (registered in ``sabr_trial.editchecks`` when this app is ready)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy, gettext_noop

from adverse_events.models import AdverseEvent
from adverse_events.rules import ae_warnings
from enrollment.selectors import end_of_study_date
from ruletext import say
from sabr_trial.editchecks import Finding, from_warnings, patient_rows, rule, submitted


@rule("DM-3", gettext_lazy("Adverse event still ongoing after the patient went off study"))
def ae_ongoing_after_off_study(patient: Any) -> list[Finding]:
    off = end_of_study_date(patient)
    if off is None:
        return []
    out = []
    ongoing = patient_rows(
        "DM-3", patient, lambda ids: AdverseEvent.objects.filter(patient_id__in=ids, ongoing="Y")
    )
    for row in submitted(ongoing):
        out.append(
            Finding(
                "DM-3",
                row,
                "ongoing",
                say(
                    gettext_noop(
                        "This adverse event is still ongoing while the patient went off study on %(d)s: record its outcome "
                        "at the last contact (DM-3)."
                    ),
                    d=off,
                ),
            )
        )
    return out


@rule(
    "SOFT-AE",
    gettext_lazy("Soft checks of the adverse event form (EC-AE-5 collection window, EC-AE-6)"),
    reports=("EC-AE-5", "EC-AE-6"),
)
def ae_soft_checks(patient: Any) -> list[Finding]:
    return from_warnings(
        patient_rows(
            "SOFT-AE",
            patient,
            lambda ids: AdverseEvent.objects.filter(patient_id__in=ids).select_related(
                "patient", "ctcae_term"
            ),
        ),
        ae_warnings,
        "SOFT-AE",
    )
