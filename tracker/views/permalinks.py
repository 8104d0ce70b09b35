"""Old addresses of policies and events: a GET at a key the record had before is sent on to its current key."""
from __future__ import annotations

from typing import Any

from flask import Flask, Response, request, url_for

from tracker.errors import NotFound
from tracker.services import permalinks
from tracker.views.errors import error_response
from tracker.views.security import include_unpublished
from tracker.views.support import db_session

# The address of every page, download and API read of a record begins with one of these (after /api/v1).
_RECORD_PREFIXES = {"/policies/<key>": "policy", "/events/<key>": "event"}
API_PREFIX = "/api/v1"


def init_permalinks(app: Flask) -> None:
    """Answer a record that is not found at an old key of a record with a 301 to its current key.

    Only a miss pays for the lookup: a request at a current key never reads the aliases."""

    @app.errorhandler(NotFound)
    def _not_found(error: NotFound):
        moved = moved_url()
        if moved is None:
            return error_response(error.status_code, error.message)
        response = Response(status=301, headers={"Location": moved})
        # A new record may take the old key one day, and then the address is its: clients ask again.
        response.headers["Cache-Control"] = "no-cache"
        return response


def moved_url() -> str | None:
    """The same GET at the current key of the record whose old key the request names, if any."""
    rule = request.url_rule
    key = (request.view_args or {}).get("key")
    if request.method not in ("GET", "HEAD") or rule is None or not isinstance(key, str):
        return None
    path = rule.rule.removeprefix(API_PREFIX)
    kind = next((kind for prefix, kind in _RECORD_PREFIXES.items()
                 if path == prefix or path.startswith(prefix + "/")), None)
    if kind is None:
        return None
    current = permalinks.current_key(db_session(), kind, key, include_unpublished=include_unpublished())
    if current is None or request.endpoint is None:
        return None
    # Any, as url_for's **values: mypy would check the query's lists against _anchor, _external and the like.
    values: dict[str, Any] = {**(request.view_args or {}), "key": current}
    values |= {name: request.args.getlist(name) for name in request.args if name not in values}
    return url_for(request.endpoint, **values)
