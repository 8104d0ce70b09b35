"""Mail to staff accounts (and system mail to an address): queued in the caller's transaction, sent after it.

What is queued is the kind of message, its recipient and the facts it tells (record keys, titles,
comments); the worker renders it at send time in the recipient's language (see
tracker.notifications.staff). Nothing is sent from a request, and a rolled-back change sends nothing.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.models import StaffMail, User
from tracker.models.mail import ADDRESS_MAIL_KINDS, STAFF_MAIL_KINDS
from tracker.notifications.outbox import mark_added
from tracker.services.permissions import ROLE_ORDER


def queue(session: Session, kind: str, user: User, payload: dict[str, Any] | None = None) -> StaffMail | None:
    """Queue one message to ``user`` (nothing for a disabled account)."""
    if kind not in STAFF_MAIL_KINDS or kind in ADDRESS_MAIL_KINDS:
        raise ValueError(f"unknown staff mail kind: {kind!r}")
    if not user.is_active:
        return None
    mail = StaffMail(kind=kind, user_id=user.id, payload=dict(payload or {}))
    session.add(mail)
    # The commit wakes the worker as it does for notification events.
    mark_added(session)
    return mail


def queue_to_address(session: Session, kind: str, address: str, payload: dict[str, Any] | None = None) -> StaffMail:
    """Queue one message of an ADDRESS_MAIL_KINDS kind to an email address, which may have no account."""
    if kind not in ADDRESS_MAIL_KINDS:
        raise ValueError(f"not a kind of mail to an address: {kind!r}")
    mail = StaffMail(kind=kind, email=address, payload=dict(payload or {}))
    session.add(mail)
    mark_added(session)
    return mail


def queue_to_role(session: Session, kind: str, role: str, payload: dict[str, Any], *,
                  except_user: User | None = None) -> int:
    """Queue one message to every active account holding ``role`` or a higher one (one query); the
    person who caused it is left out. Returns how many were queued."""
    roles = ROLE_ORDER[ROLE_ORDER.index(role):]
    users = session.scalars(select(User).where(User.role.in_(roles), User.is_active.is_(True))
                            .order_by(User.id)).all()
    queued = 0
    for user in users:
        if except_user is not None and user.id == except_user.id:
            continue
        queue(session, kind, user, payload)
        queued += 1
    return queued
