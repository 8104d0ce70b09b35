"""Forms of attached documents: attach (or replace) a file with its facts, describe it, remove it, extract again."""
from __future__ import annotations

from typing import Any

from flask_wtf.file import FileField
from wtforms import SelectField, StringField, TextAreaField

from tracker.forms import TrackerForm as FlaskForm
from tracker.forms import labelled
from tracker.forms.records import PartialDateField, ServiceErrors
from tracker.models.vocab import DOCUMENT_LANGUAGES, DOCUMENT_ROLES
from tracker.translation import lazy_gettext as _l


def _clean(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


class DocumentFactsForm(ServiceErrors, FlaskForm):
    """What staff say about a file: role, language, version, date and source."""

    role = SelectField(_l("Role"), choices=labelled(DOCUMENT_ROLES),
                       description=_l("An unofficial translation or a draft is shown with a note saying so."))
    language = SelectField(_l("Language of the text"), choices=labelled(DOCUMENT_LANGUAGES))
    version_label = StringField(_l("Version"), description=_l("As the text calls itself: Draft 2, Adopted, "
                                                              "Consolidated 2024 ..."))
    issued_on = PartialDateField(_l("Date of this version"), description=_l(
        "Day first, as precise as the source: 15/11/2025, 11/2025 or 2025."))
    source_url = StringField(_l("Published at (URL)"), description=_l("Where the file was published (http or https)."))
    reason = TextAreaField(_l("Why (for the history)"))

    def to_input(self) -> dict[str, Any]:
        return {"role": self.role.data, "language": self.language.data,
                "version_label": _clean(self.version_label.data), "issued_on": _clean(self.issued_on.data),
                "source_url": _clean(self.source_url.data)}


class DocumentForm(DocumentFactsForm):
    """A file to attach, with its facts."""

    file = FileField(_l("File"), description=_l("PDF, DOCX, HTML or plain text (UTF-8)."))


class RemoveDocumentForm(ServiceErrors, FlaskForm):
    """Removal of a document (the reason goes into the history)."""

    reason = TextAreaField(_l("Why (for the history)"))


class ExtractAgainForm(FlaskForm):
    """A request to extract a document's text again (one button)."""
