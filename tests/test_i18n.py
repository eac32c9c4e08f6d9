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
