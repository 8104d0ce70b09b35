"""Which subscriptions an event concerns: a policy, country, topic, instrument, event, saved search or all."""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from tracker.models import ForumLink, NotificationEvent, Policy, PolicyTopic, Subscription, User, WebhookEndpoint
from tracker.models.event import Event
from tracker.search.matching import SavedSearchMatcher

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recipient:
    """A subscription an event goes to, with where to send it."""

    subscription_id: int
    channel: str
    webhook_endpoint_id: int | None
    address: str | None
    cadence: str
    target_kind: str
    language: str = "en"


def _address(row: Any) -> str | None:
    return (row.email or row.user_email or None) if row.channel == "email" else None


def recipients(session: Session, event: NotificationEvent, today: dt.date | None = None) -> list[Recipient]:
    """The subscriptions that should hear of ``event``: one per webhook endpoint, and every matching email
    subscription (each keeps its own language and cadence; the worker sends the deliveries of one address,
    language and cadence as one message, see tracker.notifications.worker)."""
    S, U, E = Subscription, User, WebhookEndpoint
    columns = select(S.id, S.channel, S.webhook_endpoint_id, S.cadence, S.target_kind, S.target_value,
                     S.target_filters, S.email, S.language,
                     U.email.label("user_email")).outerjoin(U, U.id == S.user_id)

    if event.type == "webhook.test":
        if event.webhook_endpoint_id is None:
            return []
        return [Recipient(0, "webhook", event.webhook_endpoint_id, None, "immediate", "test")]
    if event.type == "subscription.confirm":
        row = session.execute(columns.where(S.id == event.subscription_id, S.unsubscribed_at.is_(None),
                                            S.channel == "email")).first()
        if row is None or not _address(row):
            return []
        return [Recipient(row.id, "email", None, _address(row), "immediate", row.target_kind, row.language)]

    policy = session.get(Policy, event.policy_id) if event.policy_id is not None else None
    if policy is None or policy.editorial_state != "published":
        return []
    topics = list(session.scalars(select(PolicyTopic.topic_key).where(PolicyTopic.policy_id == policy.id)))
    event_keys = list(session.scalars(select(Event.key).join(ForumLink, ForumLink.event_id == Event.id)
                                      .where(ForumLink.policy_id == policy.id,
                                             Event.editorial_state == "published")))
    statement = (columns.outerjoin(E, E.id == S.webhook_endpoint_id)
                 # A subscription hears of changes made after it was created, not of older ones.
                 .where(S.confirmed_at.is_not(None), S.unsubscribed_at.is_(None),
                        S.created_at <= event.occurred_at,
                        or_(S.user_id.is_(None), U.is_active.is_(True)),
                        or_(and_(S.channel == "email"), and_(E.id.is_not(None), E.disabled_at.is_(None))),
                        or_(and_(S.target_kind == "policy", S.target_value == policy.key),
                            and_(S.target_kind == "country",
                                 S.target_value.in_((policy.jurisdiction_code,
                                                     policy.jurisdiction_code.lower()))),
                            and_(S.target_kind == "instrument", S.target_value == policy.instrument),
                            and_(S.target_kind == "topic", S.target_value.in_(topics)),
                            and_(S.target_kind == "event", S.target_value.in_(event_keys)),
                            S.target_kind.in_(("all", "search"))))
                 .order_by(S.id))
    if event.type == "policy.sunset_upcoming":
        # Each subscription hears of an ending once, when its own window (sunset_days) opens.
        statement = statement.where(S.sunset_days == int(event.payload.get("window_days", 30)))
    if event.type == "policy.comment_period_closing":
        # Likewise for a comment period: once, when the subscription's comment_days window opens.
        statement = statement.where(S.comment_days == int(event.payload.get("window_days", 14)))
    rows = session.execute(statement).all()

    matcher: SavedSearchMatcher | None = None
    chosen: dict[tuple[str, int | str | None], Recipient] = {}
    try:
        for row in rows:
            if row.target_kind == "search":
                if matcher is None:
                    matcher = SavedSearchMatcher(session, policy)
                if not matcher.matches(row.target_value, row.target_filters):
                    continue
            if row.channel == "webhook":
                key: tuple[str, int | str | None] = ("webhook", row.webhook_endpoint_id)
            else:
                if not _address(row):
                    continue
                key = ("email", row.id)
            if key not in chosen:
                cadence = row.cadence if row.channel == "email" else "immediate"
                chosen[key] = Recipient(row.id, row.channel, row.webhook_endpoint_id, _address(row), cadence,
                                        row.target_kind, row.language)
    finally:
        if matcher is not None:
            matcher.close()
    return list(chosen.values())
