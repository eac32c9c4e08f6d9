"""Import of the assessment and treatment forms: refused rows are reported by file, row, column and rule and
nothing is written; --partial keeps the other patients. The input is the export of the completed demo study
(tests/test_import_roundtrip.py), built once and imported into an empty database by each test."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core.management import call_command

from assessments.models import Lesion, TumourAssessment
from endpoints import exports
from endpoints.importer import import_study
from enrollment.models import Patient
from tests.test_exports import wipe_study, write
from tests.test_import_roundtrip import TODAY, complete_demo
from treatment.models import SabrFraction

pytestmark = pytest.mark.django_db

_FILES: dict[str, bytes] = {}


@pytest.fixture
def demo_files() -> dict[str, bytes]:
    """The crf/ files of the completed demo study (computed once per test session), and the demo users."""
    with time_machine.travel(TODAY, tick=False):
        if not _FILES:
            call_command("setup_demo", stdout=io.StringIO())
            complete_demo()
            _FILES.update(exports.crf_files())
            wipe_study()
        else:
            call_command("setup_demo", "--no-data", stdout=io.StringIO())
    return dict(_FILES)


def edit(
    files: dict[str, bytes], name: str, change: Callable[[list[dict[str, str]]], list[dict[str, str]]]
) -> int:
    """Rewrite one file with ``change`` applied to its rows; returns the new row count."""
    table = list(csv.DictReader(io.StringIO(files[name].decode())))
    header = list(table[0])
    table = change(table)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(table)
    files[name] = buf.getvalue().encode()
    return len(table)


def run(tmp_path, files: dict[str, bytes], **kw: Any):
    write(tmp_path, files)
    with time_machine.travel(TODAY, tick=False):
        return import_study(tmp_path, user=get_user_model().objects.get(username="coordinator"), **kw)


def first_row(table: list[dict[str, str]], **match: str) -> int:
    return next(i for i, r in enumerate(table) if all(r[k] == v for k, v in match.items()))


def _set(match: dict[str, str], **values: str) -> Callable[[list[dict[str, str]]], list[dict[str, str]]]:
    def change(table: list[dict[str, str]]) -> list[dict[str, str]]:
        table[first_row(table, **match)].update(values)
        return table

    return change


def _line(files: dict[str, bytes], name: str, **match: str) -> int:
    """Spreadsheet line number (header = 1) of the first row matching ``match``."""
    return first_row(list(csv.DictReader(io.StringIO(files[name].decode()))), **match) + 2


CASES = [
    # a target measured without a value: the grid's row form refuses it (EC-TA-1)
    ("crf/lesion-result.csv", {"result_status": "MEASURED"}, {"value_mm": ""}, "value_mm", "EC-TA-1"),
    # an unknown code in a new lesion
    ("crf/new-lesion.csv", {"SUBJID": "SR-001"}, {"organ": "SPLEEN"}, "organ", "CODE-LIST"),
    # a SABR target naming a lesion that does not exist
    ("crf/sabr-target.csv", {"SUBJID": "SR-001"}, {"lesion": "lesion:99"}, "lesion", "REFERENCE"),
    # a malformed dose
    ("crf/sabr-fraction.csv", {"SUBJID": "SR-001"}, {"dose_delivered_gy": "10,0"}, "dose_delivered_gy", "NUMBER"),
    # a malformed date
    ("crf/axitinib.csv", {"SUBJID": "SR-002"}, {"start_date": "2025-13-01"}, "start_date", "DATE-ISO"),
    # an unknown infusion status
    ("crf/toripalimab.csv", {"SUBJID": "SR-001"}, {"infusion_status": "SKIPPED"}, "infusion_status", "CODE-LIST"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "match", "values", "column", "rule"), CASES)
def test_a_refused_row_names_file_row_column_rule_and_nothing_is_written(
    demo_files, tmp_path, name, match, values, column, rule
) -> None:
    line = _line(demo_files, name, **match)
    edit(demo_files, name, _set(match, **values))
    result = run(tmp_path, demo_files)
    found = [(p.file, p.row, p.column, p.rule) for p in result.problems]
    assert (name[4:], line, column, rule) in found, [str(p) for p in result.problems]
    assert not result.committed
    assert Patient.objects.count() == Lesion.objects.count() == SabrFraction.objects.count() == 0


def test_a_missing_lesion_row_refuses_the_time_point(demo_files, tmp_path) -> None:
    """EC-TA-1: with imaging done, every registered lesion has one row at the time point."""
    table = list(csv.DictReader(io.StringIO(demo_files["crf/lesion-result.csv"].decode())))
    dropped = table[0]
    edit(demo_files, "crf/lesion-result.csv", lambda t: t[1:])
    result = run(tmp_path, demo_files)
    line = _line(demo_files, "crf/tumour-assessment.csv", SUBJID=dropped["SUBJID"],
                 FORMSEQ=dropped["assessment"].split(":")[1])  # fmt: skip
    assert ("tumour-assessment.csv", line, "", "EC-TA-1") in [
        (p.file, p.row, p.column, p.rule) for p in result.problems
    ]
    assert not result.committed and TumourAssessment.objects.count() == 0


def test_partial_import_skips_the_refused_patient_only(demo_files, tmp_path) -> None:
    edit(demo_files, "crf/sabr-target.csv", _set({"SUBJID": "SR-002"}, lesion="lesion:99"))
    result = run(tmp_path, demo_files, partial=True)
    assert result.committed and {p.file for p in result.problems} == {"sabr-target.csv"}
    assert not SabrFraction.objects.filter(patient__study_number="SR-002").exists()
    kept = list(csv.DictReader(io.StringIO(demo_files["crf/sabr-fraction.csv"].decode())))
    assert SabrFraction.objects.count() == sum(1 for r in kept if r["SUBJID"] != "SR-002")
    assert TumourAssessment.objects.filter(patient__study_number="SR-001").exists()


def test_command_lists_every_refusal(demo_files, tmp_path, capsys) -> None:
    from django.core.management.base import CommandError

    edit(demo_files, "crf/new-lesion.csv", _set({"SUBJID": "SR-001"}, first_seen_date="31/12/2025"))
    write(tmp_path, demo_files)
    with time_machine.travel(TODAY, tick=False), pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_study", str(tmp_path), "--user", "coordinator")
    line = _line(demo_files, "crf/new-lesion.csv", SUBJID="SR-001")
    assert f"new-lesion.csv row {line} column first_seen_date: [DATE-ISO]" in capsys.readouterr().err
