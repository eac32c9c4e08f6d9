"""What every export file shares: the cell format, the CSV writer and the stable keys of patients and CRF rows."""

from __future__ import annotations

import csv
import datetime
import io
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any

from django.db import models
from django.utils import timezone

from sabr_trial.crf import registry

Progress = Callable[[str, int], None]
Row = dict[str, Any]

KEY_COLUMNS = ["STUDYID", "SUBJID", "SCRNO", "FORMSEQ", "CRFSTAT"]

#: Responses ranked as ADRS AVAL (R1.23 order; 7 = no assessment).
RESPONSE_RANK = {"CR": 1, "PR": 2, "SD": 3, "NON-CR/NON-PD": 4, "PD": 5, "NE": 6, None: 7}


def _noop(stage: str, pct: int) -> None:
    return None


def fmt(value: Any) -> str:
    """One CSV cell: ISO dates, plain decimals, empty for None."""
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        return (
            timezone.localtime(value).isoformat(timespec="seconds")
            if timezone.is_aware(value)
            else value.isoformat()
        )
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, bool):
        return "Y" if value else "N"
    if isinstance(value, list | tuple):
        return ";".join(str(v) for v in value)
    return str(value)


#: Cell starts a spreadsheet reads as a formula (OWASP "CSV injection"), and the escape character itself, so that
#: ``restore_cell`` can undo ``neutralise_cell`` exactly.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")
#: A plain number is data, not a formula: ``-1.5`` or ``+3`` open as numbers and are written unchanged.
NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def neutralise_cell(text: str) -> str:
    """A CSV cell safe to open in a spreadsheet: text starting with = + - @ tab or CR (or the escape ') gets a
    leading ', which a spreadsheet shows as text and never evaluates; numbers stay as they are."""
    if text.startswith(FORMULA_STARTS) and not NUMBER.match(text):
        return "'" + text
    return text


def restore_cell(text: str) -> str:
    """The value ``neutralise_cell`` was given (what the import reads back)."""
    return text[1:] if text.startswith("'") else text


def to_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """UTF-8 CSV, every cell through ``fmt`` and ``neutralise_cell``."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([neutralise_cell(fmt(v)) for v in row])
    return buf.getvalue().encode("utf-8")


def _slug_of_model(model: type[models.Model]) -> str | None:
    try:
        return registry.for_model(model).slug
    except KeyError:
        return None


class KeyMap:
    """(model, pk) -> stable ``slug:FORMSEQ`` per patient, and patient id -> SUBJID."""

    def __init__(self) -> None:
        from enrollment.models import Patient

        self.subjid: dict[int, str] = {}
        self.scrno: dict[int, str] = {}
        for pk, scr, study in Patient.objects.values_list("pk", "screening_number", "study_number"):
            self.subjid[pk] = study or scr
            self.scrno[pk] = scr
        self.seq: dict[tuple[type[models.Model], int], int] = {}
        for spec in registry.all():
            counters: dict[int, int] = defaultdict(int)
            for pk, patient_id in spec.model.objects.order_by("patient_id", "pk").values_list(
                "pk", "patient_id"
            ):
                counters[patient_id] += 1
                self.seq[(spec.model, pk)] = counters[patient_id]

    def ref(self, model: type[models.Model], pk: int | None) -> str:
        if pk is None:
            return ""
        slug = _slug_of_model(model)
        if slug is None:
            return str(pk)
        return f"{slug}:{self.seq.get((model, pk), '')}"
