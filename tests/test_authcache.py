"""A signed-in user's roles, permissions and two-factor state come from the shared cache (``sabr_trial.authcache``),
and every change of them reaches the next request."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from sabr_trial.models import TwoFactorRole
from sabr_trial.roles import Role
from tests.factories import RegisteredPatientFactory, UserFactory

pytestmark = pytest.mark.django_db

ACCESS_TABLES = ("auth_group", "auth_permission", "sabr_trial_twofactorrole", "otp_")


def _access_queries(client: Client, url: str) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        status = client.get(url).status_code
    return status, [q["sql"] for q in queries if any(t in q["sql"] for t in ACCESS_TABLES)]


def _signed_in(role: str) -> tuple[Any, Client]:
    user = UserFactory(username=f"u-{role}", role=role)
    client = Client()
    client.force_login(user)
    return user, client


def test_the_second_request_reads_no_group_permission_or_device() -> None:
    _user, client = _signed_in(Role.COORDINATOR)
    page = reverse("patient_list")
    status, first = _access_queries(client, page)
    assert status == 200 and first, "the first request reads the user's access from the database"
    status, second = _access_queries(client, page)
    assert status == 200 and second == []


def test_a_role_taken_away_is_refused_on_the_next_request(django_capture_on_commit_callbacks: Any) -> None:
    user, client = _signed_in(Role.COORDINATOR)
    page = reverse("patient_list")
    assert client.get(page).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        user.groups.remove(Group.objects.get(name=Role.COORDINATOR))
    assert client.get(page).status_code == 403


def test_a_role_given_counts_on_the_next_request(django_capture_on_commit_callbacks: Any) -> None:
    user, client = _signed_in(Role.MONITOR)
    patient = RegisteredPatientFactory()
    new_ae = reverse("crf_create", args=[patient.pk, "adverse-event"])
    assert client.get(new_ae).status_code == 403  # a monitor enters no data
    with django_capture_on_commit_callbacks(execute=True):
        Group.objects.get(name=Role.COORDINATOR).user_set.add(user)  # from the group's side
    assert client.get(new_ae).status_code == 200


def test_two_factor_required_for_a_role_sends_the_next_request_to_the_code_page(
    django_capture_on_commit_callbacks: Any,
) -> None:
    user, client = _signed_in(Role.INVESTIGATOR)
    page = reverse("patient_list")
    assert client.get(page).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        TwoFactorRole.objects.create(role=Role.INVESTIGATOR, required_by=user)
    response = client.get(page)
    assert response.status_code == 302 and reverse("two_factor") in response["Location"]


def test_a_deactivated_user_loses_every_permission_at_once(django_capture_on_commit_callbacks: Any) -> None:
    user, client = _signed_in(Role.COORDINATOR)
    assert client.get(reverse("patient_list")).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        user.is_active = False
        user.save()
    response = client.get(reverse("patient_list"))
    assert response.status_code == 302 and reverse("login") in response["Location"]


@override_settings(
    CACHES={
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:8109/0",  # nothing listens there
            "OPTIONS": {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 0.05, "SOCKET_TIMEOUT": 0.05},
        }
    }
)
def test_with_the_cache_down_every_request_reads_the_database_and_a_change_counts_at_once() -> None:
    user, client = _signed_in(Role.COORDINATOR)
    page = reverse("patient_list")
    status, first = _access_queries(client, page)
    status2, second = _access_queries(client, page)
    assert status == status2 == 200 and first and second
    user.groups.clear()  # no commit, no bump: only the database knows
    assert client.get(page).status_code == 403


def test_cache_keys_are_named_after_the_database():
    """Two instances sharing one Redis (a training copy, a test run beside a benchmark) must not read each other's
    cached permissions: user 1 of one database is another person in the other."""
    import subprocess
    import sys

    def prefix(database_url: str, **extra: str) -> str:
        import os

        env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": "redis://127.0.0.1:6379/3", **extra}
        code = "from sabr_trial import settings as s; print(s.CACHES['default']['KEY_PREFIX'])"
        return subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        ).stdout.strip()

    one = prefix("postgres://postgres@127.0.0.1:5432/sabr_one")
    other = prefix("postgres://postgres@127.0.0.1:5432/sabr_other")
    assert one == "sabr_one" and other == "sabr_other"
    assert prefix("postgres://postgres@127.0.0.1:5432/sabr_one", CACHE_KEY_PREFIX="site-a") == "site-a"


def test_a_sign_in_keeps_every_other_users_cached_access() -> None:
    """Before: the sign-in's save of last_login moved the access generation, so every sign-in made every
    signed-in user read their groups, permissions and devices from the database again."""
    other = UserFactory(username="u-other", role=Role.MONITOR)
    other.set_password("a-long-enough-password-1")
    other.save()
    _user, client = _signed_in(Role.COORDINATOR)
    page = reverse("patient_list")
    _access_queries(client, page)
    signed_in = Client().post(
        reverse("login"), {"username": "u-other", "password": "a-long-enough-password-1"}
    )
    assert signed_in.status_code == 302
    other.refresh_from_db()
    assert other.last_login is not None  # the sign-in saved it
    status, again = _access_queries(client, page)
    assert status == 200 and again == []
    other.first_name = "Changed"  # any other change of a user still moves it
    other.save()
    status, after = _access_queries(client, page)
    assert status == 200 and after
