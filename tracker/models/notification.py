"""Notifications: subscriptions, webhook endpoints, the outbox of events and the deliveries made from it."""
from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.db import Base
from tracker.models.types import UTCDateTime, utcnow
from tracker.models.user import User
from tracker.models.vocab import check_in

CHANNELS = ("email", "webhook")
TARGET_KINDS = ("policy", "country", "topic", "instrument", "event", "search", "all")
CADENCES = ("immediate", "daily", "weekly")
LANGUAGES = ("en", "lo")
EVENT_TYPES = ("policy.status_changed", "policy.published", "policy.validity_changed",
               "policy.sunset_upcoming", "policy.document_added", "policy.comment_period_changed",
               "policy.comment_period_closing", "subscription.confirm", "webhook.test")
DELIVERY_STATES = ("pending", "retrying", "delivered", "failed", "dead")
ATTEMPT_OUTCOMES = ("delivered", "retry", "failed", "dead", "error")


def _token(prefix: str) -> str:
    # Only [A-Za-z0-9_] so the id is safe inside the signed "<id>.<timestamp>.<body>" content.
    return prefix + secrets.token_hex(16)


def new_subscription_id() -> str:
    return secrets.token_hex(16)


def new_event_id() -> str:
    return _token("evt_")


def new_delivery_id() -> str:
    return _token("msg_")


class WebhookEndpoint(Base):
    """A partner's HTTPS receiver. ``secret`` signs every message (it must be readable to sign, so it is
    stored as is); during a rotation the previous secret also signs until it expires."""

    __tablename__ = "webhook_endpoints"
    tracks_content = False

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str | None] = mapped_column(String(200))
    secret: Mapped[str] = mapped_column(String(100))
    previous_secret: Mapped[str | None] = mapped_column(String(100))
    previous_secret_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    disabled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    disabled_reason: Mapped[str | None] = mapped_column(String(200))
    failing_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(lazy="raise")

    @property
    def is_active(self) -> bool:
        return self.disabled_at is None


class Subscription(Base):
    """What someone follows, through which channel, how often and in which language.

    ``confirmed_at`` is null until the double opt-in link is followed (users' own subscriptions are
    confirmed at creation); nothing but the confirmation request is sent before that.
    """

    __tablename__ = "subscriptions"
    __table_args__ = (
        CheckConstraint(check_in("channel", CHANNELS), name="channel"),
        CheckConstraint(check_in("target_kind", TARGET_KINDS), name="target_kind"),
        CheckConstraint(check_in("cadence", CADENCES), name="cadence"),
        CheckConstraint(check_in("language", LANGUAGES), name="language"),
        Index("ix_subscriptions_target", "target_kind", "target_value"),
    )
    tracks_content = False

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_subscription_id)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    email: Mapped[str | None] = mapped_column(String(320))
    channel: Mapped[str] = mapped_column(String(10))
    webhook_endpoint_id: Mapped[int | None] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True)
    target_kind: Mapped[str] = mapped_column(String(12))
    target_value: Mapped[str | None] = mapped_column(String(500))
    target_filters: Mapped[dict[str, list[str]] | None] = mapped_column(JSON)
    cadence: Mapped[str] = mapped_column(String(10), default="immediate")
    sunset_days: Mapped[int] = mapped_column(Integer, default=30)
    # Days before a comment period closes at which to hear of it (0: not at all).
    comment_days: Mapped[int] = mapped_column(Integer, default=14)
    language: Mapped[str] = mapped_column(String(5), default="en")
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    unsubscribed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User | None] = relationship(lazy="raise")
    webhook_endpoint: Mapped[WebhookEndpoint | None] = relationship(lazy="raise")

    @property
    def is_active(self) -> bool:
        return self.confirmed_at is not None and self.unsubscribed_at is None


class NotificationEvent(Base):
    """The outbox: one row per thing worth telling, written in the transaction that made the change.

    ``payload`` is the webhook ``data`` object as it was at the time of the change. ``fanned_out_at``
    stays null until the worker has created the deliveries for it.
    """

    __tablename__ = "notification_events"
    __table_args__ = (
        CheckConstraint(check_in("type", EVENT_TYPES), name="type"),
        Index("ix_notification_events_fanned_out_at", "fanned_out_at"),
    )
    tracks_content = False

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(40), unique=True, default=new_event_id)
    type: Mapped[str] = mapped_column(String(40))
    policy_id: Mapped[int | None] = mapped_column(ForeignKey("policies.id", ondelete="SET NULL"), index=True)
    subscription_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="CASCADE"), index=True)
    webhook_endpoint_id: Mapped[int | None] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    fanned_out_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Delivery(Base):
    """One message of one event to one subscription over one channel. ``public_id`` is the
    ``webhook-id``: stable across retries, so receivers can drop repeats.

    Email rows of a daily/weekly subscription wait in 'pending' with ``next_attempt_at`` null until a
    digest run sends them; the worker only claims rows whose ``next_attempt_at`` has come.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "subscription_id", "channel"),
        CheckConstraint(check_in("channel", CHANNELS), name="channel"),
        CheckConstraint(check_in("state", DELIVERY_STATES), name="state"),
        Index("ix_deliveries_state_next_attempt_at", "state", "next_attempt_at"),
        Index("ix_deliveries_group_key_state", "group_key", "state"),
    )
    tracks_content = False

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(40), unique=True, default=new_delivery_id)
    event_id: Mapped[int] = mapped_column(ForeignKey("notification_events.id", ondelete="CASCADE"))
    # Null only for a 'webhook.test' message, which goes to an endpoint rather than a subscription.
    subscription_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="CASCADE"), index=True)
    # Set on every webhook delivery: the endpoint it is sent to (its history page lists by it).
    webhook_endpoint_id: Mapped[int | None] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(10))
    # Immediate email rows about one policy to one address in one language share a key: the worker sends
    # them as one message (see tracker.notifications.worker). Null for webhooks, digests and the rest.
    group_key: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=utcnow)
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    event: Mapped[NotificationEvent] = relationship(lazy="raise")
    subscription: Mapped[Subscription | None] = relationship(lazy="raise")
    webhook_endpoint: Mapped[WebhookEndpoint | None] = relationship(lazy="raise")
    attempt_log: Mapped[list[DeliveryAttempt]] = relationship(
        back_populates="delivery", order_by="DeliveryAttempt.id", lazy="raise", passive_deletes=True)


class DeliveryAttempt(Base):
    """One try at sending a delivery: when, how it ended, the response code or the error."""

    __tablename__ = "delivery_attempts"
    __table_args__ = (CheckConstraint(check_in("outcome", ATTEMPT_OUTCOMES), name="outcome"),)
    tracks_content = False

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id", ondelete="CASCADE"), index=True)
    attempted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    outcome: Mapped[str] = mapped_column(String(20))
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(500))
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)

    delivery: Mapped[Delivery] = relationship(back_populates="attempt_log", lazy="raise")
