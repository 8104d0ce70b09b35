"""The notification API: subscriptions and webhook endpoints by bearer token, per-field errors, no leaks."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.factories import event_record, load, policy_record
from tests.integration.test_subscriptions_webhooks import make_deliveries, make_endpoint
from tracker.models import NotificationEvent, Subscription, WebhookEndpoint

POLICY = "la-gov-resolution-08-2021-ev-policy"
LOCAL_URL = "http://127.0.0.1:9/hooks/tracker"


@pytest.fixture
def local_targets(app, monkeypatch):
    monkeypatch.setitem(app.config, "NOTIFY_ALLOW_LOOPBACK", True)
    monkeypatch.setitem(app.config, "NOTIFY_REQUIRE_HTTPS", False)


def stored(session) -> tuple[int, int, int]:
    return (session.scalar(select(func.count(Subscription.id))), session.scalar(select(func.count(WebhookEndpoint.id))),
            session.scalar(select(func.count(NotificationEvent.id))))


def test_webhook_endpoints_round_trip(client, session, api_token, local_targets):
    headers = api_token("partner")
    created = client.post("/api/v1/webhooks", json={"url": LOCAL_URL, "description": "Intake"}, headers=headers)
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["secret"].startswith("whsec_") and body["url"] == LOCAL_URL and body["state"] == "active"
    assert created.headers["Location"].endswith(f"/api/v1/webhooks/{body['id']}")
    assert created.headers["Cache-Control"] == "no-store", "no cache keeps the secret"
    endpoint_id = body["id"]

    listed = client.get("/api/v1/webhooks", headers=headers).get_json()
    assert [item["id"] for item in listed["items"]] == [endpoint_id]
    assert "secret" not in listed["items"][0], "the secret is shown once"
    assert "secret" not in client.get(f"/api/v1/webhooks/{endpoint_id}", headers=headers).get_json()

    rotated = client.post(f"/api/v1/webhooks/{endpoint_id}/rotate-secret", headers=headers)
    assert rotated.status_code == 200
    assert rotated.get_json()["secret"] not in (None, body["secret"])
    assert rotated.get_json()["previous_secret_expires_at"]
    assert rotated.headers["Cache-Control"] == "no-store"
    # A repeated rotation (double click, retried request) would drop the secret the receiver still uses.
    again = client.post(f"/api/v1/webhooks/{endpoint_id}/rotate-secret", headers=headers)
    assert again.status_code == 409 and "10 minutes" in again.get_json()["error"]["message"]
    session.expire_all()
    assert session.get(WebhookEndpoint, endpoint_id).secret == rotated.get_json()["secret"]

    tested = client.post(f"/api/v1/webhooks/{endpoint_id}/test", headers=headers)
    assert tested.status_code == 201
    event = session.scalar(select(NotificationEvent).where(NotificationEvent.public_id == tested.get_json()["id"]))
    assert event.type == "webhook.test" and event.webhook_endpoint_id == endpoint_id

    endpoint = session.get(WebhookEndpoint, endpoint_id)
    delivery = make_deliveries(session, endpoint, 1, "dead")[0]
    session.commit()
    page = client.get(f"/api/v1/webhooks/{endpoint_id}/deliveries", headers=headers).get_json()
    assert page["total"] == 1
    item = page["items"][0]
    assert (item["id"], item["state"], item["event_type"], item["subscription_id"]) == (
        delivery.public_id, "dead", "webhook.test", None)
    assert [attempt["status_code"] for attempt in item["attempt_log"]] == [503, 503]

    deleted = client.delete(f"/api/v1/webhooks/{endpoint_id}", headers=headers)
    assert deleted.status_code == 200 and deleted.get_json()["id"] == endpoint_id
    assert client.get(f"/api/v1/webhooks/{endpoint_id}", headers=headers).status_code == 404


def test_subscriptions_round_trip(client, session, api_token, users, local_targets):
    headers = api_token("partner")
    created = client.post("/api/v1/subscriptions", json={"target_kind": "policy", "target_value": POLICY,
                                                         "cadence": "daily", "language": "lo"}, headers=headers)
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert (body["target_kind"], body["target_value"], body["channel"], body["cadence"], body["language"],
            body["sunset_days"], body["state"], body["email"]) == (
        "policy", POLICY, "email", "daily", "lo", 30, "active", "partner@example.org")
    assert body["target_label"].startswith("Policy: ")
    assert created.headers["Location"] == body["url"]
    assert body["feed_url"].endswith(f"/feeds/changes.atom?policy={POLICY}")

    endpoint_id = client.post("/api/v1/webhooks", json={"url": LOCAL_URL}, headers=headers).get_json()["id"]
    search = client.post("/api/v1/subscriptions", json={
        "target_kind": "search", "target_value": "charging", "target_filters": {"country": ["la"]},
        "channel": "webhook", "webhook_id": endpoint_id}, headers=headers)
    assert search.status_code == 201, search.get_json()
    assert search.get_json()["target_filters"] == {"country": ["LA"]}
    assert search.get_json()["email"] is None

    listed = client.get("/api/v1/subscriptions", headers=headers).get_json()
    assert {item["id"] for item in listed["items"]} == {body["id"], search.get_json()["id"]}
    assert client.get(f"/api/v1/subscriptions/{body['id']}", headers=headers).get_json()["id"] == body["id"]

    twice = client.post("/api/v1/subscriptions", json={"target_kind": "policy", "target_value": POLICY},
                        headers=headers)
    assert twice.status_code == 409

    assert client.delete(f"/api/v1/subscriptions/{body['id']}", headers=headers).status_code == 200
    assert client.get(f"/api/v1/subscriptions/{body['id']}", headers=headers).status_code == 404


def test_other_accounts_records_are_not_found(client, session, api_token, users):
    theirs = make_endpoint(session, users["editor"])
    subscription = Subscription(user_id=users["editor"].id, channel="email", target_kind="all")
    session.add(subscription)
    session.commit()
    headers = api_token("partner")
    for method, url in [("GET", f"/api/v1/webhooks/{theirs.id}"), ("DELETE", f"/api/v1/webhooks/{theirs.id}"),
                        ("POST", f"/api/v1/webhooks/{theirs.id}/rotate-secret"),
                        ("POST", f"/api/v1/webhooks/{theirs.id}/test"),
                        ("GET", f"/api/v1/webhooks/{theirs.id}/deliveries"),
                        ("GET", f"/api/v1/subscriptions/{subscription.public_id}"),
                        ("DELETE", f"/api/v1/subscriptions/{subscription.public_id}")]:
        response = client.open(url, method=method, headers=headers)
        assert response.status_code == 404, (method, url)
        assert "editor" not in response.get_data(as_text=True)
    assert client.get("/api/v1/webhooks", headers=headers).get_json()["items"] == []
    before = stored(session)
    response = client.post("/api/v1/subscriptions", json={"target_kind": "all", "channel": "webhook",
                                                          "webhook_id": theirs.id}, headers=headers)
    assert response.status_code == 400 and "webhook_id" in response.get_json()["error"]["errors"]
    assert stored(session) == before


@pytest.mark.parametrize("body, field", [
    ({"target_kind": "planet", "target_value": "mars"}, "target_kind"),
    ({"target_kind": "policy", "target_value": "no-such-policy"}, "target_value"),
    ({"target_kind": "policy", "target_value": "api-draft-policy"}, "target_value"),
    ({"target_kind": "policy"}, "target_value"),
    ({"target_kind": "country", "target_value": "XX"}, "target_value"),
    ({"target_kind": "event", "target_value": "no-such-forum"}, "target_value"),
    ({"target_kind": "search", "target_value": "x", "target_filters": {"colour": ["red"]}}, "target_filters.colour"),
    ({"target_kind": "search", "target_value": "x", "target_filters": {"status": ["dormant"]}},
     "target_filters.status"),
    ({"target_kind": "country", "target_value": "LA", "target_filters": {"country": ["LA"]}}, "target_filters"),
    ({"target_kind": "search", "target_value": "x", "target_filters": {"event": ["api-draft-forum"]}},
     "target_filters.event"),
    ({"target_kind": "event", "target_value": "api-draft-forum"}, "target_value"),
    ({"target_kind": "search", "target_value": "charging", "target_filters": {"country": ["ZZ"]}},
     "target_filters.country"),
    ({"target_kind": "search", "target_value": "charging", "target_filters": {"topic": ["zz_top"]}},
     "target_filters.topic"),
    ({"target_kind": "search", "target_value": "***"}, "target_value"),
    ({"target_kind": "search", "target_value": "digest:abc"}, "target_value"),
    ({"target_kind": "search", "target_value": "latest:2023 charging"}, "target_value"),
    ({"target_kind": "search", "target_value": "®"}, "target_value"),
    ({"target_kind": "all", "sunset_days": 0}, "sunset_days"),
    ({"target_kind": "all", "sunset_days": 366}, "sunset_days"),
    ({"target_kind": "all", "cadence": "hourly"}, "cadence"),
    ({"target_kind": "all", "language": "fr"}, "language"),
    ({"target_kind": "all", "channel": "webhook"}, "webhook_id"),
    ({"target_kind": "all", "channel": "pigeon"}, "channel"),
    ({"target_kind": "all", "colour": "blue"}, "colour"),
    ({}, "target_kind"),
])
def test_bad_subscriptions_get_per_field_errors_and_store_nothing(client, session, api_token, body, field):
    load(session, policies=[policy_record("api-draft-policy", editorial_state="draft")],
         events=[event_record("api-draft-forum", editorial_state="draft", name_en="Embargoed Forum")])
    session.commit()
    headers = api_token("partner")
    before = stored(session)
    response = client.post("/api/v1/subscriptions", json=body, headers=headers)
    assert response.status_code == 400, response.get_json()
    assert field in response.get_json()["error"]["errors"], response.get_json()
    assert "Embargoed Forum" not in response.get_data(as_text=True)
    assert stored(session) == before


def test_test_messages_are_limited_per_endpoint(client, session, api_token, users):
    endpoint = make_endpoint(session, users["partner"])
    session.commit()
    headers = api_token("partner")
    sent = [client.post(f"/api/v1/webhooks/{endpoint.id}/test", headers=headers).status_code for _ in range(10)]
    assert sent == [201] * 10
    before = stored(session)
    refused = client.post(f"/api/v1/webhooks/{endpoint.id}/test", headers=headers)
    assert refused.status_code == 400 and "at most 10 test messages an hour" in refused.get_json()["error"]["errors"][
        "webhook"]
    assert stored(session) == before


def test_a_webhook_subscription_is_always_immediate(client, session, api_token, users):
    partner_endpoint = make_endpoint(session, users["partner"])
    session.commit()
    response = client.post("/api/v1/subscriptions", json={
        "target_kind": "all", "channel": "webhook", "webhook_id": partner_endpoint.id, "cadence": "daily"},
        headers=api_token("partner"))
    assert response.status_code == 400 and "cadence" in response.get_json()["error"]["errors"]


@pytest.mark.parametrize("url", [
    "not a url", "http://hooks.example.org/x", "https://127.0.0.1/x", "https://10.0.0.8/x",
    "https://169.254.169.254/", "https://100.64.1.1/", "https://[::ffff:127.0.0.1]/", "https://[fd00::1]/",
])
def test_bad_webhook_urls_are_refused_by_the_api(client, session, api_token, url):
    before = stored(session)
    response = client.post("/api/v1/webhooks", json={"url": url}, headers=api_token("partner"))
    assert response.status_code == 400
    assert response.get_json()["error"]["errors"]["url"]
    assert stored(session) == before


def test_the_api_needs_a_token(client):
    for method, url in [("GET", "/api/v1/subscriptions"), ("POST", "/api/v1/subscriptions"),
                        ("GET", "/api/v1/webhooks"), ("POST", "/api/v1/webhooks/1/test")]:
        response = client.open(url, method=method, json={} if method == "POST" else None)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_the_api_lists_cost_the_same_for_few_and_many(client, session, api_token, users, count_queries):
    headers = api_token("partner")
    partner = users["partner"]
    endpoint = make_endpoint(session, partner)

    def add(n: int) -> None:
        make_deliveries(session, endpoint, n, "dead")
        for i in range(n):
            session.add(Subscription(user_id=partner.id, channel="email", target_kind="policy", target_value=POLICY))
            session.add(Subscription(user_id=partner.id, channel="webhook", webhook_endpoint_id=endpoint.id,
                                     target_kind="search", target_value=f"x{i}",
                                     target_filters={"topic": ["fiscal_incentives"]}))
        session.commit()

    urls = ["/api/v1/subscriptions", "/api/v1/webhooks", f"/api/v1/webhooks/{endpoint.id}/deliveries?per_page=100"]

    def costs() -> list[int]:
        result = []
        for url in urls:
            count_queries.reset()
            assert client.get(url, headers=headers).status_code == 200
            result.append(count_queries.count)
        return result

    add(2)
    few = costs()
    add(25)
    assert costs() == few, count_queries.statements
