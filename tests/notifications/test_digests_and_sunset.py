"""Digests hold each waiting change once (a late or repeated run neither skips nor repeats); sunset
alerts come once per subscription, when its own window opens; double opt-in sends only the request."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from tests.notifications.conftest import POLICY
from tracker.models import Delivery, Subscription
from tracker.models.types import utcnow
from tracker.notifications import digests, sunset

# Every test here starts a real SMTP sink and an HTTP receiver on 127.0.0.1 (servers: slow).
pytestmark = pytest.mark.slow


def _digest(notify, cadence="daily"):
    with notify.app.app_context():
        notify.worker.run_until_idle()
        return digests.send_digests(notify.worker, cadence)


def test_a_daily_digest_holds_every_waiting_change_once(notify, smtp_sink):
    notify.subscribe(channel="email", email_address="digest@example.org", cadence="daily")
    notify.change_status("in_force", note="First step.")
    notify.change_status("suspended", note="Second step.")
    notify.work()
    assert smtp_sink.messages == []  # nothing immediate for a digest subscriber

    assert _digest(notify)["emails"] == 1
    [message] = smtp_sink.wait_for(1)
    assert "2" in message["Subject"]
    text = message.get_body(("plain",)).get_content()
    assert text.index("First step.") < text.index("Second step.")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    # A repeated run finds nothing; a change after it goes into the next digest only.
    assert _digest(notify)["emails"] == 0
    notify.change_status("in_force", note="Third step.")
    assert _digest(notify)["emails"] == 1
    second = smtp_sink.wait_for(2)[1].get_body(("plain",)).get_content()
    assert "Third step." in second and "First step." not in second
    with notify.session() as session:
        assert set(session.scalars(select(Delivery.state))) == {"delivered"}


def test_a_late_digest_includes_a_change_committed_after_a_newer_one(notify, smtp_sink):
    """Rows, not a time cursor: an older change that is fanned out late still gets mailed."""
    notify.subscribe(channel="email", email_address="digest@example.org", cadence="weekly")
    notify.change_status("in_force", note="Older change.")
    with notify.session() as session:  # this change's event is fanned out only after the first digest
        from tracker.models import NotificationEvent

        old = session.scalars(select(NotificationEvent).where(
            NotificationEvent.type == "policy.status_changed")).one()
        old.fanned_out_at = utcnow()
        session.commit()
    notify.change_status("suspended", note="Newer change.")
    assert _digest(notify, "weekly")["emails"] == 1
    with notify.session() as session:
        old = session.scalars(select(NotificationEvent).where(
            NotificationEvent.type == "policy.status_changed").order_by(NotificationEvent.id)).first()
        old.fanned_out_at = None
        session.commit()
    assert _digest(notify, "weekly")["emails"] == 1
    texts = [m.get_body(("plain",)).get_content() for m in smtp_sink.wait_for(2)]
    assert "Newer change." in texts[0] and "Older change." in texts[1]
    assert "Older change." not in texts[0]


def test_daily_and_weekly_runs_take_only_their_own_subscribers(notify, smtp_sink):
    notify.subscribe(channel="email", email_address="d@example.org", cadence="daily")
    notify.subscribe(channel="email", email_address="w@example.org", cadence="weekly")
    notify.change_status("in_force")
    assert _digest(notify, "daily")["emails"] == 1
    assert [m["To"] for m in smtp_sink.wait_for(1)] == ["d@example.org"]
    assert _digest(notify, "weekly")["emails"] == 1
    assert [m["To"] for m in smtp_sink.wait_for(2)] == ["d@example.org", "w@example.org"]


def test_a_refused_digest_stays_waiting_for_the_next_run(notify, smtp_sink):
    notify.subscribe(channel="email", email_address="digest@example.org", cadence="daily")
    notify.change_status("in_force")
    smtp_sink.handler.refuse.append("451 Try again later")
    assert _digest(notify)["retry"] == 1
    assert _digest(notify)["emails"] == 1
    assert len(smtp_sink.wait_for(1)) == 1


def test_the_digest_command(notify, smtp_sink):
    notify.subscribe(channel="email", email_address="digest@example.org", cadence="daily")
    notify.change_status("in_force")
    runner = notify.app.test_cli_runner()
    result = runner.invoke(args=["notify", "digest", "--daily"])
    assert result.exit_code == 0, result.output
    assert "Sent 1 daily digests with 1 updates" in result.output
    assert runner.invoke(args=["notify", "digest"]).exit_code != 0


def test_a_sunset_alert_comes_once_when_each_window_opens(notify, receiver, smtp_sink):
    today = utcnow().date()
    ends = today + dt.timedelta(days=20)
    notify.update_policy({"valid_to": ends.isoformat()})
    endpoint = notify.endpoint(receiver.base_url + "/h")
    notify.subscribe(channel="webhook", endpoint=endpoint, kind="country", value="LA", sunset_days=30)
    notify.subscribe(channel="email", email_address="short@example.org", sunset_days=7)
    notify.work()
    receiver.requests.clear()

    with notify.app.app_context():
        assert sunset.scan(notify.worker, today) >= 1
        assert sunset.scan(notify.worker, today) == 0  # once
    notify.wait_until_done()
    [request] = receiver.requests
    import json

    body = json.loads(request.body)
    assert body["type"] == "policy.sunset_upcoming"
    assert body["data"]["valid_to_end"] == ends.isoformat() and body["data"]["days_left"] == 20
    assert smtp_sink.messages == []  # its 7-day window is not open yet

    with notify.app.app_context():
        sunset.scan(notify.worker, today + dt.timedelta(days=14))
        sunset.scan(notify.worker, today + dt.timedelta(days=15))
    notify.wait_until_done()
    assert len(receiver.requests) == 1
    [message] = smtp_sink.wait_for(1)
    # The day as a reader writes it, never an ISO date.
    assert f"{ends.day} {ends.strftime('%B')} {ends.year}" in message["Subject"]


def test_double_opt_in_sends_only_the_confirmation_request(notify, smtp_sink):
    from tracker.db import unit_of_work
    from tracker.notifications.outbox import record_event
    from tracker.notifications.tokens import read_token

    subscription = notify.subscribe(channel="email", email_address="new@partner.example", confirmed=False,
                                    kind="country", value="LA")
    with unit_of_work(notify.session()) as session:
        record_event(session, "subscription.confirm", payload={},
                     subscription=session.get(Subscription, subscription.id))
    notify.change_status("in_force")
    notify.wait_until_done()
    [message] = smtp_sink.wait_for(1)
    assert message["To"] == "new@partner.example"
    assert "confirm" in message["Subject"].lower()
    text = message.get_body(("plain",)).get_content()
    link = next(word for word in text.split() if "/subscriptions/confirm/" in word)
    with notify.app.app_context():
        assert read_token("confirm", link.rsplit("/", 1)[1]) == subscription.public_id
    assert "policies of Lao PDR" in text


def test_status_command_counts_by_state(notify, receiver):
    endpoint = notify.endpoint(receiver.base_url + "/h")
    notify.subscribe(channel="webhook", endpoint=endpoint, kind="policy", value=POLICY["key"])
    notify.change_status("in_force")
    runner = notify.app.test_cli_runner()
    result = runner.invoke(args=["notify", "work", "--once"])
    assert result.exit_code == 0, result.output
    assert "Fanned out 2 events into 1 deliveries" in result.output  # the publication had no subscriber yet
    result = runner.invoke(args=["notify", "status"])
    assert "delivered  1" in result.output and "pending    0" in result.output
