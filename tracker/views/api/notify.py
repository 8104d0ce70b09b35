"""The notification API under /api/v1: a partner's subscriptions and webhook endpoints, by bearer token."""
from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, url_for

from tracker.db import unit_of_work
from tracker.models.notification import Delivery, NotificationEvent, Subscription, WebhookEndpoint
from tracker.models.types import utcnow
from tracker.pagination import Page, PageRequest
from tracker.services import deliveries, subscriptions, targets, webhook_endpoints
from tracker.views.api.write import checked_body
from tracker.views.notify import interface_language
from tracker.views.security import api_user, role_required
from tracker.views.support import db_session, query_args


def register(bp: Blueprint) -> None:
    """Add the notification routes to the API blueprint (called once, where the blueprint is made)."""
    bp.add_url_rule("/subscriptions", "list_subscriptions", list_subscriptions, methods=["GET"])
    bp.add_url_rule("/subscriptions", "create_subscription", create_subscription, methods=["POST"])
    bp.add_url_rule("/subscriptions/<public_id>", "get_subscription", get_subscription, methods=["GET"])
    bp.add_url_rule("/subscriptions/<public_id>", "delete_subscription", delete_subscription, methods=["DELETE"])
    bp.add_url_rule("/webhooks", "list_webhooks", list_webhooks, methods=["GET"])
    bp.add_url_rule("/webhooks", "create_webhook", create_webhook, methods=["POST"])
    bp.add_url_rule("/webhooks/<int:endpoint_id>", "get_webhook", get_webhook, methods=["GET"])
    bp.add_url_rule("/webhooks/<int:endpoint_id>", "delete_webhook", delete_webhook, methods=["DELETE"])
    bp.add_url_rule("/webhooks/<int:endpoint_id>/rotate-secret", "rotate_webhook_secret", rotate_webhook_secret,
                    methods=["POST"])
    bp.add_url_rule("/webhooks/<int:endpoint_id>/test", "test_webhook", test_webhook, methods=["POST"])
    bp.add_url_rule("/webhooks/<int:endpoint_id>/deliveries", "webhook_deliveries", webhook_deliveries,
                    methods=["GET"])


# ---------------------------------------------------------------------------------------------------
# Serialisation


def _time(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def subscription_state(subscription: Subscription) -> str:
    if subscription.unsubscribed_at is not None:
        return "unsubscribed"
    if subscription.confirmed_at is None:
        return "awaiting_confirmation"
    return "active"


def subscription_json(subscription: Subscription, label: str, owner_email: str) -> dict[str, Any]:
    target = targets.Target(subscription.target_kind, subscription.target_value, subscription.target_filters)
    # Any, as url_for's **values: mypy would check the lists against _anchor, _external and the like.
    feed_args: dict[str, Any] = target.query_args()
    return {
        "id": subscription.public_id, "target_kind": subscription.target_kind,
        "target_value": subscription.target_value, "target_filters": subscription.target_filters,
        "target_label": label, "channel": subscription.channel,
        "webhook_id": subscription.webhook_endpoint_id,
        "email": (subscription.email or owner_email) if subscription.channel == "email" else None,
        "cadence": subscription.cadence, "sunset_days": subscription.sunset_days,
        "comment_days": subscription.comment_days,
        "language": subscription.language, "state": subscription_state(subscription),
        "confirmed_at": _time(subscription.confirmed_at), "unsubscribed_at": _time(subscription.unsubscribed_at),
        "created_at": _time(subscription.created_at),
        "url": url_for("api.get_subscription", public_id=subscription.public_id, _external=True),
        "feed_url": url_for("feeds.changes", _external=True, **feed_args),
    }


def endpoint_state(endpoint: WebhookEndpoint) -> str:
    if endpoint.disabled_at is not None:
        return "disabled"
    return "failing" if endpoint.failing_since is not None else "active"


def webhook_json(endpoint: WebhookEndpoint, secret: str | None = None) -> dict[str, Any]:
    expires = endpoint.previous_secret_expires_at
    body = {
        "id": endpoint.id, "url": endpoint.url, "description": endpoint.description,
        "state": endpoint_state(endpoint), "created_at": _time(endpoint.created_at),
        "disabled_at": _time(endpoint.disabled_at), "disabled_reason": endpoint.disabled_reason,
        "failing_since": _time(endpoint.failing_since),
        "previous_secret_expires_at": _time(expires) if expires is not None and expires > utcnow() else None,
        "deliveries_url": url_for("api.webhook_deliveries", endpoint_id=endpoint.id, _external=True),
    }
    if secret is not None:
        body["secret"] = secret
    return body


def delivery_json(delivery: Delivery) -> dict[str, Any]:
    return {
        "id": delivery.public_id, "event_id": delivery.event.public_id, "event_type": delivery.event.type,
        "subscription_id": delivery.subscription.public_id if delivery.subscription is not None else None,
        "channel": delivery.channel, "state": delivery.state,
        "attempts": delivery.attempts, "next_attempt_at": _time(delivery.next_attempt_at),
        "last_status_code": delivery.last_status_code, "last_error": delivery.last_error,
        "delivered_at": _time(delivery.delivered_at), "created_at": _time(delivery.created_at),
        "attempt_log": [{"attempted_at": _time(attempt.attempted_at), "outcome": attempt.outcome,
                         "status_code": attempt.status_code, "error": attempt.error,
                         "duration_ms": attempt.duration_ms} for attempt in delivery.attempt_log],
    }


def event_json(event: NotificationEvent) -> dict[str, Any]:
    return {"id": event.public_id, "type": event.type, "occurred_at": _time(event.occurred_at),
            "data": event.payload}


def _answer(payload: dict[str, Any], status: int, location: str | None = None) -> Response:
    response = jsonify(payload)
    response.status_code = status
    if location is not None:
        response.headers["Location"] = location
    if "secret" in payload:
        # The secret is in this answer only: no cache may keep a copy.
        response.headers["Cache-Control"] = "no-store"
    return response


def _page_json(page: Page, serialise) -> dict[str, Any]:
    return {"items": [serialise(item) for item in page.items], "total": page.total, "page": page.page,
            "per_page": page.per_page, "pages": page.pages}


# ---------------------------------------------------------------------------------------------------
# Subscriptions


@role_required("account")
def list_subscriptions():
    session = db_session()
    user = api_user()
    items = subscriptions.list_subscriptions(session, user)
    labels = targets.target_labels(session, items)
    return jsonify({"items": [subscription_json(item, labels[item.id], user.email) for item in items],
                    "total": len(items)})


@role_required("account")
def create_subscription():
    session = db_session()
    user = api_user()
    body = checked_body(session, "SubscriptionInput")
    channel = body.get("channel") or "email"
    with unit_of_work(session):
        target = targets.check_target(session, body["target_kind"], body.get("target_value"),
                                      body.get("target_filters"))
        # Without a language, the one the request asks for (Accept-Language), as on the pages.
        options = subscriptions.check_options(body.get("cadence"), body.get("sunset_days"),
                                        body.get("language") or interface_language(), channel=channel,
                                        comment_days=body.get("comment_days"))
        subscription = subscriptions.follow(session, user, target, options, channel=channel,
                                      endpoint_id=body.get("webhook_id"))
        label = targets.target_labels(session, [subscription])[subscription.id]
        payload = subscription_json(subscription, label, user.email)
    return _answer(payload, 201, payload["url"])


@role_required("account")
def get_subscription(public_id: str):
    session = db_session()
    user = api_user()
    subscription = subscriptions.get_subscription(session, user, public_id)
    label = targets.target_labels(session, [subscription])[subscription.id]
    return jsonify(subscription_json(subscription, label, user.email))


@role_required("account")
def delete_subscription(public_id: str):
    session = db_session()
    user = api_user()
    with unit_of_work(session):
        subscription = subscriptions.get_subscription(session, user, public_id)
        label = targets.target_labels(session, [subscription])[subscription.id]
        payload = subscription_json(subscription, label, user.email)
        subscriptions.delete_subscription(session, user, public_id)
    return jsonify(payload)


# ---------------------------------------------------------------------------------------------------
# Webhook endpoints


@role_required("account")
def list_webhooks():
    endpoints = webhook_endpoints.list_endpoints(db_session(), api_user())
    return jsonify({"items": [webhook_json(endpoint) for endpoint in endpoints], "total": len(endpoints)})


@role_required("account")
def create_webhook():
    session = db_session()
    body = checked_body(session, "WebhookInput")
    settings = {"allow_loopback": bool(current_app.config.get("NOTIFY_ALLOW_LOOPBACK", False)),
                "require_https": bool(current_app.config.get("NOTIFY_REQUIRE_HTTPS", True))}
    with unit_of_work(session):
        endpoint, secret = webhook_endpoints.create_endpoint(session, api_user(), body["url"], body.get("description"),
                                                   **settings)
        payload = webhook_json(endpoint, secret)
    return _answer(payload, 201, url_for("api.get_webhook", endpoint_id=endpoint.id, _external=True))


@role_required("account")
def get_webhook(endpoint_id: int):
    return jsonify(webhook_json(webhook_endpoints.get_endpoint(db_session(), api_user(), endpoint_id)))


@role_required("account")
def delete_webhook(endpoint_id: int):
    session = db_session()
    with unit_of_work(session):
        payload = webhook_json(webhook_endpoints.delete_endpoint(session, api_user(), endpoint_id))
    return jsonify(payload)


@role_required("account")
def rotate_webhook_secret(endpoint_id: int):
    session = db_session()
    with unit_of_work(session):
        endpoint, secret = webhook_endpoints.rotate_secret(session, api_user(), endpoint_id)
        payload = webhook_json(endpoint, secret)
    return _answer(payload, 200)


@role_required("account")
def test_webhook(endpoint_id: int):
    session = db_session()
    with unit_of_work(session):
        event = webhook_endpoints.send_test(session, api_user(), endpoint_id)
        session.flush()
        payload = event_json(event)
    return _answer(payload, 201, url_for("api.webhook_deliveries", endpoint_id=endpoint_id, _external=True))


@role_required("account")
def webhook_deliveries(endpoint_id: int):
    args = query_args()
    paging = PageRequest.parse((args.get("page") or (None,))[0], (args.get("per_page") or (None,))[0],
                               default=20, maximum=100, allow_empty=False)
    page = deliveries.endpoint_deliveries(db_session(), api_user(), endpoint_id, paging)
    return jsonify(_page_json(page, delivery_json))

