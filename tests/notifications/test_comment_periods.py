"""Comment periods: followers hear when a closing day moves (extended or shortened), and are reminded once
when a period closes within their window, again if the closing day moves; by real SMTP and signed webhooks."""
from __future__ import annotations

import datetime as dt
import json

from tracker.db import unit_of_work
from tracker.notifications import comment_periods
from tracker.services import editing

CONSULTED = {
    "key": "la-draft-charging-standard",
    "country": "LA",
    "title_en": "Draft national standard for EV charging stations",
    "title_lo": "ຮ່າງມາດຕະຖານແຫ່ງຊາດສຳລັບສະຖານີສາກລົດໄຟຟ້າ",
    "instrument": "standard",
    "topics": ["charging_infrastructure"],
    "status": "drafting",
    "status_effective_on": "2026-05-01",
}


def _open_consultation(notify, opens: dt.date, closes: dt.date) -> None:
    notify.create_policy(CONSULTED)
    notify.change_status("consultation", key=CONSULTED["key"], effective_on=opens.isoformat(), consultation={
        "opens_on": opens.isoformat(), "closes_on": closes.isoformat(),
        "comment_address": "standards@example.gov.la"})


def _move_closing_day(notify, closes: dt.date) -> None:
    with notify.app.test_request_context(), unit_of_work(notify.session()) as session:
        policy_version = editing.current_version(session, "policy", CONSULTED["key"])
        step = max(editing.current_record(session, "policy", CONSULTED["key"])["status_history"],
                   key=lambda s: s["date"] or "")
        assert step["status"] == "consultation"
        editing.update_status_step(session, CONSULTED["key"], 2, {"consultation": {"closes_on": closes.isoformat()}},
                                   notify.reviewer, policy_version)


def test_an_extension_is_told_by_email_and_webhook_as_extended_from_to(notify, receiver, smtp_sink):
    _open_consultation(notify, dt.date(2026, 6, 1), dt.date(2026, 7, 14))
    endpoint = notify.endpoint(receiver.base_url + "/h")
    notify.subscribe(channel="webhook", endpoint=endpoint, kind="country", value="LA")
    notify.subscribe(channel="email", email_address="partner@example.org", kind="policy", value=CONSULTED["key"])
    notify.work()
    receiver.requests.clear()

    _move_closing_day(notify, dt.date(2026, 7, 31))
    notify.wait_until_done()
    [request] = receiver.requests
    body = json.loads(request.body)
    assert body["type"] == "policy.comment_period_changed"
    assert body["data"]["change"] == "extended"
    assert body["data"]["old_closes_on"] == "2026-07-14" and body["data"]["closes_on"] == "2026-07-31"
    assert body["data"]["summary"] == "Comment period extended from 2026-07-14 to 2026-07-31"
    [message] = smtp_sink.wait_for(1)
    assert "Comment period extended" in str(message["Subject"])
    text = message.get_body(("plain",)).get_content()
    assert "The comment period was extended from 14 July 2026 to 31 July 2026." in text


def test_a_shortening_is_told_as_such_and_other_edits_of_the_period_are_not(notify, receiver):
    _open_consultation(notify, dt.date(2026, 6, 1), dt.date(2026, 7, 14))
    endpoint = notify.endpoint(receiver.base_url + "/h")
    notify.subscribe(channel="webhook", endpoint=endpoint, kind="all", value=None)
    notify.work()
    receiver.requests.clear()

    with notify.app.test_request_context(), unit_of_work(notify.session()) as session:
        version = editing.current_version(session, "policy", CONSULTED["key"])
        editing.update_status_step(session, CONSULTED["key"], 2, {"consultation": {
            "how_to_comment_en": "Use the form on the ministry's site."}}, notify.reviewer, version)
    notify.wait_until_done()
    assert receiver.requests == []  # the closing day did not move

    _move_closing_day(notify, dt.date(2026, 7, 1))
    notify.wait_until_done()
    [request] = receiver.requests
    data = json.loads(request.body)["data"]
    assert data["change"] == "shortened"
    assert data["summary"] == "Comment period shortened from 2026-07-14 to 2026-07-01"


def test_a_closing_reminder_comes_once_per_window_and_again_when_the_day_moves(notify, receiver, smtp_sink):
    today = dt.date(2026, 7, 2)
    _open_consultation(notify, dt.date(2026, 6, 1), dt.date(2026, 7, 14))
    endpoint = notify.endpoint(receiver.base_url + "/h")
    webhook = notify.subscribe(channel="webhook", endpoint=endpoint, kind="country", value="LA")
    with unit_of_work(notify.session()) as session:
        session.get(type(webhook), webhook.id).comment_days = 14
    email = notify.subscribe(channel="email", email_address="late@example.org", language="lo", kind="country",
                             value="LA")
    with unit_of_work(notify.session()) as session:
        session.get(type(email), email.id).comment_days = 3
    notify.work()
    receiver.requests.clear()

    with notify.app.app_context():
        assert comment_periods.scan(notify.worker, today) == 1
        assert comment_periods.scan(notify.worker, today) == 0  # once
    notify.wait_until_done()
    [request] = receiver.requests
    body = json.loads(request.body)
    assert body["type"] == "policy.comment_period_closing"
    assert body["data"]["closes_on"] == "2026-07-14" and body["data"]["days_left"] == 12
    assert body["data"]["comment_address"] == "standards@example.gov.la"
    assert smtp_sink.messages == []  # its 3-day window is not open yet

    with notify.app.app_context():
        comment_periods.scan(notify.worker, dt.date(2026, 7, 11))
        comment_periods.scan(notify.worker, dt.date(2026, 7, 12))
    notify.wait_until_done()
    assert len(receiver.requests) == 1
    [message] = smtp_sink.wait_for(1)
    assert "ກໍລະກົດ" in message["Subject"]  # the date written the Lao way: 14 ກໍລະກົດ 2026

    # Extended: each window is announced again for the new closing day.
    _move_closing_day(notify, dt.date(2026, 7, 20))
    with notify.app.app_context():
        assert comment_periods.scan(notify.worker, dt.date(2026, 7, 12)) == 1
    notify.wait_until_done()
    closing = [json.loads(r.body) for r in receiver.requests if json.loads(r.body)["type"] ==
               "policy.comment_period_closing"]
    assert [c["data"]["closes_on"] for c in closing] == ["2026-07-14", "2026-07-20"]


def test_the_comment_periods_command(notify):
    _open_consultation(notify, dt.date(2026, 6, 1), dt.date(2026, 7, 14))
    notify.subscribe(channel="email", email_address="partner@example.org", kind="country", value="LA")
    saved = notify.app.config.get("TODAY")
    notify.app.config["TODAY"] = "2026-07-10"
    try:
        result = notify.app.test_cli_runner().invoke(args=["notify", "comment-periods"])
    finally:
        notify.app.config["TODAY"] = saved
    assert result.exit_code == 0, result.output
    assert "Recorded 1 comment-period reminders." in result.output
