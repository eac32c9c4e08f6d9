"""The study report, the casebook and the figures in the requesting user's language; Chinese free text prints as
Chinese in either language (issue 18). Checked with pdftotext and pdffonts (poppler-utils)."""

from __future__ import annotations

import datetime
import shutil
import subprocess

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from bench.synthetic import generate
from endpoints import services
from endpoints.models import Job
from enrollment.models import Patient
from reports import jobs, report
from tests.factories_adverse_events import ae_payload, ensure_ctcae_terms

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) is not installed"
    ),
]
TODAY = timezone.localdate()
VERBATIM = "右侧胸壁皮疹伴瘙痒"
LOCATION = "右肺上叶后段，邻近胸膜"


@pytest.fixture(autouse=True)
def _inline(tasks_in_process, monkeypatch, settings, tmp_path):
    monkeypatch.setattr(jobs, "RUN_IN_THREAD", False)
    settings.MEDIA_ROOT = tmp_path
    ensure_ctcae_terms()


def _pdf(path) -> tuple[str, str]:
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    )
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True)
    return text.stdout, fonts.stdout


def _errors(response) -> str:
    import re

    return " | ".join(
        re.findall(
            r"(?:invalid-feedback|alert-danger|errorlist)[^>]*>(.*?)</", response.content.decode(), re.S
        )
    )


@pytest.fixture
def study(coordinator):
    """Three synthetic treated patients; the first gets an AE and a lesion typed in Chinese, through the forms."""
    generate(3, user=coordinator, seed=3, prefix="ZH")
    patient = Patient.objects.filter(study_number__startswith="ZH").order_by("study_number").first()
    from django.test import Client

    client = Client()
    client.force_login(coordinator)
    onset = (TODAY - datetime.timedelta(days=3)).isoformat()
    response = client.post(
        reverse("crf_create", args=[patient.pk, "adverse-event"]),
        ae_payload(verbatim=VERBATIM, onset_date=onset, acn_sabr="DOSE NOT CHANGED"),
    )
    assert response.status_code == 302, _errors(response)
    from tests.factories_assessments import lesion_post

    response = client.post(
        reverse("crf_create", args=[patient.pk, "lesion"]),
        lesion_post(role="NON-TARGET", baseline_value_mm="", nonmeasurable_type="", location_text=LOCATION),
    )
    assert response.status_code == 302, _errors(response)
    return patient


def _build(client, capture, kind, patient=None, language="zh-hans"):
    client.post(reverse("set_language"), {"language": language, "next": "/"})
    data = {"kind": kind, "cutoff": TODAY.isoformat(), **({"patient": patient.pk} if patient else {})}
    with capture(execute=True):
        response = client.post(reverse("reports:report_start"), data)
    assert response.status_code == 302
    job = Job.objects.latest("pk")
    assert job.state == Job.State.DONE, job.error
    assert job.language == language
    return _pdf(jobs.media_path(job.file_path))


def test_casebook_in_the_readers_language_with_chinese_free_text(
    study, as_investigator, django_capture_on_commit_callbacks
):
    text, fonts = _build(as_investigator, django_capture_on_commit_callbacks, "casebook", study)
    for heading in ("患者病例册", "研究编号", "修改历史", "不良事件", "病灶登记"):
        assert heading in text, heading
    squeezed = "".join(text.split())
    assert VERBATIM in squeezed and "".join(LOCATION.split()) in squeezed
    assert "Noto" in fonts and "CJK" in fonts  # drawn with a CJK font, not as boxes
    assert "Change history" not in text
    # The same casebook asked for in English: English headings, the Chinese free text still Chinese.
    text, fonts = _build(
        as_investigator, django_capture_on_commit_callbacks, "casebook", study, language="en"
    )
    assert "Patient casebook" in text and "患者病例册" not in text
    assert VERBATIM in "".join(text.split()) and "CJK" in fonts


def test_study_report_and_figures_in_the_readers_language(
    study, as_investigator, django_capture_on_commit_callbacks
):
    text, fonts = _build(as_investigator, django_capture_on_commit_callbacks, "report")
    for heading in (
        "研究报告",
        "目录",
        "受试者分布",
        "基线特征",
        "治疗暴露",
        "疗效",
        "安全性",
        "逐例患者列表",
        "风险人数",
    ):
        assert heading in text, heading
    assert "Baseline characteristics" not in text and "CJK" in fonts
    assert f"数据截止日期 {TODAY.isoformat()}" in text  # dates stay ISO
    snap = services.latest_snapshot(TODAY)
    chinese, english = services.figures_in(snap, "zh-hans"), services.figures_in(snap, "en")
    assert set(chinese) == set(english) == set(snap.figures)
    assert "风险人数" in chinese["km_os"] and "Number at risk" not in chinese["km_os"]
    assert "研究时间" in chinese["swimmer"] and "Number at risk" in english["km_os"]
    with translation.override("zh-hans"):
        assert "风险人数" in services.figures_in(snap)["km_os"]
    # A snapshot stored before the figures were drawn per language still shows its figures.
    snap.figures_i18n = {}
    assert services.figures_in(snap, "zh-hans") == snap.figures


@pytest.mark.parametrize(
    ("text", "width", "lines"),
    [
        ("右肺上叶后段", 6, ["右肺上", "叶后段"]),
        ("PD 疾病进展", 7, ["PD 疾病", "进展"]),
        ("plain words here", 10, ["plain", "words here"]),
    ],
)
def test_listing_cells_wrap_chinese_by_its_double_width(text, width, lines):
    wrapped = report.text_row([report.Col("x", width)], [text])
    assert [line.rstrip() for line in wrapped] == lines
    assert all(report.columns(line) <= width for line in wrapped)
