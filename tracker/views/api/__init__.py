"""The public JSON API under /api/v1: thin handlers over the same services as the pages."""
from __future__ import annotations

from flask import Blueprint, jsonify

from tracker.config import local_today
from tracker.i18n import current_language
from tracker.pagination import Page
from tracker.search.request import parse_search_args
from tracker.services import calendar as calendar_service
from tracker.services import events as event_service
from tracker.services import jurisdictions as jurisdiction_service
from tracker.services import policies as policy_service
from tracker.views.api import serializers
from tracker.views.api.openapi import openapi_document
from tracker.views.cache import cached_page
from tracker.views.calendar import calendar_json
from tracker.views.policies import page_request
from tracker.views.search import run_search, search_results_json
from tracker.views.security import include_unpublished
from tracker.views.support import db_session, query_args

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def _page_json(page: Page, serialise) -> dict:
    return {"items": [serialise(item) for item in page.items], "total": page.total, "page": page.page,
            "per_page": page.per_page, "pages": page.pages}


@bp.get("/policies")
@cached_page
def policies():
    session = db_session()
    args = query_args()
    flt = policy_service.parse_policy_filter(args, policy_service.filter_choices(session), allow_empty=False)
    expand = policy_service.parse_expand(args, policy_service.POLICY_EXPANSIONS)
    page = policy_service.list_policies(session, flt, page_request(args, allow_empty=False),
                                        include_unpublished=include_unpublished(), expand=expand)
    if flt.as_of is None:
        return jsonify(_page_json(page, lambda policy: serializers.policy_summary_json(policy, expand)))
    body = _page_json(page, lambda policy: serializers.policy_summary_json(policy, expand) | {
        "status_as_of": page.status_of(policy)})
    return jsonify(body | {"as_of": flt.as_of.day.isoformat()})


@bp.get("/policies/<key>")
@cached_page
def policy(key: str):
    staff = include_unpublished()
    record = policy_service.get_policy(db_session(), key, include_unpublished=staff)
    outgoing, incoming = policy_service.visible_relations(record, staff)
    links = policy_service.visible_forum_links(record.forum_links, staff, side="event")
    return jsonify(serializers.policy_json(record, outgoing, incoming, links))


@bp.get("/events")
@cached_page
def events():
    session = db_session()
    args = query_args()
    countries = event_service.parse_event_filter(args, event_service.jurisdiction_names(session),
                                               allow_empty=False)
    expand = policy_service.parse_expand(args, policy_service.EVENT_EXPANSIONS)
    page = event_service.list_events(session, page_request(args, allow_empty=False), countries=countries,
                                     include_unpublished=include_unpublished(), expand=expand)
    return jsonify(_page_json(page, lambda event: serializers.event_summary_json(event, expand)))


@bp.get("/events/<key>")
@cached_page
def event(key: str):
    session = db_session()
    staff = include_unpublished()
    record = event_service.get_event(session, key, include_unpublished=staff)
    links = policy_service.policies_of_event(session, record, include_unpublished=staff)
    return jsonify(serializers.event_json(record, links))


@bp.get("/jurisdictions")
@cached_page
def jurisdictions():
    summaries = jurisdiction_service.list_jurisdictions(db_session(), include_unpublished=include_unpublished())
    return jsonify({"items": [serializers.jurisdiction_json(s.jurisdiction, s.policy_count, s.event_count)
                              for s in summaries]})


@bp.get("/topics")
@cached_page
def topics():
    rows = jurisdiction_service.list_topics(db_session(), include_unpublished=include_unpublished())
    return jsonify({"items": [serializers.topic_json(topic, count) for topic, count in rows]})


@bp.get("/search")
def search():
    # Not cached, for the reason given at tracker.views.search.index.
    search_request = parse_search_args(query_args(), allow_empty=False)
    return jsonify(search_results_json(run_search(db_session(), search_request)))


@bp.get("/calendar")
@cached_page
def calendar():
    args = query_args()
    flt = calendar_service.parse_filter(args, policy_service.filter_choices(db_session()), local_today(),
                                        allow_empty=False)
    found = calendar_service.items(db_session(), flt)
    language = current_language()
    return jsonify({"from": flt.start.isoformat(), "to": flt.end.isoformat() if flt.end else None,
                    "items": [calendar_json(item, language) for item in found]})


@bp.get("/openapi.json")
@cached_page
def openapi():
    choices = policy_service.filter_choices(db_session())
    return jsonify(openapi_document(list(choices.countries), list(choices.topics)))


from tracker.views.api.write import register as _register_write_routes  # noqa: E402  (needs bp above)

_register_write_routes(bp)
from tracker.views.api.notify import register as _register_notify_routes  # noqa: E402  (needs bp above)

_register_notify_routes(bp)
from tracker.views.api.documents import register as _register_document_routes  # noqa: E402  (needs bp above)

_register_document_routes(bp)
from tracker.views.api.imports import register as _register_import_routes  # noqa: E402  (needs bp above)

_register_import_routes(bp)
from tracker.views.api.changes import register as _register_changes_routes  # noqa: E402  (needs bp above)

_register_changes_routes(bp)
from tracker.views.api.releases import register as _register_release_routes  # noqa: E402  (needs bp above)

_register_release_routes(bp)
from tracker.views.api.matrix import register as _register_matrix_routes  # noqa: E402  (needs bp above)

_register_matrix_routes(bp)
