"""Workers woken by the commit: on PostgreSQL the transaction that writes outbox rows sends NOTIFY, and
external and embedded workers that LISTEN start at once, long before their next poll. On SQLite they
poll. The PostgreSQL tests are defined when the suite runs on PostgreSQL (as CI does), never skipped."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy import text

from tests.notifications.test_crash import _worker_environment
from tracker import create_app
from tracker.db import unit_of_work
from tracker.notifications.outbox import record_event
from tracker.notifications.runtime import runtime_of
from tracker.notifications.wakeup import CHANNEL, OutboxListener

POSTGRESQL = os.environ.get("TRACKER_DATABASE_URL", "").startswith("postgresql")
POLL = 60  # seconds: far longer than any wait below, so only a wake-up can explain a prompt delivery
PROMPT = 10

pytestmark = pytest.mark.slow


def _wait(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.02)


def _start_external(notify, tmp_path) -> tuple[subprocess.Popen, object]:
    """``flask notify work`` polling every minute, its stderr in worker.log."""
    env = _worker_environment(notify.app, tmp_path)
    env.update({"TRACKER_NOTIFY_POLL_INTERVAL": str(POLL), "TRACKER_NOTIFY_LEASE_SECONDS": "90",
                "TRACKER_WEBHOOK_TIMEOUT": "5"})
    log_path = tmp_path / "worker.log"
    with log_path.open("ab") as log:
        worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "tracker", "notify", "work"],
                                  env=env, stdout=subprocess.DEVNULL, stderr=log)
    return worker, log_path


def _stop(worker: subprocess.Popen) -> None:
    worker.terminate()
    worker.wait(timeout=20)


if POSTGRESQL:

    def _listening(notify) -> int:
        with notify.database.engine.connect() as connection:
            return connection.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                          "AND query = :listen"), {"listen": f"LISTEN {CHANNEL}"})

    def test_a_commit_that_records_an_event_notifies_and_a_rollback_does_not(notify):
        heard: list[float] = []
        listener = OutboxListener(notify.database.engine, lambda: heard.append(time.monotonic()))
        assert listener.start()
        try:
            _wait(listener.listening.is_set, 10, "LISTEN")
            _wait(lambda: len(heard) == 1, 5, "the wake-up on connecting")
            with notify.app.test_request_context():
                session = notify.session()
                record_event(session, "webhook.test", payload={"n": 1})
                session.rollback()
                session.close()
            time.sleep(1)
            assert len(heard) == 1, "a rolled-back transaction notifies nobody"
            notify.change_status("in_force")
            _wait(lambda: len(heard) == 2, PROMPT, "the NOTIFY of the commit")
        finally:
            listener.stop()
        assert not listener.listening.is_set()

    def test_an_external_worker_polling_every_minute_delivers_within_seconds_of_the_commit(notify, receiver,
                                                                                           tmp_path):
        notify.subscribe(channel="webhook", kind="country", value="LA",
                         endpoint=notify.endpoint(f"{receiver.base_url}/partner"))
        worker, log_path = _start_external(notify, tmp_path)
        try:
            _wait(lambda: _listening(notify) == 1, 30, "the worker's LISTEN" + log_path.read_text())
            time.sleep(1)  # its first pass (nothing to do) is over: it now waits for a wake-up or its poll
            committed = time.monotonic()
            notify.change_status("in_force", note="Woken by NOTIFY.")
            _wait(lambda: len(receiver.requests) == 1, PROMPT, "the webhook")
            latency = time.monotonic() - committed
        finally:
            _stop(worker)
        print(f"webhook received {latency:.2f} s after the commit (poll interval {POLL} s)")
        assert "LISTEN tracker_outbox" in log_path.read_text()
        assert latency < PROMPT < POLL

    def test_the_embedded_worker_is_woken_by_a_commit_of_another_process(notify, receiver, tmp_path):
        notify.subscribe(channel="webhook", kind="country", value="LA",
                         endpoint=notify.endpoint(f"{receiver.base_url}/partner"))
        notify.app.config.update(NOTIFY_WORKER="embedded", NOTIFY_EMBEDDED_IN_TESTS=True, NOTIFY_POLL_INTERVAL=POLL)
        runtime = runtime_of(notify.app)
        # Another web process: an app of its own over the same database, whose commits cannot nudge
        # this app's thread in memory.
        other = create_app({"TESTING": True, "DATABASE_URL": notify.app.config["DATABASE_URL"],
                            "SECRET_KEY": notify.app.config["SECRET_KEY"], "NOTIFY_WORKER": "external",
                            "SEARCH_INDEX_PATH": str(tmp_path / "other-index"), "SEARCH_INDEXER": "external"})
        try:
            runtime.nudge()  # the web process starts its worker
            _wait(runtime.listener.listening.is_set, 30, "the embedded worker's LISTEN")
            time.sleep(1)  # its first pass (nothing to do) is over
            from tracker.services import editing

            committed = time.monotonic()
            with other.test_request_context(), unit_of_work(other.extensions["tracker.db"].session(write=True)) as s:
                editing.change_status(s, "la-ev-import-duty-exemption", {"status": "in_force"}, notify.reviewer)
            _wait(lambda: len(receiver.requests) == 1, PROMPT, "the webhook")
            latency = time.monotonic() - committed
        finally:
            runtime.stop()
            notify.app.config.update(NOTIFY_WORKER="external", NOTIFY_EMBEDDED_IN_TESTS=False)
            other.extensions["tracker.db"].dispose()
        print(f"embedded worker delivered {latency:.2f} s after another process's commit")
        assert latency < PROMPT < POLL

else:

    def test_on_sqlite_workers_poll_and_the_listener_does_not_start(notify, receiver, tmp_path):
        woken = threading.Event()
        assert OutboxListener(notify.database.engine, woken.set).start() is False
        notify.subscribe(channel="webhook", kind="country", value="LA",
                         endpoint=notify.endpoint(f"{receiver.base_url}/partner"))
        worker, log_path = _start_external(notify, tmp_path)
        try:
            _wait(lambda: "Polling every 60 s." in log_path.read_text(), 30, "the worker's start")
        finally:
            _stop(worker)
        assert "LISTEN" not in log_path.read_text() and not woken.is_set()
