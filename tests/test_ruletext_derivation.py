"""Derivation data issues and time-to-event reasons as message ids (issue 18, item 3).

A text built by ``endpoints.derivation`` travels through the snapshot JSON as its id and parameters, reads in
the reader's language on the pages (``|ruletext``) and as the old English sentence in English and in the ADaM
export (``ruletext.render``). Every id the endpoint modules define has a Chinese entry with the same placeholders.
"""

from __future__ import annotations

import json
import pickle
import re
from datetime import date, timedelta
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.template import Context, Template
from django.utils import translation

import ruletext
from assessments.recist import Response
from endpoints import derivation, engine
from endpoints.derivation import (
    IrradiatedLesion,
    PatientRecord,
    SourcedDate,
    SourceRef,
    SubsequentTherapy,
    TherapyReason,
    TherapyType,
    TimePoint,
    derive_patient,
)
from sabr_trial.templatetags.ruletext import text

D0 = date(2025, 1, 6)
PO = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"


def day(n: int) -> date:
    return D0 + timedelta(days=n)


def sd(n: int, form: str = "form") -> SourcedDate:
    return SourcedDate(day(n), SourceRef(form, 1, "date"))


def _record(**overrides: object) -> PatientRecord:
    values: dict[str, object] = {
        "patient_id": 1,
        "study_number": "S-001",
        "data_cutoff": day(400),
        "treatment_start": sd(0),
        "sabr_start": sd(0),
        "baseline_assessment": True,
        "measurable_disease": True,
        "timepoints": (TimePoint(day(56), Response.PR, SourceRef("tumour-assessment", 1, "overall_resp")),),
    }
    values.update(overrides)
    return PatientRecord(**values)  # type: ignore[arg-type]


def _render(stored: object, language: str) -> str:
    with translation.override(language):
        return Template("{{ v|ruletext }}").render(Context({"v": stored}))


@pytest.fixture
def death_after_scan():
    """A scan after death (AFTER_DEATH) and a lesion that dies without local failure (competing event)."""
    lesion = IrradiatedLesion("L1", sd(0), evaluations=(sd(56),))
    scan = TimePoint(day(120), Response.SD, SourceRef("tumour-assessment", 2, "overall_resp"))
    return derive_patient(
        _record(
            death=sd(100, "death"),
            lesions=(lesion,),
            timepoints=(_record().timepoints[0], scan),
        )
    )


def test_a_data_issue_reads_in_chinese_with_its_parameters_and_in_english_as_before(death_after_scan):
    issue = next(i for i in death_after_scan.issues if i.code == "AFTER_DEATH")
    assert issue.message == f"tumour assessment on {day(120).isoformat()} after death"  # the English sentence
    row = json.loads(engine.patient_row_json(death_after_scan))  # what the listing pages store
    stored = next(i["message"] for i in row["issues"] if i["code"] == "AFTER_DEATH")
    assert stored == {"id": "derivation.issue.assessment_after_death", "p": {"date": day(120).isoformat()}}
    assert _render(stored, "zh-hans") == f"{day(120).isoformat()} 的肿瘤评估在死亡之后"
    assert _render(stored, "en") == issue.message
    assert issue.to_dict()["message"] == stored


def test_a_nested_time_to_event_reason_reads_in_chinese_and_exports_in_english(death_after_scan):
    lesion = death_after_scan.lc_lesions[0]
    english = (
        f"lesion L1: competing event: death without local failure on {day(100).isoformat()}; 1-KM censors at "
        f"the last scan evaluating the lesion {day(56).isoformat()}"
    )
    assert lesion.reason == english
    row = json.loads(engine.patient_row_json(death_after_scan))
    stored = row["lc_lesions"][0]["reason"]
    assert (
        stored["id"] == "derivation.tte.lesion"
        and stored["p"]["reason"]["id"] == "derivation.tte.competing_death"
    )
    assert _render(stored, "zh-hans") == (
        f"病灶 L1：竞争事件：{day(100).isoformat()} 死亡且无局部失败；1-KM 删失于末次评价该病灶的扫描 "
        f"{day(56).isoformat()}"
    )
    with translation.override("zh-hans"):
        assert ruletext.render(stored) == english  # the ADaM export's text stays English in any language
        assert text(stored) != english
    assert _render(stored, "en") == english
    assert pickle.loads(pickle.dumps(lesion.reason)).data() == stored  # the per-patient memo keeps the id


def test_a_therapy_reason_reads_every_part_in_chinese():
    therapy = SubsequentTherapy(sd(150, "subsequent-therapy"), TherapyType.SYSTEMIC, TherapyReason.TOXICITY)
    pfs2 = derive_patient(_record(subsequent_therapies=(therapy,))).pfs2
    assert pfs2 is not None
    assert pfs2.reason == (
        f"censored: next line for another reason (systemic therapy for toxicity started {day(150).isoformat()}); "
        "not a PFS2 event"
    )
    assert _render(ruletext.dumps(pfs2.reason), "zh-hans") == (
        f"删失：因其他原因的后线治疗（因毒性于 {day(150).isoformat()} 开始的全身治疗）；不是 PFS2 事件"
    )


def test_a_snapshot_stored_before_ids_still_shows_its_english_text():
    assert _render("event: death on 2025-03-01", "zh-hans") == "event: death on 2025-03-01"


def test_landmark_rates_are_ids():
    stored = engine.LANDMARK(rate=engine.NOT_ESTIMABLE(), n=0).data()
    assert _render(stored, "en") == "not estimable [n at risk 0]"
    assert _render(stored, "zh-hans") == "不可估计 [风险人数 0]"


def _placeholders(template: str) -> list[str]:
    return sorted(re.findall(r"%\((\w+)\)s", template))


def test_every_endpoint_id_has_a_chinese_entry_with_the_same_placeholders():
    assert derivation and engine  # the modules that define the ids are imported
    ours = {mid: t for mid, t in ruletext.CATALOGUE.items() if mid.startswith(("derivation.", "endpoints."))}
    assert len(ours) >= 80
    catalogue = {e.msgid: e for e in polib.pofile(str(PO)) if not e.obsolete and not e.msgctxt}
    problems = []
    for mid, template in sorted(ours.items()):
        entry = catalogue.get(template)
        if entry is None or not entry.msgstr or "fuzzy" in entry.flags:
            problems.append((mid, "missing or untranslated"))
        elif _placeholders(entry.msgstr) != _placeholders(template):
            problems.append((mid, "placeholders differ"))
    assert problems == []


def test_the_report_listing_shows_the_bor_rule_as_text_in_the_readers_language(death_after_scan):
    from reports import report

    row = json.loads(engine.patient_row_json(death_after_scan))
    rule = row["cbor"]["rule"]
    assert isinstance(rule, dict) and death_after_scan.to_dict()["cbor"]["rule"] == rule
    with translation.override("en"):
        flat = " ".join(" ".join(report.bor_listing([row])["blocks"]).split())
        assert " ".join(ruletext.render(rule).split()) in flat and "{'id'" not in flat
    with translation.override("zh-hans"):
        flat = " ".join(" ".join(report.bor_listing([row])["blocks"]).split())
        assert "{'id'" not in flat and " ".join(text(rule).split()) in flat
