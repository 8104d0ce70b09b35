"""The content version: one row whose token changes in every transaction that changes what readers see."""
from __future__ import annotations

import datetime as dt
import uuid
from itertools import chain

from sqlalchemy import BigInteger, Integer, String, event, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Mapped, Session, mapped_column

from tracker.db import Base
from tracker.models.types import UTCDateTime, utcnow

_BUMPED = "tracker.content_version.bumped"
_POSITION = "tracker.content_version.position"
_CHANGED = "tracker.content_version.changed"
_IN_COMMIT = "tracker.content_version.in_commit"


# Marks a database connection whose open transaction changed content that is not committed yet.
_UNCOMMITTED = "tracker.content_version.uncommitted"


class ContentVersion(Base):
    """A single row (id 1). ``counter`` counts content transactions; ``token`` is random per transaction.

    The row is updated just before COMMIT, so a reader inside a transaction that changed content would
    still read the old token: ``current_content_version`` gives such a reader a token of its own that
    matches nothing, so nothing it renders is ever cached or matched by an ETag."""

    __tablename__ = "content_versions"
    tracks_content = False

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    counter: Mapped[int] = mapped_column(BigInteger, default=0)
    token: Mapped[str] = mapped_column(String(32))
    changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


# Made once: every page asks for it, and building the statement cost as much as running it.
_CURRENT_VERSION = select(ContentVersion.token, ContentVersion.changed_at).where(ContentVersion.id == 1)


def current_content_version(session: Session) -> tuple[str, dt.datetime]:
    """The token and time of the last committed content change (one query); inside a transaction that
    changed content and has not committed, a token of its own that no cache entry will ever match."""
    row = session.execute(_CURRENT_VERSION).one()
    if session.connection().info.get(_UNCOMMITTED):
        return f"uncommitted-{uuid.uuid4().hex}", utcnow()
    return row.token, row.changed_at


def commit_position(session: Session) -> int:
    """The counter this transaction moves the content version to: its place in commit order.

    Bumps the row now if the transaction has not yet (its lock is then held until COMMIT), so call it
    only just before the commit, from a ``before_commit`` hook. Positions follow commit order: a
    transaction can only move the counter once the one before it has committed and released the row,
    so whoever sees position N committed also sees every position below it committed.
    """
    _bump(session)
    return session.info[_POSITION]


def committed_position(session: Session) -> int:
    """The counter of the last committed content change (one query)."""
    return session.execute(select(ContentVersion.counter).where(ContentVersion.id == 1)).scalar_one()


def _changes_content(session: Session) -> bool:
    for obj in chain(session.new, session.deleted):
        if getattr(obj, "tracks_content", False):
            return True
    return any(getattr(obj, "tracks_content", False) and session.is_modified(obj) for obj in session.dirty)


@event.listens_for(Session, "after_flush")
def _note_content_change(session: Session, _flush_context) -> None:
    if session.info.get(_BUMPED):
        return
    if _changes_content(session):
        session.info[_CHANGED] = True
        session.connection().info[_UNCOMMITTED] = True
        if session.info.get(_IN_COMMIT):
            # A flush after the bump point (another before_commit hook changed content): bump now.
            _bump(session)


@event.listens_for(Session, "before_commit")
def _bump_before_commit(session: Session) -> None:
    # The row is updated last, just before COMMIT, and its lock held only for the commit itself. Every
    # write path locks the record it changes first and this row last, so two writers never wait on
    # each other in a cycle (an early bump, at the first flush, deadlocked against a path that locked
    # the record after flushing). The UPDATE holds the row's lock until commit, so on PostgreSQL as
    # on SQLite the counter moves in commit order and a reader never sees a version whose changes
    # are not yet visible.
    session.flush()
    session.info[_IN_COMMIT] = True
    if session.info.get(_CHANGED):
        _bump(session)


def _bump(session: Session) -> None:
    if session.info.get(_BUMPED):
        return
    connection = session.connection()
    counter = connection.execute(
        update(ContentVersion).where(ContentVersion.id == 1)
        .values(counter=ContentVersion.counter + 1, token=uuid.uuid4().hex, changed_at=utcnow())
        .returning(ContentVersion.counter)).scalar_one()
    session.info[_BUMPED] = True
    session.info[_POSITION] = counter
    # From here on this connection reads a token of this transaction's own, never seen again if it rolls
    # back, so what it renders may be cached under it (a session joined to an outer transaction, as in
    # the tests, commits this way and goes on reading).
    connection.info.pop(_UNCOMMITTED, None)


@event.listens_for(Session, "after_transaction_end")
def _forget_bump(session: Session, transaction) -> None:
    # Only when the session's own transaction ends (a savepoint inside it keeps the flags): a change
    # noted in a rolled-back savepoint bumps anyway, and bumping for nothing is harmless.
    if transaction.parent is None:
        for key in (_BUMPED, _CHANGED, _IN_COMMIT, _POSITION):
            session.info.pop(key, None)


@event.listens_for(Engine, "commit")
@event.listens_for(Engine, "rollback")
def _forget_uncommitted(connection: Connection) -> None:
    connection.info.pop(_UNCOMMITTED, None)
