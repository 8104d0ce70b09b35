"""Workers woken by PostgreSQL: a dedicated connection LISTENs on the outbox channel, and every commit that
recorded events sends ``NOTIFY tracker_outbox`` (see ``outbox``), so a worker in any process starts on it
at once. Polling (NOTIFY_POLL_INTERVAL) stays the fallback, and SQLite's only way.

A notification is a hint, never the work itself: it carries nothing, may be lost while the connection is
down, and many commits may wake a worker once. The work is in the outbox table, and the worker's pass
reads it; after (re)connecting the listener wakes the worker once, for anything committed meanwhile.
"""
from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

log = logging.getLogger(__name__)

CHANNEL = "tracker_outbox"
# How often the listening thread looks at its stop flag between notifications.
CHECK_STOP_EVERY = 0.5
MAX_RECONNECT_PAUSE = 30.0


class OutboxListener:
    """A daemon thread that calls ``wake()`` whenever a commit recorded outbox events (PostgreSQL only)."""

    def __init__(self, engine: Engine, wake: Callable[[], None]) -> None:
        self.engine = engine
        self.wake = wake
        self.listening = threading.Event()  # set while LISTEN is in effect (tests and logs look at it)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    @property
    def supported(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and self._pid == os.getpid()

    def start(self) -> bool:
        """Start listening (once per process); False on a database without LISTEN/NOTIFY."""
        if not self.supported:
            return False
        if not self.running:
            self._pid = os.getpid()
            self._stop = threading.Event()
            self.listening.clear()
            self._thread = threading.Thread(target=self._run, name="notify-listen", daemon=True)
            self._thread.start()
        return True

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread.is_alive() and thread is not threading.current_thread():
            thread.join(timeout)
        self._thread = None
        self.listening.clear()

    def _connect(self) -> Any:
        import psycopg

        args, kwargs = self.engine.dialect.create_connect_args(self.engine.url)
        kwargs.pop("context", None)  # SQLAlchemy's adapters: this connection reads no rows
        kwargs.setdefault("connect_timeout", 10)
        return psycopg.connect(*args, autocommit=True, **kwargs)

    def _run(self) -> None:
        import psycopg

        stop = self._stop
        pause = 1.0
        while not stop.is_set():
            try:
                with self._connect() as connection:
                    connection.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    pause = 1.0
                    self.wake()  # whatever was committed while nobody listened
                    while not stop.is_set():
                        for _ in connection.notifies(timeout=CHECK_STOP_EVERY):
                            self.wake()
            except (psycopg.Error, OSError) as error:
                self.listening.clear()
                if stop.is_set():
                    break
                log.warning("Listening for outbox commits failed (%s); polling meanwhile, trying again in %.0f s",
                            error, pause)
                stop.wait(pause)
                pause = min(pause * 2, MAX_RECONNECT_PAUSE)
            except Exception:  # a bug must not end the wake-ups silently; polling still covers for it
                self.listening.clear()
                log.exception("The outbox listener failed; trying again in %.0f s", pause)
                stop.wait(pause)
                pause = min(pause * 2, MAX_RECONNECT_PAUSE)
        self.listening.clear()
