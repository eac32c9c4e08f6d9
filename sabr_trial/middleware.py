"""Refuse every page to signed-in users who hold no study role."""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from sabr_trial.roles import roles_of

#: URL names a user without a role may still reach (to sign out).
OPEN_URL_NAMES = {"login", "logout", "set_language"}


class StudyRoleRequiredMiddleware:
    """A signed-in user with no study role (and not a superuser) gets a 403 on every page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view_func: object, view_args: object, view_kwargs: object
    ) -> None:
        user = request.user
        if not user.is_authenticated or user.is_superuser:
            return None
        match = request.resolver_match
        if match and match.url_name in OPEN_URL_NAMES:
            return None
        if not roles_of(user):
            raise PermissionDenied("No study role")
        return None
