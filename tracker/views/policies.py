"""Policy pages: the filtered list and the full record."""
from __future__ import annotations

from flask import Blueprint, current_app, render_template

from tracker.config import local_today
from tracker.pagination import PageRequest
from tracker.services import as_of as as_of_service
from tracker.services import consultations
from tracker.services import documents as document_service
from tracker.services import policies as policy_service
from tracker.views.cache import cached_page
from tracker.views.citing import citation_of, cite_panel, download
from tracker.views.security import include_unpublished
from tracker.views.support import db_session, query_args

bp = Blueprint("policies", __name__, url_prefix="/policies")


def page_request(args: dict[str, list[str]], *, allow_empty: bool = True) -> PageRequest:
    """The page asked for by ``page`` and ``per_page`` (last value wins)."""
    return PageRequest.parse(args.get("page", [None])[-1], args.get("per_page", [None])[-1],
                             default=current_app.config["PER_PAGE"], maximum=current_app.config["MAX_PER_PAGE"],
                             allow_empty=allow_empty)


@bp.get("")
@cached_page
def index():
    session = db_session()
    args = query_args()
    choices = policy_service.filter_choices(session)
    flt = policy_service.parse_policy_filter(args, choices)
    page = policy_service.list_policy_summaries(session, flt, page_request(args),
                                                include_unpublished=include_unpublished())
    return render_template("policies/list.html", page=page, flt=flt, choices=choices, sorts=policy_service.SORTS)


@bp.get("/<key>")
@cached_page
def detail(key: str):
    session = db_session()
    staff = include_unpublished()
    as_of = as_of_service.parse_as_of(query_args(), local_today())
    policy = policy_service.get_policy(session, key, include_unpublished=staff)
    outgoing, incoming = policy_service.visible_relations(policy, staff)
    documents = document_service.documents_of(session, policy)
    comment = consultations.comment_period(policy, local_today())
    draft = None
    if comment is not None and comment.step.comment_draft_document_id is not None:
        draft = next((d for d in documents if d.id == comment.step.comment_draft_document_id), None)
    warnings = consultations.lao_record_warnings(
        policy, consultation_min_days=current_app.config["CONSULTATION_MIN_DAYS"],
        gazette_min_days=current_app.config["GAZETTE_MIN_DAYS"]) if staff else []
    status_then = as_of_service.status_on_day(policy.status_changes, policy.valid_from, as_of.day) if as_of else None
    return render_template(
        "policies/detail.html", policy=policy, outgoing=outgoing, incoming=incoming, as_of=as_of,
        status_then=status_then,
        forum_links=policy_service.visible_forum_links(policy.forum_links, staff, side="event"),
        documents=documents, cite=cite_panel(policy), comment=comment, comment_draft=draft,
        record_warnings=warnings,
    )


@bp.get("/<key>/cite.<any(bib, ris, json):extension>")
def cite(key: str, extension: str):
    policy = policy_service.get_policy(db_session(), key, include_unpublished=include_unpublished())
    return download(citation_of(policy), extension)
