"""Authentication of API calls: personal knox tokens (stored as a hash, with an expiry) or the browser session."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from knox.auth import TokenAuthentication
from rest_framework import exceptions


def is_locked_out(user: Any, request: HttpRequest | None = None) -> bool:
    """True if django-axes locks ``user`` out (too many failed sign-ins, not yet reset or cooled off)."""
    from axes.handlers.proxy import AxesProxyHandler

    return bool(
        AxesProxyHandler.is_locked(request or HttpRequest(), credentials={"username": user.get_username()})
    )


class ApiTokenAuthentication(TokenAuthentication):
    """``Authorization: Token <token>``. An expired or revoked token gives 401 (knox deletes expired ones), and so
    does the token of an account django-axes has locked out: a lockout stops the API as it stops the sign-in page."""

    def authenticate(self, request: Any) -> Any:
        result = super().authenticate(request)
        if result is not None and is_locked_out(result[0], getattr(request, "_request", None)):
            raise exceptions.AuthenticationFailed(
                _("This account is locked after too many failed sign-ins: a data manager must unlock it.")
            )
        return result
