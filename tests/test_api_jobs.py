"""Report and export jobs through the API: start (role per kind), progress, download with its SHA-256 and the
browser's audit rows, 409 for an unfinished build, retry of a failed one; builds run in-process."""

from __future__ import annotations

import base64
import hashlib

import pytest
from django.urls import reverse

from endpoints.models import Job
from reports import jobs
from sabr_trial.models import AuditEvent
from tests import factories_enrollment as fe
from tests.factories_api import TODAY, Api, fields_of, token_for
from tests.factories_reports import synthetic_study

pytestmark = pytest.mark.django_db
PROBLEM = "application/problem+json"


@pytest.fixture(autouse=True)
def _tasks_in_process(tasks_in_process):
    """CI sets a broker; these tests build in-process (see tests/conftest.py)."""


@pytest.fixture(autouse=True)
def inline_jobs(monkeypatch, settings, tmp_path):
    monkeypatch.setattr(jobs, "RUN_IN_THREAD", False)
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def dm(data_manager):
    return Api(token_for(data_manager))


def test_export_job_start_progress_download_with_checksum_and_audit(
    dm, as_data_manager, django_capture_on_commit_callbacks
):
    synthetic_study(3)
    with django_capture_on_commit_callbacks(execute=True):
        started = dm.post("jobs/", {"kind": "export", "cutoff": TODAY.isoformat()})
    assert started.status_code == 202, started.content
    job = Job.objects.get()
    assert started["Location"].endswith(f"/api/v1/jobs/{job.pk}/") and started.json()["kind"] == "export"
    progress = dm.get(f"jobs/{job.pk}/").json()
    assert (progress["state"], progress["progress"], progress["finished"], progress["error"]) == (
        "done",
        100,
        True,
        "",
    ), job.error
    assert progress["stage"] and progress["download"].endswith(f"/api/v1/jobs/{job.pk}/download/")
    response = dm.get(f"jobs/{job.pk}/download/")
    data = b"".join(response.streaming_content)
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    digest = hashlib.sha256(data).digest()
    assert response["ETag"] == f'"{digest.hex()}"' == f'"{progress["sha256"]}"'
    assert response["Digest"] == "sha-256=" + base64.b64encode(digest).decode()
    assert response["Repr-Digest"] == f"sha-256=:{base64.b64encode(digest).decode()}:"
    assert "attachment" in response["Content-Disposition"] and data[:2] == b"PK"
    # The same audit rows as the page: EXPORT at the start, DOWNLOAD at each download.
    page = as_data_manager.get(reverse("reports:report_job_download", args=[job.pk]))
    assert page.status_code == 200
    b"".join(page.streaming_content)
    start_event = AuditEvent.objects.get(action=AuditEvent.Action.EXPORT)
    assert f"(job {job.pk})" in start_event.description and start_event.user.username == "dm"
    downloads = list(AuditEvent.objects.filter(action=AuditEvent.Action.DOWNLOAD).order_by("pk"))
    assert len(downloads) == 2 and downloads[0].description == downloads[1].description
    assert job.sha256[:16] in downloads[0].description


def test_download_of_an_unfinished_job_is_409_and_not_audited(dm, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):  # no worker picks it up
        job_id = dm.post("jobs/", {"kind": "report"}).json()["id"]
    response = dm.get(f"jobs/{job_id}/download/")
    assert response.status_code == 409 and response["Content-Type"] == PROBLEM
    assert response.json()["state"] == "queued" and response.json()["errors"][0]["code"] == "not_ready"
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.DOWNLOAD).exists()
    pdf = dm.get(f"jobs/{job_id}/download/", HTTP_ACCEPT="application/pdf")
    assert pdf.status_code == 409 and pdf["Content-Type"] == PROBLEM


@pytest.mark.parametrize(
    ("role", "kind", "allowed"),
    [
        ("coordinator", "export", False),
        ("coordinator", "report", False),
        ("monitor", "export", False),
        ("monitor", "report", False),
        ("investigator", "report", True),
        ("investigator", "export", True),
        ("data_manager", "report", True),
        ("coordinator", "casebook", False),
        ("monitor", "casebook", False),
        ("investigator", "casebook", True),
        ("data_manager", "casebook", True),
        ("outsider", "casebook", False),
    ],
)
def test_who_may_start_which_build(request, role, kind, allowed, django_capture_on_commit_callbacks, patient):
    body = {"kind": kind, **({"patient": patient.pk} if kind == "casebook" else {})}
    with django_capture_on_commit_callbacks(execute=False):
        response = Api(token_for(request.getfixturevalue(role))).post("jobs/", body)
    assert (response.status_code, Job.objects.count()) == ((202, 1) if allowed else (403, 0))
    assert AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT).count() == int(allowed)


@pytest.fixture
def patient(coordinator, investigator):
    return fe.registered(coordinator, investigator)


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"kind": "report", "cutoff": "2999-01-01"}, "cutoff", "EC-G1"),
        ({"kind": "report", "cutoff": "31/01/2025"}, "cutoff", "YYYY-MM-DD"),
        ({"kind": "casebook"}, "patient", "Choose the patient"),
        ({"kind": "casebook", "patient": 999999}, "patient", "Choose the patient"),
        ({"kind": "export", "patient": 1}, "patient", "casebook"),
        ({"kind": "everything"}, "kind", ""),
        ({}, "kind", ""),
        ({"kind": "report", "format": "docx"}, "format", "Unknown field"),
    ],
)
def test_bad_start_is_422_naming_the_field(dm, body, field, message):
    response = dm.post("jobs/", body)
    assert response.status_code == 422 and response["Content-Type"] == PROBLEM
    assert field in fields_of(response) and message in " ".join(fields_of(response)[field])
    assert not Job.objects.exists() and not AuditEvent.objects.exists()


def test_failed_build_keeps_its_reason_and_retry_builds_again(
    dm, settings, tmp_path, django_capture_on_commit_callbacks
):
    synthetic_study(2)
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the media directory should be")
    settings.MEDIA_ROOT = blocked
    with django_capture_on_commit_callbacks(execute=True):
        failed_id = dm.post("jobs/", {"kind": "export"}).json()["id"]
    failed = dm.get(f"jobs/{failed_id}/").json()
    assert failed["state"] == "failed" and failed["error"] and failed["download"] is None
    assert dm.get(f"jobs/{failed_id}/download/").status_code == 409
    settings.MEDIA_ROOT = tmp_path / "media"
    with django_capture_on_commit_callbacks(execute=True):
        retried = dm.post(f"jobs/{failed_id}/retry/")
    assert retried.status_code == 202, retried.content
    new = Job.objects.get(pk=retried.json()["id"])
    assert (new.retry_of_id, new.state, new.kind) == (failed_id, "done", "export"), new.error
    again = dm.post(f"jobs/{new.pk}/retry/")
    assert again.status_code == 409 and again.json()["state"] == "done"
    assert Job.objects.count() == 2


def test_jobs_of_others_are_hidden_without_the_export_permission(
    dm, coordinator, monitor, data_manager, patient
):
    mine = Job.objects.create(kind="casebook", user=coordinator, data_cutoff=TODAY, patient=patient)
    theirs = Job.objects.create(kind="export", user=data_manager, data_cutoff=TODAY, state="failed")
    coord = Api(token_for(coordinator))
    assert [j["id"] for j in coord.get("jobs/").json()["results"]] == [mine.pk]
    assert sorted(j["id"] for j in dm.get("jobs/").json()["results"]) == sorted([mine.pk, theirs.pk])
    assert coord.get(f"jobs/{theirs.pk}/").status_code == 403
    assert coord.post(f"jobs/{theirs.pk}/retry/").status_code == 403
    assert Api(token_for(monitor)).get(f"jobs/{theirs.pk}/download/").status_code == 403
    assert Job.objects.count() == 2
    assert [j["id"] for j in dm.get("jobs/?kind=export&state=failed").json()["results"]] == [theirs.pk]
    assert dm.get("jobs/?state=lost").status_code == 422


@pytest.mark.parametrize("path", ["jobs/999999/", "jobs/999999/download/"])
def test_unknown_job_is_404(dm, path):
    response = dm.get(path)
    assert response.status_code == 404 and response["Content-Type"] == PROBLEM


def test_unknown_job_retry_is_404(dm):
    assert dm.post("jobs/999999/retry/").status_code == 404


def test_altered_file_is_refused_and_not_audited(dm, django_capture_on_commit_callbacks):
    synthetic_study(2)
    with django_capture_on_commit_callbacks(execute=True):
        job_id = dm.post("jobs/", {"kind": "export"}).json()["id"]
    job = Job.objects.get(pk=job_id)
    path = jobs.media_path(job.file_path)
    path.write_bytes(path.read_bytes() + b"tampered")
    response = dm.get(f"jobs/{job_id}/download/")
    assert response.status_code == 404 and "checksum" in response.json()["detail"]
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.DOWNLOAD).exists()
