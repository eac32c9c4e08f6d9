"""Issue 16 (6, 8): the admin site is for data managers' reference tables only (users and roles: superusers, every
change audited, no role grants itself another); a locked-out account gets no API token and cannot use one; a patient
lock freezes its queries too."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client

from sabr_trial.models import AuditEvent
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_data_manager(data_manager):
    """A data manager as the demo used to set one up: staff, with the auth permissions on users."""
    data_manager.is_staff = True
    data_manager.save()
    data_manager.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="auth",
            codename__in=["view_user", "change_user", "add_user", "change_group"],
        )
    )
    return data_manager


def _client(user):
    client = Client()
    client.force_login(user)
    return client


def _change_form(user, **changes):
    data = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": "",
        "is_active": "on",
        "date_joined_0": user.date_joined.date().isoformat(),
        "date_joined_1": "09:00:00",
        "initial-date_joined_0": user.date_joined.date().isoformat(),
        "initial-date_joined_1": "09:00:00",
        "groups": [str(g.pk) for g in user.groups.all()],
    }
    if user.is_staff:
        data["is_staff"] = "on"
    data.update(changes)
    return data


@pytest.mark.parametrize(
    "changes",
    [
        {"is_superuser": "on"},
        {"groups": "coordinator"},
        {"user_permissions": "enter_crf"},
    ],
    ids=["tick-superuser", "grant-coordinator", "grant-enter-permission"],
)
def test_data_manager_cannot_escalate_through_the_admin(staff_data_manager, changes):
    client = _client(staff_data_manager)
    data = _change_form(staff_data_manager)
    for key, value in changes.items():
        if key == "groups":
            data["groups"] = [*data["groups"], str(Group.objects.get(name=value).pk)]
        elif key == "user_permissions":
            data["user_permissions"] = [str(Permission.objects.get(codename=value).pk)]
        else:
            data[key] = value
    response = client.post(f"/admin/auth/user/{staff_data_manager.pk}/change/", data)
    assert response.status_code == 403
    staff_data_manager.refresh_from_db()
    assert not staff_data_manager.is_superuser
    assert list(staff_data_manager.groups.values_list("name", flat=True)) == ["data_manager"]
    assert not staff_data_manager.has_perm("sabr_trial.enter_crf")


@pytest.mark.parametrize(
    "url", ["/admin/auth/user/", "/admin/auth/user/add/", "/admin/auth/group/", "/admin/auth/group/1/change/"]
)
def test_user_and_group_admin_is_refused_to_a_data_manager(staff_data_manager, url):
    assert _client(staff_data_manager).get(url).status_code == 403


def test_data_manager_keeps_the_reference_tables(staff_data_manager):
    client = _client(staff_data_manager)
    index = client.get("/admin/")
    assert index.status_code == 200
    assert "/admin/auth/user/" not in index.text and "/admin/auth/group/" not in index.text
    assert client.get("/admin/adverse_events/ctcaeterm/").status_code == 200


def test_superuser_role_change_is_audited(data_manager):
    root = UserFactory(username="root", is_superuser=True, is_staff=True)
    target = UserFactory(username="alice", role="coordinator")
    coordinator, investigator = Group.objects.get(name="coordinator"), Group.objects.get(name="investigator")
    data = _change_form(target, groups=[str(investigator.pk)])
    response = _client(root).post(f"/admin/auth/user/{target.pk}/change/", data)
    assert response.status_code == 302, response.content
    assert list(target.groups.all()) == [investigator] and coordinator not in target.groups.all()
    event = AuditEvent.objects.get(action=AuditEvent.Action.ROLE_CHANGE)
    assert event.user == root
    assert event.description == "user alice: groups: coordinator -> investigator"


def test_superuser_tick_and_group_permissions_are_audited():
    root = UserFactory(username="root", is_superuser=True, is_staff=True)
    target = UserFactory(username="bob", role="monitor")
    client = _client(root)
    client.post(f"/admin/auth/user/{target.pk}/change/", _change_form(target, is_superuser="on"))
    group = Group.objects.get(name="monitor")
    enter = Permission.objects.get(codename="enter_crf")
    perms = [str(p.pk) for p in group.permissions.all()] + [str(enter.pk)]
    response = client.post(f"/admin/auth/group/{group.pk}/change/", {"name": "monitor", "permissions": perms})
    assert response.status_code == 302, response.content
    texts = list(
        AuditEvent.objects.filter(action="role_change").order_by("id").values_list("description", flat=True)
    )
    assert texts[0] == "user bob: is_superuser: False -> True"
    assert texts[1].startswith("group monitor: permissions: ") and "sabr_trial.enter_crf" in texts[1]


# --- a locked-out account and the API ------------------------------------------------------------------------------


def _lock_out(username):
    from django.conf import settings
    from django.urls import reverse

    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("login"), {"username": username, "password": "wrong-password"})


def test_locked_out_account_cannot_use_its_token(coordinator):
    from tests.factories_api import Api, token_for

    api = Api(token_for(coordinator))
    assert api.get("patients/").status_code == 200
    _lock_out(coordinator.username)
    response = api.get("patients/")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert "locked after too many failed sign-ins" in response.json()["detail"]


def test_locked_out_account_gets_no_token(coordinator, data_manager):
    from knox.models import AuthToken

    from tests.factories_api import Api, token_for

    dm = Api(token_for(data_manager))
    _lock_out(coordinator.username)
    before = AuthToken.objects.count()
    response = dm.post("tokens/", {"username": coordinator.username, "expiry_days": 30})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["username"]
    assert AuthToken.objects.count() == before


# --- queries under a patient lock --------------------------------------------------------------------------------


@pytest.mark.parametrize("lock", ["patient", "study"])
def test_data_manager_cannot_close_a_query_under_a_lock(
    coordinator, investigator, monitor, data_manager, lock
):
    from sabr_trial import queries, services
    from sabr_trial.models import CrfLocked, Query
    from tests import factories_enrollment as fe

    patient = fe.registered(coordinator, investigator)
    row = patient.enrollment_consent_set.get()
    query = queries.raise_query(row=row, text="Time of consent?", acting_user=monitor)
    queries.answer_query(query=query, text="09:00 per source", acting_user=coordinator)
    if lock == "patient":
        services.patient_lock(patient=patient, acting_user=data_manager, reason="complete")
    else:
        services.study_lock(acting_user=data_manager, reason="final analysis")
    with pytest.raises(CrfLocked):
        queries.close_query(query=Query.objects.get(pk=query.pk), acting_user=data_manager, text="ok")
    assert Query.objects.get(pk=query.pk).query_status == Query.Status.ANSWERED
    client = Client()
    client.force_login(data_manager)
    response = client.post(f"/queries/{query.pk}/close/", {"text": "ok"})
    assert response.status_code == 409
    assert Query.objects.get(pk=query.pk).query_status == Query.Status.ANSWERED


# --- Content-Security-Policy -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/accounts/login/", "/patients/", "/api/v1/patients/"])
def test_every_response_carries_a_strict_csp(as_coordinator, path):
    policy = as_coordinator.get(path)["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'self'" and directives["object-src"] == "'none'"
    assert (
        "'unsafe-inline'" not in directives["script-src"] and "'unsafe-inline'" not in directives["style-src"]
    )
    assert "http" not in policy  # no third-party origin
