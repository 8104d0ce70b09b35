"""The home page and the country pages."""
from __future__ import annotations

from flask import Blueprint, render_template

from tracker.config import local_today
from tracker.pagination import PageRequest
from tracker.services import country_map as map_service
from tracker.services import events as event_service
from tracker.services import jurisdictions as jurisdiction_service
from tracker.services import policies as policy_service
from tracker.views import country_map as map_view
from tracker.views.cache import cached_page
from tracker.views.policies import page_request
from tracker.views.security import include_unpublished
from tracker.views.support import db_session, query_args

bp = Blueprint("pages", __name__)


@bp.get("/")
@cached_page
def home():
    session = db_session()
    staff = include_unpublished()
    summaries = jurisdiction_service.list_jurisdictions(session, include_unpublished=staff)
    counts = policy_service.status_counts(session, include_unpublished=staff)
    statuses = [s for s in policy_service.LEGAL_STATUSES if any(s in row for row in counts.values())]
    # The map is the public picture (published policies), as on the dashboard, whoever is reading.
    reference = map_service.reference_with_topics(session, [summary.jurisdiction for summary in summaries])
    return render_template(
        "home.html",
        summaries=summaries, counts=counts, statuses=statuses,
        country_map=map_view.country_map(session, reference),
        total=sum(sum(row.values()) for row in counts.values()),
        latest=policy_service.latest_status_changes(session, 8, include_unpublished=staff),
        recorded=policy_service.recently_recorded_changes(session, 8) if staff else [],
        expiries=policy_service.upcoming_expiries(session, local_today(), 8, include_unpublished=staff),
    )


@bp.get("/countries")
@cached_page
def countries():
    summaries = jurisdiction_service.list_jurisdictions(db_session(), include_unpublished=include_unpublished())
    return render_template("countries/list.html", summaries=summaries)


@bp.get("/countries/<code>")
@cached_page
def country(code: str):
    session = db_session()
    staff = include_unpublished()
    jurisdiction = jurisdiction_service.get_jurisdiction(session, code)
    choices = policy_service.filter_choices(session)
    args = query_args()
    args["country"] = [jurisdiction.code]
    flt = policy_service.parse_policy_filter(args, choices)
    page = policy_service.list_policy_summaries(session, flt, page_request(args), include_unpublished=staff)
    counts = policy_service.status_counts(session, include_unpublished=staff, as_of=flt.as_of) \
        .get(jurisdiction.code, {})
    events = event_service.list_events(session, PageRequest(1, 50), countries=(jurisdiction.code,),
                                       include_unpublished=staff)
    return render_template(
        "countries/detail.html", jurisdiction=jurisdiction, page=page, flt=flt, choices=choices,
        counts=counts, events=events.items,
        organisations=jurisdiction_service.organisations_of(session, jurisdiction.code),
        latest=policy_service.latest_status_changes(session, 5, country=jurisdiction.code,
                                                    include_unpublished=staff, as_of=flt.as_of),
        expiries=policy_service.upcoming_expiries(session, local_today(), 5, country=jurisdiction.code,
                                                  include_unpublished=staff),
    )
