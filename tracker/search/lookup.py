"""Running a query against the index replica: the ranked page of document ids, the total, facet counts and a
"did you mean" suggestion. No database here: the search service hydrates the ids it gets."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flask import current_app

from tracker.search.documents import parse_doc_id
from tracker.search.highlight import Terms
from tracker.search.query import check_expansions, has_text, parse, run, suggest
from tracker.search.reader import bits_of
from tracker.search.runtime import runtime_of
from tracker.search.schema import FACETS

if TYPE_CHECKING:
    from tracker.search.reader import Leaf


@dataclass
class IndexPage:
    """The ids of one page of hits in rank order, with what the whole result counts."""

    found: list[tuple[tuple[str, int], float]]    # ((entity type, record id), score)
    total: int
    facets: dict[str, dict[str, int]] = field(default_factory=dict)
    suggestion: str | None = None
    terms: Terms = field(default_factory=Terms)


def find(q: str, filters: Mapping[str, tuple[str, ...]], sort: str, start: int, limit: int) -> IndexPage:
    """Run ``q`` (empty: every document passing ``filters``) and return hits ``start`` to ``start + limit``.

    ``filters`` are facet values (``state`` is the editorial states the reader may see); ``sort`` is
    "relevance", "latest" or "adopted" (without words to rank by, relevance becomes latest first).

    Raises:
        QueryError: the query cannot be parsed or expands to too many terms.
        SearchUnavailable: the index is missing or of another schema version.
    """
    runtime = runtime_of(current_app)
    query = parse(q) if q.strip() else None
    searcher, leaves = runtime.replica.searcher()
    if query is not None:
        check_expansions(query, searcher)
    if query is None or (sort == "relevance" and not has_text(query)):
        sort = "latest" if sort == "relevance" else sort
    matched = run(searcher, leaves, query, dict(filters), sort, start + limit, runtime.replica.terms,
                  runtime.replica.stats())
    found = []
    for score, docnum in matched.top[start:]:
        parsed = parse_doc_id(searcher.stored_fields(docnum).get("id", ""))
        if parsed is not None:
            found.append((parsed, float(score)))
    states = tuple(filters.get("state", ()))
    return IndexPage(found, matched.total, _facets(matched.facets, leaves, states),
                     suggest(q, searcher) if query is not None and matched.total == 0 else None,
                     Terms.of(query) if query is not None else Terms())


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
