"""Who a signed-in user is, for every request, read from the shared cache instead of five queries (issue 20).

Every page asked the database for the user's groups (the study roles), the permissions of the user and of the
groups (two queries), whether a role needs two-factor sign-in, and the user's confirmed devices. They change only
when an administrator changes a user, a group, a permission or a device, so they are kept in the shared cache per
user under an *access generation*, which every such change moves (at once and after commit; signals wired in
``sabr_trial.apps``: any save or delete of a user, group, permission, two-factor role or OTP device, and any change
of a user's groups or permissions or a group's permissions). An entry also expires after ``TTL`` seconds, so even a
change that bypassed the signals (raw SQL) reaches every request within a minute.

With the cache down (or empty) every request reads the database, as before (issue 16: Redis is an accelerator).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.backends import ModelBackend

from sabr_trial import generation

_GENERATION = "sabr:access-generation"
#: Upper bound on how long a cached entry is used (seconds).
TTL = 60


@dataclass(frozen=True)
class Access:
    """What the request pipeline asks about a user."""

    roles: tuple[str, ...]
    #: Django permission names (``app_label.codename``) the user holds through groups or directly.
    perms: frozenset[str]
    #: One of the user's roles requires two-factor sign-in.
    two_factor_role: bool
    #: The user has a confirmed OTP device.
    has_device: bool


def bump(**kwargs: Any) -> None:
    """Start a new access generation now and again when the current transaction commits (a signal receiver): a
    request that read the old rows meanwhile and cached them under the first new generation is outdated by the
    second. A sign-in's save of ``last_login`` alone changes nobody's access: it moves nothing (each sign-in
    made every signed-in user read their access from the database again; issue 20)."""
    from django.db import transaction

    if kwargs.get("update_fields") == frozenset({"last_login"}):
        return

    _bump_now()
    transaction.on_commit(_bump_now, robust=True)


def _bump_now() -> None:
    generation.bump_counter(_GENERATION)


def _compute(user: Any) -> Access:
    from django_otp import devices_for_user

    from sabr_trial.models import TwoFactorRole
    from sabr_trial.roles import Role

    names = {g.name for g in user.groups.all()}
    roles = tuple(r.value for r in Role if r.value in names)
    perms = frozenset(ModelBackend().get_all_permissions(user)) if user.is_active else frozenset()
    two_factor = bool(roles) and TwoFactorRole.objects.filter(role__in=roles).exists()
    has_device = any(True for _d in devices_for_user(user, confirmed=True))
    return Access(roles=roles, perms=perms, two_factor_role=two_factor, has_device=has_device)


def access_of(user: Any) -> Access:
    """The user's :class:`Access`, once per user object (a request asks several times), from the shared cache
    under the current access generation, else from the database."""
    found = user.__dict__.get("_access")
    if found is not None:
        return found  # type: ignore[no-any-return]
    from django.core.cache import cache

    gen = generation.counter_or_none(_GENERATION)
    if gen is None:
        found = _compute(user)
    else:
        key = f"sabr:access:{user.pk}:{gen}"
        found = cache.get(key)
        if not isinstance(found, Access):
            found = _compute(user)
            cache.set(key, found, timeout=TTL)
    user.__dict__["_access"] = found
    return found


def forget(user: Any) -> None:
    """Drop what this user object remembers (its groups changed in this request)."""
    for name in ("_access", "_study_roles", "_perm_cache", "_user_perm_cache", "_group_perm_cache"):
        user.__dict__.pop(name, None)


class AccessBackend(ModelBackend):
    """Django's ``ModelBackend`` (password sign-in, the same permissions) with a signed-in user's permissions read
    through :func:`access_of` (one cache read per request instead of two queries)."""

    def get_user(self, user_id: Any) -> Any:
        """``ModelBackend.get_user`` (the signed-in user of every request), with the row read by SQL built once per
        process."""
        if not isinstance(user_id, int):
            return super().get_user(user_id)
        from django.contrib.auth import get_user_model

        from sabr_trial import compiled

        model = get_user_model()
        found = compiled.patient_objects(
            "auth:user", lambda ids: model._default_manager.filter(pk__in=ids), [user_id]
        )
        if not found:
            return None
        return found[0] if self.user_can_authenticate(found[0]) else None

    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        return set(access_of(user_obj).perms)
