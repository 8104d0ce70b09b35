"""Old keys of policies and events, kept so that links made before a key changed still reach the record."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tracker.db import Base
from tracker.models.types import UTCDateTime, utcnow

ALIASED_KINDS = ("policy", "event")


class RecordKeyAlias(Base):
    """A key a policy or event had before: its pages, downloads and API answer with a redirect to the
    record's current key.

    The record is named by its id (``policy_id`` or ``event_id``, as ``kind`` says), never by its key, so
    a chain of changes (a → b → c) leads from every old key to the current one in one step. A key held
    by a live record of the same kind is that record's, whatever an alias says (see
    tracker.services.permalinks).
    """

    __tablename__ = "record_key_aliases"
    __table_args__ = (
        UniqueConstraint("kind", "old_key"),
        CheckConstraint("(kind = 'policy' AND policy_id IS NOT NULL AND event_id IS NULL) OR "
                        "(kind = 'event' AND event_id IS NOT NULL AND policy_id IS NULL)", name="one_record"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    old_key: Mapped[str] = mapped_column(String(120))
    policy_id: Mapped[int | None] = mapped_column(ForeignKey("policies.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<RecordKeyAlias {self.kind} {self.old_key}>"
