"""The study role table applied to API calls: each view names the permission its action needs."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission

from sabr_trial.roles import Perm, has_perm


class StudyPermission(BasePermission):
    """Require the study permission ``view.required_perms[action]`` (default: view study data).

    The same ``sabr_trial.roles.has_perm`` as the browser; the services check again when writing.
    """

    def has_permission(self, request: Any, view: Any) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        perms = getattr(view, "required_perms", {})
        action = getattr(view, "action", None) or request.method.lower()
        codename = perms.get(action, perms.get("*", Perm.VIEW))
        return codename is None or has_perm(request.user, codename)
