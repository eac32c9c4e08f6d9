"""Field validators shared by every CRF.

Every editable date of a CRF lies between :data:`EARLIEST_DATE` and the site's today (EC-G1); a date that means a
plan may lie up to :data:`PLAN_HORIZON_DAYS` ahead. ``sabr_trial.checks`` refuses a CRF date field that carries
neither range validator, so the browser, the API and the importer (all through the same forms) refuse year 0001.
"""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

#: No date of this trial (diagnoses included) is older; year 0001 is a typing slip, not a date.
EARLIEST_DATE = datetime.date(1900, 1, 1)
#: How far ahead a planned date may lie.
PLAN_HORIZON_DAYS = 3 * 366


def local_date(value: datetime.date | datetime.datetime) -> datetime.date:
    """The site-local calendar date of a date or date-time; a year-1 or year-9999 value never overflows."""
    if isinstance(value, datetime.datetime):
        if timezone.is_aware(value):
            try:
                return timezone.localtime(value).date()
            except OverflowError:  # year 1 or 9999 shifted across midnight by the offset
                return datetime.date.min if value.year < 2 else datetime.date.max
        return value.date()
    return value


def _too_early(value: datetime.date | datetime.datetime) -> None:
    if local_date(value) < EARLIEST_DATE:
        raise ValidationError(
            _("%(date)s is before %(earliest)s: check the year (EC-G1).")
            % {"date": local_date(value).isoformat(), "earliest": EARLIEST_DATE.isoformat()},
            code="too_early",
        )


def not_in_future(value: datetime.date | datetime.datetime) -> None:
    """EC-G1: refuse a date (or date-time) later than today, or earlier than 1900-01-01."""
    _too_early(value)
    if isinstance(value, datetime.datetime):
        if timezone.is_aware(value) and value > timezone.now():
            raise ValidationError(_("This date and time is in the future (EC-G1)."), code="future")
        return
    if value > timezone.localdate():
        raise ValidationError(
            _("%(date)s is in the future: today is %(today)s (EC-G1).")
            % {"date": value.isoformat(), "today": timezone.localdate().isoformat()},
            code="future",
        )


def plan_date(value: datetime.date | datetime.datetime) -> None:
    """EC-G1 for a date that means a plan: from 1900-01-01 to three years ahead of today."""
    _too_early(value)
    horizon = timezone.localdate() + datetime.timedelta(days=PLAN_HORIZON_DAYS)
    if local_date(value) > horizon:
        raise ValidationError(
            _("%(date)s is more than three years ahead (after %(horizon)s): check the year (EC-G1).")
            % {"date": local_date(value).isoformat(), "horizon": horizon.isoformat()},
            code="too_late",
        )


def partial_date_range(value: str) -> None:
    """EC-G1 for a partial ISO date (YYYY, YYYY-MM or YYYY-MM-DD): its earliest possible day lies between
    1900-01-01 and today. The format itself is the field's regular expression; a malformed value is left to it."""
    parts = value.split("-") if value else []
    try:
        nums = [int(p) for p in parts] + [1] * (3 - len(parts))
        earliest = datetime.date(nums[0], nums[1], nums[2])
    except (ValueError, IndexError):
        return
    _too_early(earliest)
    today = timezone.localdate()
    if earliest > today:
        raise ValidationError(
            _("%(date)s is in the future: today is %(today)s (EC-G1).")
            % {"date": value, "today": today.isoformat()},
            code="future",
        )


#: The validators that bound a CRF date; the system check requires one of them on every editable CRF date.
DATE_RANGE_VALIDATORS = (not_in_future, plan_date)


def in_range(value: datetime.date | datetime.datetime | None) -> bool:
    """Return False for a stored date outside 1900-01-01 .. today + the plan horizon (a row to flag, not to crash)."""
    if value is None:
        return True
    day = local_date(value)
    return EARLIEST_DATE <= day <= timezone.localdate() + datetime.timedelta(days=PLAN_HORIZON_DAYS)
