"""User accounts created outside the admin site (``manage.py create_user``), audited like every other change.

DESIGN.md: managing users and roles is a superuser's job and is audited; no role can grant itself another. A user
gets exactly one study role (a Django group); data managers also reach the admin site for reference data.
"""

from __future__ import annotations

import getpass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from sabr_trial.models import AuditEvent
from sabr_trial.roles import Role


def operator() -> str:
    """Return the operating-system account running a management command (kept in its audit row)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        return "unknown"


def user_create(
    *, username: str, role: str, password: str, acting_user: Any = None, email: str = "", origin: str = ""
) -> Any:
    """Create a user with one study role and write the USER_CREATE audit row, in one transaction.

    Raises ``ValidationError`` naming the field (username, role, password) for a taken name, an unknown role or
    a password the validators refuse (AUTH_PASSWORD_VALIDATORS); nothing is written then.
    """
    user_model = get_user_model()
    username = username.strip()
    if not username:
        raise ValidationError({"username": _("A username is required.")})
    if user_model.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": _("User %(u)s already exists.") % {"u": username}})
    if role not in Role.values:
        raise ValidationError(
            {
                "role": _("Unknown role %(r)s; choose one of: %(all)s.")
                % {"r": role, "all": ", ".join(Role.values)}
            }
        )
    candidate = user_model(username=username, email=email)
    try:
        validate_password(password, user=candidate)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from None
    with transaction.atomic():
        user = user_model.objects.create_user(username=username, email=email, password=password)
        user.is_staff = role == Role.DATA_MANAGER  # data managers keep reference data in the admin site
        user.save(update_fields=["is_staff"])
        user.groups.set([Group.objects.get(name=role)])
        AuditEvent.objects.create(
            user=acting_user if getattr(acting_user, "pk", None) else None,
            action=AuditEvent.Action.USER_CREATE,
            description=(
                _("User %(u)s created with role %(r)s%(o)s")
                % {"u": username, "r": Role(role).label, "o": f" ({origin})" if origin else ""}
            )[:300],
        )
    return user
