"""Queries: the researchers' query language, matching with filters and facets, sorting, suggestions."""
from __future__ import annotations

import functools
import heapq
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice

from flask_babel import gettext as _
from whoosh import query as wq
from whoosh.qparser import AndGroup, FieldAliasPlugin, MultifieldParser
from whoosh.qparser.common import QueryParserError
from whoosh.searching import Searcher

from tracker.search.analysis import words
from tracker.search.caches import Stats, TermCache
from tracker.search.engine import Segment, best_of, top
from tracker.search.reader import Leaf, bits_of
from tracker.search.schema import FACETS, TEXT_FIELDS, make_schema

# Names a researcher may use before a colon, and the index field each one searches.
QUERY_FIELDS = {"title": "title", "summary": "body", "reference": "reference", "ref": "reference",
                **{name: name for name in FACETS}, "type": "type"}
_SEARCHABLE = frozenset(QUERY_FIELDS.values()) | frozenset(TEXT_FIELDS)
# A prefix query expanding to more words than this is refused: it would scan most of the index.
MAX_EXPANSIONS = 256
MIN_PREFIX = 2


class QueryError(ValueError):
    """A query that cannot be run; the message says what to change."""


@functools.cache
def _parser() -> MultifieldParser:
    parser = MultifieldParser(list(TEXT_FIELDS), make_schema(), group=AndGroup)
    parser.add_plugin(FieldAliasPlugin({"body": ["summary"], "reference": ["ref"]}))
    return parser


def parse(text: str) -> wq.Query:
    """Parse the query language: words (all required), "phrases", AND/OR/NOT, parentheses,
    ``field:value`` and ``prefix*``.

    Raises:
        QueryError: no searchable word, or a pattern too broad to run.
    """
    try:
        parsed = _parser().parse(text)
    except (QueryParserError, ValueError, RecursionError) as error:
        raise QueryError(_("The query could not be read (%(error)s). Check quotes and parentheses.",
                           error=error)) from error
    if parsed is wq.NullQuery or isinstance(parsed, type(wq.NullQuery)):
        raise QueryError(_("The query has no words to search for: very short and very common words "
                           "(such as 'the' or 'of') and punctuation are ignored."))
    for leaf in _leaves(parsed):
        name = getattr(leaf, "fieldname", None)
        if name is not None and name not in _SEARCHABLE:
            raise QueryError(_("'%(name)s:' cannot be searched. Fields: %(fields)s.", name=name,
                               fields=", ".join(QUERY_FIELDS)))
        if isinstance(leaf, (wq.Prefix, wq.Wildcard)):
            stem = re.split(r"[*?]", leaf.text, maxsplit=1)[0]
            if len(stem) < MIN_PREFIX:
                raise QueryError(_("Put at least %(num)s letters before * (in '%(text)s').", num=MIN_PREFIX,
                                   text=leaf.text))
    return parsed


def _leaves(query: wq.Query, *, skip_negated: bool = False) -> Iterator[wq.Query]:
    if skip_negated and isinstance(query, wq.Not):
        return
    if query.is_leaf():
        yield query
        return
    children = list(query.children())
    if skip_negated and isinstance(query, wq.AndNot):
        children = children[:1]
    for child in children:
        yield from _leaves(child, skip_negated=skip_negated)


def positive_leaves(query: wq.Query) -> list[wq.Query]:
    """The leaf queries a document matches by containing them (not those under NOT)."""
    return list(_leaves(query, skip_negated=True))


def has_text(query: wq.Query) -> bool:
    """Whether the query searches words (not only ``field:value`` filters), so relevance means something."""
    return any(getattr(leaf, "fieldname", None) in TEXT_FIELDS for leaf in positive_leaves(query))


def check_expansions(query: wq.Query, searcher: Searcher) -> None:
    """Refuse prefix and wildcard queries that would expand to too many words.

    Raises:
        QueryError.
    """
    reader = searcher.reader()
    for leaf in _leaves(query):
        if isinstance(leaf, (wq.Prefix, wq.Wildcard)):
            expansions = islice(leaf._btexts(reader), MAX_EXPANSIONS + 1)
            if sum(1 for _ in expansions) > MAX_EXPANSIONS:
                raise QueryError(_("Too many words match '%(text)s'; add letters before the *.",
                                   text=leaf.text))


# ---------------------------------------------------------------------------------------------------
# Matching


@dataclass
class Matched:
    """The outcome of running a query over every segment."""

    total: int = 0
    facets: dict[str, dict[str, int]] = field(default_factory=dict)
    top: list[tuple[float, int]] = field(default_factory=list)  # (score, global docnum), best first


# ((negated sort value, record key), global docnum): sorted ascending, best first.
SortedDoc = tuple[tuple[int, bytes], int]


def allowed_mask(leaf: Leaf, filters: dict[str, tuple[str, ...]]) -> int:
    """Documents of the segment that pass every filter (values OR-ed within a filter)."""
    mask = leaf.live
    for name, values in filters.items():
        if not values:
            continue
        known = leaf.data.masks[name]
        either = 0
        for value in values:
            either |= known.get(value, 0)
        mask &= either
        if not mask:
            break
    return mask


def run(searcher: Searcher, leaves: list[Leaf], query: wq.Query | None, filters: dict[str, tuple[str, ...]],
        sort: str, limit: int, terms: TermCache, stats: Stats) -> Matched:
    """Find the documents that match ``query`` (every document when None) and pass ``filters``,
    count them per facet value, and keep the best ``limit`` by relevance or by a sort column."""
    matched = Matched(facets={name: {} for name in FACETS})
    scored = query is not None and sort == "relevance"
    ranked: list[tuple[float, int]] = []
    sorted_candidates: list[Iterator[SortedDoc]] = []
    for leaf in leaves:
        allowed = allowed_mask(leaf, filters)
        if not allowed:
            continue
        segment = Segment(leaf, terms, stats) if query is not None else None
        chosen = allowed if segment is None else segment.mask(query) & allowed
        if not chosen:
            continue
        count = chosen.bit_count()
        matched.total += count
        for name in FACETS:
            counts = matched.facets[name]
            for value, mask in leaf.data.masks[name].items():
                found = (chosen & mask).bit_count()
                if found:
                    counts[value] = counts.get(value, 0) + found
        if scored:
            assert segment is not None  # scored: there is a query, so a segment to evaluate it on
            scores = segment.scores(query, chosen)
            offset = leaf.offset
            if len(scores) < count:  # matched by a filter term alone: ranked after every scored one
                for docnum in bits_of(chosen):
                    scores.setdefault(docnum, 0.0)
            ranked += best_of(scores, limit, offset)
        else:
            sorted_candidates.append(_sorted_docs(leaf, chosen, sort))
    if scored:
        matched.top = top(ranked, limit)
    else:
        best = islice(heapq.merge(*sorted_candidates), limit)
        matched.top = [(0.0, docnum) for _, docnum in best]
    return matched


def _sorted_docs(leaf: Leaf, chosen: int, sort: str) -> Iterator[SortedDoc]:
    """(sort key, global docnum) of the chosen documents of a segment, best first."""
    column = "latest" if sort not in ("latest", "adopted") else sort
    values, keys = leaf.data.columns[column], leaf.data.columns["sortkey"]
    count = chosen.bit_count()
    docs: Iterable[int]
    if count * 8 < leaf.data.size:
        docs = sorted(bits_of(chosen), key=lambda d: (-values[d], keys[d]))
    else:
        data = chosen.to_bytes((leaf.data.size + 8) // 8, "little")
        docs = (d for d in leaf.data.order(column) if data[d >> 3] >> (d & 7) & 1)
    for docnum in docs:
        yield (-values[docnum], keys[docnum]), docnum + leaf.offset


# ---------------------------------------------------------------------------------------------------
# "Did you mean"

_FIELD_VALUE = re.compile(r"\w+:(?:\"[^\"]*\"|\S+)")


def suggest(text: str, searcher: Searcher) -> str | None:
    """The query with unknown words replaced by the closest frequent words of the index, or None."""
    reader = searcher.reader()
    masked = _FIELD_VALUE.sub(lambda m: " " * len(m.group()), text)
    replacements: list[tuple[int, int, str]] = []
    for word, start, end in words(masked, stemmed=False):
        if len(word) < 3 or word.isdigit() or word.endswith("*") or reader.doc_frequency("spell", word):
            continue
        distance = 1 if len(word) <= 4 else 2
        candidates = [(reader.doc_frequency("spell", c), c) for c in
                      _decoded(reader.terms_within("spell", word, distance, prefix=1))]
        if candidates:
            _score, best = max(candidates)
            original = text[start:end]
            replacements.append((start, end, best.upper() if original.isupper() else best))
    if not replacements:
        return None
    out = text
    for start, end, replacement in sorted(replacements, reverse=True):
        out = out[:start] + replacement + out[end:]
    return out


def _decoded(terms: Iterable[bytes | str]) -> Iterator[str]:
    for term in terms:
        yield term.decode("utf-8") if isinstance(term, bytes) else term
