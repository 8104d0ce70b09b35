"""Event pages: forums, workshops and summits, and the policies linked to each."""
from __future__ import annotations

from flask import Blueprint, render_template

from tracker.services import events as event_service
from tracker.services import policies as policy_service
from tracker.views.cache import cached_page
from tracker.views.citing import citation_of, cite_panel, download
from tracker.views.policies import page_request
from tracker.views.security import include_unpublished
from tracker.views.support import db_session, query_args

bp = Blueprint("events", __name__, url_prefix="/events")


@bp.get("")
@cached_page
def index():
    session = db_session()
    args = query_args()
    jurisdictions = event_service.jurisdiction_names(session)
    countries = event_service.parse_event_filter(args, jurisdictions)
    page = event_service.list_events(session, page_request(args), countries=countries,
                                     include_unpublished=include_unpublished())
    return render_template("events/list.html", page=page, countries=countries, jurisdictions=jurisdictions)


@bp.get("/<key>")
@cached_page
def detail(key: str):
    session = db_session()
    staff = include_unpublished()
    event = event_service.get_event(session, key, include_unpublished=staff)
    links = policy_service.policies_of_event(session, event, include_unpublished=staff)
    by_role: dict[str, list] = {}
    for link in links:
        by_role.setdefault(link.role, []).append(link)
    return render_template("events/detail.html", event=event, links_by_role=by_role, link_count=len(links),
                           cite=cite_panel(event))


@bp.get("/<key>/cite.<any(bib, ris, json):extension>")
def cite(key: str, extension: str):
    event = event_service.get_event(db_session(), key, include_unpublished=include_unpublished())
    return download(citation_of(event), extension)
