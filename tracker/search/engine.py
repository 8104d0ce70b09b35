"""Evaluating queries over the index's postings with bitmasks and cached term data.

Whoosh's matchers walk and score every posting through several Python calls each, which put a
common word at about 100 ms and a phrase of two common words at several hundred on 10,000
documents. Here a query is evaluated per segment as set algebra on Python integers used as
bitmasks (one C-level operation per AND/OR/NOT, whatever the number of documents), and BM25 is
summed only over the documents that matched, from term data read once and kept in a bounded cache:
each term's documents, their precomputed BM25 parts, and (for phrases) their positions.
Whoosh still stores the postings, analyses the text and parses the query.
"""
from __future__ import annotations

import collections.abc as abc
import heapq
from array import array
from collections.abc import Iterable, Iterator

from whoosh import query as wq
from whoosh.codec.whoosh3 import W3LeafMatcher

from tracker.search.caches import Stats, TermCache, TermData
from tracker.search.expansion import Concepts, Near
from tracker.search.reader import MASK_FIELDS, Leaf, bits_of, counted, mask_of
from tracker.search.schema import TEXT_FIELDS

K1 = 1.2
B = 0.75


class PhraseCounts:
    """A phrase's occurrences per document, for the documents checked so far (``covered``)."""

    __slots__ = ("counts", "matched", "covered")

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.matched = 0
        self.covered = 0


def _positional(query: wq.Query) -> bool:
    """A phrase of several words, or a group made only of such phrases."""
    if isinstance(query, wq.Phrase):
        return len(query.words) > 1
    if type(query) is wq.Or:
        return bool(query.subqueries) and all(_positional(child) for child in query.subqueries)
    return False


class Collection:
    """Every segment of one searcher, evaluated together: statistics are those of all live documents."""

    def __init__(self, leaves: list[Leaf], cache: TermCache, stats: Stats) -> None:
        self.stats = stats
        self.segments = [Segment(leaf, cache, self) for leaf in leaves]

    def idf(self, field: str, text: str) -> float:
        """The inverse document frequency of a term over the counted documents of every segment (live
        and published: see tracker.search.reader.counted)."""
        key = (field, text)
        value = self.stats.idfs.get(key)
        if value is None:
            frequency = sum((segment.term(field, text).mask & segment.counted).bit_count()
                            for segment in self.segments)
            value = self.stats.idfs[key] = self.stats.idf(frequency)
        return value


class Segment:
    """Evaluates queries on one segment."""

    def __init__(self, leaf: Leaf, cache: TermCache, collection: Collection) -> None:
        self.leaf = leaf
        self.reader = leaf.searcher.reader()
        self.segment_id: str = self.reader.segment().segment_id()
        self.cache = cache
        self.collection = collection
        self.stats = collection.stats
        self.counted = counted(leaf)
        self.phrase_counts: dict[int, PhraseCounts] = {}
        self._masks: dict[int, int] = {}
        self._levels: dict[int, list[int]] = {}

    # -- term data --------------------------------------------------------------------------------

    def term(self, field: str, text: str) -> TermData:
        key = (self.segment_id, field, text)
        data = self.cache.get(key)
        if data is None:
            data = self.cache.put(key, self._read(field, text))
        return data

    def _read(self, field: str, text: str) -> TermData:
        ids = array("i")
        weights = array("f")
        btext = text.encode("utf-8")
        if (field, btext) in self.reader:
            matcher = self.reader.postings(field, btext)
            if isinstance(matcher, W3LeafMatcher):
                while matcher.is_active():
                    matcher._read_ids()
                    matcher._read_weights()
                    ids.extend(matcher._ids)
                    weights.extend(matcher._weights)
                    matcher._next_block()
            else:  # a posting list read through Whoosh's own matcher (e.g. a segment with deletions)
                while matcher.is_active():
                    ids.append(matcher.id())
                    weights.append(matcher.weight())
                    matcher.next()
        mask = mask_of(ids, self.leaf.data.size)
        if field not in TEXT_FIELDS:
            return TermData(mask, ids, None)
        boost = TEXT_FIELDS[field]
        return TermData(mask, ids, array("f", (weight / boost for weight in weights)))

    def parts(self, field: str, data: TermData) -> array[float]:
        """The BM25 parts (without idf) of a term's documents under this searcher's statistics.

        They depend on the average field length of the live documents, which changes with every
        commit: they are kept with the average they were computed for and recomputed when it differs,
        so a score never depends on when this process first read the term."""
        average = self.stats.average[field]
        cached = data.parts
        if cached is not None and cached[0] == average:
            return cached[1]
        assert data.frequencies is not None  # a text field's term (the caller checked)
        lengths = self.leaf.data.lengths(self.reader, field)
        boost = TEXT_FIELDS[field]
        parts = array("d")
        append = parts.append
        for docnum, frequency in zip(data.ids, data.frequencies):
            norm = K1 * (1.0 - B + B * lengths[docnum] / average)
            append(boost * frequency * (K1 + 1.0) / (frequency + norm))
        data.parts = (average, parts)
        return parts

    def positions(self, field: str, text: str, wanted: int) -> dict[int, frozenset[int]]:
        """Positions of the term in (at least) the ``wanted`` documents, for phrases.

        Decoding positions is the costly part of a phrase. When most of the term's documents are
        wanted, the whole list is decoded once and kept with its term data; when a few are (a phrase
        checked only where its neighbours did not match, or on the page's candidates), only the
        blocks of the posting list that hold them are read, and what was decoded is kept too."""
        data = self.term(field, text)
        if data.values is not None and not wanted & ~data.covered:
            return data.values
        # One decoder per term at a time: two threads merging into one dict must not mark as decoded
        # what only the other decoded.
        with self.cache.positions_lock:
            todo = wanted & ~data.covered if data.values is not None else wanted
            if not todo:
                return data.values if data.values is not None else {}
            whole = (todo & data.mask).bit_count() * 4 >= data.size
            decode = self.leaf.searcher.schema[field].format.decode_positions
            values: dict[int, frozenset[int]] = data.values if data.values is not None else {}
            todo_bytes = todo.to_bytes((self.leaf.data.size + 8) // 8, "little")
            added = 0
            btext = text.encode("utf-8")
            if (field, btext) in self.reader:
                matcher = self.reader.postings(field, btext)
                while matcher.is_active():
                    if isinstance(matcher, W3LeafMatcher):
                        matcher._read_ids()
                        ids = matcher._ids
                        if whole or any(todo_bytes[d >> 3] >> (d & 7) & 1 for d in ids):
                            matcher._read_values()
                            for docnum, value in zip(ids, matcher._values):
                                if (whole or todo_bytes[docnum >> 3] >> (docnum & 7) & 1) and docnum not in values:
                                    values[docnum] = frozenset(decode(value))
                                    added += 1
                        matcher._next_block()
                    else:
                        docnum = matcher.id()
                        if (whole or todo_bytes[docnum >> 3] >> (docnum & 7) & 1) and docnum not in values:
                            values[docnum] = frozenset(decode(matcher.value()))
                            added += 1
                        matcher.next()
            # The values first, then what they cover: a reader that sees the coverage finds the values.
            data.values = values
            data.covered = -1 if whole else data.covered | todo
            self.cache.grow((self.segment_id, field, text), data, added)
            return values

    # -- matching ---------------------------------------------------------------------------------

    def mask(self, query: wq.Query) -> int:
        """The documents of the segment that ``query`` matches (a caller masks with the live ones: a
        deleted document may still be in a term's postings)."""
        key = id(query)
        found = self._masks.get(key)
        if found is None:
            found = self._masks[key] = self._mask(query)
        return found

    def _mask(self, query: wq.Query) -> int:
        live = self.leaf.live
        if isinstance(query, wq.Term):
            if query.fieldname in MASK_FIELDS:
                return self.leaf.data.masks[query.fieldname].get(query.text, 0)
            return self.term(query.fieldname, query.text).mask
        if isinstance(query, wq.Phrase):
            return self._phrase(query)
        if isinstance(query, wq.AndNot):
            return self.mask(query.a) & ~self.mask(query.b)
        if isinstance(query, wq.AndMaybe):
            return self.mask(query.a)
        if isinstance(query, Concepts):
            levels = self.levels(query)
            return levels[max(1, min(query.minmatch, len(levels) - 1))] if len(levels) > 1 else 0
        if isinstance(query, wq.And):
            result = live
            for child in query.subqueries:
                result &= self.mask(child)
                if not result:
                    break
            return result
        if isinstance(query, wq.Or):
            # Words first; a phrase of the group (a neighbour of several words, a Lao word's syllables)
            # is then only checked, and scored, where none of the group's words matched: its positions
            # are the costly part. Whatever the order the group was written in.
            words = 0
            positional = []
            for child in query.subqueries:
                if _positional(child):
                    positional.append(child)
                else:
                    words |= self.mask(child)
            result = words
            for child in positional:
                result |= self._positional_mask(child, words)
            return result
        if isinstance(query, wq.Not):
            return live & ~self.mask(query.query)
        if isinstance(query, wq.Every):
            return live
        if query is wq.NullQuery or isinstance(query, type(wq.NullQuery)):
            return 0
        if isinstance(query, wq.MultiTerm):
            result = 0
            for text in self.expansions(query):
                result |= self.term(query.fieldname, text).mask
            return result
        # Anything else the parser may produce: let Whoosh match it.
        return mask_of(query.matcher(self.leaf.searcher, self.leaf.searcher.boolean_context()).all_ids(),
                       self.leaf.data.size)

    def levels(self, query: Concepts) -> list[int]:
        """``levels[k]``: the documents matching at least k of the concepts (``levels[0]``: every live one)."""
        key = id(query)
        found = self._levels.get(key)
        if found is None:
            children = list(query.subqueries)
            found = [self.leaf.live] + [0] * len(children)
            for done, child in enumerate(children, 1):
                matched = self.mask(child)
                if not matched:
                    continue
                for level in range(done, 0, -1):
                    found[level] |= found[level - 1] & matched
            self._levels[key] = found
        return found

    def expansions(self, query: wq.MultiTerm) -> list[str]:
        return [b.decode("utf-8") if isinstance(b, bytes) else b for b in query._btexts(self.reader)]

    def _positional_mask(self, query: wq.Query, exclude: int) -> int:
        """The documents a phrase, or a group of phrases, matches outside ``exclude``."""
        if isinstance(query, wq.Phrase):
            return self._phrase(query, exclude=exclude)
        result = 0
        for child in query.subqueries:
            result |= self._positional_mask(child, exclude)
        return result

    def _phrase(self, query: wq.Phrase, *, exclude: int = 0, within: int = -1) -> int:
        """The documents of ``within`` outside ``exclude`` where the phrase occurs; its count in each
        document checked is kept for scoring (see PhraseCounts)."""
        field, words = query.fieldname, list(query.words)
        if not words:
            return 0
        candidates = self.leaf.live & ~exclude & within
        for word in words:
            candidates &= self.term(field, word).mask
            if not candidates:
                return 0
        if len(words) == 1:
            return candidates
        known = self.phrase_counts.get(id(query))
        if known is None:
            known = self.phrase_counts[id(query)] = PhraseCounts()
        todo = candidates & ~known.covered
        if todo:
            positions_of = [self.positions(field, word, todo) for word in words]
            slop = max(1, query.slop)
            steps = range(1, slop + 1)
            rest = positions_of[1:]
            found: dict[int, int] = {}
            for docnum in bits_of(todo):
                ends: abc.Collection[int] = positions_of[0][docnum]
                for following in rest:
                    positions = following[docnum]
                    # Each next word within `slop` positions after the previous one (1: adjacent).
                    if slop == 1:
                        ends = [p + 1 for p in ends if p + 1 in positions]
                    else:
                        ends = {p + step for p in ends for step in steps if p + step in positions}
                    if not ends:
                        break
                if ends:
                    found[docnum] = len(ends)
            known.counts.update(found)
            known.matched |= mask_of(found, self.leaf.data.size)
            known.covered |= todo
        return known.matched & candidates

    # -- scoring ----------------------------------------------------------------------------------

    def scores(self, query: wq.Query, chosen: int) -> dict[int, float]:
        """BM25 of each chosen document over the query's positive words and phrases."""
        scores: dict[int, float] = {}
        chosen_bytes = chosen.to_bytes((self.leaf.data.size + 8) // 8, "little")
        for atom, weight in self._atoms(query, 1.0):
            if isinstance(atom, wq.Phrase) and len(atom.words) > 1:
                self._add_phrase(scores, atom, weight, chosen)
                continue
            if isinstance(atom, wq.Term):
                texts: Iterable[str] = [atom.text]
            else:
                texts = self.expansions(atom)
            for text in texts:
                data = self.term(atom.fieldname, text)
                if data.frequencies is None or not data.mask & chosen:
                    continue
                parts = self.parts(atom.fieldname, data)
                factor = weight * self.collection.idf(atom.fieldname, text)
                get = scores.get
                if data.mask & ~chosen:
                    for docnum, part in zip(data.ids, parts):
                        if chosen_bytes[docnum >> 3] >> (docnum & 7) & 1:
                            scores[docnum] = get(docnum, 0.0) + factor * part
                else:
                    for docnum, part in zip(data.ids, parts):
                        scores[docnum] = get(docnum, 0.0) + factor * part
        return scores

    def _add_phrase(self, scores: dict[int, float], atom: wq.Phrase, weight: float, chosen: int) -> None:
        """Add the phrase's part to the documents of ``chosen`` where its count is known (see complete())."""
        known = self.phrase_counts.get(id(atom))
        if known is None:
            return
        field = atom.fieldname
        boost = TEXT_FIELDS.get(field, 1.0)
        idf = sum(self.collection.idf(field, word) for word in atom.words)
        lengths = self.leaf.data.lengths(self.reader, field)
        average = self.stats.average.get(field, 1.0)
        chosen_bytes = chosen.to_bytes((self.leaf.data.size + 8) // 8, "little")
        for docnum, frequency in known.counts.items():
            if chosen_bytes[docnum >> 3] >> (docnum & 7) & 1:
                norm = K1 * (1.0 - B + B * lengths[docnum] / average)
                part = boost * frequency * (K1 + 1.0) / (frequency + norm)
                scores[docnum] = scores.get(docnum, 0.0) + weight * idf * part

    def complete(self, query: wq.Query, window: int) -> dict[int, float]:
        """The proximity parts of the scores of the ``window`` documents (the best candidates of the
        whole index by everything else; see tracker.search.query.run)."""
        extra: dict[int, float] = {}
        for atom, weight in self._atoms(query, 1.0):
            if not isinstance(atom, Near):
                continue
            known = self.phrase_counts.get(id(atom))
            before = known.covered if known is not None else 0
            self._phrase(atom, within=window)
            known = self.phrase_counts.get(id(atom))
            if known is None:
                continue
            fresh = known.covered & ~before & window
            if fresh:
                self._add_phrase(extra, atom, weight, fresh)
        return extra

    def _atoms(self, query: wq.Query, boost: float) -> Iterator[tuple[wq.Query, float]]:
        """(leaf query, weight) for every word and phrase a matching document is scored on."""
        boost *= getattr(query, "boost", 1.0)
        if isinstance(query, wq.Not):
            return
        if isinstance(query, (wq.AndNot,)):
            yield from self._atoms(query.a, boost)
            return
        if isinstance(query, wq.AndMaybe):
            yield from self._atoms(query.a, boost)
            yield from self._atoms(query.b, boost)
            return
        if isinstance(query, (wq.And, wq.Or)):
            for child in query.subqueries:
                yield from self._atoms(child, boost)
            return
        if isinstance(query, (wq.Term, wq.Phrase)) and query.fieldname in TEXT_FIELDS:
            yield query, boost
        elif isinstance(query, wq.MultiTerm) and query.fieldname in TEXT_FIELDS:
            yield query, boost


# A ranked document: (tier, score, record key, global docnum). The tier is how many of the query's
# concepts the document matches (0 when the query has none); ties of tier and score go by record key,
# so that the order is the same on every replica, whatever its document numbers.
Ranked = tuple[int, float, bytes, int]


def _rank_order(item: Ranked) -> tuple[int, float, bytes]:
    return -item[0], -item[1], item[2]


def top(ranked: Iterable[Ranked], limit: int) -> list[Ranked]:
    """The best ``limit`` ranked documents, best first."""
    return heapq.nsmallest(limit, ranked, key=_rank_order)


def best_of(scores: dict[int, float], tiers: list[int], keys: list[bytes], limit: int, offset: int) -> list[Ranked]:
    """The best ``limit`` documents of one segment.

    ``tiers[k]`` holds the scored documents that match exactly k concepts (one tier of all of them
    when the query has no concepts); a higher tier always ranks first, so lower tiers are only read
    while the page is not full.
    """
    found: list[Ranked] = []
    for tier in range(len(tiers) - 1, -1, -1):
        if len(found) >= limit or not tiers[tier]:
            continue
        if tiers[tier].bit_count() == len(scores):
            candidates = scores
        else:
            candidates = {docnum: scores.get(docnum, 0.0) for docnum in bits_of(tiers[tier])}
        wanted = limit - len(found)
        chosen: Iterable[tuple[int, float]] = candidates.items()
        if len(candidates) > wanted * 4:
            # Everything scoring at least the wanted-th best: ties at the boundary are kept, for the
            # record key to decide between them.
            threshold = heapq.nlargest(wanted, candidates.values())[-1]
            chosen = [(docnum, score) for docnum, score in candidates.items() if score >= threshold]
        found.extend(top(((tier, score, keys[docnum], docnum + offset) for docnum, score in chosen), wanted))
    return found
