"""SAS transport (XPT version 5) files of the SDTM and ADaM data sets, written by pyreadstat from the metadata tables:
data set name and label, variable labels, character or numeric type, DATE9. for ADaM dates. Character lengths are
the longest value of each variable (at least 1), as the FDA's technical conformance guide asks."""

from __future__ import annotations

import datetime
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

from reports.exports.common import fmt
from reports.exports.metadata import Dataset, Variable


def _number(value: Any) -> float:
    if value is None or value == "":
        return float("nan")
    return float(Decimal(str(value)))


def _date(value: Any) -> datetime.date | None:
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str) and len(value) >= 10:
        return datetime.date.fromisoformat(value[:10])
    return None


def column(v: Variable, values: list[Any]) -> list[Any]:
    """One variable's values as XPT stores them: floats (NaN = missing), dates, or text ('' = missing)."""
    if v.display_format == "DATE9.":
        return [_date(x) for x in values]
    if v.numeric:
        return [_number(x) for x in values]
    return [fmt(x) for x in values]


def write_xpt(ds: Dataset, header: list[str], rows: list[list[Any]]) -> bytes:
    """The XPT v5 file of one data set; ``rows`` in ``header`` order (the data set's metadata columns)."""
    import pandas as pd
    import pyreadstat

    variables = [ds.variable(name) for name in header]
    data = {v.name: column(v, [r[i] for r in rows]) for i, v in enumerate(variables)}
    frame = pd.DataFrame({name: pd.Series(values, dtype=object) for name, values in data.items()})
    for v in variables:
        if v.numeric and v.display_format != "DATE9.":
            frame[v.name] = frame[v.name].astype(float)
    formats = {v.name: "DATE9" for v in variables if v.display_format == "DATE9."}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{ds.name.lower()}.xpt"
        pyreadstat.write_xport(
            frame,
            str(path),
            file_label=ds.label,
            column_labels=[v.label for v in variables],
            table_name=ds.name,
            file_format_version=5,
            variable_format=formats,
        )
        return path.read_bytes()
