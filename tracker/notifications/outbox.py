"""The outbox: notification events written in the transaction that made the change (never sent from it)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from tracker.models import NotificationEvent, Policy, Subscription, WebhookEndpoint
from tracker.models.notification import EVENT_TYPES
from tracker.notifications.wakeup import CHANNEL

if TYPE_CHECKING:
    from sqlalchemy.orm import SessionTransaction

_ADDED = "tracker.notify.events_added"


def record_event(session: Session, type: str, *, policy: Policy | None = None, payload: dict[str, Any],
                 subscription: Subscription | None = None, endpoint: WebhookEndpoint | None = None,
                 dedupe_key: str | None = None) -> NotificationEvent | None:
    """Add an outbox row in the caller's transaction; the worker fans it out after the commit.

    Costs one INSERT whatever the number of subscribers. With ``dedupe_key`` an event already recorded
    under that key is not recorded again (None is returned).
    """
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown notification event type: {type!r}")
    if dedupe_key is not None:
        pending = [obj for obj in session.new
                   if isinstance(obj, NotificationEvent) and obj.dedupe_key == dedupe_key]
        if pending or session.scalar(select(NotificationEvent.id)
                                     .where(NotificationEvent.dedupe_key == dedupe_key)):
            return None
    if any(obj is not None and obj.id is None for obj in (policy, subscription, endpoint)):
        session.flush()  # the event refers to them by id
    event = NotificationEvent(type=type, payload=payload, dedupe_key=dedupe_key,
                              policy_id=policy.id if policy is not None else None,
                              subscription_id=subscription.id if subscription is not None else None,
                              webhook_endpoint_id=endpoint.id if endpoint is not None else None)
    session.add(event)
    mark_added(session)
    return event


def mark_added(session: Session) -> None:
    """Note that the session's transaction gave the worker something to do (an event, staff mail)."""
    session.info[_ADDED] = True


def events_added(session: Session) -> bool:
    """Whether the session's current transaction recorded an event (so a commit should wake the worker)."""
    return bool(session.info.get(_ADDED))


@event.listens_for(Session, "before_commit")
def _notify_listeners(session: Session) -> None:
    # PostgreSQL delivers a NOTIFY when (and only if) the transaction commits, to every worker that
    # LISTENs, in any process or host: they start at once instead of at their next poll.
    if events_added(session) and session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_notify(CHANNEL, "")))


@event.listens_for(Session, "after_transaction_end")
def _forget_added(session: Session, transaction: SessionTransaction) -> None:
    # Once the session's own transaction is over (committed, after the commit hooks ran, or rolled back).
    if transaction.parent is None:
        session.info.pop(_ADDED, None)
