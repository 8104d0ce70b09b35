"""The embedded worker: woken by the commit that recorded a change, it sends without the request waiting;
with no SMTP server configured, emails land as .eml files in the instance folder."""
from __future__ import annotations

import email
import email.policy
import time

import pytest

from tracker.notifications.runtime import runtime_of

# Every test here starts a real SMTP sink and an HTTP receiver on 127.0.0.1 (servers: slow).
pytestmark = pytest.mark.slow


def test_the_commit_wakes_the_embedded_worker(notify, receiver):
    endpoint = notify.endpoint(receiver.base_url + "/h")
    notify.subscribe(channel="webhook", endpoint=endpoint, kind="all", value=None)
    notify.app.config.update(NOTIFY_WORKER="embedded", NOTIFY_EMBEDDED_IN_TESTS=True, NOTIFY_POLL_INTERVAL=30)
    runtime = runtime_of(notify.app)
    try:
        notify.change_status("in_force")  # its commit nudges the thread; the poll is far away
        deadline = time.monotonic() + 15
        while not receiver.requests and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(receiver.requests) == 1
    finally:
        runtime.stop()
        notify.app.config.update(NOTIFY_WORKER="external", NOTIFY_EMBEDDED_IN_TESTS=False)


def test_without_smtp_emails_are_written_as_eml_files(notify, tmp_path):
    notify.app.config.update(MAIL_HOST=None, MAIL_OUTBOX_PATH=str(tmp_path / "outbox-mail"))
    notify.subscribe(channel="email", email_address="offline@example.org")
    notify.change_status("in_force")
    notify.wait_until_done()
    outbox = tmp_path / "outbox-mail"
    [path] = list(outbox.glob("*.eml"))
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert message["To"] == "offline@example.org"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "outbox-mail" in runtime_of(notify.app).worker.mailer.describe()


def test_recording_a_change_does_not_fan_out_in_the_request(notify, receiver, count_queries_for):
    """One INSERT into the outbox, whatever the number of subscribers (the worker fans out later)."""
    endpoint = notify.endpoint(receiver.base_url + "/h")
    for _ in range(50):
        notify.subscribe(channel="webhook", endpoint=endpoint, kind="all", value=None)
    with count_queries_for(notify.app) as statements:
        notify.change_status("in_force")
    assert not any("subscriptions" in s or "deliveries" in s for s in statements)
    assert sum("INSERT INTO notification_events" in s for s in statements) == 1
