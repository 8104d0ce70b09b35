"""Queries: the researchers' query language, matching with filters and facets, sorting, suggestions."""
from __future__ import annotations

import functools
import heapq
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from whoosh import query as wq
from whoosh.qparser import FieldAliasPlugin, MultifieldParser, PlusMinusPlugin, syntax
from whoosh.qparser.common import QueryParserError
from whoosh.searching import Searcher

from tracker.search.caches import Stats, TermCache
from tracker.search.engine import Collection, Ranked, Segment, best_of, top
from tracker.search.expansion import QUOTED, Concepts, Should, copy_extent, primary_concepts, rewrite
from tracker.search.reader import Leaf, bits_of, mask_of
from tracker.search.schema import FACETS, TEXT_FIELDS, make_schema
from tracker.translation import gettext as _

# Names a researcher may use before a colon, and the index field each one searches.
QUERY_FIELDS = {"title": "title", "summary": "body", "reference": "reference", "ref": "reference",
                **{name: name for name in FACETS}, "type": "type"}
_SEARCHABLE = frozenset(QUERY_FIELDS.values()) | frozenset(TEXT_FIELDS)
# Index fields that exist for the index's own use; the parser would try to search them.
_INTERNAL_FIELDS = frozenset(make_schema().names()) - _SEARCHABLE
_FIELD_NAME = re.compile(r"(?<![\w\\])(\w+):")
# A prefix query expanding to more words than this is refused: it would scan most of the index.
MAX_EXPANSIONS = 256
MIN_PREFIX = 2


class QueryError(ValueError):
    """A query that cannot be run; the message says what to change."""


class _PlusMinus(PlusMinusPlugin):  # type: ignore[misc]
    """``+word`` (required) and ``-word`` (excluded) before a word, the rest loose; a hyphen inside a
    word ("e-motorcycle", "plug-in") is part of the word."""

    def __init__(self) -> None:
        super().__init__(plusexpr=r"(?<![^\s(])\+(?=[^\s+])", minusexpr=r"(?<![^\s(])-(?=[^\s-])")

    def do_plusminus(self, parser: Any, group: Any) -> Any:
        """Sort the words of a flat group into required (+), excluded (-) and loose (the rest)."""
        required, loose, banned = syntax.AndGroup(), ShouldGroup(), syntax.OrGroup()
        if isinstance(group, syntax.AndGroup):
            loose = syntax.AndGroup()
        target = loose
        for node in group:
            if type(node) is ShouldGroup:  # parentheses (each word's group of fields is a plain OrGroup)
                node = self.do_plusminus(parser, node)
            if isinstance(node, self.Plus):
                target = required
            elif isinstance(node, self.Minus):
                target = banned
            else:
                target.append(node)
                target = loose
        result = loose
        if required:
            result = syntax.AndMaybeGroup([required, result])
        if banned:
            result = syntax.AndNotGroup([result, banned])
        return result


class ShouldGroup(syntax.OrGroup):  # type: ignore[misc]
    """The group of words typed side by side without an operator."""

    qclass = Should


@functools.cache
def _parser() -> MultifieldParser:
    parser = MultifieldParser(list(TEXT_FIELDS), make_schema(), group=ShouldGroup)
    parser.add_plugin(FieldAliasPlugin({"body": ["summary"], "reference": ["ref"]}))
    parser.add_plugin(_PlusMinus())
    return parser


class EmptyQuery(QueryError):
    """A query with nothing to search for (punctuation, or only very common words): no results, not an error."""


def parse(text: str) -> wq.Query:
    """Parse the query language: bare words (most of them required, see tracker.search.expansion),
    "phrases", AND/OR/NOT, +word, -word, parentheses, ``field:value`` and ``prefix*``.

    Raises:
        EmptyQuery: no searchable word.
        QueryError: a field that cannot be searched, a pattern too broad to run, unbalanced syntax.
    """
    for match in _FIELD_NAME.finditer(QUOTED.sub("", text)):
        name = match.group(1)
        if name in _INTERNAL_FIELDS:
            raise QueryError(_("'%(name)s:' cannot be searched. Fields: %(fields)s.", name=name,
                               fields=", ".join(QUERY_FIELDS)))
    try:
        raw = _parser().parse(text, normalize=False)
    except (QueryParserError, ValueError, RecursionError) as error:
        raise QueryError(_("The query could not be read (%(error)s). Check quotes and parentheses.",
                           error=error)) from error
    except Exception as error:  # Whoosh's parser fails on some odd syntax (NOT NOT x) with other errors
        raise QueryError(_("The query could not be read. Check its operators, quotes and parentheses.")) from error
    for leaf in _leaves(raw):
        name = getattr(leaf, "fieldname", None)
        if name is not None and name not in _SEARCHABLE:
            raise QueryError(_("'%(name)s:' cannot be searched. Fields: %(fields)s.", name=name,
                               fields=", ".join(QUERY_FIELDS)))
    parsed = rewrite(_pruned(raw), text)
    if _is_null(parsed) or not positive_leaves(parsed):
        raise EmptyQuery(_("The query has no words to search for: very short and very common words "
                           "(such as 'the' or 'of') and punctuation are ignored."))
    for leaf in _leaves(parsed):
        if isinstance(leaf, (wq.Prefix, wq.Wildcard)):
            stem = re.split(r"[*?]", leaf.text, maxsplit=1)[0]
            if len(stem) < MIN_PREFIX:
                raise QueryError(_("Put at least %(num)s letters before * (in '%(text)s').", num=MIN_PREFIX,
                                   text=leaf.text))
    return parsed


def _is_null(query: wq.Query) -> bool:
    return query is wq.NullQuery or isinstance(query, type(wq.NullQuery))


def _pruned(query: wq.Query) -> wq.Query:
    """``query`` without the parts that search nothing (a stop word, a word of punctuation): left in,
    a required empty part would match no document."""
    if query.is_leaf():
        if isinstance(query, wq.Phrase) and not query.words:
            return wq.NullQuery
        if isinstance(query, wq.Phrase) and len(query.words) == 1:
            return wq.Term(query.fieldname, query.words[0], boost=query.boost)
        return query
    if isinstance(query, (wq.AndNot, wq.AndMaybe)):
        a, b = _pruned(query.a), _pruned(query.b)
        if _is_null(a):
            # "+the bus": the required word is a stop word, so nothing is required but the rest.
            return b if isinstance(query, wq.AndMaybe) else wq.NullQuery
        return a if _is_null(b) else type(query)(a, b)
    if isinstance(query, wq.Not):
        inner = _pruned(query.query)
        return wq.NullQuery if _is_null(inner) else wq.Not(inner, boost=query.boost)
    if isinstance(query, wq.CompoundQuery):
        children = [child for child in (_pruned(c) for c in query.subqueries) if not _is_null(child)]
        if not children:
            return wq.NullQuery
        rebuilt = type(query)(children, boost=query.boost)
        copy_extent(query, rebuilt)
        return rebuilt
    return query


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
        if isinstance(leaf, (wq.Prefix, wq.Wildcard)) or (isinstance(leaf, wq.TermRange)
                                                            and leaf.fieldname in TEXT_FIELDS):
            expansions = islice(leaf._btexts(reader), MAX_EXPANSIONS + 1)
            if sum(1 for _ in expansions) > MAX_EXPANSIONS:
                if isinstance(leaf, wq.TermRange):
                    raise QueryError(_("The range from '%(start)s' to '%(end)s' covers too many words; narrow it.",
                                       start=leaf.start or "", end=leaf.end or ""))
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
    text_only: set[int] = field(default_factory=set)  # global docnums matched by their attached texts alone


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
        sort: str, limit: int, terms: TermCache, stats: Stats, *, facets: tuple[str, ...] = FACETS,
        also: Mapping[int, float] | None = None) -> Matched:
    """Find the documents that match ``query`` (every document when None) and pass ``filters``,
    count them per facet value (``facets``), and keep the best ``limit`` by relevance or by a sort column.

    By relevance, documents matching more of the query's concepts come first (see
    tracker.search.expansion), then by BM25 over the live documents, then by record key.

    ``also``: policies (by id) whose attached texts matched, with the score of their best passage. They
    match too; one matched by its text alone ranks below those matched by their record in its tier
    (its score is a share of the passage's), and one matched both ways gains a little."""
    matched = Matched(facets={name: {} for name in facets})
    scored = query is not None and sort == "relevance"
    concepts = primary_concepts(query) if scored and query is not None else None
    # The best candidates by everything but proximity, over the whole index, get their proximity part
    # (see _with_proximity); as many more as the page needs follow them.
    keep = max(WINDOW, limit)
    ranked: list[Ranked] = []
    sorted_candidates: list[Iterator[SortedDoc]] = []
    collection = Collection(leaves, terms, stats) if query is not None else None
    for index, leaf in enumerate(leaves):
        allowed = allowed_mask(leaf, filters)
        if not allowed:
            continue
        segment = collection.segments[index] if collection is not None else None
        by_text = _owned(leaf, also) if also else {}
        text_mask = mask_of(by_text, leaf.data.size) if by_text else 0
        own_mask = allowed if segment is None else segment.mask(query) & allowed
        chosen = own_mask | (text_mask & allowed)
        if text_mask:
            matched.text_only.update(docnum + leaf.offset for docnum in bits_of(text_mask & allowed & ~own_mask))
        if not chosen:
            continue
        count = chosen.bit_count()
        matched.total += count
        for name in facets:
            counts = matched.facets[name]
            for value, mask in leaf.data.masks[name].items():
                found = (chosen & mask).bit_count()
                if found:
                    counts[value] = counts.get(value, 0) + found
        if scored:
            assert segment is not None  # scored: there is a query, so a segment to evaluate it on
            scores = segment.scores(query, chosen)
            for docnum, text_score in by_text.items():
                if chosen >> docnum & 1:
                    scores[docnum] = scores.get(docnum, 0.0) + TEXT_SHARE * text_score
            if len(scores) < count:  # matched by a filter term alone: ranked after every scored one
                for docnum in bits_of(chosen):
                    scores.setdefault(docnum, 0.0)
            ranked += best_of(scores, _tiers(segment, concepts, chosen), leaf.data.columns["sortkey"], keep,
                              leaf.offset)
        else:
            sorted_candidates.append(_sorted_docs(leaf, chosen, sort))
    if scored:
        assert query is not None and collection is not None
        best = top(ranked, keep)
        window = top(_with_proximity(query, collection, best[:WINDOW]), WINDOW)
        matched.top = [(score, docnum) for _tier, score, _key, docnum in (window + best[WINDOW:])[:limit]]
    else:
        by_column = islice(heapq.merge(*sorted_candidates), limit)
        matched.top = [(0.0, docnum) for _, docnum in by_column]
    return matched


# The share of its best passage's score that a policy gains from a match in its attached texts.
TEXT_SHARE = 0.3


def _owned(leaf: Leaf, also: Mapping[int, float]) -> dict[int, float]:
    """The segment's documents of the policies in ``also`` (segment docnum -> text score)."""
    owners = leaf.data.policy_docnums()
    return {docnum: score for policy_id, score in also.items() for docnum in owners.get(policy_id, ())}


# How many of the best documents get their proximity part added (query words close together), and are
# ranked by it ahead of the rest. A fixed number, so that a document's rank never depends on the page
# asked for: pages past the window follow the order without proximity.
WINDOW = 100


def _with_proximity(query: wq.Query, collection: Collection, best: list[Ranked]) -> list[Ranked]:
    """``best`` with the proximity parts of their scores added, segment by segment."""
    by_segment: dict[int, list[int]] = {}
    bounds = [(segment.leaf.offset, segment.leaf.offset + segment.leaf.data.size) for segment in collection.segments]
    for _tier, _score, _key, docnum in best:
        for index, (start, end) in enumerate(bounds):
            if start <= docnum < end:
                by_segment.setdefault(index, []).append(docnum - start)
                break
    extra: dict[int, float] = {}
    for index, docnums in by_segment.items():
        segment = collection.segments[index]
        window = mask_of(docnums, segment.leaf.data.size)
        for docnum, part in segment.complete(query, window).items():
            extra[docnum + segment.leaf.offset] = part
    if not extra:
        return best
    return [(tier, score + extra.get(docnum, 0.0), key, docnum) for tier, score, key, docnum in best]


def _tiers(segment: Segment, concepts: Concepts | None, chosen: int) -> list[int]:
    """The chosen documents by how many concepts they match (index k: exactly k)."""
    if concepts is None:
        return [chosen]
    levels = segment.levels(concepts)
    tiers = []
    for level, at_least in enumerate(levels):
        above = levels[level + 1] if level + 1 < len(levels) else 0
        tiers.append(at_least & ~above & chosen)
    return tiers


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
