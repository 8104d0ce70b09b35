"""The real web server, started as script/server starts it: clients that connect and send nothing, or send their
request a byte a second, do not stop others from being served, and oversized request lines and headers are
refused by gunicorn before they reach the app."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from gunicorn.config import Config as GunicornConfig

ROOT = Path(__file__).resolve().parents[2]
# Generous: the point is that others are answered at all, not how fast (the machine may be busy).
ANSWER_TIMEOUT = 10.0

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=ANSWER_TIMEOUT) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", "replace")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """gunicorn with the project's config module, over a temporary SQLite database: its base URL."""
    folder = tmp_path_factory.mktemp("web-server")
    environment = {name: value for name, value in os.environ.items() if not name.startswith("TRACKER_")}
    environment.update({
        "TRACKER_INSTANCE_PATH": str(folder / "instance"),
        "TRACKER_DATABASE_URL": f"sqlite:///{folder / 'tracker.db'}",
        "TRACKER_SEARCH_INDEX_PATH": str(folder / "search-index"),
        "TRACKER_SECRET_KEY": "web-server-test-key",
        "TRACKER_PUBLIC_URL": "http://127.0.0.1",
        "TRACKER_RELEASE_SCHEDULE": "off",
    })
    subprocess.run([sys.executable, "-m", "flask", "--app", "tracker", "db", "upgrade"], cwd=ROOT,
                   env=environment, check=True, capture_output=True, timeout=300)
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}",
               "--config", "python:tracker.gunicorn_hooks", "tracker:create_app()"]
    if "control_socket_disable" in GunicornConfig().settings:
        command[3:3] = ["--no-control-socket"]
    log = (folder / "gunicorn.log").open("wb")
    process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, (folder / "gunicorn.log").read_text(errors="replace")
            try:
                if get(f"{base}/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.5)
        yield base, port, folder / "gunicorn.log"
    finally:
        process.terminate()
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def status_of_raw_request(port: int, request: bytes) -> str:
    """The status line gunicorn answers a raw request with."""
    with socket.create_connection(("127.0.0.1", port), timeout=ANSWER_TIMEOUT) as connection:
        connection.sendall(request)
        answer = b""
        while b"\r\n" not in answer:
            chunk = connection.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer.split(b"\r\n", 1)[0].decode("latin-1")


def test_idle_and_slow_clients_do_not_stop_others_from_being_served(server):
    base, port, log = server
    stop = threading.Event()
    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(6)]

    def drip() -> None:
        # A request line, then a header one byte a second, never finished while the test runs.
        with socket.create_connection(("127.0.0.1", port)) as connection:
            connection.sendall(b"GET /policies HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            while not stop.wait(1.0):
                try:
                    connection.sendall(b"a")
                except OSError:
                    return

    drippers = [threading.Thread(target=drip, daemon=True) for _ in range(4)]
    for dripper in drippers:
        dripper.start()
    try:
        answered = []
        # While the slow clients are connected: at once, after gunicorn's 5 s wait for the idle ones' first
        # byte, and later still.
        for pause in (1.0, 5.5, 4.0):
            time.sleep(pause)
            health = get(f"{base}/healthz")
            page = get(f"{base}/")
            answered.append((health[0], page[0]))
            assert "EV" in page[1]
        assert answered == [(200, 200)] * 3, log.read_text(errors="replace")[-2000:]
        assert all(dripper.is_alive() for dripper in drippers), "the slow clients were still sending"
    finally:
        stop.set()
        for connection in idle:
            connection.close()
        for dripper in drippers:
            dripper.join(timeout=5)


def test_oversized_request_lines_and_headers_are_refused_by_the_server(server):
    _, port, _ = server
    long_line = b"GET /policies?q=" + b"a" * 9000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    assert status_of_raw_request(port, long_line).startswith("HTTP/1.1 414")
    long_header = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n"
    assert status_of_raw_request(port, long_header).startswith("HTTP/1.1 431")
    many_headers = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"".join(
        b"X-Field-%d: 1\r\n" % number for number in range(101)) + b"\r\n"
    assert status_of_raw_request(port, many_headers).startswith("HTTP/1.1 431")
    # Just within the limits: the app answers.
    fitting = b"GET /healthz?q=" + b"a" * 4000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + b"".join(
        b"X-Field-%d: 1\r\n" % number for number in range(90)) + b"\r\n"
    assert status_of_raw_request(port, fitting) == "HTTP/1.1 200 OK"
