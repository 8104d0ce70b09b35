"""Domain errors raised by services and mapped to pages and JSON in one place (tracker.views.errors)."""
from __future__ import annotations

from collections.abc import Mapping


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
    """Input was rejected; ``errors`` maps each offending field or parameter to its message."""

    status_code = 400

    def __init__(self, message: str, errors: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.errors = dict(errors or {})


class Forbidden(DomainError):
    """The actor may not do this."""

    status_code = 403


class Conflict(DomainError):
    """The record changed since the caller read it."""

    status_code = 409


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
