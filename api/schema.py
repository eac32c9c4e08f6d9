"""OpenAPI post-processing: every operation documents its problem+json errors and the token scheme."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension

PROBLEM_SCHEMA = {
    "type": "object",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "field": {"type": "string", "nullable": True},
                    "message": {"type": "string"},
                    "code": {"type": "string"},
                },
                "required": ["field", "message"],
            },
        },
    },
    "required": ["title", "status"],
}
ERRORS = {
    "400": "Malformed request: not JSON, invalid UTF-8 or Unicode, a NUL character, a duplicate key, nesting too deep",
    "401": "No valid token or session (missing, wrong, expired or revoked token)",
    "403": "Your role does not allow this",
    "404": "Not found",
    "405": "Method not allowed",
    "406": "Not acceptable",
    "409": "Locked, already exists, or not allowed from the current state",
    "412": "If-Match is stale: nothing changed",
    "413": "The body is larger than the size limit",
    "415": "Send JSON",
    "422": "A field was refused: one entry per field, naming the rule",
    "428": "If-Match required",
    "429": "Too many requests for this token",
}


def add_problem_responses(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    components = result.setdefault("components", {})
    components.setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    ref = {"$ref": "#/components/schemas/Problem"}
    for path in result.get("paths", {}).values():
        for method, operation in path.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for code, text in ERRORS.items():
                operation["responses"].setdefault(
                    code, {"description": text, "content": {"application/problem+json": {"schema": ref}}}
                )
            for code, response in operation["responses"].items():
                if code in ("200", "201") and method == "get" or method == "patch":
                    response.setdefault("headers", {})["ETag"] = (
                        {"schema": {"type": "string"}, "description": "The CRF version (for If-Match)."}
                        if "crf_" in operation.get("operationId", "") and code in ("200", "201")
                        else None
                    )
                    if response["headers"]["ETag"] is None:
                        del response["headers"]["ETag"]
                    if not response["headers"]:
                        del response["headers"]
    return result


# Registered on import (api.apps.ApiConfig.ready).


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """``Authorization: Token <personal token>`` in the schema and the docs' Authorize button."""

    target_class = "api.auth.ApiTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "Token-based authentication: `Token <personal token>` (issued by a data manager).",
        }
