"""Helpers of the API tests: token clients per persona, JSON calls with If-Match."""

from __future__ import annotations

import datetime
import json
from typing import Any

from django.test import Client
from django.utils import timezone
from knox.models import AuthToken

TODAY = timezone.localdate()


def token_for(user: Any, *, days: int = 30) -> str:
    _instance, token = AuthToken.objects.create(user=user, expiry=datetime.timedelta(days=days))
    return token


class Api:
    """A JSON client speaking to /api/v1/ with a personal token (or a session, or nothing)."""

    def __init__(self, token: str | None = None, client: Client | None = None) -> None:
        self.client = client or Client()
        self.headers = {"Authorization": f"Token {token}"} if token else {}

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        if_match: Any = None,
        raw: str | None = None,
        **headers: str,
    ) -> Any:
        url = path if path.startswith("/") else f"/api/v1/{path}"
        h = {**self.headers, **headers}
        if if_match is not None:
            h["If-Match"] = f'"{if_match}"' if isinstance(if_match, int) else str(if_match)
        data = raw if raw is not None else (json.dumps(body, default=str) if body is not None else None)
        kwargs: dict[str, Any] = {"headers": h}
        if data is not None:
            kwargs.update(data=data, content_type="application/json")
        return getattr(self.client, method)(url, **kwargs)

    def get(self, path: str, **kw: Any) -> Any:
        return self.call("get", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.call("post", path, body if body is not None else {}, **kw)

    def patch(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.call("patch", path, body if body is not None else {}, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.call("delete", path, **kw)


def crf_path(patient: Any, slug: str, pk: int | None = None, action: str = "") -> str:
    path = f"patients/{patient.pk}/crfs/{slug}/"
    if pk is not None:
        path += f"{pk}/"
    if action:
        path += f"{action}/"
    return path


def fields_of(response: Any) -> dict[str | None, list[str]]:
    """The problem+json entries of a response as {field: [messages]}."""
    out: dict[str | None, list[str]] = {}
    for entry in response.json().get("errors", []):
        out.setdefault(entry["field"], []).append(entry["message"])
    return out
