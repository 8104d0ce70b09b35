"""Blueprints and the web plumbing around them: sessions, errors, template helpers, security headers."""
from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, has_request_context, request, url_for
from sqlalchemy.exc import DBAPIError

from tracker.db import is_transient_conflict
from tracker.forms import error_links
from tracker.forms.widgets import combine_attrs, field_block, row_fields
from tracker.lao import keep_words_whole
from tracker.models import vocab
from tracker.models.proposal import PROPOSAL_STATES
from tracker.models.user import ROLES
from tracker.services.documents import explain_reason
from tracker.services.permissions import can_edit_record, has_permission
from tracker.services.policy_targets import target_text
from tracker.views.assets import init_assets, static_url
from tracker.views.errors import register_error_handlers
from tracker.views.language import init_language_switch
from tracker.views.permalinks import init_permalinks
from tracker.views.security import csrf, init_security
from tracker.views.support import SAFE_METHODS, close_db_session, db_session

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def register_views(app: Flask) -> None:
    """Register every blueprint, the error handlers and what templates need."""
    from tracker.views.request_body import BoundedRequest

    app.request_class = BoundedRequest
    from tracker.views.api import bp as api_bp
    from tracker.views.api_docs import bp as api_docs_bp
    from tracker.views.auth import bp as auth_bp
    from tracker.views.calendar import bp as calendar_bp
    from tracker.views.compare import bp as compare_bp
    from tracker.views.compare_policies import init_comparison
    from tracker.views.dashboard import bp as dashboard_bp
    from tracker.views.data import bp as data_bp
    from tracker.views.documents import bp as documents_bp
    from tracker.views.downloads import bp as downloads_bp
    from tracker.views.editing import bp as editing_bp
    from tracker.views.events import bp as events_bp
    from tracker.views.feeds import bp as feeds_bp
    from tracker.views.health import bp as health_bp
    from tracker.views.imports import bp as imports_bp
    from tracker.views.job_log import init_job_log
    from tracker.views.metrics import bp as metrics_bp
    from tracker.views.metrics import init_metrics
    from tracker.views.notify import bp as notify_bp
    from tracker.views.organisations import bp as organisations_bp
    from tracker.views.pages import bp as pages_bp
    from tracker.views.policies import bp as policies_bp
    from tracker.views.review import bp as review_bp
    from tracker.views.search import bp as search_bp

    app.register_blueprint(pages_bp)
    app.register_blueprint(policies_bp)
    app.register_blueprint(events_bp)
    app.register_blueprint(search_bp)
    app.register_blueprint(dashboard_bp)
    app.register_blueprint(compare_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(api_docs_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(editing_bp)
    app.register_blueprint(feeds_bp)
    app.register_blueprint(calendar_bp)
    app.register_blueprint(notify_bp)
    app.register_blueprint(organisations_bp)
    app.register_blueprint(review_bp)
    app.register_blueprint(documents_bp)
    app.register_blueprint(downloads_bp)
    app.register_blueprint(imports_bp)
    app.register_blueprint(data_bp)
    app.register_blueprint(health_bp)
    app.register_blueprint(metrics_bp)
    # Before the other hooks of the views, so that a request's time includes theirs.
    init_metrics(app)
    init_job_log()
    init_comparison(app)
    init_language_switch(app)
    init_security(app)
    # The API authenticates by bearer token only (never by cookie), so cross-site forms cannot use it.
    csrf.exempt(api_bp)
    # Probes of load balancers and monitors: no form, no cookie, nothing to forge.
    csrf.exempt(health_bp)
    csrf.exempt(metrics_bp)
    app.teardown_appcontext(close_db_session)
    register_error_handlers(app)
    init_permalinks(app)
    for endpoint, view in list(app.view_functions.items()):
        app.view_functions[endpoint] = _retry_transient_conflicts(view)
    from tracker.views.rate_limits import init_rate_limits

    # Around the retries, so that a request counts once however many times its transaction is retried.
    init_rate_limits(app)
    _register_template_helpers(app)
    app.after_request(_security_headers)


# Times a write request is run again after its transaction lost a deadlock or a serialization race.
TRANSIENT_RETRIES = 3


def _retry_transient_conflicts(view: Callable) -> Callable:
    """Run a write request again (a few times, after a short random pause) when the database aborted
    its transaction to break a deadlock or a serialization race: nothing of it was committed, and the
    same request usually succeeds at once. If it keeps losing, the error handler answers 409."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if request.method in SAFE_METHODS:
            return view(*args, **kwargs)
        for attempt in range(TRANSIENT_RETRIES + 1):
            try:
                return view(*args, **kwargs)
            except DBAPIError as error:
                if not is_transient_conflict(error) or attempt == TRANSIENT_RETRIES:
                    raise
                db_session().rollback()
                time.sleep(random.uniform(0.005, 0.03) * 2 ** attempt)
        raise AssertionError("unreachable")

    return wrapper


def _security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    if request.path.startswith("/api/"):
        response.headers.setdefault("Access-Control-Allow-Origin", "*")
    return response


def _register_template_helpers(app: Flask) -> None:
    from tracker.views.citing import citation_markup
    from tracker.views.filter_fields import checkbox_filter
    from tracker.views.policy_rows import policy_rows, policy_rows_html

    # Static files are linked by fingerprinted names (see tracker.views.assets), cached for a year.
    init_assets(app)

    def url_with(**changes) -> str:
        """The current URL with some query parameters replaced (None removes one)."""
        # Any, as url_for's **values: mypy would check the lists against _anchor, _external and the like.
        args: dict[str, Any] = {name: request.args.getlist(name) for name in request.args}
        for name, value in changes.items():
            if value is None:
                args.pop(name, None)
            else:
                args[name] = [str(value)]
        return url_for(request.endpoint or "pages.home", **(request.view_args or {}), **args)

    def download_url(endpoint: str) -> str:
        """A download of what the current page lists: its filters, without the page asked for."""
        args: dict[str, Any] = {name: request.args.getlist(name) for name in request.args
                                if name not in ("page", "per_page")}
        return url_for(endpoint, **args)

    # Addresses of pages without parameters (the menu, the footer: a dozen on every page), worked out once
    # per script root rather than matched against the URL map on every page.
    plain_addresses: dict[tuple[str, str], str] = {}

    def template_url_for(endpoint: str, **values: Any) -> str:
        """url_for, for templates."""
        if values or endpoint.startswith(".") or not has_request_context():
            return url_for(endpoint, **values)
        key = (request.script_root, endpoint)
        address = plain_addresses.get(key)
        if address is None:
            if len(plain_addresses) > 10_000:  # a bound, whatever script roots a proxy sends
                plain_addresses.clear()
            address = plain_addresses[key] = url_for(endpoint)
        return address

    app.jinja_env.globals.update(
        url_for=template_url_for, citation_markup=citation_markup, policy_rows=policy_rows,
        policy_rows_html=policy_rows_html, checkbox_filter=checkbox_filter,
        static_url=static_url, url_with=url_with, download_url=download_url, vocab=vocab,
        LEGAL_STATUSES=vocab.LEGAL_STATUSES, INSTRUMENTS=vocab.INSTRUMENTS,
        VEHICLE_CLASSES=vocab.VEHICLE_CLASSES, RELATION_TYPES=vocab.RELATION_TYPES,
        FORUM_ROLES=vocab.FORUM_ROLES, SOURCE_KINDS=vocab.SOURCE_KINDS, BODY_ROLES=vocab.BODY_ROLES,
        EVENT_KINDS=vocab.EVENT_KINDS, ORGANISATION_KINDS=vocab.ORGANISATION_KINDS, EVENT_ROLES=vocab.EVENT_ROLES,
        PROPOSAL_STATES=PROPOSAL_STATES,
        CONFIDENCE_LEVELS=vocab.CONFIDENCE_LEVELS, EDITORIAL_STATES=vocab.EDITORIAL_STATES,
        DOCUMENT_ROLES=vocab.DOCUMENT_ROLES, DOCUMENT_LANGUAGES=vocab.DOCUMENT_LANGUAGES,
        EXTRACTION_STATUSES=vocab.EXTRACTION_STATUSES, TARGET_METRICS=vocab.TARGET_METRICS, target_text=target_text,
        ROLES=ROLES, can=has_permission, can_edit_record=can_edit_record, error_links=error_links,
        form_field=field_block, row_fields=row_fields,
    )
    app.jinja_env.filters["combine_attrs"] = combine_attrs
    app.jinja_env.filters["lao_words"] = keep_words_whole
    app.jinja_env.filters["extraction_reason"] = explain_reason
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
