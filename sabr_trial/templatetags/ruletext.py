"""``{{ value|ruletext }}``: a rule text stored as a message id with parameters, in the reader's language (a builtin).

The clinical rules (``assessments.recist``, ``endpoints.derivation``) build their explanations as ``ruletext.Msg``;
the database and the endpoint snapshot keep them as JSON (``ruletext.dumps``). This filter renders them with the
active language's catalogue; a text stored before rule texts became ids is shown as it was stored.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from django import template
from django.utils import translation
from django.utils.translation import gettext

import ruletext

register = template.Library()


@register.filter(name="ruletext")
def ruletext_filter(value: Any) -> str:
    return ruletext.render(value, gettext)


def text(value: Any) -> str:
    """The same rendering for Python callers (views, API, PDFs) in the active language."""
    return ruletext.render(value, gettext)


_RECOMPUTED_AFTER = re.compile(r"Recomputed after (?P<form>.+) v(?P<version>\d+) changed")


@register.filter(name="change_reason")
def change_reason(value: Any) -> str:
    """A history reason: one the pipeline wrote itself (stored in English) in the reader's language, a person's
    reason as typed. A reason stored as a rule text (``ruletext``) is rendered as one."""
    from sabr_trial import services

    text_value = ruletext.render(value, gettext)
    if text_value in (services.CREATED, services.RECOMPUTED):
        return gettext(text_value)
    found = _RECOMPUTED_AFTER.fullmatch(text_value)
    if found is None:
        return text_value
    spec = _specs_by_english_title().get(found["form"])
    form = str(spec.title) if spec is not None else found["form"]
    return gettext(services.RECOMPUTED_AFTER) % {"form": form, "version": found["version"]}


@functools.cache
def _specs_by_english_title() -> dict[str, Any]:
    """Each CRF's English title -> its spec (the registry is complete once the apps are ready; read once, not per
    history row)."""
    from sabr_trial.crf import registry

    with translation.override("en"):
        return {str(spec.title): spec for spec in registry.all()}
