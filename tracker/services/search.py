"""Search for readers: a parsed request run against the index, and the hits hydrated from the database.

The Whoosh index is a replica of the database (see tracker.models.search_log and tracker.search.indexer);
this service only reads it, through tracker.search.lookup. Hits are hydrated from the database in rank
order, and whatever the database no longer shows to the reader is dropped.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from tracker.errors import Invalid, NotFound
from tracker.metrics import SEARCH_SECONDS
from tracker.models import Document, DocumentPassage, Event, Policy
from tracker.search.errors import SearchUnavailable
from tracker.search.highlight import Terms, highlights, passage_highlight
from tracker.search.lookup import find, find_passages
from tracker.search.query import QueryError
from tracker.search.request import SearchRequest
from tracker.services.policies import visible_states
from tracker.translation import ngettext

# Matching passages shown under each policy of a results page.
PASSAGES_PER_HIT = 3
# Passages ranked to order the policies matched by their texts alone (the rest follow, unordered).
RANKED_PASSAGES = 200


@dataclass(frozen=True)
class PassageHit:
    """One matching passage of an attached text, with its document and policy, and its text marked."""

    passage: DocumentPassage
    document: Document
    policy: Policy
    score: float
    highlight: Markup            # the passage (or a fragment of it) with the matched words in <mark>
    heading: Markup | None       # the heading, marked where it matched


@dataclass(frozen=True)
class PassageResults:
    """One page of passages."""

    hits: list[PassageHit]
    total: int
    page: int
    per_page: int
    pages: int
    notice: str | None = None


@dataclass(frozen=True)
class SearchHit:
    """One result: the hydrated record, its score and its highlighted fields."""

    key: str
    type: str                           # "policy" | "event"
    record: Policy | Event              # with jurisdiction and topic_links loaded
    score: float
    highlights: dict[str, str]          # field name -> HTML (text escaped, matches in <mark>); safe to render
    passages: tuple[PassageHit, ...] = ()   # matching passages of the policy's attached texts
    matched_in: str = "record"              # "record", "text" (its attached texts only) or "both"


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
    with SEARCH_SECONDS.labels("records").time():
        return _search(session, request, include_unpublished)


def _search(session: Session, request: SearchRequest, include_unpublished: bool) -> SearchResults:
    states = visible_states(include_unpublished)
    filters = {
        "state": states, "type": tuple(request.types), "country": tuple(c.lower() for c in request.countries),
        "status": request.statuses, "instrument": request.instruments,
        "topic": tuple(t.lower() for t in request.topics), "vehicle_class": request.vehicle_classes,
        "year": tuple(str(y) for y in request.years), "event": tuple(e.lower() for e in request.events),
    }
    start = (request.page - 1) * request.per_page
    wants_policies = not request.types or "policy" in request.types

    def by_text(text: str) -> dict[int, float]:
        if not wants_policies:
            return {}
        try:
            return find_passages(text, {"state": states}, limit=RANKED_PASSAGES, policies=True).policies
        except SearchUnavailable:  # texts not indexed yet: records are still found by their own words
            return {}

    try:
        page = find(request.q, filters, request.sort, start, request.per_page, verbatim=request.verbatim,
                    also=by_text)
    except QueryError as error:
        raise Invalid(str(error), {"q": str(error)}) from error
    pages = max(1, math.ceil(page.total / request.per_page))
    if request.page > pages:
        raise NotFound(ngettext("Page %(page)s does not exist: there is %(num)s page.",
                                "Page %(page)s does not exist: there are %(num)s pages.", pages,
                                page=request.page))
    records = _hydrate(session, [key for key, _ in page.found], states)
    corrected = page.corrected
    searched = corrected.text if corrected else request.q
    texts = _passages_of_hits(session, searched, [i for (t, i), _ in page.found if t == "policy" and i in page.by_text],
                              states)
    hits = []
    for (entity_type, record_id), score in page.found:
        record = records.get((entity_type, record_id))
        if record is None:  # gone, or hidden from this reader since the index saw it
            continue
        marked = highlights(record, entity_type, page.terms) if page.terms else {}
        matched_in = "record"
        if entity_type == "policy" and record_id in page.by_text:
            matched_in = "text" if record_id in page.text_only else "both"
        hits.append(SearchHit(record.key, entity_type, record, score, marked,
                              tuple(texts.get(record_id, ())), matched_in))
    return SearchResults(hits, page.total, request.page, request.per_page, pages, page.facets, page.suggestion,
                         corrected.text if corrected else None, corrected.replaced if corrected else (),
                         page.notice)


def _passages_of_hits(session: Session, text: str, policy_ids: list[int],
                      states: tuple[str, ...]) -> dict[int, list[PassageHit]]:
    """The best matching passages of each of these policies (up to PASSAGES_PER_HIT each)."""
    if not policy_ids or not text.strip():
        return {}
    try:
        found = find_passages(text, {"state": states, "policy": tuple(str(i) for i in policy_ids)},
                              limit=PASSAGES_PER_HIT * len(policy_ids) * 4)
    except (SearchUnavailable, QueryError):
        return {}
    hits = _hydrate_passages(session, found.found, found.terms, states)
    grouped: dict[int, list[PassageHit]] = {}
    for hit in hits:
        chosen = grouped.setdefault(hit.policy.id, [])
        if len(chosen) < PASSAGES_PER_HIT:
            chosen.append(hit)
    return grouped


def _hydrate_passages(session: Session, found: list[tuple[int, float]], terms: Terms, states: tuple[str, ...],
                      *, whole: bool = False) -> list[PassageHit]:
    """Passages by id in rank order, with their document and policy (one query), those the reader may
    not see (any more) left out."""
    if not found:
        return []
    rows = session.execute(select(DocumentPassage, Document, Policy)
                           .join(Document, Document.id == DocumentPassage.document_id)
                           .join(Policy, Policy.id == Document.policy_id)
                           .where(DocumentPassage.id.in_([i for i, _ in found]), Policy.editorial_state.in_(states),
                                  Document.status.in_(("done", "partial"))))
    by_id = {passage.id: (passage, document, policy) for passage, document, policy in rows}
    hits = []
    for passage_id, score in found:
        row = by_id.get(passage_id)
        if row is None:
            continue
        passage, document, policy = row
        marked = passage_highlight(passage.text, terms, whole=whole)
        if marked is None:
            marked = Markup.escape(passage.text if whole or len(passage.text) <= 300 else passage.text[:300] + "…")
        heading = passage_highlight(passage.heading, terms, whole=True) if passage.heading else None
        hits.append(PassageHit(passage, document, policy, score, marked,
                               heading or (Markup.escape(passage.heading) if passage.heading else None)))
    return hits


def search_passages(session: Session, q: str, *, policies: tuple[int, ...] = (), documents: tuple[int, ...] = (),
                    languages: tuple[str, ...] = (), sort: str = "relevance", page: int = 1, per_page: int = 20,
                    include_unpublished: bool = False, whole: bool = False) -> PassageResults:
    """Passages of attached texts matching ``q``, filtered by policy, document and language, by relevance
    (provisions before tables of contents) or in text order (``sort="page"``).

    Raises:
        Invalid: the query cannot be run; NotFound: the page is past the last one;
        SearchUnavailable: the passages index is missing.
    """
    with SEARCH_SECONDS.labels("passages").time():
        return _search_passages(session, q, policies, documents, languages, sort, page, per_page,
                                include_unpublished, whole)


def _search_passages(session: Session, q: str, policies: tuple[int, ...], documents: tuple[int, ...],
                     languages: tuple[str, ...], sort: str, page: int, per_page: int, include_unpublished: bool,
                     whole: bool) -> PassageResults:
    states = visible_states(include_unpublished)
    filters = {"state": states, "policy": tuple(str(i) for i in policies),
               "document": tuple(str(i) for i in documents), "language": tuple(lang.lower() for lang in languages)}
    start = (page - 1) * per_page
    try:
        found = find_passages(q, filters, sort=sort, start=start, limit=per_page)
    except QueryError as error:
        raise Invalid(str(error), {"q": str(error)}) from error
    pages = max(1, math.ceil(found.total / per_page))
    if page > pages:
        raise NotFound(ngettext("Page %(page)s does not exist: there is %(num)s page.",
                                "Page %(page)s does not exist: there are %(num)s pages.", pages, page=page))
    hits = _hydrate_passages(session, found.found, found.terms, states, whole=whole)
    return PassageResults(hits, found.total, page, per_page, pages, found.notice)


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
