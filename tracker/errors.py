"""Domain errors raised by services and mapped to pages and JSON in one place (tracker.views.errors)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def N_(message: str) -> str:
    """Marks a message for extraction; it is translated where it is shown."""
    return message


# What each code of a FieldError says: a sentence shown by the field on a form and under the field's path in
# an API error, in the reader's language. Parameters are filled after translation.
FIELD_MESSAGES: dict[str, str] = {
    "required": N_("This field is required."),
    "unknown_field": N_("This field does not exist or cannot be changed here."),
    "type": N_("This field must be %(expected)s, not %(actual)s."),
    "one_of": N_("'%(value)s' is not one of: %(values)s."),
    "no_choice_yet": N_("This field has no accepted value yet."),
    "too_long": N_("This field is %(length)s characters long; the limit is %(max)s."),
    "empty": N_("This field must not be empty."),
    "too_many": N_("This list has %(count)s items; the limit is %(max)s."),
    "too_small": N_("This field must be at least %(min)s."),
    "too_large": N_("This field must be at most %(max)s."),
    "nul": N_("This field contains a NUL character."),
    "key_format": N_("Use lower-case letters, digits, '-' or '_' (at most 120), starting and ending with a "
                     "letter or digit."),
    "key_reserved": N_("'%(value)s' names a page of the tracker; choose another key."),
    "key_used_twice": N_("Two records use the key '%(value)s'."),
    "date_format": N_("'%(value)s' is not a date of the form YYYY, YYYY-MM or YYYY-MM-DD."),
    "date_year": N_("'%(value)s' has a year out of range."),
    "date_month": N_("'%(value)s' has no month %(month)s."),
    "date_day": N_("'%(value)s' is not a day of the calendar."),
    "url": N_("'%(value)s' is not an http(s) URL with a plain host name, such as https://example.org/page."),
    "country_code": N_("'%(value)s' is not an ISO 3166-1 alpha-2 code, ASEAN or INTL."),
    "listed_twice": N_("'%(value)s' is listed twice."),
    "row_twice": N_("This is listed twice."),
    "unknown_organisation": N_("Unknown organisation '%(value)s'."),
    "unknown_event": N_("Unknown event '%(value)s'."),
    "unknown_policy": N_("Unknown policy '%(value)s'."),
    "unknown_topic": N_("Unknown topic '%(value)s'."),
    "unknown_vehicle_class": N_("Unknown vehicle class '%(value)s'."),
    "own_parent": N_("An organisation cannot be its own parent."),
    "self_relation": N_("A policy cannot relate to itself."),
    "title_needed": N_("Give the title in English or in Lao (or both)."),
    "name_needed": N_("Give the name in English or in Lao (or both)."),
    "relation_target_needed": N_("Give the key of a policy in the tracker or a citation."),
    "forum_link_twice": N_("This event is already linked with this role."),
    "ends_before_start": N_("The end is before the start."),
    "valid_to_before_from": N_("Valid until is before valid from."),
    "full_date": N_("'%(value)s' is not a day written YYYY-MM-DD."),
    "closes_before_opens": N_("The comment period closes before it opens."),
    "comment_address": N_("'%(value)s' is neither an email address nor an https URL."),
    "unknown_document": N_("This policy has no attached document %(value)s."),
    "window_not_consultation": N_("Only a step into consultation has a comment period."),
    "history_needed": N_("A status needs at least one step in status_history, dated or not."),
    "status_not_last_step": N_("'%(value)s' differs from the last step of status_history ('%(last)s')."),
    # Targets of a policy (tracker.models.target).
    "target_decimals": N_("Give the value with at most four decimals."),
    "target_percent_over_100": N_("A share is at most 100 %%; this one is %(value)s."),
    "target_share_unit": N_("A share of sales, vehicles in use or production is stated in %%."),
    "target_headline_twice": N_("Only one target of a policy can be its headline target."),
    # Attached files (tracker.services.documents).
    "file_required": N_("Choose a file to attach."),
    "file_empty": N_("The file is empty."),
    "file_too_large": N_("The file is larger than the limit of %(max)s."),
    "file_unknown_type": N_("This is not a PDF, DOCX, HTML or plain-text file."),
    "file_name_mismatch": N_("The file's name says one type, but its content is %(found)s."),
    "file_corrupt": N_("The file is damaged and cannot be read."),
    "file_encrypted": N_("The PDF is protected by a password; attach an unprotected copy."),
    "file_too_many_pages": N_("The PDF has %(pages)s pages; the limit is %(max)s."),
    "file_archive_bomb": N_("The DOCX file unpacks to far more data than a document holds; it was refused."),
    "file_binary_text": N_("The file is neither text in UTF-8 nor a known document type."),
    "file_not_utf8": N_("The text file is not in UTF-8; save it as UTF-8 and attach it again."),
    "file_no_pages": N_("The file has no pages."),
    "file_unreadable": N_("The file could not be read in the time and memory allowed."),
    "file_attached_twice": N_("This file is already attached to this policy, as '%(name)s'."),
    "document_not_extracted": N_("This document's text has not been extracted yet."),
    "document_same": N_("Choose two different documents."),
}
# The JSON types a "type" error names.
TYPE_WORDS: dict[str, str] = {
    "string": N_("text"), "integer": N_("an integer"), "number": N_("a number"), "boolean": N_("true or false"),
    "null": N_("null"), "array": N_("a list"), "object": N_("an object"),
}
# Parameters that are JSON type names, shown as words in the reader's language.
_TYPE_PARAMS = ("expected", "actual")


def _translate(message: str) -> str:
    # Flask-Babel gives the reader's language inside a request and the message itself outside one.
    from tracker.translation import gettext

    return gettext(message)


class FieldError:
    """What is wrong with one field, as data: ``code`` (a key of FIELD_MESSAGES) and the ``params`` its
    message takes. ``str()`` is the message in the reader's language, so forms and the API show the same
    sentence without parsing one."""

    __slots__ = ("code", "params")

    def __init__(self, code: str, **params: Any) -> None:
        if code not in FIELD_MESSAGES:
            raise ValueError(f"unknown field error code {code!r}")
        self.code = code
        self.params = params

    def __str__(self) -> str:
        values: dict[str, Any] = {}
        for name, value in self.params.items():
            if name in _TYPE_PARAMS:
                words = [_translate(TYPE_WORDS[kind]) for kind in (value if isinstance(value, (list, tuple))
                                                                   else [value])]
                value = words[0] if len(words) == 1 else _translate(N_("%(first)s or %(second)s")) % {
                    "first": ", ".join(words[:-1]), "second": words[-1]}
            elif isinstance(value, (list, tuple)):
                value = ", ".join(str(item) for item in value)
            values[name] = value
        return _translate(FIELD_MESSAGES[self.code]) % values

    def __repr__(self) -> str:
        return f"FieldError({self.code!r}, {self.params!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FieldError):
            return (self.code, self.params) == (other.code, other.params)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.code)


def clip(value: Any, length: int = 60) -> str:
    """A value as shown inside a message: text cut to ``length`` characters."""
    return str(value)[:length]


def path_parts(path: str) -> list[str | int]:
    """A field's path taken apart: ``sources[2].url`` -> ["sources", 2, "url"] (the inverse of field_path)."""
    parts: list[str | int] = []
    for piece in path.replace("]", "").replace("[", ".[").split("."):
        if piece.startswith("["):
            parts.append(int(piece[1:]) if piece[1:].isdigit() else piece[1:])
        elif piece:
            parts.append(piece)
    return parts


def field_path(parts: Sequence[str | int]) -> str:
    """A field's path as the API and the forms name it: ``sources[2].url``."""
    path = ""
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


class DomainError(Exception):
    """Base of the errors a caller can show to a user."""

    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    """The record does not exist, or is not visible to this reader."""

    status_code = 404


class Invalid(DomainError):
    """Input was rejected; ``errors`` maps each offending field or parameter to its message: a FieldError,
    or a sentence already in the reader's language."""

    status_code = 400

    def __init__(self, message: str, errors: Mapping[str, str | FieldError] | None = None) -> None:
        super().__init__(message)
        self.errors = dict(errors or {})


class Forbidden(DomainError):
    """The actor may not do this."""

    status_code = 403


class Conflict(DomainError):
    """The record changed since the caller read it."""

    status_code = 409


class TooManyRequests(DomainError):
    """A limit on requests was reached; ``retry_after`` says in how many seconds one will be taken again."""

    status_code = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))


class StaleEdit(Conflict):
    """An edit was based on an older version; ``changes`` says what others changed since."""

    def __init__(self, message: str, current_version: int, changes: list | None = None) -> None:
        super().__init__(message)
        self.current_version = current_version
        self.changes = changes or []


class MergeConflict(StaleEdit):
    """A merge of an edit made from an older version found fields changed differently on both sides;
    ``plan`` (a tracker.services.merging.MergePlan) names them with the three values."""

    def __init__(self, message: str, current_version: int, plan) -> None:
        super().__init__(message, current_version, [])
        self.plan = plan
