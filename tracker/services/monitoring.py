"""Figures read from the database when Prometheus scrapes: search replica lag, outbox backlog, workers, extraction jobs.

One short read session per scrape runs the readiness checks (tracker.services.readiness: a few indexed
queries, the same figures /readyz shows) and one count of attached texts by extraction state.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from tracker.models import Document
from tracker.models.vocab import EXTRACTION_STATUSES
from tracker.search.indexer import Indexer
from tracker.services.readiness import WAITING_STATES, ReadinessLimits, check_readiness


class DatabaseCollector:
    """A Prometheus collector reading the database each time it is collected (never stored between scrapes)."""

    def __init__(self, sessions: Callable[[], Session], indexers: Sequence[Indexer], limits: ReadinessLimits,
                 *, embedded: Mapping[str, bool] | None = None) -> None:
        self.sessions = sessions
        self.indexers = indexers
        self.limits = limits
        self.embedded = embedded  # the workers this process embeds, each with whether its thread runs

    def collect(self) -> Iterator[Metric]:
        with self.sessions() as session:
            readiness = check_readiness(session, self.indexers, self.limits, embedded=self.embedded)
            checks = readiness.checks
            database_up = bool(checks["database"]["ok"])
            yield _gauge("tracker_database_up", "1 when the database answered this scrape, else 0.",
                         float(database_up))
            yield _gauge("tracker_ready", "1 when this process would answer /readyz with 200, else 0.",
                         float(readiness.ready))
            yield from _search(checks["search"])
            yield from _outbox(checks["notifications"])
            yield from _workers(checks["workers"])
            if database_up:
                yield from _extractions(session)
            session.rollback()


def _gauge(name: str, documentation: str, value: float | None = None, labels: Sequence[str] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value, labels=labels or None)


def _search(check: dict[str, Any]) -> Iterator[Metric]:
    changes = _gauge("tracker_search_lag_changes",
                     "Change-log rows this process's search index has not applied yet, by index (counted up to "
                     "one past TRACKER_READY_MAX_SEARCH_LAG_CHANGES, or 10001 without that bound).",
                     labels=("index",))
    seconds = _gauge("tracker_search_lag_seconds",
                     "Age in seconds of the oldest change this process's search index has not applied, by index.",
                     labels=("index",))
    usable = _gauge("tracker_search_index_up",
                    "1 when this process's search index can be read (present, of this schema version), by index.",
                    labels=("index",))
    for name, figures in sorted(check.get("indexes", {}).items()):
        usable.add_metric([name], 0.0 if "applied_change" not in figures else 1.0)
        if "pending_changes" in figures:
            changes.add_metric([name], float(figures["pending_changes"]))
            seconds.add_metric([name], float(figures["oldest_pending_seconds"]))
    yield from (changes, seconds, usable)


def _outbox(check: dict[str, Any]) -> Iterator[Metric]:
    if "pending" not in check:  # the database did not answer: no figure rather than a false zero
        return
    backlog = _gauge("tracker_outbox_deliveries",
                     "Notification deliveries waiting to be sent, by state (pending, retrying).", labels=("state",))
    for state in WAITING_STATES:
        backlog.add_metric([state], float(check[state]))
    yield backlog
    yield _gauge("tracker_outbox_due_deliveries", "Waiting deliveries whose next attempt is due now.",
                 float(check["due"]))
    yield _gauge("tracker_outbox_oldest_due_seconds",
                 "Seconds since the oldest due delivery became due (0 when none is due).",
                 float(check["oldest_due_seconds"] or 0.0))
    yield _gauge("tracker_outbox_events_not_fanned_out",
                 "Notification events the worker has not yet turned into deliveries.", float(check["events_waiting"]))
    if check["last_attempt_seconds"] is not None:
        yield _gauge("tracker_outbox_last_attempt_seconds",
                     "Seconds since any worker last tried to send a delivery (absent before the first attempt).",
                     float(check["last_attempt_seconds"]))


def _workers(check: dict[str, Any]) -> Iterator[Metric]:
    if "kinds" not in check:  # the database did not answer: no figure rather than a false zero
        return
    live = _gauge("tracker_workers_live",
                  "Background workers (of every host) that reported within three heartbeat intervals, by kind "
                  "(notify, documents).", labels=("kind",))
    stale = _gauge("tracker_workers_stale",
                   "Worker reports older than three heartbeat intervals (killed workers, until `flask ops prune` "
                   "forgets them), by kind.", labels=("kind",))
    age = _gauge("tracker_worker_heartbeat_age_seconds",
                 "Seconds since the freshest report of any worker of the kind (absent when none has reported).",
                 labels=("kind",))
    thread = _gauge("tracker_worker_thread_up",
                    "1 when this process's embedded worker thread runs, else 0, by kind (only kinds this process's "
                    "settings embed).", labels=("kind",))
    for kind, figures in sorted(check["kinds"].items()):
        live.add_metric([kind], float(figures["live"]))
        stale.add_metric([kind], float(figures["stale"]))
        if figures["freshest_heartbeat_seconds"] is not None:
            age.add_metric([kind], float(figures["freshest_heartbeat_seconds"]))
        if "thread_alive" in figures:
            thread.add_metric([kind], float(figures["thread_alive"]))
    yield from (live, stale, age, thread)


def _extractions(session: Session) -> Iterator[Metric]:
    try:
        counts = dict(session.execute(select(Document.status, func.count()).group_by(Document.status)).all())
    except SQLAlchemyError:
        session.rollback()
        return
    jobs = _gauge("tracker_document_extractions",
                  "Attached texts by state of their text extraction (pending and extracting are the queue).",
                  labels=("state",))
    for state in EXTRACTION_STATUSES:
        jobs.add_metric([state], float(counts.get(state, 0)))
    yield jobs
