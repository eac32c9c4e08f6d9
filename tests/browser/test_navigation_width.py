"""The navigation stays on one line at 1,366 px for every role in both languages (issue 19: it wrapped into four
lines for the data manager, "Log out" ran off the screen); study-wide settings sit in the "Administration" menu."""

from __future__ import annotations

import pytest

from tests.browser.conftest import login
from tests.factories import PASSWORD, UserFactory
from tests.factories_visits import treated_patient

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROLES = ["coordinator", "investigator", "monitor", "data_manager"]


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_one_line_of_navigation_at_1366_px(page, screenshot, language):
    treated_patient(start_days_ago=40, study_number="SR-041")  # badges in the bar (worklist, to-do counts)
    for role in ROLES:
        user = UserFactory(username=f"nav-{role}", role=role, is_staff=role == "data_manager")
        page.context.clear_cookies()
        page.context.set_extra_http_headers({"Accept-Language": language})
        login(page, user.username, PASSWORD) if language == "en" else _login_any(page, user.username)
        page.wait_for_load_state("networkidle")
        nav = page.locator("nav.navbar").bounding_box()
        assert nav and nav["height"] <= 64, (role, language, nav)
        logout = page.locator("nav form[action$='/logout/'] button").bounding_box()
        assert logout and logout["x"] + logout["width"] <= 1366, (role, language, logout)
        screenshot(f"nav-{language}-{role}")
    # the data manager's settings: the study lock and two-factor sign-in in the Administration menu
    menu = page.get_by_test_id("nav-admin-menu")
    menu.locator(".dropdown-toggle").click()
    lock = menu.locator("a[href$='/study-lock/'], a[href*='lock']").first
    assert lock.is_visible()
    screenshot(f"nav-{language}-admin-menu")


def _login_any(page, username: str) -> None:
    page.goto("/accounts/login/")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form:has(input[name=username]) button[type=submit]").click()
