"""Users and roles in the admin site: superusers only, every change audited (DESIGN.md role table, issue 16).

Data managers use the admin for reference tables (the CTCAE dictionary); they must not reach users or groups, or a
data manager could tick ``is_superuser`` or give themself the coordinator role and enter data. Django's own checks
would let any holder of ``auth.change_user`` do both, so these admins ask for ``is_superuser`` instead of a model
permission, and write an ``AuditEvent`` (``role_change``) with the before and after of every role-bearing field.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group

from sabr_trial.models import AuditEvent

User = get_user_model()


def _is_superuser(request: Any) -> bool:
    return bool(request.user.is_active and request.user.is_superuser)


class SuperuserOnlyMixin:
    """Hide and refuse the model to everyone but active superusers, whatever model permissions they hold."""

    def has_module_permission(self, request: Any) -> bool:
        return _is_superuser(request)

    def has_view_permission(self, request: Any, obj: Any = None) -> bool:
        return _is_superuser(request)

    def has_add_permission(self, request: Any, *args: Any) -> bool:
        return _is_superuser(request)

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return _is_superuser(request)

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return _is_superuser(request)


def user_roles(user: Any) -> dict[str, str]:
    """The role-bearing facts of a user, as text for the audit trail."""
    if user is None or user.pk is None:
        return {}
    return {
        "groups": ", ".join(sorted(user.groups.values_list("name", flat=True))) or "-",
        "permissions": ", ".join(
            sorted(f"{p.content_type.app_label}.{p.codename}" for p in user.user_permissions.all())
        )
        or "-",
        "is_superuser": str(user.is_superuser),
        "is_staff": str(user.is_staff),
        "is_active": str(user.is_active),
    }


def group_roles(group: Any) -> dict[str, str]:
    if group is None or group.pk is None:
        return {}
    perms = sorted(f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all())
    return {"name": group.name, "permissions": ", ".join(perms) or "-"}


def audit_role_change(
    *, acting_user: Any, subject: str, before: dict[str, str], after: dict[str, str]
) -> None:
    """Write one ``role_change`` audit event naming each changed fact as ``old -> new`` (nothing when unchanged)."""
    changes = [
        f"{key}: {before.get(key, '-')} -> {after.get(key, '-')}"
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    ]
    if changes:
        text = f"{subject}: " + "; ".join(changes)
        AuditEvent.objects.create(
            user=acting_user, action=AuditEvent.Action.ROLE_CHANGE, description=text[:300], reason=text
        )


class AuditedUserAdmin(SuperuserOnlyMixin, UserAdmin):  # type: ignore[type-arg]
    def save_model(self, request: Any, obj: Any, form: Any, change: bool) -> None:
        request._roles_before = user_roles(User.objects.filter(pk=obj.pk).first() if change else None)
        super().save_model(request, obj, form, change)

    def save_related(self, request: Any, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        user = form.instance
        user.refresh_from_db()
        audit_role_change(
            acting_user=request.user,
            subject=f"user {user.username}",
            before=getattr(request, "_roles_before", {}),
            after=user_roles(user),
        )

    def delete_model(self, request: Any, obj: Any) -> None:
        before = user_roles(obj)
        username = obj.username
        super().delete_model(request, obj)
        audit_role_change(
            acting_user=request.user, subject=f"user {username} deleted", before=before, after={}
        )

    def delete_queryset(self, request: Any, queryset: Any) -> None:
        for user in list(queryset):
            self.delete_model(request, user)


class AuditedGroupAdmin(SuperuserOnlyMixin, GroupAdmin):
    def save_model(self, request: Any, obj: Any, form: Any, change: bool) -> None:
        request._roles_before = group_roles(Group.objects.filter(pk=obj.pk).first() if change else None)
        super().save_model(request, obj, form, change)

    def save_related(self, request: Any, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        group = form.instance
        audit_role_change(
            acting_user=request.user,
            subject=f"group {group.name}",
            before=getattr(request, "_roles_before", {}),
            after=group_roles(group),
        )

    def delete_model(self, request: Any, obj: Any) -> None:
        before = group_roles(obj)
        name = obj.name
        super().delete_model(request, obj)
        audit_role_change(acting_user=request.user, subject=f"group {name} deleted", before=before, after={})

    def delete_queryset(self, request: Any, queryset: Any) -> None:
        for group in list(queryset):
            self.delete_model(request, group)


for model, model_admin in ((User, AuditedUserAdmin), (Group, AuditedGroupAdmin)):
    if admin.site.is_registered(model):
        admin.site.unregister(model)
    admin.site.register(model, model_admin)
