"""The Simplified Chinese catalogue: complete, placeholders intact, compiled, and used by the pages (issue 18)."""

from __future__ import annotations

import re
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import translation

from sabr_trial.views import error_500
from tests.factories import PASSWORD

LOCALE = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES"
CATALOGUES = sorted(LOCALE.glob("*.po"))
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|%%|\{\{ *[a-z_]+ *\}\}")


def _entries() -> list[tuple[str, polib.POEntry]]:
    return [(po_path.name, e) for po_path in CATALOGUES for e in polib.pofile(str(po_path)) if not e.obsolete]


def test_there_is_a_chinese_catalogue():
    assert "django.po" in [p.name for p in CATALOGUES]
    assert len(_entries()) > 1500


def test_no_entry_is_fuzzy_or_untranslated():
    bad = [
        e.msgid
        for _, e in _entries()
        if "fuzzy" in e.flags or not (e.msgstr or (e.msgid_plural and e.msgstr_plural.get(0)))
    ]
    assert bad == []


def test_every_translation_keeps_the_placeholders_of_its_message():
    wrong = []
    for _, e in _entries():
        text = e.msgstr_plural.get(0, "") if e.msgid_plural else e.msgstr
        wanted = sorted(PLACEHOLDER.findall(e.msgid_plural or e.msgid))
        if sorted(PLACEHOLDER.findall(text)) != wanted:
            wrong.append((e.msgid, text))
    assert wrong == []


def test_every_translation_is_chinese_unless_it_is_an_abbreviation_or_a_code():
    # A msgstr identical to its msgid is allowed only for abbreviations, units and codes (CR, mm, SHA-256, R1.21).
    allowed = re.compile(r"[A-Za-z0-9/.+<>\-% ]{1,12}|English|REST API|SABR-RCC EDC|SABR %\(c\)s")
    same = [e.msgid for _, e in _entries() if e.msgstr == e.msgid and not allowed.fullmatch(e.msgid)]
    assert same == []


def test_the_compiled_catalogue_is_newer_than_its_source():
    for po_path in CATALOGUES:
        mo_path = po_path.with_suffix(".mo")
        assert mo_path.exists(), f"{mo_path} missing: run `make install` (msgfmt from gettext)"
        assert mo_path.stat().st_mtime >= po_path.stat().st_mtime, (
            f"{mo_path} is older than its .po: `make install`"
        )


@pytest.mark.parametrize(
    ("english", "chinese"),
    [
        ("Adverse events", "不良事件"),
        ("Complete response", "完全缓解（CR）"),
        ("Source-data verification", "源数据核查（SDV）"),
        ("E-signature", "电子签名"),
        ("Informed consent", "知情同意"),
        ("Toripalimab", "特瑞普利单抗"),
        ("Axitinib", "阿昔替尼"),
        ("Query", "质疑"),
        ("Lock", "锁定"),
    ],
)
def test_glossary_terms_are_used(english, chinese):
    with translation.override("zh-hans"):
        assert translation.gettext(english) == chinese


def test_a_lesion_target_and_a_sabr_target_read_differently():
    from assessments.models import Lesion

    with translation.override("zh-hans"):
        assert str(Lesion.Role.TARGET.label) == "靶病灶"
        assert translation.gettext("Target") == "靶区"


@pytest.mark.django_db
def test_login_page_in_chinese_names_the_configured_lockout_limit(settings):
    settings.AXES_FAILURE_LIMIT = 3
    response = Client(HTTP_ACCEPT_LANGUAGE="zh-hans").get(reverse("login"))
    assert "登录" in response.text
    assert "连续 3 次登录失败后账户将被锁定" in response.text


@pytest.mark.django_db
def test_locked_out_page_says_the_configured_limit_in_both_languages(coordinator, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for language, expected in (
        ("en", "locked after 3 failed login attempts"),
        ("zh-hans", "因 3 次登录失败已被锁定"),
    ):
        client = Client(HTTP_ACCEPT_LANGUAGE=language)
        for _ in range(3):
            client.post(reverse("login"), {"username": "coord", "password": "wrong-password"})
        response = client.post(reverse("login"), {"username": "coord", "password": PASSWORD})
        assert response.status_code == 403
        assert expected in response.text
        from axes.utils import reset

        reset(username="coord")


@pytest.mark.django_db
def test_server_error_page_is_translated():
    request = RequestFactory().get("/")
    from django.contrib.auth.models import AnonymousUser

    request.user = AnonymousUser()
    with translation.override("zh-hans"):
        response = error_500(request)
    text = response.content.decode()
    assert response.status_code == 500
    assert "服务器错误" in text and 'lang="zh-hans"' in text and "Server error" not in text


# --- Language per user (navigation switch, saved preference, site default, ISO dates) -----------------------------


@pytest.mark.django_db
def test_switch_saves_the_language_in_the_profile_and_a_new_session_uses_it(coordinator, as_coordinator):
    from sabr_trial.models import UserPreference

    page = as_coordinator.get(reverse("patient_list"))
    assert 'data-testid="language-switch"' in page.text and "简体中文" in page.text
    response = as_coordinator.post(reverse("set_language"), {"language": "zh-hans", "next": "/patients/"})
    assert response.status_code == 302 and response["Location"] == "/patients/"
    assert UserPreference.objects.get(user=coordinator).language == "zh-hans"
    assert "患者" in as_coordinator.get(reverse("patient_list")).text
    # Another browser, English Accept-Language, no cookie: the saved choice wins.
    other = Client(HTTP_ACCEPT_LANGUAGE="en")
    other.force_login(coordinator)
    page = other.get(reverse("patient_list"))
    assert page["Content-Language"] == "zh-hans" and "退出登录" in page.text
    other.post(reverse("set_language"), {"language": "en", "next": "/patients/"})
    assert UserPreference.objects.get(user=coordinator).language == "en"
    assert "Log out" in other.get(reverse("patient_list")).text


@pytest.mark.django_db
def test_an_unknown_language_changes_nothing(coordinator, as_coordinator):
    from sabr_trial.models import UserPreference

    response = as_coordinator.post(reverse("set_language"), {"language": "xx", "next": "/patients/"})
    assert response.status_code == 302
    assert not UserPreference.objects.filter(user=coordinator).exists()


@pytest.mark.django_db
def test_without_a_saved_choice_the_browser_language_applies(coordinator):
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.force_login(coordinator)
    assert "退出登录" in client.get(reverse("patient_list")).text


def test_anonymous_visitors_can_switch_on_the_login_page():
    client = Client()
    page = client.get(reverse("login"))
    assert 'data-testid="language-switch"' in page.text
    client.post(reverse("set_language"), {"language": "zh-hans", "next": reverse("login")})
    assert "登录" in client.get(reverse("login")).text


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_dates_stay_iso_and_decimals_keep_the_point(language):
    import datetime
    from decimal import Decimal

    from django import forms
    from django.template import Context, Template

    template = Template("{{ d }}|{{ d|date }}|{{ t }}|{{ x }}|{{ x|floatformat:2 }}")
    with translation.override(language):
        text = template.render(
            Context(
                {
                    "d": datetime.date(2026, 3, 7),
                    "t": datetime.datetime(2026, 3, 7, 9, 5),
                    "x": Decimal("12.5"),
                }
            )
        )
        widget = forms.DateField(localize=True).widget.render("d", datetime.date(2026, 3, 7))
    assert text == "2026-03-07|2026-03-07|2026-03-07 09:05|12.5|12.50"
    assert 'value="2026-03-07"' in widget


@pytest.mark.parametrize(("value", "ok"), [("zh-hans", True), ("en", True), ("fr", False)])
def test_site_default_language_comes_from_the_environment(value, ok):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "LANGUAGE_CODE"}
    env.update(DJANGO_DEBUG="1", LANGUAGE_CODE=value, DJANGO_SETTINGS_MODULE="sabr_trial.settings")
    code = "import django; django.setup(); from django.conf import settings; print(settings.LANGUAGE_CODE)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if ok:
        assert result.stdout.strip() == value, result.stderr
    else:
        assert result.returncode != 0 and "LANGUAGE_CODE must be one of en, zh-hans" in result.stderr


# --- CTCAE in Chinese: organ classes and grades translated, term names English (no licensed translation) ----------


@pytest.fixture
def _ctcae_terms(db):
    from tests.factories_adverse_events import ensure_ctcae_terms

    ensure_ctcae_terms()


@pytest.mark.django_db
@pytest.mark.usefixtures("_ctcae_terms")
@pytest.mark.parametrize(
    ("language", "query", "term", "soc"),
    [
        ("en", "diarr", "Diarrhea", "Gastrointestinal disorders"),
        ("zh-hans", "diarr", "Diarrhea", "胃肠系统疾病"),
        ("zh-hans", "胃肠", "Abdominal distension", "胃肠系统疾病"),
        ("zh-hans", "皮肤及皮下", "Alopecia", "皮肤及皮下组织类疾病"),
    ],
)
def test_ctcae_search_in_both_languages(coordinator, language, query, term, soc):
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(coordinator)
    results = client.get(reverse("adverse_events:ctcae_search"), {"q": query}).json()["results"]
    assert results[0]["term"] == term and results[0]["soc"] == soc


@pytest.mark.django_db
@pytest.mark.usefixtures("_ctcae_terms")
def test_a_chinese_query_matching_nothing_finds_nothing(coordinator):
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.force_login(coordinator)
    assert client.get(reverse("adverse_events:ctcae_search"), {"q": "不存在的器官"}).json()["results"] == []


def test_every_ctcae_organ_class_has_a_translation():
    import csv

    from adverse_events.soc_names import SOC_NAMES

    path = Path(settings.BASE_DIR) / "adverse_events" / "data" / "ctcae_v5.0.csv"
    with path.open(newline="", encoding="utf-8") as fh:
        socs = {row["meddra_soc"] for row in csv.DictReader(fh)}
    assert socs == set(SOC_NAMES)
    with translation.override("zh-hans"):
        assert all(translation.gettext(s) != s for s in SOC_NAMES)


def test_ae_grade_labels_follow_the_request_language():
    from adverse_events.models import AdverseEvent

    field = AdverseEvent._meta.get_field("grade")
    with translation.override("zh-hans"):
        assert [str(label) for _, label in field.choices] == ["1级", "2级", "3级", "4级", "5级"]
    with translation.override("en"):
        assert str(field.choices[0][1]) == "Grade 1"
