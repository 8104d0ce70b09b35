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

import heapq
from array import array
from collections.abc import Collection, Iterable, Iterator

from whoosh import query as wq
from whoosh.codec.whoosh3 import W3LeafMatcher

from tracker.search.caches import Stats, TermCache, TermData
from tracker.search.reader import MASK_FIELDS, Leaf, bits_of, mask_of
from tracker.search.schema import TEXT_FIELDS

K1 = 1.2
B = 0.75


class Segment:
    """Evaluates queries on one segment."""

    def __init__(self, leaf: Leaf, cache: TermCache, stats: Stats) -> None:
        self.leaf = leaf
        self.reader = leaf.searcher.reader()
        self.segment_id: str = self.reader.segment().segment_id()
        self.cache = cache
        self.stats = stats
        self.phrase_counts: dict[int, dict[int, int]] = {}
        self._masks: dict[int, int] = {}

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
            else:  # a short posting list stored inline with the term
                while matcher.is_active():
                    ids.append(matcher.id())
                    weights.append(matcher.weight())
                    matcher.next()
        mask = mask_of(ids, self.leaf.data.size)
        if field not in TEXT_FIELDS:
            return TermData(mask, ids, None)
        lengths = self.leaf.data.lengths(self.reader, field)
        average = self.stats.average[field]
        boost = TEXT_FIELDS[field]
        parts = array("d")
        for docnum, weight in zip(ids, weights):
            frequency = weight / boost
            norm = K1 * (1.0 - B + B * lengths[docnum] / average)
            parts.append(boost * frequency * (K1 + 1.0) / (frequency + norm))
        return TermData(mask, ids, parts)

    def positions(self, field: str, text: str) -> dict[int, frozenset[int]]:
        """Positions of the term per document, decoded once and kept with its term data (phrases)."""
        data = self.term(field, text)
        if data.values is None:
            decode = self.leaf.searcher.schema[field].format.decode_positions
            values: dict[int, frozenset[int]] = {}
            btext = text.encode("utf-8")
            if (field, btext) in self.reader:
                matcher = self.reader.postings(field, btext)
                while matcher.is_active():
                    if isinstance(matcher, W3LeafMatcher):
                        matcher._read_ids()
                        matcher._read_values()
                        for docnum, value in zip(matcher._ids, matcher._values):
                            values[docnum] = frozenset(decode(value))
                        matcher._next_block()
                    else:
                        values[matcher.id()] = frozenset(decode(matcher.value()))
                        matcher.next()
            data.values = values
            self.cache.grow((self.segment_id, field, text), data)
        return data.values

    # -- matching ---------------------------------------------------------------------------------

    def mask(self, query: wq.Query) -> int:
        """The documents of the segment (deleted ones included) that ``query`` matches."""
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
        if isinstance(query, wq.And):
            result = live
            for child in query.subqueries:
                result &= self.mask(child)
                if not result:
                    break
            return result
        if isinstance(query, wq.Or):
            result = 0
            for child in query.subqueries:
                result |= self.mask(child)
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

    def expansions(self, query: wq.MultiTerm) -> list[str]:
        return [b.decode("utf-8") if isinstance(b, bytes) else b for b in query._btexts(self.reader)]

    def _phrase(self, query: wq.Phrase) -> int:
        field, words = query.fieldname, list(query.words)
        if not words:
            return 0
        candidates = self.leaf.live
        for word in words:
            candidates &= self.term(field, word).mask
            if not candidates:
                return 0
        if len(words) == 1:
            return candidates
        positions_of = [self.positions(field, word) for word in words]
        counts: dict[int, int] = {}
        slop = max(1, query.slop)
        steps = range(1, slop + 1)
        rest = positions_of[1:]
        for docnum in bits_of(candidates):
            ends: Collection[int] = positions_of[0][docnum]
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
                counts[docnum] = len(ends)
        self.phrase_counts[id(query)] = counts
        return mask_of(counts, self.leaf.data.size)

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
                if data.parts is None or not data.mask & chosen:
                    continue
                factor = weight * self.stats.idf(atom.fieldname, text)
                get = scores.get
                if data.mask & ~chosen:
                    for docnum, part in zip(data.ids, data.parts):
                        if chosen_bytes[docnum >> 3] >> (docnum & 7) & 1:
                            scores[docnum] = get(docnum, 0.0) + factor * part
                else:
                    for docnum, part in zip(data.ids, data.parts):
                        scores[docnum] = get(docnum, 0.0) + factor * part
        return scores

    def _add_phrase(self, scores: dict[int, float], atom: wq.Phrase, weight: float, chosen: int) -> None:
        if id(atom) not in self.phrase_counts:
            self.mask(atom)
        counts = self.phrase_counts.get(id(atom), {})
        field = atom.fieldname
        boost = TEXT_FIELDS.get(field, 1.0)
        idf = sum(self.stats.idf(field, word) for word in atom.words)
        lengths = self.leaf.data.lengths(self.reader, field)
        average = self.stats.average.get(field, 1.0)
        chosen_bytes = chosen.to_bytes((self.leaf.data.size + 8) // 8, "little")
        for docnum, frequency in counts.items():
            if chosen_bytes[docnum >> 3] >> (docnum & 7) & 1:
                norm = K1 * (1.0 - B + B * lengths[docnum] / average)
                part = boost * frequency * (K1 + 1.0) / (frequency + norm)
                scores[docnum] = scores.get(docnum, 0.0) + weight * idf * part

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


def top(scored: Iterable[tuple[float, int]], limit: int) -> list[tuple[float, int]]:
    """The best ``limit`` (score, global docnum) pairs, best first; ties by document number."""
    return heapq.nsmallest(limit, scored, key=lambda item: (-item[0], item[1]))


def best_of(scores: dict[int, float], limit: int, offset: int) -> list[tuple[float, int]]:
    """The best ``limit`` documents of one segment as (score, global docnum)."""
    chosen: Iterable[tuple[int, float]]
    if len(scores) > limit * 4:
        chosen = heapq.nlargest(limit, scores.items(), key=lambda item: (item[1], -item[0]))
    else:
        chosen = scores.items()
    return [(score, docnum + offset) for docnum, score in chosen]
