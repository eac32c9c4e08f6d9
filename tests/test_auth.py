"""Login, lockout, session expiry, roles, and no page leaks data to an anonymous visitor."""

from __future__ import annotations

import datetime
import re

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from sabr_trial.roles import ROLE_PERMISSIONS, Perm
from tests.factories import PASSWORD, RegisteredPatientFactory, ScreeningLogFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_login_with_right_password_lands_on_patients(coordinator):
    client = Client()
    response = client.post(reverse("login"), {"username": "coord", "password": PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("patient_list")


def test_wrong_password_shows_message_next_to_form(coordinator):
    response = Client().post(reverse("login"), {"username": "coord", "password": "nope"})
    assert response.status_code == 200 and "Please enter a correct username and password" in response.text


def test_five_wrong_passwords_lock_the_account_and_say_so(coordinator):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("login"), {"username": "coord", "password": "wrong-password"})
    response = client.post(reverse("login"), {"username": "coord", "password": PASSWORD})
    assert response.status_code == 403 and "Account locked" in response.text


def test_lockout_is_per_account_not_per_ip(coordinator, investigator):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("login"), {"username": "coord", "password": "wrong-password"})
    response = client.post(reverse("login"), {"username": "inv", "password": PASSWORD})
    assert response.status_code == 302


def _expiry(client: Client) -> datetime.datetime:
    return Session.objects.get(session_key=client.session.session_key).expire_date


def test_session_expires_after_30_idle_minutes_and_is_not_written_on_every_request(coordinator, monkeypatch):
    from sabr_trial.middleware import IdleSessionMiddleware

    monkeypatch.setattr(
        IdleSessionMiddleware, "TOUCH_SECONDS", 60
    )  # the real interval (conftest lengthens it)
    monkeypatch.setattr(IdleSessionMiddleware, "TOUCHES_PER_TIMEOUT", 30)
    assert settings.SESSION_COOKIE_AGE == 30 * 60
    start = datetime.datetime(2026, 6, 1, 2, 0, tzinfo=datetime.UTC)
    page = reverse("patient_list")
    with time_machine.travel(start, tick=False) as clock:
        client = Client()
        assert client.post(reverse("login"), {"username": "coord", "password": PASSWORD}).status_code == 302
        with CaptureQueriesContext(
            connection
        ) as after_login:  # the sign-in saved the session: no second write
            assert client.get(page).status_code == 200
        assert not [q for q in after_login if "UPDATE" in q["sql"] and "django_session" in q["sql"]]
        first = _expiry(client)
        assert first == start + datetime.timedelta(minutes=30)
        clock.shift(datetime.timedelta(seconds=20))  # a request soon after (or right after sign-in): no write
        with CaptureQueriesContext(connection) as queries:
            assert client.get(page).status_code == 200
        assert not [q for q in queries if "UPDATE" in q["sql"] and "django_session" in q["sql"]]
        assert _expiry(client) == first
        clock.shift(datetime.timedelta(minutes=2))  # a minute or more since the last move: the expiry moves
        assert client.get(page).status_code == 200
        moved = _expiry(client)
        assert moved == start + datetime.timedelta(minutes=2, seconds=20) + datetime.timedelta(minutes=30)
        clock.shift(datetime.timedelta(minutes=29))  # active 29 minutes later: still signed in
        assert client.get(page).status_code == 200
        clock.shift(datetime.timedelta(minutes=31))  # 31 idle minutes: signed out
        response = client.get(page)
        assert response.status_code == 302 and reverse("login") in response["Location"]


@pytest.mark.parametrize("role", list(ROLE_PERMISSIONS))
def test_role_groups_hold_exactly_the_role_table(role):
    group = Group.objects.get(name=role)
    assert {p.codename for p in group.permissions.all()} == ROLE_PERMISSIONS[role]


def test_only_monitors_verify_and_only_investigators_sign():
    verify = {r for r, p in ROLE_PERMISSIONS.items() if Perm.VERIFY in p}
    sign = {r for r, p in ROLE_PERMISSIONS.items() if Perm.SIGN in p}
    assert (verify, sign) == ({"monitor"}, {"investigator"})


def _all_patterns(resolver=None, prefix=""):
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            yield from _all_patterns(entry, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry


def _concrete(route: str, ids: dict[str, str]) -> str:
    route = route.lstrip("^").rstrip("$").replace("\\Z", "").replace("\\", "")
    route = re.sub(r"<(?:(\w+):)?(\w+)>", lambda m: ids.get(m.group(2), "1"), route)
    route = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: ids.get(m.group(1), "1"), route)
    return "/" + route


PUBLIC = {"login", "set_language"}


def test_every_url_pattern_refuses_anonymous_visitors():
    """A future view cannot forget the login check: anonymous requests never get data."""
    patient = RegisteredPatientFactory()
    log = ScreeningLogFactory(patient=patient)
    ids = {"pk": str(patient.pk), "patient_pk": str(patient.pk), "slug": "screening", "action": "submit"}
    client = Client()
    checked = 0
    for route, pattern in _all_patterns():
        if pattern.name in PUBLIC or route.startswith("admin/"):
            continue
        url = _concrete(route, {**ids, "pk": str(log.pk) if "forms" in route else str(patient.pk)})
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            assert response.status_code in (302, 401, 403, 404, 405), (url, method, response.status_code)
            if response.status_code == 302:
                assert response["Location"].startswith(reverse("login")), (url, response["Location"])
            assert patient.study_number not in response.content.decode(errors="ignore"), url
        checked += 1
    assert checked >= 8


def test_admin_refuses_anonymous():
    response = Client().get("/admin/")
    assert response.status_code == 302 and "login" in response["Location"]


def test_user_without_role_gets_403_page(as_outsider):
    response = as_outsider.get(reverse("patient_list"))
    assert response.status_code == 403 and "Not allowed" in response.text


def test_user_without_role_can_still_log_out(as_outsider):
    response = as_outsider.post(reverse("logout"))
    assert response.status_code == 302


def test_unknown_page_gives_404_page(as_coordinator):
    response = as_coordinator.get("/patients/999999/")
    assert response.status_code == 404 and "Not found" in response.text


@pytest.mark.parametrize(
    ("role", "can_create"),
    [("coordinator", True), ("investigator", True), ("data_manager", False), ("monitor", False)],
)
def test_new_patient_page_by_role(role, can_create):
    user = UserFactory(username=f"u-{role}", role=role)
    client = Client()
    client.force_login(user)
    assert (client.get(reverse("patient_new")).status_code == 200) is can_create
