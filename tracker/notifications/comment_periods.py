"""Comment-period reminders: a published policy's comment period closing soon is announced once to each
subscription, when the subscription's own window (``comment_days`` before the closing day) opens; again if
the closing day moves."""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from tracker.config import local_today
from tracker.models import Policy, StatusChange, Subscription
from tracker.notifications.outbox import record_event
from tracker.notifications.payloads import policy_payload

if TYPE_CHECKING:
    from tracker.notifications.worker import Worker


def dedupe_key(step: StatusChange, closes_on: dt.date, window: int) -> str:
    # The closing day is part of the key: a period extended or shortened is announced again.
    return f"comment:{step.id}:{closes_on.isoformat()}:{window}"


def scan(worker: Worker, today: dt.date | None = None) -> int:
    """Record a 'policy.comment_period_closing' event for each comment period of a published policy closing
    within a window some active subscription uses; each (step, closing day, window) only once. Returns the
    events recorded."""
    with worker.app.app_context():
        today = today or local_today()
    for _ in range(3):  # two scanners at once on PostgreSQL: the loser retries and finds them recorded
        try:
            return _scan(worker, today)
        except IntegrityError:
            continue
    return 0


def _scan(worker: Worker, today: dt.date) -> int:
    recorded = 0
    with worker.write_session() as session:
        windows = sorted(set(session.scalars(select(Subscription.comment_days).where(
            Subscription.confirmed_at.is_not(None), Subscription.unsubscribed_at.is_(None),
            Subscription.comment_days > 0))))
        if not windows:
            return 0
        rows = session.execute(select(StatusChange, Policy).join(Policy, Policy.id == StatusChange.policy_id).where(
            Policy.editorial_state == "published", StatusChange.to_status == "consultation",
            StatusChange.comment_closes_on >= today,
            StatusChange.comment_closes_on <= today + dt.timedelta(days=max(windows)))
            .order_by(StatusChange.id)).all()
        for step, policy in rows:
            closes_on = step.comment_closes_on
            assert closes_on is not None
            if step.comment_opens_on is not None and step.comment_opens_on > today:
                continue  # not open yet: nothing to remind of
            days_left = (closes_on - today).days
            for window in windows:
                if days_left > window:
                    continue
                event = record_event(session, "policy.comment_period_closing", policy=policy, dedupe_key=dedupe_key(
                    step, closes_on, window), payload=policy_payload(
                        policy, closes_on=closes_on.isoformat(),
                        opens_on=step.comment_opens_on.isoformat() if step.comment_opens_on else None,
                        days_left=days_left, window_days=window, step_position=step.position,
                        comment_address=step.comment_address, draft_url=step.comment_draft_url))
                if event is not None:
                    recorded += 1
        session.commit()
    return recorded
