"""The API reference page (/api): the OpenAPI document of /api/v1 rendered for people, in their language."""
from __future__ import annotations

import threading

from flask import Blueprint, current_app, render_template, request
from markupsafe import Markup

from tracker.i18n import N_, current_language
from tracker.search.request import MAX_QUERY_LENGTH
from tracker.services import policies as policy_service
from tracker.services.webhook_endpoints import MAX_ENDPOINTS_PER_USER, MAX_TESTS_PER_ENDPOINT_PER_HOUR
from tracker.views.api.openapi import openapi_document
from tracker.views.api_reference import api_text, build_reference
from tracker.views.cache import cached_page
from tracker.views.support import db_session

bp = Blueprint("api_docs", __name__)

# What each status code of the document means, in a few words (the operations say more).
STATUS_MEANINGS = {
    "200": N_("Done; the answer holds the result."),
    "201": N_("Created; the `Location` header gives its address."),
    "204": N_("Done; the answer has no body."),
    "301": N_("The record’s key has changed: the `Location` header gives the same request at its current key."),
    "304": N_("Not modified since the ETag you sent; no body."),
    "400": N_("The request is not valid: a parameter or field is wrong, and `error.errors` names it."),
    "401": N_("No token, or a token that is unknown, revoked, or of a disabled account."),
    "403": N_("The token's role may not do this."),
    "404": N_("No such record, or one you may not see; or a page past the last one."),
    "409": N_("The record changed since the version you sent, or the same thing exists already."),
    "413": N_("The body or the file is too large."),
    "415": N_("The body is not of the type the operation takes."),
    "428": N_("An edit without the version of the record it was based on."),
    "503": N_("Search is not available for a moment (its index is being built); try again later."),
}
# Where a parameter goes.
LOCATIONS = {"path": N_("in the path"), "query": N_("in the query string"), "header": N_("header")}

# The reference as HTML, per language, site address, countries and topics: the document changes only with a
# deploy (a restart) and with the countries and topics the database holds, which are part of the key.
_lock = threading.Lock()
_MAX_RENDERED = 16


@bp.app_template_filter("api_text")
def _api_text(text: object) -> Markup:
    return api_text(text)


@bp.get("/api")
@cached_page
def reference() -> str:
    choices = policy_service.filter_choices(db_session())
    # The address the reader used: the page is read, not sent, and its commands must work where it is read.
    site_url = str(current_app.config.get("PUBLIC_URL") or request.host_url).rstrip("/")
    key = (current_language(), site_url, tuple(choices.countries), tuple(choices.topics))
    rendered: dict[tuple[object, ...], Markup] = current_app.extensions.setdefault("tracker.api_reference", {})
    html = rendered.get(key)
    if html is None:
        document = openapi_document(list(choices.countries), list(choices.topics))
        html = Markup(render_template(
            "api/_reference.html", reference=build_reference(document, site_url), document=document,
            STATUS_MEANINGS=STATUS_MEANINGS, LOCATIONS=LOCATIONS, MAX_QUERY_LENGTH=MAX_QUERY_LENGTH,
            MAX_ENDPOINTS=MAX_ENDPOINTS_PER_USER, MAX_TESTS=MAX_TESTS_PER_ENDPOINT_PER_HOUR))
        with _lock:
            if len(rendered) >= _MAX_RENDERED:
                rendered.clear()
            rendered[key] = html
    return render_template("api/reference.html", reference_html=html)
