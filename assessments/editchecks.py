"""The assessments app's automatic edit checks (registered in ``sabr_trial.editchecks`` when this app is ready)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from assessments.models import TumourAssessment
from sabr_trial.editchecks import Finding, rule, submitted


@rule("EC-TA-5", gettext_lazy("Investigator response differs from the computed RECIST response"))
def investigator_response_differs(patient: Any) -> list[Finding]:
    out = []
    for row in submitted(TumourAssessment.objects.filter(patient=patient).exclude(investigator_response="")):
        if row.overall_resp and row.investigator_response != row.overall_resp:
            out.append(Finding("EC-TA-5", row, "investigator_response", _(
                "Investigator response %(i)s differs from the computed response %(c)s (%(rule)s) (EC-TA-5).")
                % {"i": row.get_investigator_response_display(), "c": row.get_overall_resp_display(),
                   "rule": row.deciding_rule or "—"}))  # fmt: skip
    return out
