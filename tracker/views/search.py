"""The search page: full-text results over policies and events, with facets, filters, sorting and pages."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from flask import Blueprint, current_app, render_template, url_for
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.errors import Invalid
from tracker.i18n import current_language
from tracker.models import Event
from tracker.models.vocab import INSTRUMENTS, LEGAL_STATUSES, VEHICLE_CLASSES
from tracker.search import SearchUnavailable
from tracker.search.request import SORTS, TYPES, SearchRequest, parse_search_args
from tracker.services import exports
from tracker.services import policies as policy_service
from tracker.services.search import SearchHit, SearchResults, search
from tracker.translation import lazy_gettext as _l
from tracker.views.security import include_unpublished
from tracker.views.support import db_session, query_args

bp = Blueprint("search", __name__)

# Query parameter -> the SearchRequest field it fills, in the order the filters are shown.
FILTER_PARAMS = {
    "type": "types", "country": "countries", "status": "statuses", "instrument": "instruments",
    "topic": "topics", "vehicle_class": "vehicle_classes", "year": "years", "event": "events",
}
FACET_TITLES = {
    "type": _l("Type"), "country": _l("Country"), "status": _l("Legal status"),
    "instrument": _l("Instrument"),
    "topic": _l("Topic"), "vehicle_class": _l("Vehicle class"), "year": _l("Year"),
    "event": _l("Forum or event"),
}
TYPE_LABELS = {"policy": _l("Policies"), "event": _l("Events")}
UNAVAILABLE_MESSAGE = _l("Search is unavailable for a few minutes while its index is being built. The "
                         "policy, event and country pages still work; please try the search again shortly.")
# Highlighted fields shown as the hit's title rather than as a snippet under it.
TITLE_FIELDS = frozenset({"title_en", "title_lo", "name_en", "name_lo"})
SNIPPET_LABELS = {"summary_en": _l("Summary in English"), "summary_lo": _l("Summary in Lao"),
                  "reference": _l("Reference"), "title_local": _l("Title in the local language")}


@bp.get("/search")
def index():
    # Not served from the page cache: the index catches up with a commit a moment after the content
    # version moves, so a page cached at that instant would keep stale results until the next edit.
    session = db_session()
    args = query_args()
    search_request = parse_search_args(args)
    try:
        results = run_search(session, search_request)
    except Invalid as error:
        if set(error.errors) != {"q"}:
            raise
        # A query the parser cannot read is the reader's to fix: answer with the search page itself, the
        # query still in the box and what is wrong with it, rather than a bare error page.
        return render_template("search/results.html", **_page_context(session, args, search_request, None),
                               query_error=error.errors["q"]), 400
    return render_template("search/results.html", **_page_context(session, args, search_request, results),
                           query_error=None)


def run_search(session: Session, search_request: SearchRequest) -> SearchResults:
    """The results this reader may see (drafts for staff only).

    Raises:
        Invalid: the query cannot be run (naming ``q``); NotFound: a page past the last one;
        SearchUnavailable: no index to search, with a message for readers.
    """
    try:
        return search(session, search_request, include_unpublished=include_unpublished())
    except SearchUnavailable as error:
        # The engine's message is for whoever runs the server (a path, a command); it goes to the log,
        # and readers are told what they can do meanwhile.
        current_app.logger.warning("Search is unavailable: %s", error.message)
        raise SearchUnavailable(str(UNAVAILABLE_MESSAGE)) from error


def run_search_export(session: Session, search_request: SearchRequest, limit: int) -> exports.SearchExport:
    """The rows of a search download (published records only, whoever asks), unavailability said as on the
    search page."""
    try:
        return exports.search_rows(session, search_request, limit, _export_url)
    except SearchUnavailable as error:
        current_app.logger.warning("Search is unavailable: %s", error.message)
        raise SearchUnavailable(str(UNAVAILABLE_MESSAGE)) from error


def _export_url(kind: str, key: str) -> str:
    return url_for("policies.detail" if kind == "policy" else "events.detail", key=key, _external=True)


def _page_context(session: Session, args: Mapping[str, Sequence[str]], search_request: SearchRequest,
                  results: SearchResults | None) -> dict[str, Any]:
    choices = policy_service.filter_choices(session)
    event_keys = set(search_request.events) | set(results.facets.get("event", {}) if results else ())
    labels = _facet_labels(choices, _event_names(session, event_keys))
    return {
        "sr": search_request, "results": results,
        "sort_labels": SORTS, "snippet_labels": SNIPPET_LABELS, "title_fields": TITLE_FIELDS,
        "active_filters": _active_filters(search_request, labels, args),
        "facets": _facets(search_request, results, labels, args) if results is not None else [],
        "search_url": lambda **changes: search_url(args, **changes),
        "clear_filters_url": search_url(args, **{param: None for param in FILTER_PARAMS}),
        # The box on this page refines this search: the filters, sort and page size in force ride along.
        "kept_params": [(name, value) for name, values in args.items() if name not in ("q", "page")
                        for value in values if value != ""],
        "hit_url": hit_url, "hit_title": hit_title, "highlight": highlight,
        "export_rows": int(current_app.config["EXPORT_SEARCH_ROWS"]),
    }


def _event_names(session: Session, keys: set[str]) -> dict[str, str]:
    """Names of the events a facet or filter mentions, among the events this reader may see (one query)."""
    if not keys:
        return {}
    states = policy_service.visible_states(include_unpublished())
    rows = session.execute(select(Event.key, Event.name_en, Event.name_lo).where(
        Event.key.in_(sorted(keys)), Event.editorial_state.in_(states)))
    lao = current_language() == "lo"
    # In the reader's language, else the other one: an event may be named in Lao only.
    return {key: (name_lo if lao and name_lo else name_en or name_lo or key) for key, name_en, name_lo in rows}


def _facet_labels(choices: policy_service.FilterChoices,
                  events: Mapping[str, str]) -> dict[str, Mapping[str, str]]:
    return {"type": TYPE_LABELS, "country": choices.countries, "status": LEGAL_STATUSES,
            "instrument": INSTRUMENTS, "topic": choices.topics, "vehicle_class": VEHICLE_CLASSES,
            "event": events, "year": {}}


def _label(labels: Mapping[str, Mapping[str, str | None]], param: str, value: object) -> str:
    return str(labels[param].get(str(value), str(value)))


def search_url(args: Mapping[str, Sequence[str]], *, add: tuple[str, str] | None = None,
               remove: tuple[str, str] | None = None, **replace: object) -> str:
    """This search with one filter value added or removed, or parameters replaced (None drops one).

    Any change but a page change goes back to the first page: the old page number may not exist any more.
    """
    params = {name: [value for value in values if value != ""] for name, values in args.items()}
    if add is not None:
        name, value = add
        params[name] = [*params.get(name, []), value]
    if remove is not None:
        # Compared as the parser reads values (trimmed, either case), so "la" is removed with "LA".
        name, value = remove
        params[name] = [v for v in params.get(name, []) if v.strip().casefold() != value.casefold()]
    for name, new in replace.items():
        params[name] = [] if new is None else [str(new)]
    if "page" not in replace:
        params.pop("page", None)
    # Any, as url_for's **values: mypy would check the lists against _anchor, _external and the like.
    query: dict[str, Any] = {name: values for name, values in params.items() if values}
    return url_for("search.index", **query)


def _active_filters(search_request: SearchRequest, labels, args) -> list[dict[str, str]]:
    """Each filter value in force, with the link that removes it."""
    return [{"title": str(FACET_TITLES[param]), "label": _label(labels, param, value),
             "url": search_url(args, remove=(param, str(value)))}
            for param, field in FILTER_PARAMS.items() for value in getattr(search_request, field)]


def _facets(search_request: SearchRequest, results: SearchResults, labels, args) -> list[dict[str, Any]]:
    """Each facet with its values: label, count, whether selected, and the link that toggles it."""
    facets = []
    for param, field in FILTER_PARAMS.items():
        selected = [str(value) for value in getattr(search_request, field)]
        counts = {str(value): count for value, count in results.facets.get(param, {}).items()}
        if param == "type":
            # What can be chosen, whether or not the service counts it.
            values = list(TYPES)
        elif param == "year":
            values = sorted(counts, reverse=True)
        else:
            values = sorted(counts, key=lambda v: (-counts[v], _label(labels, param, v).lower()))
        # A selected value stays listed (and removable) even when no result carries it any more.
        values += [value for value in selected if value not in values]
        if not values:
            continue
        items = [{"label": _label(labels, param, value), "count": counts.get(value),
                  "selected": value in selected,
                  "url": search_url(args, **{("remove" if value in selected else "add"): (param, value)})}
                 for value in values]
        facets.append({"param": param, "title": str(FACET_TITLES[param]), "values": items})
    return facets


def hit_url(hit: SearchHit, *, api: bool = False, external: bool = False) -> str:
    """The record's page, or its API resource."""
    if api:
        endpoint = "api.policy" if hit.type == "policy" else "api.event"
    else:
        endpoint = "policies.detail" if hit.type == "policy" else "events.detail"
    return url_for(endpoint, key=hit.key, _external=external)


def hit_title(hit: SearchHit) -> tuple[str, str | None]:
    """The English and Lao titles of a policy, or names of an event."""
    record: Any = hit.record
    if hit.type == "policy":
        return record.title_en, record.title_lo
    return record.name_en, record.name_lo


def highlight(hit: SearchHit, *fields: str) -> Markup | None:
    """The service's highlighted HTML of the first of ``fields`` it has: escaped text with <mark> added."""
    for field in fields:
        html = hit.highlights.get(field)
        if html:
            return Markup(html)
    return None


def search_hit_json(hit: SearchHit) -> dict[str, Any]:
    """One hit as the API returns it."""
    title_en, title_lo = hit_title(hit)
    record: Any = hit.record
    return {
        "key": hit.key, "type": hit.type, "title_en": title_en, "title_lo": title_lo,
        "country": record.jurisdiction_code,
        "status": record.legal_status if hit.type == "policy" else None,
        "score": float(hit.score), "highlights": dict(hit.highlights),
        "url": hit_url(hit, api=True, external=True), "html_url": hit_url(hit, external=True),
        "matched_in": hit.matched_in,
        "passages": [{"document_id": p.document.id, "page": p.passage.page, "heading": p.passage.heading,
                      "language": p.passage.language, "highlight": str(p.highlight)} for p in hit.passages],
    }


def search_results_json(results: SearchResults) -> dict[str, Any]:
    """The body of GET /api/v1/search."""
    return {"total": results.total, "page": results.page, "pages": results.pages,
            "hits": [search_hit_json(hit) for hit in results.hits],
            "facets": {name: dict(counts) for name, counts in results.facets.items()},
            "suggestion": results.suggestion, "corrected": results.corrected,
            "corrections": [{"typed": typed, "searched": searched} for typed, searched in results.corrections],
            "notice": results.notice}
