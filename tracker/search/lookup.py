"""Running a query against the index replica: the ranked page of document ids, the total, facet counts, and
the correction of unknown words. No database here: the search service hydrates the ids it gets."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flask import current_app

from tracker.search.documents import parse_doc_id, parse_passage_id
from tracker.search.engine import Collection
from tracker.search.expansion import primary_concepts, vocabulary
from tracker.search.highlight import Terms
from tracker.search.query import EmptyQuery, Matched, allowed_mask, check_expansions, has_text, parse, run
from tracker.search.reader import bits_of
from tracker.search.runtime import runtime_of
from tracker.search.schema import FACETS
from tracker.search.spelling import Correction, Lexicon, correct

if TYPE_CHECKING:
    from whoosh import query as wq
    from whoosh.searching import Searcher

    from tracker.search.caches import Stats, TermCache
    from tracker.search.reader import Leaf


@dataclass
class IndexPage:
    """The ids of one page of hits in rank order, with what the whole result counts."""

    found: list[tuple[tuple[str, int], float]]    # ((entity type, record id), score)
    total: int
    facets: dict[str, dict[str, int]] = field(default_factory=dict)
    suggestion: str | None = None       # "did you mean", when the query was searched as typed
    terms: Terms = field(default_factory=Terms)
    corrected: Correction | None = None  # the query searched instead of the one typed
    notice: str | None = None            # why there is nothing to search for
    by_text: dict[int, float] = field(default_factory=dict)  # policies whose attached texts matched
    text_only: set[int] = field(default_factory=set)         # policies of the page matched by their texts alone


def find(q: str, filters: Mapping[str, tuple[str, ...]], sort: str, start: int, limit: int, *,
         verbatim: bool = False, also: Callable[[str], Mapping[int, float]] | None = None) -> IndexPage:
    """Run ``q`` (empty: every document passing ``filters``) and return hits ``start`` to ``start + limit``.

    ``filters`` are facet values (``state`` is the editorial states the reader may see); ``sort`` is
    "relevance", "latest" or "adopted" (without words to rank by, relevance becomes latest first).
    Unknown words are corrected to the closest words of the records the reader may see, unless
    ``verbatim``; then a correction is only offered ("did you mean") when nothing is found. When a
    query's loose words find nothing together, fewer of them are required (one less, half, one).
    ``also`` gives, for the text searched (after any correction), the policies whose attached texts
    match it (policy id -> best passage score): they are found too.

    Raises:
        QueryError: the query cannot be parsed or expands to too many terms.
        SearchUnavailable: the index is missing or of another schema version.
    """
    runtime = runtime_of(current_app)
    searcher, leaves = runtime.replica.searcher()
    stats = runtime.replica.stats()
    text = q.strip()
    if not text:
        return _page(searcher, leaves, None, filters, sort, start, limit, runtime.replica.terms, stats)
    lexicon = _lexicon(searcher, Collection(leaves, runtime.replica.terms, stats), filters.get("state", ()))
    correction = None if verbatim else correct(text, lexicon)
    searched = correction.text if correction is not None else text
    try:
        query = parse(searched)
    except EmptyQuery as empty:
        return IndexPage([], 0, {name: {} for name in FACETS}, notice=str(empty))
    check_expansions(query, searcher)
    by_text = also(searched) if also is not None else None
    page = _page(searcher, leaves, query, filters, sort, start, limit, runtime.replica.terms, stats, by_text)
    concepts = primary_concepts(query)
    if page.total == 0 and concepts is not None and concepts.minmatch > 1:
        # Fewer words required, in at most three steps: one word less, half of them, any one.
        required = concepts.minmatch
        for fewer in sorted({required - 1, (required + 1) // 2, 1}, reverse=True):
            concepts.minmatch = fewer
            page = _page(searcher, leaves, query, filters, sort, start, limit, runtime.replica.terms, stats)
            if page.total:
                break
    page.corrected = correction
    page.by_text = dict(by_text or {})
    if verbatim and page.total == 0:
        offered = correct(text, lexicon)
        page.suggestion = offered.text if offered is not None else None
    return page


def _page(searcher: Searcher, leaves: list[Leaf], query: wq.Query | None, filters: Mapping[str, tuple[str, ...]],
          sort: str, start: int, limit: int, terms: TermCache, stats: Stats,
          also: Mapping[int, float] | None = None) -> IndexPage:
    if query is None or (sort == "relevance" and not has_text(query)):
        sort = "latest" if sort == "relevance" else sort
    matched = run(searcher, leaves, query, dict(filters), sort, start + limit, terms, stats, also=also)
    found = []
    text_only = set()
    for score, docnum in matched.top[start:]:
        parsed = parse_doc_id(searcher.stored_fields(docnum).get("id", ""))
        if parsed is not None:
            found.append((parsed, float(score)))
            if docnum in matched.text_only:
                text_only.add(parsed[1])
    states = tuple(filters.get("state", ()))
    return IndexPage(found, matched.total, _facets(matched.facets, leaves, states),
                     terms=Terms.of(query) if query is not None else Terms(), text_only=text_only)


@dataclass
class PassagePage:
    """One page of passages in rank (or text) order, with how many matched and what to mark in them."""

    found: list[tuple[int, float]]      # (passage id, score)
    total: int
    terms: Terms = field(default_factory=Terms)
    policies: dict[int, float] = field(default_factory=dict)  # policy id -> best passage score (when asked)
    notice: str | None = None


# Passage kinds in rank order: real provisions first, then tables of contents and bare headings.
KINDS = ("provision", "toc")


def find_passages(q: str, filters: Mapping[str, tuple[str, ...]], *, sort: str = "relevance", start: int = 0,
                  limit: int = 20, policies: bool = False) -> PassagePage:
    """Passages of attached texts matching ``q`` (same analysis, synonyms and Lao bridging as record search)
    that pass ``filters`` (``state``, ``policy``, ``document``, ``language``); by relevance, provisions rank
    before passages that read as a table of contents; ``sort="page"`` lists them by text and position.
    ``policies``: also give each matching policy's best passage score (for record search).

    Raises:
        QueryError: the query cannot be parsed or expands to too many terms.
        SearchUnavailable: the passages index is missing or of another schema version.
    """
    runtime = runtime_of(current_app)
    replica = runtime.passage_replica
    searcher, leaves = replica.searcher()
    stats = replica.stats()
    try:
        query = parse(q.strip())
    except EmptyQuery as empty:
        return PassagePage([], 0, notice=str(empty))
    check_expansions(query, searcher)
    wanted = dict(filters)
    order = "latest" if sort == "page" else "relevance"
    kinds: tuple[str | None, ...] = KINDS if order == "relevance" else (None,)
    concepts = primary_concepts(query)
    steps = [1]
    if concepts is not None and concepts.minmatch > 1:
        required = concepts.minmatch
        steps = [required] + sorted({required - 1, (required + 1) // 2, 1} - {required}, reverse=True)
    page = PassagePage([], 0, Terms.of(query))
    for fewer in steps:
        # Fewer words required when none matches them all, as in record search.
        if concepts is not None and concepts.minmatch > 1:
            concepts.minmatch = fewer
        page = PassagePage([], 0, page.terms)
        skip, room = start, limit
        for kind in kinds:
            if kind is not None:
                wanted["kind"] = (kind,)
            matched = run(searcher, leaves, query, wanted, order, skip + room, replica.terms, stats,
                          facets=("policy",) if policies else ())
            page.total += matched.total
            for score, docnum in matched.top[skip:skip + room]:
                passage_id = parse_passage_id(searcher.stored_fields(docnum).get("id", ""))
                if passage_id is not None:
                    page.found.append((passage_id, float(score)))
            skip = max(0, skip - matched.total)
            room = limit - len(page.found)
            if policies:
                _best_per_policy(matched, leaves, page.policies)
        if page.total:
            break
    return page


def _best_per_policy(matched: Matched, leaves: list[Leaf], best: dict[int, float]) -> None:
    """Each matching policy's best passage score among the ranked top, and a score of 0 for a policy
    matched only by passages past the top (it still counts, ranked after them)."""
    for score, docnum in matched.top:
        for leaf in leaves:
            if leaf.offset <= docnum < leaf.offset + leaf.data.size:
                owner = int(leaf.data.columns["owner"][docnum - leaf.offset])
                if owner and score > best.get(owner, -1.0):
                    best[owner] = float(score)
                break
    for value in matched.facets.get("policy", {}):
        best.setdefault(int(value), 0.0)


def _lexicon(searcher: Searcher, collection: Collection, states: tuple[str, ...]) -> Lexicon:
    """What spelling may know of the index: the words of the records in ``states`` only."""
    visible = [allowed_mask(segment.leaf, {"state": states}) for segment in collection.segments]
    known_terms = vocabulary().known
    reader = searcher.reader()

    def seen(field: str, text: str) -> bool:
        return any(segment.term(field, text).mask & mask for segment, mask in zip(collection.segments, visible))

    def known(word: str, stem: str) -> bool:
        if word in known_terms or stem in known_terms:
            return True
        return (seen("spell", word) or seen("reference", word)
                or any(seen(name, stem) for name in ("title", "body", "text")))

    def candidates(word: str, distance: int) -> list[str]:
        return [t.decode("utf-8") if isinstance(t, bytes) else t
                for t in reader.terms_within("spell", word, distance, prefix=1)]

    def frequency(word: str) -> int:
        return sum((segment.term("spell", word).mask & mask).bit_count()
                   for segment, mask in zip(collection.segments, visible))

    return Lexicon(known, candidates, frequency)


def _facets(counts: dict[str, dict[str, int]], leaves: list[Leaf],
            states: tuple[str, ...]) -> dict[str, dict[str, int]]:
    """Facet counts in display form (country codes upper-case), most frequent first; events the
    reader may not see are left out of the event facet."""
    visible_events = _visible_event_keys(leaves, states) if counts.get("event") else set()
    out: dict[str, dict[str, int]] = {}
    for name in FACETS:
        values = counts.get(name, {})
        if name == "event":
            values = {k: v for k, v in values.items() if k in visible_events}
        if name == "country":
            values = {k.upper(): v for k, v in values.items()}
        out[name] = dict(sorted(values.items(), key=lambda item: (-item[1], item[0])))
    return out


def _visible_event_keys(leaves: list[Leaf], states: tuple[str, ...]) -> set[str]:
    keys: set[str] = set()
    for leaf in leaves:
        mask = leaf.live & leaf.data.masks["type"].get("event", 0)
        either = 0
        for state in states:
            either |= leaf.data.masks["state"].get(state, 0)
        for docnum in bits_of(mask & either):
            keys.add(leaf.data.columns["sortkey"][docnum].decode())
    return keys
