"""RECIST rule texts as message ids with parameters (issue 18, item 3).

``assessments.recist`` builds every rule text (measurability, target selection, category and overall responses,
BOR, iRECIST, local control) and every ``RecistError`` as a ``ruletext.Msg``; the assessment services store them as
JSON, the pages and the API render them in the reader's language, the CRF CSV export in English.
"""

from __future__ import annotations

import dataclasses
import datetime
import html
import re
from decimal import Decimal
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

import ruletext
from assessments import recist
from assessments.models import TumourAssessment
from sabr_trial.templatetags.ruletext import text
from tests.domain.test_recist_builders import (
    START,
    day,
    measured,
    new_lesion,
    nontarget,
    present,
    state,
    target,
    tp,
)
from tests.factories import RegisteredPatientFactory
from tests.factories_api import Api, token_for
from tests.factories_assessments import LesionFactory, assessment_post, baseline_lesions, create_url

CATALOGUE = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
PLACEHOLDER = re.compile(r"%\(\w+\)s")


def _recist_ids() -> dict[str, str]:
    return {mid: template for mid, template in ruletext.CATALOGUE.items() if mid.startswith("recist.")}


def test_every_recist_message_has_a_chinese_translation_with_the_same_placeholders():
    entries = {
        e.msgid: e.msgstr for e in polib.pofile(str(CATALOGUE)) if not e.obsolete and "fuzzy" not in e.flags
    }
    ids = _recist_ids()
    assert len(ids) > 150
    problems = []
    for mid, template in ids.items():
        msgstr = entries.get(template, "")
        if not msgstr:
            problems.append((mid, "missing"))
        elif sorted(set(PLACEHOLDER.findall(msgstr))) != sorted(set(PLACEHOLDER.findall(template))):
            problems.append((mid, "placeholders"))
    assert problems == []


# --- the pure module: every rule text keeps its id ---------------------------------------------------------------
RULE_FIELDS = {"rule", "target_rule", "nontarget_rule", "new_lesion_rule"}


def _plain_rule_texts(value: object, path: str = "") -> list[str]:
    """Rule texts in a result that are plain ``str`` (lost their id), with where they are."""
    found: list[str] = []
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        # a selection problem's ``rule`` is a rule id (R1.6); its text is ``message``
        fields = {"message"} if isinstance(value, recist.SelectionProblem) else RULE_FIELDS
        for f in dataclasses.fields(value):
            item = getattr(value, f.name)
            if f.name in fields and not isinstance(item, ruletext.Msg):
                found.append(f"{path}.{f.name}={item!r}")
            found += _plain_rule_texts(item, f"{path}.{f.name}")
    elif isinstance(value, tuple | list):
        for i, item in enumerate(value):
            found += _plain_rule_texts(item, f"{path}[{i}]")
    return found


def _series() -> tuple[list[recist.Lesion], list[recist.Assessment]]:
    """PR, PR, then local failure of the irradiated T2 and PD by a non-target and a new lesion."""
    lesions = [target("T1", 60), target("T2", 40, recist.Organ.LUNG, irradiated=True), nontarget("N1")]
    series = [
        tp(42, measured("T1", 30), measured("T2", 10), present("N1")),
        tp(84, measured("T1", 30), measured("T2", 20), present("N1")),
        tp(
            126,
            measured("T1", 31),
            measured("T2", 21),
            state("N1", recist.NonTargetState.UNEQUIVOCAL_PROGRESSION),
            new=(new_lesion("X1", day(126)),),
        ),
    ]
    return lesions, series


def test_every_rule_text_of_a_series_keeps_its_id():
    lesions, series = _series()
    start = START
    result = recist.evaluate_series(lesions, series)
    irecist = recist.irecist_series(lesions, series)
    outputs = [
        result,
        recist.evaluate_series_non_irradiated(lesions, series),
        irecist,
        recist.irecist_best_overall_response(irecist, treatment_start=start),
        recist.best_overall_response(result.responses(), treatment_start=start, confirm=False),
        recist.best_overall_response(result.responses(), treatment_start=start, confirm=True),
        recist.local_control(lesions, series, first_fraction_dates={"T2": day(7)}),
        recist.assess_measurability(
            organ=recist.Organ.LIVER,
            method=recist.Method.CT,
            value_mm=Decimal(8),
            slice_thickness_mm=Decimal(6),
        ),
        recist.validate_target_selection([target("A", 20), target("A", 20)]),
    ]
    assert _plain_rule_texts(outputs) == []
    # the English sentences are the ones the rules always gave (the domain tests check them word for word)
    assert result.timepoints[0].target_rule == "PR: SOD 40.0 mm <= 0.70 x baseline 100.0 mm (R1.13)"
    assert result.timepoints[0].target_rule.mid == "recist.target.pr"


def test_a_recist_error_carries_its_message_id():
    with pytest.raises(recist.RecistError) as caught:
        recist.lesion_value_mm(target("T9", 30), recist.LesionResult("T9"))
    assert caught.value.msg.mid == "recist.err.no_result"
    assert str(caught.value) == "T9: no result; record NOT EVALUABLE rather than leaving it blank (R1.17)"
    with translation.override("zh-hans"):
        assert text(caught.value.msg) == "T9：无结果；请记录“不可评价”，不要留空（R1.17）"


def test_a_selection_problem_reads_in_chinese_with_its_nested_reason():
    problems = recist.validate_target_selection(
        [
            target("A", 20, recist.Organ.LUNG),
            target("B", 20, recist.Organ.LUNG),
            target("C", 20, recist.Organ.LUNG),
        ]
    )
    message = problems[0].message
    assert message == (
        "C: a 3rd target in LUNG (already A, B) is not allowed: at most 2 per organ; both lungs count as one organ "
        "(R1.6)"
    )
    with translation.override("zh-hans"):
        assert text(ruletext.dumps(message)) == (
            "C：LUNG 不允许第 3 个靶病灶（已有 A, B）：每个器官最多 2 个；双肺计为一个器官（R1.6）"
        )


# --- stored by the services, shown by the pages, the API and the export ---------------------------------------


@pytest.fixture
def baseline():
    """Baseline SOD 100 mm: L1 liver 60, L2 lung 40; L3 non-target bone."""
    return baseline_lesions(RegisteredPatientFactory())


PR_EN = "PR: SOD 70.0 mm <= 0.70 x baseline 100.0 mm (R1.13)"
PR_ZH = "PR：径线总和 SOD 70.0 mm <= 0.70 x 基线 100.0 mm（R1.13）"


@pytest.mark.django_db
def test_the_stored_rule_is_an_id_and_reads_in_either_language(as_coordinator, baseline):
    response = as_coordinator.post(
        create_url(baseline), assessment_post(baseline, {"L1": 40, "L2": 30}, day=56)
    )
    assert response.status_code == 302
    a = TumourAssessment.objects.get()
    assert ruletext.loads(a.target_rule) == {"id": "recist.target.pr", "p": {"base": "100.0", "sod": "70.0"}}
    assert ruletext.loads(a.deciding_rule)["id"] == "recist.overall.t1"
    with translation.override("en"):
        assert text(a.target_rule) == PR_EN
        assert text(a.deciding_rule) == f"{PR_EN}; non-target NON-CR/NON-PD; no new lesion (Table 1)"
    with translation.override("zh-hans"):
        assert text(a.target_rule) == PR_ZH
        assert text(a.deciding_rule) == f"{PR_ZH}；非靶病灶 NON-CR/NON-PD；无新病灶（表 1）"
        assert text(a.nontarget_rule) == "NON-CR/NON-PD：非靶病灶 L3 存在（R1.18）"

    page = as_coordinator.get(a.get_absolute_url())
    assert PR_EN in html.unescape(page.text)
    as_coordinator.post(reverse("set_language"), {"language": "zh-hans", "next": "/patients/"})
    page = as_coordinator.get(a.get_absolute_url())
    assert PR_ZH in html.unescape(page.text) and PR_EN not in html.unescape(page.text)
    panel = html.unescape(as_coordinator.get(baseline.get_absolute_url()).text)
    assert "unconfirmed BOR" not in panel and "未确认 BOR，R1.23" in panel


@pytest.mark.django_db
def test_an_old_english_row_is_shown_as_stored(as_coordinator, baseline):
    as_coordinator.post(create_url(baseline), assessment_post(baseline, {"L1": 40, "L2": 30}, day=56))
    TumourAssessment.objects.update(deciding_rule="PR: sum -30% from baseline (stored before ids)")
    a = TumourAssessment.objects.get()
    page = as_coordinator.get(a.get_absolute_url())
    assert "PR: sum -30% from baseline (stored before ids)" in html.unescape(page.text)


@pytest.mark.django_db
def test_a_derivation_error_is_stored_as_an_id(as_coordinator, baseline):
    as_coordinator.post(create_url(baseline), assessment_post(baseline, {"L1": 40, "L2": 30}, day=56))
    LesionFactory(patient=baseline, organ="ADRENAL GLAND", role="NON-TARGET", baseline_value_mm=None)
    from assessments.services import recompute_patient

    recompute_patient(baseline)
    a = TumourAssessment.objects.get()
    assert a.overall_resp == "" and ruletext.loads(a.derivation_error)["id"] == "recist.err.no_state"
    with translation.override("zh-hans"):
        assert text(a.derivation_error) == "L4：无非靶病灶状态；如未评估请记录“不可评价”（R1.18）"


@pytest.mark.django_db
def test_the_api_gives_the_rule_in_the_request_language_and_as_stored(coordinator, as_coordinator, baseline):
    as_coordinator.post(create_url(baseline), assessment_post(baseline, {"L1": 40, "L2": 30}, day=56))
    api = Api(token_for(coordinator))
    url = f"patients/{baseline.pk}/responses/"
    body = api.get(url, **{"Accept-Language": "zh-hans"}).json()
    point = body["timepoints"][0]
    assert (
        point["deciding_rule"].startswith(PR_ZH) and point["deciding_rule_data"]["id"] == "recist.overall.t1"
    )
    body = api.get(url, **{"Accept-Language": "en"}).json()
    assert body["timepoints"][0]["deciding_rule"].startswith(PR_EN)


@pytest.mark.django_db
def test_the_crf_export_gives_the_english_sentence(as_coordinator, baseline):
    from reports.exports.crf_csv import crf_csv
    from sabr_trial.crf import registry

    as_coordinator.post(create_url(baseline), assessment_post(baseline, {"L1": 40, "L2": 30}, day=56))
    with translation.override("zh-hans"):
        csv = crf_csv(registry.get("tumour-assessment"), _keys()).decode()
    assert PR_EN in csv and '{"id"' not in csv


def _keys():
    from reports.exports.common import KeyMap

    return KeyMap()


@pytest.mark.django_db
def test_the_ec_ta_5_query_quotes_the_deciding_rule_as_an_id(as_coordinator, baseline):
    from assessments.editchecks import investigator_response_differs

    post = assessment_post(baseline, {"L1": 40, "L2": 30}, day=56)
    post["investigator_response"] = "SD"
    as_coordinator.post(create_url(baseline), {**post, "submit": "1"})
    TumourAssessment.objects.update(status="submitted")
    (finding,) = investigator_response_differs(baseline)
    message = finding.message
    assert isinstance(message, ruletext.Msg) and message.params["rule"].mid == "recist.overall.t1"
    assert message == (
        f"Investigator response SD differs from the computed response PR ({PR_EN}; non-target NON-CR/NON-PD; "
        "no new lesion (Table 1)) (EC-TA-5)."
    )
    with translation.override("zh-hans"):
        assert PR_ZH in text(ruletext.dumps(message))


def test_lesion_dates_are_iso_parameters():
    m = recist.new_lesion_response(
        [recist.NewLesion("X1", datetime.date(2025, 5, 10), unequivocal=True)]
    ).rule
    assert ruletext.loads(ruletext.dumps(m))["p"]["items"]["p"]["parts"][0]["p"]["date"] == "2025-05-10"
