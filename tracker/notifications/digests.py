"""Daily and weekly digests, built from each subscriber's own waiting deliveries (never from a cursor).

A digest run takes the email deliveries still waiting for a digest, one email per address, cadence
and language (each change listed once however many of the address's subscriptions it matched, and the
subscriptions it answers named, each with its own unsubscribe link), and marks exactly those rows
delivered in the transaction that records the SMTP server's acceptance. A late run sends everything that
waited; a repeated run finds nothing left.
A run killed between the send and that commit sends those rows again next time (never loses one).
"""
from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select, update

from tracker.models import Delivery, DeliveryAttempt, Jurisdiction, NotificationEvent, Subscription, User
from tracker.models.types import utcnow
from tracker.notifications import messages
from tracker.notifications.payloads import absolute_urls

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement

    from tracker.notifications.worker import Worker

CADENCES = ("daily", "weekly")


def _waiting(now: dt.datetime) -> tuple[ColumnElement[bool], ...]:
    return (Delivery.state == "pending", Delivery.channel == "email", Delivery.next_attempt_at.is_(None),
            or_(Delivery.lease_until.is_(None), Delivery.lease_until < now))


def send_digests(worker: Worker, cadence: str) -> dict[str, int]:
    """Send the ``cadence`` digests now; returns counts of emails and items sent, and failures."""
    if cadence not in CADENCES:
        raise ValueError(f"unknown digest cadence: {cadence!r}")
    now = utcnow()
    # A daily run also takes rows whose subscription has since switched to immediate.
    cadences = (cadence, "immediate") if cadence == "daily" else (cadence,)
    S, U = Subscription, User
    with worker.write_session() as session:
        # Rows of cancelled subscriptions are closed, not sent.
        cancelled = select(S.id).where(S.unsubscribed_at.is_not(None))
        session.execute(update(Delivery).where(*_waiting(now), Delivery.subscription_id.in_(cancelled))
                        .values(state="failed", last_error="The subscription was cancelled before the digest")
                        .execution_options(synchronize_session=False))
        session.commit()
    with worker.read_session() as session:
        rows = session.execute(
            select(Delivery.id, Delivery.subscription_id, S.public_id, S.email, U.email.label("user_email"),
                   S.language)
            .join(S, S.id == Delivery.subscription_id).outerjoin(U, U.id == S.user_id)
            .where(*_waiting(now), S.cadence.in_(cadences), S.confirmed_at.is_not(None),
                   S.unsubscribed_at.is_(None))
            .order_by(Delivery.id)).all()
    groups: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for row in rows:
        address = row.email or row.user_email
        if address:
            groups[(address.lower(), row.language)].append(row)
    counts = {"emails": 0, "items": 0, "failed": 0, "retry": 0}
    try:
        for (_, language), group in groups.items():
            outcome, items = _send_group(worker, cadence, language, group)
            if outcome == "delivered":
                counts["emails"] += 1
                counts["items"] += items
            elif outcome in ("failed", "retry"):
                counts[outcome] += 1
    finally:
        worker.mailer.close()
    return counts


def _claim(worker: Worker, ids: list[int], lease: dt.datetime) -> list[int]:
    now = utcnow()
    with worker.write_session() as session:
        statement = select(Delivery.id).where(Delivery.id.in_(ids), *_waiting(now))
        if worker.postgresql:
            statement = statement.with_for_update(skip_locked=True)
        claimed = list(session.scalars(statement))
        if claimed:
            session.execute(update(Delivery).where(Delivery.id.in_(claimed)).values(lease_until=lease)
                            .execution_options(synchronize_session=False))
        session.commit()
    return claimed


def _send_group(worker: Worker, cadence: str, language: str, group: list[Any]) -> tuple[str, int]:
    lease = utcnow() + dt.timedelta(seconds=float(worker.config["NOTIFY_LEASE_SECONDS"]))
    ids = _claim(worker, [row.id for row in group], lease)
    if not ids:
        return "none", 0  # another run took them
    from tracker.notifications.describe import describe_subscription

    with worker.read_session() as session:
        # Each change once, even when several of the address's subscriptions matched it.
        events = session.execute(
            select(NotificationEvent.id, NotificationEvent.type, NotificationEvent.payload,
                   NotificationEvent.occurred_at)
            .where(NotificationEvent.id.in_(select(Delivery.event_id).where(Delivery.id.in_(ids))))
            .order_by(NotificationEvent.occurred_at, NotificationEvent.id)).all()
        claimed = set(ids)
        subscription_ids = {row.subscription_id for row in group if row.id in claimed}
        subscriptions = list(session.scalars(select(Subscription).where(Subscription.id.in_(subscription_ids))
                                             .order_by(Subscription.id)))
        countries = {code: (english, lao) for code, english, lao in session.execute(
            select(Jurisdiction.code, Jurisdiction.name_en, Jurisdiction.name_lo))}
    items = [{"type": e.type, "data": absolute_urls(dict(e.payload or {})), "occurred_at": e.occurred_at}
             for e in events]
    with messages.language(language):
        answered = [messages.Answered(s.public_id, describe_subscription(s)) for s in subscriptions]
    first = group[0]
    address = first.email or first.user_email
    # The same rows give the same Message-ID, so a digest sent twice after a crash is recognisable.
    digest_id = "dig_" + hashlib.sha256(",".join(map(str, sorted(ids))).encode()).hexdigest()[:32]
    message = messages.digest_email(to=address, lang=language, cadence=cadence, items=items,
                                    digest_id=digest_id, answered=answered, countries=countries)
    result = worker.mailer.send(message, digest_id)
    now = utcnow()
    with worker.write_session() as session:
        values: dict[str, Any] = {"lease_until": None, "attempts": Delivery.attempts + 1,
                                  "last_status_code": result.status_code, "last_error": result.error}
        if result.outcome == "delivered":
            values.update(state="delivered", delivered_at=now)
        elif result.outcome in ("failed", "gone"):
            values.update(state="failed")
        # On "retry" the rows stay waiting for the next digest run.
        session.execute(update(Delivery).where(Delivery.id.in_(ids), Delivery.lease_until == lease)
                        .values(**values).execution_options(synchronize_session=False))
        outcome = {"delivered": "delivered", "retry": "retry"}.get(result.outcome, "failed")
        session.add_all([DeliveryAttempt(delivery_id=i, attempted_at=now, outcome=outcome,
                                         status_code=result.status_code, error=result.error,
                                         duration_ms=result.duration_ms) for i in ids])
        session.commit()
    return result.outcome, len(ids)
