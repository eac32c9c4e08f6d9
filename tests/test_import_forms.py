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
from enrollment.models import Patient
from reports import exports
from reports.importer import import_study
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
            call_command("setup_demo", "--generated", "0", stdout=io.StringIO())
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
    # a missing-data code on a field that allows none (issue 19 item 9): refused next to that field
    ("crf/baseline.csv", {"SUBJID": "SR-001"}, {"missing_codes": "sex=UNK"}, "sex", "BASELINE"),
    # a malformed missing-data code cell
    ("crf/baseline.csv", {"SUBJID": "SR-001"}, {"missing_codes": "ecog"}, "missing_codes", "MISSING-CODE"),
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
    line = _line(
        demo_files,
        "crf/tumour-assessment.csv",
        SUBJID=dropped["SUBJID"],
        FORMSEQ=dropped["assessment"].split(":")[1],
    )
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


# --- the importer as a migration tool ------------------------------------------------------------------------------
# Each import of the demo study costs seconds, so each test below checks several rules on one import.


def _lesion_seq(files: dict[str, bytes], subj: str, code: str) -> str:
    lesions = list(csv.DictReader(io.StringIO(files["crf/lesion.csv"].decode())))
    return next(r["FORMSEQ"] for r in lesions if r["SUBJID"] == subj and r["lesion_code"] == code)


def _scrno(files: dict[str, bytes], subj: str) -> str:
    table = list(csv.DictReader(io.StringIO(files["crf/_patients.csv"].decode())))
    return next(r["SCRNO"] for r in table if r["SUBJID"] == subj)


def test_partial_leaves_a_refused_patient_out_whole_with_report_summary_and_snapshot(
    demo_files, tmp_path, capsys
) -> None:
    """SR-002 is refused in its last form (after its assessments): no row of SR-002 is kept. SR-001's irradiated
    bone non-target L4 (24 Gy/1) recorded DISAPPEARED is valid data (CRF-SPEC form 9, EC-TA-1, D12)."""
    from assessments.models import LesionResult
    from endpoints.models import EndpointSnapshot
    from sabr_trial.models import AuditEvent

    line = _line(demo_files, "crf/survival.csv", SUBJID="SR-002")
    edit(demo_files, "crf/survival.csv", _set({"SUBJID": "SR-002"}, contact_date="2025-02-30"))
    l4 = {"SUBJID": "SR-001", "lesion": f"lesion:{_lesion_seq(demo_files, 'SR-001', 'L4')}"}
    edit(demo_files, "crf/lesion-result.csv", _set(l4, result_status="DISAPPEARED", nontarget_state="ABSENT"))
    folder, report = tmp_path / "in", tmp_path / "refused.csv"
    write(folder, demo_files)
    with time_machine.travel(TODAY, tick=False):
        call_command(
            "import_study", str(folder), "--user", "coordinator", "--partial", "--report", str(report)
        )
    rows = list(csv.DictReader(io.StringIO(report.read_text(encoding="utf-8"))))
    assert [(r["file"], r["row"], r["column"], r["rule"], r["value"]) for r in rows] == [
        ("survival.csv", str(line), "contact_date", "DATE-ISO", "2025-02-30")
    ]
    out = capsys.readouterr().out
    assert "skipped patient SR-002: survival.csv" in out and "endpoint snapshot" in out
    assert not Patient.objects.filter(screening_number=_scrno(demo_files, "SR-002")).exists()
    assert not AuditEvent.objects.filter(patient__screening_number=_scrno(demo_files, "SR-002")).exists()
    assert Patient.objects.filter(study_number="SR-003").exists()  # numbers are kept from the file
    kept = list(csv.DictReader(io.StringIO(demo_files["crf/tumour-assessment.csv"].decode())))
    assert TumourAssessment.objects.count() == sum(1 for r in kept if r["SUBJID"] != "SR-002")
    first_l4 = LesionResult.objects.filter(
        assessment__patient__study_number="SR-001", lesion__lesion_code="L4"
    )
    assert first_l4.order_by("assessment__scan_date_first").first().result_status == "DISAPPEARED"
    assert EndpointSnapshot.objects.filter(trigger="import", status=EndpointSnapshot.Status.OK).count() == 1
    assert AuditEvent.objects.filter(action=AuditEvent.Action.IMPORT).count() == 1


def test_dry_run_reports_every_refused_patient_and_writes_nothing(demo_files, tmp_path) -> None:
    """EC-SU-1 (a form rule: radiotherapy names its lesions) and a size status on a non-irradiated non-target."""
    table = list(csv.DictReader(io.StringIO(demo_files["crf/subsequent-therapy.csv"].decode())))
    subj = table[0]["SUBJID"]
    su_line = _line(demo_files, "crf/subsequent-therapy.csv", SUBJID=subj)
    edit(
        demo_files,
        "crf/subsequent-therapy.csv",
        _set({"SUBJID": subj}, therapy_type="RADIOTHERAPY", lesions_treated="", local_on_protocol="Y"),
    )
    l5 = {"SUBJID": "SR-002", "lesion": f"lesion:{_lesion_seq(demo_files, 'SR-002', 'L5')}"}
    lr_line = _line(demo_files, "crf/lesion-result.csv", **l5)
    edit(demo_files, "crf/lesion-result.csv", _set(l5, result_status="DISAPPEARED", nontarget_state="ABSENT"))
    result = run(tmp_path, demo_files, dry_run=True, partial=True)
    found = [(p.file, p.row, p.column, p.rule) for p in result.problems]
    assert ("subsequent-therapy.csv", su_line, "lesions_treated", "EC-SU-1") in found
    assert ("lesion-result.csv", lr_line, "result_status", "R1.8") in found  # the message cites R1.8
    assert set(result.skipped_patients) == {subj, "SR-002"} and not result.committed
    assert (
        result.created["patients"]
        == len(list(csv.DictReader(io.StringIO(demo_files["crf/_patients.csv"].decode())))) - 2
    )
    assert Patient.objects.count() == 0


FILE_REFUSALS = [
    ("crf/axitinib.csv", "dose_mg_typo", "UNKNOWN-COLUMN"),
    ("crf/consent.csv", "-FORMSEQ", "REQUIRED-COLUMN"),
    ("crf/_patients.csv", "-SCRNO", "REQUIRED-COLUMN"),
    ("crf/lesion-result.csv", "colour", "UNKNOWN-COLUMN"),
]


@pytest.mark.parametrize(("name", "column", "rule"), FILE_REFUSALS)
def test_a_file_with_a_bad_header_is_refused_before_any_row(demo_files, tmp_path, name, column, rule) -> None:
    table = list(csv.DictReader(io.StringIO(demo_files[name].decode())))
    for row in table:
        if column.startswith("-"):
            del row[column[1:]]
        else:
            row[column] = "x"
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(table[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(table)
    demo_files[name] = buf.getvalue().encode()
    result = run(tmp_path, demo_files)
    assert (name[4:], 1, column.lstrip("-"), rule) in [
        (p.file, p.row, p.column, p.rule) for p in result.problems
    ]
    assert not result.committed and Patient.objects.count() == 0


def test_a_file_that_is_not_utf8_is_refused(demo_files, tmp_path) -> None:
    demo_files["crf/medical-history.csv"] = demo_files["crf/medical-history.csv"] + "Sjögren\n".encode(
        "latin-1"
    )
    result = run(tmp_path, demo_files)
    assert [(p.file, p.rule) for p in result.problems] == [("medical-history.csv", "ENCODING")]
    assert "UTF-8" in result.problems[0].message and Patient.objects.count() == 0


def test_an_unknown_code_is_refused_before_any_row_with_row_column_and_value(demo_files, tmp_path) -> None:
    line = _line(demo_files, "crf/adverse-event.csv", SUBJID="SR-003")
    edit(demo_files, "crf/adverse-event.csv", _set({"SUBJID": "SR-003"}, rel_sabr="MAYBE"))
    result = run(tmp_path, demo_files, partial=True)
    assert [(p.file, p.row, p.column, p.rule, p.value) for p in result.problems] == [
        ("adverse-event.csv", line, "rel_sabr", "CODE-LIST", "MAYBE")
    ]
    assert not result.committed and Patient.objects.count() == 0


def test_a_study_lock_refuses_the_import_with_a_message(demo_files, tmp_path, capsys) -> None:
    from django.core.management.base import CommandError

    from sabr_trial.models import StudyLock

    StudyLock.objects.create(
        locked_by=get_user_model().objects.get(username="datamanager"), reason="analysis"
    )
    write(tmp_path, demo_files)
    with time_machine.travel(TODAY, tick=False), pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_study", str(tmp_path), "--user", "coordinator")
    assert "the study is locked" in capsys.readouterr().err and Patient.objects.count() == 0


def test_reimport_changes_nothing_update_changes_one_row_and_respects_a_lock(demo_files, tmp_path) -> None:
    from sabr_trial.models import AuditEvent
    from sabr_trial.services import patient_lock
    from treatment.models import AxitinibPeriod

    assert run(tmp_path, demo_files).committed
    n = len(list(csv.DictReader(io.StringIO(demo_files["crf/_patients.csv"].decode()))))

    def state() -> tuple[int, ...]:
        return (
            Patient.objects.count(),
            TumourAssessment.history.count(),
            AxitinibPeriod.history.count(),
            AuditEvent.objects.filter(action=AuditEvent.Action.UPDATE).count(),
        )

    before = state()
    again = run(tmp_path, demo_files)  # an existing patient is refused, never duplicated
    assert not again.committed and [p.rule for p in again.problems] == ["EXISTS"] * n and state() == before
    unchanged = run(tmp_path, demo_files, update=True)
    assert unchanged.committed and not unchanged.problems and not any(unchanged.updated.values())
    assert state() == before and sum(unchanged.created.values()) == 0

    edit(demo_files, "crf/axitinib.csv", _set({"SUBJID": "SR-001", "FORMSEQ": "1"}, missed_doses="3"))
    changed = run(tmp_path, demo_files, update=True)
    assert changed.committed and not changed.problems and dict(changed.updated) == {"axitinib": 1}
    period = AxitinibPeriod.objects.filter(patient__study_number="SR-001").order_by("pk").first()
    assert (period.missed_doses, period.version) == (3, 2)
    assert period.history.first().history_change_reason == "imported from axitinib.csv"
    assert state() == (before[0], before[1], before[2] + 1, before[3] + 1)

    patient = Patient.objects.get(study_number="SR-001")
    with time_machine.travel(TODAY, tick=False):
        patient_lock(
            patient=patient, acting_user=get_user_model().objects.get(username="datamanager"), reason="x"
        )
    edit(demo_files, "crf/axitinib.csv", _set({"SUBJID": "SR-001", "FORMSEQ": "1"}, missed_doses="5"))
    locked = run(tmp_path, demo_files, update=True)
    assert [(p.file, p.rule, p.subject) for p in locked.problems] == [("axitinib.csv", "LOCK", "SR-001")]
    assert "locked" in locked.problems[0].message.lower() and not locked.committed
    assert AxitinibPeriod.objects.filter(patient=patient).order_by("pk").first().missed_doses == 3


def test_a_study_lock_taken_by_another_session_during_the_import_refuses_it(demo_files, tmp_path) -> None:
    """A batch reads the study and casebook locks of new rows once per patient (sabr_trial.services._refuse_if_held);
    before its commit the import reads them again, so a lock committed meanwhile by another session (here: a row
    written without this process's post_save, as another connection's would be) still refuses every patient."""
    from django.db.models.signals import post_save

    from sabr_trial.models import StudyLock

    manager = get_user_model().objects.get(username="datamanager")

    def lock_once(sender: Any, **kwargs: Any) -> None:
        if not StudyLock.objects.exists():
            StudyLock.objects.bulk_create([StudyLock(locked_by=manager, reason="analysis")])

    post_save.connect(lock_once, sender=SabrFraction, dispatch_uid="test_lock_meanwhile")
    try:
        result = run(tmp_path, demo_files)
    finally:
        post_save.disconnect(sender=SabrFraction, dispatch_uid="test_lock_meanwhile")
    assert not result.committed and Patient.objects.count() == 0
    subjects = {r["SUBJID"] for r in csv.DictReader(io.StringIO(demo_files["crf/_patients.csv"].decode()))}
    assert {p.subject for p in result.problems if p.rule == "LOCK"} == subjects
    # a patient whose lock read the batch kept, with no row after the lock, is refused by the reading before the commit
    assert [p for p in result.problems if p.file == "" and "locked for analysis" in p.message]
