"""The CRF forms' fields written in Python give the markup of the templates they replace (issue 20).

``sabr_trial.formrender`` renders Django's common widgets and crispy-bootstrap5's field.html without the template
engine. Every CRF form is rendered both ways - new, filled with a refused submission (field errors, values kept),
edited with a reason for change, in English and in Chinese - and the HTML must be the same: each widget byte for
byte, the whole form up to white space between attributes and around text (which HTML does not show).
"""

from __future__ import annotations

import re

import pytest
from crispy_forms.helper import FormHelper
from crispy_forms.utils import render_crispy_form
from django import forms
from django.forms.renderers import DjangoTemplates
from django.utils import translation

from sabr_trial import formrender
from sabr_trial.crf import registry
from tests import factories_enrollment as fe


def _norm(html: str) -> str:
    html = re.sub(r"\s+", " ", str(html))
    return re.sub(r"\s*([<>])\s*", r"\1", html).replace("<div >", "<div>")


def _template_rendering(form: forms.BaseForm) -> str:
    """The form as crispy's own field template and Django's widget templates render it."""
    helper = FormHelper()
    helper.form_tag = False
    helper.disable_csrf = True
    form.helper = helper
    form.renderer = DjangoTemplates()
    return render_crispy_form(form)


def _forms(patient, *, bound: bool):
    for spec in registry.all():
        if spec.form_class is None:
            continue
        kwargs = {"patient": patient} if getattr(spec.form_class, "takes_patient", False) else {}
        data = {"ongoing": "Y", "verbatim": '<b>x</b> & "y"', "not_a_field": "1"} if bound else None

        def make(spec=spec, kwargs=kwargs, data=data):
            form = spec.form_class(data, instance=spec.model(patient=patient), **kwargs)
            if bound:
                form.is_valid()  # the errors shown next to the fields
            return form

        yield spec.slug, make


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["en", "zh-hans"])
@pytest.mark.parametrize("bound", [False, True], ids=["new", "refused"])
def test_every_crf_form_renders_as_the_templates_do(coordinator, investigator, language, bound):
    patient = fe.registered(coordinator, investigator)
    seen, refused = [], 0
    with translation.override(language):
        for slug, make in _forms(patient, bound=bound):
            fast_form, slow_form = make(), make()
            for name in fast_form.fields:  # each widget byte for byte
                slow_form.renderer = DjangoTemplates()
                assert str(fast_form[name]) == str(slow_form[name]), (slug, name)
            fast = render_crispy_form(make())
            slow = _template_rendering(make())
            assert _norm(fast) == _norm(slow), slug
            seen.append(slug)
            refused += "invalid-feedback" in fast  # the refused submission's messages next to the fields
    assert refused >= (10 if bound else 0) and (bound or refused == 0)
    assert len(seen) >= 15 and {"adverse-event", "tumour-assessment", "sabr-target"} <= set(seen)


@pytest.mark.django_db
def test_an_edited_row_renders_its_values_and_reason_for_change_as_the_templates_do(
    coordinator, investigator
):
    from adverse_events.forms import AdverseEventForm
    from sabr_trial.crf import CrfStatus
    from tests.factories_adverse_events import AdverseEventFactory

    patient = fe.registered(coordinator, investigator)
    ae = AdverseEventFactory(patient=patient, status=CrfStatus.SUBMITTED, verbatim='tired "<all day>"')
    fast = render_crispy_form(AdverseEventForm(None, instance=ae))
    slow = _template_rendering(AdverseEventForm(None, instance=ae))
    assert _norm(fast) == _norm(slow)
    assert (
        'name="change_reason"' in fast and "checked" in fast
    )  # the reason box; the grade's radio is checked


def test_widgets_escape_and_skip_attributes_as_the_templates_do():
    class Odd(forms.Form):
        text = forms.CharField(
            widget=forms.TextInput(attrs={"data-x": '"<&>', "hidden": True, "gone": False})
        )
        area = forms.CharField(widget=forms.Textarea)
        pick = forms.ChoiceField(
            choices=[("Group <1>", [("a", "A & B"), ("b", "<i>b</i>")]), ("c", "C")], required=False
        )
        number = forms.IntegerField(initial=12345)
        flag = forms.BooleanField(initial=True)

    data = {"text": "</script>", "area": "line 1\n<line 2>", "pick": "b", "number": "1000000", "flag": "on"}
    for form in (Odd(), Odd(data)):
        fast = [str(form[n]) for n in form.fields]
        form.renderer = DjangoTemplates()
        slow = [str(form[n]) for n in form.fields]
        assert fast == slow
    assert isinstance(Odd().renderer, formrender.FastRenderer)


def _project_forms():
    """Every form class of the project's modules that can be made without arguments (the small forms of the
    detail, query, lock, sign and sign-in pages)."""
    import importlib
    import inspect

    from django.contrib.auth.forms import AuthenticationForm  # the sign-in page's

    from sabr_trial.forms import CrfForm

    seen: list[type] = [AuthenticationForm]
    for module in (
        "adverse_events.forms",
        "enrollment.forms",
        "treatment.forms",
        "assessments.forms",
        "visits.forms",
        "sabr_trial.forms",
        "sabr_trial.twofactor",
    ):
        for _name, cls in inspect.getmembers(importlib.import_module(module), inspect.isclass):
            if issubclass(cls, forms.BaseForm) and not issubclass(cls, CrfForm) and cls not in seen:
                seen.append(cls)
    return seen


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_pages_small_forms_render_as_crispy_filter_does(language):
    from crispy_forms.templatetags.crispy_forms_filters import as_crispy_form

    compared = []
    with translation.override(language):
        for cls in _project_forms():
            for data in (None, {"reason": "", "password": "x" * 3, "not_a_field": "1"}):
                try:
                    fast_form, slow_form = cls(data), cls(data)
                except (TypeError, ValueError, AttributeError):
                    break  # needs arguments (a row, a user): rendered by the CRF form test or a page test
                if data is not None:
                    fast_form.is_valid(), slow_form.is_valid()
                slow_form.renderer = DjangoTemplates()
                assert _norm(formrender.render_form(fast_form)) == _norm(as_crispy_form(slow_form)), cls
                compared.append(cls.__name__)
    assert {"GradeChangeForm", "AuthenticationForm"} <= set(compared) and len(set(compared)) >= 8
