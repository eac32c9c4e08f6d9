"""The generated study (reports/generated_study.py): deterministic files, every casebook imports with no problem
through ``import_study``, the export of the imported study re-imports unchanged, and the product's own RECIST and
endpoint derivations find a mix of responses and local failures in it."""

from __future__ import annotations

import collections
import csv
import datetime
import io
import re

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core.management import call_command

from assessments.models import LesionResult, TumourAssessment
from endpoints.models import EndpointSnapshot
from enrollment.models import Baseline, Patient
from reports import exports
from reports.generated_study import generate
from reports.importer import import_study
from tests.test_exports import wipe_study, write

TODAY = datetime.datetime(2026, 6, 30, 10, 0, tzinfo=datetime.UTC)
DAY0 = datetime.date(2026, 6, 30)
N = 14


def _rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode())))


def test_same_seed_same_files_and_nothing_in_the_future() -> None:
    first = generate(40, seed=3, today=DAY0).files()
    assert first == generate(40, seed=3, today=DAY0).files()
    assert first != generate(40, seed=4, today=DAY0).files()
    dates = [
        datetime.date.fromisoformat(m)
        for data in first.values()
        for m in re.findall(rb"\b(\d{4}-\d{2}-\d{2})\b", data)
        for m in [m.decode()]
    ]
    assert dates and max(dates) < DAY0
    assert min(dates) > DAY0 - datetime.timedelta(
        days=365 * 12
    )  # diagnoses; follow-up from about 2 years ago
    patients = _rows(first["crf/_patients.csv"])
    assert (
        len(patients) == 40 and 0 < sum(not p["registration_date"] for p in patients) < 10
    )  # screen failures
    # every registered patient has a complete casebook: baseline (age, sex, IMDC), lesions, SABR, both drugs
    registered = {p["SUBJID"] for p in patients if p["registration_date"]}
    for form in ("baseline", "lesion", "sabr-course", "sabr-fraction", "axitinib", "toripalimab"):
        assert {r["SUBJID"] for r in _rows(first[f"crf/{form}.csv"])} == registered, form
    scans = collections.Counter(r["SUBJID"] for r in _rows(first["crf/tumour-assessment.csv"]))
    assert max(scans.values()) >= 10  # about two years of q8w imaging for the first patients


@pytest.mark.django_db
def test_every_generated_patient_imports_and_the_export_reimports_unchanged(tmp_path) -> None:
    with time_machine.travel(TODAY, tick=False):
        call_command("setup_demo", "--no-data", stdout=io.StringIO())
        coordinator = get_user_model().objects.get(username="coordinator")
        study = generate(N, seed=7, today=DAY0)
        study.write(tmp_path / "generated")
        result = import_study(tmp_path / "generated", user=coordinator)
        assert result.committed and not result.problems, [str(p) for p in result.problems[:20]]
        assert result.created["patients"] == N and not result.renumbered
        # every row of every file went in (a screening row creates the patient; the registry is not a CRF)
        for name, data in study.files().items():
            stem = name[4:-4]
            if stem != "_patients":
                assert result.created["patients" if stem == "screening" else stem] == len(_rows(data)), stem

        # the product's derivations: a mix of responses and local failures, ADSL.AGE from the baseline form
        overall = set(TumourAssessment.objects.values_list("overall_resp", flat=True))
        assert {"PR", "SD", "PD"} <= overall, overall
        assert LesionResult.objects.filter(local_failure="Y").exists()
        snap = EndpointSnapshot.objects.get(pk=result.snapshot_id)
        assert snap.status == "ok", snap.error
        bor = snap.results["response_unconfirmed"]["counts"]  # best overall response per patient (R1.24)
        assert sum(1 for category in ("CR", "PR", "SD", "PD") if bor.get(category)) >= 3, bor
        registered = Patient.objects.exclude(study_number=None)
        assert Baseline.objects.filter(patient__in=registered).exclude(age_at_consent=None).count() == len(
            registered
        )

        first = exports.crf_files()
        write(tmp_path / "export", first)
        wipe_study()
        again = import_study(tmp_path / "export", user=coordinator, recompute=False)
        assert again.committed and not again.problems, [str(p) for p in again.problems[:20]]
        second = exports.crf_files()
    different = [n for n in sorted(first) if first[n] != second.get(n)]
    assert not different, different


@pytest.mark.parametrize("today", [DAY0, datetime.date(2026, 12, 6), datetime.date(2027, 3, 1)])
def test_no_record_is_later_than_the_last_known_alive_date(today) -> None:
    """R5.6: the generated casebooks never raise LAST_ALIVE_TOO_EARLY (a next line started with no contact after it
    flagged 3 of setup_demo's 60 patients). The alive dates are the collector's (endpoints/collect.py)."""
    files = generate(60, today=today).files()
    rows = {name[4:-4]: _rows(data) for name, data in files.items()}
    dead = {r["SUBJID"] for r in rows["death"]} if "death" in rows else set()
    alive: dict[str, list[str]] = collections.defaultdict(list)
    for stem, fields in (
        ("survival", ("contact_date",)),
        ("tumour-assessment", ("scan_date_first",)),
        ("sabr-fraction", ("fraction_date",)),
        ("toripalimab", ("infusion_date",)),
        ("axitinib", ("start_date", "end_date")),
    ):
        for r in rows.get(stem, []):
            alive[r["SUBJID"]] += [r[f] for f in fields if r.get(f)]
    later = [
        (r["SUBJID"], r["start_date"], max(alive[r["SUBJID"]]))
        for r in rows["subsequent-therapy"]
        if r["SUBJID"] not in dead and r["start_date"] > max(alive[r["SUBJID"]])
    ]
    assert not later, later
