"""Conformance of the SDTM and ADaM data sets against their metadata tables (``metadata.py``).

Checks, per data set: every Req and Exp variable present (and nothing the metadata does not declare); Req values
never null; values of a variable with a codelist among its CDISC terms or the declared sponsor extensions; --DTC
values in ISO 8601; --SEQ unique per subject; --DY/--STDY/--ENDY equal to the study day of their date from
DM.RFSTDTC (SDTMIG 3.4 section 4.4.4), and declared wherever --DTC/--STDTC/--ENDTC is (FDA business rule FDAB032,
CDISC CORE CORE-000328/CORE-000776); names <= 8 characters, labels <= 40 characters in title case; character
values within the declared length and numeric values numeric. Pure: no Django import, so ``bench/sdtm_check.py`` and
the tests call the same rules on any set of tables.
"""

from __future__ import annotations

import csv
import datetime
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from reports.exports.metadata import ADAM, CODELISTS, MAX_LABEL, MAX_NAME, SDTM, Dataset, is_title_case

#: ISO 8601 date, partial date or date-time with an optional offset (SDTMIG 3.4 section 4.4.2).
ISO_8601 = re.compile(r"^\d{4}(-\d{2}(-\d{2}(T\d{2}(:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$")


@dataclass(frozen=True, order=True)
class Finding:
    dataset: str
    variable: str
    rule: str
    message: str
    row: int = 0

    def __str__(self) -> str:
        where = f"{self.dataset}.{self.variable}" + (f" row {self.row}" if self.row else "")
        return f"{where}: [{self.rule}] {self.message}"


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _date(text: str) -> datetime.date | None:
    if len(text) < 10:
        return None
    try:
        return datetime.date.fromisoformat(text[:10])
    except ValueError:
        return None


def _study_day(day: datetime.date, origin: datetime.date) -> int:
    delta = (day - origin).days
    return delta + 1 if delta >= 0 else delta


def check_metadata(ds: Dataset) -> list[Finding]:
    """Findings of the metadata itself: names, labels."""
    out = []
    if len(ds.label) > MAX_LABEL:
        out.append(Finding(ds.name, "", "LABEL", f"data set label longer than {MAX_LABEL}: {ds.label!r}"))
    for v in ds.variables:
        if len(v.name) > MAX_NAME:
            out.append(Finding(ds.name, v.name, "NAME", f"variable name longer than {MAX_NAME} characters"))
        if len(v.label) > MAX_LABEL:
            out.append(Finding(ds.name, v.name, "LABEL", f"label of {len(v.label)} characters: {v.label!r}"))
        if not is_title_case(v.label):
            out.append(Finding(ds.name, v.name, "LABEL", f"label not in title case: {v.label!r}"))
        if v.codelist and v.codelist not in CODELISTS:
            out.append(Finding(ds.name, v.name, "CODELIST", f"unknown codelist {v.codelist}"))
    names = set(ds.columns)
    for dtc in (f"{ds.name}DTC", f"{ds.name}STDTC", f"{ds.name}ENDTC"):
        if dtc in names and f"{dtc[:-3]}DY" not in names:
            out.append(
                Finding(ds.name, f"{dtc[:-3]}DY", "TIMING", f"study day of {dtc} not declared (FDAB032)")
            )
    return out


def check_dataset(
    ds: Dataset,
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    reference_starts: dict[str, datetime.date | None] | None = None,
) -> list[Finding]:
    """Findings of one data set: ``header`` as written, ``rows`` in that column order (values or their CSV text);
    ``reference_starts`` maps USUBJID to DM.RFSTDTC for the --DY check."""
    out = check_metadata(ds)
    declared = ds.columns
    for v in ds.variables:
        if v.core in ("Req", "Exp") and v.name not in header:
            out.append(Finding(ds.name, v.name, "PRESENT", f"{v.core} variable missing"))
    for name in header:
        if name not in declared:
            out.append(Finding(ds.name, name, "DECLARED", "variable not in the metadata"))
    index = {name: i for i, name in enumerate(header)}
    variables = [v for v in ds.variables if v.name in index]
    seq = next((v.name for v in variables if v.name.endswith("SEQ") and len(v.name) == 5), None)
    seen: set[tuple[str, str]] = set()
    days = [
        (v.name, v.name[:-2] + "DTC")
        for v in variables
        if v.name.endswith("DY") and v.numeric and v.name[:-2] + "DTC" in index
    ]
    # --SEQ is unique per subject; TSSEQ per trial summary parameter
    seq_scope = "USUBJID" if "USUBJID" in index else "TSPARMCD" if "TSPARMCD" in index else ""
    for n, row in enumerate(rows, start=1):
        values = {v.name: _text(row[index[v.name]]) for v in variables}
        for v in variables:
            value = values[v.name]
            if not value:
                if v.core == "Req":
                    out.append(Finding(ds.name, v.name, "REQUIRED", "null value of a Req variable", n))
                continue
            if v.numeric and not v.display_format:
                try:
                    number = Decimal(value)
                except InvalidOperation:
                    out.append(Finding(ds.name, v.name, "NUMERIC", f"not a number: {value!r}", n))
                    continue
                if v.data_type == "integer" and number != number.to_integral_value():
                    out.append(Finding(ds.name, v.name, "INTEGER", f"not an integer: {value!r}", n))
            elif not v.numeric and len(value.encode("utf-8")) > v.length:
                out.append(Finding(ds.name, v.name, "LENGTH", f"{len(value)} characters > {v.length}", n))
            if v.codelist and CODELISTS.get(v.codelist) and value not in CODELISTS[v.codelist].allowed:
                out.append(Finding(ds.name, v.name, "CT", f"{value!r} not in codelist {v.codelist}", n))
            is_date = v.name.endswith("DTC") or v.display_format == "DATE9."
            if is_date and not ISO_8601.match(value):
                out.append(Finding(ds.name, v.name, "ISO8601", f"not ISO 8601: {value!r}", n))
        if seq:
            key = (values.get(seq_scope, ""), values[seq])
            if key in seen:
                out.append(Finding(ds.name, seq, "SEQ", f"{seq} {key[1]} repeated for {key[0]}", n))
            seen.add(key)
        if reference_starts is not None:
            origin = reference_starts.get(values.get("USUBJID", ""))
            for dy, dtc in days:
                day = _date(values.get(dtc, ""))
                expected = str(_study_day(day, origin)) if day and origin else ""
                if values[dy] != expected:
                    out.append(
                        Finding(ds.name, dy, "STUDYDAY", f"{values[dy] or 'null'} != {expected or 'null'}", n)
                    )
    return out


def reference_starts(
    dm_header: Sequence[str], dm_rows: Iterable[Sequence[Any]]
) -> dict[str, datetime.date | None]:
    """USUBJID -> RFSTDTC as a date, from DM."""
    u, rf = dm_header.index("USUBJID"), dm_header.index("RFSTDTC")
    return {_text(r[u]): _date(_text(r[rf])) for r in dm_rows}


def _read_csv(data: bytes) -> tuple[list[str], list[list[str]]]:
    from reports.exports.common import restore_cell

    rows = list(csv.reader(io.StringIO(data.decode("utf-8"))))
    return rows[0], [[restore_cell(c) for c in r] for r in rows[1:]]


def check_files(files: dict[str, bytes]) -> list[Finding]:
    """Every SDTM and ADaM CSV of an export (``sdtm/<name>.csv``, ``adam/<name>.csv``) against its metadata; a
    data set of the metadata without its file is a finding too."""
    out: list[Finding] = []
    starts: dict[str, datetime.date | None] | None = None
    if "sdtm/dm.csv" in files:
        starts = reference_starts(*_read_csv(files["sdtm/dm.csv"]))
    for folder, datasets in (("sdtm", SDTM), ("adam", ADAM)):
        for name, ds in datasets.items():
            path = f"{folder}/{name.lower()}.csv"
            if path not in files:
                out.append(Finding(name, "", "FILE", f"{path} missing"))
                continue
            header, rows = _read_csv(files[path])
            out.extend(check_dataset(ds, header, rows, starts if folder == "sdtm" else None))
    return out
