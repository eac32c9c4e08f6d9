"""Study report builds: start as a data manager, progress and file on the job row, checksum, audit trail,
download, failure with its reason and retry; the PDF's text holds the snapshot's endpoint numbers."""

from __future__ import annotations

import datetime
import hashlib
import subprocess
import time

import pytest
from django.urls import reverse
from django.utils import timezone

import ruletext
from endpoints.models import EndpointSnapshot, Job
from reports import jobs, report
from sabr_trial.models import AuditEvent
from tests.factories_reports import synthetic_study


@pytest.fixture(autouse=True)
def _tasks_in_process(tasks_in_process):
    """CI sets a broker; these tests build in-process (see tests/conftest.py)."""


pytestmark = pytest.mark.django_db
TODAY = timezone.localdate()


@pytest.fixture(autouse=True)
def inline_jobs(monkeypatch, settings, tmp_path):
    monkeypatch.setattr(jobs, "RUN_IN_THREAD", False)
    settings.MEDIA_ROOT = tmp_path


def pdf_text(path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def start(client, kind="report", **extra):
    data = {"kind": kind, "cutoff": TODAY.isoformat(), **extra}
    return client.post(reverse("reports:report_start"), data)


@pytest.mark.parametrize(
    ("persona", "kind", "allowed"),
    [
        ("data_manager", "report", True),
        ("investigator", "report", True),
        ("coordinator", "report", False),
        ("monitor", "report", False),
        ("outsider", "report", False),
        ("monitor", "export", False),
        ("data_manager", "export", True),
    ],
)
def test_who_may_start_a_report_or_export(
    request, persona, kind, allowed, django_capture_on_commit_callbacks
):
    synthetic_study(3)
    client = request.getfixturevalue(f"as_{persona}")
    with django_capture_on_commit_callbacks(execute=False):
        response = start(client, kind)
    assert (response.status_code == 302, Job.objects.count()) == (allowed, int(allowed))


def test_report_build_stores_file_checksum_snapshot_and_audits_start_and_download(
    as_data_manager, data_manager, django_capture_on_commit_callbacks
):
    snap = synthetic_study(12)
    with django_capture_on_commit_callbacks(execute=True):
        response = start(as_data_manager)
    job = Job.objects.get()
    assert response.url == reverse("reports:report_job", args=[job.pk])
    assert (job.state, job.progress, job.snapshot_id, job.data_cutoff) == ("done", 100, snap.pk, TODAY), (
        job.error
    )
    path = jobs.media_path(job.file_path)
    assert (
        hashlib.sha256(path.read_bytes()).hexdigest() == job.sha256 and job.file_size == path.stat().st_size
    )
    status = as_data_manager.get(reverse("reports:report_job_status", args=[job.pk])).json()
    assert (status["state"], status["progress"], status["download_url"] != "") == ("done", 100, True)
    download = as_data_manager.get(reverse("reports:report_job_download", args=[job.pk]))
    body = b"".join(download.streaming_content)
    assert download["Content-Type"] == "application/pdf" and body.startswith(b"%PDF")
    actions = list(
        AuditEvent.objects.filter(user=data_manager).order_by("pk").values_list("action", flat=True)
    )
    assert actions == [AuditEvent.Action.EXPORT, AuditEvent.Action.DOWNLOAD]
    text = pdf_text(path)
    orr = snap.results["headline"]["ORR"]["confirmed"]
    assert orr in text and snap.fingerprint in text.replace("\n", "")
    for heading in (
        "Contents",
        "Disposition",
        "Baseline characteristics",
        "Treatment exposure",
        "Efficacy",
        "Safety",
        "Per-patient listings",
        "Number at risk",
        "Data cut-off " + TODAY.isoformat(),
    ):
        assert heading in text, heading
    assert snap.results["headline"]["OS"]["median"] in text
    assert "Response of non-irradiated lesions" in text  # D4, as on the dashboard
    assert snap.results["headline"]["ORR_NONIRR"]["confirmed"] in text.replace("\n", " ")


def test_report_without_snapshot_at_cutoff_computes_one(as_data_manager, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        start(as_data_manager)
    job = Job.objects.get()
    assert job.state == "done" and job.snapshot.trigger == "report" and job.snapshot.data_cutoff == TODAY


def test_failed_build_shows_why_and_retry_builds(
    as_data_manager, monkeypatch, django_capture_on_commit_callbacks
):
    synthetic_study(2)

    def broken(*args, **kwargs):
        raise RuntimeError("font cache unavailable")

    monkeypatch.setattr(report, "html_to_pdf", broken)
    with django_capture_on_commit_callbacks(execute=True):
        start(as_data_manager)
    failed = Job.objects.get()
    page = as_data_manager.get(reverse("reports:report_job", args=[failed.pk]))
    assert failed.state == "failed" and "font cache unavailable" in page.text and "job-retry" in page.text
    assert as_data_manager.get(reverse("reports:report_job_download", args=[failed.pk])).status_code == 404
    monkeypatch.undo()
    monkeypatch.setattr(jobs, "RUN_IN_THREAD", False)
    with django_capture_on_commit_callbacks(execute=True):
        response = as_data_manager.post(reverse("reports:report_job_retry", args=[failed.pk]))
    retry = Job.objects.exclude(pk=failed.pk).get()
    assert (response.status_code, retry.state, retry.retry_of_id) == (302, "done", failed.pk)


def test_altered_file_is_refused_at_download(as_data_manager, django_capture_on_commit_callbacks):
    synthetic_study(2)
    with django_capture_on_commit_callbacks(execute=True):
        start(as_data_manager)
    job = Job.objects.get()
    path = jobs.media_path(job.file_path)
    path.write_bytes(path.read_bytes() + b"tampered")
    response = as_data_manager.get(reverse("reports:report_job_download", args=[job.pk]))
    assert response.status_code == 404 and not AuditEvent.objects.filter(action="download").exists()


@pytest.mark.parametrize(
    ("cutoff", "message"),
    [
        ("2020-13-01", "Enter the data cut-off as a date"),
        ((TODAY + datetime.timedelta(days=1)).isoformat(), "EC-G1"),
    ],
)
def test_bad_cutoff_is_refused_with_a_message(as_data_manager, cutoff, message):
    response = as_data_manager.post(
        reverse("reports:report_start"), {"kind": "report", "cutoff": cutoff}, follow=True
    )
    assert message in response.text and not Job.objects.exists()


def test_other_users_job_is_hidden_from_a_monitor(as_monitor, data_manager):
    job = Job.objects.create(kind="report", user=data_manager, data_cutoff=TODAY)
    assert as_monitor.get(reverse("reports:report_job_status", args=[job.pk])).status_code == 403


def test_jobs_page_lists_builds_and_nav_shows_item(as_data_manager, data_manager):
    Job.objects.create(kind="report", user=data_manager, data_cutoff=TODAY, state="done", sha256="ab" * 32)
    page = as_data_manager.get(reverse("reports:reports"))
    assert page.status_code == 200 and "abababababab" in page.text and "Reports &amp; exports" in page.text


def test_report_pages_and_timing_at_60_patients(data_manager, tmp_path):
    snap = synthetic_study(60)
    t0 = time.perf_counter()
    pdf = report.build_report(snap, user=data_manager)
    elapsed = time.perf_counter() - t0
    assert pdf.startswith(b"%PDF") and elapsed < 60
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    text = pdf_text(path)
    missing = [p["study_number"] for p in snap.patient_rows() if text.count(p["study_number"]) < 2]
    assert not missing, missing  # every patient in the derivation and the BOR listing
    # local control's at-risk tables: local failures, and deaths before one as competing events apart (R2.2)
    lc = snap.results["lc_patient"]["cumulative_incidence"]
    assert lc["at_risk"][-1]["events"] == lc["events"] and lc["at_risk"][-1]["competing"] == lc["competing"]
    assert text.count("Local failures") == 2 and text.count("failure (competing)") == 2, (
        "patient and lesion level"
    )
    print(f"report at 60 patients: {elapsed:.2f} s, {len(pdf)} bytes")


def _generated_study(coordinator, n: int, prefix: str = "BN") -> EndpointSnapshot:
    from bench.synthetic import generate
    from endpoints import services

    generate(n, user=coordinator, seed=3, prefix=prefix)
    return services.run_recompute(trigger="test", cutoff=TODAY)


def test_bulk_exposure_matches_the_patient_exposure_panel(coordinator):
    from enrollment.models import Patient
    from treatment.selectors import exposure

    _generated_study(coordinator, 12)
    patients = list(Patient.objects.filter(study_number__startswith="BN").order_by("pk"))
    bulk = report.exposures([p.pk for p in patients], TODAY)

    def key(e):
        targets = [
            (
                t.target.pk,
                t.course_number,
                t.lesion,
                t.planned_fractions,
                t.delivered_fractions,
                t.not_delivered_fractions,
                t.delivered_dose_gy,
                t.complete,
                t.first_fraction,
                t.last_fraction,
            )
            for t in e.targets
        ]
        return (
            e.axitinib_first,
            e.axitinib_last,
            e.axitinib_days,
            e.axitinib_cumulative_mg,
            e.axitinib_rdi_pct,
            e.toripalimab_cycles,
            e.toripalimab_first,
            e.toripalimab_last,
            e.toripalimab_days,
            e.toripalimab_cumulative_mg,
            e.toripalimab_rdi_pct,
            targets,
        )

    assert [key(e) for e in bulk] == [key(exposure(p, as_of=TODAY)) for p in patients]
    assert sum(len(e.targets) for e in bulk) > 12 and sum(e.toripalimab_cycles for e in bulk) > 12


def test_report_reads_the_same_number_of_queries_at_any_study_size(coordinator, data_manager):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = []
    for n, prefix in ((3, "BN"), (15, "BM")):
        snap = _generated_study(coordinator, n, prefix)
        with CaptureQueriesContext(connection) as queries:
            report.report_context(snap, user=data_manager)
        counts.append(len(queries.captured_queries))
    assert counts[0] == counts[1], counts


def test_listings_hold_every_patient_and_grade_3_ae_within_the_page_width(coordinator, data_manager):
    from adverse_events.models import AdverseEvent

    snap = _generated_study(coordinator, 25)
    ctx = report.report_context(snap, user=data_manager)
    listings = [ctx["derivation_listing"], ctx["bor_listing"], ctx["ae_listing"]]
    widths = [len(line) for listing in listings for block in listing["blocks"] for line in block.splitlines()]
    assert max(widths) <= report.LISTING_WIDTH
    patients = snap.patient_rows()
    for name in ("derivation_listing", "bor_listing"):
        assert [b.split()[0] for b in ctx[name]["blocks"]] == [p["study_number"] for p in patients]
    for p, block in zip(patients, ctx["derivation_listing"]["blocks"], strict=True):
        flat = " ".join(block.split())
        for key in ("pfs1", "pfs2", "os", "lc"):
            assert p[key] is None or ruletext.render(p[key]["reason"]) in flat, (p["study_number"], key)
        for lesion in p.get("lc_lesions", []):
            assert ruletext.render(lesion["reason"]) in flat
    ae_blocks = {b.split()[0]: " ".join(b.split()) for b in ctx["ae_listing"]["blocks"]}
    term_at = slice(10 + len(report.GAP), 10 + len(report.GAP) + 32)  # the CTCAE term column, wrapped
    terms = {
        b.split()[0]: " ".join(line[term_at].strip() for line in b.splitlines())
        for b in ctx["ae_listing"]["blocks"]
    }
    aes = AdverseEvent.objects.filter(grade__gte=3, onset_date__lte=TODAY).select_related(
        "patient", "ctcae_term"
    )
    assert aes.count() > 0
    for ae in aes:
        assert f"{ae.grade} {ae.onset_date.isoformat()}" in ae_blocks[ae.patient.label]
        assert ae.ctcae_term.term in terms[ae.patient.label]


def test_text_row_wraps_each_cell_within_its_column():
    cols = [report.Col("Patient", 6), report.Col("n", 4, right=True), report.Col("Reason", 12)]
    lines = report.text_row(cols, ["SR-001", 7, "censored: alive without progression"])
    assert lines == [
        "SR-001     7  censored:",
        "              alive",
        "              without",
        "              progression",
    ]
    span = report.text_span(cols, 1, "Data issues: " + "word " * 60)  # from column 1 to the page width
    assert span[0].startswith(" " * 8 + "Data issues: word") and span[1].startswith(" " * 8 + "word")
    assert len(span) == 2 and all(len(line) <= report.LISTING_WIDTH for line in span)


def test_failed_recompute_fails_the_report_with_its_error(data_manager, monkeypatch):
    from endpoints import services

    failed = EndpointSnapshot.objects.create(
        data_cutoff=TODAY, status="failed", data_as_of=timezone.now(), error="ValueError: no lesions"
    )
    monkeypatch.setattr(services, "run_recompute", lambda **kwargs: failed)
    job = jobs.run_job(Job.objects.create(kind="report", user=data_manager, data_cutoff=TODAY).pk)
    assert job.state == "failed" and "ValueError: no lesions" in job.error


def test_report_says_when_a_figure_shows_some_patients_only(coordinator, data_manager, monkeypatch):
    from endpoints import engine

    monkeypatch.setattr(engine, "SWIMMER_MAX_LANES", 5)
    snap = _generated_study(coordinator, 12)
    html = report.render_html(snap, user=data_manager)
    assert 'data-cap="swimmer"' in html and "5 of 12 patients: those longest on study" in html
    assert 'data-cap="spider"' not in html
