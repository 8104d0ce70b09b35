"""Retention: what `flask ops prune` removes from the tables that only grow, kind by kind, and the bound used.

Every kind is pruned in the caller's one transaction; a dry run is the same work rolled back by the caller,
so it reports exactly what a real run would remove at that moment.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, select
from sqlalchemy.orm import Session

from tracker.models import AuditEntry, ManageLinkRequest, RequestCount, SearchChange
from tracker.models.search_replica import SearchLogPrune, SearchReplica
from tracker.models.types import utcnow
from tracker.models.worker_heartbeat import WorkerHeartbeat
from tracker.notifications import retention as notification_retention
from tracker.services.accounts import prune_login_throttles
from tracker.services.subscriptions import MANAGE_WINDOW


@dataclass(frozen=True)
class PruneLine:
    """One kind of row: how many were (or would be) removed, and the bound that decided it."""

    kind: str
    rows: int
    bound: str


@dataclass(frozen=True)
class RetentionSettings:
    """The settings prune reads."""

    search_changes_keep_days: int
    replica_forget_seconds: float
    notify_keep_days: int
    worker_forget_seconds: float = 24 * 3600.0

    @classmethod
    def from_config(cls, config: Any) -> RetentionSettings:
        return cls(int(config["SEARCH_CHANGES_KEEP_DAYS"]), float(config["SEARCH_REPLICA_FORGET_SECONDS"]),
                   int(config["NOTIFY_KEEP_DAYS"]), float(config["WORKER_FORGET_SECONDS"]))


def _deleted(session: Session, statement: Any) -> int:
    result = cast("CursorResult[Any]", session.execute(statement, execution_options={"synchronize_session": False}))
    return int(result.rowcount or 0)


def prune_search_replicas(session: Session, forget_seconds: float, now: dt.datetime) -> PruneLine:
    """Forget the replicas silent for longer than ``forget_seconds`` (their indexes must then be rebuilt)."""
    cutoff = now - dt.timedelta(seconds=forget_seconds)
    rows = _deleted(session, delete(SearchReplica).where(SearchReplica.heartbeat_at < cutoff))
    return PruneLine("search_replicas", rows, f"silent since before {cutoff:%Y-%m-%d %H:%M} UTC "
                                              f"(SEARCH_REPLICA_FORGET_SECONDS={forget_seconds:g}); they must rebuild")


def prune_search_changes(session: Session, keep_days: int, now: dt.datetime) -> PruneLine:
    """Delete change-log rows every live replica has applied and older than ``keep_days``, and record the highest
    id removed (an index below it can never catch up: it says so and is rebuilt). Call it after
    prune_search_replicas, so that forgotten replicas do not hold the log back."""
    lowest = session.scalar(select(func.min(SearchReplica.complete_through)))
    replicas = session.scalar(select(func.count()).select_from(SearchReplica)) or 0
    if not replicas or lowest is None:
        return PruneLine("search_changes", 0, "none: no search replica is registered, so none is known to have "
                                              "applied the log (run `flask search ensure` or start the indexer)")
    newest = session.scalar(select(func.max(SearchChange.id))) or 0
    # The newest row always stays: SQLite hands out max(id)+1 next, and ids counted from 1 again after the
    # whole table went would be taken as already applied by every index.
    bound = min(int(lowest), newest - 1)
    cutoff = now - dt.timedelta(days=keep_days)
    condition = (SearchChange.id <= bound) & (SearchChange.changed_at < cutoff)
    highest = session.scalar(select(func.max(SearchChange.id)).where(condition))
    rows = _deleted(session, delete(SearchChange).where(condition)) if highest is not None else 0
    if rows:
        assert highest is not None  # rows were deleted, so there was a highest
        session.add(SearchLogPrune(pruned_through=highest, rows=rows, pruned_at=now))
        session.flush()
    return PruneLine("search_changes", rows, f"id <= {bound} (lowest position of {replicas} replica(s)) and "
                                             f"older than {keep_days} days (SEARCH_CHANGES_KEEP_DAYS)")


def prune_worker_heartbeats(session: Session, forget_seconds: float, now: dt.datetime) -> PruneLine:
    """Delete the reports of workers silent for longer than ``forget_seconds`` (killed: a clean stop deletes its
    own); a worker still running that was only frozen registers again at its next heartbeat."""
    cutoff = now - dt.timedelta(seconds=forget_seconds)
    rows = _deleted(session, delete(WorkerHeartbeat).where(WorkerHeartbeat.last_seen_at < cutoff))
    return PruneLine("worker_heartbeats", rows, f"silent since before {cutoff:%Y-%m-%d %H:%M} UTC "
                                                f"(WORKER_FORGET_SECONDS={forget_seconds:g})")


def prune_request_counts(session: Session, now: dt.datetime) -> PruneLine:
    """Delete request counters whose window has ended (a new request would start a new one anyway)."""
    rows = _deleted(session, delete(RequestCount).where(RequestCount.window_ends_at <= now))
    return PruneLine("request_counts", rows, "window ended")


def prune_manage_link_requests(session: Session, now: dt.datetime) -> PruneLine:
    """Delete requests for a subscription-management link older than the window they count in."""
    cutoff = now - MANAGE_WINDOW
    rows = _deleted(session, delete(ManageLinkRequest).where(ManageLinkRequest.requested_at <= cutoff))
    return PruneLine("manage_link_requests", rows, f"older than {MANAGE_WINDOW.total_seconds() / 3600:g} hours")


def prune(session: Session, settings: RetentionSettings, *, now: dt.datetime | None = None) -> list[PruneLine]:
    """Prune every kind in ``session``'s transaction (the caller commits, or rolls back for a dry run)."""
    now = now or utcnow()
    lines = [prune_search_replicas(session, settings.replica_forget_seconds, now),
             prune_search_changes(session, settings.search_changes_keep_days, now)]
    lines.append(PruneLine("login_throttles", prune_login_throttles(session, now),
                           "a day past the last failure and not locked; known addresses after 90 days"))
    lines.append(prune_request_counts(session, now))
    lines.append(prune_worker_heartbeats(session, settings.worker_forget_seconds, now))
    lines.append(prune_manage_link_requests(session, now))
    removed = notification_retention.prune(session, keep_days=settings.notify_keep_days, now=now)
    lines.append(PruneLine("deliveries", removed.deliveries + removed.attempts,
                           f"{removed.deliveries} delivered over {settings.notify_keep_days} days ago "
                           f"(NOTIFY_KEEP_DAYS) or of expired subscriptions, with {removed.attempts} attempts; "
                           f"dead and failed stay"))
    lines.append(PruneLine("subscriptions", removed.subscriptions, "email never confirmed, confirmation link expired"))
    audit = session.scalar(select(func.count(AuditEntry.id))) or 0
    lines.append(PruneLine("audit_entries", 0, f"never pruned: the audit trail is kept whole ({audit} entries)"))
    return lines
