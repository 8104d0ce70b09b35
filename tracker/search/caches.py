"""What searches of one process share: term data in a bounded cache, and each searcher's collection statistics."""
from __future__ import annotations

import math
import threading
from array import array
from collections import OrderedDict

from whoosh.searching import Searcher

from tracker.search.schema import TEXT_FIELDS

# A term of a field of a segment: (segment id, field name, term text).
TermKey = tuple[str, str, str]


class TermData:
    """One term of one field of one segment: its documents and their BM25 parts (no idf)."""

    __slots__ = ("mask", "ids", "parts", "values", "size")

    def __init__(self, mask: int, ids: array[int], parts: array[float] | None) -> None:
        self.mask = mask
        self.ids = ids
        self.parts = parts
        self.values: dict[int, frozenset[int]] | None = None
        self.size = len(ids)


# Decoded positions cost several times a posting's 16 bytes; they count this many postings each.
POSITIONS_WEIGHT = 8


class TermCache:
    """Term data shared by every search of the process, least recently used out first, bounded by
    the number of postings held (16 bytes each; decoded positions count POSITIONS_WEIGHT each)."""

    def __init__(self, max_postings: int = 4_000_000) -> None:
        self.max_postings = max_postings
        self.held = 0
        self._items: OrderedDict[TermKey, TermData] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: TermKey) -> TermData | None:
        with self._lock:
            data = self._items.get(key)
            if data is not None:
                self._items.move_to_end(key)
            return data

    def put(self, key: TermKey, data: TermData) -> TermData:
        """Keep ``data``; returns the cached object (another thread may have read the term first)."""
        with self._lock:
            if key in self._items:
                return self._items[key]
            self._items[key] = data
            self.held += data.size
            while self.held > self.max_postings and len(self._items) > 1:
                _, old = self._items.popitem(last=False)
                self.held -= old.size * (1 + POSITIONS_WEIGHT if old.values is not None else 1)
            return data

    def grow(self, key: TermKey, data: TermData) -> None:
        """Account for positions loaded into ``data`` after it was cached (unless evicted since)."""
        with self._lock:
            if self._items.get(key) is data:
                self.held += data.size * POSITIONS_WEIGHT


class Stats:
    """Collection statistics of one searcher (one index commit): document count, average field
    lengths and document frequencies, as BM25 needs them."""

    def __init__(self, searcher: Searcher) -> None:
        self.searcher = searcher
        self.count = max(1, searcher.doc_count_all())
        self.average = {name: (searcher.field_length(name) / self.count) or 1.0 for name in TEXT_FIELDS}
        self._idf: dict[tuple[str, str], float] = {}

    def idf(self, field: str, text: str) -> float:
        key = (field, text)
        value = self._idf.get(key)
        if value is None:
            frequency = self.searcher.doc_frequency(field, text)
            value = self._idf[key] = math.log(self.count / (frequency + 1)) + 1.0
        return value
