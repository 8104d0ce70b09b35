"""The trail of changes made to subscriptions from their management page, and the requests for its link."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from tracker.db import Base
from tracker.models.types import UTCDateTime, utcnow
from tracker.models.vocab import check_in

SUBSCRIPTION_ACTIONS = ("update", "unsubscribe")


class SubscriptionChange(Base):
    """One changed setting of one subscription (or its end), by whom and through what, never edited.

    Subscriptions are people's own settings, not records of the tracker: they are kept out of the records'
    audit trail (which staff read as the activity log). ``subscription_public_id`` and ``address`` stay
    when an account later deletes the subscription itself.
    """

    __tablename__ = "subscription_changes"
    __table_args__ = (
        CheckConstraint(check_in("action", SUBSCRIPTION_ACTIONS), name="action"),
        Index("ix_subscription_changes_created_at", "created_at"),
    )
    tracks_content = False

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="SET NULL"), index=True)
    subscription_public_id: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(20))
    field: Mapped[str | None] = mapped_column(String(30))
    old_value: Mapped[str | None] = mapped_column(String(30))
    new_value: Mapped[str | None] = mapped_column(String(30))
    # How the change was made ("manage link": the page reached from an email) and for which address.
    via: Mapped[str] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ManageLinkRequest(Base):
    """One request for a link to the management page, counted against the daily limits of the client
    address and of the email address asked for. The email address is kept only as a keyed digest:
    these rows say how often an address was asked for, never which addresses were."""

    __tablename__ = "manage_link_requests"
    __table_args__ = (
        Index("ix_manage_link_requests_client", "client", "requested_at"),
        Index("ix_manage_link_requests_address_digest", "address_digest", "requested_at"),
        Index("ix_manage_link_requests_requested_at", "requested_at"),
    )
    tracks_content = False

    id: Mapped[int] = mapped_column(primary_key=True)
    client: Mapped[str] = mapped_column(String(64))
    address_digest: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
