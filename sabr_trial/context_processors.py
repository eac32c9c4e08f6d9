"""Template context for every page: study identity, the user's roles and permissions."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import get_language

from sabr_trial.roles import PERMISSION_LABELS, role_label


def study_title() -> str:
    """The trial's title in the active language (``STUDY_TITLE_ZH_HANS`` for Chinese, ``STUDY_TITLE`` otherwise)."""
    if (get_language() or "").lower().startswith("zh") and settings.STUDY_TITLE_ZH_HANS:
        return str(settings.STUDY_TITLE_ZH_HANS)
    return str(settings.STUDY_TITLE)


def study(request: HttpRequest) -> dict[str, Any]:
    user = request.user
    perms = (
        {code: user.has_perm(f"sabr_trial.{code}") for code, _ in PERMISSION_LABELS}
        if user.is_authenticated
        else {}
    )
    nav, menu = [], []
    if user.is_authenticated:
        from django.urls import reverse

        from sabr_trial.crf import registry

        for item in registry.nav_items:
            if perms.get(item.perm):
                (menu if item.menu else nav).append(
                    {
                        "label": item.label,
                        "url": reverse(item.url_name),
                        "badge": item.badge(request) if item.badge else None,
                    }
                )
    return {
        "nav_items": nav,
        "nav_menu_items": menu,
        "STUDY_ID": settings.STUDY_ID,
        "STUDY_TITLE": study_title(),
        "AXES_FAILURE_LIMIT": settings.AXES_FAILURE_LIMIT,
        "study_perms": perms,
        "user_role_label": role_label(user) if user.is_authenticated else "",
    }
