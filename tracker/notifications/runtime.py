"""The embedded notification worker: a thread in each web process that runs the delivery pipeline when a
commit recorded events (its own process's, or on PostgreSQL any process's, heard by LISTEN), polls
otherwise, and runs sunset scans, digests and the daily prune on their schedule."""
from __future__ import annotations

import datetime as dt
import os
import sys
import time
from typing import cast

from flask import Flask
from sqlalchemy.orm import Session

from tracker.background import BackgroundRunner
from tracker.models.types import utcnow
from tracker.notifications import retention
from tracker.notifications.outbox import events_added
from tracker.notifications.retention import Removed
from tracker.notifications.wakeup import OutboxListener
from tracker.notifications.worker import Worker

EXTENSION = "tracker.notify"


class NotifyRuntime:
    """Notifications wired into an app: its worker and, in the embedded default, the worker thread."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.worker = Worker(app)
        self._last_sunset = 0.0
        self._digests_done: dict[str, dt.date] = {}
        self._pruned_on: dt.date | None = None
        self.runner = BackgroundRunner("notify-worker", self._work,
                                       interval=lambda: float(self.app.config["NOTIFY_POLL_INTERVAL"]),
                                       enabled=lambda: self.embedded, on_start=self._announce)
        self.listener = OutboxListener(self.worker.database.engine, self.runner.nudge)

    @property
    def embedded(self) -> bool:
        # Test apps drive the worker themselves: no thread outlives a test or races its assertions.
        if self.app.testing and not self.app.config.get("NOTIFY_EMBEDDED_IN_TESTS"):
            return False
        worker: str = self.app.config["NOTIFY_WORKER"]
        return worker == "embedded"

    def on_commit(self, session: Session) -> None:
        """After-commit hook: wake the worker when the transaction recorded events or staff mail."""
        if events_added(session):
            self.nudge()

    def nudge(self) -> None:
        """Wake the embedded worker (starting it when needed); a no-op with an external worker."""
        self.runner.nudge()

    def stop(self, timeout: float = 10.0) -> None:
        self.listener.stop()
        self.runner.stop(timeout)
        self.worker.heartbeat.stop()

    @property
    def thread_alive(self) -> bool:
        """Whether this process's worker thread runs (it starts with the server, or at the first request)."""
        return self.runner.running

    def _announce(self) -> None:
        # Called as the thread starts in this process (also after a fork): commits of other processes
        # wake it too, on PostgreSQL.
        listening = self.listener.start()
        # Said on stderr, where the server's own start-up lines go, whatever logging is set up.
        print(f"Notification worker started in process {os.getpid()}: {self.worker.mailer.describe()}"
              + ("; woken by commits of every process (LISTEN)" if listening else ""),
              file=sys.stderr, flush=True)

    def _work(self) -> float:
        heartbeat = self.worker.heartbeat
        if not self.runner.stopping.is_set():
            heartbeat.start()  # once per process: the thread's first run (again after a fork)
        with self.app.app_context():
            self.worker.run_until_idle(stop=self.runner.stopping)
            self._scheduled()
        heartbeat.beat()
        # Idle, the thread still wakes for its heartbeat (and then looks at the outbox as well).
        return max(0.01, min(float(self.app.config["NOTIFY_POLL_INTERVAL"]), heartbeat.due_in()))

    def _scheduled(self) -> None:
        """Sunset scans, digests and the daily prune on their schedule (running them again is harmless:
        all are idempotent)."""
        from tracker.notifications import comment_periods, digests, sunset

        config = self.app.config
        if time.monotonic() - self._last_sunset >= float(config["NOTIFY_SUNSET_INTERVAL"]):
            self._last_sunset = time.monotonic()
            sunset.scan(self.worker)
            comment_periods.scan(self.worker)
        now = utcnow()
        if self._pruned_on != now.date():
            self._pruned_on = now.date()
            self.prune()
        if now.hour >= int(config["NOTIFY_DIGEST_HOUR"]):
            if self._digests_done.get("daily") != now.date():
                self._digests_done["daily"] = now.date()
                digests.send_digests(self.worker, "daily")
            weekly_due = now.weekday() == int(config["NOTIFY_DIGEST_WEEKDAY"])
            if weekly_due and self._digests_done.get("weekly") != now.date():
                self._digests_done["weekly"] = now.date()
                digests.send_digests(self.worker, "weekly")


    def prune(self, *, dry_run: bool = False) -> Removed:
        """Delete delivered deliveries older than NOTIFY_KEEP_DAYS and expired unconfirmed subscriptions
        (daily in the embedded worker; ``flask notify prune`` otherwise)."""
        with self.worker.write_session() as session:
            removed = retention.prune(session, keep_days=int(self.app.config["NOTIFY_KEEP_DAYS"]),
                                      dry_run=dry_run)
            session.commit()
        return removed


def runtime_of(app: Flask) -> NotifyRuntime:
    return cast(NotifyRuntime, app.extensions[EXTENSION])


def start(app: Flask) -> None:
    """Start the in-process worker if it is embedded and not running yet in this process."""
    runtime = app.extensions.get(EXTENSION)
    if runtime is not None:
        runtime.runner.start()


def nudge(app: Flask) -> None:
    """Wake the in-process worker after a commit that recorded events (no-op if external)."""
    runtime = app.extensions.get(EXTENSION)
    if runtime is not None:
        runtime.nudge()
