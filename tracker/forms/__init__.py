"""WTForms for the HTML pages (CSRF by Flask-WTF); each form hands the services plain input."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask_wtf import FlaskForm
from wtforms import Form


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
    language (WTForms takes a callable; a dict of lazy labels would be read once, at import)."""

    def choices() -> dict[str, str]:
        merged: dict[str, Any] = {}
        for part in options:
            merged.update(part)
        return {value: str(label) for value, label in merged.items()}

    return choices
