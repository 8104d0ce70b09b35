"""Counters of requests per client or address over a fixed window, kept in the database so every process agrees."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tracker.db import Base
from tracker.models.types import UTCDateTime
from tracker.models.vocab import check_in

# ``subscribe_client``: anonymous subscription requests from one client address.
REQUEST_COUNT_SCOPES = ("subscribe_client",)


class RequestCount(Base):
    """Requests of one kind (``scope``) from one ``key`` (a client address) counted until ``window_ends_at``,
    a day after the first of them; the next request after that starts a new window. One row per scope and
    key, locked while it is counted, so concurrent requests on any host never count from the same value."""

    __tablename__ = "request_counts"
    __table_args__ = (UniqueConstraint("scope", "key"),
                      CheckConstraint(check_in("scope", REQUEST_COUNT_SCOPES), name="scope"),
                      Index("ix_request_counts_window_ends_at", "window_ends_at"))
    tracks_content = False

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(20))
    key: Mapped[str] = mapped_column(String(320))
    count: Mapped[int] = mapped_column(Integer, default=0)
    window_ends_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
