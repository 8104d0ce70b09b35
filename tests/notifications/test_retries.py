"""Retries: 5xx, 408/429, timeouts and refused connections are retried with backoff; 410 disables the
endpoint; other 4xx stop; a message that keeps failing dies after the schedule; every try is recorded."""
from __future__ import annotations

import random
import time

import pytest
from sqlalchemy import select

from tracker.models import Delivery, DeliveryAttempt, WebhookEndpoint
from tracker.notifications.worker import MAX_ATTEMPTS, RETRY_DELAYS, backoff

# Every test here starts a real SMTP sink and an HTTP receiver on 127.0.0.1 (servers: slow).
pytestmark = pytest.mark.slow


def _delivery(notify):
    with notify.session() as session:
        delivery = session.scalars(select(Delivery)).one()
        attempts = session.scalars(select(DeliveryAttempt).order_by(DeliveryAttempt.id)).all()
        return delivery, [(a.outcome, a.status_code) for a in attempts]


def _hook(notify, receiver, path="/h"):
    endpoint = notify.endpoint(receiver.base_url + path)
    notify.subscribe(channel="webhook", endpoint=endpoint, kind="all", value=None)
    return endpoint


def test_a_500_is_retried_and_the_same_message_id_arrives(notify, receiver):
    _hook(notify, receiver)
    receiver.script("/h", 500, 503, 429, 408)
    notify.change_status("in_force")
    notify.wait_until_done()
    delivery, attempts = _delivery(notify)
    assert delivery.state == "delivered"
    assert attempts == [("retry", 500), ("retry", 503), ("retry", 429), ("retry", 408), ("delivered", 200)]
    ids = receiver.ids()
    assert len(ids) == 5 and len(set(ids)) == 1 and ids[0] == delivery.public_id


def test_410_disables_the_endpoint(notify, receiver, smtp_sink):
    endpoint = _hook(notify, receiver)
    receiver.script("/h", 410)
    notify.change_status("in_force")
    notify.wait_until_done()
    delivery, attempts = _delivery(notify)
    assert (delivery.state, attempts) == ("failed", [("failed", 410)])
    with notify.session() as session:
        stored = session.get(WebhookEndpoint, endpoint.id)
        assert stored.disabled_at is not None and "410" in stored.disabled_reason
    # Its owner is told by email.
    [notice] = smtp_sink.wait_for(1)
    assert notice["To"] == "partner@example.org"
    assert "disabled" in notice["Subject"]
    assert receiver.base_url + "/h" in notice.get_body(("plain",)).get_content()
    # A disabled endpoint receives nothing more.
    notify.change_status("expired", reason="Ended early.")
    notify.wait_until_done()
    assert len(receiver.requests) == 1


def test_other_4xx_stop_without_retrying(notify, receiver):
    _hook(notify, receiver)
    receiver.script("/h", 400)
    notify.change_status("in_force")
    notify.wait_until_done()
    delivery, attempts = _delivery(notify)
    assert (delivery.state, attempts, delivery.last_status_code) == ("failed", [("failed", 400)], 400)


def test_a_slow_receiver_times_out_and_is_retried(notify, receiver):
    notify.app.config["WEBHOOK_TIMEOUT"] = 0.3
    _hook(notify, receiver)
    receiver.delay = 1.0
    notify.change_status("in_force")
    notify.work()
    delivery, attempts = _delivery(notify)
    assert delivery.state == "retrying"
    assert attempts and set(attempts) == {("retry", None)}
    assert "No answer within 0.3 s" in delivery.last_error
    receiver.delay = 0
    notify.wait_until_done()
    assert _delivery(notify)[0].state == "delivered"


def test_a_receiver_that_is_down_gets_everything_when_it_is_back(notify, receiver):
    _hook(notify, receiver)
    port = receiver.port
    receiver.stop()
    for status in ("in_force", "suspended", "in_force"):
        notify.change_status(status)
    for _ in range(3):
        notify.work()
        time.sleep(0.05)
    with notify.session() as session:
        states = session.scalars(select(Delivery.state)).all()
        assert states == ["retrying"] * 3
        errors = session.scalars(select(DeliveryAttempt.error)).all()
        assert errors and all("Connection" in e or "refused" in e.lower() for e in errors)
    receiver.port = port
    receiver.start()
    notify.wait_until_done()
    bodies = [r.body for r in receiver.requests]
    assert len(bodies) == 3
    with notify.session() as session:
        assert set(session.scalars(select(Delivery.state))) == {"delivered"}


def test_a_message_dies_after_the_schedule(notify, receiver):
    notify.app.config["NOTIFY_BACKOFF_SCALE"] = 0.00001  # the day-long schedule in about a second
    _hook(notify, receiver)
    receiver.script("/h", *([502] * (MAX_ATTEMPTS + 2)))
    notify.change_status("in_force")
    notify.wait_until_done()
    delivery, attempts = _delivery(notify)
    assert delivery.state == "dead"
    assert len(attempts) == MAX_ATTEMPTS == 8
    assert attempts[-1] == ("dead", 502)


def test_the_schedule_spans_about_a_day_with_jitter():
    random.seed(4)
    total = sum(backoff(n) for n in range(1, MAX_ATTEMPTS))
    assert 20 * 3600 < total < 36 * 3600
    assert 4 <= backoff(1) <= 6 and RETRY_DELAYS[:3] == (5, 300, 1800)
    assert len({round(backoff(2), 3) for _ in range(10)}) > 1
    assert backoff(1, retry_after=120) >= 120
