"""Throttling per personal token (per user for the browser session): a burst and a sustained rate."""

from __future__ import annotations

from typing import Any

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle


class _TokenThrottle(SimpleRateThrottle):
    def get_rate(self) -> str | None:
        # Read the rates at each request so tests and deployments can change them (settings/env).
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        token = getattr(request, "auth", None)
        key = getattr(token, "token_key", None)
        if key:
            ident = f"token:{key}"
        elif request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = f"anon:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


class BurstThrottle(_TokenThrottle):
    scope = "api_burst"


class SustainedThrottle(_TokenThrottle):
    scope = "api_sustained"
