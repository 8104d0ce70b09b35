"""Two hosts on one PostgreSQL database, every part a real process: each host's gunicorn server, search follower
and notification worker. Under a mixed write load through the API sent to both hosts, with one worker and one
follower killed (SIGKILL) and restarted midway, both hosts end with the same search results and fresh cached
pages, every status change reaches the partner's webhook receiver once (after dedupe by webhook-id), nothing is
left pending, and no process answered 5xx or logged a traceback. Defined only when the suite runs on PostgreSQL,
where CI always runs it (never a skipped test on SQLite)."""
from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import gunicorn as gunicorn_version
import pytest
from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook

from tests.conftest import DEMO_PATH, _create_postgresql_database, _drop_postgresql_database
from tests.factories import policy_record
from tests.processes import Processes, free_port, wait_until
from tracker import create_app
from tracker.db import Database, unit_of_work
from tracker.models import Delivery, NotificationEvent
from tracker.services import accounts
from tracker.services.dataset import load_dataset

POSTGRESQL_URL = os.environ.get("TRACKER_DATABASE_URL", "")
SECRET_KEY = "multi-host-secret-key-shared-by-both-hosts"
PUBLIC_URL = "https://tracker.example"
STATUS_KEYS = [f"mh-policy-{number}" for number in range(6)]
ARCHIVED_KEY = "mh-policy-archived"
DRAFT_KEYS = [f"mh-draft-{number}" for number in range(3)]
WRITES = 48
# Write number -> the editorial move made then (publications notify; archiving does not).
EDITORIAL_MOVES = {9: (DRAFT_KEYS[0], "published"), 15: (ARCHIVED_KEY, "archived"), 21: (DRAFT_KEYS[1], "published"),
                   27: (ARCHIVED_KEY, "published"), 35: (DRAFT_KEYS[2], "published")}
KILL_WORKER_AT, RESTART_WORKER_AT = 13, 18
KILL_FOLLOWER_AT, RESTART_FOLLOWER_AT = 24, 30
QUERIES = ["policy", "test", "revised", "charging", "decree", "ນະໂຍບາຍ", "draft", "electric vehicle"]
# Settings of every process of both hosts; per host only the instance folder and search index differ.
COMMON_SETTINGS = {
    "TRACKER_SECRET_KEY": SECRET_KEY,
    "TRACKER_PUBLIC_URL": PUBLIC_URL,
    "TRACKER_SEARCH_INDEXER": "external",
    "TRACKER_NOTIFY_WORKER": "external",
    # Attached texts and releases are not part of this test; their threads would only add load.
    "TRACKER_DOCUMENT_WORKER": "external",
    "TRACKER_RELEASE_SCHEDULE": "off",
    "TRACKER_NOTIFY_ALLOW_LOOPBACK": "true",
    "TRACKER_NOTIFY_REQUIRE_HTTPS": "false",
    # A killed worker's leases run out within seconds, and retries come soon, so the test ends in time.
    "TRACKER_NOTIFY_LEASE_SECONDS": "3",
    "TRACKER_WEBHOOK_TIMEOUT": "1",
    "TRACKER_NOTIFY_BACKOFF_SCALE": "0.001",
    "TRACKER_NOTIFY_POLL_INTERVAL": "0.5",
    "TRACKER_SEARCH_POLL_INTERVAL": "0.5",
}
ACCESS_LOG_FORMAT = '%(s)s "%(r)s"'


# ---------------------------------------------------------------------------------------------------
# The partner's webhook receiver


@dataclass
class Delivered:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class WebhookReceiver:
    """A real HTTP server on 127.0.0.1 that answers 200 to every POST and records it."""

    requests: list[Delivered] = field(default_factory=list)
    delay: float = 0.0
    in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/tracker"

    def received(self) -> list[Delivered]:
        with self.lock:
            return list(self.requests)

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if len(body) < length:
                    return  # the sender died mid-request: nothing was received
                with receiver.lock:
                    receiver.requests.append(Delivered(self.path, {k.lower(): v for k, v in self.headers.items()},
                                                       body))
                    receiver.in_flight += 1
                try:
                    # A partner's intake takes a moment, so that a worker killed midway is likely sending.
                    time.sleep(receiver.delay)
                finally:
                    with receiver.lock:
                        receiver.in_flight -= 1
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address) -> None:
                pass  # a worker killed mid-request resets its connection: expected here

        self.server = Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


# ---------------------------------------------------------------------------------------------------
# HTTP


@dataclass
class Answer:
    status: int
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def http(method: str, url: str, body: Any = None, token: str | None = None) -> Answer:
    """One request; any status is an answer (only a failure to connect raises)."""
    data = None if body is None else json.dumps(body).encode("utf-8")
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return Answer(response.status, response.read(), dict(response.headers))
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.read(), dict(error.headers))


def expect(answer: Answer, status: int, what: str) -> Any:
    assert answer.status == status, f"{what}: {answer.status} {answer.text[:2000]}"
    return answer.json() if answer.body and answer.headers.get("Content-Type", "").startswith("application/json") \
        else answer.text


# ---------------------------------------------------------------------------------------------------
# The hosts


@dataclass
class Host:
    name: str
    folder: Path
    env: dict[str, str]
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def access_log(self) -> Path:
        return self.folder / "access.log"

    @property
    def error_log(self) -> Path:
        return self.folder / "gunicorn.log"


def flask(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "flask", "--app", "tracker", *arguments]


def gunicorn(host: Host) -> list[str]:
    # gunicorn 24+ opens a control socket shared by every instance of the user; these servers do not need it.
    control = ["--no-control-socket"] if gunicorn_version.version_info >= (24,) else []
    return [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{host.port}", "--workers", "2",
            "--config", "python:tracker.gunicorn_hooks", *control,
            "--access-logfile", str(host.access_log), "--access-logformat", ACCESS_LOG_FORMAT,
            "--error-logfile", str(host.error_log), "--graceful-timeout", "10", "tracker:create_app()"]


def host_settings(database_url: str, folder: Path) -> dict[str, str]:
    # Only this test's settings: none of the TRACKER_* variables the suite itself runs with.
    env = {name: value for name, value in os.environ.items() if not name.startswith("TRACKER_")}
    env.update(COMMON_SETTINGS)
    env.update({"TRACKER_DATABASE_URL": database_url, "TRACKER_INSTANCE_PATH": str(folder / "instance"),
                "TRACKER_SEARCH_INDEX_PATH": str(folder / "search-index")})
    return env


def search_check(host: Host) -> tuple[int, str]:
    """`flask search check` on the host: its exit code and output."""
    done = subprocess.run(flask("search", "check"), env=host.env, capture_output=True, text=True, timeout=120)
    return done.returncode, done.stdout + done.stderr


def search_results(host: Host) -> dict[str, list[tuple[str, str]]]:
    """For each of the fixed queries, the records the host's search API returns, in order."""
    results = {}
    for query in QUERIES:
        answer = http("GET", f"{host.url}/api/v1/search?{urllib.parse.urlencode({'q': query, 'per_page': 50})}")
        body = expect(answer, 200, f"search {query!r} on {host.name}")
        results[query] = [(hit["type"], hit["key"]) for hit in body["hits"]]
    return results


def server_errors(host: Host) -> list[str]:
    """The access log's lines with a 5xx status."""
    if not host.access_log.exists():
        return []
    return [line for line in host.access_log.read_text(encoding="utf-8").splitlines() if line.startswith("5")]


# ---------------------------------------------------------------------------------------------------
# Fixtures

if POSTGRESQL_URL.startswith("postgresql"):

    @pytest.fixture
    def database_url() -> Any:
        """A fresh PostgreSQL database of the test's own, dropped at the end."""
        url = _create_postgresql_database(POSTGRESQL_URL)
        try:
            yield url
        finally:
            _drop_postgresql_database(POSTGRESQL_URL, url)

    @pytest.fixture
    def processes(tmp_path: Path) -> Any:
        group = Processes(tmp_path / "logs")
        try:
            yield group
        finally:
            group.stop_all()

    @pytest.fixture
    def receiver() -> Any:
        server = WebhookReceiver()
        server.start()
        try:
            yield server
        finally:
            server.stop()

    def _seed(database_url: str, folder: Path) -> tuple[str, str]:
        """The organisations and topics of the demo data, the test's policies (published, in force) and two
        accounts with an API token each. Returns (reviewer's token, partner's token)."""
        demo = json.loads(DEMO_PATH.read_text(encoding="utf-8"))
        app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": SECRET_KEY, "TESTING": True,
                          "SEARCH_INDEX_PATH": str(folder / "unused-index"), "SEARCH_INDEXER": "external",
                          "NOTIFY_WORKER": "external"})
        database: Database = app.extensions["tracker.db"]
        try:
            with unit_of_work(database.session(write=True)) as session:
                load_dataset(session, {
                    "organisations": demo["organisations"], "topics": demo["topics"],
                    "policies": [policy_record(key, country="LA", title_en=f"Test policy {key}")
                                 for key in [*STATUS_KEYS, ARCHIVED_KEY]]})
                reviewer = accounts.create_user(session, "reviewer@example.org", "a long enough password",
                                                "reviewer")
                partner = accounts.create_user(session, "partner@example.org", "a long enough password", "partner")
                _, reviewer_token = accounts.create_api_token(session, reviewer, "load")
                _, partner_token = accounts.create_api_token(session, partner, "intake")
        finally:
            database.dispose()
        return reviewer_token, partner_token

    @pytest.mark.slow
    def test_two_hosts_under_load_with_crashes_converge_and_deliver_every_change_once(
            database_url, processes, receiver, tmp_path):
        try:
            _run(database_url, processes, receiver, tmp_path)
        except BaseException:
            # Everything someone needs to see what went wrong: the end of every process's output and logs.
            print(processes.report(60))
            raise


def _run(database_url: str, processes: Processes, receiver: WebhookReceiver, tmp_path: Path) -> None:
    hosts = []
    for name in ("host-a", "host-b"):
        folder = tmp_path / name
        folder.mkdir()
        hosts.append(Host(name, folder, host_settings(database_url, folder), free_port()))
    for host in hosts:
        processes.extra_logs += [host.access_log, host.error_log]
    host_a, host_b = hosts

    processes.run("migrate", flask("db", "upgrade"), host_a.env)
    reviewer, partner = _seed(database_url, tmp_path)
    for host in hosts:
        processes.run(f"{host.name}-search-ensure", flask("search", "ensure"), host.env)
    workers, followers = {}, {}
    for host in hosts:
        processes.start(f"{host.name}-gunicorn", gunicorn(host), host.env)
        followers[host.name] = processes.start(f"{host.name}-search-follow",
                                               flask("search", "follow", "--interval", "0.5"), host.env)
        workers[host.name] = processes.start(f"{host.name}-notify-work", flask("notify", "work"), host.env)
    for host in hosts:
        wait_until(lambda host=host: http("GET", f"{host.url}/healthz").status == 200, timeout=60,
                   what=f"{host.name} to answer /healthz")

    receiver.delay = 0.2
    # The partner registers its receiver on one host and follows every change through it.
    endpoint = expect(http("POST", f"{host_a.url}/api/v1/webhooks",
                           {"url": receiver.url, "description": "Partner intake"}, partner), 201, "new endpoint")
    expect(http("POST", f"{host_b.url}/api/v1/subscriptions",
                {"target_kind": "all", "channel": "webhook", "webhook_id": endpoint["id"]}, partner),
           201, "subscription to everything")

    versions: dict[str, int] = {}
    for number, key in enumerate(DRAFT_KEYS):
        created = expect(http("POST", f"{hosts[number % 2].url}/api/v1/policies", {
            "key": key, "country": "LA", "instrument": "decree", "title_en": f"Draft decree {key}",
            "title_lo": "ດຳລັດ ສະບັບຮ່າງ", "issuer": "la-mem", "topics": ["charging_infrastructure"],
            "status": "adopted", "status_effective_on": "2025-03",
            "sources": [{"url": "https://example.org/draft", "title": "Draft"}]}, reviewer), 201, f"create {key}")
        versions[key] = created["version"]
    statuses = {}
    for key in [*STATUS_KEYS, ARCHIVED_KEY]:
        record = expect(http("GET", f"{host_a.url}/api/v1/policies/{key}", token=reviewer), 200, f"read {key}")
        versions[key], statuses[key] = record["version"], record["legal_status"]

    # The expected notifications: (type, policy key, note), from what the API answered.
    expected: Counter[tuple[str, str, str | None]] = Counter()
    titles: dict[str, str] = {}
    rng = random.Random(20261207)
    killed_while_sending = False
    for number in range(WRITES):
        host = hosts[number % 2]
        if number == RESTART_WORKER_AT:
            workers[host_a.name].start()
        if number == KILL_FOLLOWER_AT:
            followers[host_b.name].kill()
        if number == RESTART_FOLLOWER_AT:
            followers[host_b.name].start()
        if number in EDITORIAL_MOVES:
            key, state = EDITORIAL_MOVES[number]
            record = expect(http("POST", f"{host.url}/api/v1/policies/{key}/editorial",
                                 {"state": state, "version": versions[key]}, reviewer), 200, f"{state} {key}")
            if state == "published":
                expected[("policy.published", key, None)] += 1
        elif number % 3 == 0:
            key = rng.choice([*STATUS_KEYS, ARCHIVED_KEY])
            title = f"Revised title r{number} of {key}"
            record = expect(http("PATCH", f"{host.url}/api/v1/policies/{key}",
                                 {"title_en": title, "version": versions[key]}, reviewer), 200, f"edit {key}")
            assert record["title_en"] == title
            titles[key] = title
            # Readers of both hosts see the page now, so each host's page cache holds a copy to be replaced.
            for reader in hosts:
                http("GET", f"{reader.url}/policies/{key}")
                http("GET", f"{reader.url}/policies")
        else:
            key = rng.choice(STATUS_KEYS)
            status = "suspended" if statuses[key] == "in_force" else "in_force"
            note = f"Write {number}: {status} on {host.name}."
            record = expect(http("POST", f"{host.url}/api/v1/policies/{key}/status",
                                 {"status": status, "note": note, "reason": "Load test."}, reviewer),
                            201, f"status of {key}")
            assert record["legal_status"] == status
            statuses[key] = status
            expected[("policy.status_changed", key, note)] += 1
        versions[key] = record["version"]
        if number == KILL_WORKER_AT:
            # Killed, if the timing allows, while the message of this status change is on the wire (sent by
            # that worker or the other: both take work). Either way the outcome must be the same.
            deadline = time.monotonic() + 5
            while not receiver.in_flight and time.monotonic() < deadline:
                time.sleep(0.005)
            killed_while_sending = receiver.in_flight > 0
            workers[host_a.name].kill()
    assert sum(1 for kind, _, _ in expected if kind == "policy.status_changed") >= 20

    secret = endpoint["secret"]
    last: dict[str, Any] = {}

    def converged() -> bool:
        """Every condition of the end state, each recorded in ``last`` for the failure message."""
        for host in hosts:
            code, output = search_check(host)
            last[f"search check {host.name}"] = (code, output[-1500:])
            if code != 0 or "pending:" in output:
                return False
        results = [search_results(host) for host in hosts]
        last["search results"] = results
        if results[0] != results[1]:
            return False
        assert all(results[0][query] for query in ("policy", "test", "revised", "ນະໂຍບາຍ")), results[0]
        last["webhooks"] = processed = _processed_webhooks(receiver, secret)
        if Counter(processed.values()) != expected:
            return False
        with observer.session() as session:
            last["deliveries"] = dict(session.execute(select(Delivery.state, func.count())
                                                      .group_by(Delivery.state)).all())
            last["events waiting"] = waiting = session.scalar(
                select(func.count()).select_from(NotificationEvent).where(NotificationEvent.fanned_out_at.is_(None)))
            ids = set(session.scalars(select(Delivery.public_id)))
        if waiting or set(last["deliveries"]) != {"delivered"}:
            return False
        last["webhook ids"] = (sorted(ids), sorted(processed))
        return ids == set(processed)

    observer = Database(database_url)
    try:
        wait_until(converged, timeout=90, interval=0.5, what="both hosts to converge")
    except AssertionError as error:
        raise AssertionError(f"{error}\n" + "\n".join(f"{name}: {value!r}" for name, value in last.items())) from None
    finally:
        observer.dispose()

    # The last title of each edited policy is in both hosts' search results and cached pages.
    for host in hosts:
        for key, title in titles.items():
            number = re.search(r" r(\d+) ", title).group(1)
            answer = http("GET", f"{host.url}/api/v1/search?{urllib.parse.urlencode({'q': f'r{number}'})}")
            assert [hit["key"] for hit in expect(answer, 200, "search")["hits"]][:1] == [key], (host.name, title)
            # Two gunicorn workers, each with its own page cache: enough requests reach both.
            for _ in range(4):
                page = expect(http("GET", f"{host.url}/policies/{key}"), 200, f"{key} on {host.name}")
                assert title in page, (host.name, key, title)
                listing = expect(http("GET", f"{host.url}/policies"), 200, f"list on {host.name}")
                assert title in listing, (host.name, title)

    stopped = processes.stop_all()
    assert all(code in (0, None) for code in stopped.values()), stopped
    for host in hosts:
        assert server_errors(host) == [], f"{host.name} answered 5xx"
        lines = host.access_log.read_text(encoding="utf-8").splitlines()
        # Every line starts with its status, so the check for 5xx above reads every answer.
        assert len(lines) > WRITES / 2 and all(re.match(r'\d{3} "', line) for line in lines), lines[:5]
    for name, process in processes.all.items():
        assert "Traceback" not in process.stderr(), f"{name} logged a traceback"
    for host in hosts:
        assert "Traceback" not in host.error_log.read_text(encoding="utf-8"), f"{host.name}'s gunicorn"
    print(f"{len(receiver.received())} webhook requests for {sum(expected.values())} expected messages "
          f"({len(receiver.received()) - sum(expected.values())} repeats dropped by webhook-id); "
          f"{len(titles)} policies retitled; the worker was killed "
          f"{'while' if killed_while_sending else 'with no'} message on the wire")


def _processed_webhooks(receiver: WebhookReceiver, secret: str) -> dict[str, tuple[str, str, str | None]]:
    """What a receiver that drops repeats by webhook-id processes: each id once, after its signature verified,
    as (type, policy key, note)."""
    processed: dict[str, tuple[str, str, str | None]] = {}
    verifier = Webhook(secret)
    for request in receiver.received():
        message_id = request.headers["webhook-id"]
        headers = {name: request.headers[name] for name in ("webhook-id", "webhook-timestamp", "webhook-signature")}
        verifier.verify(request.body, headers)
        message = json.loads(request.body)
        seen = (message["type"], message["data"]["policy_key"],
                message["data"].get("note") if message["type"] == "policy.status_changed" else None)
        if message_id in processed:
            assert processed[message_id] == seen, "a repeat carries the same message"
            continue
        processed[message_id] = seen
    return processed
