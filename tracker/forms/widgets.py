"""Form controls written in one pass, with the markup WTForms' widgets and the field template wrote.

WTForms renders every option through its own objects (a Choice, an attribute dictionary, a Markup
per option, and for a checkbox a whole Field), and each input lists every attribute of its field's
flags; a policy's edit form, with a hundred fields and some 550 options, spent most of its time
there and in a template macro per field. Selects, checkbox lists and field blocks (label, hint,
control, messages) are built here with plain string operations instead; tests/unit/test_form_widgets.py
compares them with the library's widgets and the old macro on awkward values.
"""
from __future__ import annotations

from typing import Any

from markupsafe import Markup, escape
from wtforms import SelectField, SelectMultipleField
from wtforms.fields.core import Label
from wtforms.meta import DefaultMeta
from wtforms.widgets import CheckboxInput, Input, Select, TextArea
from wtforms.widgets.core import clean_key

from tracker.forms.attributes import html_params


def attribute_value(value: Any) -> str:
    """An attribute's value escaped as WTForms escapes it (a quote inside Markup included)."""
    return str(escape(value)).replace('"', "&quot;")


def set_flags(field: Any, names: list[str], attributes: dict[str, Any], *, call: bool = False) -> None:
    """The validation flags of ``field`` named in ``names`` (required, disabled...) as attributes, as
    WTForms' widgets add them (inputs ``call`` a flag that is a function), without listing every
    attribute of the flags with dir()."""
    flags = getattr(field, "flags", None)
    present = getattr(flags, "__dict__", None)
    if present is None:  # not WTForms' Flags: do as the library does
        present = {name: getattr(flags, name) for name in dir(flags)} if flags is not None else {}
    for name in names:
        if name in present and name not in attributes:
            value = present[name]
            attributes[name] = value() if call and callable(value) else value


def option(value: Any, label: Any, selected: bool) -> str:
    """One <option>, as ``Select.render_option`` writes an option without attributes of its own."""
    if isinstance(value, bool):
        value = str(value)
    return (f'<option {"selected " if selected else ""}value="{attribute_value(value)}">'
            f'{escape(label or value)}</option>')


class FastSelect(Select):
    """WTForms' Select, writing the options itself: the same markup, attributes, order and ``selected``."""

    def __call__(self, field: Any, **attributes: Any) -> Markup:
        attributes.setdefault("id", field.id)
        if self.multiple:
            attributes["multiple"] = True
        set_flags(field, self.validation_attrs, attributes)
        html = [f"<select {html_params(name=field.name, **attributes)}>"]
        choices = field.choices
        if isinstance(choices, dict) and all(isinstance(label, str) for label in choices.values()):
            # The shape of every select of the tracker: value -> label, no groups.
            html.extend(self._options(field, choices.items()))
        elif field.has_groups():
            for group, group_choices in field._iter_groups_normalized():
                if group is not None:
                    html.append(f"<optgroup {html_params(label=group)}>")
                html.extend(self._rendered(group_choices))
                if group is not None:
                    html.append("</optgroup>")
        else:
            html.extend(self._rendered(field._iter_choices_normalized()))
        html.append("</select>")
        return Markup("".join(html))

    def _options(self, field: Any, items: Any) -> list[str]:
        coerce, data = field.coerce, field.data
        if self.multiple:
            chosen = data or ()
            return [option(value, label, coerce(value) in chosen) for value, label in items]
        return [option(value, label, coerce(value) == data) for value, label in items]

    def _rendered(self, choices: Any) -> list[str]:
        return [str(self.render_option(choice)) if choice.render_kw else
                option(choice.value, choice.label, choice.selected) for choice in choices]


def checkbox_options(field: Any) -> list[tuple[Markup, str]]:
    """Each option of a field of checkboxes as (its <input>, its label text), exactly as iterating the
    field and calling each option writes them (ids field-0, field-1...), without a Field per option."""
    choices = field.choices
    flags: dict[str, Any] = {}
    set_flags(field, CheckboxInput.validation_attrs, flags)
    if type(field.option_widget) is not CheckboxInput or field.render_kw or any(flags.values()) \
            or not isinstance(choices, dict) or not all(
            isinstance(label, str) for label in choices.values()):
        # Anything else the library's way: extra attributes, flags, groups.
        return [(option_field(), option_field.label.text) for option_field in field]
    coerce, chosen, name = field.coerce, field.data or (), attribute_value(field.name)
    return [(Markup(f'<input {"checked " if coerce(value) in chosen else ""}'
                    f'id="{attribute_value(f"{field.id}-{index}")}" name="{name}" type="checkbox" '
                    f'value="{attribute_value(value)}">'), label or value)
            for index, (value, label) in enumerate(choices.items())]


def use_fast_selects() -> None:
    """Make WTForms' select fields render with FastSelect (idempotent)."""
    SelectField.widget = FastSelect()
    SelectMultipleField.widget = FastSelect(multiple=True)


def combine_attrs(attrs: dict[str, Any], field: Any, has_hint: Any) -> dict[str, Any]:
    """A form control's attributes plus the ARIA links to its hint and error messages."""
    combined = dict(attrs)
    described = [f"{field.id}-hint"] if has_hint else []
    if field.errors:
        described += [f"{field.id}-error"]
        combined["aria-invalid"] = "true"
    if described:
        combined["aria-describedby"] = " ".join(described)
    return combined


def field_block(field: Any, hint: Any = None, attrs: dict[str, Any] | None = None) -> Markup:
    """A field with its label, hint and messages, linked for screen readers (the ``field`` of
    _forms.html): the same text the template macro wrote, without a macro call per field (a policy's
    form has a hundred fields)."""
    attrs = attrs or {}
    errors = field.errors
    html = [f'<div class="field{" has-error" if errors else ""}">\n']
    if field.type == "BooleanField":
        html.append(f'  <label class="check">{control(field, combine_attrs(attrs, field, False))} '
                    f'{escape(field.label.text)}</label>\n')
    else:
        label = field.label
        if type(label) is Label:
            # What Label() writes: <label for="id">text</label>.
            html.append(f'  <label for="{attribute_value(label.field_id)}">{escape(label.text)}</label>\n')
        else:
            html.append(f"  {label()}\n")
        described = field.description or hint
        if described:
            html.append(f'<p class="hint" id="{escape(field.id)}-hint">{escape(hint or field.description)}</p>')
        html.append(f"  {control(field, combine_attrs(attrs, field, described))}\n")
    html.extend(f'<p class="error-message" id="{escape(field.id)}-error">{escape(error)}</p>' for error in errors)
    html.append("</div>\n")
    return Markup("".join(html))


def row_fields(row: Any, attrs: dict[str, dict[str, Any]], *, autofocus: bool = False) -> Markup:
    """The field blocks of one row of a repeated group, each with its attributes from ``attrs`` (by the
    field's short name); ``autofocus`` on the first one (the row just added). Joined as the row
    template's lines lay them out, one under another."""
    blocks = []
    for number, field in enumerate(row):
        attributes = attrs.get(field.short_name, {})
        if autofocus and number == 0:
            attributes = dict(attributes, autofocus=True)
        blocks.append(field_block(field, attrs=attributes))
    return Markup("\n      ".join(blocks))


def control(field: Any, attributes: dict[str, Any]) -> str:
    """The control of ``field`` with ``attributes``, as calling the field writes it. Inputs, checkboxes
    and text areas are written here, as their widgets write them but without listing every attribute of
    the field's flags to find the few they write; anything else (or a field with attributes or a meta
    of its own) is left to WTForms."""
    widget = field.widget
    kind = type(widget).__call__
    if field.render_kw or type(field.meta).render_field is not DefaultMeta.render_field or kind not in (
            Input.__call__, CheckboxInput.__call__, TextArea.__call__):
        return str(field(**attributes))
    # What the field's meta does first (render_field): the attribute names as HTML writes them.
    attributes = {clean_key(name): value for name, value in attributes.items()}
    attributes.setdefault("id", field.id)
    if kind is TextArea.__call__:
        set_flags(field, widget.validation_attrs, attributes)
        return f"<textarea {html_params(name=field.name, **attributes)}>\r\n{escape(field._value())}</textarea>"
    if kind is CheckboxInput.__call__ and getattr(field, "checked", field.data):
        attributes.setdefault("checked", True)
    attributes.setdefault("type", widget.input_type)
    if "value" not in attributes:
        attributes["value"] = field._value()
    datalist = getattr(field, "_datalist", None)
    if datalist is not None and "list" not in attributes:
        attributes["list"] = datalist if isinstance(datalist, str) else datalist.id
    set_flags(field, widget.validation_attrs, attributes, call=True)
    return f"<input {widget.html_params(name=field.name, **attributes)}>"
