"""Whether this process is fit to serve readers: its database, the schema's revision, its search replica; and, for
monitoring only, the outbox and the background workers.

A load balancer polls this every few seconds on every host, so each check is a few indexed queries: no
table is scanned, counts of the search log are bounded, and the migrations folder is read once per process.
The answer names figures only, never an address, a path or an error's text (which may quote either).
"""
from __future__ import annotations

import datetime as dt
import functools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, case, func, or_, select, text, type_coerce
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from tracker import migrate
from tracker.models.notification import Delivery, DeliveryAttempt, NotificationEvent
from tracker.models.search_log import SearchChange
from tracker.models.types import UTCDateTime, utcnow
from tracker.models.worker_heartbeat import LIVE_INTERVALS, WORKER_KINDS, WorkerHeartbeat
from tracker.search.errors import SearchUnavailable
from tracker.search.index import IndexMissing, IndexState
from tracker.search.indexer import Indexer

if TYPE_CHECKING:
    from flask import Flask

# States of a delivery still to be sent.
WAITING_STATES = ("pending", "retrying")


@dataclass(frozen=True)
class ReadinessLimits:
    """How far behind the database this process's search replica may be and still take readers (0: no bound), and
    the workers' heartbeat interval (a worker is live for LIVE_INTERVALS of them after its last report)."""

    max_search_lag_changes: int = 1000
    max_search_lag_seconds: float = 120.0
    worker_heartbeat_seconds: float = 30.0

    @classmethod
    def from_config(cls, config: Any) -> ReadinessLimits:
        return cls(int(config["READY_MAX_SEARCH_LAG_CHANGES"]), float(config["READY_MAX_SEARCH_LAG_SECONDS"]),
                   float(config["WORKER_HEARTBEAT_SECONDS"]))


@dataclass
class Readiness:
    """Each check by name (its ``ok`` and its figures); ready when every check is ok."""

    checks: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return all(check["ok"] for check in self.checks.values())

    def as_json(self) -> dict[str, Any]:
        return {"status": "ready" if self.ready else "not ready", "checks": self.checks}


@functools.cache
def code_revisions() -> frozenset[str]:
    """The head revisions of the migrations this code ships (read from the migrations folder once per process)."""
    return frozenset(migrate.heads())


def embedded_workers(app: Flask) -> dict[str, bool]:
    """The workers this process's settings embed, each with whether its thread runs in this process now."""
    from tracker.documents.runtime import runtime_of as documents_runtime
    from tracker.notifications.runtime import runtime_of as notify_runtime

    notify, documents = notify_runtime(app), documents_runtime(app)
    running = {"notify": (notify.embedded, notify.thread_alive),
               "documents": (documents.embedded, documents.thread_alive)}
    return {kind: alive for kind, (embedded, alive) in running.items() if embedded}


def check_readiness(session: Session, indexers: Sequence[Indexer], limits: ReadinessLimits,
                    *, embedded: Mapping[str, bool] | None = None, now: dt.datetime | None = None) -> Readiness:
    """Run every check through ``session``. A database error fails the check it happened in, and the checks
    after it that need the database are reported as not run: never raised. ``embedded``: the workers this
    process embeds, each with whether its thread runs (embedded_workers)."""
    now = now or utcnow()
    readiness = Readiness()
    checks = readiness.checks
    database_ok = _run(checks, "database", lambda: _database(session))
    if not database_ok:
        for name in ("schema", "search", "notifications", "workers"):
            checks[name] = {"ok": False, "error": "not checked: the database is unavailable"}
        return readiness
    _run(checks, "schema", lambda: _schema(session))
    _run(checks, "search", lambda: _search(session, indexers, limits, now))
    # The outbox is shared by every host: a backlog is no reason to send readers elsewhere, so it is
    # reported (for monitoring) without making the host unready.
    _run(checks, "notifications", lambda: _notifications(session, now))
    # Workers are shared by every host too (and an embedded thread that is not running is a fault to alert on,
    # not one a reader would notice at once): figures for monitoring, never a reason to be unready.
    _run(checks, "workers", lambda: _workers(session, limits.worker_heartbeat_seconds, embedded or {}, now))
    return readiness


def _run(checks: dict[str, dict[str, Any]], name: str, check: Callable[[], dict[str, Any]]) -> bool:
    started = time.perf_counter()
    try:
        result = check()
    except SQLAlchemyError as error:
        # The class only: a driver's message may quote the database's address.
        result = {"ok": False, "error": f"database error ({error.__class__.__name__})"}
    result["ms"] = round((time.perf_counter() - started) * 1000, 1)
    checks[name] = result
    return bool(result["ok"])


def _database(session: Session) -> dict[str, Any]:
    session.execute(text("SELECT 1"))
    return {"ok": True}


def _schema(session: Session) -> dict[str, Any]:
    try:
        found = frozenset(session.scalars(text("SELECT version_num FROM alembic_version")))
    except SQLAlchemyError:
        found = frozenset()
    expected = code_revisions()
    result: dict[str, Any] = {"ok": found == expected, "database_revision": ",".join(sorted(found)) or None,
                              "code_revision": ",".join(sorted(expected))}
    if found != expected:
        result["error"] = ("the database is not migrated" if not found else
                           "the database is at another revision than this code's migrations")
    return result


def _search(session: Session, indexers: Sequence[Indexer], limits: ReadinessLimits,
            now: dt.datetime) -> dict[str, Any]:
    """The lag of each of this process's indexes (records, passages) behind the change log."""
    newest = session.scalar(select(func.max(SearchChange.id))) or 0
    result: dict[str, Any] = {"ok": True, "newest_change": newest, "indexes": {}}
    lags: dict[tuple[int, tuple[int, ...]], dict[str, Any]] = {}
    for indexer in indexers:
        name = indexer.corpus.name
        try:
            state = indexer.position()
        except SearchUnavailable as error:
            reason = "missing" if isinstance(error, IndexMissing) else "built for another schema version"
            result["indexes"][name] = {"ok": False, "error": f"the index is {reason}"}
            result["ok"] = False
            continue
        # Both indexes usually stand at the same place: the log is asked once for them.
        key = (state.high, tuple(sorted(state.gaps)))
        if key not in lags:
            lags[key] = _lag(session, state, newest, limits, now)
        figures = {"applied_change": state.high, **lags[key]}
        result["indexes"][name] = figures
        result["ok"] = result["ok"] and figures["ok"]
    return result


def _lag(session: Session, state: IndexState, newest: int, limits: ReadinessLimits,
         now: dt.datetime) -> dict[str, Any]:
    if newest <= state.high and not state.gaps:
        return {"ok": True, "pending_changes": 0, "oldest_pending_seconds": 0}
    condition = SearchChange.id > state.high
    if state.gaps:
        condition = or_(condition, SearchChange.id.in_(sorted(state.gaps)))
    # Counted no further than one past the bound (or a fixed cap without one): far behind is far enough.
    cap = (limits.max_search_lag_changes or 10000) + 1
    pending = session.scalar(select(func.count()).select_from(
        select(SearchChange.id).where(condition).order_by(SearchChange.id).limit(cap).subquery())) or 0
    oldest = session.scalar(select(SearchChange.changed_at).where(condition).order_by(SearchChange.id).limit(1))
    age = max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
    too_many = bool(limits.max_search_lag_changes) and pending > limits.max_search_lag_changes
    too_old = bool(limits.max_search_lag_seconds) and age > limits.max_search_lag_seconds
    figures: dict[str, Any] = {"ok": not (too_many or too_old), "pending_changes": pending,
                               "oldest_pending_seconds": round(age, 1)}
    if pending >= cap:
        figures["pending_changes_at_least"] = True
    if too_many or too_old:
        figures["error"] = "the index is further behind the database than the configured bound"
    return figures


def _notifications(session: Session, now: dt.datetime) -> dict[str, Any]:
    """The outbox's backlog and the last time any worker tried a delivery (an idle outbox has none to show, and
    that is no fault: the workers' heartbeats are the sign of life, see _workers)."""
    due = and_(Delivery.next_attempt_at.is_not(None), Delivery.next_attempt_at <= now)
    row = session.execute(
        select(func.count(case((Delivery.state == "pending", 1))),
               func.count(case((Delivery.state == "retrying", 1))),
               func.count(case((due, 1))),
               type_coerce(func.min(case((due, Delivery.next_attempt_at))), UTCDateTime))
        .where(Delivery.state.in_(WAITING_STATES))).one()
    pending, retrying, due_count, oldest_due = row
    events_waiting = session.scalar(select(func.count()).select_from(NotificationEvent)
                                    .where(NotificationEvent.fanned_out_at.is_(None))) or 0
    last_attempt = session.scalar(select(DeliveryAttempt.attempted_at).order_by(DeliveryAttempt.id.desc()).limit(1))
    return {
        "ok": True, "pending": pending, "retrying": retrying, "due": due_count,
        "oldest_due_seconds": _age(now, oldest_due), "events_waiting": events_waiting,
        "last_attempt_at": _iso(last_attempt), "last_attempt_seconds": _age(now, last_attempt),
    }


def _workers(session: Session, heartbeat_seconds: float, embedded: Mapping[str, bool],
             now: dt.datetime) -> dict[str, Any]:
    """Per kind of worker: how many reported within LIVE_INTERVALS heartbeats (live), how many reports are older
    (stale: killed workers, until `flask ops prune` forgets them), the age of the freshest report; and for the
    kinds this process embeds, whether its own thread runs. One query for every kind."""
    live_since = now - dt.timedelta(seconds=LIVE_INTERVALS * heartbeat_seconds)
    rows = session.execute(
        select(WorkerHeartbeat.kind, func.count(case((WorkerHeartbeat.last_seen_at >= live_since, 1))),
               func.count(), type_coerce(func.max(WorkerHeartbeat.last_seen_at), UTCDateTime))
        .group_by(WorkerHeartbeat.kind)).all()
    found = {kind: (live, total, freshest) for kind, live, total, freshest in rows}
    kinds: dict[str, dict[str, Any]] = {}
    for kind in sorted({*WORKER_KINDS, *found}):
        live, total, freshest = found.get(kind, (0, 0, None))
        figures: dict[str, Any] = {"live": live, "stale": total - live,
                                   "freshest_heartbeat_seconds": _age(now, freshest), "embedded_here": kind in embedded}
        if kind in embedded:
            figures["thread_alive"] = embedded[kind]
        kinds[kind] = figures
    return {"ok": True, "heartbeat_seconds": heartbeat_seconds,
            "live_within_seconds": LIVE_INTERVALS * heartbeat_seconds, "kinds": kinds}


def _age(now: dt.datetime, then: dt.datetime | None) -> float | None:
    if then is None:
        return None
    return round(max(0.0, (now - then).total_seconds()), 1)


def _iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
