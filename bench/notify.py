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


def build_app(workdir: Path):
    from tracker import create_app, migrate
    from tracker.db import unit_of_work
    from tracker.services import accounts
    from tracker.services.dataset import load_dataset

    app = create_app({"DATABASE_URL": f"sqlite:///{workdir / 'bench.db'}", "SECRET_KEY": "bench-secret-key",
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--subscribers", type=int, default=10000)
    parser.add_argument("--webhooks", type=int, default=10000)
    parser.add_argument("--emails", type=int, default=2000)
    args = parser.parse_args()

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
