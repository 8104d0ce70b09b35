"""Background workers report themselves: a worker's row appears as it starts, its heartbeat moves while it idles,
it goes on a clean stop; a killed worker's row stays, /readyz and /metrics count it stale after three intervals
without turning the host away, and `flask ops prune` forgets it after WORKER_FORGET_SECONDS."""
from __future__ import annotations

import datetime as dt
import json
import math
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import event, select, update

from tests.processes import free_port, wait_until
from tracker.db import unit_of_work
from tracker.documents.runtime import runtime_of as documents_runtime
from tracker.models import WorkerHeartbeat
from tracker.models.types import utcnow
from tracker.notifications.runtime import runtime_of as notify_runtime

ROOT = Path(__file__).resolve().parents[2]
# Seconds between heartbeats in these tests: a worker is live for three of them.
BEAT = 0.3
RUNTIMES = {"notify": notify_runtime, "documents": documents_runtime}


def _rows(app) -> list[WorkerHeartbeat]:
    with app.extensions["tracker.db"].session() as session:
        return list(session.scalars(select(WorkerHeartbeat).order_by(WorkerHeartbeat.started_at)))


def _workers(app) -> dict:
    response = app.test_client().get("/readyz")
    return response.get_json()["checks"]["workers"]


def _embed(app, kind: str) -> None:
    prefix = "NOTIFY" if kind == "notify" else "DOCUMENT"
    # A poll interval far longer than the heartbeat's: the thread must wake for its heartbeat alone.
    app.config.update({f"{prefix}_WORKER": "embedded", f"{prefix}_EMBEDDED_IN_TESTS": True,
                       f"{prefix}_POLL_INTERVAL": 600.0, "WORKER_HEARTBEAT_SECONDS": BEAT})


@pytest.mark.parametrize("kind", ["notify", "documents"])
def test_an_embedded_worker_registers_beats_while_idle_and_leaves_on_a_clean_stop(committed_app, kind):
    _embed(committed_app, kind)
    runtime = RUNTIMES[kind](committed_app)
    assert _workers(committed_app)["kinds"][kind] == {"live": 0, "stale": 0, "freshest_heartbeat_seconds": None,
                                                      "embedded_here": True, "thread_alive": False}
    runtime.runner.start()
    try:
        [row] = wait_until(lambda: _rows(committed_app), timeout=10, what="the worker's row")
        assert (row.kind, row.pid, row.jobs_done, row.last_work_at) == (kind, os.getpid(), 0, None)
        first_seen = row.last_seen_at
        wait_until(lambda: _rows(committed_app)[0].last_seen_at > first_seen, timeout=10,
                   what="a heartbeat while idle")
        [again] = _rows(committed_app)
        assert (again.id, again.started_at) == (row.id, row.started_at)
        figures = _workers(committed_app)
        assert figures["ok"] is True
        assert figures["kinds"][kind]["live"] == 1 and figures["kinds"][kind]["thread_alive"] is True
        assert figures["kinds"][kind]["freshest_heartbeat_seconds"] < 3 * BEAT
    finally:
        runtime.stop()
    assert _rows(committed_app) == []
    after = _workers(committed_app)["kinds"][kind]
    assert (after["live"], after["stale"], after["thread_alive"]) == (0, 0, False)


def test_an_idle_worker_writes_its_heartbeat_no_more_than_once_an_interval(committed_app):
    committed_app.config["WORKER_HEARTBEAT_SECONDS"] = 3600.0
    worker = notify_runtime(committed_app).worker
    engine = committed_app.extensions["tracker.db"].engine
    written: list[str] = []

    def note(_conn, _cursor, statement, *_args) -> None:
        if "worker_heartbeats" in statement:
            written.append(statement.split()[0].upper())

    event.listen(engine, "before_cursor_execute", note)
    try:
        worker.heartbeat.start()
        for _ in range(20):  # twenty polls of an empty outbox
            worker.run_until_idle()
        assert written == ["INSERT"]
        assert worker.heartbeat.beat(force=True)
        worker.heartbeat.stop()
        assert written == ["INSERT", "UPDATE", "DELETE"]
    finally:
        event.remove(engine, "before_cursor_execute", note)


def _environment(app, tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "PYTHONPATH": str(ROOT),
        "TRACKER_DATABASE_URL": app.config["DATABASE_URL"],
        "TRACKER_SECRET_KEY": app.config["SECRET_KEY"],
        "TRACKER_INSTANCE_PATH": str(tmp_path / "worker-instance"),
        "TRACKER_SEARCH_INDEX_PATH": str(tmp_path / "worker-index"),
        "TRACKER_SEARCH_INDEXER": "external",
        "TRACKER_NOTIFY_WORKER": "external",
        "TRACKER_DOCUMENT_WORKER": "external",
        "TRACKER_NOTIFY_POLL_INTERVAL": "600",
        "TRACKER_WORKER_HEARTBEAT_SECONDS": str(BEAT),
        "TRACKER_PUBLIC_URL": "https://tracker.example",
    })
    return env


COMMANDS = {"notify": ["notify", "work"], "documents": ["documents", "work", "--interval", "600"]}


def _start(kind: str, env: dict[str, str], tmp_path: Path) -> subprocess.Popen:
    with (tmp_path / f"{kind}.log").open("ab") as log:
        return subprocess.Popen([sys.executable, "-m", "flask", "--app", "tracker", *COMMANDS[kind]], env=env,
                                cwd=ROOT, stdout=log, stderr=log, stdin=subprocess.DEVNULL)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["notify", "documents"])
def test_a_worker_command_beats_while_idle_and_leaves_on_sigterm(committed_app, tmp_path, kind):
    process = _start(kind, _environment(committed_app, tmp_path), tmp_path)
    try:
        [row] = wait_until(lambda: _rows(committed_app), timeout=60, what=f"the row of `flask {kind} work`")
        assert (row.kind, row.pid) == (kind, process.pid)
        wait_until(lambda: _rows(committed_app)[0].last_seen_at > row.last_seen_at, timeout=10,
                   what="a heartbeat while idle")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, (tmp_path / f"{kind}.log").read_text()
        assert _rows(committed_app) == []
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.slow
def test_a_killed_worker_stays_until_pruned_and_readyz_reports_it_stale_without_turning_readers_away(
        committed_app, tmp_path):
    committed_app.config["WORKER_HEARTBEAT_SECONDS"] = BEAT
    env = _environment(committed_app, tmp_path)
    killed = _start("notify", env, tmp_path)
    survivor = None
    try:
        wait_until(lambda: _workers(committed_app)["kinds"]["notify"]["live"] == 1, timeout=60,
                   what="the worker counted live")
        killed.kill()
        killed.wait()
        [row] = _rows(committed_app)
        assert row.pid == killed.pid
        # Three intervals later it is no longer live, but its row stays: the figures say so.
        def stale() -> dict | None:
            figures = _workers(committed_app)["kinds"]["notify"]
            return figures if figures["stale"] == 1 else None

        notify = wait_until(stale, timeout=10, what="the killed worker counted stale")
        assert notify["live"] == 0 and notify["freshest_heartbeat_seconds"] >= 3 * BEAT
        response = committed_app.test_client().get("/readyz")
        assert response.get_json()["checks"]["workers"]["ok"] is True
        metrics = committed_app.test_client().get("/metrics").get_data(as_text=True)
        assert 'tracker_workers_live{kind="notify"} 0.0' in metrics
        assert 'tracker_workers_stale{kind="notify"} 1.0' in metrics

        survivor = _start("notify", env, tmp_path)
        wait_until(lambda: _workers(committed_app)["kinds"]["notify"]["live"] == 1, timeout=60,
                   what="a new worker counted live")
        metrics = committed_app.test_client().get("/metrics").get_data(as_text=True)
        assert 'tracker_workers_live{kind="notify"} 1.0' in metrics
        assert 'tracker_worker_heartbeat_age_seconds{kind="notify"}' in metrics

        # The killed one is forgotten once silent for longer than WORKER_FORGET_SECONDS; the live one stays.
        committed_app.config["WORKER_FORGET_SECONDS"] = 3600.0
        with unit_of_work(committed_app.extensions["tracker.db"].session(write=True)) as session:
            session.execute(update(WorkerHeartbeat).where(WorkerHeartbeat.id == row.id)
                            .values(last_seen_at=utcnow() - dt.timedelta(hours=2)))
        dry = committed_app.test_cli_runner().invoke(args=["ops", "prune", "--dry-run"])
        assert dry.exit_code == 0, dry.output
        assert _line(dry.output, "worker_heartbeats")[1] == "1"
        assert {r.pid for r in _rows(committed_app)} == {killed.pid, survivor.pid}
        real = committed_app.test_cli_runner().invoke(args=["ops", "prune"])
        assert real.exit_code == 0, real.output
        assert _line(real.output, "worker_heartbeats")[1] == "1"
        assert [r.pid for r in _rows(committed_app)] == [survivor.pid]
    finally:
        for process in (killed, survivor):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()


def _get_json(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.slow
def test_each_gunicorn_worker_reports_its_embedded_workers_and_removes_them_as_it_stops(committed_app, tmp_path):
    env = _environment(committed_app, tmp_path)
    env.update({"TRACKER_NOTIFY_WORKER": "embedded", "TRACKER_DOCUMENT_WORKER": "embedded", "TRACKER_WORKERS": "2",
                "TRACKER_RELEASE_SCHEDULE": "off"})
    port = free_port()
    with (tmp_path / "gunicorn.log").open("ab") as log:
        server = subprocess.Popen([sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}",
                                   "--config", "python:tracker.gunicorn_hooks", "tracker:create_app()"],
                                  env=env, cwd=ROOT, stdout=log, stderr=log, stdin=subprocess.DEVNULL)

    def registered() -> dict[str, set[int]]:
        pids: dict[str, set[int]] = {}
        for row in _rows(committed_app):
            pids.setdefault(row.kind, set()).add(row.pid)
        return pids if all(len(pids.get(kind, ())) == 2 for kind in RUNTIMES) else {}

    try:
        pids = wait_until(registered, timeout=90, what="two web processes' workers of each kind")
        assert pids["notify"] == pids["documents"] and server.pid not in pids["notify"]
        # This host's index is not built (503), which is not the point here: whichever web process answers
        # counts both processes' workers live and sees its own threads run.
        _status, body = _get_json(f"http://127.0.0.1:{port}/readyz")
        kinds = body["checks"]["workers"]["kinds"]
        assert {kind: (figures["live"], figures["embedded_here"], figures["thread_alive"])
                for kind, figures in kinds.items()} == {"notify": (2, True, True), "documents": (2, True, True)}
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) == 0, (tmp_path / "gunicorn.log").read_text()
        assert _rows(committed_app) == []
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def test_prune_forgets_only_the_workers_silent_longer_than_the_forget_time(committed_app):
    committed_app.config["WORKER_HEARTBEAT_SECONDS"] = 30.0  # live: seen within three of these
    now = utcnow()
    ages = {"fresh": dt.timedelta(seconds=5), "an hour": dt.timedelta(hours=1), "two days": dt.timedelta(days=2)}
    with unit_of_work(committed_app.extensions["tracker.db"].session(write=True)) as session:
        session.add_all([WorkerHeartbeat(id=name.replace(" ", "-"), kind="documents", host="elsewhere", pid=1,
                                         started_at=now - age, last_seen_at=now - age, jobs_done=0)
                         for name, age in ages.items()])
    result = committed_app.test_cli_runner().invoke(args=["ops", "prune"])
    assert result.exit_code == 0, result.output
    assert _line(result.output, "worker_heartbeats")[1] == "1"
    assert "WORKER_FORGET_SECONDS=86400" in result.output
    assert sorted(r.id for r in _rows(committed_app)) == ["an-hour", "fresh"]
    # With a shorter forget time, the hour-old one goes too.
    committed_app.config["WORKER_FORGET_SECONDS"] = 600.0
    committed_app.test_cli_runner().invoke(args=["ops", "prune"])
    assert [r.id for r in _rows(committed_app)] == ["fresh"]
    # The figures count the fresh one live, from another host, for every host.
    workers = _workers(committed_app)
    assert workers["kinds"]["documents"]["live"] == 1 and workers["kinds"]["notify"]["live"] == 0


def _line(output: str, kind: str) -> list[str]:
    return next(line.split() for line in output.splitlines() if line.startswith(kind + " "))


def test_a_heartbeat_interval_of_0_writes_nothing_and_never_wakes_the_worker(committed_app):
    committed_app.config["WORKER_HEARTBEAT_SECONDS"] = 0.0
    reporter = notify_runtime(committed_app).worker.heartbeat
    reporter.start()
    assert (reporter.started, reporter.beat(force=True), reporter.due_in()) == (False, False, math.inf)
    reporter.stop()
    assert _rows(committed_app) == []
