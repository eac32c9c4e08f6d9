"""Rule texts as message ids with parameters, rendered in the reader's language (issue 18, item 3).

A pure module (standard library only): the clinical-rule modules (``assessments.recist``, ``endpoints.derivation``)
build their explanations with it, the database stores them as JSON, and the pages render them with the active
language's catalogue (``sabr_trial.templatetags.ruletext``).

- ``define(mid, template)`` registers a message: ``mid`` is a stable id (never shown), ``template`` its English text
  with ``%(name)s`` placeholders, marked with :func:`gettext_noop` so that ``makemessages`` extracts it.
- Calling the definition with the parameters gives a :class:`Msg`: a ``str`` whose value is the English sentence (so
  code and tests that compare or search rule texts keep working) and which remembers its id and parameters.
- Parameters are plain values (numbers, dates, lesion codes, response codes: data, shown as they are) or other
  messages; :func:`join` joins several messages with a separator and keeps each one's id.
- :func:`dumps` gives the stored form (JSON for a message, the text itself for a plain string); :func:`render` turns a
  stored form back into text through a ``translate`` function (Django's ``gettext`` on the pages, the identity for
  English exports). Text stored before rule texts became ids is not JSON and is shown as it was stored.

A ``Msg`` that goes through an f-string or ``+`` becomes a plain ``str`` and loses its id: build compound texts with
``join`` or with a registered template whose parameters are the parts.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

__all__ = [
    "Msg",
    "MessageDef",
    "define",
    "dumps",
    "gettext_noop",
    "join",
    "loads",
    "render",
    "revive",
    "say",
    "CATALOGUE",
]


def gettext_noop(text: str) -> str:
    """Mark a template for translation (``makemessages`` extracts ``gettext_noop`` calls by name); identity."""
    return text


#: Every registered message: id -> English template.
CATALOGUE: dict[str, str] = {}

_JOIN: Final = "_join"
_SAID: Final = "="  # the prefix of a message whose id is its own English template (``say``)


class Msg(str):
    """An English sentence that remembers its message id and parameters."""

    mid: str
    params: Mapping[str, Any]

    def __new__(cls, mid: str, params: Mapping[str, Any] | None = None) -> Msg:
        params = dict(params or {})
        text = _english(mid, params)
        obj = super().__new__(cls, text)
        obj.mid = mid
        obj.params = params
        return obj

    def __reduce__(self) -> tuple[Any, ...]:  # pickled into the endpoint memo (Redis)
        return (Msg, (self.mid, dict(self.params)))

    def data(self) -> dict[str, Any]:
        """The JSON-ready form: ``{"id": mid, "p": {name: value}}`` with nested messages as their own data."""
        return {"id": self.mid, "p": {k: _data(v) for k, v in self.params.items()}}


class MessageDef:
    """A registered message; call it with the parameters to get a :class:`Msg`."""

    __slots__ = ("mid", "template")

    def __init__(self, mid: str, template: str) -> None:
        self.mid = mid
        self.template = template

    def __call__(self, **params: Any) -> Msg:
        return Msg(self.mid, params)

    def __repr__(self) -> str:
        return f"MessageDef({self.mid!r})"


def define(mid: str, template: str) -> MessageDef:
    """Register ``mid`` with its English ``template`` (mark the template with ``gettext_noop``)."""
    if mid == _JOIN or not mid or mid.startswith(_SAID):
        raise ValueError(f"message id {mid!r} is reserved")
    current = CATALOGUE.get(mid)
    if current is not None and current != template:
        raise ValueError(f"message {mid} is defined twice with different texts")
    _check_template(mid, template)
    CATALOGUE[mid] = template
    return MessageDef(mid, template)


def say(template: str, **params: Any) -> Msg:
    """A message whose id is its English template (mark it with ``gettext_noop``), for the Django apps' messages.

    Stored with its template, so any process renders it through the catalogue without registering it first.
    """
    _check_template(template, template)
    return Msg(_SAID + template, params)


def join(separator: str, parts: Iterable[Any]) -> Msg:
    """Several texts joined by ``separator`` ("; ", ", "), each keeping its id; an empty list gives ""."""
    return Msg(_JOIN, {"sep": separator, "parts": list(parts)})


def dumps(value: Any) -> str:
    """The stored form of a rule text: JSON for a :class:`Msg`, the text itself otherwise."""
    if isinstance(value, Msg):
        return json.dumps(value.data(), ensure_ascii=False, sort_keys=True, default=str)
    return "" if value is None else str(value)


def loads(stored: Any) -> Any:
    """A stored rule text back as data: a message's dict, or the text itself (plain or stored before ids)."""
    if isinstance(stored, Msg):
        return stored.data()
    if isinstance(stored, str) and stored.startswith('{"id": '):
        try:
            data = json.loads(stored)
        except ValueError:
            return stored
        if isinstance(data, dict) and "id" in data:
            return data
    return stored


def revive(stored: Any) -> Any:
    """A stored rule text back as a :class:`Msg` with every id (to quote it inside another message), or the text
    itself when it is plain or was stored before rule texts became ids."""
    return _revive(loads(stored))


def _revive(data: Any) -> Any:
    if isinstance(data, dict) and "id" in data:
        return Msg(data["id"], {k: _revive(v) for k, v in (data.get("p") or {}).items()})
    if isinstance(data, list):
        return [_revive(v) for v in data]
    return data


def render(stored: Any, translate: Callable[[str], str] = gettext_noop) -> str:
    """The text of a stored rule text (a ``Msg``, its JSON or data, or a plain text) in ``translate``'s language.

    An id this build no longer knows is shown as the id with its parameters, never dropped.
    """
    return _render(loads(stored), translate)


def _render(data: Any, translate: Callable[[str], str]) -> str:
    if isinstance(data, dict) and "id" in data:
        mid, params = data["id"], data.get("p") or {}
        if mid == _JOIN:
            return str(params.get("sep", "; ")).join(_render(p, translate) for p in params.get("parts", ()))
        values = {k: _render(v, translate) for k, v in params.items()}
        template = mid[len(_SAID) :] if mid.startswith(_SAID) else CATALOGUE.get(mid)
        if template is None:
            return f"{mid} {values}" if values else mid
        try:
            return translate(template) % values
        except (
            KeyError,
            ValueError,
            TypeError,
        ):  # a translation that lost a placeholder: fall back to English
            return template % values
    if isinstance(data, list):
        return ", ".join(_render(v, translate) for v in data)
    return "" if data is None else str(data)


def _english(mid: str, params: Mapping[str, Any]) -> str:
    return _render({"id": mid, "p": {k: _data(v) for k, v in params.items()}}, gettext_noop)


def _data(value: Any) -> Any:
    if isinstance(value, Msg):
        return value.data()
    if isinstance(value, (list, tuple)):
        return [_data(v) for v in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return str(value)


def _check_template(mid: str, template: str) -> None:
    try:
        template % _AnyKey()
    except (KeyError, ValueError, TypeError) as exc:
        raise ValueError(f"message {mid}: template {template!r} is not a %(name)s template: {exc}") from exc


class _AnyKey(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""
