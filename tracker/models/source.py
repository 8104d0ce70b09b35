"""Sources: the documents and pages a policy or event record rests on."""
from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.db import Base
from tracker.models.types import PartialDate, PartialDateType
from tracker.models.vocab import SOURCE_KINDS, check_in

if TYPE_CHECKING:
    from tracker.models.event import Event
    from tracker.models.policy import Policy


class Source(Base):
    """A cited source of exactly one policy or one event, in the order the record lists them."""

    __tablename__ = "sources"
    __table_args__ = (
        CheckConstraint("(policy_id IS NULL) <> (event_id IS NULL)", name="one_owner"),
        CheckConstraint("kind IS NULL OR " + check_in("kind", SOURCE_KINDS), name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int | None] = mapped_column(ForeignKey("policies.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    url: Mapped[str] = mapped_column(String(2000))
    title: Mapped[str | None] = mapped_column(String(1000))
    published: Mapped[PartialDate | None] = mapped_column(PartialDateType)
    kind: Mapped[str | None] = mapped_column(String(20))

    policy: Mapped[Policy | None] = relationship(back_populates="sources", lazy="raise")
    event: Mapped[Event | None] = relationship(back_populates="sources", lazy="raise")
