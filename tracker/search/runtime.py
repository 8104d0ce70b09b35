"""Search wired into an app: the index store, this process's reader, and the embedded indexer thread.

In the embedded default (``SEARCH_INDEXER = "embedded"``) every process that commits a change wakes
its own indexer thread right after the commit; the thread applies the log without the request
waiting for it. Several gunicorn workers share one index folder: whichever gets the Whoosh lock
writes, the others find it taken and look again shortly (they never fail a request). The thread
also polls the log, so changes committed by other processes (the command line, other hosts) are
applied too. With ``SEARCH_INDEXER = "external"`` the app only reads, and ``flask --app tracker
search follow`` is the one writer.
"""
from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from flask import Flask
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from tracker.models import search_log
from tracker import lao
from tracker.search.errors import SearchUnavailable
from tracker.search.index import IndexStore
from tracker.search.indexer import Indexer
from tracker.search.reader import Replica

log = logging.getLogger(__name__)

DEFAULTS = {
    "SEARCH_INDEXER": "embedded",       # or "external": a `search follow` process writes the index
    "SEARCH_POLL_INTERVAL": 2.0,        # seconds between looks at the log when nothing wakes the indexer
    "SEARCH_BATCH_SIZE": 200,           # log rows applied per Whoosh commit
    "SEARCH_GAP_TIMEOUT": 600.0,        # seconds after which a missing log id is taken as rolled back
}
EXTENSION = "tracker.search"
# Retries, and the pause between them, when another process holds the index's lock.
BUSY_RETRIES = 20
BUSY_PAUSE = 0.25


class SearchRuntime:
    """Everything search needs in one app."""

    def __init__(self, app: Flask) -> None:
        for name, value in DEFAULTS.items():
            app.config.setdefault(name, value)
        self.config = app.config
        self.database = app.extensions["tracker.db"]
        self.store = IndexStore(app.config["SEARCH_INDEX_PATH"])
        self.replica = Replica(self.store)
        self.indexer = Indexer(self.store, batch_size=int(app.config["SEARCH_BATCH_SIZE"]),
                               gap_timeout=float(app.config["SEARCH_GAP_TIMEOUT"]))
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.last_error: str | None = None

    @property
    def embedded(self) -> bool:
        return self.config["SEARCH_INDEXER"] == "embedded"

    def set_index_path(self, path: str | os.PathLike) -> None:
        """Point this app at another index folder (tests give each test its own)."""
        self.stop()
        self.indexer.close()
        self.replica.close()
        self.config["SEARCH_INDEX_PATH"] = str(path)
        self.store = IndexStore(path)
        self.replica = Replica(self.store)
        self.indexer = Indexer(self.store, batch_size=self.indexer.batch_size,
                               gap_timeout=self.indexer.gap_timeout)

    def close(self) -> None:
        """Stop following the log and let go of the index (an app being thrown away)."""
        search_log.remove_search_changes_hook(self.on_commit)
        self.stop()
        self.indexer.close()
        self.replica.close()

    @contextlib.contextmanager
    def sessions(self) -> Iterator[Session]:
        """A read session on the database itself: never through a connection a test has bound, since
        the indexer must only ever see committed data."""
        session = Session(bind=self.database.engine, expire_on_commit=False, autoflush=False)
        try:
            yield session
        finally:
            session.close()

    # -- the embedded indexer ---------------------------------------------------------------------

    def on_commit(self, session: Session) -> None:
        """After-commit hook: wake the indexer when this app's database changed."""
        bind = session.bind
        if bind is None or isinstance(bind, Connection) or str(bind.url) != str(self.database.engine.url):
            return
        self.nudge()

    def nudge(self) -> None:
        """Ask the embedded indexer to look at the log now (starting it when needed)."""
        if not self.embedded or self._stop.is_set():
            return
        with self._lock:
            if self._pid != os.getpid():  # forked: threads do not survive a fork
                self._pid, self._thread = os.getpid(), None
                self._wake = threading.Event()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="search-indexer", daemon=True)
                self._thread.start()
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the embedded indexer thread (after its current batch)."""
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread.is_alive() and thread is not threading.current_thread():
            thread.join(timeout)
        self._thread = None
        self._stop = threading.Event()

    def _run(self) -> None:
        stop, wake = self._stop, self._wake
        busy = 0
        while not stop.is_set():
            wake.wait(BUSY_PAUSE if busy else float(self.config["SEARCH_POLL_INTERVAL"]))
            wake.clear()
            if stop.is_set():
                break
            try:
                report = self.indexer.apply_pending(self.sessions)
            except SearchUnavailable as error:
                # Nothing to follow until `search rebuild` (or `ensure`) builds an index.
                self._note(str(error))
                busy = 0
                continue
            except Exception as error:  # keep following; the next look retries from the stored position
                log.exception("The search indexer failed; it will try again")
                self._note(f"{error.__class__.__name__}: {error}")
                busy = 0
                time.sleep(1.0)
                continue
            self.last_error = None
            # Another process holds the lock: look again soon, it may have missed our rows.
            busy = busy + 1 if report.busy and busy < BUSY_RETRIES else 0

    def _note(self, message: str) -> None:
        if message != self.last_error:
            log.warning("search index: %s", message)
        self.last_error = message


def init_search(app: Flask) -> SearchRuntime:
    """Set search up for ``app``: configuration, the Lao analyser's data folder, the commit hook."""
    lao.configure_data(str(Path(app.instance_path) / "pythainlp-data"))
    runtime = SearchRuntime(app)
    app.extensions[EXTENSION] = runtime
    if app.testing or app.debug:
        search_log.refuse_bulk_writes = True
    search_log.on_search_changes_committed(runtime.on_commit)
    return runtime


def runtime_of(app: Flask) -> SearchRuntime:
    """The search runtime of ``app`` (set up by create_app)."""
    return app.extensions[EXTENSION]
