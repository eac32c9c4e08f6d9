"""Refuse every page to signed-in users who hold no study role."""

from __future__ import annotations

import time
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


class HostileInputMiddleware:
    """Refuse a NUL character in the query string or a form field, and an API body over the size limit, with 400/413.

    PostgreSQL text cannot hold NUL: a search for ``?q=%00`` or a form value with one would fail in the database
    with a 500. API paths answer ``application/problem+json`` naming the parameter; pages answer the 400 page with
    the same message. A JSON body is checked by ``api.parsers.StrictJSONParser``.
    """

    API_PREFIX = "/api/"

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from django.conf import settings
        from django.utils.translation import gettext as _

        is_api = request.path.startswith(self.API_PREFIX)
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if is_api and limit is not None and length > limit:
            message = _("The body is larger than %(n)d bytes.") % {"n": limit}
            return self._refuse(request, is_api, 413, _("Payload too large"), None, message, "too_large")
        sources = [request.GET]
        if request.method == "POST" and request.content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            sources.append(request.POST)
        for source in sources:
            for name, values in source.lists():
                if "\x00" in name or any("\x00" in value for value in values if isinstance(value, str)):
                    field = name.replace("\x00", "") or None
                    message = _("'%(f)s' contains a NUL character (%%00), which cannot be stored.") % {
                        "f": field or "?"
                    }
                    return self._refuse(
                        request, is_api, 400, _("Malformed request"), field, message, "nul_character"
                    )
        return self.get_response(request)

    @staticmethod
    def _refuse(
        request: HttpRequest,
        is_api: bool,
        status: int,
        title: str,
        field: str | None,
        message: str,
        code: str,
    ) -> HttpResponse:
        import json

        from django.http import HttpResponse as Response
        from django.template.loader import render_to_string

        if is_api:
            body = {
                "type": "about:blank",
                "title": title,
                "status": status,
                "detail": message,
                "errors": [{"field": field, "message": message, "code": code}],
            }
            return Response(json.dumps(body), status=status, content_type="application/problem+json")
        html = render_to_string("400.html", {"message": message, "title": title}, request=request)
        return Response(html, status=status)


class IdleSessionMiddleware:
    """The idle timeout (``SESSION_COOKIE_AGE`` after the last request) without a session write per request.

    ``SESSION_SAVE_EVERY_REQUEST`` wrote the session row on every request (three queries: begin, update, commit).
    Here the session's expiry moves only when it was last moved more than ``TOUCH_SECONDS`` ago, so the timeout
    counts from the last request to within that (a minute of a 30-minute timeout). A request without a session
    (signed out, anonymous) creates none.
    """

    TOUCH_SECONDS = 60
    #: ... and at least this many times per idle timeout (a one-minute timeout is moved every two seconds).
    TOUCHES_PER_TIMEOUT = 30
    KEY = "_idle_touched"

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        session = getattr(request, "session", None)
        if session is None or session.session_key is None or session.is_empty():
            return response
        now = int(time.time())
        touched = session.get(self.KEY)
        interval = min(self.TOUCH_SECONDS, session.get_expiry_age() // self.TOUCHES_PER_TIMEOUT)
        if not isinstance(touched, int) or now - touched >= interval:
            session[self.KEY] = now  # modified: SessionMiddleware saves it with a new expiry
        return response


def touched_at_login(sender: object, request: HttpRequest | None = None, **kwargs: object) -> None:
    """``user_logged_in``: the sign-in saves the new session anyway; mark it touched now, so the first page after it
    does not write the session again."""
    session = getattr(request, "session", None)
    if session is not None:
        session[IdleSessionMiddleware.KEY] = int(time.time())
