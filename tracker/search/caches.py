"""What searches of one process share: term data in a bounded cache, and each searcher's collection statistics."""
from __future__ import annotations

import math
import threading
from array import array
from collections import OrderedDict
from collections.abc import Iterable

from whoosh.searching import Searcher

from tracker.search.schema import TEXT_FIELDS

# A term of a field of a segment: (segment id, field name, term text).
TermKey = tuple[str, str, str]
# A segment's number of live documents, and each text field's total length over them.
LiveSegment = tuple[int, dict[str, int]]


class TermData:
    """One term of one field of one segment: its documents, their term frequencies, and the BM25
    parts (no idf) last computed from them, with the average field length they were computed for."""

    __slots__ = ("mask", "ids", "frequencies", "parts", "values", "covered", "size")

    def __init__(self, mask: int, ids: array[int], frequencies: array[float] | None) -> None:
        self.mask = mask
        self.ids = ids
        self.frequencies = frequencies
        self.parts: tuple[float, array[float]] | None = None
        self.values: dict[int, frozenset[int]] | None = None  # positions, for the documents of ``covered``
        self.covered = 0                                    # -1: every document's positions are decoded
        self.size = len(ids)


# Decoded positions cost several times a posting's 16 bytes; they count this many postings each.
POSITIONS_WEIGHT = 8
# What an entry costs beyond its postings, in postings.
ENTRY_WEIGHT = 16


class TermCache:
    """Term data shared by every search of the process, least recently used out first, bounded by
    the number of postings held (16 bytes each; decoded positions count POSITIONS_WEIGHT each)."""

    def __init__(self, max_postings: int = 4_000_000) -> None:
        self.max_postings = max_postings
        self.held = 0
        self._items: OrderedDict[TermKey, TermData] = OrderedDict()
        self._lock = threading.Lock()
        # Held while a term's positions are decoded into its (shared) data.
        self.positions_lock = threading.Lock()

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
            self.held += self._weight(data)
            while self.held > self.max_postings and len(self._items) > 1:
                _, old = self._items.popitem(last=False)
                self.held -= self._weight(old)
            return data

    @staticmethod
    def _weight(data: TermData) -> int:
        # An entry costs something even without postings (a word no document has, looked up for spelling).
        return ENTRY_WEIGHT + data.size + POSITIONS_WEIGHT * (len(data.values) if data.values is not None else 0)

    def grow(self, key: TermKey, data: TermData, decoded: int) -> None:
        """Account for ``decoded`` documents' positions added to ``data`` after it was cached (unless
        evicted since)."""
        with self._lock:
            if self._items.get(key) is data:
                self.held += decoded * POSITIONS_WEIGHT


class Stats:
    """Collection statistics of one searcher (one index commit) over its live, published documents only,
    as BM25 needs them: the document count, the average length of each text field, and (filled in by
    the engine, which reads the postings) each term's inverse document frequency.

    Deleted documents stay in a segment until it is merged; counting them would make a score depend
    on a replica's history of edits and merges, not only on what it holds. Drafts are not counted
    either, so that what they contain cannot be read from the scores a public reader gets.
    """

    def __init__(self, searcher: Searcher, segments: Iterable[LiveSegment]) -> None:
        self.searcher = searcher
        count = 0
        totals = dict.fromkeys(TEXT_FIELDS, 0)
        for live_count, lengths in segments:
            count += live_count
            for name in TEXT_FIELDS:
                totals[name] += lengths.get(name, 0)
        self.count = max(1, count)
        self.average = {name: (totals[name] / self.count) or 1.0 for name in TEXT_FIELDS}
        self.idfs: dict[tuple[str, str], float] = {}

    def idf(self, frequency: int) -> float:
        """The inverse document frequency of a term found in ``frequency`` live documents."""
        return math.log(self.count / (frequency + 1)) + 1.0
