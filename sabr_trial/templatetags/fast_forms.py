"""``{{ form|crispy_fast }}``: crispy's ``|crispy`` with the fields written in Python (``sabr_trial.formrender``)."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.safestring import SafeString

from sabr_trial.formrender import render_form

register = template.Library()


@register.filter
def crispy_fast(form: Any) -> SafeString:
    return render_form(form)
