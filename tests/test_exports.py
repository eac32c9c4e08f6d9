"""Data export zip (per-CRF CSV + dictionary, SDTM, ADaM), casebook PDF, and the import round trip with
bad-input reports (file, row, column, rule) leaving the database unchanged."""

from __future__ import annotations

import contextlib
import csv
import datetime
import io
import subprocess
import zipfile

import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import ProtectedError
from django.urls import reverse

from adverse_events.models import AdverseEvent
from endpoints.models import Job
from enrollment.models import MedicalHistory, Patient
from reports import exports, jobs
from reports.importer import import_study
from sabr_trial.crf import CrfStatus
from sabr_trial.services import crf_create
from tests.factories_adverse_events import ALT_INCREASED, FATIGUE, term
from tests.factories_enrollment import TODAY, baseline, registered, screen
from tests.factories_reports import synthetic_study


@pytest.fixture(autouse=True)
def _tasks_in_process(tasks_in_process):
    """CI sets a broker; these tests build in-process (see tests/conftest.py)."""


pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def inline_jobs(monkeypatch, settings, tmp_path):
    monkeypatch.setattr(jobs, "RUN_IN_THREAD", False)
    settings.MEDIA_ROOT = tmp_path / "media"


def rows_of(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode())))


def _ae(patient, user, code=FATIGUE, grade=2, **extra):
    data = {
        "ctcae_term": term(code),
        "grade": grade,
        "onset_date": TODAY - datetime.timedelta(days=3),
        "ongoing": "Y",
        "serious": "N",
        "aesdth": "N",
        "aeslife": "N",
        "aeshosp": "N",
        "aesdisab": "N",
        "aescong": "N",
        "aesmie": "N",
        "rel_sabr": "NOT APPLICABLE",
        "rel_axitinib": "NOT APPLICABLE",
        "rel_toripalimab": "NOT APPLICABLE",
        "immune_related": "N",
        "acn_axitinib": "NOT APPLICABLE",
        "acn_toripalimab": "NOT APPLICABLE",
        "acn_sabr": "NOT APPLICABLE",
        "treatment_given": "N",
        **extra,
    }
    return crf_create(
        model=AdverseEvent, patient=patient, data=data, acting_user=user, status=CrfStatus.SUBMITTED
    )


@pytest.fixture
def study(coordinator, investigator):
    """Two registered patients (baseline, history, AEs) and one screened-only patient, through the services."""
    p1 = registered(coordinator, investigator)
    p2 = registered(coordinator, investigator)
    screen(coordinator, days_ago=2)
    baseline(p1, coordinator)
    baseline(p2, coordinator, sex="F", ecog=0, kps=90)
    crf_create(
        model=MedicalHistory,
        patient=p1,
        acting_user=coordinator,
        status=CrfStatus.SUBMITTED,
        data={
            "mh_term": "Hypertension",
            "mh_category": "CARDIOVASCULAR",
            "start_date": "2019-03",
            "ongoing": "Y",
            "end_date": "",
            "baseline_grade": 1,
            "systemic_tx_needed": "N",
        },
    )
    _ae(p1, coordinator)
    _ae(p2, coordinator, code=ALT_INCREASED, grade=3)
    return [p1, p2]


def test_export_job_zip_has_every_file_with_cdisc_columns(
    study, as_data_manager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        as_data_manager.post(reverse("reports:report_start"), {"kind": "export", "cutoff": TODAY.isoformat()})
    job = Job.objects.get()
    assert job.state == "done", job.error
    zf = zipfile.ZipFile(jobs.media_path(job.file_path))
    names = set(zf.namelist())
    assert {
        "crf/screening.csv",
        "crf/adverse-event.csv",
        "crf/_dictionary.csv",
        "crf/_patients.csv",
        "sdtm/dm.csv",
        "sdtm/ds.csv",
        "sdtm/ex.csv",
        "sdtm/ae.csv",
        "sdtm/tu.csv",
        "sdtm/tr.csv",
        "sdtm/rs.csv",
        "adam/adsl.csv",
        "adam/adtte.csv",
        "adam/adrs.csv",
    } <= names
    dm = rows_of(zf.read("sdtm/dm.csv"))
    assert [r["ARMCD"] for r in dm].count("SCRNFAIL") == 0 and len(dm) == 3
    assert set(dm[0]) >= {
        "STUDYID",
        "DOMAIN",
        "USUBJID",
        "SUBJID",
        "RFICDTC",
        "BRTHDTC",
        "AGE",
        "SEX",
        "ARMCD",
    }
    ae = rows_of(zf.read("sdtm/ae.csv"))
    assert sorted(r["AETOXGR"] for r in ae) == ["2", "3"] and {r["AESEQ"] for r in ae} == {"1"}
    assert set(
        rows_of(zf.read("adam/adtte.csv"))[0] if rows_of(zf.read("adam/adtte.csv")) else exports.ADTTE_COLS
    ) >= {"PARAMCD", "AVAL", "CNSR", "STARTDT", "ADT", "EVNTDESC", "CNSDTDSC"}
    adsl = rows_of(zf.read("adam/adsl.csv"))
    assert len(adsl) == 2 and {"SAFFL", "MDISFL", "RSEVFL", "IMDCGR", "CUTOFFDT"} <= set(adsl[0])
    dictionary = rows_of(zf.read("crf/_dictionary.csv"))
    grade = next(r for r in dictionary if r["form"] == "adverse-event" and r["field"] == "grade")
    assert grade["type"] == "integer" and grade["allowed_values"] == "1; 2; 3; 4; 5"
    assert next(r for r in dictionary if r["field"] == "baseline_value_mm")["units"] == "mm"


def test_adtte_rows_from_the_snapshot(data_manager):
    snap = synthetic_study(5)
    rows = rows_of(exports.adam_adtte(snap, exports.KeyMap()))
    params = {r["PARAMCD"] for r in rows}
    assert params == {"PFS1", "PFS2", "OS", "LC", "LCLES"}
    pfs1 = [r for r in rows if r["PARAMCD"] == "PFS1"]
    snap_pfs1 = [p["pfs1"] for p in snap.patient_rows()]
    assert sorted((int(r["AVAL"]), int(r["CNSR"])) for r in pfs1) == sorted(
        (t["days"], t["cnsr"]) for t in snap_pfs1
    )
    assert all(r["EVNTDESC"] if r["CNSR"] == "0" else r["CNSDTDSC"] for r in rows)


def test_casebook_pdf_has_values_history_and_signature_sections(
    study, as_investigator, as_monitor, as_coordinator, django_capture_on_commit_callbacks
):
    p1 = study[0]
    for refused in (as_monitor, as_coordinator):  # DESIGN.md: investigators and data managers build PDFs
        assert (
            refused.post(reverse("reports:report_start"), {"kind": "casebook", "patient": p1.pk}).status_code
            == 403
        )
    assert not Job.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = as_investigator.post(
            reverse("reports:report_start"), {"kind": "casebook", "patient": p1.pk}
        )
    job = Job.objects.get()
    assert response.status_code == 302 and job.state == "done", job.error
    text = subprocess.run(
        ["pdftotext", str(jobs.media_path(job.file_path)), "-"], capture_output=True, text=True
    ).stdout
    text = " ".join(text.split())  # a long reason wraps inside its column
    for expected in (
        p1.study_number,
        "Informed consent",
        "Eligibility checklist",
        "Hypertension",
        "Change history",
        "Investigator signature",  # every form's state says it; a "Signatures" table only when there are some
        "Eligibility confirmed by the investigator",
        "Fatigue",
    ):
        assert expected in text, expected


# --- import ---------------------------------------------------------------------------------------------------

STUDY_APPS = ("adverse_events", "treatment", "assessments", "enrollment")


def wipe_study() -> None:
    """Empty every study table (keep users, groups and the CTCAE dictionary): an empty study database."""
    from sabr_trial.models import AuditEvent, NumberSequence, Signature

    AuditEvent.objects.all().delete()
    Signature.objects.all().delete()
    NumberSequence.objects.all().delete()
    Job.objects.all().delete()
    models = [
        m
        for app in ("sabr_trial", "visits", *STUDY_APPS)
        for m in apps.get_app_config(app).get_models()
        if m.__name__ not in ("CtcaeTerm", "TaskHeartbeat")
    ]
    protected: list[str] = []
    for _ in range(10):
        protected = []
        for model in models:
            try:
                model.objects.all().delete()
            except ProtectedError as exc:
                for row in model.objects.order_by("-pk"):  # self-references (AE grade-change episodes)
                    with contextlib.suppress(ProtectedError):
                        row.delete()
                if model.objects.exists():
                    protected.append(f"{model.__name__}: {exc.args[0]}")
        if not protected:
            break
    assert Patient.objects.count() == 0, protected


def write(folder, files):
    for name, data in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


IMPORTED = [
    "crf/_patients.csv",
    "crf/screening.csv",
    "crf/consent.csv",
    "crf/eligibility.csv",
    "crf/baseline.csv",
    "crf/medical-history.csv",
    "crf/prior-therapy.csv",
    "crf/adverse-event.csv",
    "crf/disposition.csv",
    "crf/death.csv",
    "crf/survival.csv",
]


def test_round_trip_export_import_export_gives_identical_files(study, coordinator, tmp_path):
    first = exports.crf_files()
    write(tmp_path, first)
    wipe_study()
    result = import_study(tmp_path, user=coordinator)
    assert result.committed and not result.problems, [str(p) for p in result.problems]
    second = exports.crf_files()
    for name in IMPORTED:
        assert second[name].decode() == first[name].decode(), name
    assert Patient.objects.filter(study_number__isnull=False).count() == 2


def _bad(study, tmp_path, name, mutate):
    files = exports.crf_files()
    table = rows_of(files[name])
    header = list(table[0].keys())
    table, header = mutate(table, header)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=header, lineterminator="\n", extrasaction="ignore")
    w.writeheader()
    w.writerows(table)
    files[name] = buf.getvalue().encode()
    write(tmp_path, files)
    wipe_study()
    return files


def _set(index, column, value):
    def mutate(table, header):
        table[index][column] = value
        return table, header

    return mutate


def _duplicate(table, header):
    table[1]["SUBJID"] = table[0]["SUBJID"]
    return table, header


def _drop(column):
    def mutate(table, header):
        return table, [h for h in header if h != column]

    return mutate


@pytest.mark.parametrize(
    ("name", "mutate", "file", "row", "column", "rule"),
    [
        (
            "crf/baseline.csv",
            _set(0, "assessment_date", "2024-02-30"),
            "baseline.csv",
            2,
            "assessment_date",
            "DATE-ISO",
        ),
        ("crf/baseline.csv", _set(1, "histology", "SARCOMA"), "baseline.csv", 3, "histology", "CODE-LIST"),
        ("crf/adverse-event.csv", _set(0, "grade", "5"), "adverse-event.csv", 2, "grade", "EC-AE-1"),
        ("crf/_patients.csv", _duplicate, "_patients.csv", 3, "SUBJID", "UNIQUE"),
        ("crf/consent.csv", _drop("icf_version"), "consent.csv", 1, "icf_version", "REQUIRED-COLUMN"),
    ],
)
def test_bad_input_is_reported_by_file_row_column_rule_and_nothing_is_imported(
    study, coordinator, tmp_path, name, mutate, file, row, column, rule
):
    _bad(study, tmp_path, name, mutate)
    result = import_study(tmp_path, user=coordinator)
    found = [(p.file, p.row, p.column, p.rule) for p in result.problems]
    assert (file, row, column, rule) in found, [str(p) for p in result.problems]
    assert not result.committed and Patient.objects.count() == 0 and AdverseEvent.objects.count() == 0


def test_partial_import_keeps_the_accepted_patients(study, coordinator, tmp_path):
    # A refused patient is left out whole (issue 17: no half patient); an unknown code refuses the file instead.
    _bad(study, tmp_path, "crf/baseline.csv", _set(1, "assessment_date", "31/12/2024"))
    result = import_study(tmp_path, user=coordinator, partial=True)
    assert result.committed and len(result.problems) == 1 and len(result.skipped_patients) == 1
    assert Patient.objects.count() == 2


def test_command_reports_problems_and_refuses(study, coordinator, tmp_path, capsys):
    _bad(study, tmp_path, "crf/baseline.csv", _set(0, "assessment_date", "31/12/2024"))
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_study", str(tmp_path), "--user", coordinator.username)
    assert "baseline.csv row 2 column assessment_date: [DATE-ISO]" in capsys.readouterr().err
