"""The read side of an index: one searcher per thread, refreshed per search, and per-segment lookups.

Opening a Whoosh searcher costs tens of milliseconds and grows with the index, so each thread keeps
one and calls ``refresh()`` (microseconds when nothing changed). Facet counts, filters and sorts
use per-segment data built once per segment and reused across searches: for each facet value a
bitmask of the documents that have it (Python integers; counting is ``(a & b).bit_count()``), and
the sort columns. Segments never change once written, only their deletions do.
"""
from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from whoosh.reading import EmptyReader, MultiReader, SegmentReader
from whoosh.searching import Searcher

from tracker.search.caches import Stats, TermCache
from tracker.search.index import IndexStore, SchemaMismatch, read_state
from tracker.search.schema import FACETS, PASSAGE_FIELDS, TEXT_FIELDS

if TYPE_CHECKING:
    from whoosh.reading import IndexReader

# Fields whose values are kept as bitmasks: the facets, type and editorial state, and the passages' fields.
MASK_FIELDS = FACETS + ("type", "state") + PASSAGE_FIELDS


def mask_of(ids: Iterable[int], size: int) -> int:
    """A bitmask with the bits of ``ids`` set."""
    bits = bytearray((size + 8) // 8)
    for number in ids:
        bits[number >> 3] |= 1 << (number & 7)
    return int.from_bytes(bits, "little")


def bits_of(mask: int) -> list[int]:
    """The positions of the set bits of ``mask``, ascending."""
    out: list[int] = []
    data = mask.to_bytes((mask.bit_length() + 7) // 8, "little")
    for index, byte in enumerate(data):
        if byte:
            base = index << 3
            for bit in range(8):
                if byte >> bit & 1:
                    out.append(base + bit)
    return out


def refreshed(searcher: Searcher) -> Searcher:
    """``searcher`` if it still reads the newest commit, else a searcher of the newest commit that
    reuses the readers of unchanged segments.

    Whoosh's own ``Searcher.refresh()`` (2.7) reuses a segment's reader even when documents of the
    segment were deleted since: an updated document is then found twice, old and new. A reader is
    reused here only when its segment has the same deletions.
    """
    if searcher.up_to_date():
        return searcher
    index = searcher._ix
    try:
        toc = index._read_toc()
    except Exception:  # a commit removed files meanwhile; the plain open retries
        return index.searcher(weighting=searcher.weighting)
    previous = {reader.segment().segment_id(): reader for reader, _ in searcher.reader().leaf_readers()
                if reader.segment() is not None}
    readers = []
    for segment in toc.segments:
        reader = previous.pop(segment.segment_id(), None)
        if reader is not None and reader.segment().deleted_count() == segment.deleted_count():
            readers.append(reader)
            continue
        if reader is not None:
            reader.close()
        readers.append(SegmentReader(index.storage, toc.schema, segment, generation=toc.generation))
    for reader in previous.values():  # merged away
        reader.close()
    if not readers:
        reader = EmptyReader(toc.schema)
    elif len(readers) == 1:
        reader = readers[0]
    else:
        reader = MultiReader(readers, generation=toc.generation)
    return Searcher(reader, fromindex=index, weighting=searcher.weighting)


@dataclass
class SegmentData:
    """What searches need from one segment besides its postings."""

    size: int
    masks: dict[str, dict[str, int]]
    columns: dict[str, list[Any]]  # ints for latest, adopted and owner, bytes for sortkey
    orders: dict[str, list[int]] = field(default_factory=dict)
    owners: dict[int, list[int]] | None = None
    field_lengths: dict[str, list[int]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def build(cls, reader: IndexReader) -> SegmentData:
        size = reader.doc_count_all()
        masks: dict[str, dict[str, int]] = {}
        for name in MASK_FIELDS:
            values: dict[str, int] = {}
            for term in reader.lexicon(name):
                text = term.decode("utf-8") if isinstance(term, bytes) else term
                values[text] = mask_of(reader.postings(name, term).all_ids(), size)
            masks[name] = values
        columns = {name: list(reader.column_reader(name)) for name in ("latest", "adopted", "sortkey", "owner")}
        return cls(size, masks, columns)

    def policy_docnums(self) -> dict[int, list[int]]:
        """Policy id -> the docnums of the policy's documents in this segment (cached; records index). A
        segment may hold a deleted one beside the live one: callers mask with the live documents."""
        found = self.owners
        if found is None:
            owners = self.columns["owner"]
            found = {}
            for docnum in bits_of(self.masks["type"].get("policy", 0)):
                found.setdefault(owners[docnum], []).append(docnum)
            self.owners = found
        return found

    def lengths(self, reader: IndexReader, name: str) -> list[int]:
        """Each document's number of terms in field ``name`` (for BM25; cached)."""
        found = self.field_lengths.get(name)
        if found is None:
            # Whoosh keeps each length in one byte (approximate above a few dozen terms); 0 reads as None.
            found = [reader.doc_field_length(docnum, name) or 0 for docnum in range(self.size)]
            with self.lock:
                self.field_lengths[name] = found
        return found

    def total_length(self, reader: IndexReader, name: str) -> int:
        """The sum of the lengths of every document of the segment, deleted ones included (cached)."""
        key = "total:" + name
        found = self.orders.get(key)
        if found is None:
            found = [sum(self.lengths(reader, name))]
            with self.lock:
                self.orders[key] = found
        return found[0]

    def order(self, sort: str) -> list[int]:
        """Documents by ``sort`` column descending, ties by record key (cached)."""
        with self.lock:
            order = self.orders.get(sort)
            if order is None:
                values, keys = self.columns[sort], self.columns["sortkey"]
                order = sorted(range(self.size), key=lambda d: (-values[d], keys[d]))
                self.orders[sort] = order
            return order


@dataclass
class Leaf:
    """One segment as seen by one search: its searcher, document offset, data and live documents."""

    searcher: Searcher
    offset: int
    data: SegmentData
    live: int


def counted(leaf: Leaf) -> int:
    """The documents BM25's statistics count: live and published. Deleted documents stay in a segment
    until it is merged, and a draft's words must not shift the scores a public reader sees."""
    return leaf.live & leaf.data.masks["state"].get("published", 0)


def live_segment(leaf: Leaf) -> tuple[int, dict[str, int]]:
    """A segment's counted documents (see counted()) and each text field's total length over them.

    The totals are sums of the per-document lengths BM25 uses (Whoosh's stored totals are exact while
    the lengths are approximate, and two replicas must agree whatever their deletions)."""
    reader = leaf.searcher.reader()
    included = counted(leaf)
    left_out = bits_of(((1 << leaf.data.size) - 1) & ~included)
    totals = {}
    for name in TEXT_FIELDS:
        lengths = leaf.data.lengths(reader, name)
        totals[name] = leaf.data.total_length(reader, name) - sum(lengths[docnum] for docnum in left_out)
    return included.bit_count(), totals


class Replica:
    """The read side of one IndexStore for this process: searchers per thread, segment data shared."""

    def __init__(self, store: IndexStore) -> None:
        self.store = store
        self._local = threading.local()
        self._segments: dict[tuple[str, str], SegmentData] = {}
        self._live: dict[tuple[str, str, int], int] = {}
        self._lock = threading.Lock()
        self.terms = TermCache()

    def stats(self) -> Stats:
        """Collection statistics of this thread's current searcher (see searcher())."""
        stats: Stats = self._local.stats
        return stats

    def searcher(self) -> tuple[Searcher, list[Leaf]]:
        """This thread's searcher at the newest commit of the live generation, and its segments.

        Raises:
            IndexMissing, SchemaMismatch (SearchUnavailable): nothing trustworthy to search.
        """
        local = self._local
        name = self.store.live_name()
        current: Searcher | None = getattr(local, "searcher", None)
        if current is not None and getattr(local, "name", None) == name:
            fresh = refreshed(current)
        else:
            if current is not None:
                current.close()
                local.searcher = None
            if name is None:
                self.store.open_live()  # raises the right IndexMissing
            assert name is not None  # open_live() raised otherwise
            fresh = self.store.open(name).searcher()
        if fresh is not current:
            assert name is not None  # a searcher is only kept with the (named) generation it reads
            try:
                self.store.check_schema(read_state(fresh))
            except SchemaMismatch:
                fresh.close()
                local.searcher = None
                raise
            local.searcher, local.name = fresh, name
            local.leaves = self._leaves(name, fresh)
            local.stats = Stats(fresh, [live_segment(leaf) for leaf in local.leaves])
        return fresh, local.leaves

    def _leaves(self, name: str, searcher: Searcher) -> list[Leaf]:
        leaves: list[Leaf] = []
        seen: set[tuple[str, str]] = set()
        for sub, offset in searcher.leaf_searchers():
            reader = sub.reader()
            segment = reader.segment()
            key: tuple[str, str] = (name, segment.segment_id())
            seen.add(key)
            data = self._segments.get(key)
            if data is None:
                data = SegmentData.build(reader)
                with self._lock:
                    self._segments[key] = data
            deleted = segment.deleted_count() if reader.has_deletions() else 0
            live_key = (name, segment.segment_id(), deleted)
            live = self._live.get(live_key)
            if live is None:
                live = (1 << data.size) - 1
                if deleted:
                    live &= ~mask_of(segment.deleted_docs(), data.size)
                with self._lock:
                    self._live[live_key] = live
            leaves.append(Leaf(sub, offset, data, live))
        with self._lock:
            # Forget segments merged away (other threads may hold older ones a little longer).
            if len(self._segments) > 4 * max(1, len(seen)) + 16:
                for key in [k for k in self._segments if k not in seen]:
                    del self._segments[key]
                for old in [k for k in self._live if k[:2] not in seen]:
                    del self._live[old]
        return leaves

    def close(self) -> None:
        """Close this thread's searcher."""
        current = getattr(self._local, "searcher", None)
        if current is not None:
            current.close()
            self._local.searcher = None
