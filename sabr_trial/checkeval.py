"""Evaluate a table's check constraint on a row in Python, as the database would (issue 20: a save asked the database
one query, in its own savepoint, per check constraint: an AE save spent 15 of its 64 queries on them).

Django's ``CheckConstraint.validate`` runs ``SELECT 1 WHERE COALESCE(<condition>, true)`` against the row's values.
:func:`holds` computes the same answer from the values on the instance, with SQL's three-valued logic: a comparison
with NULL is unknown, ``NOT unknown`` is unknown, ``AND``/``OR`` follow Kleene's tables, and an unknown result passes
(the ``COALESCE(..., true)`` of Django, the ``CHECK`` semantics of PostgreSQL).

Only what the constraints of this project use is evaluated here: ``exact`` (a literal or an ``F()`` of the same row),
``isnull``, ``in``, and ``gt``/``gte``/``lt``/``lte`` on numbers and dates. Anything else (a string ordering, whose
answer depends on the database's collation, a lookup across a relation, an expression) raises :class:`Unsupported`,
and the caller asks the database as before. The database's own ``CHECK`` still guards every insert and update.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.db.models import F, Q

#: Three-valued truth: True, False or None (unknown).
Truth = bool | None

_ORDERED = (int, float, Decimal, datetime.date, datetime.datetime, datetime.time)


class Unsupported(Exception):
    """The condition uses something :func:`holds` does not evaluate: ask the database."""


def _compare(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], Truth]:
    def compare(left: Any, right: Any) -> Truth:
        if left is None or right is None:
            return None
        if isinstance(left, bool) or isinstance(right, bool):
            raise Unsupported("ordering of booleans")
        if not (isinstance(left, _ORDERED) and isinstance(right, _ORDERED)):
            raise Unsupported(f"ordering of {type(left).__name__} and {type(right).__name__}")
        return op(left, right)

    return compare


def _exact(left: Any, right: Any) -> Truth:
    if left is None or right is None:
        return None
    return bool(left == right)


def _in(left: Any, right: Any) -> Truth:
    if left is None:
        return None
    values = list(right)
    if any(v is None for v in values):  # x IN (..., NULL): unknown unless a value matches
        return True if left in [v for v in values if v is not None] else None
    return left in values


_LOOKUPS: dict[str, Callable[[Any, Any], Truth]] = {
    "exact": _exact,
    "in": _in,
    "gt": _compare(lambda a, b: a > b),
    "gte": _compare(lambda a, b: a >= b),
    "lt": _compare(lambda a, b: a < b),
    "lte": _compare(lambda a, b: a <= b),
}


def _and(values: list[Truth]) -> Truth:
    if any(v is False for v in values):
        return False
    return None if any(v is None for v in values) else True


def _or(values: list[Truth]) -> Truth:
    if any(v is True for v in values):
        return True
    return None if any(v is None for v in values) else False


def _not(value: Truth) -> Truth:
    return None if value is None else not value


def evaluate(condition: Q, value_of: Callable[[str], Any]) -> Truth:
    """The three-valued truth of ``condition`` with each field's value from ``value_of(field_name)`` (which raises
    :class:`Unsupported` for a name that is not a plain field of the row)."""
    results: list[Truth] = []
    for child in condition.children:
        if isinstance(child, Q):
            results.append(evaluate(child, value_of))
            continue
        if not isinstance(child, tuple) or len(child) != 2:
            raise Unsupported(f"condition {child!r}")
        path, right = child
        name, _, lookup = str(path).partition("__")
        lookup = lookup or "exact"
        if "__" in lookup:
            raise Unsupported(f"lookup across a relation or a transform: {path}")
        left = value_of(name)
        if isinstance(right, F):
            right = value_of(right.name)
        elif hasattr(right, "resolve_expression"):
            raise Unsupported(f"expression {right!r}")
        if lookup == "isnull":
            if not isinstance(right, bool):
                raise Unsupported(f"isnull={right!r}")
            results.append((left is None) is right)
        elif lookup == "exact" and child[1] is None:  # field=None is IS NULL in Django
            results.append(left is None)
        elif lookup in _LOOKUPS:
            results.append(_LOOKUPS[lookup](left, right))
        else:
            raise Unsupported(f"lookup {lookup!r}")
    if condition.connector == Q.AND:
        combined = _and(results)
    elif condition.connector == Q.OR:
        combined = _or(results)
    else:
        raise Unsupported(f"connector {condition.connector}")
    return _not(combined) if condition.negated else combined


def holds(condition: Q, value_of: Callable[[str], Any]) -> bool:
    """True if a row with these values passes ``CHECK (condition)``: the condition is true or unknown."""
    return evaluate(condition, value_of) is not False
