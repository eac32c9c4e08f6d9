"""Field validators shared by every CRF."""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _


def not_in_future(value: datetime.date | datetime.datetime) -> None:
    """EC-G1: refuse a date (or date-time) later than today."""
    if isinstance(value, datetime.datetime):
        if value > timezone.now():
            raise ValidationError(_("This date and time is in the future (EC-G1)."), code="future")
        return
    if value > timezone.localdate():
        raise ValidationError(
            _("%(date)s is in the future: today is %(today)s (EC-G1).")
            % {"date": value.isoformat(), "today": timezone.localdate().isoformat()},
            code="future",
        )
