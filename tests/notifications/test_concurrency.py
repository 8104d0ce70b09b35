"""Several workers share the deliveries without sending one twice: on PostgreSQL claims skip rows another
worker has locked (FOR UPDATE SKIP LOCKED); on SQLite claims are serialised by the write lock; on both a
lease keeps a claimed delivery from others until it expires (a killed worker's claims are taken over)."""
from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from sqlalchemy import select, text

from tracker.db import unit_of_work
from tracker.models import Delivery, DeliveryAttempt, Subscription, WebhookEndpoint
from tracker.models.types import utcnow
from tracker.notifications.signing import new_secret
from tracker.notifications.worker import Worker

# Every test here starts a real SMTP sink and an HTTP receiver on 127.0.0.1 (servers: slow).
pytestmark = pytest.mark.slow


def _endpoints(notify, receiver, count: int) -> None:
    with unit_of_work(notify.session()) as session:
        endpoints = [WebhookEndpoint(user_id=notify.partner.id, url=f"{receiver.base_url}/e/{i}", secret=new_secret())
                     for i in range(count)]
        session.add_all(endpoints)
        session.flush()
        session.add_all([Subscription(channel="webhook", webhook_endpoint_id=e.id, target_kind="all",
                                      confirmed_at=utcnow()) for e in endpoints])


def test_two_workers_share_the_work_and_send_each_message_once(notify, receiver):
    _endpoints(notify, receiver, 120)
    receiver.delay = 0.005
    notify.change_status("in_force")
    notify.app.config["NOTIFY_SEND_THREADS"] = 2
    workers = [Worker(notify.app), Worker(notify.app)]
    done = [0, 0]

    def run(index: int) -> None:
        with notify.app.app_context():
            done[index] = workers[index].run_until_idle(batch=10).claimed

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    ids = receiver.ids()
    assert len(ids) == len(set(ids)) == 120  # no message sent twice
    assert sum(done) == 120
    with notify.session() as session:
        attempts = Counter(session.scalars(select(DeliveryAttempt.delivery_id)))
        assert set(attempts.values()) == {1}
        assert set(session.scalars(select(Delivery.state))) == {"delivered"}


def test_claimed_rows_are_skipped_by_other_workers_until_the_lease_expires(notify, receiver):
    _endpoints(notify, receiver, 10)
    notify.change_status("in_force")
    notify.app.config["NOTIFY_LEASE_SECONDS"] = 0.5
    notify.app.config["WEBHOOK_TIMEOUT"] = 0.25
    notify.app.config["NOTIFY_SEND_THREADS"] = 10  # leases of these small claims (one round): 0.5 s
    first, second = Worker(notify.app), Worker(notify.app)
    with notify.app.app_context():
        first.fan_out()
        database = notify.database
        if database.engine.dialect.name == "postgresql":
            # Another worker's claim transaction holds 4 rows: this claim skips them instead of waiting.
            with database.engine.connect() as other:
                other.begin()
                locked = other.execute(text("SELECT id FROM deliveries ORDER BY id LIMIT 4 FOR UPDATE")).scalars().all()
                started = time.monotonic()
                claimed = [i for i, _ in second.claim(8)]
                assert time.monotonic() - started < 2
                assert not set(locked) & set(claimed) and len(claimed) == 6
                other.rollback()
            assert sorted(i for i, _ in first.claim(8)) == sorted(locked)  # released: now claimable
        else:
            # SQLite: one writer at a time, so a claim is all or nothing per transaction.
            claimed = [i for i, _ in first.claim(4)]
            assert len(claimed) == 4
            assert len(second.claim(8)) == 6
        # Claimed (leased) rows are not handed out again...
        assert second.claim(8) == []
        # ...until the lease runs out: a killed worker's claims are taken over.
        time.sleep(0.6)
        assert len(second.claim(10)) == 10
