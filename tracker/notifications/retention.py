"""Keeping the notification tables in bounds: delivered deliveries and their attempts are deleted once
older than NOTIFY_KEEP_DAYS; dead and failed ones stay (someone should look at them) until an admin clears
them; email subscriptions never confirmed are deleted once their last confirmation link has expired.

Run daily by the embedded worker, by ``flask notify prune`` (cron) with an external one; ``flask notify
clear`` and the admins' delivery page clear dead or failed deliveries. Each function works in the
caller's transaction and says what it removed (or, with ``dry_run``, would remove).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Select, and_, delete, exists, func, select
from sqlalchemy.orm import Session

from tracker.models import Delivery, DeliveryAttempt, NotificationEvent, Subscription
from tracker.models.types import utcnow

# A confirmation link is valid this long (tokens.PURPOSES["confirm"]); an hour more, so a link followed
# in its last minute still finds its subscription.
CONFIRM_DAYS = 7
CONFIRM_GRACE = dt.timedelta(hours=1)
CLEARABLE_STATES = ("dead", "failed")


@dataclass(frozen=True)
class Removed:
    """What a prune or a clear removed (or would remove, in a dry run)."""

    deliveries: int = 0
    attempts: int = 0
    subscriptions: int = 0
    dry_run: bool = False

    def describe(self) -> str:
        verb = "Would remove" if self.dry_run else "Removed"
        return (f"{verb} {self.deliveries} deliveries with {self.attempts} attempts, and "
                f"{self.subscriptions} unconfirmed email subscriptions.")


def _remove_deliveries(session: Session, ids: Select[int], dry_run: bool) -> tuple[int, int]:
    ids_query = ids.scalar_subquery()
    deliveries = session.scalar(select(func.count()).select_from(ids.subquery())) or 0
    attempts = session.scalar(select(func.count(DeliveryAttempt.id))
                              .where(DeliveryAttempt.delivery_id.in_(ids_query))) or 0
    if not dry_run and deliveries:
        session.execute(delete(DeliveryAttempt).where(DeliveryAttempt.delivery_id.in_(ids_query))
                        .execution_options(synchronize_session=False))
        session.execute(delete(Delivery).where(Delivery.id.in_(ids_query))
                        .execution_options(synchronize_session=False))
    return deliveries, attempts


def expired_subscriptions(now: dt.datetime) -> Select[int]:
    """Email subscriptions never confirmed whose last confirmation request is older than its link."""
    cutoff = now - dt.timedelta(days=CONFIRM_DAYS) - CONFIRM_GRACE
    recent_request = exists().where(NotificationEvent.subscription_id == Subscription.id,
                                    NotificationEvent.type == "subscription.confirm",
                                    NotificationEvent.occurred_at >= cutoff)
    return select(Subscription.id).where(Subscription.channel == "email", Subscription.confirmed_at.is_(None),
                                         Subscription.created_at < cutoff, ~recent_request)


def prune(session: Session, *, keep_days: int, now: dt.datetime | None = None, dry_run: bool = False) -> Removed:
    """Delete delivered deliveries (with their attempts) delivered more than ``keep_days`` ago, and
    expired unconfirmed email subscriptions (with their confirmation emails' deliveries)."""
    now = now or utcnow()
    delivered_before = now - dt.timedelta(days=keep_days)
    delivered = select(Delivery.id).where(Delivery.state == "delivered",
                                          Delivery.delivered_at < delivered_before)
    deliveries, attempts = _remove_deliveries(session, delivered, dry_run)
    expired = expired_subscriptions(now)
    of_expired = select(Delivery.id).where(Delivery.subscription_id.in_(expired.scalar_subquery()))
    confirm_deliveries, confirm_attempts = _remove_deliveries(session, of_expired, dry_run)
    subscriptions = session.scalar(select(func.count()).select_from(expired.subquery())) or 0
    if not dry_run and subscriptions:
        # Their confirmation events go with them (a foreign key with ON DELETE CASCADE).
        session.execute(delete(Subscription).where(Subscription.id.in_(expired.scalar_subquery()))
                        .execution_options(synchronize_session=False))
    return Removed(deliveries + confirm_deliveries, attempts + confirm_attempts, subscriptions, dry_run)


def clear(session: Session, state: str, *, before: dt.datetime | None = None, dry_run: bool = False) -> Removed:
    """Delete the deliveries in ``state`` (dead or failed) created before ``before`` (all when None),
    with their attempts."""
    if state not in CLEARABLE_STATES:
        raise ValueError(f"only dead or failed deliveries are cleared, not {state!r}")
    condition = Delivery.state == state
    if before is not None:
        condition = and_(condition, Delivery.created_at < before)
    deliveries, attempts = _remove_deliveries(session, select(Delivery.id).where(condition), dry_run)
    return Removed(deliveries, attempts, 0, dry_run)
