"""The API's JSON parser: refuses what Python's ``json`` accepts but the study must not (issue 16).

Refused with 400 problem+json (413 for a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE``), before any view runs, so nothing
is written: invalid UTF-8, a lone surrogate (``\\ud800``: PostgreSQL cannot store it), a NUL character (PostgreSQL text
cannot hold it), duplicate keys (which one did the client mean?), nesting deeper than :data:`MAX_DEPTH` (100,000 levels
would overflow the parser's recursion), ``NaN``/``Infinity`` and numbers that overflow a float. The message names the
field and never echoes the offending text.
"""

from __future__ import annotations

import json
import math
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework.parsers import JSONParser

from api.problems import ApiProblem

#: No resource of the API nests deeper than a few levels (a tumour assessment's lesion rows: 3).
MAX_DEPTH = 32


def _bad(field: str | None, message: str, code: str, status: int = 400) -> ApiProblem:
    title = _("Payload too large") if status == 413 else _("Malformed request")
    return ApiProblem(
        status, message, title=title, errors=[{"field": field, "message": message, "code": code}]
    )


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _refuse_constant(name: str) -> Any:
    raise _bad(None, _("%(c)s is not a JSON number: send a finite number.") % {"c": name}, "not_finite")


def _string_problem(text: str) -> tuple[str, str] | None:
    if "\x00" in text:
        return _("The text contains a NUL character (code point 0), which cannot be stored."), "nul_character"
    if any("\ud800" <= ch <= "\udfff" for ch in text):
        return _(
            "The text contains an unpaired surrogate (invalid Unicode), which cannot be stored."
        ), "surrogate"
    return None


def check_tree(data: Any) -> None:
    """Walk the parsed body without recursion; raise the first problem with the path of the field that has it."""
    stack: list[tuple[Any, str, int]] = [(data, "", 0)]
    while stack:
        node, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _bad(
                path or None, _("The JSON is nested more than %(n)d levels deep.") % {"n": MAX_DEPTH}, "depth"
            )
        if isinstance(node, dict):
            for key, value in node.items():
                problem = _string_problem(key)
                if problem:
                    raise _bad(path or None, problem[0], problem[1])
                stack.append((value, f"{path}.{key}" if path else key, depth + 1))
        elif isinstance(node, list):
            stack.extend(
                (value, f"{path}.{i}" if path else str(i), depth + 1) for i, value in enumerate(node)
            )
        elif isinstance(node, str):
            problem = _string_problem(node)
            if problem:
                raise _bad(path or None, problem[0], problem[1])
        elif isinstance(node, float) and not math.isfinite(node):
            raise _bad(path or None, _("The number is out of range."), "out_of_range")


class StrictJSONParser(JSONParser):
    """JSON with a size limit, one value per key, bounded depth and only text PostgreSQL can store."""

    def parse(
        self, stream: Any, media_type: str | None = None, parser_context: dict[str, Any] | None = None
    ) -> Any:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read(limit + 1 if limit is not None else -1) if stream is not None else b""
        if limit is not None and len(raw) > limit:
            raise _bad(
                None,
                _("The body is larger than %(n)d bytes.") % {"n": limit},
                "too_large",
                status=413,
            )
        encoding = (parser_context or {}).get("encoding") or settings.DEFAULT_CHARSET
        try:
            text = raw.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            raise _bad(
                None, _("The body is not valid %(e)s text.") % {"e": encoding.upper()}, "encoding"
            ) from None
        try:
            data = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_refuse_constant)
        except _DuplicateKey as exc:
            key = exc.key if _string_problem(exc.key) is None else None
            raise _bad(
                key, _("This key appears more than once in one JSON object."), "duplicate_key"
            ) from None
        except RecursionError:
            raise _bad(
                None, _("The JSON is nested more than %(n)d levels deep.") % {"n": MAX_DEPTH}, "depth"
            ) from None
        except ValueError as exc:  # JSONDecodeError, and integers longer than Python converts
            message = _("JSON parse error at line %(l)s, column %(c)s.") % {
                "l": getattr(exc, "lineno", "?"),
                "c": getattr(exc, "colno", "?"),
            }
            raise _bad(None, message, "parse_error") from None
        check_tree(data)
        return data
