"""Template filters of the AE pages."""

from __future__ import annotations

import datetime

from django import template
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def duration(value: datetime.timedelta | None) -> str:
    """Absolute length of a timedelta as 'N d H h M min' (the sign is shown by the state badge)."""
    if value is None:
        return ""
    seconds = abs(int(value.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = []
    if days:
        parts.append(_("%(n)s d") % {"n": days})
    if days or hours:
        parts.append(_("%(n)s h") % {"n": hours})
    parts.append(_("%(n)s min") % {"n": minutes})
    return " ".join(parts)
