"""``{{ moment|stamp }}``: a date-time in the site's time zone, to the second, with its offset (a template builtin)."""

from __future__ import annotations

import datetime

from django import template

from sabr_trial.sitetime import stamp as _stamp

register = template.Library()


@register.filter
def stamp(value: object) -> str:
    """Format a datetime with ``sabr_trial.sitetime.stamp``; a date stays ISO; anything else as it is."""
    if isinstance(value, datetime.datetime):
        return _stamp(value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    return "" if value is None else str(value)
