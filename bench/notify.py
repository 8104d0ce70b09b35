"""Notifications: the cost of recording a status change with 0 and 10,000 subscribers, and fan-out throughput.

Usage: .venv/bin/python bench/notify.py [--requests 60] [--subscribers 10000] [--webhooks 10000] [--emails 2000]

The script builds a throwaway SQLite database (migrations, the demo data, a reviewer with an API token)
and measures, in this process through Flask's test client:

  status change   POST /api/v1/policies/<key>/status (bearer token, JSON), each one a real write that
                  confirms the policy's status again with a new note; first with no subscriber, then
                  after adding --subscribers webhook subscriptions that all match the policy. The
                  request only writes the outbox row; the worker is not running while this is timed,
                  so the figures show what the request itself costs. Target: ratio of medians <= 1.1.

  webhook fan-out one status change matching --webhooks endpoints (each its own subscription), all
                  pointing at a receiver in a separate process on 127.0.0.1 that answers 200; the
                  worker fans the event out and sends every message, signed. Target: 10,000 in < 60 s.

  email fan-out   the same with --emails email subscribers, sent to an aiosmtpd sink in a separate
                  process on 127.0.0.1.

With --latency it measures instead, with `flask notify work` processes (default settings: a poll every
5 s, WEBHOOK_TIMEOUT 15 s, NOTIFY_LEASE_SECONDS 90) and a receiver in this process:

  wake-up latency time from a status change's commit to the webhook's arrival, over --rounds changes
                  spaced at random: on SQLite the worker polls; on PostgreSQL (--database-url, an
                  empty database, e.g. under script/with-postgresql) it LISTENs and is woken by NOTIFY.

  recovery        a worker is SIGKILLed while its --claimed sends hang in the receiver; a second
                  worker is started at once: the time from the kill to the delivery of all of them.

Progress lines go to stderr while it runs; the figures are printed at the end.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RECEIVER = r'''
import sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
count = 0
lock = threading.Lock()
class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        global count
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with lock:
            count += 1
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def do_GET(self):
        body = str(count).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
server.daemon_threads = True
server.request_queue_size = 256
server.serve_forever()
'''


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on 127.0.0.1:{port}")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


def build_app(workdir: Path, database_url: str | None = None):
    from tracker import create_app, migrate
    from tracker.db import unit_of_work
    from tracker.services import accounts
    from tracker.services.dataset import load_dataset

    app = create_app({"DATABASE_URL": database_url or f"sqlite:///{workdir / 'bench.db'}",
                      "SECRET_KEY": "bench-secret-key",
                      "SEARCH_INDEX_PATH": str(workdir / "index"), "SEARCH_INDEXER": "external",
                      "NOTIFY_WORKER": "external", "NOTIFY_ALLOW_LOOPBACK": True, "NOTIFY_REQUIRE_HTTPS": False,
                      "PUBLIC_URL": "https://tracker.example", "PAGE_CACHE_SIZE": 0})
    database = app.extensions["tracker.db"]
    migrate.upgrade(database.engine)
    data = json.loads((ROOT / "tracker" / "data" / "asean-ev-policies.json").read_text(encoding="utf-8"))
    with unit_of_work(database.session(write=True)) as session:
        load_dataset(session, data)
        reviewer = accounts.create_user(session, "bench-reviewer@example.org", "bench reviewer passphrase",
                                        "reviewer")
        partner = accounts.create_user(session, "bench-partner@example.org", "bench partner passphrase", "partner")
        _, token = accounts.create_api_token(session, reviewer, "bench")
    from sqlalchemy import select

    from tracker.models import Policy

    with database.session() as session:
        policies = session.scalars(select(Policy).where(Policy.editorial_state == "published",
                                                        Policy.jurisdiction_code == "LA").order_by(Policy.id)).all()
        targets = [(policy.key, policy.legal_status) for policy in policies[:10]]
    return app, token, targets, partner.id


def add_subscribers(app, partner_id: int, count: int, *, channel: str, url: str | None = None,
                    country: str = "LA") -> None:
    from sqlalchemy import insert

    from tracker.db import unit_of_work
    from tracker.models import Subscription, WebhookEndpoint
    from tracker.models.notification import new_subscription_id
    from tracker.models.types import utcnow
    from tracker.notifications.signing import new_secret

    database = app.extensions["tracker.db"]
    now = utcnow()
    with unit_of_work(database.session(write=True)) as session:
        endpoint_ids: list[int | None] = [None] * count
        if channel == "webhook":
            first = session.execute(insert(WebhookEndpoint.__table__).values(
                user_id=partner_id, url=url, secret=new_secret(), created_at=now)).inserted_primary_key[0]
            if count > 1:
                session.execute(insert(WebhookEndpoint.__table__), [
                    {"user_id": partner_id, "url": url, "secret": new_secret(), "created_at": now}
                    for _ in range(count - 1)])
            endpoint_ids = list(range(first, first + count))
        session.execute(insert(Subscription.__table__), [{
            "public_id": new_subscription_id(), "user_id": None, "channel": channel,
            "email": f"partner{i}@bench.example" if channel == "email" else None,
            "webhook_endpoint_id": endpoint_ids[i], "target_kind": "country", "target_value": country,
            "cadence": "immediate", "sunset_days": 30, "language": "en", "confirmed_at": now, "created_at": now,
        } for i in range(count)])


def time_status_changes(client, token: str, targets: list[tuple[str, str]], count: int, label: str) -> list[float]:
    """Confirm the current status of the policies in turn (the move is always allowed), timing each."""
    headers = {"Authorization": f"Bearer {token}"}
    timings = []
    for i in range(count):
        key, status = targets[i % len(targets)]
        started = time.perf_counter()
        response = client.post(f"/api/v1/policies/{key}/status", headers=headers,
                               json={"status": status, "note": f"Bench confirmation {label} {i}"})
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 201:
            raise SystemExit(f"status change refused: {response.status_code} {response.get_data(as_text=True)[:300]}")
        timings.append(elapsed)
    return timings


def remove_subscribers(app) -> None:
    from sqlalchemy import delete

    from tracker.db import unit_of_work
    from tracker.models import Subscription, WebhookEndpoint

    with unit_of_work(app.extensions["tracker.db"].session(write=True)) as session:
        session.execute(delete(Subscription))
        session.execute(delete(WebhookEndpoint))


def checkpoint(app) -> None:
    """Fold the WAL back into the database, so a bulk insert's pages do not weigh on the next block."""
    with app.extensions["tracker.db"].engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def clear_outbox(app) -> None:
    """Mark the timed requests' events as fanned out: the throughput runs start from one event."""
    from sqlalchemy import update

    from tracker.db import unit_of_work
    from tracker.models import NotificationEvent
    from tracker.models.types import utcnow

    with unit_of_work(app.extensions["tracker.db"].session(write=True)) as session:
        session.execute(update(NotificationEvent).where(NotificationEvent.fanned_out_at.is_(None))
                        .values(fanned_out_at=utcnow()))


def run_fan_out(app, client, token: str, targets: list, expected: int, label: str) -> tuple[float, dict]:
    from tracker.notifications.runtime import runtime_of

    worker = runtime_of(app).worker
    time_status_changes(client, token, targets[:1], 1, label)
    done = threading.Event()

    def report() -> None:
        while not done.wait(3):
            states = worker.status()["states"]
            progress(f"  {label}: {states['delivered']} delivered, {states['pending']} pending, "
                     f"{states['retrying']} retrying")

    reporter = threading.Thread(target=report, daemon=True)
    started = time.perf_counter()
    reporter.start()
    with app.app_context():
        result = worker.run_until_idle(batch=200)
    elapsed = time.perf_counter() - started
    done.set()
    if result.created != expected or result.outcomes.get("delivered", 0) != expected:
        raise SystemExit(f"{label}: expected {expected} deliveries, got {result.created} created and "
                         f"{result.outcomes}")
    return elapsed, worker.status()["states"]


class _Receiver:
    """Webhooks received in this process: when each arrived (this process's clock), and a delay that makes
    requests hang (a worker killed in the middle of its sends)."""

    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.arrivals: list[float] = []
        self.delay = 0.0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.arrivals.append(time.monotonic())
                if receiver.delay:
                    time.sleep(receiver.delay)
                try:
                    self.send_response(200)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the sender was killed

            def log_message(self, *args) -> None:
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address) -> None:
                pass

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def _start_worker(app, workdir: Path, name: str) -> tuple[subprocess.Popen, Path]:
    env = dict(os.environ)
    env.update({"TRACKER_DATABASE_URL": app.config["DATABASE_URL"], "TRACKER_SECRET_KEY": app.config["SECRET_KEY"],
                "TRACKER_INSTANCE_PATH": str(workdir / f"{name}-instance"),
                "TRACKER_SEARCH_INDEX_PATH": str(workdir / f"{name}-index"), "TRACKER_SEARCH_INDEXER": "external",
                "TRACKER_NOTIFY_WORKER": "external", "TRACKER_NOTIFY_ALLOW_LOOPBACK": "true",
                "TRACKER_NOTIFY_REQUIRE_HTTPS": "false", "TRACKER_PUBLIC_URL": "https://tracker.example"})
    log = workdir / f"{name}.log"
    with log.open("ab") as stderr:
        worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "tracker", "notify", "work"],
                                  env=env, stdout=subprocess.DEVNULL, stderr=stderr, cwd=ROOT)
    deadline = time.monotonic() + 60
    while "Polling every" not in log.read_text() and "Woken by commits" not in log.read_text():
        if time.monotonic() > deadline or worker.poll() is not None:
            raise SystemExit(f"the worker did not start: {log.read_text()[-2000:]}")
        time.sleep(0.05)
    time.sleep(1.0)  # its first pass (nothing to do) is over, and LISTEN is in place
    return worker, log


def _wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up waiting for {what}")
        time.sleep(0.005)


def run_latency(args) -> None:
    import random
    import signal

    from sqlalchemy import func, select

    from tracker.models import Delivery
    from tracker.notifications.worker import Worker

    with tempfile.TemporaryDirectory(prefix="bench-notify-") as tmp:
        workdir = Path(tmp)
        os.environ["TRACKER_INSTANCE_PATH"] = str(workdir / "instance")
        progress("building the database (migrations, demo data, accounts)")
        app, token, targets, partner_id = build_app(workdir, args.database_url)
        database = app.extensions["tracker.db"]
        dialect = database.engine.dialect.name
        client = app.test_client()
        headers = {"Authorization": f"Bearer {token}"}
        receiver = _Receiver()
        add_subscribers(app, partner_id, 1, channel="webhook", url=receiver.url)

        worker, log = _start_worker(app, workdir, "latency")
        latencies: list[float] = []
        try:
            for i in range(args.rounds):
                time.sleep(random.uniform(0.2, 1.5))  # commits fall anywhere in the worker's poll cycle
                key, status = targets[i % len(targets)]
                before = len(receiver.arrivals)
                response = client.post(f"/api/v1/policies/{key}/status", headers=headers,
                                       json={"status": status, "note": f"Latency {i}"})
                committed = time.monotonic()
                assert response.status_code in (200, 201), response.get_data(as_text=True)[:300]
                _wait_until(lambda seen=before: len(receiver.arrivals) > seen, 120, "the webhook")
                latencies.append(receiver.arrivals[before] - committed)
            progress(f"{dialect}: median {statistics.median(latencies):.2f} s over {len(latencies)} changes")
        finally:
            worker.terminate()
            worker.wait(timeout=30)
        woken = "Woken by commits" in log.read_text()

        # Recovery: the worker dies with its sends in flight; another one takes them over.
        remove_subscribers(app)
        add_subscribers(app, partner_id, args.claimed, channel="webhook", url=receiver.url)
        lease = Worker(app).lease_seconds(args.claimed)
        with database.session() as session:
            delivered_before = session.scalar(select(func.count()).select_from(Delivery)
                                              .where(Delivery.state == "delivered")) or 0
        first, _ = _start_worker(app, workdir, "killed")
        receiver.delay = 600.0
        before = len(receiver.arrivals)
        key, status = targets[0]
        client.post(f"/api/v1/policies/{key}/status", headers=headers, json={"status": status, "note": "Kill"})
        _wait_until(lambda: len(receiver.arrivals) >= before + args.claimed, 120, "the sends to hang")
        first.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        first.wait()
        receiver.delay = 0.0
        second, _ = _start_worker(app, workdir, "second")

        def all_delivered() -> bool:
            with database.session() as session:
                return (session.scalar(select(func.count()).select_from(Delivery)
                                       .where(Delivery.state == "delivered")) or 0) >= delivered_before + args.claimed
        try:
            _wait_until(all_delivered, 600, "the second worker's deliveries")
            recovery = time.monotonic() - killed
        finally:
            second.terminate()
            second.wait(timeout=30)
        receiver.server.shutdown()
        database.dispose()

    print(f"Notification worker latency ({platform.python_implementation()} {platform.python_version()}, "
          f"{dialect}, {os.cpu_count()} CPUs; poll interval {app.config['NOTIFY_POLL_INTERVAL']:g} s, "
          f"{'LISTEN/NOTIFY' if woken else 'polling'})")
    print(f"  commit -> webhook received: median {statistics.median(latencies):.2f} s   "
          f"p95 {percentile(latencies, 95):.2f} s   max {max(latencies):.2f} s   ({len(latencies)} changes)")
    print(f"  worker SIGKILLed with {args.claimed} sends in flight: delivered by another worker "
          f"{recovery:.1f} s after the kill (lease {lease:g} s, started at once)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--subscribers", type=int, default=10000)
    parser.add_argument("--webhooks", type=int, default=10000)
    parser.add_argument("--emails", type=int, default=2000)
    parser.add_argument("--latency", action="store_true",
                        help="measure wake-up latency and recovery after a kill instead (external workers)")
    parser.add_argument("--database-url", default=None,
                        help="with --latency: an empty PostgreSQL database (default: a SQLite file)")
    parser.add_argument("--rounds", type=int, default=30, help="with --latency: status changes timed")
    parser.add_argument("--claimed", type=int, default=4, help="with --latency: sends in flight at the kill")
    args = parser.parse_args()
    if args.latency:
        run_latency(args)
        return

    with tempfile.TemporaryDirectory(prefix="bench-notify-") as tmp:
        workdir = Path(tmp)
        os.environ["TRACKER_INSTANCE_PATH"] = str(workdir / "instance")
        progress("building the database (migrations, demo data, accounts)")
        app, token, targets, partner_id = build_app(workdir)
        client = app.test_client()

        # The two conditions alternate in blocks, so the policies' growing timelines (each request adds
        # a step) and the machine's other load weigh on both alike.
        rounds = 3
        per_block = max(1, args.requests // rounds)
        time_status_changes(client, token, targets, 10, "warm-up")
        zero: list[float] = []
        many: list[float] = []
        for round_ in range(1, rounds + 1):
            checkpoint(app)
            progress(f"round {round_}/{rounds}: timing {per_block} status changes with no subscriber")
            zero += time_status_changes(client, token, targets, per_block, f"zero {round_}")
            progress(f"round {round_}/{rounds}: adding {args.subscribers} matching webhook subscribers")
            add_subscribers(app, partner_id, args.subscribers, channel="webhook", url="http://127.0.0.1:9/unused")
            checkpoint(app)
            progress(f"round {round_}/{rounds}: timing {per_block} status changes with {args.subscribers} "
                     "subscribers")
            many += time_status_changes(client, token, targets, per_block, f"many {round_}")
            remove_subscribers(app)
        clear_outbox(app)

        receiver_port, smtp_port = free_port(), free_port()
        receiver = subprocess.Popen([sys.executable, "-c", RECEIVER, str(receiver_port)])
        sink = subprocess.Popen([sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{smtp_port}",
                                 "-c", "aiosmtpd.handlers.Sink"], stderr=subprocess.DEVNULL)
        try:
            wait_for_port(receiver_port)
            wait_for_port(smtp_port)
            progress(f"adding {args.webhooks} webhook endpoints on the local receiver")
            add_subscribers(app, partner_id, args.webhooks, channel="webhook",
                            url=f"http://127.0.0.1:{receiver_port}/hooks")
            progress("fan-out and send to the webhook receiver")
            webhook_seconds, _ = run_fan_out(app, client, token, targets, args.webhooks, "webhooks")
            remove_subscribers(app)
            app.config.update(MAIL_HOST="127.0.0.1", MAIL_PORT=smtp_port, MAIL_TLS="none")
            progress(f"adding {args.emails} email subscribers")
            add_subscribers(app, partner_id, args.emails, channel="email")
            progress("fan-out and send to the SMTP sink")
            email_seconds, _ = run_fan_out(app, client, token, targets, args.emails, "emails")
        finally:
            receiver.terminate()
            sink.terminate()
            receiver.wait()
            sink.wait()
        app.extensions["tracker.db"].dispose()

    zero_median, many_median = statistics.median(zero), statistics.median(many)
    print(f"Notifications benchmark ({platform.python_implementation()} {platform.python_version()}, "
          f"SQLite, {os.cpu_count()} CPUs)")
    print(f"Status change request (POST /api/v1/policies/<key>/status, {len(zero)} requests each, "
          f"in {rounds} alternating blocks):")
    print(f"  0 subscribers:      median {zero_median:6.1f} ms   p95 {percentile(zero, 95):6.1f} ms")
    print(f"  {args.subscribers} subscribers: median {many_median:6.1f} ms   p95 {percentile(many, 95):6.1f} ms")
    print(f"  ratio of medians: {many_median / zero_median:.2f} (target <= 1.1)")
    print(f"Webhook fan-out: {args.webhooks} deliveries in {webhook_seconds:.1f} s = "
          f"{args.webhooks / webhook_seconds:.0f} deliveries/s (target: 10,000 in < 60 s)")
    print(f"Email fan-out:   {args.emails} deliveries in {email_seconds:.1f} s = "
          f"{args.emails / email_seconds:.0f} deliveries/s (SMTP sink on 127.0.0.1)")


if __name__ == "__main__":
    main()
