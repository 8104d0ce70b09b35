"""The audit trail: every change to a record, field by field, by whom, when and why. Append-only."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.db import Base
from tracker.models.types import UTCDateTime, utcnow
from tracker.models.user import User
from tracker.models.vocab import check_in

AUDIT_ACTIONS = ("create", "update", "status_change", "editorial", "forum_link_add", "forum_link_remove", "import",
                 "proposal_submitted", "proposal_approved", "proposal_rejected",
                 "document_add", "document_replace", "document_update", "document_remove", "document_extract",
                 "status_step_update")
AUDITED_TYPES = ("policy", "event", "organisation")


class AuditEntry(Base):
    """One changed field of one record (or one action without a field), never edited or deleted.

    ``old_value`` and ``new_value`` hold the field's values as JSON; ``version`` is the record's version
    after the change, so a stale editor can be shown what changed since the version they read (and the
    record as it was at any version can be rebuilt). ``jurisdiction_code`` is the record's country when
    the change was made, kept here so the activity log filters by country without joining every table.
    """

    __tablename__ = "audit_entries"
    __table_args__ = (
        CheckConstraint(check_in("entity_type", AUDITED_TYPES), name="entity_type"),
        CheckConstraint(check_in("action", AUDIT_ACTIONS), name="action"),
        Index("ix_audit_entries_entity", "entity_type", "entity_id", "id"),
        Index("ix_audit_entries_created_at", "created_at"),
    )
    tracks_content = False

    id: Mapped[int] = mapped_column(primary_key=True)
    entity_type: Mapped[str] = mapped_column(String(20))
    entity_id: Mapped[int] = mapped_column(Integer)
    entity_key: Mapped[str] = mapped_column(String(120))
    jurisdiction_code: Mapped[str | None] = mapped_column(String(8), index=True)
    version: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(20))
    field: Mapped[str | None] = mapped_column(String(60))
    old_value: Mapped[Any] = mapped_column(JSON, nullable=True)
    new_value: Mapped[Any] = mapped_column(JSON, nullable=True)
    details: Mapped[dict | None] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(Text)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    actor_label: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    actor: Mapped[User | None] = relationship(lazy="raise")
