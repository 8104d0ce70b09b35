"""The content version: one row whose token changes in every transaction that changes what readers see."""
from __future__ import annotations

import datetime as dt
import uuid
from itertools import chain

from sqlalchemy import BigInteger, Integer, String, event, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from tracker.db import Base
from tracker.models.types import UTCDateTime, utcnow

_BUMPED = "tracker.content_version_bumped"


class ContentVersion(Base):
    """A single row (id 1). ``counter`` counts content transactions; ``token`` is random per transaction,
    so a version read inside a transaction that is later rolled back is never seen again."""

    __tablename__ = "content_versions"
    tracks_content = False

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    counter: Mapped[int] = mapped_column(BigInteger, default=0)
    token: Mapped[str] = mapped_column(String(32))
    changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


def current_content_version(session: Session) -> tuple[str, dt.datetime]:
    """The token and time of the last committed content change (one query)."""
    row = session.execute(select(ContentVersion.token, ContentVersion.changed_at)
                          .where(ContentVersion.id == 1)).one()
    return row.token, row.changed_at


def _changes_content(session: Session) -> bool:
    for obj in chain(session.new, session.deleted):
        if getattr(obj, "tracks_content", False):
            return True
    return any(getattr(obj, "tracks_content", False) and session.is_modified(obj) for obj in session.dirty)


@event.listens_for(Session, "after_flush")
def _bump_content_version(session: Session, _flush_context) -> None:
    # The UPDATE takes the row's lock until commit, so on PostgreSQL as on SQLite the counter moves
    # in commit order and a reader never sees a version whose changes are not yet visible.
    if session.info.get(_BUMPED) or not _changes_content(session):
        return
    session.connection().execute(
        update(ContentVersion).where(ContentVersion.id == 1)
        .values(counter=ContentVersion.counter + 1, token=uuid.uuid4().hex, changed_at=utcnow()))
    session.info[_BUMPED] = True


@event.listens_for(Session, "after_transaction_end")
def _forget_bump(session: Session, _transaction) -> None:
    # Also after a savepoint ends: a rolled-back savepoint takes its bump with it, and bumping twice
    # in one transaction is harmless.
    session.info.pop(_BUMPED, None)
