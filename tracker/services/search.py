"""Search for readers: a parsed request run against the index, and the hits hydrated from the database.

The Whoosh index is a replica of the database (see tracker.models.search_log and tracker.search.indexer);
this service only reads it, through tracker.search.lookup. Hits are hydrated from the database in rank
order, and whatever the database no longer shows to the reader is dropped.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from flask_babel import ngettext
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from tracker.errors import Invalid, NotFound
from tracker.models import Event, Policy
from tracker.search.highlight import highlights
from tracker.search.lookup import find
from tracker.search.query import QueryError
from tracker.search.request import SearchRequest
from tracker.services.policies import visible_states


@dataclass(frozen=True)
class SearchHit:
    """One result: the hydrated record, its score and its highlighted fields."""

    key: str
    type: str                           # "policy" | "event"
    record: Policy | Event              # with jurisdiction and topic_links loaded
    score: float
    highlights: dict[str, str]          # field name -> HTML (text escaped, matches in <mark>); safe to render


@dataclass(frozen=True)
class SearchResults:
    """One page of results with the total and the facet counts; when unknown words were corrected, the
    query searched instead; when searched as typed and nothing was found, a "did you mean"."""

    hits: list[SearchHit]
    total: int
    page: int
    per_page: int
    pages: int
    facets: dict[str, dict[str, int]] = field(default_factory=dict)
    suggestion: str | None = None
    corrected: str | None = None                 # the query searched instead of the one typed
    corrections: tuple[tuple[str, str], ...] = ()  # (word as typed, word searched)
    notice: str | None = None                    # why nothing was searched for (only punctuation, ...)


def search(session: Session, request: SearchRequest, *, include_unpublished: bool = False) -> SearchResults:
    """Run ``request`` against the index and hydrate one page of hits from the database.

    An empty query lists every record that passes the filters, latest change first. Drafts, records
    in review and archived records are found only with ``include_unpublished`` (staff).

    Raises:
        Invalid: the query cannot be run (the message says why; the error names ``q``).
        NotFound: the page is past the last one.
        SearchUnavailable: the index is missing or of another schema version.
    """
    states = visible_states(include_unpublished)
    filters = {
        "state": states, "type": tuple(request.types), "country": tuple(c.lower() for c in request.countries),
        "status": request.statuses, "instrument": request.instruments,
        "topic": tuple(t.lower() for t in request.topics), "vehicle_class": request.vehicle_classes,
        "year": tuple(str(y) for y in request.years), "event": tuple(e.lower() for e in request.events),
    }
    start = (request.page - 1) * request.per_page
    try:
        page = find(request.q, filters, request.sort, start, request.per_page, verbatim=request.verbatim)
    except QueryError as error:
        raise Invalid(str(error), {"q": str(error)}) from error
    pages = max(1, math.ceil(page.total / request.per_page))
    if request.page > pages:
        raise NotFound(ngettext("Page %(page)s does not exist: there is %(num)s page.",
                                "Page %(page)s does not exist: there are %(num)s pages.", pages,
                                page=request.page))
    records = _hydrate(session, [key for key, _ in page.found], states)
    hits = []
    for (entity_type, record_id), score in page.found:
        record = records.get((entity_type, record_id))
        if record is None:  # gone, or hidden from this reader since the index saw it
            continue
        marked = highlights(record, entity_type, page.terms) if page.terms else {}
        hits.append(SearchHit(record.key, entity_type, record, score, marked))
    corrected = page.corrected
    return SearchResults(hits, page.total, request.page, request.per_page, pages, page.facets, page.suggestion,
                         corrected.text if corrected else None, corrected.replaced if corrected else (),
                         page.notice)


def _hydrate(session: Session, keys: list[tuple[str, int]],
             states: tuple[str, ...]) -> dict[tuple[str, int], Policy | Event]:
    """The visible records of ``keys``, one query per record type on the page."""
    records: dict[tuple[str, int], Policy | Event] = {}
    policy_ids = [i for t, i in keys if t == "policy"]
    event_ids = [i for t, i in keys if t == "event"]
    if policy_ids:
        policies = (select(Policy).where(Policy.id.in_(policy_ids), Policy.editorial_state.in_(states))
                    .options(joinedload(Policy.jurisdiction), joinedload(Policy.topic_links)))
        records.update((("policy", p.id), p) for p in session.scalars(policies).unique())
    if event_ids:
        events = (select(Event).where(Event.id.in_(event_ids), Event.editorial_state.in_(states))
                  .options(joinedload(Event.jurisdiction), joinedload(Event.topic_links)))
        records.update((("event", e.id), e) for e in session.scalars(events).unique())
    return records
