"""Form fields rendered in Python, with the markup the templates produce (issue 20).

Under load, a data-entry page spent most of its time walking template nodes: Django renders every ``<option>`` of
a select through its own ``{% include %}``, and crispy-bootstrap5 renders every field through a template of about
fifty nodes (26 fields of the AE form: 25 ms of a 43 ms page). Two drop-in replacements keep the markup:

- ``FastRenderer`` (``FORM_RENDERER``): Django's form renderer, with its input, select, option and textarea widget
  templates done in Python; any other template (a form's layout, an error list, a custom widget) goes to the
  template engine as before.
- ``crispy_field`` (``CrfForm``'s crispy ``field_template``, ``crf/field.py`` of the ``python`` template engine
  below): crispy-bootstrap5's ``field.html`` for the fields of a vertical form, with this project's help text
  (``help_text_html``, which ``templates/bootstrap5/layout/help_text.html`` calls too: the sentence, its rule ids, a text field's length limit).
  A case it does not cover (a horizontal form, a label or field class, a table cell, a file input, several
  checkboxes) is rendered by crispy's own template.

``tests/test_formrender.py`` renders every CRF form (new, filled, with errors, in English and Chinese) both ways and
requires the same HTML (the widgets byte for byte; the fields up to white space between attributes and around text).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Layout
from django import forms
from django.forms.renderers import DjangoTemplates
from django.template.backends.base import BaseEngine
from django.template.exceptions import TemplateDoesNotExist
from django.utils.formats import localize
from django.utils.html import conditional_escape, escape
from django.utils.safestring import SafeData, SafeString, mark_safe
from django.utils.timezone import template_localtime
from django.utils.translation import gettext

# --- Django's widget templates --------------------------------------------------------------------------------


def _var(value: Any) -> str:
    """``{{ value }}`` under autoescape: localised, escaped unless safe."""
    return str(conditional_escape(localize(template_localtime(value))))


def _fmt(value: Any) -> str:
    """``{{ value|stringformat:'s' }}`` under autoescape (the filter keeps a safe value safe)."""
    return str(value) if isinstance(value, SafeData) else str(escape(str(value)))


def _attrs(attrs: dict[str, Any]) -> str:
    """``django/forms/widgets/attrs.html`` (and crispy-bootstrap5's copy of it)."""
    out = []
    for name, value in attrs.items():
        if value is False:
            continue
        out.append(" " + _var(name) if value is True else f' {_var(name)}="{_fmt(value)}"')
    return "".join(out)


def _input(widget: dict[str, Any], _render: Callable[[str, dict[str, Any]], str]) -> str:
    value = widget["value"]
    shown = f' value="{_fmt(value)}"' if value != None else ""  # noqa: E711  (the template's ``!= None``)
    return (
        f'<input type="{_var(widget["type"])}" name="{_var(widget["name"])}"{shown}{_attrs(widget["attrs"])}>'
    )


def _option(widget: dict[str, Any], _render: Callable[[str, dict[str, Any]], str]) -> str:
    return (
        f'<option value="{_fmt(widget["value"])}"{_attrs(widget["attrs"])}>{_var(widget["label"])}</option>'
    )


def _select(widget: dict[str, Any], render: Callable[[str, dict[str, Any]], str]) -> str:
    parts = [f'<select name="{_var(widget["name"])}"{_attrs(widget["attrs"])}>']
    for group_name, group_choices, _index in widget["optgroups"]:
        if group_name:
            parts.append(f'\n  <optgroup label="{_var(group_name)}">')
        for option in group_choices:
            parts.append("\n  " + render(option["template_name"], option))
        if group_name:
            parts.append("\n  </optgroup>")
    parts.append("\n</select>")
    return "".join(parts)


def _textarea(widget: dict[str, Any], _render: Callable[[str, dict[str, Any]], str]) -> str:
    value = _var(widget["value"]) if widget["value"] else ""
    return f'<textarea name="{_var(widget["name"])}"{_attrs(widget["attrs"])}>\n{value}</textarea>'


_INPUTS = (
    "text",
    "number",
    "email",
    "url",
    "password",
    "hidden",
    "date",
    "datetime",
    "time",
    "checkbox",
    "search",
)
_WIDGETS: dict[str, Callable[[dict[str, Any], Callable[[str, dict[str, Any]], str]], str]] = {
    **{f"django/forms/widgets/{name}.html": _input for name in (*_INPUTS, "input")},
    "django/forms/widgets/select.html": _select,
    "django/forms/widgets/select_option.html": _option,
    "django/forms/widgets/textarea.html": _textarea,
}


class FastRenderer(DjangoTemplates):
    """Django's default form renderer; the common widget templates are written in Python (same output)."""

    def render(self, template_name: str, context: dict[str, Any], request: Any = None) -> str:
        fast = _WIDGETS.get(template_name)
        if fast is None:
            return super().render(template_name, context, request=request)

        def nested(name: str, option: dict[str, Any]) -> str:  # ``{% include name with widget=option %}``
            inner = _WIDGETS.get(name)
            if inner is not None:
                return inner(option, nested) + "\n"  # an included template file's last line break
            return self.get_template(name).render({**context, "widget": option}, request=request)

        return fast(context["widget"], nested).strip()


# --- crispy-bootstrap5's field.html ------------------------------------------------------------------------------


def _crispy_widget(field: Any, css: str) -> str:
    """``{% crispy_field field 'class' css %}``: the widget's class name and ``css`` added to its class, rendered."""
    from django.conf import settings

    widget = field.field.widget
    widget = getattr(widget, "widget", widget)
    converters = getattr(settings, "CRISPY_CLASS_CONVERTERS", {})
    class_name = widget.__class__.__name__.lower()
    class_name = converters.get(class_name, class_name)
    current = widget.attrs.get("class", "")
    if current:
        if current.find(class_name) == -1:
            current += " " + class_name
    else:
        current = class_name
    for part in css.split():
        if part not in current.split():
            current += " " + part
    widget.attrs["class"] = current
    return str(field)


def _help_text(field: Any, ctx: dict[str, Any]) -> str:
    return help_text_html(field, help_text_inline=bool(ctx.get("help_text_inline")))


def help_text_html(field: Any, *, help_text_inline: bool) -> str:
    """A field's help (the project's override of crispy's help text, ``bootstrap5/layout/help_text.html``, calls
    this too): the sentence, its rule ids in small type, a text field's length limit."""
    from sabr_trial.templatetags.crf_help import help_parts, length_limit

    out = []
    if field.help_text:
        sentence, rules = help_parts(field.help_text)
        small = f' <small class="rule-ids">{_var(rules)}</small>' if rules else ""
        if help_text_inline:
            out.append(
                f'<span id="{_var(field.auto_id)}_helptext" class="form-text">{_var(sentence)}{small}</span>'
            )
        else:
            ident = f'id="{_var(field.auto_id)}_helptext" ' if field.auto_id else ""
            out.append(f'<div {ident}class="form-text">{_var(sentence)}{small}</div>')
    limit = length_limit(field)
    if limit and field.auto_id:
        count = gettext("%%(n)s of %(max)s characters.") % {"max": limit}
        too_long = gettext(
            "%%(n)s characters: %%(over)s too many. Shorten the text: at most %(max)s characters are saved, "
            "nothing is cut."
        ) % {"max": limit}
        at_most = gettext("At most %(max)s characters.") % {"max": limit}
        out.append(
            f'<div class="form-text length-limit" data-length-for="{_var(field.auto_id)}" data-max="{_var(limit)}" '
            f'data-count="{_var(count)}" data-too-long="{_var(too_long)}" data-testid="length-limit">'
            f"{_var(at_most)}</div>"
        )
    return " ".join(out)


def _errors(field: Any, ctx: dict[str, Any], tag: str) -> str:
    """crispy-bootstrap5's field_errors.html (``span``) or field_errors_block.html (``p``)."""
    if not (ctx.get("form_show_errors") and field.errors):
        return ""
    items = "".join(
        f'<{tag} id="error_{n}_{_var(field.auto_id)}"><strong>{_var(error)}</strong></{tag}>'
        for n, error in enumerate(field.errors, start=1)
    )
    return f'<div id="{_var(field.errors.field_id)}_error" class="invalid-feedback">{items}</div>'


def _help_and_errors(field: Any, ctx: dict[str, Any]) -> str:
    """crispy-bootstrap5's help_text_and_errors.html."""
    parts = []
    if ctx.get("help_text_inline") and not ctx.get("error_text_inline"):
        parts.append(_help_text(field, ctx))
    parts.append(_errors(field, ctx, "span" if ctx.get("error_text_inline") else "p"))
    if not ctx.get("help_text_inline"):
        parts.append(_help_text(field, ctx))
    return " ".join(p for p in parts if p)


def _choices(field: Any, ctx: dict[str, Any]) -> str:
    """crispy-bootstrap5's radio_checkbox_select.html (vertical, no field class)."""
    from crispy_forms.templatetags.crispy_forms_filters import optgroups

    invalid = " is-invalid" if field.errors else ""
    flat = ctx.get("flat_attrs")
    groups = list(optgroups(field))
    parts = [f"<div {' ' + str(flat) if flat else ''}>"]
    for g, (group, options, _index) in enumerate(groups):
        if group:
            parts.append(f"<strong>{_var(group)}</strong>")
        for o, option in enumerate(options):
            value = escape(str(localize(option["value"], use_l10n=False)))
            label = escape(str(localize(option["label"], use_l10n=False)))
            last = field.errors and o == len(options) - 1 and g == len(groups) - 1
            parts.append(
                f'<div class="form-check"> <input type="{_var(option["type"])}" class="form-check-input{invalid}"  '
                f'name="{_var(field.html_name)}" value="{value}" {_attrs(option["attrs"])}> '
                f'<label for="{_var(option["attrs"].get("id", ""))}" class="form-check-label">{label}</label>'
                f"{' ' + _errors(field, ctx, 'p') if last else ''} </div>"
            )
    parts.append("</div>")
    return " ".join(parts) + " " + _help_text(field, ctx)


def _covered(field: Any, ctx: dict[str, Any]) -> bool:
    """The cases ``crispy_field`` writes itself; crispy's template renders the others."""
    widget = field.field.widget
    return not (
        ctx.get("tag")
        or ctx.get("label_class")
        or ctx.get("field_class")
        or ctx.get("inline_class")
        or "form-horizontal" in (ctx.get("form_class") or "")
        or not ctx.get("form_show_labels")
        or isinstance(widget, forms.FileInput | forms.CheckboxSelectMultiple | forms.MultiWidget)
    )


def crispy_field(ctx: dict[str, Any]) -> str:
    """crispy-bootstrap5's ``field.html`` for one field of a vertical form (see the module's text)."""
    field = ctx["field"]
    if field.is_hidden:
        return str(field)
    if not _covered(field, ctx):
        from django.template import engines

        return str(engines["django"].get_template("bootstrap5/field.html").render(ctx))
    widget = field.field.widget
    checkbox = isinstance(widget, forms.CheckboxInput)
    radio = isinstance(widget, forms.RadioSelect)
    required = field.field.required
    asterisk = '<span class="asteriskField">*</span>' if required else ""
    extra = "".join(f" {_var(c)}" for c in (ctx.get("wrapper_class"), field.css_classes()) if c)
    parts = []
    if checkbox:
        parts.append('<div class="mb-3">')
    parts.append(
        f'<div id="div_{_var(field.auto_id)}" class="{"form-check" if checkbox else "mb-3"}{extra}">'
    )
    fieldset = field.use_fieldset and field.label
    if field.label and not checkbox:
        if fieldset:
            described = field.aria_describedby
            parts.append(
                f"<fieldset{f' aria-describedby={chr(34)}{_var(described)}{chr(34)}' if described else ''}>"
            )
        tag = "legend" if field.use_fieldset else "label"
        target = f'for="{_var(field.id_for_label)}" ' if field.id_for_label else ""
        css = "form-label" + (" requiredField" if required else "") + (" fs-6" if field.use_fieldset else "")
        parts.append(f'<{tag} {target}class="{css}">{_var(field.label)}{asterisk}</{tag}>')
    if radio:
        parts.append(_choices(field, ctx))
    elif checkbox:
        parts.append(
            _crispy_widget(field, "form-check-input is-invalid" if field.errors else "form-check-input")
        )
        parts.append(
            f'<label for="{_var(field.id_for_label)}" class="form-check-label{" requiredField" if required else ""}">'
            f"{_var(field.label)}{asterisk}</label>"
        )
        parts.append(_help_and_errors(field, ctx))
    else:
        css = "form-select" if isinstance(widget, forms.Select) else "form-control"
        parts.append(_crispy_widget(field, f"{css} is-invalid" if field.errors else css))
        parts.append(_help_and_errors(field, ctx))
    if fieldset:
        parts.append("</fieldset>")
    parts.append("</div>")
    if checkbox:
        parts.append("</div>")
    return " ".join(p for p in parts if p)


# --- the template engine that serves them --------------------------------------------------------------------------

#: Template names served by Python functions of a flat context (``python`` engine in ``TEMPLATES``).
TEMPLATES: dict[str, Callable[[dict[str, Any]], str]] = {"crf/field.py": crispy_field}


class _Template:
    def __init__(self, function: Callable[[dict[str, Any]], str]) -> None:
        self.function = function

    def render(self, context: Any = None, request: Any = None) -> SafeString:
        return mark_safe(self.function(dict(context or {})))


class PythonTemplates(BaseEngine):
    """A template engine with the few templates of ``TEMPLATES``: a name it does not know is another engine's."""

    app_dirname = "python_templates"

    def __init__(self, params: dict[str, Any]) -> None:
        params = params.copy()
        params.pop("OPTIONS", None)
        super().__init__(params)

    def from_string(self, template_code: str) -> Any:
        raise TemplateDoesNotExist("the python engine has no templates from strings")

    def get_template(self, template_name: str) -> _Template:
        function = TEMPLATES.get(template_name)
        if function is None:
            raise TemplateDoesNotExist(template_name, backend=self)
        return _Template(function)


class FieldsHelper(FormHelper):
    """Crispy's helper for a form rendered by ``crf/field.py``: every field of the form at render time, in order,
    no ``<form>`` tag and no CSRF input (the page has them), as crispy's ``|crispy`` filter renders it."""

    field_template = "crf/field.py"

    def __init__(self, form: forms.BaseForm) -> None:
        super().__init__()
        self._fields_of = form
        self.form_tag = False
        self.disable_csrf = True

    @property  # type: ignore[override]
    def layout(self) -> Layout:
        return Layout(*self._fields_of.fields)

    @layout.setter
    def layout(self, value: Any) -> None:
        raise AttributeError("this helper's layout is its form's fields")


def render_form(form: forms.BaseForm) -> SafeString:
    """``{{ form|crispy }}`` with the fields written in Python (``{{ form|crispy_fast }}``, templatetags/fast_forms)."""
    from crispy_forms.utils import render_crispy_form

    helper = FieldsHelper(form)
    helper._error_text_inline = helper._help_text_inline = (
        False  # as the filter: errors in a block, help below
    )
    return mark_safe(render_crispy_form(form, helper=helper))
