"""One place that turns domain errors and HTTP errors into pages or JSON, never a traceback."""
from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask, jsonify, make_response, render_template
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException, InternalServerError

from tracker.db import is_busy, is_transient_conflict
from tracker.errors import DomainError, Invalid, TooManyRequests
from tracker.i18n import translate_known
from tracker.translation import gettext as _
from tracker.translation import lazy_gettext as _l
from tracker.views.support import wants_json

if TYPE_CHECKING:
    from collections.abc import Mapping

    from tracker.errors import FieldError

_TITLES = {
    400: _l("The request could not be understood"),
    401: _l("Sign-in needed"),
    403: _l("Not allowed"),
    404: _l("Not found"),
    405: _l("Method not allowed"),
    409: _l("The record changed meanwhile"),
    413: _l("Too large"),
    415: _l("Unsupported content type"),
    428: _l("The version of the record is needed"),
    429: _l("Too many attempts"),
    503: _l("Temporarily unavailable"),
    500: _l("Something went wrong on our side"),
}
# Werkzeug's own descriptions of the HTTP errors, shown when a view gives none of its own. They are English
# text from the library; the reader gets ours, in their language.
_DESCRIPTIONS = {
    400: _l("The browser (or proxy) sent a request that this server could not understand."),
    401: _l("You need to log in to do this."),
    403: _l("You do not have the permission to see or do this."),
    404: _l("The page was not found on the server. If you typed the address, please check the spelling."),
    405: _l("The method is not allowed for the requested URL."),
    413: _l("The data sent is larger than the server accepts."),
    415: _l("The server does not support the media type sent."),
    429: _l("Too many requests in a short time. Please wait a little and try again."),
    503: _l("The service is temporarily unavailable. Please try again later."),
}


def error_response(status: int, message: str, errors: Mapping[str, str | FieldError] | None = None, headers=None):
    """A JSON error for API clients, an HTML page for people."""
    if wants_json():
        body: dict = {"error": {"status": status, "title": str(_TITLES.get(status, _("Error"))),
                                "message": str(message)}}
        if errors:
            body["error"]["errors"] = {name: str(problem) for name, problem in errors.items()}
        response = jsonify(body)
    else:
        response = make_response(render_template(
            "errors/error.html", status=status, title=_TITLES.get(status, _("Error")), message=message,
            errors=errors or {}))
    response.status_code = status
    for name, value in headers or ():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def _description(error: HTTPException) -> str:
    """The view's own message (already translated where it was raised), else ours for the status."""
    status = error.code or 500
    if error.description and error.description != type(error).description:
        # A library's own message (e.g. Flask-WTF's CSRF errors) is in the catalogue; ours are translated.
        return translate_known(error.description)
    return str(_DESCRIPTIONS.get(status) or _TITLES.get(status) or _("Error"))


def register_error_handlers(app: Flask) -> None:
    """Map DomainError and every HTTPException to error_response."""

    @app.errorhandler(DomainError)
    def _domain_error(error: DomainError):
        errors = error.errors if isinstance(error, Invalid) else None
        headers = [("Retry-After", str(error.retry_after))] if isinstance(error, TooManyRequests) else None
        return error_response(error.status_code, error.message, errors, headers)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        if isinstance(error, InternalServerError):
            return _server_error(error)
        status = error.code or 500
        return error_response(status, _description(error), headers=error.get_headers())

    @app.errorhandler(DBAPIError)
    def _database_error(error: DBAPIError):
        if is_transient_conflict(error):
            # A write that kept losing a deadlock or serialization race (after retries): nothing was saved.
            return error_response(409, _("Another change to the same record was being saved at the same moment; "
                                         "nothing of yours was saved. Please try again."))
        if is_busy(error):
            # SQLite waited its whole busy timeout for another writer: a moment of overload, not a fault.
            app.logger.warning("The database stayed locked by another writer for the whole busy timeout")
            return error_response(503, _("The tracker is busy saving other changes; nothing of yours was saved. "
                                         "Please try again in a few seconds."), headers=[("Retry-After", "5")])
        return _server_error(error)

    @app.errorhandler(Exception)
    def _server_error(error: Exception):
        app.logger.exception("Unhandled error", exc_info=error)
        return error_response(500, _("The error was logged. Please try again later."))
