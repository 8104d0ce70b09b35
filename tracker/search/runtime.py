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
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, cast

from flask import Flask
from sqlalchemy.orm import Session

from tracker import lao
from tracker.background import BackgroundRunner
from tracker.models import search_log
from tracker.search.documents import PASSAGES, RECORDS
from tracker.search.errors import SearchUnavailable
from tracker.search.index import IndexStore
from tracker.search.indexer import ApplyReport, Indexer
from tracker.search.reader import Replica
from tracker.search.replicas import ReplicaHeartbeat

if TYPE_CHECKING:
    from tracker.db import Database

log = logging.getLogger(__name__)

EXTENSION = "tracker.search"
# The passages of attached texts are a second index, in this folder inside the records' index folder: its
# statistics and postings stay apart, so that 100,000 passages never slow down or reweigh record search.
PASSAGES_FOLDER = "passages"
# Retries, and the pause between them, when another process holds the index's lock.
BUSY_RETRIES = 20
BUSY_PAUSE = 0.25


class SearchRuntime:
    """Everything search needs in one app."""

    def __init__(self, app: Flask) -> None:
        # Settings and their defaults: tracker.config.SETTINGS.
        self.config = app.config
        self.database: Database = app.extensions["tracker.db"]
        self._open(app.config["SEARCH_INDEX_PATH"], int(app.config["SEARCH_BATCH_SIZE"]),
                   float(app.config["SEARCH_GAP_TIMEOUT"]))
        self.last_error: str | None = None
        self._busy = 0
        self.runner = BackgroundRunner("search-indexer", self._index_pending,
                                       interval=lambda: float(self.config["SEARCH_POLL_INTERVAL"]),
                                       enabled=lambda: self.embedded)

    def _open(self, path: str | os.PathLike[str], batch_size: int, gap_timeout: float) -> None:
        self.store = IndexStore(path)
        self.replica = Replica(self.store)
        self.indexer = Indexer(self.store, corpus=RECORDS, batch_size=batch_size, gap_timeout=gap_timeout)
        self.passage_store = IndexStore(Path(path) / PASSAGES_FOLDER)
        self.passage_replica = Replica(self.passage_store)
        # Passages are many per change (a whole text): smaller batches keep one commit short.
        self.passage_indexer = Indexer(self.passage_store, corpus=PASSAGES, batch_size=max(1, batch_size // 4),
                                       gap_timeout=gap_timeout)
        self.heartbeat = ReplicaHeartbeat(path, self.indexers, self.database.engine,
                                          interval=lambda: float(self.config["SEARCH_REPLICA_HEARTBEAT_SECONDS"]))

    @property
    def indexers(self) -> tuple[Indexer, Indexer]:
        """The records' indexer and the passages' indexer."""
        return self.indexer, self.passage_indexer

    @property
    def embedded(self) -> bool:
        indexer: str = self.config["SEARCH_INDEXER"]
        return indexer == "embedded"

    def set_index_path(self, path: str | os.PathLike[str]) -> None:
        """Point this app at another index folder (tests give each test its own)."""
        self.stop()
        self._close_indexes()
        self.config["SEARCH_INDEX_PATH"] = str(path)
        self._open(path, self.indexer.batch_size, self.indexer.gap_timeout)

    def _close_indexes(self) -> None:
        for indexer in self.indexers:
            indexer.close()
        self.replica.close()
        self.passage_replica.close()

    def close(self) -> None:
        """Stop following the log and let go of the index (an app being thrown away)."""
        self.database.remove_commit_hook(self.on_commit)
        self.stop()
        self._close_indexes()

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
        """After-commit hook: wake the indexer when the transaction logged search changes."""
        if search_log.changes_written(session):
            self.nudge()

    def nudge(self) -> None:
        """Ask the embedded indexer to look at the log now (starting it when needed)."""
        self.runner.nudge()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the embedded indexer thread (after its current batch)."""
        self.runner.stop(timeout)

    def _index_pending(self) -> float | None:
        """One look at the log: apply what is pending to both indexes; soon again when another process held
        a lock."""
        try:
            report = self.indexer.apply_pending(self.sessions)
            passages = self._apply_passages()
            report.busy = report.busy or passages.busy
        except SearchUnavailable as error:
            # Nothing to follow until `search rebuild` (or `ensure`) builds an index.
            self._note(str(error))
            self._busy = 0
            return None
        except Exception as error:  # the runner logs it and tries again; the stored position is kept
            self._note(f"{error.__class__.__name__}: {error}")
            self._busy = 0
            raise
        self.last_error = None
        # Tell the database how far this folder has followed the log (when it moved, or now and then).
        self.heartbeat.beat()
        # Another process holds the lock: look again soon, it may have missed our rows.
        self._busy = self._busy + 1 if report.busy and self._busy < BUSY_RETRIES else 0
        return BUSY_PAUSE if self._busy else None

    def _apply_passages(self) -> ApplyReport:
        """Apply the log to the passages index; an index that was never built is built here, once, from
        the database (an upgrade from a version without passages has texts to index only after it)."""
        try:
            return self.passage_indexer.apply_pending(self.sessions)
        except SearchUnavailable:
            with self.passage_store.build_lock(wait=False) as mine:
                if not mine:
                    return ApplyReport(busy=True)
            self.passage_indexer.build(self.sessions(), self.sessions)
            return ApplyReport()

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
    runtime.database.on_commit(runtime.on_commit)
    return runtime


def runtime_of(app: Flask) -> SearchRuntime:
    """The search runtime of ``app`` (set up by create_app)."""
    return cast(SearchRuntime, app.extensions[EXTENSION])
