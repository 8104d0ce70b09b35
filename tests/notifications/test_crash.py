"""Never lose, never duplicate: a worker process killed (SIGKILL) at random points during a fan-out to
300 webhook endpoints, restarted again and again, still gets every message to its endpoint; receivers
that drop repeats by webhook-id see each exactly once, and nothing is left pending."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import defaultdict

import pytest
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from tracker.db import unit_of_work
from tracker.models import Delivery, Subscription, WebhookEndpoint
from tracker.models.types import utcnow
from tracker.notifications.signing import new_secret

ENDPOINTS = 300


def _worker_environment(app, tmp_path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "TRACKER_DATABASE_URL": app.config["DATABASE_URL"],
        "TRACKER_SECRET_KEY": app.config["SECRET_KEY"],
        "TRACKER_INSTANCE_PATH": str(tmp_path / "worker-instance"),
        "TRACKER_SEARCH_INDEX_PATH": str(tmp_path / "worker-index"),
        "TRACKER_SEARCH_INDEXER": "external",
        "TRACKER_NOTIFY_WORKER": "external",
        "TRACKER_NOTIFY_ALLOW_LOOPBACK": "true",
        "TRACKER_NOTIFY_REQUIRE_HTTPS": "false",
        "TRACKER_NOTIFY_LEASE_SECONDS": "1",
        "TRACKER_NOTIFY_BACKOFF_SCALE": "0.0002",
        "TRACKER_NOTIFY_POLL_INTERVAL": "0.1",
        "TRACKER_WEBHOOK_TIMEOUT": "0.5",
        "TRACKER_PUBLIC_URL": "https://tracker.example",
    })
    return env


def _start(env, log) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "tracker", "notify", "work", "--batch", "20"],
                            env=env, stdout=subprocess.DEVNULL, stderr=log)


@pytest.mark.slow
def test_killed_workers_lose_nothing_and_receivers_dedupe_to_exactly_once(notify, receiver, tmp_path):
    random.seed()
    receiver.delay = 0.03  # a little work per request, so kills land in the middle of batches
    with unit_of_work(notify.session()) as session:
        endpoints = [WebhookEndpoint(user_id=notify.partner.id, url=f"{receiver.base_url}/partner/{i}",
                                     secret=new_secret()) for i in range(ENDPOINTS)]
        session.add_all(endpoints)
        session.flush()
        session.add_all([Subscription(channel="webhook", webhook_endpoint_id=e.id, target_kind="country",
                                      target_value="LA", confirmed_at=utcnow()) for e in endpoints])
    secrets = {f"/partner/{i}": e.secret for i, e in enumerate(endpoints)}
    # Some endpoints are failing for a while: their messages go through retries across the kills.
    for i in range(0, ENDPOINTS, 25):
        receiver.script(f"/partner/{i}", 503, 500)
    notify.change_status("in_force", note="Crash test.")

    env = _worker_environment(notify.app, tmp_path)
    kills = 0
    progress: list[int] = []
    started = time.monotonic()
    log_path = tmp_path / "worker.log"
    log = log_path.open("ab")

    def answered() -> int:
        return len({r.headers["webhook-id"] for r in list(receiver.requests) if r.status == 200})

    for cycle in range(5):
        if answered() >= ENDPOINTS:
            break
        worker = _start(env, log)
        # The first one dies at a random moment of its start-up or fan-out; the others at a random
        # point once they are sending (start-up time varies with the machine's load).
        if cycle == 0:
            time.sleep(random.uniform(0.3, 1.5))
        else:
            seen = len(receiver.requests) + random.randint(1, 25)
            deadline = time.monotonic() + 15
            while len(receiver.requests) < seen and answered() < ENDPOINTS and time.monotonic() < deadline:
                time.sleep(0.005)
            time.sleep(random.uniform(0, 0.2))
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        kills += 1
        progress.append(notify.worker.status()["states"]["delivered"])
    # The last one runs to the end.
    worker = _start(env, log)
    try:
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            status = notify.worker.status()
            states = status["states"]
            if status["events_waiting"] == 0 and states["pending"] == 0 and states["retrying"] == 0 \
                    and states["delivered"] >= ENDPOINTS:
                break
            time.sleep(0.2)
    finally:
        worker.terminate()
        worker.wait(timeout=20)
        log.close()
    # 0: it stopped cleanly after its batch; -SIGTERM: the work was done before it had even started.
    assert worker.returncode in (0, -signal.SIGTERM), log_path.read_text()[-2000:]
    assert time.monotonic() - started < 60

    with notify.session() as session:
        deliveries = session.execute(select(Delivery.public_id, Delivery.state, WebhookEndpoint.url)
                                     .join(WebhookEndpoint, WebhookEndpoint.id == Delivery.webhook_endpoint_id)).all()
    assert len(deliveries) == ENDPOINTS  # one per endpoint, however often fan-out was interrupted
    assert {row.state for row in deliveries} == {"delivered"}
    expected = {row.public_id: row.url.replace(receiver.base_url, "") for row in deliveries}

    # The receivers: accept a message once per webhook-id (and only when its signature verifies).
    processed: dict[str, set[str]] = defaultdict(set)
    duplicates = 0
    for request in receiver.requests:
        if request.status != 200:
            continue  # answered with an error: the sender will try again
        msg_id = request.headers["webhook-id"]
        if msg_id in processed[request.path]:
            duplicates += 1
            continue
        headers = {k: request.headers[k] for k in ("webhook-id", "webhook-timestamp", "webhook-signature")}
        Webhook(secrets[request.path]).verify(request.body, headers)
        processed[request.path].add(msg_id)
    assert {path: ids for path, ids in processed.items()} == {path: {i} for i, path in expected.items()}
    assert sum(len(ids) for ids in processed.values()) == ENDPOINTS
    print(f"{kills} kills (delivered after each: {progress}), {len(receiver.requests)} requests, "
          f"{duplicates} repeats dropped by webhook-id")
    assert kills >= 3 and progress[0] < ENDPOINTS  # the kills did interrupt the work
