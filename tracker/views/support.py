"""What every view shares: the request's database session, query arguments and content negotiation."""
from __future__ import annotations

from flask import current_app, g, request
from sqlalchemy.orm import Session

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def db_session() -> Session:
    """The request's one session; unsafe methods take the write lock at BEGIN (see tracker.db)."""
    session = g.get("db_session")
    if session is None:
        database = current_app.extensions["tracker.db"]
        session = database.session(write=request.method not in SAFE_METHODS)
        g.db_session = session
    return session


def close_db_session(_exc: BaseException | None = None) -> None:
    """Teardown: release the request's session; an uncommitted transaction is rolled back."""
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def query_args() -> dict[str, list[str]]:
    """The query string as lists, the shape the service parsers take."""
    return {name: request.args.getlist(name) for name in request.args}


def wants_json() -> bool:
    """API paths always answer in JSON; elsewhere only clients that prefer JSON over HTML do."""
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]
