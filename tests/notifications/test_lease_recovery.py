"""A worker killed in the middle of its sends: its lease is sized from what it claimed, so another worker
takes the deliveries over as soon as that lease runs out and delivers each once more with the same
webhook-id."""
from __future__ import annotations

import datetime as dt
import signal
import subprocess
import sys
import time

from sqlalchemy import select

from tests.notifications.test_crash import _worker_environment
from tracker.models import Delivery, DeliveryAttempt
from tracker.models.types import utcnow
from tracker.notifications.worker import Worker

ENDPOINTS = 3


def _start(env, log) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "tracker", "notify", "work"],
                            env=env, stdout=subprocess.DEVNULL, stderr=log)


def _wait(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.02)


def test_a_killed_workers_claim_is_delivered_by_another_worker_once_its_sized_lease_ends(notify, receiver,
                                                                                          tmp_path):
    for i in range(ENDPOINTS):
        notify.subscribe(channel="webhook", kind="country", value="LA",
                         endpoint=notify.endpoint(f"{receiver.base_url}/partner/{i}"))
    notify.change_status("in_force", note="Lease test.")
    env = _worker_environment(notify.app, tmp_path)
    # The default longest lease, and sends that may take 1 s each: the lease of 3 deliveries sent by
    # 4 threads is one round of sends plus one of margin, 2 s (it was 292 s, sized from the batch limit).
    env.update({"TRACKER_NOTIFY_LEASE_SECONDS": "90", "TRACKER_WEBHOOK_TIMEOUT": "1",
                "TRACKER_NOTIFY_SEND_THREADS": "4"})
    notify.app.config.update(WEBHOOK_TIMEOUT=1, NOTIFY_SEND_THREADS=4, NOTIFY_LEASE_SECONDS=90)
    lease = Worker(notify.app).lease_seconds(ENDPOINTS)
    assert lease == 2

    receiver.delay = 30  # the first worker's requests arrive and hang: it dies with its sends in flight
    log_path = tmp_path / "worker.log"
    with log_path.open("ab") as log:
        first = _start(env, log)
        try:
            _wait(lambda: len(receiver.requests) == ENDPOINTS, 30, "the first worker's requests")
        finally:
            seen = utcnow()
            first.send_signal(signal.SIGKILL)
            first.wait()
        killed = time.monotonic()
        receiver.delay = 0
        with notify.session() as session:
            leases = dict(session.execute(select(Delivery.public_id, Delivery.lease_until)).all())
        assert len(leases) == ENDPOINTS
        # Leased for what was claimed, not for a whole batch.
        assert all(until <= seen + dt.timedelta(seconds=lease) for until in leases.values()), leases

        second = _start(env, log)
        try:
            _wait(lambda: notify.worker.status()["states"]["delivered"] == ENDPOINTS, 60,
                  "the second worker's deliveries" + log_path.read_text()[-2000:])
            recovered = time.monotonic() - killed
        finally:
            second.terminate()
            second.wait(timeout=20)
    print(f"recovered {ENDPOINTS} deliveries {recovered:.2f} s after the kill (lease {lease:g} s)")

    with notify.session() as session:
        deliveries = session.scalars(select(Delivery)).all()
        attempts = session.execute(select(DeliveryAttempt.delivery_id, DeliveryAttempt.attempted_at,
                                          DeliveryAttempt.outcome)).all()
    # Each was claimed twice (by the killed worker, then by the second one) and recorded once: the
    # killed worker never committed an outcome.
    assert sorted(d.attempts for d in deliveries) == [2] * ENDPOINTS
    assert sorted(a.outcome for a in attempts) == ["delivered"] * ENDPOINTS
    by_id = {d.id: d.public_id for d in deliveries}
    # Nobody took a delivery over before the killed worker's lease on it had run out.
    assert all(a.attempted_at >= leases[by_id[a.delivery_id]] for a in attempts)
    # Sent again with the same webhook-id: a receiver that drops repeats by id processes each once.
    ids = receiver.ids()
    assert sorted(set(ids)) == sorted(by_id.values())
    assert len(ids) == 2 * ENDPOINTS

