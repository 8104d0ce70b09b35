"""Comment-period reminders: a published policy's comment period closing soon is announced once to each
subscription, when the subscription's own window (``comment_days`` before the closing day) opens; again if
the closing day moves."""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import select

from tracker.config import local_today
from tracker.models import Policy, StatusChange, Subscription
from tracker.notifications.outbox import record_event
from tracker.notifications.payloads import policy_payload
from tracker.notifications.sunset import active_windows, retried_on_conflict

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
    return retried_on_conflict(_scan, worker, today)


def _scan(worker: Worker, today: dt.date) -> int:
    recorded = 0
    with worker.write_session() as session:
        windows = active_windows(session, Subscription.comment_days)
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
