"""System queries as message ids (issue 18, item 3): an edit check's finding is stored as its id and parameters,
never in the language of the process that ran the checks, and every reader sees it in their own language."""

from __future__ import annotations

import datetime
import re

import polib
import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import translation

import ruletext
from sabr_trial import editchecks
from sabr_trial.crf import CrfStatus
from sabr_trial.models import AuditEvent, Query, QueryMessage, UserPreference
from sabr_trial.queries import close_query, raise_query
from sabr_trial.templatetags.ruletext import text
from tests.factories_treatment import AxitinibPeriodFactory, consented_patient


@pytest.fixture(autouse=True)
def _tasks_in_process(tasks_in_process):
    """CI sets a broker; these tests build in-process (see tests/conftest.py)."""


@pytest.fixture
def early_period(db):
    """A submitted axitinib period that starts before registration (DM-1), saved as legacy data."""
    patient = consented_patient(registered_days_ago=30)
    row = AxitinibPeriodFactory.build(
        patient=patient,
        start_date=patient.registration_date - datetime.timedelta(days=2),
        status=CrfStatus.SUBMITTED,
    )
    row.save()
    return row


def _english(row) -> str:
    return (
        f"Axitinib dosing starts {row.start_date.isoformat()}, before registration on "
        f"{row.patient.registration_date.isoformat()} (DM-1)."
    )


def _chinese(row) -> str:
    return (
        f"阿昔替尼给药开始于 {row.start_date.isoformat()}，早于入组日期 "
        f"{row.patient.registration_date.isoformat()}（DM-1）。"
    )


def test_a_system_query_is_stored_as_an_id_and_reads_in_each_language(early_period):
    with translation.override("zh-hans"):  # the worker's language changes nothing that is stored
        editchecks.run_for_patient(early_period.patient)
    query = Query.objects.get(rule_id="DM-1")
    data = ruletext.loads(query.text)
    assert isinstance(data, dict) and data["p"] == {
        "d": early_period.start_date.isoformat(),
        "r": early_period.patient.registration_date.isoformat(),
    }
    assert query.messages.get().text == query.text
    with translation.override("en"):
        assert text(query.text) == _english(early_period)
    with translation.override("zh-hans"):
        assert text(query.text) == _chinese(early_period)
    raised = AuditEvent.objects.get(action=AuditEvent.Action.QUERY_RAISE)
    with translation.override("zh-hans"):
        assert text(raised.description) == f"系统质疑 Q{query.pk}（DM-1）：{_chinese(early_period)}"
    with translation.override("en"):
        assert text(raised.description) == f"System query Q{query.pk} (DM-1): {_english(early_period)}"


def test_an_unchanged_finding_does_not_rewrite_its_query(early_period):
    editchecks.run_for_patient(early_period.patient)
    before = Query.objects.values_list("text", "updated_at").get()
    with translation.override("zh-hans"):
        editchecks.run_for_patient(early_period.patient)
    assert Query.objects.values_list("text", "updated_at").get() == before
    assert QueryMessage.objects.count() == 1


def test_an_old_english_query_text_is_rewritten_once_as_its_id(early_period):
    editchecks.run_for_patient(early_period.patient)
    Query.objects.update(text=_english(early_period))  # stored before query texts became ids
    editchecks.run_for_patient(early_period.patient)
    assert ruletext.loads(Query.objects.get().text)["p"]["d"] == early_period.start_date.isoformat()


def test_the_automatic_close_and_reopen_read_in_chinese(early_period):
    editchecks.run_for_patient(early_period.patient)
    start = early_period.start_date
    type(early_period).objects.filter(pk=early_period.pk).update(
        start_date=early_period.patient.registration_date
    )
    editchecks.run_for_patient(early_period.patient)
    type(early_period).objects.filter(pk=early_period.pk).update(start_date=start)
    editchecks.run_for_patient(early_period.patient)
    thread = list(QueryMessage.objects.order_by("pk").values_list("text", flat=True))
    with translation.override("zh-hans"):
        assert [text(t) for t in thread[1:]] == [
            "已自动关闭：数据已通过核查。",
            f"逻辑核查再次发现：{_chinese(early_period)}",
        ]
    with translation.override("en"):
        assert text(thread[2]) == f"The edit check found it again: {_english(early_period)}"


def test_a_query_a_person_typed_is_shown_as_typed(early_period, data_manager):
    query = raise_query(row=early_period, text='Please check {"id": the date}', acting_user=data_manager)
    close_query(query=query, acting_user=data_manager, text="Accepted")
    assert query.text == 'Please check {"id": the date}'
    with translation.override("zh-hans"):
        assert text(query.text) == query.text and text("Accepted") == "Accepted"


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_the_query_pages_and_the_api_show_the_readers_language(early_period, data_manager, language):
    editchecks.run_for_patient(early_period.patient)
    query = Query.objects.get()
    UserPreference.objects.update_or_create(user=data_manager, defaults={"language": language})
    client = Client()
    client.force_login(data_manager)
    expected = _chinese(early_period) if language == "zh-hans" else _english(early_period)
    for url in (reverse("query_list"), reverse("query_detail", args=[query.pk])):
        page = client.get(url).content.decode()
        assert expected in page, url
        assert '{"id"' not in page and "{&quot;id&quot;" not in page, url
    api = client.get(reverse("api:query", args=[query.pk]), HTTP_ACCEPT_LANGUAGE=language)
    assert api.status_code == 200, api.content
    body = api.json()
    assert body["text"] == expected and body["text_msg"]["p"]["d"] == early_period.start_date.isoformat()
    assert body["messages"][0]["text"] == expected


def test_every_system_query_template_is_translated():
    """The templates the edit checks and the query sync say (``say(gettext_noop(...))``) are in the catalogue."""
    from pathlib import Path

    catalogue = {
        e.msgid: e.msgstr
        for e in polib.pofile(str(Path(settings.BASE_DIR) / "locale/zh_Hans/LC_MESSAGES/django.po"))
        if not e.obsolete and not e.msgctxt
    }
    sources = [
        "sabr_trial/queries.py",
        "treatment/editchecks.py",
        "visits/editchecks.py",
        "adverse_events/editchecks.py",
    ]
    said = []
    for path in sources:
        source = (Path(settings.BASE_DIR) / path).read_text()
        said += re.findall(r'say\(\s*gettext_noop\(\s*((?:"[^"]*"\s*)+)\)', source)
    templates = ["".join(re.findall(r'"([^"]*)"', s)) for s in said]
    assert len(templates) >= 10
    for template in templates:
        assert catalogue.get(template), template
        placeholders = sorted(re.findall(r"%\((\w+)\)s", template))
        assert sorted(re.findall(r"%\((\w+)\)s", catalogue[template])) == placeholders, template


def test_a_soft_check_warning_becomes_a_query_that_reads_in_chinese(db):
    """from_warnings keeps the warning's id: the AE's EC-AE-6 query shows the relationship label translated."""
    from adverse_events.models import AdverseEvent
    from tests.factories_adverse_events import AdverseEventFactory, ensure_ctcae_terms

    ensure_ctcae_terms()
    ae = AdverseEventFactory(
        patient=consented_patient(registered_days_ago=30),
        immune_related="Y",
        rel_toripalimab="UNRELATED",
        status=CrfStatus.SUBMITTED,
    )
    assert isinstance(ae, AdverseEvent)
    editchecks.run_for_patient(ae.patient)
    query = Query.objects.get(rule_id="EC-AE-6")
    with translation.override("zh-hans"):
        assert text(query.text) == "免疫相关 = 是，但与特瑞普利单抗的相关性为“无关”：请确认（EC-AE-6）。"
    with translation.override("en"):
        assert text(query.text) == (
            "Immune-related = Yes while the relationship to toripalimab is Unrelated: please confirm (EC-AE-6)."
        )


def test_a_treatment_soft_check_query_reads_in_chinese(db):
    """EC-SU-3 through SOFT-TX: the treatment rules say their warnings, the query stores the id."""
    from tests.factories_treatment import SubsequentTherapyFactory

    therapy = SubsequentTherapyFactory.build(
        patient=consented_patient(registered_days_ago=60), reason="PROGRESSION", status=CrfStatus.SUBMITTED
    )
    therapy.save()  # legacy data, saved as it is (no treatment yet: today's hard check EC-SU-1 would refuse it)
    editchecks.run_for_patient(therapy.patient)
    query = Query.objects.get(rule_id="EC-SU-3")
    day = therapy.start_date.isoformat()
    with translation.override("zh-hans"):
        assert text(query.text) == f"原因为“进展”，但在 {day} 或之前没有记录 RECIST PD（EC-SU-3）。"
    with translation.override("en"):
        assert (
            text(query.text)
            == f"Reason 'progression' but no RECIST PD is recorded on or before {day} (EC-SU-3)."
        )


def test_the_titration_warnings_of_the_dosing_module_are_ids_with_chinese_entries():
    from pathlib import Path

    from treatment import dosing

    ours = {mid: t for mid, t in ruletext.CATALOGUE.items() if mid.startswith("dosing.")}
    assert len(ours) == 4 and dosing.DosingError
    catalogue = {
        e.msgid: e.msgstr
        for e in polib.pofile(str(Path(settings.BASE_DIR) / "locale/zh_Hans/LC_MESSAGES/django.po"))
        if not e.obsolete and not e.msgctxt
    }
    for template in ours.values():
        assert catalogue.get(template), template
        assert sorted(re.findall(r"%\((\w+)\)s", catalogue[template])) == sorted(
            re.findall(r"%\((\w+)\)s", template)
        )
    warning = dosing.axitinib_titration_warnings(
        current=dosing.AxitinibDose("5 MG BID"),
        proposed=dosing.AxitinibDose("10 MG BID"),
        current_level_start=datetime.date(2026, 1, 1),
        change_date=datetime.date(2026, 1, 15),
        bp_ok_no_antihtn=True,
    )
    assert [w.mid for w in warning] == ["dosing.titration.skips_level", "dosing.titration.too_soon"]
    with translation.override("zh-hans"):
        assert text(ruletext.dumps(warning[1])).startswith("在 5 MG BID 仅 14 天")


def test_the_texts_the_system_writes_for_a_persons_close_and_reopen_read_in_chinese(
    early_period, data_manager
):
    from sabr_trial.queries import reopen_query

    query = raise_query(row=early_period, text="Please check the start date", acting_user=data_manager)
    with translation.override("zh-hans"):  # the person's language is not stored
        close_query(query=query, acting_user=data_manager)
    reopen_query(query=query, acting_user=data_manager, text="Still wrong")
    closed = QueryMessage.objects.get(query=query, kind=QueryMessage.Kind.CLOSE)
    events = AuditEvent.objects.filter(
        action__in=[AuditEvent.Action.QUERY_CLOSE, AuditEvent.Action.QUERY_REOPEN]
    )
    with translation.override("en"):
        assert text(closed.text) == "Closed"
        assert sorted(text(e.description) for e in events) == [
            f"Query Q{query.pk} closed",
            f"Query Q{query.pk} re-opened",
        ]
        assert str(query).endswith("Please check the start date")
    with translation.override("zh-hans"):
        assert sorted(text(e.description) for e in events) == [
            f"质疑 Q{query.pk} 已关闭",
            f"质疑 Q{query.pk} 已重新打开",
        ]
        assert text(closed.text) != "Closed"


def test_ec_ax_4_names_the_axitinib_action_in_the_readers_language():
    """The action inside the EC-AX-4 text was English on Chinese pages ("dose reduced (axitinib only)")."""
    from django.utils import translation

    import ruletext
    from adverse_events.models import AdverseEvent
    from sabr_trial.templatetags.ruletext import text
    from treatment.rules import _english_action

    action = _english_action(AdverseEvent(acn_axitinib="DOSE REDUCED"))
    stored = ruletext.dumps(action)
    assert ruletext.render(stored) == "dose reduced"
    with translation.override("zh-hans"):
        assert text(stored) == "减量"
    assert _english_action(AdverseEvent(acn_axitinib="DRUG WITHDRAWN")) == "DRUG WITHDRAWN"
