"""WTForms for the HTML pages (CSRF by Flask-WTF); each form hands the services plain input."""
from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any
from weakref import WeakKeyDictionary

from flask_wtf import FlaskForm
from wtforms import Form

from tracker.forms.attributes import use_in_widgets
from tracker.forms.widgets import use_fast_selects
from tracker.translation import current_translations

use_in_widgets()
use_fast_selects()


class TrackerForm(FlaskForm):
    """A Flask-WTF form whose built-in messages (required, length, choice...) come in the reader's language.

    WTForms ships no Lao catalogue, so its messages are kept in the tracker's (see tracker.i18n).
    """

    class Meta(FlaskForm.Meta):
        def get_translations(self, form):
            from tracker.i18n import form_translations

            return form_translations


class RowForm(Form):
    """A repeated row inside a form (a source, a relation): no CSRF of its own, messages as TrackerForm's."""

    class Meta:
        def get_translations(self, form):
            from tracker.i18n import form_translations

            return form_translations


def labelled(*options: Mapping[str, Any]) -> Callable[[], dict[str, str]]:
    """The ``choices`` of a select whose labels are translated when the form is made, in the reader's
    language (WTForms takes a callable; a dict of lazy labels would be read once, at import).

    The labels are translated once per catalogue: a form with many rows asks for the same list in every
    row, on every page."""
    translated: WeakKeyDictionary[Any, dict[str, str]] = WeakKeyDictionary()

    def choices() -> dict[str, str]:
        catalogue = current_translations()
        labels = translated.get(catalogue)
        if labels is None:
            merged: dict[str, Any] = {}
            for part in options:
                merged.update(part)
            labels = translated[catalogue] = {value: str(label) for value, label in merged.items()}
        return dict(labels)

    # WTForms reads the signature of a choices callable each time it is called, to see if it takes the
    # form and the field: say at once that it takes nothing.
    choices.__signature__ = inspect.Signature()  # type: ignore[attr-defined]
    return choices


def error_links(form: Any) -> list[tuple[str, str, str]]:
    """Every message by a field of ``form``, as (control id, label, message) in page order, rows included
    ("Source 2 · URL"): the error summary at the top of a form links each one to its field."""
    from wtforms import FieldList, FormField

    found: list[tuple[str, str, str]] = []

    def walk(fields: Any, prefix: str) -> None:
        for field in fields:
            if field.type in ("CSRFTokenField", "HiddenField") or field.short_name == "version":
                continue
            if isinstance(field, FieldList):
                for number, entry in enumerate(field.entries, start=1):
                    walk(entry.form if isinstance(entry, FormField) else [entry],
                         f"{prefix}{field.label.text} {number} · ")
            elif isinstance(field, FormField):
                walk(field.form, f"{prefix}{field.label.text} · ")
            else:
                for message in field.errors if isinstance(field.errors, list) else []:
                    found.append((field.id, f"{prefix}{field.label.text}", str(message)))

    walk(form, "")
    return found
