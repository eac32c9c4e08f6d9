"""How a CRF field's help reads (issue 19 item 6): the plain sentence first, the rule ids after it in small type,
and the length limit of a text field shown, with a live count (static/js/lengthlimit.js)."""

from __future__ import annotations

import re
from typing import Any

from django import forms, template

register = template.Library()

#: A trailing "(EC-AE-4)", "(R1.1)" or "(D1, EC-SB-2)": rule ids in parentheses (full-width ones in Chinese).
_RULES = re.compile(
    r"\s*([(（](?=[^()（）]*(?:EC-[A-Z0-9]+-\d+|EC-G\d|R\d+\.\d+|D\d))[^()（）]*[)）])[.。]?\s*$"
)


@register.filter
def help_parts(text: Any) -> tuple[str, str]:
    """Split a help text into its sentence and its trailing rule ids: ("Blank while ongoing.", "(EC-AE-4)")."""
    text = str(text or "")
    match = _RULES.search(text)
    if not match or not text[: match.start()].strip():
        return text, ""
    sentence = text[: match.start()].rstrip()
    if sentence[-1] not in ".?!。？！：:":
        sentence += "。" if match.group(1).startswith("（") else "."
    return sentence, match.group(1)


@register.filter
def length_limit(field: Any) -> int | None:
    """The maximum length of a typed text field (not a choice, date or number), else None."""
    inner = getattr(field, "field", None)
    widget = getattr(inner, "widget", None)
    if (
        not isinstance(widget, forms.TextInput | forms.Textarea)
        or getattr(widget, "input_type", "text") != "text"
    ):
        return None
    return getattr(inner, "max_length", None)


@register.simple_tag
def crf_help_text(field: Any, help_text_inline: Any = False) -> Any:
    """A field's help as the CRF forms show it (the sentence, its rule ids, a text field's length limit): the one
    writer, ``sabr_trial.formrender``, for crispy's own templates too (``bootstrap5/layout/help_text.html``)."""
    from django.utils.safestring import mark_safe

    from sabr_trial.formrender import help_text_html

    return mark_safe(help_text_html(field, help_text_inline=bool(help_text_inline)))
