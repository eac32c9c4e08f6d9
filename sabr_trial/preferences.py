"""The interface language of each user: chosen in the navigation bar, kept in ``UserPreference`` (issue 18).

Order of precedence: the signed-in user's saved language, then Django's ``LocaleMiddleware`` choice (language cookie,
the browser's ``Accept-Language``), then the site default ``LANGUAGE_CODE`` (environment). The saved language is put in
the session at login, so a page costs no extra query.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.views.decorators.http import require_POST
from django.views.i18n import set_language

SESSION_KEY = "sabr_language"


def language_of(user: Any) -> str:
    """Return the user's saved interface language, or '' when none was chosen."""
    from sabr_trial.models import UserPreference

    if not getattr(user, "is_authenticated", False):
        return ""
    pref = UserPreference.objects.filter(user=user).values_list("language", flat=True).first()
    return pref or ""


def language_set(*, user: Any, language: str) -> None:
    """Save ``language`` as the user's interface language."""
    from sabr_trial.models import UserPreference

    if language not in dict(settings.LANGUAGES):
        raise ValueError(f"unknown language {language!r}")
    UserPreference.objects.update_or_create(user=user, defaults={"language": language})


def remember_at_login(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """``user_logged_in`` receiver: copy the saved language into the new session."""
    if request is not None and hasattr(request, "session"):
        request.session[SESSION_KEY] = language_of(user)


class UserLanguageMiddleware:
    """Activate the signed-in user's saved language over the browser's (after ``AuthenticationMiddleware``)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            if SESSION_KEY not in request.session:  # a session opened before this feature
                request.session[SESSION_KEY] = language_of(user)
            language = request.session[SESSION_KEY]
            if language:
                translation.activate(language)
                request.LANGUAGE_CODE = translation.get_language()
        return self.get_response(request)


@login_not_required
@require_POST
def language_switch(request: HttpRequest) -> HttpResponse:
    """The navigation bar's switch: Django's ``set_language`` (cookie, redirect) plus the user's saved choice."""
    response = set_language(request)
    language = request.POST.get("language", "")
    if language in dict(settings.LANGUAGES) and request.user.is_authenticated:
        language_set(user=request.user, language=language)
        request.session[SESSION_KEY] = language
    return response
