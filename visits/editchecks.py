"""The visit schedule's automatic edit checks (registered in ``sabr_trial.editchecks`` when this app is ready).

DM-2 lives here, not in assessments: its window is the visit schedule's (``visits.schedule``, D6), which sits
above assessments in the layers.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.utils.translation import gettext_lazy, gettext_noop

from assessments.models import TumourAssessment
from ruletext import say
from sabr_trial.editchecks import Finding, patient_rows, rule, submitted
from treatment.selectors import treatment_start
from visits.schedule import DEFAULT_SETTINGS, imaging_days


def imaging_window(start: datetime.date, scan: datetime.date) -> tuple[datetime.date, int] | None:
    """Return (nominal date, deviation in days) of the D6 time point nearest ``scan``, or None for a baseline scan.

    The nominal days are the visit schedule's (``visits.schedule.imaging_days``: q8w to week 104, then q12w),
    continued q12w past the follow-up cap so a late scan still gets its nearest time point.
    """
    day = (scan - start).days
    if day <= 0:
        return None
    days = imaging_days(DEFAULT_SETTINGS)
    while days[-1] < day:
        days.append(days[-1] + DEFAULT_SETTINGS.imaging_late_interval_days)
    nominal = min(days, key=lambda c: (abs(day - c), c))
    return start + datetime.timedelta(days=nominal), day - nominal


@rule(
    "DM-2",
    gettext_lazy("Tumour assessment outside its D6 window (q8w +/- 7 d from treatment start, then q12w)"),
)
def assessment_outside_window(patient: Any) -> list[Finding]:
    start = treatment_start(patient)
    if start is None:
        return []
    window_days = DEFAULT_SETTINGS.imaging_window_days  # D6 +/- 7 d, as the visit schedule
    out = []
    rows = patient_rows("DM-2", patient, lambda ids: TumourAssessment.objects.filter(patient_id__in=ids))
    for row in submitted(rows):
        when = row.assessment_date
        if when is None:
            continue
        window = imaging_window(start, when)
        if window is None:
            continue  # baseline (on or before treatment start)
        nominal, deviation = window
        if abs(deviation) > window_days:
            field = "scan_date_first" if row.scan_date_first else "visit_date"
            side = say(gettext_noop("after")) if deviation > 0 else say(gettext_noop("before"))
            out.append(
                Finding(
                    "DM-2",
                    row,
                    field,
                    say(
                        gettext_noop(
                            "Assessment on %(d)s is %(n)s days %(side)s the scheduled time point %(nom)s (treatment start "
                            "%(s)s; window +/- %(w)s days, D6) (DM-2)."
                        ),
                        d=when,
                        n=abs(deviation),
                        side=side,
                        nom=nominal,
                        s=start,
                        w=window_days,
                    ),
                )
            )
    return out
