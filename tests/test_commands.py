"""Management commands a data manager needs without a shell: create_user and recompute_endpoints, both audited."""

from __future__ import annotations

import datetime
import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from endpoints.models import EndpointSnapshot
from sabr_trial.models import AuditEvent
from tests.factories import UserFactory
from tests.factories_assessments import LesionFactory, assessment_post, create_url

pytestmark = pytest.mark.django_db

GOOD = "correct-horse-battery-7"


def _create(tmp_path, *args: str, password: str = GOOD) -> str:
    path = tmp_path / "pw.txt"
    path.write_text(password + "\n", encoding="utf-8")
    out = io.StringIO()
    call_command("create_user", *args, "--password-file", str(path), stdout=out)
    return out.getvalue()


ROLES = [
    pytest.param("coordinator", False, id="coordinator"),
    pytest.param("investigator", False, id="investigator"),
    pytest.param("data_manager", True, id="data-manager-reaches-admin"),
    pytest.param("monitor", False, id="monitor"),
]


@pytest.mark.parametrize(("role", "staff"), ROLES)
def test_create_user_with_role_from_password_file(tmp_path, role, staff) -> None:
    out = _create(tmp_path, "newuser", "--role", role)
    user = get_user_model().objects.get(username="newuser")
    assert [g.name for g in user.groups.all()] == [role] and user.check_password(GOOD)
    assert (user.is_staff, user.is_superuser) == (staff, False) and "created newuser" in out
    event = AuditEvent.objects.get(action=AuditEvent.Action.USER_CREATE)
    assert "newuser" in event.description and "create_user" in event.description


def test_create_user_records_the_superuser_who_asked(tmp_path) -> None:
    boss = get_user_model().objects.create_superuser("boss", password=GOOD)
    _create(tmp_path, "newuser", "--role", "monitor", "--by", "boss")
    assert AuditEvent.objects.get(action=AuditEvent.Action.USER_CREATE).user == boss


REFUSALS = [
    pytest.param(["taken", "--role", "monitor"], GOOD, "already exists", id="username-taken"),
    pytest.param(["newuser", "--role", "monitor"], "short", "password", id="password-too-short"),
    pytest.param(["newuser", "--role", "monitor"], "123456789012345", "password", id="password-numeric"),
    pytest.param(["newuser", "--role", "admin"], GOOD, "invalid choice", id="unknown-role"),
    pytest.param(
        ["newuser", "--role", "monitor", "--by", "taken"], GOOD, "no superuser", id="by-not-superuser"
    ),
]


@pytest.mark.parametrize(("args", "password", "message"), REFUSALS)
def test_create_user_refusals_change_nothing(tmp_path, args, password, message) -> None:
    UserFactory(username="taken")
    with pytest.raises(CommandError, match=message):
        _create(tmp_path, *args, password=password)
    assert not get_user_model().objects.filter(username="newuser").exists()
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.USER_CREATE).exists()


def test_create_user_prompts_twice_and_refuses_a_mismatch(monkeypatch) -> None:
    answers = iter([GOOD, GOOD + "x"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    with pytest.raises(CommandError, match="differ"):
        call_command("create_user", "newuser", "--role", "monitor", stdout=io.StringIO())
    answers = iter([GOOD, GOOD])
    call_command("create_user", "newuser", "--role", "monitor", stdout=io.StringIO())
    assert get_user_model().objects.get(username="newuser").check_password(GOOD)


def test_create_user_refuses_an_empty_or_missing_password_file(tmp_path) -> None:
    with pytest.raises(CommandError, match="first line is empty"):
        _create(tmp_path, "newuser", "--role", "monitor", password="")
    with pytest.raises(CommandError, match="cannot read"):
        call_command("create_user", "newuser", "--role", "monitor", "--password-file", str(tmp_path / "none"))
    assert not get_user_model().objects.filter(username="newuser").exists()


def test_recompute_endpoints_at_a_cutoff_is_stored_and_audited(as_coordinator) -> None:
    lesion = LesionFactory()
    patient = lesion.patient
    assert (
        as_coordinator.post(create_url(patient), assessment_post(patient, {"L1": 20}, day=56)).status_code
        == 302
    )
    manager = UserFactory(username="dm", role="data_manager")
    cutoff = timezone.localdate() - datetime.timedelta(days=10)
    out = io.StringIO()
    call_command("recompute_endpoints", "--cutoff", cutoff.isoformat(), "--user", "dm", stdout=out)
    snap = EndpointSnapshot.objects.get(trigger="command")
    assert (snap.status, snap.data_cutoff, snap.requested_by) == (EndpointSnapshot.Status.OK, cutoff, manager)
    assert snap.results["n_patients"] == 1 and f"cut-off {cutoff}" in out.getvalue()
    event = AuditEvent.objects.get(action=AuditEvent.Action.RECOMPUTE)
    assert event.user == manager and f"snapshot {snap.pk} stored" in event.description


def test_recompute_endpoints_defaults_to_today() -> None:
    call_command("recompute_endpoints", stdout=io.StringIO())
    assert EndpointSnapshot.objects.get(trigger="command").data_cutoff == timezone.localdate()


BAD_CUTOFFS = [
    pytest.param(["--cutoff", "31/12/2025"], "not a date", id="not-iso"),
    pytest.param(
        ["--cutoff", (timezone.localdate() + datetime.timedelta(days=1)).isoformat()], "future", id="future"
    ),
    pytest.param(["--user", "nobody"], "no active user", id="unknown-user"),
]


@pytest.mark.parametrize(("args", "message"), BAD_CUTOFFS)
def test_recompute_endpoints_refusals_store_nothing(args, message) -> None:
    with pytest.raises(CommandError, match=message):
        call_command("recompute_endpoints", *args, stdout=io.StringIO())
    assert not EndpointSnapshot.objects.exists() and not AuditEvent.objects.exists()
