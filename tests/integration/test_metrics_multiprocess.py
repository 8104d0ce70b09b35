"""gunicorn with two worker processes, as script/server runs it: a scrape adds up what every worker counted."""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tracker import create_app, migrate

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def counted_healthz(base: str) -> float:
    status, body = get(f"{base}/metrics")
    assert status == 200, body[:300]
    total = 0.0
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            if sample.name == "tracker_http_requests_total" and sample.labels.get("route") == "health.healthz":
                assert sample.labels["status"] == "200" and sample.labels["method"] == "GET"
                total += sample.value
    return total


def counting_pids(directory: Path) -> set[int]:
    """The processes that have counted something (prometheus_client writes one file per process and kind)."""
    return {int(match[1]) for path in directory.iterdir() if (match := re.fullmatch(r"counter_(\d+)\.db", path.name))}


@pytest.fixture
def server(tmp_path):
    """gunicorn (2 workers, the tracker's hooks) on a free port over a migrated SQLite database of its own."""
    database_url = f"sqlite:///{tmp_path / 'tracker.db'}"
    setup = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "x",
                        "SEARCH_INDEX_PATH": str(tmp_path / "index")})
    migrate.upgrade(setup.extensions["tracker.db"].engine)
    setup.extensions["tracker.db"].dispose()
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    port = free_port()
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("TRACKER_", "PROMETHEUS_"))}
    env.update(TRACKER_DATABASE_URL=database_url, TRACKER_INSTANCE_PATH=str(tmp_path / "instance"),
               TRACKER_SECRET_KEY="multiprocess-test", TRACKER_PUBLIC_URL=f"http://127.0.0.1:{port}",
               TRACKER_SEARCH_INDEX_PATH=str(tmp_path / "index"), TRACKER_SEARCH_INDEXER="external",
               TRACKER_NOTIFY_WORKER="external", TRACKER_DOCUMENT_WORKER="external", TRACKER_RELEASE_SCHEDULE="off",
               PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    log = open(tmp_path / "gunicorn.log", "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2", "--no-control-socket",
         "--config", "python:tracker.gunicorn_hooks", "tracker:create_app()"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, (tmp_path / "gunicorn.log").read_text()[-3000:]
            try:
                if get(f"{base}/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "gunicorn did not answer within 90 seconds"
            time.sleep(0.2)
        yield base, metrics_dir, process, tmp_path / "gunicorn.log"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def test_a_scrape_adds_up_the_requests_of_both_workers_and_keeps_those_of_one_that_exited(server):
    base, metrics_dir, master, log = server
    sent = 1  # the request that found the server up
    with ThreadPoolExecutor(8) as pool:
        # Requests in parallel, until both workers have answered some (the kernel picks who accepts).
        while len(counting_pids(metrics_dir)) < 2:
            assert sent < 4000, "one worker answered every request"
            statuses = list(pool.map(lambda _: get(f"{base}/healthz")[0], range(40)))
            assert statuses == [200] * 40
            sent += 40
    workers = counting_pids(metrics_dir)
    assert master.pid not in workers and len(workers) == 2, (workers, log.read_text()[-3000:])
    assert counted_healthz(base) == sent, log.read_text()[-3000:]

    # A worker that exits (gunicorn starts another) leaves its counts in the sum.
    gone = min(workers)
    os.kill(gone, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while not _exited(gone):
        assert time.monotonic() < deadline, "the worker did not exit"
        time.sleep(0.1)
    for _ in range(10):
        assert get(f"{base}/healthz")[0] == 200
    assert counted_healthz(base) == sent + 10, log.read_text()[-3000:]


def _exited(pid: int) -> bool:
    """Whether the process is gone, or a zombie waiting for gunicorn to reap it."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
