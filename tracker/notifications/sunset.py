"""Sunset alerts: a time-bound measure's end is announced once to each subscription, when the
subscription's own window (``sunset_days`` before ``valid_to``) opens."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session

from tracker.models import Policy, Subscription
from tracker.models.types import utcnow
from tracker.notifications.outbox import record_event
from tracker.notifications.payloads import policy_payload

if TYPE_CHECKING:
    from tracker.notifications.worker import Worker


def dedupe_key(policy: Policy, ends: dt.date, window: int) -> str:
    return f"sunset:{policy.id}:{ends.isoformat()}:{window}"


def scan(worker: Worker, today: dt.date | None = None) -> int:
    """Record a 'policy.sunset_upcoming' event for each published policy ending within a window some
    active subscription uses; each (policy, end date, window) only once. Returns the events recorded."""
    return retried_on_conflict(_scan, worker, today or utcnow().date())


def retried_on_conflict(scan_once: Callable[[Worker, dt.date], int], worker: Worker, today: dt.date) -> int:
    """Run a scan that records deduplicated events; two scanners at once on PostgreSQL: the loser's unique
    key clashes, and it retries and finds the events recorded."""
    for _ in range(3):
        try:
            return scan_once(worker, today)
        except IntegrityError:
            continue
    return 0


def active_windows(session: Session, days: InstrumentedAttribute[int]) -> list[int]:
    """The distinct alert windows (in days, 0 meaning off) that confirmed, active subscriptions set in ``days``."""
    return sorted(set(session.scalars(select(days).where(
        Subscription.confirmed_at.is_not(None), Subscription.unsubscribed_at.is_(None), days > 0))))


def _scan(worker: Worker, today: dt.date) -> int:
    recorded = 0
    with worker.write_session() as session:
        windows = active_windows(session, Subscription.sunset_days)
        if not windows:
            return 0
        policies = session.scalars(select(Policy).where(
            Policy.editorial_state == "published", Policy.valid_to_end.is_not(None),
            Policy.valid_to_end >= today, Policy.valid_to_end <= today + dt.timedelta(days=max(windows)))
            .order_by(Policy.id)).all()
        for policy in policies:
            ends = policy.valid_to_end
            assert ends is not None
            days_left = (ends - today).days
            for window in windows:
                if days_left > window:
                    continue
                event = record_event(session, "policy.sunset_upcoming", policy=policy, dedupe_key=dedupe_key(
                    policy, ends, window), payload=policy_payload(
                        policy, valid_to_end=ends.isoformat(), days_left=days_left, window_days=window))
                if event is not None:
                    recorded += 1
        session.commit()
    return recorded
