"""The search index replicas that follow the change log, and how far the log has been pruned."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from tracker.db import Base
from tracker.models.types import UTCDateTime, utcnow


class SearchReplica(Base):
    """One index folder on one host that applies the change log, as it last reported itself.

    ``position`` is the highest log id it has applied; ``complete_through`` the id up to which it has
    applied every row (below its oldest open gap). The log may be pruned below the lowest
    ``complete_through`` of the replicas that reported recently; a replica silent for longer than
    SEARCH_REPLICA_FORGET_SECONDS is forgotten and must rebuild its index.
    """

    __tablename__ = "search_replicas"
    tracks_content = False

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    index_path: Mapped[str] = mapped_column(String(1000))
    position: Mapped[int] = mapped_column(BigInteger, default=0)
    complete_through: Mapped[int] = mapped_column(BigInteger, default=0)
    gaps: Mapped[int] = mapped_column(Integer, default=0)
    heartbeat_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class SearchLogPrune(Base):
    """One pruning of the change log: every row up to ``pruned_through`` that was older than the safety
    margin is gone. An index that has applied less than the highest ``pruned_through`` can never catch up."""

    __tablename__ = "search_log_prunes"
    tracks_content = False

    id: Mapped[int] = mapped_column(primary_key=True)
    pruned_through: Mapped[int] = mapped_column(BigInteger)
    rows: Mapped[int] = mapped_column(Integer, default=0)
    pruned_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
