"""Saved searches run against one record: does a subscriber's query and filters match this policy now?"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session
from whoosh.filedb.filestore import RamStorage

from tracker.errors import Invalid
from tracker.models import Policy
from tracker.search.caches import Stats, TermCache
from tracker.search.documents import analysed, load_documents
from tracker.search.engine import Collection
from tracker.search.query import QueryError, parse
from tracker.search.reader import Leaf, SegmentData, live_segment
from tracker.search.request import parse_search_args
from tracker.search.schema import make_schema

if TYPE_CHECKING:
    from whoosh.searching import Searcher


class SavedSearchMatcher:
    """Runs saved searches against one policy, with the search service's own query language, analysis
    and matching (most of the loose words, synonyms, bridges): the policy's search document goes into
    a one-document index in memory, evaluated by the same engine; the filters are compared with the
    document's facet values. Unknown words are not corrected: a saved search means what it says."""

    def __init__(self, session: Session, policy: Policy) -> None:
        key = ("policy", policy.id)
        self.document: dict[str, Any] = load_documents(session, [key]).get(key, {})
        self._searcher: Searcher | None = None
        self._leaves: list[Leaf] = []
        self._stats: Stats | None = None
        self._terms = TermCache(max_postings=10_000)

    def _search(self) -> Collection:
        """A collection over the one-document index. A new one for every saved search: a collection's
        segments remember what they matched by query object, and a query's id may be reused once it is
        freed."""
        if self._searcher is None:
            index = RamStorage().create_index(make_schema())
            writer = index.writer()
            writer.add_document(**analysed(self.document))
            writer.commit()
            self._searcher = searcher = index.searcher()
            self._leaves = [Leaf(sub, offset, SegmentData.build(sub.reader()), 1)
                            for sub, offset in searcher.leaf_searchers()]
            self._stats = Stats(searcher, [live_segment(leaf) for leaf in self._leaves])
        assert self._stats is not None  # set with the searcher
        return Collection(self._leaves, self._terms, self._stats)

    def close(self) -> None:
        if self._searcher is not None:
            self._searcher.close()

    def matches(self, query: str | None, filters: dict[str, list[str]] | None) -> bool:
        if not self.document:
            return False
        args: dict[str, list[str]] = {"q": [query or ""]}
        for name, values in (filters or {}).items():
            if isinstance(values, str):
                values = [values]
            args[name] = [str(v) for v in values or ()]
        try:
            request = parse_search_args(args)
        except Invalid:
            return False
        facets = {
            "country": [c.upper() for c in request.countries], "status": list(request.statuses),
            "instrument": list(request.instruments), "topic": list(request.topics),
            "vehicle_class": list(request.vehicle_classes), "year": [str(y) for y in request.years],
            "event": list(request.events),
        }
        for name, wanted in facets.items():
            if not wanted:
                continue
            have = {str(v).lower() for v in self.document.get(name, [])}
            if not have & {w.lower() for w in wanted}:
                return False
        if request.types and "policy" not in request.types:
            return False
        if not request.q:
            return True
        try:
            parsed = parse(request.q)
        except QueryError:
            return False
        return any(segment.mask(parsed) & segment.leaf.live for segment in self._search().segments)
