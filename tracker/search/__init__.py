"""The search index: a Whoosh replica of the database in English and Lao (schema, analysis, documents, query
evaluation, the indexer that follows the change log, and the runtime that keeps a replica per process).

The service that answers readers is tracker.services.search; requests are parsed by
tracker.search.request. Only this package imports whoosh.
"""
from __future__ import annotations

from tracker.search.errors import SearchUnavailable
from tracker.search.runtime import SearchRuntime, init_search, runtime_of

__all__ = ["SearchRuntime", "SearchUnavailable", "init_search", "runtime_of"]
