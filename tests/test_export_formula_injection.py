"""CSV formula injection (issue 16 item 7): a cell a spreadsheet would evaluate (= + - @ tab CR) is written with a
leading ', numbers stay numbers, and the import's reading restores every value exactly."""

from __future__ import annotations

import csv
import io

import pytest

from enrollment.models import MedicalHistory
from reports.exports import neutralise_cell, restore_cell
from tests import test_export_sdtm_more as base
from tests.factories_adverse_events import AdverseEventFactory
from tests.factories_treatment import days_ago

study = base.study


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("-2+3", "'-2+3"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("'quoted", "''quoted"),  # the escape character itself, so restoring is exact
        ("-", "'-"),
        ("-1.5", "-1.5"),  # a number is data: it opens as a number, not a formula
        ("+3", "+3"),
        ("-3", "-3"),
        ("1e-5", "1e-5"),
        ("Fatigue", "Fatigue"),
        ("", ""),
    ],
)
def test_neutralise_and_restore(value: str, written: str) -> None:
    assert neutralise_cell(value) == written
    assert restore_cell(written) == value


@pytest.mark.django_db
def test_crf_and_sdtm_files_carry_no_live_formula(study) -> None:
    p = study["p"]  # alive until day 50
    AdverseEventFactory(
        patient=p,
        verbatim='=HYPERLINK("http://evil.example","x")',
        onset_date=base._day(study["r"], 9),
        acn_sabr="DOSE NOT CHANGED",
    )
    MedicalHistory.objects.create(
        patient=p,
        mh_term="+cmd|' /C calc'!A0",
        mh_category="OTHER",
        start_date="2020",
        ongoing="N",
        end_date="2021",
        systemic_tx_needed="N",
    )
    files = {
        **base.exports.crf_files(),
        **base.exports.sdtm_files(
            days_ago(0), base.run_recompute(trigger="test", cutoff=days_ago(0)), base.exports.KeyMap()
        ),
    }
    cells = {
        name: [c for row in csv.reader(io.StringIO(data.decode())) for c in row]
        for name, data in files.items()
        if name.endswith(".csv")
    }
    live = [(n, c) for n, cs in cells.items() for c in cs if c[:1] in ("=", "+", "@", "\t", "\r")]
    live += [
        (n, c)
        for n, cs in cells.items()
        for c in cs
        if c.startswith("-") and not base.exports.NUMBER.match(c)
    ]
    assert not live, live[:5]
    assert '\'=HYPERLINK("http://evil.example","x")' in cells["crf/adverse-event.csv"]
    assert "'+cmd|' /C calc'!A0" in cells["crf/medical-history.csv"]
    assert '\'=HYPERLINK("http://evil.example","x")' in cells["sdtm/ae.csv"]
    assert "'+cmd|' /C calc'!A0" in cells["sdtm/mh.csv"]
    assert any(
        c.startswith("-") for c in cells["sdtm/ds.csv"]
    )  # DSSTDY of the consent: a negative number kept
