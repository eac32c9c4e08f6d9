"""The assessments app's automatic edit checks (registered in ``sabr_trial.editchecks`` when this app is ready)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy, gettext_noop

import ruletext
from assessments import recist
from assessments.models import TumourAssessment
from sabr_trial.crf import CrfStatus
from sabr_trial.editchecks import Finding, patient_rows, rule, submitted


@rule("EC-TA-5", gettext_lazy("Investigator response differs from the computed RECIST response"))
def investigator_response_differs(patient: Any) -> list[Finding]:
    out = []
    rows = patient_rows(
        "EC-TA-5",
        patient,
        lambda ids: TumourAssessment.objects.filter(patient_id__in=ids).exclude(investigator_response=""),
    )
    for row in submitted(rows):
        if row.overall_resp and row.investigator_response != row.overall_resp:
            # A message id with the stored deciding rule as a parameter (itself an id), so the query reads in
            # the reader's language; the responses are codes (CR, PR, SD, NON-CR/NON-PD, PD, NE).
            out.append(
                Finding(
                    "EC-TA-5",
                    row,
                    "investigator_response",
                    ruletext.say(
                        gettext_noop(
                            "Investigator response %(i)s differs from the computed response %(c)s (%(rule)s) (EC-TA-5)."
                        ),
                        i=row.investigator_response,
                        c=row.overall_resp,
                        rule=ruletext.revive(row.deciding_rule) or "—",
                    ),
                )
            )
    return out


@rule(
    "DM-4",
    gettext_lazy(
        "Irradiated non-target recorded as UNEQUIVOCAL PROGRESSION without the in-field progression flag (D12)"
    ),
)
def unflagged_infield_progression(patient: Any) -> list[Finding]:
    """D12: not a local failure unless the investigator sets the flag; ask whether to set it."""
    from assessments.services import first_fraction_dates, patient_series

    s = patient_series(patient)
    if not s["assessments"] or not any(lesion.irradiated_protocol for lesion in s["pure_lesions"]):
        return []
    try:
        results = recist.local_control(
            s["pure_lesions"], s["pure_assessments"], first_fraction_dates=first_fraction_dates(s["lesions"])
        )
    except recist.RecistError:
        return []  # the assessment shows its derivation error; nothing to ask about here
    codes_by_scan: dict[Any, list[str]] = {}
    for result in results:
        for step in result.steps:
            if step.flag_query:
                codes_by_scan.setdefault(step.scan_date, []).append(result.lesion_code)
    out = []
    for assessment in s["assessments"]:
        if assessment.status == CrfStatus.DRAFT:
            continue
        codes = codes_by_scan.get(assessment.scan_date_first)
        if codes:
            out.append(
                Finding(
                    "DM-4",
                    assessment,
                    "",
                    ruletext.say(
                        gettext_noop(
                            "%(codes)s: irradiated non-target recorded as UNEQUIVOCAL PROGRESSION without in-field progression. "
                            "It counts as RECIST non-target progression but not as local failure; should in-field progression "
                            "be set (D12)?"
                        ),
                        codes=", ".join(codes),
                    ),
                )
            )
    return out
