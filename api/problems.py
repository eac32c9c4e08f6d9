"""Every API error as ``application/problem+json`` (RFC 9457) with one entry per field.

Status codes: 400 malformed JSON; 401 no/invalid/expired/revoked token; 403 the role does not allow it;
404 absent; 409 locked form or patient, a lifecycle step not allowed from the current state, or a form that
exists once per patient; 412 ``If-Match`` stale (nothing changed); 415 not JSON; 422 a field refused (wrong type,
unknown field, wrong date format, or a rule of the data dictionary, e.g. EC-G1); 428 ``If-Match`` missing; 429 throttled.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_handler

from sabr_trial import services

PROBLEM = "application/problem+json"
NON_FIELD = None


class ApiProblem(exceptions.APIException):
    """An error with its own status, title and optional field entries."""

    def __init__(
        self,
        status_code: int,
        detail: str,
        *,
        title: str = "",
        errors: list[dict[str, Any]] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.title = title
        self.errors = errors or []
        self.extra = extra or {}


class PreconditionRequired(ApiProblem):
    def __init__(self) -> None:
        super().__init__(
            428,
            _("Send If-Match with the ETag of your last read of this form (its version)."),
            title=_("If-Match required"),
            errors=[
                {"field": None, "message": _("The If-Match header is missing."), "code": "if_match_required"}
            ],
        )


def _entries(detail: Any, prefix: str = "") -> list[dict[str, Any]]:
    """Flatten DRF's nested error detail into [{field, message, code}]."""
    out: list[dict[str, Any]] = []
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = None if key in ("non_field_errors", "__all__") else f"{prefix}{key}"
            if isinstance(value, (dict, list)) and value and isinstance(value, dict | list):
                if isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value):
                    out.extend(
                        {"field": name, "message": str(v), "code": getattr(v, "code", "invalid")}
                        for v in value
                    )
                else:
                    out.extend(_entries(value, f"{name}." if name else prefix))
            else:
                out.append({"field": name, "message": str(value), "code": getattr(value, "code", "invalid")})
    elif isinstance(detail, list):
        for index, value in enumerate(detail):
            if isinstance(value, (dict, list)):
                out.extend(_entries(value, f"{prefix}{index}."))
            else:
                field = prefix.rstrip(".") or None
                out.append({"field": field, "message": str(value), "code": getattr(value, "code", "invalid")})
    else:
        out.append({"field": prefix.rstrip(".") or None, "message": str(detail), "code": "invalid"})
    return out


def django_errors(exc: DjangoValidationError) -> list[dict[str, Any]]:
    """A service's ValidationError as field entries: the field it names and the rule's message."""
    if hasattr(exc, "error_dict"):
        out = []
        for field, errors in exc.error_dict.items():
            for error in errors:
                for message in error.messages if hasattr(error, "messages") else [str(error)]:
                    out.append(
                        {
                            "field": None if field == "__all__" else field,
                            "message": message,
                            "code": getattr(error, "code", None) or "invalid",
                        }
                    )
        return out
    codes = [getattr(e, "code", None) for e in getattr(exc, "error_list", [exc])]
    return [
        {"field": None, "message": m, "code": (codes[i] if i < len(codes) and codes[i] else "invalid")}
        for i, m in enumerate(exc.messages)
    ]


def problem(
    status_code: int,
    title: str,
    detail: str = "",
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status_code}
    if detail:
        body["detail"] = detail
    if errors is not None:
        body["errors"] = errors
    body.update(extra)
    response = Response(body, status=status_code, headers=headers, content_type=PROBLEM)
    return response


TITLES = {
    400: "Malformed request",
    401: "Not authenticated",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    412: "Precondition failed",
    415: "Unsupported media type",
    422: "Validation failed",
    428: "Precondition required",
    429: "Too many requests",
}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, services.StaleVersion):
        changes = [{"field": c.field, "label": c.label, "old": c.old, "new": c.new} for c in exc.changes]
        # The fields changed since the client's version, with the client's value (as sent, or null when this
        # request does not change the field) beside the current one: enough for a client's three-way merge.
        submitted = getattr(exc, "submitted", {}) or {}
        changed_since = [
            {
                "field": c.field,
                "label": c.label,
                "base": c.old,
                "theirs": c.new,
                "yours": submitted.get(c.field),
            }
            for c in exc.changes
        ]
        return problem(
            412,
            _("Precondition failed"),
            str(exc),
            errors=[],
            current_version=exc.current.version,
            changes_since=changes,
            changed_since=changed_since,
            headers={"ETag": f'"{exc.current.version}"'},
        )
    if isinstance(exc, services.CrfLocked):
        return problem(
            409, _("Locked"), str(exc), errors=[{"field": None, "message": str(exc), "code": "locked"}]
        )
    if isinstance(exc, DjangoValidationError):
        errors = django_errors(exc)
        if any(e["code"] == "illegal_transition" for e in errors):
            return problem(409, _("Conflict"), errors[0]["message"], errors=errors)
        return problem(
            422, _("Validation failed"), "; ".join(e["message"] for e in errors)[:500], errors=errors
        )
    if isinstance(exc, ApiProblem):
        return problem(
            exc.status_code,
            exc.title or TITLES.get(exc.status_code, "Error"),
            str(exc.detail),
            errors=exc.errors,
            **exc.extra,
        )
    if isinstance(exc, exceptions.ValidationError):
        errors = _entries(exc.detail)
        return problem(
            422,
            _("Validation failed"),
            "; ".join(f"{e['field']}: {e['message']}" if e["field"] else e["message"] for e in errors)[:500],
            errors=errors,
        )
    if isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or None)
    response = drf_handler(exc, context)
    if response is None:
        return None
    code = response.status_code
    detail = response.data.get("detail", "") if isinstance(response.data, dict) else str(response.data)
    headers = {k: v for k, v in response.items() if k in ("WWW-Authenticate", "Retry-After", "Allow")}
    if code == status.HTTP_401_UNAUTHORIZED and "WWW-Authenticate" not in headers:
        headers["WWW-Authenticate"] = "Token"
    return problem(code, TITLES.get(code, "Error"), str(detail), errors=[], headers=headers)
