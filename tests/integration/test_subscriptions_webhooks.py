"""Webhook endpoints on the pages (create, rotate, test, delete, delivery history), the admins' delivery
page with retry, and query counts of the notification list pages."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from tests.integration.test_subscriptions import csrf
from tracker.models import Delivery, NotificationEvent, Subscription, WebhookEndpoint
from tracker.models.notification import DeliveryAttempt
from tracker.models.types import utcnow

POLICY = "la-gov-resolution-08-2021-ev-policy"
LOCAL_URL = "http://127.0.0.1:9/hooks/tracker"


@pytest.fixture
def local_targets(app, monkeypatch):
    """Allow webhooks to loopback over http, as tests and local use may (off by default)."""
    monkeypatch.setitem(app.config, "NOTIFY_ALLOW_LOOPBACK", True)
    monkeypatch.setitem(app.config, "NOTIFY_REQUIRE_HTTPS", False)


def endpoint_count(session) -> int:
    return session.scalar(select(func.count(WebhookEndpoint.id)))


def make_endpoint(session, user, url: str = "https://hooks.example.org/tracker") -> WebhookEndpoint:
    endpoint = WebhookEndpoint(user_id=user.id, url=url, secret="whsec_" + "A" * 43 + "=")
    session.add(endpoint)
    session.flush()
    return endpoint


def make_deliveries(session, endpoint: WebhookEndpoint, count: int, state: str = "delivered") -> list[Delivery]:
    """``count`` webhook.test messages to ``endpoint``, each with two attempts."""
    made = []
    for _ in range(count):
        event = NotificationEvent(type="webhook.test", webhook_endpoint_id=endpoint.id, payload={"n": 1})
        session.add(event)
        session.flush()
        delivery = Delivery(event_id=event.id, webhook_endpoint_id=endpoint.id, channel="webhook", state=state,
                            attempts=2, last_status_code=503 if state != "delivered" else 200,
                            last_error="Service Unavailable" if state != "delivered" else None)
        session.add(delivery)
        session.flush()
        session.add_all([DeliveryAttempt(delivery_id=delivery.id, outcome="retry", status_code=503, duration_ms=12),
                         DeliveryAttempt(delivery_id=delivery.id, outcome="delivered" if state == "delivered"
                                         else "dead", status_code=200 if state == "delivered" else 503,
                                         duration_ms=8)])
        made.append(delivery)
    session.flush()
    return made


# ---------------------------------------------------------------------------------------------------
# Endpoints


def test_a_partner_adds_an_endpoint_and_sees_its_secret_once(app, client, session, login_as, local_targets):
    partner = login_as("partner")
    response = client.post("/account/webhooks", data={"url": LOCAL_URL, "description": "Our intake",
                                                      "csrf_token": csrf(app, client)})
    assert response.status_code == 201
    endpoint = session.scalar(select(WebhookEndpoint).where(WebhookEndpoint.user_id == partner.id))
    assert endpoint.url == LOCAL_URL and endpoint.description == "Our intake"
    page = response.get_data(as_text=True)
    assert endpoint.secret.startswith("whsec_") and endpoint.secret in page
    assert endpoint.secret not in client.get("/account/webhooks").get_data(as_text=True), "shown once"
    assert response.headers["Cache-Control"] == "no-store", "no cache keeps the secret"

    rotated = client.post(f"/account/webhooks/{endpoint.id}/rotate", data={"csrf_token": csrf(app, client)})
    assert rotated.status_code == 200
    old = endpoint.secret
    session.refresh(endpoint)
    assert endpoint.secret != old and endpoint.secret in rotated.get_data(as_text=True)
    assert rotated.headers["Cache-Control"] == "no-store"
    assert endpoint.previous_secret == old
    assert endpoint.previous_secret_expires_at > utcnow() + dt.timedelta(hours=23)

    tested = client.post(f"/account/webhooks/{endpoint.id}/test", data={"csrf_token": csrf(app, client)})
    assert tested.status_code == 302
    assert tested.headers["Location"].endswith(f"/account/webhooks/{endpoint.id}/deliveries")
    event = session.scalar(select(NotificationEvent).where(NotificationEvent.webhook_endpoint_id == endpoint.id))
    assert event.type == "webhook.test" and event.subscription_id is None

    follow = client.post(f"/subscribe?policy={POLICY}", data={
        "deliver_to": f"webhook-{endpoint.id}", "cadence": "immediate", "sunset_days": "14",
        "csrf_token": csrf(app, client)})
    assert follow.status_code == 302
    subscription = session.scalar(select(Subscription).where(Subscription.webhook_endpoint_id == endpoint.id))
    assert (subscription.channel, subscription.target_value, subscription.sunset_days) == ("webhook", POLICY, 14)
    assert "Webhook" in client.get("/subscriptions").get_data(as_text=True)

    deleted = client.post(f"/account/webhooks/{endpoint.id}/delete", data={"csrf_token": csrf(app, client)})
    assert deleted.status_code == 302
    assert session.scalar(select(func.count(WebhookEndpoint.id)).where(WebhookEndpoint.id == endpoint.id)) == 0
    assert session.scalar(select(func.count(Subscription.id)).where(Subscription.id == subscription.id)) == 0, \
        "its subscriptions go with it"


@pytest.mark.parametrize("url, message", [
    ("not a url", "not contain spaces"),
    ("ftp://files.example.org/hook", "starting with https://"),
    ("http://hooks.example.org/tracker", "must use https://"),
    ("https://127.0.0.1/hook", "private or internal address"),
    ("https://10.1.2.3/hook", "private or internal address"),
    ("https://169.254.169.254/latest/meta-data", "private or internal address"),
    ("https://100.64.0.1/hook", "private or internal address"),
    ("https://[::ffff:127.0.0.1]/hook", "private or internal address"),
    ("https://[::1]/hook", "private or internal address"),
    ("https://user:secret@hooks.example.org/", "user name or password"),
    ("https://no-such-host.invalid/hook", "could not be resolved"),
    ("https://hooks.example.org/" + "a" * 3000, "at most 2000 characters"),
    ("https://ຕົວຢ່າງ.invalid/🚗", "could not be resolved"),
])
def test_bad_webhook_urls_are_refused_with_a_clear_message(app, client, session, login_as, url, message):
    # The production settings: https only, no loopback.
    login_as("partner")
    before = endpoint_count(session)
    response = client.post("/account/webhooks", data={"url": url, "csrf_token": csrf(app, client)})
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert endpoint_count(session) == before


def test_loopback_stays_refused_unless_allowed(app, client, session, login_as, monkeypatch):
    monkeypatch.setitem(app.config, "NOTIFY_REQUIRE_HTTPS", False)
    login_as("partner")
    response = client.post("/account/webhooks", data={"url": LOCAL_URL, "csrf_token": csrf(app, client)})
    assert response.status_code == 400 and endpoint_count(session) == 0


def test_another_users_endpoint_is_not_found_and_cannot_be_used(app, client, session, login_as, users):
    theirs = make_endpoint(session, users["editor"])
    session.commit()
    login_as("partner")
    for action in ("delete", "rotate", "test", "enable"):
        response = client.post(f"/account/webhooks/{theirs.id}/{action}", data={"csrf_token": csrf(app, client)})
        assert response.status_code == 404, action
    assert client.get(f"/account/webhooks/{theirs.id}/deliveries").status_code == 404
    before = session.scalar(select(func.count(Subscription.id)))
    response = client.post(f"/subscribe?policy={POLICY}", data={"deliver_to": f"webhook-{theirs.id}",
                                                                "csrf_token": csrf(app, client)})
    assert response.status_code == 400
    assert session.scalar(select(func.count(Subscription.id))) == before
    session.refresh(theirs)
    assert theirs.previous_secret is None


def test_webhooks_are_sent_at_once(app, client, session, login_as):
    partner = login_as("partner")
    endpoint = make_endpoint(session, partner)
    session.commit()
    response = client.post("/subscribe?country=LA", data={
        "deliver_to": f"webhook-{endpoint.id}", "cadence": "weekly", "csrf_token": csrf(app, client)})
    assert response.status_code == 400
    assert "Webhooks are sent immediately" in response.get_data(as_text=True)


def test_the_owner_sees_the_delivery_history_with_attempts(client, session, login_as):
    partner = login_as("partner")
    endpoint = make_endpoint(session, partner)
    delivered, dead = make_deliveries(session, endpoint, 1)[0], make_deliveries(session, endpoint, 1, "dead")[0]
    session.commit()
    page = client.get(f"/account/webhooks/{endpoint.id}/deliveries").get_data(as_text=True)
    assert delivered.public_id in page and dead.public_id in page
    assert page.index(dead.public_id) < page.index(delivered.public_id), "newest first"
    assert "503" in page and "Service Unavailable" in page and "webhook.test" in page
    assert "will retry" in page and "gave up" in page, "outcomes in words, translatable"


def test_a_disabled_endpoint_can_be_enabled_again(app, client, session, login_as):
    partner = login_as("partner")
    endpoint = make_endpoint(session, partner)
    endpoint.disabled_at, endpoint.disabled_reason = utcnow(), "The receiver answered 410 Gone."
    session.commit()
    assert "410 Gone" in client.get("/account/webhooks").get_data(as_text=True)
    refused = client.post(f"/account/webhooks/{endpoint.id}/test", data={"csrf_token": csrf(app, client)})
    assert refused.status_code == 400 and "disabled" in refused.get_data(as_text=True)
    client.post(f"/account/webhooks/{endpoint.id}/enable", data={"csrf_token": csrf(app, client)})
    session.refresh(endpoint)
    assert endpoint.is_active


# ---------------------------------------------------------------------------------------------------
# Administration


def test_admins_see_deliveries_by_state_and_retry_one(app, client, session, login_as, users):
    endpoint = make_endpoint(session, users["partner"])
    endpoint.failing_since = utcnow() - dt.timedelta(hours=3)
    delivered = make_deliveries(session, endpoint, 1)[0]
    dead = make_deliveries(session, endpoint, 1, "dead")[0]
    session.commit()
    login_as("admin")
    page = client.get("/admin/deliveries?state=dead").get_data(as_text=True)
    assert dead.public_id in page and delivered.public_id not in page
    assert "Failing webhook endpoints" in page and endpoint.url in page and "partner@example.org" in page
    assert delivered.public_id in client.get("/admin/deliveries?state=delivered").get_data(as_text=True)
    assert client.get("/admin/deliveries?state=lost").status_code == 400

    response = client.post(f"/admin/deliveries/{dead.id}/retry", data={"state": "dead",
                                                                       "csrf_token": csrf(app, client)})
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/deliveries?state=dead")
    session.refresh(dead)
    assert dead.state == "pending" and dead.lease_until is None
    assert abs((dead.next_attempt_at - utcnow()).total_seconds()) < 60
    refused = client.post(f"/admin/deliveries/{delivered.id}/retry", data={"csrf_token": csrf(app, client)})
    assert refused.status_code == 400


def test_a_delivery_being_sent_is_not_retried_a_second_time(app, client, session, login_as, users):
    endpoint = make_endpoint(session, users["partner"])
    sending = make_deliveries(session, endpoint, 1, "retrying")[0]
    lease = utcnow() + dt.timedelta(minutes=5)
    sending.lease_until, sending.next_attempt_at = lease, utcnow() - dt.timedelta(seconds=1)
    session.commit()
    login_as("admin")
    response = client.post(f"/admin/deliveries/{sending.id}/retry", data={"csrf_token": csrf(app, client)})
    assert response.status_code == 409 and "being sent right now" in response.get_data(as_text=True)
    session.refresh(sending)
    assert sending.lease_until == lease and sending.state == "retrying", "the worker keeps its claim"


def test_partners_never_see_the_admin_delivery_page(client, login_as):
    login_as("partner")
    assert client.get("/admin/deliveries").status_code == 403


# ---------------------------------------------------------------------------------------------------
# Query counts


def queries_for(client, count_queries, url: str) -> int:
    count_queries.reset()
    response = client.get(url)
    assert response.status_code == 200, url
    return count_queries.count


def test_the_notification_list_pages_cost_the_same_for_few_and_many(client, session, login_as, count_queries):
    partner = login_as("partner")
    endpoint = make_endpoint(session, partner)
    make_deliveries(session, endpoint, 2, "dead")

    def add_subscriptions(n: int) -> None:
        # Every kind of target each time: naming targets costs one query per kind named.
        for i in range(n):
            for kind, value in (("policy", POLICY), ("country", "LA"), ("event", "lao-ev-forum-2023")):
                session.add(Subscription(user_id=partner.id, channel="email", target_kind=kind,
                                         target_value=value, confirmed_at=utcnow()))
            session.add(Subscription(user_id=partner.id, channel="webhook", webhook_endpoint_id=endpoint.id,
                                     target_kind="search", target_value=f"charging {i}",
                                     target_filters={"country": ["LA"], "topic": ["fiscal_incentives"]},
                                     confirmed_at=utcnow()))
        session.commit()

    add_subscriptions(1)
    urls = ["/subscriptions", f"/account/webhooks/{endpoint.id}/deliveries", "/account/webhooks"]
    few = [queries_for(client, count_queries, url) for url in urls]
    login_as("admin")
    few_admin = queries_for(client, count_queries, "/admin/deliveries")

    make_deliveries(session, endpoint, 20, "dead")
    add_subscriptions(10)
    assert queries_for(client, count_queries, "/admin/deliveries") == few_admin
    login_as("partner")
    many = [queries_for(client, count_queries, url) for url in urls]
    assert many == few, count_queries.statements
    assert max(many + [few_admin]) <= 15


# ---------------------------------------------------------------------------------------------------
# CSRF


def test_every_notification_form_needs_a_csrf_token_but_one_click_unsubscribe(app, client, session, login_as):
    login_as("admin")
    posts = [rule for rule in app.url_map.iter_rules()
             if rule.endpoint.startswith("notify.") and "POST" in (rule.methods or ())]
    assert len(posts) >= 9
    for rule in posts:
        url = rule.build({name: 1 if "id" in name else "x" for name in rule.arguments})[1]
        response = client.post(url, data={"state": "dead"})
        if rule.endpoint == "notify.unsubscribe":
            # RFC 8058 one-click posts carry no CSRF token; the signed link is the proof (here a forged one).
            assert response.status_code == 400 and "not valid" in response.get_data(as_text=True), url
        else:
            assert response.status_code == 400, url
            assert "CSRF" in response.get_data(as_text=True) or "expired" in response.get_data(as_text=True), url
