"""The three-way merge of a stale save of the tumour assessment grid (WRITE-PIPELINE.md stage 5, issue 15 item 5).

The grid is one time point's header, one result row per registered lesion and the new-lesion rows. A stale save is
merged cell by cell against the grid as it was at the version the user started from (read from the history tables):
the header fields by name, each lesion result by its lesion, each new lesion by its code (a row the user added and
that has no code yet is only theirs). A cell only the other person changed takes their value, a cell only this user
changed keeps theirs, a cell both changed differently is a conflict (``sabr_trial.merge``). A new lesion one person
removed and the other changed is a conflict of the whole row. Nothing is saved while a conflict is unanswered.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.utils.translation import gettext as _

from assessments.forms import LesionRowForm, NewLesionForm, TumourAssessmentForm
from assessments.models import Lesion, LesionResult, NewLesion, TumourAssessment
from sabr_trial import merge
from sabr_trial.services import FieldChange

HEADER_FIELDS: tuple[str, ...] = tuple(TumourAssessmentForm.Meta.fields)
ROW_FIELDS = (
    "result_status",
    "value_mm",
    "split_merge",
    "merged_into",
    "nontarget_state",
    "further_increase",
    "infield_progression",
    "lf_confirmation",
)
NEW_FIELDS: tuple[str, ...] = tuple(NewLesionForm.Meta.fields)
#: The key of a new-lesion row typed in this save and not saved yet (it has no code): only this user has it.
UNSAVED = "+"


@dataclass
class Grid:
    """One time point's entered values: header fields, lesion results by lesion id, new lesions by code."""

    header: dict[str, Any] = field(default_factory=dict)
    rows: dict[int, dict[str, Any]] = field(default_factory=dict)
    new: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: False when imaging was not done in this entry: the grid was hidden and not sent (the user changed no cell).
    entered: bool = True


@dataclass
class GridMerge:
    """The merged grid, the names of the cells taken from the other person (as the form posts them), the
    conflicts (named as the form posts the cell; a whole new-lesion row as ``new:<code>``)."""

    values: Grid
    theirs: Grid
    taken: list[str] = field(default_factory=list)
    taken_labels: list[str] = field(default_factory=list)
    conflicts: list[merge.Conflict] = field(default_factory=list)


def row_name(lesion_pk: int, name: str) -> str:
    """A lesion-result cell by the name the grid posts it under (``LesionRowForm`` prefix ``l<id>``)."""
    return f"l{lesion_pk}-{name}"


def new_name(key: str, name: str = "") -> str:
    return f"new:{key}:{name}" if name else f"new:{key}"


def _lesions(patient_id: int) -> dict[int, Lesion]:
    return {lesion.pk: lesion for lesion in Lesion.objects.filter(patient_id=patient_id)}


def _row_values(obj: Any, lesions: Mapping[int, Lesion]) -> dict[str, Any]:
    values = {name: getattr(obj, name) for name in ROW_FIELDS if name != "merged_into"}
    values["merged_into"] = lesions.get(obj.merged_into_id) if obj.merged_into_id else None
    return values


def _new_values(obj: Any) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in NEW_FIELDS}


def grid_now(assessment: TumourAssessment) -> Grid:
    """The grid as the database holds it now."""
    lesions = _lesions(assessment.patient_id)
    return Grid(
        header={name: getattr(assessment, name) for name in HEADER_FIELDS},
        rows={
            r.lesion_id: _row_values(r, lesions) for r in LesionResult.objects.filter(assessment=assessment)
        },
        new={n.code: _new_values(n) for n in NewLesion.objects.filter(assessment=assessment)},
    )


def grid_at(assessment: TumourAssessment, version: int) -> Grid | None:
    """The grid as it was at ``version``, from the history tables; None if that version has no history row.

    A save writes the time point's history row first and then its lesion rows, in one transaction: the child rows
    of ``version`` are the last history state of each row before the first history row of a later version.
    """
    record = assessment.history.filter(version=version).order_by("-history_id").first()
    if record is None:
        return None
    later = assessment.history.filter(version__gt=version).order_by("history_date").first()
    rows_hist = LesionResult.history.filter(assessment_id=assessment.pk)
    new_hist = NewLesion.history.filter(assessment_id=assessment.pk)
    if later is not None:
        rows_hist = rows_hist.filter(history_date__lt=later.history_date)
        new_hist = new_hist.filter(history_date__lt=later.history_date)
    lesions = _lesions(assessment.patient_id)
    rows: dict[int, Any] = {}
    for h in rows_hist.order_by("history_date", "history_id"):
        rows[h.id] = h
    news: dict[int, Any] = {}
    for h in new_hist.order_by("history_date", "history_id"):
        news[h.id] = h
    return Grid(
        header={name: getattr(record, name) for name in HEADER_FIELDS},
        rows={h.lesion_id: _row_values(h, lesions) for h in rows.values() if h.history_type != "-"},
        new={h.code: _new_values(h) for h in news.values() if h.history_type != "-"},
    )


def _text(form_field: forms.Field | None, value: Any) -> str:
    """A value as the user reads it (a choice by its label, a lesion by its code)."""
    if value in (None, "", [], ()):
        return "—"
    if isinstance(value, Lesion):
        return value.lesion_code
    choices = dict(getattr(form_field, "choices", None) or []) if form_field is not None else {}
    return str(choices.get(value, choices.get(str(value), value)))


def _row_text(values: Mapping[str, Any] | None) -> str:
    if values is None:
        return _("(removed)")
    shown = [
        _text(_NEW_FORM_FIELDS[n], values.get(n))
        for n in ("organ", "location_text", "first_seen_date")
        if values.get(n)
    ]
    return " ".join(shown) or "—"


_HEADER_FORM = TumourAssessmentForm
_ROW_FORM_FIELDS = LesionRowForm.base_fields
_NEW_FORM_FIELDS = NewLesionForm.base_fields


def _cells(
    names: list[str],
    base: Mapping[str, Any],
    mine: Mapping[str, Any],
    theirs: Mapping[str, Any],
    labels: Mapping[str, str],
    fields: Mapping[str, forms.Field | None],
    known_base: bool,
) -> merge.MergeResult:
    shown = {
        name: (
            _text(fields[name], base.get(name)) if known_base else "?",
            _text(fields[name], mine.get(name)),
            _text(fields[name], theirs.get(name)),
        )
        for name in names
    }
    result = merge.three_way(names=names, base=base, mine=mine, theirs=theirs, labels=labels, shown=shown)
    for name in names:  # a value equal to the user's keeps the user's form (35 mm typed, not 35.0 as stored)
        if merge.comparable(result.values[name]) == merge.comparable(mine.get(name)):
            result.values[name] = mine.get(name)
    return result


def same(a: Grid, b: Grid) -> bool:
    """Whether two grids hold the same values, cell by cell (35 and 35.0 mm are the same)."""

    def flat(grid: Grid) -> dict[str, Any]:
        out = {name: merge.comparable(grid.header.get(name)) for name in HEADER_FIELDS}
        for pk, values in grid.rows.items():
            out.update({row_name(pk, n): merge.comparable(values.get(n)) for n in ROW_FIELDS})
        for key, values in grid.new.items():
            out.update({new_name(key, n): merge.comparable(values.get(n)) for n in NEW_FIELDS})
        return out

    return flat(a) == flat(b)


def merge_grid(
    assessment: TumourAssessment, base_version: int, mine: Grid
) -> tuple[TumourAssessment, GridMerge]:
    """Merge ``mine`` (the user's grid, started at ``base_version``) into the current grid, cell by cell."""
    current = TumourAssessment.objects.select_related("patient", "updated_by").get(pk=assessment.pk)
    theirs = grid_now(current)
    found = grid_at(current, base_version)
    # Without the starting version in the history, every cell the user changed counts as theirs too.
    base = found if found is not None else Grid()
    if not mine.entered:
        mine = Grid(header=mine.header, rows=base.rows, new=base.new)
    out = GridMerge(values=Grid(), theirs=theirs)
    labels, fields = _merge_cells(out, current, base, mine, known=found is not None)
    _merge_new(out, base, mine, known=found is not None)
    # Imaging taken as "not done" from the other person drops this user's lesion entries: let the user choose.
    if (
        found is not None
        and out.values.header.get("imaging_done") != "Y"
        and mine.header.get("imaging_done") == "Y"
        and _grid_changed(base, mine)
        and not any(c.name == "imaging_done" for c in out.conflicts)
    ):
        shown = fields["imaging_done"]
        out.conflicts.append(
            merge.Conflict(
                "imaging_done",
                labels["imaging_done"],
                _text(shown, base.header.get("imaging_done")),
                _text(shown, mine.header.get("imaging_done")),
                _text(shown, theirs.header.get("imaging_done")),
            )
        )
        out.values.header["imaging_done"] = mine.header.get("imaging_done")
        if "imaging_done" in out.taken:
            index = out.taken.index("imaging_done")
            del out.taken[index], out.taken_labels[index]
    return current, out


def _merge_cells(
    out: GridMerge, current: TumourAssessment, base: Grid, mine: Grid, *, known: bool
) -> tuple[dict[str, str], dict[str, forms.Field | None]]:
    """The header and the lesion results: one flat set of cells, named as the grid posts them."""
    theirs = out.theirs
    lesions = _lesions(current.patient_id)
    flat_base: dict[str, Any] = {}
    flat_mine: dict[str, Any] = {}
    flat_theirs: dict[str, Any] = {}
    labels: dict[str, str] = {}
    fields: dict[str, forms.Field | None] = {}
    header_form = _HEADER_FORM(instance=current)
    for name in HEADER_FIELDS:
        flat_base[name] = base.header.get(name) if known else object()
        flat_mine[name], flat_theirs[name] = mine.header.get(name), theirs.header.get(name)
        fields[name] = header_form.fields.get(name)
        labels[name] = str(fields[name].label if fields[name] is not None else name)
    lesion_ids = sorted(set(mine.rows) | set(theirs.rows) | set(base.rows))
    for pk in lesion_ids:
        code = lesions[pk].lesion_code if pk in lesions else str(pk)
        for name in ROW_FIELDS:
            cell = row_name(pk, name)
            flat_base[cell] = base.rows.get(pk, {}).get(name) if known else object()
            flat_mine[cell] = mine.rows.get(pk, {}).get(name)
            flat_theirs[cell] = theirs.rows.get(pk, {}).get(name)
            fields[cell] = _ROW_FORM_FIELDS.get(name)
            labels[cell] = f"{code} {fields[cell].label if fields[cell] is not None else name}"
    result = _cells(list(flat_mine), flat_base, flat_mine, flat_theirs, labels, fields, known)
    out.conflicts.extend(result.conflicts)
    out.taken.extend(result.taken_from_theirs)
    out.taken_labels.extend(labels[n] for n in result.taken_from_theirs)
    out.values.header = {name: result.values[name] for name in HEADER_FIELDS}
    out.values.rows = {
        pk: {name: result.values[row_name(pk, name)] for name in ROW_FIELDS}
        for pk in lesion_ids
        if pk in mine.rows or pk in theirs.rows
    }
    return labels, fields


def _merge_new(out: GridMerge, base: Grid, mine: Grid, *, known: bool) -> None:
    """The new lesions, by code; a row removed on one side and changed on the other is a conflict of the row."""
    theirs = out.theirs
    for key in sorted(set(mine.new) | set(theirs.new) | set(base.new)):
        b, m, t = base.new.get(key) if known else None, mine.new.get(key), theirs.new.get(key)
        label = _("New lesion %(code)s") % {"code": key}
        if m is None and t is None:
            continue
        if m is None or t is None:
            present = m if m is not None else t
            if b is not None and not _same(present, b):  # removed on one side, changed on the other
                out.conflicts.append(
                    merge.Conflict(new_name(key), label, _row_text(b), _row_text(m), _row_text(t))
                )
                if m is not None:
                    out.values.new[key] = m
                continue
            if b is None or not known:  # added on one side only: kept
                out.values.new[key] = present  # type: ignore[assignment]
            if (b is None and m is None and known) or (b is not None and t is None):
                out.taken.append(new_name(key))  # their row added, or removed by them
                out.taken_labels.append(label)
            continue
        names = [new_name(key, n) for n in NEW_FIELDS]
        cells = _cells(
            names,
            {new_name(key, n): (b or {}).get(n) if known else object() for n in NEW_FIELDS},
            {new_name(key, n): m.get(n) for n in NEW_FIELDS},
            {new_name(key, n): t.get(n) for n in NEW_FIELDS},
            {new_name(key, n): f"{key} {_NEW_FORM_FIELDS[n].label}" for n in NEW_FIELDS},
            {new_name(key, n): _NEW_FORM_FIELDS[n] for n in NEW_FIELDS},
            known,
        )
        out.conflicts.extend(cells.conflicts)
        out.taken.extend(cells.taken_from_theirs)
        out.taken_labels.extend(
            f"{key} {_NEW_FORM_FIELDS[n.rsplit(':', 1)[1]].label}" for n in cells.taken_from_theirs
        )
        out.values.new[key] = {n: cells.values[new_name(key, n)] for n in NEW_FIELDS}


def _same(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return all(merge.comparable(a.get(n)) == merge.comparable(b.get(n)) for n in NEW_FIELDS)


def _grid_changed(base: Grid, mine: Grid) -> bool:
    for pk, values in mine.rows.items():
        old = base.rows.get(pk, {})
        if any(merge.comparable(values.get(n)) != merge.comparable(old.get(n)) for n in ROW_FIELDS):
            return True
    return set(mine.new) != set(base.new) or any(not _same(v, base.new[k]) for k, v in mine.new.items())


def resolve(result: GridMerge, choices: Mapping[str, str]) -> list[merge.Conflict]:
    """Apply the user's choice per conflict (``theirs`` or ``mine``); return the conflicts left unanswered."""
    unresolved = []
    for conflict in result.conflicts:
        choice = choices.get(conflict.name, "")
        if choice == "mine":
            continue
        if choice != "theirs":
            unresolved.append(conflict)
            continue
        _take_theirs(result, conflict.name)
    return unresolved


def _take_theirs(result: GridMerge, name: str) -> None:
    values, theirs = result.values, result.theirs
    if name in HEADER_FIELDS:
        values.header[name] = theirs.header.get(name)
    elif name.startswith("new:"):
        parts = name.split(":")
        key = parts[1]
        if len(parts) == 2 or not parts[2]:
            if key in theirs.new:
                values.new[key] = dict(theirs.new[key])
            else:
                values.new.pop(key, None)
        else:
            values.new.setdefault(key, {})[parts[2]] = theirs.new.get(key, {}).get(parts[2])
    else:
        prefix, cell = name.split("-", 1)
        pk = int(prefix[1:])
        values.rows.setdefault(pk, {})[cell] = theirs.rows.get(pk, {}).get(cell)


def changes_since(assessment: TumourAssessment, version: int) -> list[FieldChange]:
    """The grid cells changed since ``version`` (for the API's 412): ``results.<lesion code>.<field>`` and
    ``new_lesions.<code>.<field>``, each with the value at that version and the current one."""
    base = grid_at(assessment, version)
    if base is None:
        return []
    now = grid_now(assessment)
    lesions = _lesions(assessment.patient_id)
    out = []
    for pk in sorted(set(base.rows) | set(now.rows)):
        code = lesions[pk].lesion_code if pk in lesions else str(pk)
        for name in ROW_FIELDS:
            old, new = base.rows.get(pk, {}).get(name), now.rows.get(pk, {}).get(name)
            if merge.comparable(old) != merge.comparable(new):
                f = _ROW_FORM_FIELDS[name]
                out.append(
                    FieldChange(f"results.{code}.{name}", f"{code} {f.label}", _text(f, old), _text(f, new))
                )
    for key in sorted(set(base.new) | set(now.new)):
        for name in NEW_FIELDS:
            old, new = base.new.get(key, {}).get(name), now.new.get(key, {}).get(name)
            if merge.comparable(old) != merge.comparable(new):
                f = _NEW_FORM_FIELDS[name]
                out.append(
                    FieldChange(f"new_lesions.{key}.{name}", f"{key} {f.label}", _text(f, old), _text(f, new))
                )
    return out


def submitted_cells(assessment: TumourAssessment, data: Any) -> dict[str, Any]:
    """The API client's values named as ``changes_since`` names the cells (lesion rows by their lesion id)."""
    out: dict[str, Any] = {}
    if not isinstance(data, dict):
        return out
    lesions = _lesions(assessment.patient_id)
    for item in data.get("results") or []:
        if not isinstance(item, dict):
            continue
        lesion = lesions.get(item.get("lesion")) if isinstance(item.get("lesion"), int) else None
        if lesion is None:
            continue
        for name in ROW_FIELDS:
            if name in item:
                out[f"results.{lesion.lesion_code}.{name}"] = item[name]
    for item in data.get("new_lesions") or []:
        if isinstance(item, dict) and item.get("code"):
            for name in NEW_FIELDS:
                if name in item:
                    out[f"new_lesions.{item['code']}.{name}"] = item[name]
    return out
