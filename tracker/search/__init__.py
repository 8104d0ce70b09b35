"""Full-text search of policies and events in English and Lao: the service the pages and the API call.

The Whoosh index is a replica of the database (see tracker.models.search_log and
tracker.search.indexer); this module only reads it. Hits are hydrated from the database in rank
order, and whatever the database no longer shows to the reader is dropped.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from flask import current_app, has_app_context
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from tracker.models import Event, Policy
from tracker.models.vocab import INSTRUMENTS, LEGAL_STATUSES, VEHICLE_CLASSES
from tracker.search.documents import parse_doc_id
from tracker.search.errors import SearchUnavailable
from tracker.search.highlight import Terms, highlights
from tracker.search.query import QueryError, check_expansions, has_text, parse, run, suggest
from tracker.search.reader import bits_of
from tracker.search.runtime import SearchRuntime, init_search, runtime_of
from tracker.search.schema import FACETS
from tracker.services.errors import Invalid, NotFound
from tracker.services.pagination import PageRequest
from tracker.services.policies import visible_states

__all__ = ["SearchHit", "SearchRequest", "SearchResults", "SearchRuntime", "SearchUnavailable", "init_search",
           "parse_search_args", "search"]

MAX_QUERY_LENGTH = 500
TYPES = ("policy", "event")
SORTS = {"relevance": _l("Relevance"), "latest": _l("Latest status change"), "adopted": _l("Date adopted")}
_CODE = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_KEY_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_-")


@dataclass(frozen=True)
class SearchRequest:
    """What a reader asked for: the query text, filters, sort and page."""

    q: str = ""
    countries: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    instruments: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    vehicle_classes: tuple[str, ...] = ()
    years: tuple[int, ...] = ()
    events: tuple[str, ...] = ()        # event keys (policies linked to these events)
    types: tuple[str, ...] = ()         # "policy", "event"; empty = both
    sort: str = "relevance"            # "relevance" | "latest" (latest status change) | "adopted"
    page: int = 1
    per_page: int = 20


@dataclass(frozen=True)
class SearchHit:
    """One result: the hydrated record, its score and its highlighted fields."""

    key: str
    type: str                           # "policy" | "event"
    record: object                      # Policy or Event, with jurisdiction and topic_links loaded
    score: float
    highlights: dict[str, str]          # field name -> HTML (text escaped, matches in <mark>); safe to render


@dataclass(frozen=True)
class SearchResults:
    """One page of results with the total, the facet counts and a "did you mean" suggestion."""

    hits: list[SearchHit]
    total: int
    page: int
    per_page: int
    pages: int
    facets: dict[str, dict[str, int]] = field(default_factory=dict)
    suggestion: str | None = None


def _page_limits() -> tuple[int, int]:
    if has_app_context():
        return int(current_app.config.get("PER_PAGE", 20)), int(current_app.config.get("MAX_PER_PAGE", 100))
    return 20, 100


def parse_search_args(args: Mapping[str, Sequence[str]], *, allow_empty: bool = True) -> SearchRequest:
    """Build a SearchRequest from query parameters (filters may repeat to select several values).

    Parameters: ``q``, ``country``, ``status``, ``instrument``, ``topic``, ``vehicle_class``, ``year``,
    ``event``, ``type``, ``sort``, ``page``, ``per_page``. Empty values mean "any" when ``allow_empty``
    (HTML forms send them) and are refused otherwise; an empty ``q`` always lists everything.

    Raises:
        Invalid: naming every parameter whose value is not accepted.
    """
    errors: dict[str, str] = {}

    def values(name: str) -> list[str]:
        raw = [value.strip() for value in args.get(name, ())]
        if not allow_empty and any(not value for value in raw):
            errors[name] = _("%(name)s must not be empty", name=name)
        return list(dict.fromkeys(value for value in raw if value))

    def pick(name: str, allowed: Mapping[str, str] | Sequence[str], normalise=str.lower) -> tuple[str, ...]:
        chosen = [normalise(value) for value in values(name)]
        unknown = [value for value in chosen if value not in allowed]
        if unknown:
            errors[name] = _("Unknown %(name)s '%(value)s'. Accepted values: %(values)s",
                             name=name.replace('_', ' '), value=unknown[0][:40], values=", ".join(allowed))
        return tuple(chosen)

    def keys(name: str, *, upper: bool = False) -> tuple[str, ...]:
        chosen = [value.upper() if upper else value.lower() for value in values(name)]
        allowed = _CODE if upper else _KEY_CHARS
        bad = [value for value in chosen if not value or len(value) > 120 or set(value) - allowed]
        if bad:
            errors[name] = (_("'%(value)s' is not a country code such as LA or ASEAN",
                              value=bad[0][:40]) if upper
                            else _("'%(value)s' is not a key of lower-case letters, digits, - and _",
                                   value=bad[0][:40]))
        return tuple(chosen)

    q_values = [value for value in args.get("q", ()) if value is not None]
    q = q_values[0].strip() if q_values else ""
    if len(q) > MAX_QUERY_LENGTH:
        errors["q"] = _("The query is %(length)s characters long; the limit is %(max)s.", length=len(q),
                        max=MAX_QUERY_LENGTH)
    if "\x00" in q:
        errors["q"] = _("The query contains a NUL character.")
    countries = keys("country", upper=True)
    statuses = pick("status", LEGAL_STATUSES)
    instruments = pick("instrument", INSTRUMENTS)
    topics = keys("topic")
    vehicle_classes = pick("vehicle_class", VEHICLE_CLASSES)
    events = keys("event")
    types = pick("type", TYPES)
    years: list[int] = []
    for raw in values("year"):
        if raw.isascii() and raw.isdigit() and len(raw) == 4 and raw[0] != "0":
            years.append(int(raw))
        else:
            errors["year"] = _("year must be a four-digit year such as 2023, not '%(value)s'", value=raw[:40])
    sorts = values("sort")
    sort = sorts[-1] if sorts else "relevance"
    if sort not in SORTS:
        errors["sort"] = _("Unknown sort '%(value)s'. Accepted values: %(values)s", value=sort[:40],
                           values=", ".join(SORTS))
    page_values, per_page_values = args.get("page", ()), args.get("per_page", ())
    default, maximum = _page_limits()
    try:
        paging = PageRequest.parse(page_values[0] if page_values else None,
                                   per_page_values[0] if per_page_values else None,
                                   default=default, maximum=maximum, allow_empty=allow_empty)
    except Invalid as error:
        errors.update(error.errors)
        paging = PageRequest()
    if errors:
        raise Invalid(_("Some search parameters are not valid"), errors)
    return SearchRequest(q, countries, statuses, instruments, topics, vehicle_classes, tuple(years), events,
                         types, sort, paging.page, paging.per_page)


def search(session: Session, request: SearchRequest, *, include_unpublished: bool = False) -> SearchResults:
    """Run ``request`` against the index and hydrate one page of hits from the database.

    An empty query lists every record that passes the filters, latest change first. Drafts, records
    in review and archived records are found only with ``include_unpublished`` (staff).

    Raises:
        Invalid: the query cannot be run (the message says why; the error names ``q``).
        NotFound: the page is past the last one.
        SearchUnavailable: the index is missing or of another schema version.
    """
    runtime = runtime_of(current_app)
    query = None
    if request.q.strip():
        try:
            query = parse(request.q)
        except QueryError as error:
            raise Invalid(str(error), {"q": str(error)}) from error
    searcher, leaves = runtime.replica.searcher()
    if query is not None:
        try:
            check_expansions(query, searcher)
        except QueryError as error:
            raise Invalid(str(error), {"q": str(error)}) from error
    states = visible_states(include_unpublished)
    filters = {
        "state": states, "type": tuple(request.types), "country": tuple(c.lower() for c in request.countries),
        "status": request.statuses, "instrument": request.instruments,
        "topic": tuple(t.lower() for t in request.topics), "vehicle_class": request.vehicle_classes,
        "year": tuple(str(y) for y in request.years), "event": tuple(e.lower() for e in request.events),
    }
    sort = request.sort
    if query is None or (sort == "relevance" and not has_text(query)):
        # Without words to rank by, the most recently changed records come first.
        sort = "latest" if sort == "relevance" else sort
    start = (request.page - 1) * request.per_page
    matched = run(searcher, leaves, query, filters, sort, start + request.per_page, runtime.replica.terms,
                  runtime.replica.stats())
    pages = max(1, math.ceil(matched.total / request.per_page))
    if request.page > pages:
        raise NotFound(ngettext("Page %(page)s does not exist: there is %(num)s page.",
                                "Page %(page)s does not exist: there are %(num)s pages.", pages,
                                page=request.page))
    page = matched.top[start:]
    found = []
    for score, docnum in page:
        parsed = parse_doc_id(searcher.stored_fields(docnum).get("id", ""))
        if parsed is not None:
            found.append((parsed, score))
    records = _hydrate(session, [key for key, _ in found], states)
    terms = Terms.of(query) if query is not None else Terms()
    hits = []
    for (entity_type, record_id), score in found:
        record = records.get((entity_type, record_id))
        if record is None:  # gone, or hidden from this reader since the index saw it
            continue
        marked = highlights(record, entity_type, terms) if terms else {}
        hits.append(SearchHit(record.key, entity_type, record, float(score), marked))
    facets = _facets(matched.facets, leaves, states)
    suggestion = None
    if query is not None and matched.total == 0:
        suggestion = suggest(request.q, searcher)
    return SearchResults(hits, matched.total, request.page, request.per_page, pages, facets, suggestion)


def _hydrate(session: Session, keys: list[tuple[str, int]], states: tuple[str, ...]) -> dict:
    """The visible records of ``keys``, one query per record type on the page."""
    records: dict[tuple[str, int], object] = {}
    policy_ids = [i for t, i in keys if t == "policy"]
    event_ids = [i for t, i in keys if t == "event"]
    if policy_ids:
        statement = (select(Policy).where(Policy.id.in_(policy_ids), Policy.editorial_state.in_(states))
                     .options(joinedload(Policy.jurisdiction), joinedload(Policy.topic_links)))
        records.update((("policy", p.id), p) for p in session.scalars(statement).unique())
    if event_ids:
        statement = (select(Event).where(Event.id.in_(event_ids), Event.editorial_state.in_(states))
                     .options(joinedload(Event.jurisdiction), joinedload(Event.topic_links)))
        records.update((("event", e.id), e) for e in session.scalars(statement).unique())
    return records


def _facets(counts: dict[str, dict[str, int]], leaves, states: tuple[str, ...]) -> dict[str, dict[str, int]]:
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


def _visible_event_keys(leaves, states: tuple[str, ...]) -> set[str]:
    keys: set[str] = set()
    for leaf in leaves:
        mask = leaf.live & leaf.data.masks["type"].get("event", 0)
        either = 0
        for state in states:
            either |= leaf.data.masks["state"].get(state, 0)
        for docnum in bits_of(mask & either):
            keys.add(leaf.data.columns["sortkey"][docnum].decode())
    return keys
