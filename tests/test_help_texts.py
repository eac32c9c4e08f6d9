"""Help texts in plain words, rule ids after them in small type, length limits shown (issue 19 item 6)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import translation

from sabr_trial.crf import registry
from sabr_trial.templatetags.crf_help import help_parts
from tests import factories_enrollment as fe

WORDS = re.compile(r"[A-Za-z]{3,}")


def all_help_texts():
    for spec in registry.all():
        for field in spec.model._meta.get_fields():
            text = str(getattr(field, "help_text", "") or "")
            if text and not field.name.startswith("history_"):
                yield f"{spec.model.__name__}.{field.name}", text


def test_every_crf_help_text_says_something_in_plain_words_before_its_rule_ids():
    """Before: "EC-IC-2.", "EC-MH-1.", "EC-SV-1, EC-SV-2." and "EC-BL-1: consistent with ECOG." were the whole help."""
    bare = [name for name, text in all_help_texts() if len(WORDS.findall(help_parts(text)[0])) < 3]
    assert bare == []
    leading = [name for name, text in all_help_texts() if re.match(r"(EC-|R\d+\.\d)", text)]
    assert leading == []  # the rule id follows the words, never leads


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("Blank while the AE is ongoing (EC-AE-4).", ("Blank while the AE is ongoing.", "(EC-AE-4)")),
        ("Was it given? (R4.7, R4.8).", ("Was it given?", "(R4.7, R4.8)")),
        ("该病灶计划的分次数：1 至 15（EC-ST-1）。", ("该病灶计划的分次数：1 至 15。", "（EC-ST-1）")),
        ("The isodose line: 50 to 100 %.", ("The isodose line: 50 to 100 %.", "")),
        (
            "Default 10 Gy (tumour, R3.2). Both are stored.",
            ("Default 10 Gy (tumour, R3.2). Both are stored.", ""),
        ),
    ],
)
def test_help_parts_splits_the_trailing_rule_ids(text, parts):
    assert help_parts(text) == parts


@pytest.mark.django_db
def test_a_form_page_shows_the_rule_ids_in_small_type_and_the_length_limit(
    as_coordinator, coordinator, investigator
):
    patient = fe.registered(coordinator, investigator)
    page = as_coordinator.get(reverse("crf_create", args=[patient.pk, "medical-history"])).text
    assert (
        "Blank while the condition is ongoing; once it has ended, on or after the start date. "
        '<small class="rule-ids">(EC-MH-1)</small>'
    ) in page
    assert 'data-length-for="id_mh_term" data-max="200"' in page and "At most 200 characters." in page
    assert 'data-length-for="id_mh_category"' not in page  # a choice has no length to show
    with translation.override("zh-hans"):
        page = as_coordinator.get(
            reverse("crf_create", args=[patient.pk, "medical-history"]), HTTP_ACCEPT_LANGUAGE="zh-hans"
        ).text
    assert "最多 200 个字符。" in page and "At most 200 characters." not in page


@pytest.mark.django_db
def test_text_beyond_the_limit_is_refused_with_its_length_never_cut(
    as_coordinator, coordinator, investigator
):
    patient = fe.registered(coordinator, investigator)
    response = as_coordinator.post(
        reverse("crf_create", args=[patient.pk, "medical-history"]),
        {
            "mh_term": "x" * 250,
            "mh_category": "OTHER",
            "start_date": "2019",
            "ongoing": "Y",
            "action": "submit",
        },
    )
    assert response.status_code == 200
    assert "at most 200 characters (it has 250)" in response.text
