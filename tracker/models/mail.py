"""Mail to staff (resets, reviews, decisions) and system mail to an address: an outbox sent by the worker."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.db import Base
from tracker.models.types import UTCDateTime, utcnow
from tracker.models.user import User
from tracker.models.vocab import check_in

STAFF_MAIL_KINDS = ("password_reset", "review_requested", "record_published", "record_sent_back",
                    "proposal_submitted", "proposal_approved", "proposal_rejected", "subscriptions_link")
# Kinds sent to an email address rather than to an account: the link to manage that address's subscriptions.
ADDRESS_MAIL_KINDS = ("subscriptions_link",)
STAFF_MAIL_STATES = ("pending", "sent", "failed")


class StaffMail(Base):
    """One message to one account, written in the transaction that caused it and sent after the commit.

    The message is rendered when it is sent, in the recipient's language, from ``kind`` and ``payload``
    (record keys and titles, comments); a password reset link is made at that moment too, so no live
    secret ever sits in the database.
    """

    __tablename__ = "staff_mail"
    __table_args__ = (
        CheckConstraint(check_in("kind", STAFF_MAIL_KINDS), name="kind"),
        CheckConstraint(check_in("state", STAFF_MAIL_STATES), name="state"),
        CheckConstraint("user_id IS NOT NULL OR email IS NOT NULL", name="recipient"),
        Index("ix_staff_mail_state_next_attempt_at", "state", "next_attempt_at"),
    )
    tracks_content = False

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    # An account, or (for ADDRESS_MAIL_KINDS) an email address that may have no account.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    email: Mapped[str | None] = mapped_column(String(320))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User | None] = relationship(lazy="raise")
