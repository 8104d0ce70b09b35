"""The background workers running now: each process's worker reports itself in ``worker_heartbeats``.

A worker (the notification worker or the text extraction worker, a thread in a web process or a command of
its own) inserts its row as it starts, UPDATEs it at most every WORKER_HEARTBEAT_SECONDS from its loop (busy
or idle: one short transaction of its own, never one per poll), and deletes it on a clean stop. A killed
worker's row stays, ageing: readiness and metrics count it no longer live after three intervals, and
`flask ops prune` removes it after WORKER_FORGET_SECONDS.
"""
from __future__ import annotations

import datetime as dt
import logging
import math
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy import BigInteger, Integer, String, delete, insert, update
from sqlalchemy.orm import Mapped, mapped_column

from tracker.db import WRITE_OPTION, Base
from tracker.models.types import UTCDateTime, utcnow

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

# The kinds of worker that report: the notification worker and the text extraction worker.
WORKER_KINDS = ("notify", "documents")
# A worker is live while its last heartbeat is younger than this many heartbeat intervals.
LIVE_INTERVALS = 3


class WorkerHeartbeat(Base):
    """One running worker process as it last reported itself.

    ``id`` is new at each start of a worker (a restarted or forked process is a new row); ``jobs_done``
    counts what it did since then (deliveries sent, or documents extracted) and ``last_work_at`` is when
    it last did some (None: nothing yet).
    """

    __tablename__ = "worker_heartbeats"
    tracks_content = False

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    jobs_done: Mapped[int] = mapped_column(BigInteger, default=0)
    last_work_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)


class HeartbeatReporter:
    """Reports one worker of ``kind`` in this process: started, beating, stopped.

    Work is counted in memory (``worked``) and written with the next beat. Every write is its own short
    transaction on ``engine``; a failure (a database busy or not yet migrated) is logged, never raised, so
    reporting never stops the work: the next beat tries again.
    """

    def __init__(self, kind: str, engine: Engine, *, interval: Callable[[], float],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.kind = kind
        self.engine = engine.execution_options(**{WRITE_OPTION: True})
        self.interval = interval
        self.clock = clock
        self.id: str | None = None
        self._pid: int | None = None
        self._jobs_done = 0
        self._last_work_at: dt.datetime | None = None
        self._last_beat = 0.0
        self._started_at = utcnow()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        """Whether heartbeats are on (an interval of 0 turns them off: no row, no write)."""
        return float(self.interval()) > 0

    @property
    def started(self) -> bool:
        """Whether this process started the reporter (a forked child has not: it starts its own)."""
        return self.id is not None and self._pid == os.getpid()

    def start(self) -> None:
        """Insert this worker's row under a new id (again after a fork); nothing when already started here."""
        with self._lock:
            if self.started or not self.enabled:
                return
            self.id, self._pid = uuid.uuid4().hex, os.getpid()
            self._jobs_done, self._last_work_at = 0, None
            self._last_beat = self.clock()
            now = self._started_at = utcnow()
            try:
                with self.engine.begin() as connection:
                    connection.execute(insert(WorkerHeartbeat).values(**self._row(now)))
            except Exception as error:  # reporting must never stop the worker; the next beat inserts it
                self._warn("could not register", error)

    def worked(self, jobs: int = 1) -> None:
        """Count ``jobs`` done now (written with the next beat)."""
        if jobs > 0:
            with self._lock:
                self._jobs_done += jobs
                self._last_work_at = utcnow()

    def due_in(self) -> float:
        """Seconds until the next beat is due (0: due now); the interval when not started; never when off."""
        if not self.enabled:
            return math.inf
        if not self.started:
            return max(0.0, float(self.interval()))
        return max(0.0, float(self.interval()) - (self.clock() - self._last_beat))

    def beat(self, *, force: bool = False) -> bool:
        """Write the row when the interval has passed since the last write (or when ``force``d): True when
        written. Nothing before ``start`` in this process, and nothing at all while the interval runs."""
        with self._lock:
            if not self.started:
                return False
            now_clock = self.clock()
            if not force and now_clock - self._last_beat < float(self.interval()):
                return False
            self._last_beat = now_clock
            now = utcnow()
            try:
                with self.engine.begin() as connection:
                    updated = connection.execute(update(WorkerHeartbeat).where(WorkerHeartbeat.id == self.id)
                                                 .values(**self._values(now)))
                    if updated.rowcount == 0:  # pruned while silent (a frozen process), or never inserted
                        connection.execute(insert(WorkerHeartbeat).values(**self._row(now)))
            except Exception as error:  # reporting must never stop the worker
                self._warn("could not report", error)
                return False
            return True

    def stop(self) -> None:
        """Delete this worker's row (a clean stop); nothing when not started in this process."""
        with self._lock:
            if not self.started:
                return
            worker_id, self.id, self._pid = self.id, None, None
            try:
                with self.engine.begin() as connection:
                    connection.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.id == worker_id))
            except Exception as error:  # the row then ages and is pruned like a killed worker's
                self._warn("could not unregister", error)

    def _row(self, now: dt.datetime) -> dict[str, object]:
        return {"id": self.id, "started_at": self._started_at, **self._values(now)}

    def _values(self, now: dt.datetime) -> dict[str, object]:
        return {"kind": self.kind, "host": socket.gethostname()[:255], "pid": os.getpid(),
                "last_seen_at": now, "jobs_done": self._jobs_done, "last_work_at": self._last_work_at}

    def _warn(self, what: str, error: Exception) -> None:
        log.warning("%s worker %s: %s itself (%s: %s)", self.kind, self.id, what, error.__class__.__name__, error)
