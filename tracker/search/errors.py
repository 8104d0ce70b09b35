"""Errors of the search service that callers show to people."""
from __future__ import annotations

from tracker.errors import DomainError


class SearchUnavailable(DomainError):
    """The index is missing or was built for another schema version: no stale results are served."""

    status_code = 503
