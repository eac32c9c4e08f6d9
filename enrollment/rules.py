"""Cross-field edit checks of the enrollment CRFs (CRF-SPEC EC-SC-*)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

if TYPE_CHECKING:
    from enrollment.models import ScreeningLog


def check_screening(log: ScreeningLog) -> None:
    """EC-SC-1: a screen failure needs a reason; an outcome needs a date on or after screening."""
    errors: dict[str, str] = {}
    outcome = log.Outcome
    if log.outcome == outcome.SCREEN_FAILURE and not log.failure_reason:
        errors["failure_reason"] = _("A screen failure needs its main reason (EC-SC-1).")
    if log.outcome != outcome.SCREEN_FAILURE and log.failure_reason:
        errors["failure_reason"] = _("A failure reason is only recorded for a screen failure (EC-SC-1).")
    if log.failure_reason == log.FailureReason.OTHER and not log.failure_text.strip():
        errors["failure_text"] = _("Specify the reason when it is 'Other' (EC-SC-1).")
    if log.outcome != outcome.PENDING:
        if not log.outcome_date:
            errors["outcome_date"] = _("An outcome needs its date (EC-SC-1).")
        elif log.screening_date and log.outcome_date < log.screening_date:
            errors["outcome_date"] = _("The outcome date is before the screening date %(d)s (EC-SC-1).") % {
                "d": log.screening_date.isoformat()
            }
    elif log.outcome_date:
        errors["outcome_date"] = _("Leave the outcome date blank while the outcome is pending.")
    if errors:
        raise ValidationError(errors)
