"""Proposed changes to published records: stored beside the record until a reviewer approves or rejects them."""
from __future__ import annotations

import datetime as dt
from typing import Any

from flask_babel import LazyString
from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.db import Base
from tracker.models.types import UTCDateTime, utcnow
from tracker.models.user import User
from tracker.models.vocab import check_in
from tracker.translation import lazy_gettext as _l

PROPOSAL_STATES: dict[str, LazyString] = {
    "pending": _l("Waiting for review"),
    "approved": _l("Approved"),
    "rejected": _l("Rejected"),
    "withdrawn": _l("Withdrawn"),
}


class ChangeProposal(Base):
    """An editor's change to a published policy or event, kept apart so the public keeps seeing the
    published version until a reviewer approves it.

    ``changes`` holds only the fields the editor changed, in the dataset format, against the record as
    it was at ``base_version``; approval merges them three ways onto the record as it is then.
    """

    __tablename__ = "change_proposals"
    __table_args__ = (
        CheckConstraint(check_in("entity_type", ("policy", "event")), name="entity_type"),
        CheckConstraint(check_in("state", PROPOSAL_STATES), name="state"),
        Index("ix_change_proposals_entity", "entity_type", "entity_id", "state"),
        Index("ix_change_proposals_state_created_at", "state", "created_at"),
    )
    tracks_content = False

    id: Mapped[int] = mapped_column(primary_key=True)
    entity_type: Mapped[str] = mapped_column(String(10))
    entity_id: Mapped[int] = mapped_column(Integer)
    entity_key: Mapped[str] = mapped_column(String(120))
    jurisdiction_code: Mapped[str | None] = mapped_column(String(8))
    base_version: Mapped[int] = mapped_column(Integer)
    changes: Mapped[dict[str, Any]] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(10), default="pending")
    proposed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decision_comment: Mapped[str | None] = mapped_column(Text)
    # The record's version once the approved changes were applied.
    applied_version: Mapped[int | None] = mapped_column(Integer)

    proposed_by: Mapped[User | None] = relationship(foreign_keys=[proposed_by_id], lazy="raise")
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id], lazy="raise")

    @property
    def is_pending(self) -> bool:
        return self.state == "pending"
