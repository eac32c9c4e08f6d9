"""Reads of some patients' rows with SQL the ORM builds once per process (issue 20).

A save makes the navigation recompute its patient's part of the worklist and of the to-do lists: the same dozen or
two reads each time, of which Django spent more time building the SQL (the queryset, its filters and compiler) than
PostgreSQL spent answering. ``patient_rows`` builds a read once, with a probe in place of the patient ids, and
then runs that SQL with the ids as one array parameter (``= ANY(%s)``, PostgreSQL). On another database (the
embedded SQLite) the ORM builds the read each time, as before.

Every parameter other than the ids is kept as a constant of the SQL built once: a read with a date, time or duration
parameter (a "today" or "now") is never built once.

The rows are those of the queryset's ``values_list``: the same values and types (tests compare them with the ORM's
reads on the demo study). ``patient_objects`` does the same for a read of model rows (with ``select_related``): the
rows are built as Django's ``ModelIterable`` builds them, from the compiler kept with the SQL.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection

#: A patient id no row has, put where the ids go while the read is built.
_PROBE = -987_654_321
_PLACEHOLDER = re.compile(r"(?<!%)%s")
#: key -> (SQL with one %s per parameter, the parameters: a constant, or None where the ids go)
_COMPILED: dict[str, tuple[str, list[Any]] | None] = {}


def _compile(build: Callable[[list[int]], Any]) -> tuple[str, list[Any]] | None:
    sql, params = build([_PROBE]).query.sql_with_params()
    return _with_ids_parameter(sql, params)


def _with_ids_parameter(sql: str, params: Sequence[Any]) -> tuple[str, list[Any]] | None:
    """The SQL with the probe's ``IN (%s)`` as ``= ANY(%s)`` and its parameters (None where the ids go), or None
    for a shape this module does not know."""
    pieces = _PLACEHOLDER.split(sql)
    if len(pieces) != len(params) + 1:
        return None
    if any(isinstance(p, datetime.date | datetime.time | datetime.timedelta) for p in params):
        # A date, time or duration in a read is almost always "today" or "now": kept as a constant of the SQL
        # built once, it would go stale. Such a read is built by the ORM each time.
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
    compiled = _built_once(_COMPILED, key, lambda: _compile(build))
    if compiled is None:
        return [tuple(row) for row in build(list(ids))]
    return [tuple(row) for row in _fetch(*compiled, ids)]


def _built_once(cache: dict[str, Any], key: str, make: Callable[[], Any]) -> Any:
    """The read kept under ``key``, made on first use (PostgreSQL only); None: built by the ORM each time (another
    database, or a shape not known here)."""
    if connection.vendor != "postgresql":
        return None
    if key not in cache:
        cache[key] = make()
    return cache[key]


def _fetch(sql: str, slots: list[Any], ids: Sequence[int]) -> list[tuple[Any, ...]]:
    """Run a read built once with these ids in place of the probe."""
    with connection.cursor() as cursor:
        cursor.execute(sql, [list(ids) if slot is None else slot for slot in slots])
        return cursor.fetchall()


def is_compiled(key: str) -> bool:
    """Whether the read of ``key`` runs from SQL built once (tests)."""
    return _COMPILED.get(key) is not None or _OBJECTS.get(key) is not None


@dataclass(frozen=True)
class _ObjectsRead:
    """A read of model rows built once: its SQL, and what ``ModelIterable`` takes from the compiler to build rows."""

    sql: str
    slots: list[Any]
    compiler: Any
    model: type
    init_list: list[str]
    start: int
    end: int
    populators: list[Any]


#: key -> the read built once, or None (a shape not known here: the ORM builds it each time)
_OBJECTS: dict[str, _ObjectsRead | None] = {}


def _compile_objects(build: Callable[[list[int]], Any]) -> _ObjectsRead | None:
    from django.db.models.query import ModelIterable, get_related_populators

    queryset = build([_PROBE])
    if (
        queryset._iterable_class is not ModelIterable
        or queryset._prefetch_related_lookups
        or queryset._known_related_objects
        or queryset.query.deferred_loading != (frozenset(), True)
    ):
        return None
    compiler = queryset.query.get_compiler(using=queryset.db)
    sql, params = compiler.as_sql()  # fills compiler.select, klass_info, annotation_col_map, col_count
    rewritten = _with_ids_parameter(sql, params)
    if rewritten is None or compiler.annotation_col_map:
        return None
    klass_info, select = compiler.klass_info, compiler.select
    fields = klass_info["select_fields"]
    start, end = fields[0], fields[-1] + 1
    return _ObjectsRead(
        sql=rewritten[0],
        slots=rewritten[1],
        compiler=compiler,
        model=klass_info["model"],
        init_list=[f[0].target.attname for f in select[start:end]],
        start=start,
        end=end,
        populators=get_related_populators(klass_info, select, queryset.db),
    )


def patient_objects(key: str, build: Callable[[list[int]], Any], ids: Sequence[int]) -> list[Any]:
    """The model rows of ``build(ids)`` (a queryset filtered with ``patient_id__in=ids``, or any one ``__in=ids``;
    ``select_related`` allowed; no ``prefetch_related``, ``only``/``defer`` or annotations), read with the SQL built
    once under ``key`` and built into rows as the ORM builds them (its converters, ``from_db``, the related rows)."""
    read: _ObjectsRead | None = _built_once(_OBJECTS, key, lambda: _compile_objects(build))
    if read is None:
        return list(build(list(ids)))
    out = []
    for row in read.compiler.results_iter(results=[_fetch(read.sql, read.slots, ids)]):
        obj = read.model.from_db(connection.alias, read.init_list, row[read.start : read.end])
        for populator in read.populators:
            populator.populate(row, obj)
        out.append(obj)
    return out
