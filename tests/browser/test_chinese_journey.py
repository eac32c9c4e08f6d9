"""The coordinator's clinic day and the investigator's dashboard with the Chinese interface (issue 18).

The coordinator chooses 简体中文 in the navigation bar once; every later page is Chinese. Forms are filled by their
Chinese labels, so a label left English fails the test; Chinese free text (lesion location, AE verbatim) is kept.
"""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from adverse_events.models import AdverseEvent
from assessments.models import Lesion
from sabr_trial.models import UserPreference
from tests.browser.conftest import login
from tests.factories import PASSWORD, UserFactory
from tests.factories_adverse_events import ensure_ctcae_terms
from tests.factories_enrollment import baseline_data, registrable

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TODAY = timezone.localdate()


def _add(page, slug: str) -> None:
    page.locator(f'tr[data-crf="{slug}"]').get_by_role("link", name="添加").click()


def _switch_to_chinese(page) -> None:
    page.get_by_test_id("language-zh-hans").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "zh-hans"


def test_coordinator_clinic_day_in_chinese(page, browser, live_server, screenshot):
    ensure_ctcae_terms()
    coordinator = UserFactory(username="coord", role="coordinator")
    investigator = UserFactory(username="inv", role="investigator")
    patient = registrable(coordinator, investigator, days_ago=10)
    login(page, "coord", PASSWORD)
    _switch_to_chinese(page)
    assert UserPreference.objects.get(user=coordinator).language == "zh-hans"
    assert page.get_by_role("button", name="退出登录").is_visible()

    # Register.
    page.goto(f"/patients/{patient.pk}/")
    page.get_by_role("link", name="入组", exact=True).click()
    page.get_by_role("button", name="入组并分配研究编号").click()
    screenshot("zh-register")
    assert page.get_by_test_id("casebook-title").inner_text() == "病例册 SR-001"
    screenshot("zh-casebook-registered")
    casebook = page.url

    # Baseline, by its Chinese labels.
    _add(page, "baseline")
    data = baseline_data()
    page.get_by_label("出生年份").first.fill(str(data["birth_year"]))
    page.get_by_label("性别").first.select_option("M")
    page.get_by_label("基线评估日期").first.fill(data["assessment_date"].isoformat())
    page.get_by_label("ECOG 体能状态评分").first.select_option("1")
    page.get_by_label("Karnofsky 体能状态评分（KPS）").first.select_option("80")
    page.locator("select[name=histology]").select_option(
        "CLEAR CELL"
    )  # "组织学类型" is also in "请说明组织学类型"
    page.get_by_label("肉瘤样特征").first.select_option("N")
    page.get_by_label("RCC 初次诊断日期").first.fill(data["diagnosis_date"].isoformat())
    page.get_by_label("既往是否行肾切除术？").first.select_option("N")
    page.get_by_label("既往系统治疗线数（转移性阶段）").first.fill("0")
    page.get_by_label("已知转移病灶数").first.fill("1")
    page.get_by_label("IMDC 实验室检查日期").first.fill(data["imdc_lab_date"].isoformat())
    for label in (
        "血红蛋白 < 正常值下限（LLN）",
        "校正血钙 > 正常值上限（ULN）",
        "中性粒细胞 > 正常值上限（ULN）",
        "血小板 > 正常值上限（ULN）",
    ):
        page.get_by_label(label, exact=True).select_option("N")
    page.get_by_role("button", name="保存并提交").click()
    assert "已保存" in page.content(), page.locator(".invalid-feedback").all_inner_texts()
    screenshot("zh-baseline-saved")

    # A target lesion typed in Chinese.
    page.goto(f"/patients/{patient.pk}/forms/lesion/new/")
    page.locator("#id_role").select_option("TARGET")
    assert "类型" in page.locator("label[for=id_role]").inner_text()
    page.get_by_label("器官/部位").first.select_option("LIVER")
    page.get_by_label("具体位置").first.fill("肝右叶 S7 段")
    page.get_by_label("影像学方法").first.select_option("CT SCAN")
    page.get_by_label("层厚（mm）").first.fill("2.5")
    page.get_by_label("基线扫描日期").first.fill((TODAY - datetime.timedelta(days=5)).isoformat())
    page.locator("#id_baseline_value_mm").fill("40")
    page.get_by_role("button", name="保存并提交").click()
    lesion = Lesion.objects.get(patient=patient)
    assert lesion.location_text == "肝右叶 S7 段"
    assert "肝右叶 S7 段" in page.content()

    # SABR: course, one target, one treatment day.
    page.goto(casebook)
    _add(page, "sabr-course")
    page.get_by_label("定位 CT 日期").first.fill(TODAY.isoformat())
    page.get_by_label("技术").first.select_option("VMAT")
    page.get_by_label("图像引导").first.select_option("CBCT")
    page.get_by_role("button", name="保存并提交").click()
    page.get_by_role("link", name="添加靶区").click()
    page.get_by_label("治疗的病灶").first.select_option(str(lesion.pk))
    page.get_by_label("处方总剂量（Gy）").first.fill("24")
    page.get_by_label("分次数").first.fill("1")
    page.get_by_label("处方等剂量线（%）").first.fill("80")
    page.get_by_label("PTV 体积（cm³）").first.fill("20")
    page.get_by_role("button", name="保存并提交").click()
    page.get_by_test_id("parent-links").get_by_role("link", name="SABR 疗程 1").click()
    page.get_by_role("link", name="记录治疗日").click()
    page.get_by_label("分次日期").first.fill(TODAY.isoformat())
    page.get_by_role("button", name="保存并提交").click()
    assert "已记录 1 次分次。" in page.content()
    screenshot("zh-sabr-course")

    # Tumour assessment: 40 mm -> 20 mm is a PR.
    page.goto(f"/patients/{patient.pk}/forms/tumour-assessment/new/")
    page.get_by_label("本时间点首次扫描日期").first.fill(TODAY.isoformat())
    page.get_by_label("检查方式").first.select_option("CT SCAN")
    page.get_by_test_id("lesion-grid").locator("tr[data-lesion=L1] input[name$=value_mm]").fill("20")
    page.get_by_role("button", name="保存并提交").click()
    assert page.get_by_test_id("overall-response").inner_text() == "PR"
    assert "RECIST 1.1（计算）" in page.content()
    screenshot("zh-assessment-pr")

    # An adverse event with a Chinese verbatim.
    page.goto(f"/patients/{patient.pk}/forms/adverse-event/new/")
    page.get_by_test_id("ctcae-search").locator("input[type=search]").fill("fatig")
    page.locator(".ctcae-results li", has_text="Fatigue").first.click()
    assert "全身性疾病及给药部位各种反应" in page.get_by_test_id("ctcae-search").inner_text()
    page.locator("[name=verbatim]").fill("乏力，活动后加重")
    assert "报告术语" in page.content()
    page.locator("input[name=grade][value='2']").check()
    page.locator("input[name=onset_date]").fill(TODAY.isoformat())
    form = page.locator("main form").last.inner_text()
    for name, label, value in (
        ("ongoing", "是否持续？", "Y"),
        ("serious", "是否严重？", "N"),
        ("rel_sabr", "与 SABR 的相关性", "UNLIKELY"),
        ("rel_axitinib", "与阿昔替尼的相关性", "POSSIBLE"),
        ("rel_toripalimab", "与特瑞普利单抗的相关性", "POSSIBLE"),
        ("immune_related", "免疫相关不良事件（研究者判断）？", "N"),
        ("acn_axitinib", "对阿昔替尼采取的措施", "DOSE NOT CHANGED"),
        ("acn_toripalimab", "对特瑞普利单抗采取的措施", "DOSE NOT CHANGED"),
        ("acn_sabr", "对 SABR 采取的措施", "DOSE NOT CHANGED"),
        ("treatment_given", "是否针对该 AE 给予治疗？", "N"),
    ):
        assert label in form, label
        page.locator(f"select[name={name}]").select_option(value)
    screenshot("zh-ae-form")
    page.get_by_role("button", name="保存草稿").click()
    ae = AdverseEvent.objects.get(patient=patient)
    assert ae.verbatim == "乏力，活动后加重" and ae.grade == 2
    screenshot("zh-ae-saved")
    page.goto(casebook)
    screenshot("zh-casebook-end")
    assert "不良事件" in page.content() and "肿瘤评估" in page.content()


def test_investigator_dashboard_in_chinese(page, live_server, screenshot):
    investigator = UserFactory(username="inv", role="investigator")
    UserPreference.objects.create(user=investigator, language="zh-hans")
    login(page, "inv", PASSWORD)  # the saved preference applies from the first page
    page.goto("/endpoints/")
    assert page.locator("h1").first.inner_text().startswith("终点看板")
    page.get_by_role("button", name="立即重新计算").click()
    page.wait_for_load_state()
    text = page.locator("main").inner_text()
    screenshot("zh-dashboard")
    for label in (
        "数据截止日期",
        "PFS1 中位值（月）",
        "客观缓解率 ORR（确认）",
        "安全性概要",
        "逐例患者推导",
    ):
        assert label in text, label
    assert "Endpoint dashboard" not in text and "Recompute now" not in text
