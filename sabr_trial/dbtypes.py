"""Read dates PostgreSQL holds but Python cannot (years BC, after 9999, ``infinity``) without failing the read.

A row written before the EC-G1 range existed (or by hand in SQL) may hold ``0001-12-31 BC``; psycopg refuses to
load it and every page of that patient would answer 500. The loaders below clamp such a value to ``date.min`` /
``date.max`` (``datetime.min`` / ``datetime.max`` in UTC): far outside 1900..today, so the pages that show the row
flag it as out of range (``sabr_trial.validators.in_range``) and the next save of that form refuses it by field.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.db.backends.signals import connection_created

_LOW = {"date": datetime.date.min, "timestamptz": datetime.datetime.min.replace(tzinfo=datetime.UTC)}
_HIGH = {"date": datetime.date.max, "timestamptz": datetime.datetime.max.replace(tzinfo=datetime.UTC)}


def _clamping(base: type, low: Any, high: Any) -> type:
    """A loader that delegates to ``base`` (psycopg's C loaders cannot be subclassed) and clamps what it refuses."""
    from psycopg import DataError
    from psycopg.adapt import Loader

    class Clamped(Loader):
        # Django's create_cursor() compares it with the connection's time zone.
        timezone = getattr(base, "timezone", None)

        def __init__(self, oid: int, context: Any = None) -> None:
            super().__init__(oid, context)
            self._inner = base(oid, context)

        def load(self, data: Any) -> Any:
            try:
                return self._inner.load(data)
            except DataError:
                text = bytes(data).decode("ascii", "replace")
                return low if ("BC" in text or text.startswith("-")) else high

    Clamped.__name__ = f"Clamped{base.__name__}"
    return Clamped


def register_clamping_loaders(sender: Any, connection: Any, **kwargs: Any) -> None:
    """On every new PostgreSQL connection, wrap the date and timestamptz loaders (text format, Django's)."""
    if connection.vendor != "postgresql":
        return
    from psycopg.pq import Format

    adapters = connection.connection.adapters
    for name in ("date", "timestamptz"):
        oid = adapters.types[name].oid
        base = adapters.get_loader(oid, Format.TEXT)
        if base is not None and not base.__name__.startswith("Clamped"):
            adapters.register_loader(name, _clamping(base, _LOW[name], _HIGH[name]))


def connect() -> None:
    connection_created.connect(register_clamping_loaders, dispatch_uid="sabr_trial_clamping_loaders")
