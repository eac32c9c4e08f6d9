"""Reads of some patients' rows with SQL the ORM builds once per process (issue 20).

A save makes the navigation recompute its patient's part of the worklist and of the to-do lists: the same dozen or
two reads each time, of which Django spent more time building the SQL (the queryset, its filters and compiler) than
PostgreSQL spent answering. ``patient_rows`` builds a read once, with a probe in place of the patient ids, and
then runs that SQL with the ids as one array parameter (``= ANY(%s)``, PostgreSQL). On another database (the
embedded SQLite) the ORM builds the read each time, as before.

The rows are those of the queryset's ``values_list``: the same values and types (tests compare them with the ORM's
reads on the demo study).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from django.db import connection

#: A patient id no row has, put where the ids go while the read is built.
_PROBE = -987_654_321
_PLACEHOLDER = re.compile(r"(?<!%)%s")
#: key -> (SQL with one %s per parameter, the parameters: a constant, or None where the ids go)
_COMPILED: dict[str, tuple[str, list[Any]] | None] = {}


def _compile(build: Callable[[list[int]], Any]) -> tuple[str, list[Any]] | None:
    sql, params = build([_PROBE]).query.sql_with_params()
    pieces = _PLACEHOLDER.split(sql)
    if len(pieces) != len(params) + 1:
        return None
    out, slots = [pieces[0]], []
    for param, after in zip(params, pieces[1:], strict=True):
        if param == _PROBE and out[-1].endswith("IN (") and after.startswith(")"):
            out[-1] = out[-1][: -len("IN (")] + "= ANY("
            slots.append(None)
        elif param == _PROBE:
            return None  # the probe elsewhere than in an IN list: not a shape this module knows
        else:
            slots.append(param)
        out.append("%s" + after)
    if None not in slots:
        return None
    return "".join(out), slots


def patient_rows(key: str, build: Callable[[list[int]], Any], ids: Sequence[int]) -> list[tuple[Any, ...]]:
    """The rows of ``build(ids)`` (a ``values_list`` queryset filtered with ``patient_id__in=ids``), read with the
    SQL built once under ``key`` (each key names one read: the same ``build`` always)."""
    compiled = None
    if connection.vendor == "postgresql":
        if key not in _COMPILED:
            _COMPILED[key] = _compile(build)  # None: a shape not known here, built by the ORM each time
        compiled = _COMPILED[key]
    if compiled is None:
        return [tuple(row) for row in build(list(ids))]
    sql, slots = compiled
    with connection.cursor() as cursor:
        cursor.execute(sql, [list(ids) if slot is None else slot for slot in slots])
        return [tuple(row) for row in cursor.fetchall()]


def is_compiled(key: str) -> bool:
    """Whether the read of ``key`` runs from SQL built once (tests)."""
    return _COMPILED.get(key) is not None
