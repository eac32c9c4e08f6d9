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


#: key -> (SQL, parameters, per read the positions of its columns in the union's row), or None
_MANY: dict[str, tuple[str, list[Any], list[list[int]]] | None] = {}


def _slot_type(field: Any) -> str:
    """The SQL type of a union column holding this field's values (every integer as bigint, every string as text:
    the driver gives the same Python values)."""
    db_type = (field.db_type(connection) or "").lower()
    if field.get_internal_type() in ("ForeignKey", "OneToOneField"):
        db_type = (field.target_field.db_type(connection) or "").lower()
    if "int" in db_type or "serial" in db_type:
        return "bigint"
    if db_type.startswith(("varchar", "char", "text")):
        return "text"
    return db_type


def _compile_many(builds: list[Callable[[list[int]], Any]]) -> tuple[str, list[Any], list[list[int]]] | None:
    reads = []
    for build in builds:
        queryset = build([_PROBE])
        compiler = queryset.query.get_compiler(using=queryset.db)
        sql, params = compiler.as_sql()
        rewritten = _with_ids_parameter(sql, params)
        if rewritten is None or queryset.query.annotations or not compiler.select:
            return None
        types = [_slot_type(col.output_field) for col, _sql, _alias in compiler.select]
        if types[0] != "bigint":
            return None  # each read is ordered by its first column, an integer (its pk)
        reads.append((rewritten, types))
    slots_of: dict[str, int] = {}  # type -> columns of that type in the union's row
    for _rw, types in reads:
        for t in set(types):
            slots_of[t] = max(slots_of.get(t, 0), types.count(t))
    layout_types = [t for t in slots_of for _ in range(slots_of[t])]  # the union row after the read's index
    first = {t: layout_types.index(t) for t in slots_of}
    branches, parameters, positions = [], [], []
    for index, ((sql, slots), types) in enumerate(reads):
        seen: dict[str, int] = {}
        own = []
        for t in types:
            own.append(1 + first[t] + seen.get(t, 0))
            seen[t] = seen.get(t, 0) + 1
        columns = ["NULL::" + t for t in layout_types]
        for j, position in enumerate(own):
            columns[position - 1] = f"q.c{j}"
        names = ", ".join(f"c{j}" for j in range(len(types)))
        branches.append(f"SELECT {index}, {', '.join(columns)} FROM ({sql}) AS q({names})")
        parameters += slots
        positions.append(own)
    order = 2 + first["bigint"]  # the read's index, then its first column
    union = " UNION ALL ".join(f"({b})" for b in branches)
    return f"{union} ORDER BY 1, {order}", parameters, positions


def patient_rows_of_reads(
    key: str, builds: list[Callable[[list[int]], Any]], ids: Sequence[int]
) -> list[list[tuple[Any, ...]]]:
    """The rows of several ``patient_rows`` reads (``values_list`` querysets filtered with ``patient_id__in=ids``,
    each ordered by its first column, an integer) in one query: a ``UNION ALL`` whose row holds each read's
    columns in typed slots, built once under ``key``. A save's recompute of one patient's schedule read fifteen
    tables one query each (issue 20). Elsewhere than PostgreSQL, or for a shape not known here: one read each."""
    read = _built_once(_MANY, key, lambda: _compile_many(builds))
    if read is None:
        return [[tuple(row) for row in build(list(ids))] for build in builds]
    sql, slots, positions = read
    out: list[list[tuple[Any, ...]]] = [[] for _ in builds]
    for row in _fetch(sql, slots, ids):
        out[row[0]].append(tuple(row[p] for p in positions[row[0]]))
    return out


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
    return any(store.get(key) is not None for store in (_COMPILED, _OBJECTS, _COUNTS, _MANY, _ROWS))


#: key -> (SQL counting the rows of a read, its parameters), or None (built by the ORM each time)
_COUNTS: dict[str, tuple[str, list[Any]] | None] = {}


def _compile_count(build: Callable[[], Any]) -> tuple[str, list[Any]] | None:
    read = _compile_rows(build)  # a "today" or "now" kept as a constant would go stale: not built once
    return None if read is None else (f"SELECT COUNT(*) FROM ({read[0]}) AS counted", read[1])


#: key -> (SQL of a study-wide read, its parameters), or None (built by the ORM each time)
_ROWS: dict[str, tuple[str, list[Any]] | None] = {}


def _compile_rows(build: Callable[[], Any]) -> tuple[str, list[Any]] | None:
    sql, params = build().query.sql_with_params()
    if any(isinstance(p, datetime.date | datetime.time | datetime.timedelta) for p in params):
        return None
    return sql, list(params)


def rows(key: str, build: Callable[[], Any]) -> list[tuple[Any, ...]]:
    """The rows of ``build()`` (a ``values_list`` queryset whose only parameters are constants), with the SQL built
    once under ``key`` (the navigation's study-wide reads after every change: the registered or unlocked patients)."""
    read = _built_once(_ROWS, key, lambda: _compile_rows(build))
    if read is None:
        return [tuple(row) for row in build()]
    with connection.cursor() as cursor:
        cursor.execute(*read)
        return [tuple(row) for row in cursor.fetchall()]


def count(key: str, build: Callable[[], Any]) -> int:
    """``build().count()`` (a queryset whose only parameters are constants: no patient ids, no dates), with the
    SQL built once under ``key``: the navigation counts study-wide rows after every change (issue 20), and the ORM
    spent more time building those reads (a 28-table union for the SDV count) than PostgreSQL answering them."""
    read = _built_once(_COUNTS, key, lambda: _compile_count(build))
    if read is None:
        return int(build().count())
    with connection.cursor() as cursor:
        cursor.execute(*read)
        return int(cursor.fetchone()[0])


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
