"""The three-way merge of a stale save (WRITE-PIPELINE.md, stage 5).

``base`` is the row as of the version the user started from (its history row), ``mine`` the submitted values and
``theirs`` the current row. Per field: mine == base -> theirs (only the other person changed it); theirs == base ->
mine (only this user changed it); mine == theirs -> either; otherwise a conflict, and nothing is saved until the
user chooses. Values are compared as the model stores them (a linked row by its key).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


def comparable(value: Any) -> Any:
    """The value as stored: a model instance by its primary key, a set of rows by their keys."""
    if hasattr(value, "_meta") and hasattr(value, "pk"):
        return value.pk
    if isinstance(value, list | tuple | set | frozenset) or (
        hasattr(value, "values_list") and hasattr(value, "model")
    ):
        return frozenset(comparable(v) for v in value)
    if value is None:
        return ""
    return value


@dataclass(frozen=True)
class Conflict:
    """A field both people changed, to different values."""

    name: str
    label: str
    base: str
    mine: str
    theirs: str


@dataclass
class MergeResult:
    """What a stale save becomes: the values to save, the fields taken from the other person, the conflicts."""

    values: dict[str, Any] = field(default_factory=dict)
    taken_from_theirs: list[str] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)


def three_way(
    *,
    names: Iterable[str],
    base: Mapping[str, Any],
    mine: Mapping[str, Any],
    theirs: Mapping[str, Any],
    labels: Mapping[str, str],
    shown: Mapping[str, tuple[str, str, str]] | Callable[[str], tuple[str, str, str]],
) -> MergeResult:
    """Merge ``mine`` into ``theirs`` against ``base``, field by field.

    ``shown`` gives each field's (base, mine, theirs) as the user reads them, for the conflict messages: a mapping,
    or a function of the field's name called for the conflicts only (a label may cost a query).
    """
    result = MergeResult()
    for name in names:
        b, m, t = comparable(base.get(name)), comparable(mine.get(name)), comparable(theirs.get(name))
        if m == b:
            result.values[name] = theirs.get(name)
            if t != b:
                result.taken_from_theirs.append(name)
        elif t == b or m == t:
            result.values[name] = mine.get(name)
        else:
            shown_base, shown_mine, shown_theirs = shown[name] if isinstance(shown, Mapping) else shown(name)
            result.conflicts.append(Conflict(name, labels[name], shown_base, shown_mine, shown_theirs))
            result.values[name] = mine.get(name)
    return result
