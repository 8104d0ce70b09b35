"""The embedded extraction worker: a thread in each web process, woken when a commit queued a document's text
for extraction, polling otherwise (uploads committed by other processes and hosts)."""
from __future__ import annotations

import os
import sys
from typing import cast

from flask import Flask
from sqlalchemy.orm import Session

from tracker.background import BackgroundRunner
from tracker.documents.worker import ExtractionWorker, queued

EXTENSION = "tracker.documents"


class DocumentsRuntime:
    """Text extraction wired into an app: its worker and, in the embedded default, the worker thread."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.worker = ExtractionWorker(app)
        self.runner = BackgroundRunner("document-extractor", self._work,
                                       interval=lambda: float(self.app.config["DOCUMENT_POLL_INTERVAL"]),
                                       enabled=lambda: self.embedded, on_start=self._announce)

    @property
    def embedded(self) -> bool:
        # Test apps drive the worker themselves unless a test turns the thread on.
        if self.app.testing and not self.app.config.get("DOCUMENT_EMBEDDED_IN_TESTS"):
            return False
        worker: str = self.app.config["DOCUMENT_WORKER"]
        return worker == "embedded"

    def on_commit(self, session: Session) -> None:
        """After-commit hook: wake the worker when the transaction queued a document."""
        if queued(session):
            self.runner.nudge()

    def stop(self, timeout: float = 10.0) -> None:
        self.runner.stop(timeout)
        self.worker.heartbeat.stop()

    @property
    def thread_alive(self) -> bool:
        """Whether this process's worker thread runs (it starts with the server, or at the first request)."""
        return self.runner.running

    def _announce(self) -> None:
        print(f"Document extraction worker started in process {os.getpid()}", file=sys.stderr, flush=True)

    def _work(self) -> float:
        heartbeat = self.worker.heartbeat
        if not self.runner.stopping.is_set():
            heartbeat.start()  # once per process: the thread's first run (again after a fork)
        with self.app.app_context():
            self.worker.run_until_idle(stop=self.runner.stopping)
        heartbeat.beat()
        # Idle, the thread still wakes for its heartbeat (and then looks for waiting documents as well).
        return max(0.01, min(float(self.app.config["DOCUMENT_POLL_INTERVAL"]), heartbeat.due_in()))


def init_documents(app: Flask) -> DocumentsRuntime:
    runtime = DocumentsRuntime(app)
    app.extensions[EXTENSION] = runtime
    app.extensions["tracker.db"].on_commit(runtime.on_commit)
    return runtime


def runtime_of(app: Flask) -> DocumentsRuntime:
    return cast(DocumentsRuntime, app.extensions[EXTENSION])


def start(app: Flask) -> None:
    """Start the in-process worker if it is embedded and not running yet in this process."""
    runtime = app.extensions.get(EXTENSION)
    if runtime is not None:
        runtime.runner.start()
