"""Per-CRF CSVs (``crf/<slug>.csv``), their child tables, the patient registry and the data dictionary.

They are built from the CRF registry and carry stable keys instead of database ids, so ``manage.py import_study``
can read them back and a re-export gives identical files:

* ``SUBJID``: the study number, or the screening number before registration; ``SCRNO``: the screening number;
* ``FORMSEQ``: the row's rank within the patient's rows of that form (by creation), 1, 2, ...;
* a link to another CRF row becomes ``<slug>:<FORMSEQ>`` of the same patient (``lesion:2``);
  a link to a user becomes the username; a CTCAE term its MedDRA code; a new lesion (form 9) its code (``N1``);
  many-to-many links are ``;``-joined.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext as _

import ruletext
from adverse_events.models import SaeReport
from assessments.models import LesionResult, NewLesion
from reports.exports.common import KEY_COLUMNS, KeyMap, _slug_of_model, to_csv
from sabr_trial.crf import CrfBase, CrfSpec, registry

#: The column of a CRF file that carries its missing-data codes (issue 19 item 9), last: ``ecog=ND;kps=UNK``.
MISSING_COLUMN = "missing_codes"


def export_fields(model: type[models.Model]) -> list[models.Field[Any, Any]]:
    """Data columns of a CRF in form order: every concrete non-lifecycle field (derived ones included), then its
    missing-data codes."""
    skip = {*CrfBase.LIFECYCLE_FIELDS, MISSING_COLUMN}
    fields = [f for f in model._meta.concrete_fields if f.name not in skip] + list(model._meta.many_to_many)
    if any(f.name == MISSING_COLUMN for f in model._meta.concrete_fields):
        fields.append(model._meta.get_field(MISSING_COLUMN))
    return fields


def missing_cell(codes: Any, model: type[models.Model]) -> str:
    """``{field: code}`` as one cell, ``field=CODE`` pairs in form order joined by ``;`` (empty: no code)."""
    if not isinstance(codes, dict) or not codes:
        return ""
    order = {f.name: i for i, f in enumerate(model._meta.concrete_fields)}
    return ";".join(
        f"{name}={codes[name]}" for name in sorted(codes, key=lambda n: (order.get(n, len(order)), n))
    )


def parse_missing_cell(raw: str) -> dict[str, str]:
    """The cell of :func:`missing_cell` back as ``{field: code}``; ValueError naming what is malformed."""
    codes: dict[str, str] = {}
    for part in (p.strip() for p in raw.split(";")):
        if not part:
            continue
        name, sep, code = part.partition("=")
        if not sep or not name.strip() or not code.strip():
            raise ValueError(
                f"malformed missing-data code {part!r}: write field=CODE, e.g. ecog=ND, joined by ';'"
            )
        if name.strip() in codes:
            raise ValueError(f"field {name.strip()!r} has two missing-data codes")
        codes[name.strip()] = code.strip()
    return codes


def _cell(row: models.Model, f: models.Field[Any, Any], keys: KeyMap) -> Any:
    if f.many_to_many and f.related_model is NewLesion:
        return ";".join(sorted(v.code for v in getattr(row, f.name).all()))  # named by code: N1;N2
    if f.many_to_many:
        target = f.related_model
        return ";".join(sorted(keys.ref(target, v.pk) for v in getattr(row, f.name).all()))
    if f.is_relation:
        pk = getattr(row, f.attname)
        if pk is None:
            return ""
        target = f.related_model
        if target._meta.label == settings.AUTH_USER_MODEL or target._meta.model_name == "user":
            return getattr(row, f.name).get_username()
        if target._meta.label == "adverse_events.CtcaeTerm":
            return getattr(row, f.name).meddra_code
        return keys.ref(target, pk)
    value = getattr(row, f.attname)
    if f.name == MISSING_COLUMN:
        return missing_cell(value, type(row))
    if not f.editable and isinstance(value, str):
        return ruletext.render(value)  # a derived rule text stored as a message id: its English sentence
    if isinstance(value, list | dict):
        return ";".join(str(v) for v in value) if isinstance(value, list) else str(value)
    return value


#: Child tables of a CRF (rows without a lifecycle of their own, entered on the parent's page):
#: file stem -> (app label, model name, parent field). Exported as ``crf/<stem>.csv`` and read back by the import.
CHILD_TABLES: dict[str, tuple[type[models.Model], str]] = {
    "lesion-result": (LesionResult, "assessment"),
    "new-lesion": (NewLesion, "assessment"),
    "sae-report": (SaeReport, "adverse_event"),
}
CHILD_KEY_COLUMNS = ["STUDYID", "SUBJID", "SCRNO"]
#: Bookkeeping columns of a child row (who typed it when), not data.
_CHILD_SKIP = {"id", "created_at", "created_by"}


def child_model(stem: str) -> type[models.Model]:
    return CHILD_TABLES[stem][0]


def child_fields(model: type[models.Model]) -> list[models.Field[Any, Any]]:
    """Data columns of a child table: the parent link first, then every concrete field (derived ones included)."""
    return [f for f in model._meta.concrete_fields if f.name not in _CHILD_SKIP]


def child_csv(stem: str, keys: KeyMap) -> bytes:
    """One child table; rows in (subject, parent FORMSEQ, creation) order, the order the import re-creates them."""
    model, parent_field = CHILD_TABLES[stem]
    parent_model = model._meta.get_field(parent_field).related_model
    fields = child_fields(model)
    fk_names = [f.name for f in fields if f.is_relation]
    rows = []
    for row in model.objects.select_related(*fk_names).order_by("pk"):
        parent = getattr(row, parent_field)
        key = [settings.STUDY_ID, keys.subjid[parent.patient_id], keys.scrno[parent.patient_id]]
        rows.append(
            (
                keys.subjid[parent.patient_id],
                keys.seq[(parent_model, parent.pk)],
                row.pk,
                key + [_cell(row, f, keys) for f in fields],
            )
        )
    rows.sort(key=lambda r: (str(r[0]), r[1], r[2]))
    return to_csv(CHILD_KEY_COLUMNS + [f.name for f in fields], (r[3] for r in rows))


def crf_csv(spec: CrfSpec, keys: KeyMap) -> bytes:
    fields = export_fields(spec.model)
    qs = spec.model.objects.all().order_by("patient_id", "pk")
    if spec.model._meta.many_to_many:
        qs = qs.prefetch_related(*[f.name for f in spec.model._meta.many_to_many])
    fk_names = [f.name for f in fields if f.is_relation and not f.many_to_many]
    qs = qs.select_related(*fk_names) if fk_names else qs
    rows = []
    for row in qs:
        key = [
            settings.STUDY_ID,
            keys.subjid[row.patient_id],
            keys.scrno[row.patient_id],
            keys.seq[(spec.model, row.pk)],
            row.status,
        ]
        rows.append(key + [_cell(row, f, keys) for f in fields])
    rows.sort(key=lambda r: (str(r[1]), int(r[3])))
    return to_csv(KEY_COLUMNS + [f.name for f in fields], rows)


def _field_type(f: models.Field[Any, Any]) -> str:
    if f.many_to_many:
        return "multi-reference"
    if f.is_relation:
        return "reference"
    if isinstance(f, models.DateTimeField):
        return "datetime"
    if isinstance(f, models.DateField):
        return "date"
    if isinstance(f, models.DecimalField):
        return f"decimal({f.max_digits},{f.decimal_places})"
    if isinstance(f, models.IntegerField):
        return "integer"
    if isinstance(f, models.BooleanField):
        return "boolean"
    if f.name == MISSING_COLUMN:
        return "missing codes"
    if isinstance(f, models.JSONField):
        return "list"
    if isinstance(f, models.CharField):
        return f"text({f.max_length})"
    return "text"


def _units(f: models.Field[Any, Any]) -> str:
    for suffix, unit in (
        ("_mm", "mm"),
        ("_gy", "Gy"),
        ("_cc", "cm3"),
        ("_mg", "mg"),
        ("_pct", "%"),
        ("_mg_day", "mg/day"),
        ("_kg", "kg"),
    ):
        if f.name.endswith(suffix):
            return unit
    return ""


def _dictionary_row(form: str, f: models.Field[Any, Any]) -> list[Any]:
    choices = "; ".join(str(v) for v, _label in f.choices) if f.choices else ""
    if f.many_to_many and f.related_model is NewLesion:
        choices = "new lesion code (new-lesion.csv code: N1, N2, ...)"
    elif f.is_relation:
        target = f.related_model
        slug = _slug_of_model(target)
        choices = (
            f"{slug}:FORMSEQ"
            if slug
            else (
                "username"
                if target._meta.model_name == "user"
                else "MedDRA LLT code"
                if target._meta.model_name == "ctcaeterm"
                else ""
            )
        )
    required = "N" if (getattr(f, "blank", True) or getattr(f, "null", False)) else "Y"
    derived = "N" if f.editable or f.name == MISSING_COLUMN else "Y"
    spec = registry.get(form) if form in registry else None
    if spec is not None and f.name == MISSING_COLUMN:
        choices = "; ".join(f"{n}: {'/'.join(spec.missing_codes_for(n))}" for n in spec.missing_fields())
    elif spec is not None and spec.missing_codes_for(f.name):
        required = "N"  # may be left empty with a missing-data code
        choices = "; ".join(filter(None, [choices, "missing: " + "/".join(spec.missing_codes_for(f.name))]))
    return [form, f.name, str(f.verbose_name), _field_type(f), choices, _units(f), required, derived]


def dictionary_csv() -> bytes:
    rows: list[list[Any]] = []
    for spec in registry.all():
        for col, label in (
            ("STUDYID", _("Study identifier")),
            ("SUBJID", _("Study number (screening number before registration)")),
            ("SCRNO", _("Screening number")),
            ("FORMSEQ", _("Rank of the row within the patient's rows of this form")),
            ("CRFSTAT", _("CRF lifecycle status")),
        ):
            allowed = "draft; submitted; verified; signed; locked" if col == "CRFSTAT" else ""
            rows.append([spec.slug, col, label, "key", allowed, "", "Y", "N"])
        for f in export_fields(spec.model):
            rows.append(_dictionary_row(spec.slug, f))
    for stem in CHILD_TABLES:
        model = child_model(stem)
        for col, label in (
            ("STUDYID", _("Study identifier")),
            ("SUBJID", _("Study number (screening number before registration)")),
            ("SCRNO", _("Screening number")),
        ):
            rows.append([stem, col, label, "key", "", "", "Y", "N"])
        for f in child_fields(model):
            rows.append(_dictionary_row(stem, f))
    return to_csv(["form", "field", "label", "type", "allowed_values", "units", "required", "derived"], rows)


def patients_csv(keys: KeyMap) -> bytes:
    """The patient registry (not a CRF): screening number, study number and registration date."""
    from enrollment.models import Patient

    rows = [
        [
            settings.STUDY_ID,
            keys.subjid[p.pk],
            p.screening_number,
            p.registration_date,
            p.registered_by.get_username() if p.registered_by else "",
        ]
        for p in Patient.objects.select_related("registered_by").order_by("screening_number")
    ]
    return to_csv(["STUDYID", "SUBJID", "SCRNO", "registration_date", "registered_by"], rows)


def crf_files(keys: KeyMap | None = None) -> dict[str, bytes]:
    """Only the per-CRF CSVs, the patient registry and the dictionary (what ``import_study`` reads back)."""
    keys = keys or KeyMap()
    files = {f"crf/{spec.slug}.csv": crf_csv(spec, keys) for spec in registry.all()}
    files.update({f"crf/{stem}.csv": child_csv(stem, keys) for stem in CHILD_TABLES})
    files["crf/_patients.csv"] = patients_csv(keys)
    files["crf/_dictionary.csv"] = dictionary_csv()
    return files
