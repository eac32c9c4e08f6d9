"""``{{ value|ruletext }}``: a rule text stored as a message id with parameters, in the reader's language (a builtin).

The clinical rules (``assessments.recist``, ``endpoints.derivation``) build their explanations as ``ruletext.Msg``;
the database and the endpoint snapshot keep them as JSON (``ruletext.dumps``). This filter renders them with the
active language's catalogue; a text stored before rule texts became ids is shown as it was stored.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.translation import gettext

import ruletext

register = template.Library()


@register.filter(name="ruletext")
def ruletext_filter(value: Any) -> str:
    return ruletext.render(value, gettext)


def text(value: Any) -> str:
    """The same rendering for Python callers (views, API, PDFs) in the active language."""
    return ruletext.render(value, gettext)
