"""Study roles and what each may do (DESIGN.md role table).

The groups are created by the data migration ``sabr_trial.0002_create_role_groups`` from
``ROLE_PERMISSIONS``; views check permissions, never group names.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    COORDINATOR = "coordinator", _("Research coordinator")
    INVESTIGATOR = "investigator", _("Investigator")
    DATA_MANAGER = "data_manager", _("Data manager")
    MONITOR = "monitor", _("Monitor")


class Perm:
    """Permission codenames (app label ``sabr_trial``), one per row of the role table."""

    VIEW = "view_study_data"
    ENTER = "enter_crf"
    ANSWER_QUERY = "answer_query"
    RAISE_QUERY = "raise_query"
    VERIFY = "verify_crf"
    SIGN = "sign_crf"
    LOCK = "lock_crf"
    EXPORT = "export_data"
    MANAGE = "manage_reference_data"


PERMISSION_LABELS: list[tuple[str, str]] = [
    (Perm.VIEW, "View CRFs, casebooks and the dashboard"),
    (Perm.ENTER, "Enter and edit CRFs"),
    (Perm.ANSWER_QUERY, "Answer queries"),
    (Perm.RAISE_QUERY, "Raise and close queries"),
    (Perm.VERIFY, "Source-data verification"),
    (Perm.SIGN, "E-sign CRFs and casebooks"),
    (Perm.LOCK, "Lock and unlock data"),
    (Perm.EXPORT, "Export the PDF report and data sets"),
    (Perm.MANAGE, "Manage reference data (users and roles: superusers only)"),
]

ROLE_PERMISSIONS: dict[str, set[str]] = {
    Role.COORDINATOR: {Perm.VIEW, Perm.ENTER, Perm.ANSWER_QUERY},
    Role.INVESTIGATOR: {Perm.VIEW, Perm.ENTER, Perm.ANSWER_QUERY, Perm.SIGN, Perm.EXPORT},
    Role.DATA_MANAGER: {Perm.VIEW, Perm.RAISE_QUERY, Perm.LOCK, Perm.EXPORT, Perm.MANAGE},
    Role.MONITOR: {Perm.VIEW, Perm.RAISE_QUERY, Perm.VERIFY},
}


def has_perm(user: object, codename: str) -> bool:
    """Return True if the user holds the study permission ``codename``."""
    return bool(getattr(user, "is_authenticated", False)) and user.has_perm(f"sabr_trial.{codename}")  # type: ignore[attr-defined]


def roles_of(user: object) -> list[str]:
    """Return the study roles (group names) the user belongs to (read once per user object, like Django's
    permission cache: a request asks three times - role check, two-factor, the navigation)."""
    if not getattr(user, "is_authenticated", False):
        return []
    from sabr_trial.authcache import access_of

    return list(access_of(user).roles)


def forget_roles(sender: Any, instance: Any, **kwargs: Any) -> None:
    """``m2m_changed`` of User.groups: the user object whose groups changed reads its roles (and Django its
    permissions) again."""
    from sabr_trial.authcache import forget

    forget(instance)


def role_label(user: object) -> str:
    """Return a display label of the user's roles."""
    labels = [str(Role(r).label) for r in roles_of(user)]
    if not labels and getattr(user, "is_superuser", False):
        return str(_("Administrator"))
    return ", ".join(labels)


def sync_role_groups(group_model: type, permission_model: type) -> None:
    """Create or update the four role groups with exactly the permissions of the role table."""
    for role, codenames in ROLE_PERMISSIONS.items():
        group, _created = group_model.objects.get_or_create(name=str(role))  # type: ignore[attr-defined]
        perms = permission_model.objects.filter(  # type: ignore[attr-defined]
            content_type__app_label="sabr_trial", codename__in=codenames
        )
        group.permissions.set(perms)
