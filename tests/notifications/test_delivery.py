"""A status change of a published policy reaches webhook and email subscribers, signed and complete."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook

from tests.notifications.conftest import POLICY
from tracker.models import Delivery, DeliveryAttempt, NotificationEvent

# Every test here starts a real SMTP sink and an HTTP receiver on 127.0.0.1 (servers: slow).
pytestmark = pytest.mark.slow


def test_a_status_change_is_signed_and_sent_to_the_webhook(notify, receiver):
    endpoint = notify.endpoint(receiver.base_url + "/hooks/partner")
    notify.subscribe(channel="webhook", endpoint=endpoint, email_address=None, kind="country", value="LA")
    notify.change_status("in_force", effective_on="2024-06-01", note="Gazetted.",
                         evidence_url="https://example.org/gazette")
    notify.wait_until_done()

    [request] = receiver.requests
    assert request.path == "/hooks/partner"
    headers = {k: request.headers[k] for k in ("webhook-id", "webhook-timestamp", "webhook-signature")}
    payload = Webhook(endpoint.secret).verify(request.body, headers)
    assert payload["type"] == "policy.status_changed"
    data = payload["data"]
    assert data["policy_key"] == POLICY["key"]
    assert (data["old_status"], data["new_status"]) == ("adopted", "in_force")
    assert data["effective_date"] == "2024-06-01"
    assert data["note"] == "Gazetted."
    assert data["evidence_url"] == "https://example.org/gazette"
    assert data["country"] == "LA"
    assert data["urls"]["html"] == f"https://tracker.example/policies/{POLICY['key']}"
    # The timestamp is this attempt's, in UTC, within the receiver's tolerance.
    assert abs(int(request.headers["webhook-timestamp"]) - dt.datetime.now(dt.UTC).timestamp()) < 60
    with notify.session() as session:
        delivery = session.scalars(select(Delivery)).one()
        assert delivery.public_id == request.headers["webhook-id"]
        assert delivery.state == "delivered"
        attempts = session.scalars(select(DeliveryAttempt)).all()
        assert [(a.outcome, a.status_code) for a in attempts] == [("delivered", 200)]


def test_a_forged_signature_does_not_verify(notify, receiver):
    endpoint = notify.endpoint(receiver.base_url + "/h")
    notify.subscribe(channel="webhook", endpoint=endpoint, kind="all", value=None)
    notify.change_status("in_force")
    notify.wait_until_done()
    [request] = receiver.requests
    import pytest
    from standardwebhooks.webhooks import WebhookVerificationError

    from tracker.notifications.signing import new_secret

    headers = {k: request.headers[k] for k in ("webhook-id", "webhook-timestamp", "webhook-signature")}
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(request.body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(endpoint.secret).verify(request.body.replace(b"in_force", b"repealed"), headers)


def test_changes_of_drafts_and_unrelated_policies_notify_nobody(notify, receiver):
    endpoint = notify.endpoint(receiver.base_url + "/h")
    notify.subscribe(channel="webhook", endpoint=endpoint, kind="country", value="TH")
    notify.create_policy({**POLICY, "key": "la-draft-measure", "title_en": "A draft"}, publish=False)
    notify.change_status("in_force", key="la-draft-measure")
    notify.change_status("in_force")
    notify.wait_until_done()
    assert receiver.requests == []
    with notify.session() as session:
        # Only the published policy's change was recorded (the draft's never enters the outbox).
        assert session.scalar(select(func.count()).select_from(NotificationEvent).where(
            NotificationEvent.type == "policy.status_changed")) == 1


def test_the_email_has_both_parts_and_one_click_unsubscribe(notify, smtp_sink):
    notify.subscribe(channel="email", email_address="partner@gggi.example", kind="topic", value="fiscal_incentives")
    notify.change_status("in_force", note="Now in force.")
    notify.wait_until_done()

    [message] = smtp_sink.wait_for(1)
    assert message["To"] == "partner@gggi.example"
    assert message["From"] == "EV Policy Tracker <alerts@tracker.example>"
    assert "EV import duty exemption" in message["Subject"]
    assert "In force" in message["Subject"]
    unsubscribe = message["List-Unsubscribe"]
    assert unsubscribe.startswith("<https://tracker.example/unsubscribe/")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Auto-Submitted"] == "auto-generated"
    assert "notifications.tracker.example" in message["List-Id"]
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Now in force." in text and "Now in force." in html
    assert "https://tracker.example/policies/la-ev-import-duty-exemption" in text
    assert 'href="https://tracker.example/policies/la-ev-import-duty-exemption"' in html

    # The token in the link names the subscription; nothing else can be forged from it.
    from tracker.notifications.tokens import read_token

    token = unsubscribe.split("/unsubscribe/")[1].split(">")[0]
    with notify.app.app_context(), notify.session() as session:
        from tracker.models import Subscription

        subscription = session.scalars(select(Subscription)).one()
        assert read_token("unsubscribe", token) == subscription.public_id


def test_a_lao_subject_round_trips_through_smtp(notify, smtp_sink):
    notify.subscribe(channel="email", email_address="staff@mpwt.example", language="lo")
    notify.change_status("in_force")
    notify.wait_until_done()
    [message] = smtp_sink.wait_for(1)
    assert POLICY["title_lo"] in message["Subject"]
    raw = bytes(smtp_sink.handler.envelopes[0].content)
    assert b"=?utf-8?" in raw.lower()  # RFC 2047 on the wire
    assert POLICY["title_lo"] in message.get_body(("plain",)).get_content()


def test_unconfirmed_and_unsubscribed_subscribers_hear_nothing(notify, smtp_sink):
    notify.subscribe(channel="email", email_address="waiting@example.org", confirmed=False)
    subscription = notify.subscribe(channel="email", email_address="gone@example.org")
    with notify.session() as session:
        from tracker.models import Subscription
        from tracker.models.types import utcnow

        session.get(Subscription, subscription.id).unsubscribed_at = utcnow()
        session.commit()
    notify.change_status("in_force")
    notify.wait_until_done()
    assert smtp_sink.messages == []


def test_one_message_per_endpoint_and_address_even_when_several_subscriptions_match(notify, receiver, smtp_sink):
    endpoint = notify.endpoint(receiver.base_url + "/h")
    for kind, value in (("policy", POLICY["key"]), ("country", "LA"), ("all", None)):
        notify.subscribe(channel="webhook", endpoint=endpoint, kind=kind, value=value)
        notify.subscribe(channel="email", email_address="Same@Example.org", kind=kind, value=value)
    notify.change_status("in_force")
    notify.wait_until_done()
    assert len(receiver.requests) == 1
    assert len(smtp_sink.wait_for(1)) == 1


def test_publication_and_validity_changes_notify(notify, receiver):
    endpoint = notify.endpoint(receiver.base_url + "/h")
    notify.subscribe(channel="webhook", endpoint=endpoint, kind="instrument", value="incentive")
    notify.create_policy({**POLICY, "key": "la-ev-charging-tariff", "title_en": "Charging tariff"})
    notify.update_policy({"valid_to": "2027-12-31"})
    notify.update_policy({"summary_en": "Only the summary changes."})
    notify.wait_until_done()
    # Messages are sent in parallel, so they may arrive in any order (their timestamp tells).
    bodies = sorted((json.loads(r.body) for r in receiver.requests), key=lambda b: b["type"])
    assert [(b["type"], b["data"]["policy_key"]) for b in bodies] == [
        ("policy.published", "la-ev-charging-tariff"), ("policy.validity_changed", POLICY["key"])]
    assert bodies[1]["data"]["valid_to"] == "2027-12-31"
    assert bodies[1]["data"]["old_valid_to"] is None


def test_a_test_event_reaches_an_endpoint_without_any_subscription(notify, receiver):
    from tracker.db import unit_of_work
    from tracker.models import WebhookEndpoint
    from tracker.notifications.outbox import record_event

    endpoint = notify.endpoint(receiver.base_url + "/fresh")
    with unit_of_work(notify.session()) as session:
        record_event(session, "webhook.test", payload={"message": "Hello from the tracker"},
                     endpoint=session.get(WebhookEndpoint, endpoint.id))
    notify.wait_until_done()
    [request] = receiver.requests
    headers = {k: request.headers[k] for k in ("webhook-id", "webhook-timestamp", "webhook-signature")}
    payload = Webhook(endpoint.secret).verify(request.body, headers)
    assert payload == {"type": "webhook.test", "timestamp": payload["timestamp"],
                       "data": {"message": "Hello from the tracker"}}
    with notify.session() as session:
        delivery = session.scalars(select(Delivery)).one()
        assert (delivery.webhook_endpoint_id, delivery.subscription_id, delivery.state) == (endpoint.id, None,
                                                                                           "delivered")


def test_during_a_rotation_both_secrets_sign(notify, receiver):
    from tracker.db import unit_of_work
    from tracker.models import WebhookEndpoint
    from tracker.models.types import utcnow
    from tracker.notifications.signing import new_secret

    endpoint = notify.endpoint(receiver.base_url + "/h")
    notify.subscribe(channel="webhook", endpoint=endpoint, kind="all", value=None)
    old_secret, fresh = endpoint.secret, new_secret()
    with unit_of_work(notify.session()) as session:
        stored = session.get(WebhookEndpoint, endpoint.id)
        stored.previous_secret, stored.secret = old_secret, fresh
        stored.previous_secret_expires_at = utcnow() + dt.timedelta(hours=24)
    notify.change_status("in_force")
    notify.wait_until_done()
    [request] = receiver.requests
    headers = {k: request.headers[k] for k in ("webhook-id", "webhook-timestamp", "webhook-signature")}
    assert request.headers["webhook-signature"].count("v1,") == 2
    Webhook(fresh).verify(request.body, headers)
    Webhook(old_secret).verify(request.body, headers)


def test_saved_searches_are_run_against_the_changed_policy(notify, receiver):
    searches = {
        "/words": ("import duty", {"country": ["LA"]}),        # words of the summary, and its country
        "/lao": ("ລົດໄຟຟ້າ", None),                              # Lao words of the title
        "/status": ("", {"status": ["in_force"], "topic": ["fiscal_incentives"]}),  # filters alone
        "/other-words": ("hydrogen", None),
        "/other-country": ("import duty", {"country": ["TH"]}),
        "/events-only": ("import duty", {"type": ["event"]}),
        "/bad-query": ("title:(", None),
    }
    for path, (query, filters) in searches.items():
        endpoint = notify.endpoint(receiver.base_url + path)
        notify.subscribe(channel="webhook", endpoint=endpoint, kind="search", value=query, filters=filters)
    notify.change_status("in_force")
    notify.wait_until_done()
    assert sorted(r.path for r in receiver.requests) == ["/lao", "/status", "/words"]
