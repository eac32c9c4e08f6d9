"""Rule texts as message ids with parameters (issue 18, item 3): ``ruletext`` and its template filter."""

from __future__ import annotations

import pickle

import pytest
from django.template import Context, Template
from django.utils import translation

import ruletext
from ruletext import Msg, define, dumps, gettext_noop, join, render, say

# Test-only ids; the templates are not in the catalogue, so every language shows them in English.
SOD = define("test.sod", gettext_noop("PR: SOD %(sod)s mm <= 0.70 x baseline %(base)s mm (R1.13)"))
WRAP = define("test.wrap", gettext_noop("%(code)s: %(why)s"))


def test_a_message_is_its_english_sentence_and_keeps_its_id():
    m = SOD(sod="49", base="70")
    assert m == "PR: SOD 49 mm <= 0.70 x baseline 70 mm (R1.13)"
    assert isinstance(m, str) and "R1.13" in m
    assert (m.mid, dict(m.params)) == ("test.sod", {"sod": "49", "base": "70"})


def test_nested_and_joined_messages_keep_every_id_through_json():
    m = WRAP(code="L1", why=join("; ", [SOD(sod="1", base="2"), "plain"]))
    assert m == "L1: PR: SOD 1 mm <= 0.70 x baseline 2 mm (R1.13); plain"
    stored = dumps(m)
    assert '"id": "test.wrap"' in stored and '"id": "test.sod"' in stored
    assert render(stored) == m


def test_a_plain_or_old_english_text_is_shown_as_stored():
    assert dumps("SD: SOD 80 mm") == "SD: SOD 80 mm"
    assert render("SD: SOD 80 mm") == "SD: SOD 80 mm"
    assert render('{"id": broken') == '{"id": broken'
    assert render(None) == "" and dumps(None) == ""


def test_an_unknown_id_shows_the_id_and_its_parameters():
    assert render('{"id": "gone.away", "p": {"n": 3}}') == "gone.away {'n': '3'}"


def test_a_template_is_defined_once():
    with pytest.raises(ValueError, match="defined twice"):
        define("test.sod", "other %(x)s")
    with pytest.raises(ValueError, match="not a %\\(name\\)s template"):
        define("test.bad", "grew by 100%")


def test_messages_survive_pickling_for_the_endpoint_memo():
    m = WRAP(code="L2", why=SOD(sod="3", base="4"))
    back = pickle.loads(pickle.dumps(m))
    assert back == m and back.mid == "test.wrap" and back.params["why"].mid == "test.sod"


def test_translate_is_applied_to_every_part():
    m = WRAP(code="L1", why=SOD(sod="1", base="2"))
    upper = render(dumps(m), lambda t: t.replace("baseline", "BASELINE"))
    assert upper == "L1: PR: SOD 1 mm <= 0.70 x BASELINE 2 mm (R1.13)"
    broken = render(dumps(m), lambda t: "%(missing)s")  # a translation that lost its placeholders
    assert broken == m


def test_the_filter_renders_in_the_active_language():
    # a catalogue entry that exists in zh_Hans (Django's own): the filter goes through gettext
    ruletext.CATALOGUE.setdefault("test.django", "This field is required.")
    stored = dumps(Msg("test.django"))
    tpl = Template("{{ v|ruletext }}")
    with translation.override("zh-hans"):
        assert tpl.render(Context({"v": stored})) == "该字段是必填项。"
    with translation.override("en"):
        assert tpl.render(Context({"v": stored})) == "This field is required."


def test_a_said_message_carries_its_template_and_is_translated():
    m = say(gettext_noop("This field is required."))
    assert m == "This field is required." and m.mid == "=This field is required."
    with translation.override("zh-hans"):
        assert Template("{{ v|ruletext }}").render(Context({"v": dumps(m)})) == "该字段是必填项。"
    assert say("%(n)s forms", n=3) == "3 forms"


def test_a_stored_text_revives_with_every_id():
    m = WRAP(code="L1", why=join("; ", [SOD(sod="1", base="2"), "plain"]))
    back = ruletext.revive(dumps(m))
    assert back == m and back.mid == "test.wrap" and back.params["why"].params["parts"][0].mid == "test.sod"
    assert ruletext.revive("old English text") == "old English text"
