"""Events (forums, workshops, summits, meetings) and the forum links that tie them to policies."""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.db import Base
from tracker.models.reference import Jurisdiction, Organisation, Topic
from tracker.models.types import PartialDate, PartialDateType, UTCDateTime, utcnow
from tracker.models.vocab import EDITORIAL_STATES, EVENT_KINDS, EVENT_ROLES, FORUM_ROLES, check_in

if TYPE_CHECKING:
    from tracker.models.policy import Policy
    from tracker.models.source import Source


class Event(Base):
    """A forum, workshop, summit or meeting where policies were originated, discussed or announced."""

    __tablename__ = "events"
    __table_args__ = (
        CheckConstraint(check_in("kind", EVENT_KINDS), name="kind"),
        CheckConstraint(check_in("editorial_state", EDITORIAL_STATES), name="editorial_state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)
    jurisdiction_code: Mapped[str | None] = mapped_column(ForeignKey("jurisdictions.code"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    # At least one of the two names (checked by the services).
    name_en: Mapped[str | None] = mapped_column(String(500))
    name_lo: Mapped[str | None] = mapped_column(String(500))
    starts_on: Mapped[PartialDate | None] = mapped_column(PartialDateType, index=True)
    ends_on: Mapped[PartialDate | None] = mapped_column(PartialDateType)
    date_note: Mapped[str | None] = mapped_column(Text)
    venue: Mapped[str | None] = mapped_column(String(500))
    summary_en: Mapped[str | None] = mapped_column(Text)
    summary_lo: Mapped[str | None] = mapped_column(Text)
    editorial_state: Mapped[str] = mapped_column(String(12), default="draft")
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __mapper_args__ = {"version_id_col": version}

    jurisdiction: Mapped[Jurisdiction | None] = relationship(lazy="raise")
    organisation_links: Mapped[list[EventOrganisation]] = relationship(
        back_populates="event", cascade="all, delete-orphan",
        order_by="(EventOrganisation.role, EventOrganisation.position)", lazy="raise")
    topic_links: Mapped[list[EventTopic]] = relationship(
        back_populates="event", cascade="all, delete-orphan", order_by="EventTopic.position", lazy="raise")
    sources: Mapped[list[Source]] = relationship(
        back_populates="event", cascade="all, delete-orphan", order_by="Source.position", lazy="raise")
    forum_links: Mapped[list[ForumLink]] = relationship(
        back_populates="event", cascade="all, delete-orphan", order_by="ForumLink.id", lazy="raise")

    @property
    def topic_keys(self) -> list[str]:
        return [link.topic_key for link in self.topic_links]

    def organisations_in(self, role: str) -> list[Organisation]:
        return [link.organisation for link in self.organisation_links if link.role == role]

    @property
    def is_public(self) -> bool:
        return self.editorial_state == "published"

    def __repr__(self) -> str:
        return f"<Event {self.key}>"


class EventOrganisation(Base):
    """An organisation's part in an event: organiser, funder or partner."""

    __tablename__ = "event_organisations"
    __table_args__ = (CheckConstraint(check_in("role", EVENT_ROLES), name="role"),)

    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), primary_key=True, index=True)
    role: Mapped[str] = mapped_column(String(20), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)

    event: Mapped[Event] = relationship(back_populates="organisation_links", lazy="raise")
    organisation: Mapped[Organisation] = relationship(lazy="raise")


class EventTopic(Base):
    """A topic of an event."""

    __tablename__ = "event_topics"

    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), primary_key=True)
    topic_key: Mapped[str] = mapped_column(ForeignKey("topics.key"), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer)

    event: Mapped[Event] = relationship(back_populates="topic_links", lazy="raise")
    topic: Mapped[Topic] = relationship(lazy="raise")


class ForumLink(Base):
    """The forum-origin link: a policy originated, discussed, announced or recommended at an event."""

    __tablename__ = "forum_links"
    __table_args__ = (
        UniqueConstraint("event_id", "policy_id", "role"),
        CheckConstraint(check_in("role", FORUM_ROLES), name="role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("policies.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    # What the source says of the policy at this event, in English and in Lao.
    evidence: Mapped[str | None] = mapped_column(Text)
    evidence_lo: Mapped[str | None] = mapped_column(Text)
    source_url: Mapped[str | None] = mapped_column(String(2000))
    position: Mapped[int] = mapped_column(Integer)

    event: Mapped[Event] = relationship(back_populates="forum_links", lazy="raise")
    policy: Mapped[Policy] = relationship(back_populates="forum_links", lazy="raise")
