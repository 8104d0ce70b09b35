"""Log lines of the process: text or JSON (LOG_FORMAT) on standard error, each line of a request with its id.

A request's id is the client's (or the proxy's) ``X-Request-Id`` when that is short and plain, else a new
one; it is sent back in the response's ``X-Request-Id`` and put on every line logged while the request runs,
so an operator can find all lines of one request, and the line a proxy logged for it.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sys
import time
import uuid
from typing import Any, TextIO

from flask import Flask, Response, g, has_request_context, request

REQUEST_ID_HEADER = "X-Request-Id"
# Letters, digits and . _ : - only, at most 128: nothing that could forge a log line or a header.
VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
REQUEST_LOGGER = "tracker.request"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
# What every LogRecord has: the rest of a record's attributes are fields given with ``extra=``.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
_REQUEST_FIELDS = ("request_id", "method", "path")


class _StandardError(logging.StreamHandler):
    """Writes to the standard error of the moment (a test runner swaps it), or to the stream it is given."""

    tracker_handler = True

    def __init__(self) -> None:
        self._given: TextIO | None = None
        super().__init__()

    @property
    def stream(self) -> TextIO:
        return self._given or sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        self._given = None if value is sys.stderr else value


class RequestContext(logging.Filter):
    """Puts the id, method and path of the request being answered on each record logged while it runs."""

    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context():
            record.request_id = request_id()
            record.method = request.method
            record.path = request.path
        return True


class TextFormatter(logging.Formatter):
    """One line for people: time, level, logger, [request id] and the message."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "request_id"):
            record.request_id = "-"
        return super().format(record)


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, the request's fields when there is a request,
    fields given with ``extra=`` (status, duration_ms, a job's id), and the exception's text."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name not in _RECORD_ATTRIBUTES and not name.startswith("_"):
                entry[name] = value if isinstance(value, (str, int, float, bool, type(None))) else str(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(log_format: str, level: int = logging.INFO) -> logging.Handler:
    """Send the process's log lines (every logger but those that keep their own, like gunicorn's) to standard
    error in ``log_format``; called again, replaces what it set up before. Returns the handler."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "tracker_handler", False):
            root.removeHandler(handler)
    handler = _StandardError()
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(RequestContext())
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > level:
        root.setLevel(level)
    # Alembic announces each plugin and its dialect at INFO on every start: `flask db upgrade` says what it did.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # Flask would add its own handler to the app's logger when none is set up: the root's is.
    from flask.logging import default_handler

    logging.getLogger("tracker").removeHandler(default_handler)
    return handler


def tracker_handler() -> logging.Handler | None:
    """The handler configure_logging installed, if any."""
    return next((handler for handler in logging.getLogger().handlers if getattr(handler, "tracker_handler", False)),
                None)


def request_id() -> str:
    """The id of the request being answered: the valid one it came with, else a new one (kept for the request)."""
    found = g.get("request_id")
    if found is None:
        given = request.headers.get(REQUEST_ID_HEADER, "")
        found = given if VALID_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        g.request_id = found
    return found


def init_request_logging(app: Flask) -> None:
    """Give every request its id (and send it back), and log one line for each request answered. Registered
    before the other hooks, so its line comes last, with the status the client gets."""
    app.before_request(_start)
    app.after_request(_finish)


def _start() -> None:
    request_id()
    g.log_started = time.perf_counter()


def _finish(response: Response) -> Response:
    response.headers[REQUEST_ID_HEADER] = request_id()
    started = g.pop("log_started", None)
    duration_ms = round((time.perf_counter() - started) * 1000, 1) if started is not None else None
    logging.getLogger(REQUEST_LOGGER).info(
        "%s %s %s %sms", request.method, request.path, response.status_code, duration_ms,
        extra={"status": response.status_code, "duration_ms": duration_ms})
    return response
