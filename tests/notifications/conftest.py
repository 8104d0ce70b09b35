"""Real parts for notification tests: an HTTP receiver and an SMTP sink on 127.0.0.1, and an app whose
database commits for real, with a published policy and the worker run by the test."""
from __future__ import annotations

import collections
import email
import email.policy
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tracker.db import unit_of_work
from tracker.models import Subscription, User, WebhookEndpoint
from tracker.models.types import utcnow
from tracker.notifications.signing import new_secret
from tracker.services import accounts, editing

PASSWORD = "correct horse battery staple"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---------------------------------------------------------------------------------------------------
# HTTP receiver


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int = 200


@dataclass
class Receiver:
    """Records every POST; answers with the status a test scripted for the path (default 200)."""

    port: int = 0
    requests: list[Received] = field(default_factory=list)
    scripts: dict[str, collections.deque] = field(default_factory=dict)
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None
    thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def script(self, path: str, *statuses: int) -> None:
        """Answer the next requests to ``path`` with these statuses, then 200."""
        self.scripts[path] = collections.deque(statuses)

    def ids(self) -> list[str]:
        with self.lock:
            return [r.headers.get("webhook-id", "") for r in self.requests]

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
                    queue = receiver.scripts.get(self.path)
                    status = queue.popleft() if queue else 200
                    receiver.requests.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()},
                                                      body, status))
                if receiver.delay:
                    time.sleep(receiver.delay)
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address) -> None:
                pass  # a sender killed mid-request resets the connection: expected in the crash test

        server = Server(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self.server = server
        self.thread = threading.Thread(target=server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real HTTP server on 127.0.0.1 that records the webhooks it receives."""
    server = Receiver()
    server.start()
    try:
        yield server
    finally:
        server.stop()


# ---------------------------------------------------------------------------------------------------
# SMTP sink


class _SinkHandler:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[Any] = []
        self.refuse: collections.deque = collections.deque()

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802
        if self.refuse:
            return self.refuse.popleft()
        self.envelopes.append(envelope)
        self.messages.append(email.message_from_bytes(envelope.original_content or envelope.content,
                                                      policy=email.policy.default))
        return "250 OK"


@dataclass
class SmtpSink:
    host: str
    port: int
    handler: _SinkHandler

    @property
    def messages(self) -> list:
        return self.handler.messages

    def wait_for(self, count: int, timeout: float = 10.0) -> list:
        deadline = time.monotonic() + timeout
        while len(self.handler.messages) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.handler.messages


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps every message."""
    handler = _SinkHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpSink("127.0.0.1", port, handler)
    finally:
        controller.stop()


# ---------------------------------------------------------------------------------------------------
# An app with real commits, a published policy, and helpers to subscribe


POLICY = {
    "key": "la-ev-import-duty-exemption",
    "country": "LA",
    "title_en": "EV import duty exemption",
    "title_lo": "ການຍົກເວັ້ນພາສີນຳເຂົ້າລົດໄຟຟ້າ",
    "instrument": "incentive",
    "topics": ["fiscal_incentives"],
    "vehicle_classes": ["all"],
    "summary_en": "Electric vehicles imported into Laos pay no import duty until the end date.",
    "status": "adopted",
    "status_effective_on": "2024-01-15",
}


@dataclass
class NotifyEnv:
    """The app under test and shortcuts to set subscriptions up and run the worker."""

    app: Any
    editor: User
    reviewer: User
    partner: User

    @property
    def database(self):
        return self.app.extensions["tracker.db"]

    @property
    def worker(self):
        from tracker.notifications.runtime import runtime_of

        return runtime_of(self.app).worker

    def session(self):
        return self.database.session(write=True)

    def endpoint(self, url: str, *, user: User | None = None) -> WebhookEndpoint:
        with unit_of_work(self.session()) as session:
            endpoint = WebhookEndpoint(user_id=(user or self.partner).id, url=url, secret=new_secret())
            session.add(endpoint)
        return endpoint

    def subscribe(self, *, channel: str = "email", kind: str = "policy", value: str | None = POLICY["key"],
                  filters: dict | None = None, cadence: str = "immediate", email_address: str | None = None,
                  endpoint: WebhookEndpoint | None = None, language: str = "en", sunset_days: int = 30,
                  confirmed: bool = True, user: User | None = None) -> Subscription:
        with unit_of_work(self.session()) as session:
            subscription = Subscription(
                user_id=user.id if user else None, email=email_address, channel=channel,
                webhook_endpoint_id=endpoint.id if endpoint else None, target_kind=kind, target_value=value,
                target_filters=filters, cadence=cadence, language=language, sunset_days=sunset_days,
                confirmed_at=utcnow() if confirmed else None)
            session.add(subscription)
        return subscription

    def change_status(self, status: str = "in_force", key: str = POLICY["key"], **extra: Any) -> None:
        with self.app.test_request_context(), unit_of_work(self.session()) as session:
            editing.change_status(session, key, {"status": status, **extra}, self.reviewer)

    def update_policy(self, changes: dict, key: str = POLICY["key"]) -> None:
        with self.app.test_request_context(), unit_of_work(self.session()) as session:
            editing.update_policy(session, key, changes, self.reviewer, None)

    def create_policy(self, data: dict, *, publish: bool = True) -> None:
        with self.app.test_request_context(), unit_of_work(self.session()) as session:
            editing.create_policy(session, data, self.editor)
        if publish:
            with self.app.test_request_context(), unit_of_work(self.session()) as session:
                editing.set_editorial_state(session, "policy", data["key"], "published", self.reviewer)

    def work(self, batch: int | None = None):
        with self.app.app_context():
            return self.worker.run_until_idle(batch)

    def wait_until_done(self, timeout: float = 20.0, *, allow: Callable[[dict], bool] | None = None) -> dict:
        """Run the worker until no delivery is pending or retrying (retries are scheduled shortly)."""
        deadline = time.monotonic() + timeout
        while True:
            self.work()
            status = self.worker.status()["states"]
            if status["pending"] == 0 and status["retrying"] == 0:
                return status
            if time.monotonic() > deadline:
                raise AssertionError(f"deliveries still open: {status}")
            time.sleep(0.05)


@pytest.fixture
def notify(committed_app, smtp_sink) -> NotifyEnv:
    """An app over a database of its own with one published policy (POLICY), real SMTP and loopback
    webhooks allowed; no embedded worker thread (tests run the worker)."""
    app = committed_app
    app.config.update(NOTIFY_WORKER="external", NOTIFY_ALLOW_LOOPBACK=True, NOTIFY_REQUIRE_HTTPS=False,
                      NOTIFY_BACKOFF_SCALE=0.0002, MAIL_HOST=smtp_sink.host, MAIL_PORT=smtp_sink.port,
                      MAIL_TLS="none", PUBLIC_URL="https://tracker.example", WEBHOOK_TIMEOUT=5,
                      MAIL_FROM="EV Policy Tracker <alerts@tracker.example>",
                      # Immediate emails go out at once here; tests of coalescing set a window of their own.
                      NOTIFY_COALESCE_SECONDS=0)
    database = app.extensions["tracker.db"]
    with unit_of_work(database.session(write=True)) as session:
        users = {role: accounts.create_user(session, f"{role}@example.org", PASSWORD, role)
                 for role in ("editor", "reviewer", "partner")}
    env = NotifyEnv(app, users["editor"], users["reviewer"], users["partner"])
    env.create_policy(POLICY)
    return env


@pytest.fixture
def count_queries_for():
    """``with count_queries_for(app) as statements:`` lists the SQL an app's engine ran in the block."""
    import contextlib

    from sqlalchemy import event

    @contextlib.contextmanager
    def counting(app):
        statements: list[str] = []

        def record(conn, cursor, statement, *args) -> None:
            statements.append(statement)

        engine = app.extensions["tracker.db"].engine
        event.listen(engine, "before_cursor_execute", record)
        try:
            yield statements
        finally:
            event.remove(engine, "before_cursor_execute", record)

    return counting
