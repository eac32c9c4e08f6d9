"""A data manager builds the study report, watches the progress bar reach done, downloads the PDF, and the
PDF's text holds the snapshot's endpoint numbers."""

from __future__ import annotations

import subprocess

import pytest

from endpoints.models import Job
from sabr_trial.models import AuditEvent
from tests.browser.conftest import login
from tests.factories import PASSWORD, UserFactory
from tests.factories_reports import synthetic_study


@pytest.fixture(autouse=True)
def _tasks_in_process(tasks_in_process):
    """CI sets a broker; these tests build in-process (see tests/conftest.py)."""


pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_data_manager_builds_watches_and_downloads_the_report(page, screenshot, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    UserFactory(username="dm", role="data_manager", first_name="Dana", last_name="Manager")
    snap = synthetic_study(20)
    login(page, "dm", PASSWORD)
    page.get_by_role("link", name="Reports & exports").click()
    page.get_by_test_id("start-report").get_by_role("button", name="Build report").click()
    bar = page.get_by_test_id("job-progress")
    seen = {bar.inner_text()}
    download_button = page.get_by_test_id("job-download")
    for _ in range(240):
        if download_button.is_visible():
            break
        seen.add(bar.inner_text())
        page.wait_for_timeout(250)
    assert bar.inner_text() == "100%" and page.get_by_test_id("job-state").inner_text() == "Done"
    screenshot("report-job-done")
    with page.expect_download() as info:
        download_button.click()
    path = tmp_path / "report.pdf"
    info.value.save_as(path)
    raw = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    text = " ".join(raw.split())
    headline = snap.results["headline"]
    assert headline["ORR"]["confirmed"] in text and headline["DCR"]["confirmed"] in text
    assert headline["PFS1"]["median"] in text and headline["OS"]["median"] in text
    job = Job.objects.get()
    assert job.snapshot_id == snap.pk and len(job.sha256) == 64
    assert list(AuditEvent.objects.order_by("pk").values_list("action", flat=True)) == ["export", "download"]
    print("progress values seen:", sorted(seen))
