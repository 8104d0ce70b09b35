"""One place that turns domain errors and HTTP errors into pages or JSON, never a traceback."""
from __future__ import annotations

from flask import Flask, jsonify, make_response, render_template
from werkzeug.exceptions import HTTPException, InternalServerError

from tracker.services.errors import DomainError, Invalid
from tracker.views.support import wants_json

_TITLES = {
    400: "The request could not be understood",
    401: "Sign-in needed",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    409: "The record changed meanwhile",
    413: "Too large",
    415: "Unsupported content type",
    428: "The version of the record is needed",
    429: "Too many attempts",
    503: "Temporarily unavailable",
    500: "Something went wrong on our side",
}


def error_response(status: int, message: str, errors: dict[str, str] | None = None, headers=None):
    """A JSON error for API clients, an HTML page for people."""
    if wants_json():
        body: dict = {"error": {"status": status, "title": _TITLES.get(status, "Error"), "message": message}}
        if errors:
            body["error"]["errors"] = errors
        response = jsonify(body)
    else:
        response = make_response(render_template(
            "errors/error.html", status=status, title=_TITLES.get(status, "Error"), message=message,
            errors=errors or {}))
    response.status_code = status
    for name, value in headers or ():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def register_error_handlers(app: Flask) -> None:
    """Map DomainError and every HTTPException to error_response."""

    @app.errorhandler(DomainError)
    def _domain_error(error: DomainError):
        errors = error.errors if isinstance(error, Invalid) else None
        return error_response(error.status_code, error.message, errors)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        if isinstance(error, InternalServerError):
            return _server_error(error)
        status = error.code or 500
        return error_response(status, error.description or _TITLES.get(status, "Error"),
                              headers=error.get_headers())

    @app.errorhandler(Exception)
    def _server_error(error: Exception):
        app.logger.exception("Unhandled error", exc_info=error)
        return error_response(500, "The error was logged. Please try again later.")
