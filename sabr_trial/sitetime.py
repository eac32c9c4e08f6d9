"""How the site shows a moment: in the site's time zone, to the second, with its UTC offset.

One function for pages, PDFs, audit texts and the API, so a consent entered at 09:30 in Shanghai reads
``2026-12-06 09:30:00+08:00`` everywhere (never ``01:30:00.603085+00:00``).
"""

from __future__ import annotations

import datetime

from django.utils import timezone


def site_moment(value: datetime.datetime) -> datetime.datetime:
    """Return ``value`` in the active (site) time zone without microseconds."""
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return timezone.localtime(value).replace(microsecond=0)


def stamp(value: datetime.datetime | None, *, sep: str = " ") -> str:
    """Return ``value`` as ``YYYY-MM-DD HH:MM:SS+HH:MM`` in the site's time zone ("" for None)."""
    if value is None:
        return ""
    try:
        return site_moment(value).isoformat(sep=sep)
    except OverflowError:  # a clamped out-of-range row (EC-G1) near datetime.max: show it as stored
        return value.replace(microsecond=0).isoformat(sep=sep)
