"""The casebook PDF says everything (issue 19 item 5): every signature with its voiding, every lock and unlock,
answers as table rows, long values wrapped inside the page, times in site time to the second; and the report's
progress moves through the layout stage (issue 20).

Real rows through the services (signatures with the password, locks with reasons), a real WeasyPrint build, and
the PDF read back with pdftotext.
"""

from __future__ import annotations

import re
import subprocess

import pytest
from django.test import RequestFactory

from enrollment.models import Eligibility, MedicalHistory
from reports import casebook_pdf, report
from sabr_trial import services
from sabr_trial.crf import CrfStatus
from sabr_trial.models import CasebookSignature, Signature
from sabr_trial.sitetime import stamp
from tests.factories import PASSWORD
from tests.factories_enrollment import registered
from tests.factories_reports import synthetic_study

pytestmark = pytest.mark.django_db

MICROSECONDS = re.compile(r"\d\d:\d\d:\d\d\.\d{1,6}")
#: A condition typed as one long line, with a word longer than any column.
LONG_TERM = (
    "Hypertension since 2015, treated with amlodipine and losartan; home readings recorded in the diary "
    "Patient-Reported-Blood-Pressure-Diary-Reference-ABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789 end"
)


def pdf_text(pdf: bytes, tmp_path, *args: str) -> str:
    path = tmp_path / "casebook.pdf"
    path.write_bytes(pdf)
    return subprocess.run(
        ["pdftotext", *args, str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


@pytest.fixture
def patient(coordinator, investigator, data_manager):
    """A registered patient: a long history entry, a form signed then changed (signature voided), the casebook
    signed then changed (casebook signature voided), then locked, unlocked and locked again."""
    patient = registered(coordinator, investigator)
    history = services.crf_create(
        model=MedicalHistory,
        patient=patient,
        acting_user=coordinator,
        status=CrfStatus.SUBMITTED,
        data={
            "mh_term": LONG_TERM,
            "mh_category": "CARDIOVASCULAR",
            "start_date": "2015-06",
            "ongoing": "Y",
            "end_date": "",
            "baseline_grade": 1,
            "systemic_tx_needed": "N",
        },
    )
    request = RequestFactory().post("/")  # the login lockout (django-axes) reads the password check's request
    history = services.crf_sign(
        instance=history, acting_user=investigator, password=PASSWORD, request=request
    )
    history, _ = services.crf_update(
        instance=history,
        expected_version=history.version,
        data={"baseline_grade": 2},
        reason="Grade 2 in the clinic letter",
        acting_user=coordinator,
    )
    services.casebook_sign(patient=patient, acting_user=investigator, password=PASSWORD, request=request)
    history = MedicalHistory.objects.get(pk=history.pk)
    services.crf_update(
        instance=history,
        expected_version=history.version,
        data={"systemic_tx_needed": "Y"},
        reason="Amlodipine is systemic",
        acting_user=coordinator,
    )
    patient.refresh_from_db()
    services.patient_lock(
        patient=patient, acting_user=data_manager, reason="Complete at the monitoring visit"
    )
    services.patient_unlock(patient=patient, acting_user=data_manager, reason="Late lab result to enter")
    services.patient_lock(patient=patient, acting_user=data_manager, reason="Final lock after the lab result")
    patient.refresh_from_db()
    return patient


def test_casebook_pdf_prints_signatures_voiding_and_lock_history(patient, data_manager, tmp_path):
    text = pdf_text(casebook_pdf.build_casebook(patient, user=data_manager), tmp_path, "-layout")
    flat = " ".join(text.split())
    form_signature = Signature.objects.get()
    casebook_signature = CasebookSignature.objects.get()
    assert form_signature.voided_at and casebook_signature.voided_at
    # Each signature: when, who, meaning; then its voiding: when, who, why.
    for s in (form_signature, casebook_signature):
        assert f"{stamp(s.signed_at)} {s.signer_name}" in flat
        assert s.meaning[:60] in flat
        assert f"VOIDED {stamp(s.voided_at)} by " in flat
    assert "Grade 2 in the clinic letter" in flat  # the form signature's voiding reason
    assert "Amlodipine is systemic" in flat  # the change that voided the casebook signature
    # Every lock and unlock, in order, with who and why.
    locks = [line for line in text.splitlines() if "Casebook locked" in line or "Casebook unlocked" in line]
    assert [("unlocked" in line) for line in locks] == [False, True, False], locks
    for reason in (
        "Complete at the monitoring visit",
        "Late lab result to enter",
        "Final lock after the lab result",
    ):
        assert reason in flat
    # The casebook and every form say they are locked, in words.
    assert f"Casebook lock Locked on {stamp(patient.locked_at)}" in flat
    assert (
        flat.count(f"Locked with the casebook on {stamp(patient.locked_at)}")
        == services.casebook_forms(patient).__len__()
    )
    assert "Not verified" in flat and "Locked -" not in flat and "Locked —" not in flat


def test_casebook_pdf_answers_as_rows_times_in_site_time_and_no_raw_lists(patient, data_manager, tmp_path):
    text = pdf_text(casebook_pdf.build_casebook(patient, user=data_manager), tmp_path, "-layout")
    elig = Eligibility.objects.get(patient=patient)
    for answer in elig.answers.all():  # one row per criterion: id, its text, category, answer
        row = rf"{answer.criterion_id}\s+{re.escape(str(answer.criterion.text))}\s+{answer.get_category_display()}"
        assert re.search(row + rf"\s+{answer.get_answer_display()}", text), answer.criterion_id
    assert "+00:00" not in text and not MICROSECONDS.search(text)
    assert "[]" not in text and "['" not in text and "{'" not in text
    assert stamp(elig.confirmed_at) in text


def test_casebook_pdf_wraps_long_values_inside_the_page(patient, data_manager, tmp_path):
    pdf = casebook_pdf.build_casebook(patient, user=data_manager)
    flat = "".join(pdf_text(pdf, tmp_path).split())
    assert "".join(LONG_TERM.split()) in flat  # every character of the long value is printed
    # Every word lies inside the page's right margin (A4: 595 pt wide, 16 mm = 45 pt margin).
    bbox = pdf_text(pdf, tmp_path, "-bbox")
    right_edges = [float(x) for x in re.findall(r'<word xMin="[\d.]+" yMin="[\d.]+" xMax="([\d.]+)"', bbox)]
    assert right_edges and max(right_edges) <= 595 - 45 + 1, max(right_edges)


def test_casebook_pdf_in_chinese_keeps_the_sections(patient, data_manager, tmp_path):
    from django.utils import translation

    with translation.override("zh-hans"):
        text = pdf_text(casebook_pdf.build_casebook(patient, user=data_manager), tmp_path, "-layout")
    flat = " ".join(text.split())
    assert "Final lock after the lab result" in flat and "Late lab result to enter" in flat
    assert "+00:00" not in text and not MICROSECONDS.search(text)
    assert "签名" in text  # signature headings in Chinese


def test_casebook_job_progress_moves_through_the_layout(patient, data_manager):
    seen: list[int] = []
    casebook_pdf.build_casebook(patient, user=data_manager, progress=lambda stage, pct: seen.append(pct))
    layout = [p for p in seen if 60 <= p < 90]
    assert len(set(layout)) >= 3, seen
    assert seen == sorted(seen) and seen[-1] == 90


def test_report_progress_moves_through_the_layout(data_manager):
    snap = synthetic_study(6)
    calls: list[tuple[str, int]] = []
    pdf = report.build_report(snap, user=data_manager, progress=lambda stage, pct: calls.append((stage, pct)))
    assert pdf.startswith(b"%PDF")
    layout = [pct for _stage, pct in calls if 65 <= pct < 90]
    assert len(set(layout)) >= 5, calls  # the bar moves page by page, not stuck at 65 %
    assert [pct for _stage, pct in calls] == sorted(pct for _stage, pct in calls)
    assert calls[-1][1] == 90 and "pages" in calls[-1][0]
