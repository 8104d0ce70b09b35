"""The Policy aggregate: an instrument with its topics, bodies, relations and status history."""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.db import Base
from tracker.models.reference import Jurisdiction, Organisation, Topic
from tracker.models.types import PartialDate, PartialDateType, UTCDateTime, utcnow
from tracker.models.vocab import (
    BODY_ROLES,
    CONFIDENCE_LEVELS,
    EDITORIAL_STATES,
    INSTRUMENTS,
    LEGAL_STATUSES,
    RELATION_TYPES,
    VEHICLE_CLASSES,
    check_in,
)

if TYPE_CHECKING:
    from tracker.models.event import ForumLink
    from tracker.models.source import Source
    from tracker.models.target import PolicyTarget


class Policy(Base):
    """One law, decree, regulation, standard, strategy, incentive or other instrument.

    ``legal_status``, ``status_changed_on``, ``status_since``, ``adopted_on``, ``year`` and ``valid_to_end`` are derived
    (from the status history and the validity window) and kept by the services so lists can filter
    and sort on plain columns.
    """

    __tablename__ = "policies"
    __table_args__ = (
        CheckConstraint(check_in("instrument", INSTRUMENTS), name="instrument"),
        CheckConstraint(check_in("legal_status", LEGAL_STATUSES), name="legal_status"),
        CheckConstraint(check_in("editorial_state", EDITORIAL_STATES), name="editorial_state"),
        CheckConstraint("confidence IS NULL OR " + check_in("confidence", CONFIDENCE_LEVELS), name="confidence"),
        Index("ix_policies_state_jurisdiction", "editorial_state", "jurisdiction_code"),
        Index("ix_policies_state_status_changed", "editorial_state", "status_changed_on"),
        Index("ix_policies_valid_to_end", "valid_to_end"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)
    jurisdiction_code: Mapped[str] = mapped_column(ForeignKey("jurisdictions.code"))
    instrument: Mapped[str] = mapped_column(String(20))
    # At least one of the two titles (checked by the services): a Lao officer may record a Lao title only.
    title_en: Mapped[str | None] = mapped_column(String(500))
    title_lo: Mapped[str | None] = mapped_column(String(500))
    title_local: Mapped[str | None] = mapped_column(String(500))
    summary_en: Mapped[str | None] = mapped_column(Text)
    summary_lo: Mapped[str | None] = mapped_column(Text)
    reference: Mapped[str | None] = mapped_column(String(300))
    issuer_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    valid_from: Mapped[PartialDate | None] = mapped_column(PartialDateType)
    valid_to: Mapped[PartialDate | None] = mapped_column(PartialDateType)
    valid_to_end: Mapped[dt.date | None] = mapped_column(Date)
    confidence: Mapped[str | None] = mapped_column(String(10))
    conflicts: Mapped[list[str]] = mapped_column(JSON, default=list)
    legal_status: Mapped[str] = mapped_column(String(20), default="unknown")
    status_changed_on: Mapped[PartialDate | None] = mapped_column(PartialDateType)
    # When the current status began: the first dated step of the last run of steps into that status.
    status_since: Mapped[PartialDate | None] = mapped_column(PartialDateType)
    adopted_on: Mapped[PartialDate | None] = mapped_column(PartialDateType)
    year: Mapped[int | None] = mapped_column(Integer, index=True)
    editorial_state: Mapped[str] = mapped_column(String(12), default="draft")
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __mapper_args__ = {"version_id_col": version}

    jurisdiction: Mapped[Jurisdiction] = relationship(lazy="raise")
    issuer: Mapped[Organisation | None] = relationship(lazy="raise")
    topic_links: Mapped[list[PolicyTopic]] = relationship(
        back_populates="policy", cascade="all, delete-orphan", order_by="PolicyTopic.position", lazy="raise")
    vehicle_class_links: Mapped[list[PolicyVehicleClass]] = relationship(
        back_populates="policy", cascade="all, delete-orphan", order_by="PolicyVehicleClass.position",
        lazy="raise")
    bodies: Mapped[list[PolicyBody]] = relationship(
        back_populates="policy", cascade="all, delete-orphan", order_by="PolicyBody.position", lazy="raise")
    sources: Mapped[list[Source]] = relationship(
        back_populates="policy", cascade="all, delete-orphan", order_by="Source.position", lazy="raise")
    relations: Mapped[list[PolicyRelation]] = relationship(
        back_populates="policy", foreign_keys="PolicyRelation.policy_id", cascade="all, delete-orphan",
        order_by="PolicyRelation.position", lazy="raise")
    # In a fixed order (the policies' own order of their relations otherwise depends on the query plan),
    # so that the record reads the same however it was loaded.
    inverse_relations: Mapped[list[PolicyRelation]] = relationship(
        back_populates="target", foreign_keys="PolicyRelation.target_id", viewonly=True,
        order_by="(PolicyRelation.policy_id, PolicyRelation.position)", lazy="raise")
    status_changes: Mapped[list[StatusChange]] = relationship(
        back_populates="policy", cascade="all, delete-orphan", order_by="StatusChange.position", lazy="raise")
    forum_links: Mapped[list[ForumLink]] = relationship(
        back_populates="policy", cascade="all, delete-orphan", order_by="ForumLink.position", lazy="raise")
    targets: Mapped[list[PolicyTarget]] = relationship(
        back_populates="policy", cascade="all, delete-orphan", order_by="PolicyTarget.position", lazy="raise")

    @property
    def topic_keys(self) -> list[str]:
        return [link.topic_key for link in self.topic_links]

    @property
    def vehicle_classes(self) -> list[str]:
        return [link.vehicle_class for link in self.vehicle_class_links]

    @property
    def is_public(self) -> bool:
        return self.editorial_state == "published"

    def __repr__(self) -> str:
        return f"<Policy {self.key}>"


class PolicyTopic(Base):
    """A topic of a policy, in the order the record gives them."""

    __tablename__ = "policy_topics"

    policy_id: Mapped[int] = mapped_column(ForeignKey("policies.id", ondelete="CASCADE"), primary_key=True)
    topic_key: Mapped[str] = mapped_column(ForeignKey("topics.key"), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer)

    policy: Mapped[Policy] = relationship(back_populates="topic_links", lazy="raise")
    topic: Mapped[Topic] = relationship(lazy="raise")


class PolicyVehicleClass(Base):
    """A vehicle class a policy applies to."""

    __tablename__ = "policy_vehicle_classes"
    __table_args__ = (CheckConstraint(check_in("vehicle_class", VEHICLE_CLASSES), name="vehicle_class"),)

    policy_id: Mapped[int] = mapped_column(ForeignKey("policies.id", ondelete="CASCADE"), primary_key=True)
    vehicle_class: Mapped[str] = mapped_column(String(20), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer)

    policy: Mapped[Policy] = relationship(back_populates="vehicle_class_links", lazy="raise")


class PolicyBody(Base):
    """An organisation other than the issuer with a role in a policy (implementing, partner, funder)."""

    __tablename__ = "policy_bodies"
    __table_args__ = (CheckConstraint(check_in("role", BODY_ROLES), name="role"),)

    policy_id: Mapped[int] = mapped_column(ForeignKey("policies.id", ondelete="CASCADE"), primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), primary_key=True, index=True)
    role: Mapped[str] = mapped_column(String(20), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)

    policy: Mapped[Policy] = relationship(back_populates="bodies", lazy="raise")
    organisation: Mapped[Organisation] = relationship(lazy="raise")


class PolicyRelation(Base):
    """A typed, directed link from one policy to another, or to an instrument not in the tracker."""

    __tablename__ = "policy_relations"
    __table_args__ = (
        CheckConstraint(check_in("relation_type", RELATION_TYPES), name="relation_type"),
        CheckConstraint("target_id IS NOT NULL OR target_reference IS NOT NULL", name="has_target"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("policies.id", ondelete="CASCADE"), index=True)
    relation_type: Mapped[str] = mapped_column(String(20))
    target_id: Mapped[int | None] = mapped_column(ForeignKey("policies.id", ondelete="CASCADE"), index=True)
    # The instrument's citation when it is not (yet) a record of its own.
    target_reference: Mapped[str | None] = mapped_column(String(500))
    position: Mapped[int] = mapped_column(Integer)

    policy: Mapped[Policy] = relationship(back_populates="relations", foreign_keys=[policy_id], lazy="raise")
    target: Mapped[Policy | None] = relationship(
        back_populates="inverse_relations", foreign_keys=[target_id], lazy="raise")


class StatusChange(Base):
    """One dated step of a policy's legal status; the history is append-only.

    ``position`` orders the timeline; a step whose date is unknown keeps the place its source gave it.

    A step into ``consultation`` may carry its comment window (``comment_*``): the days it opens and
    closes, how to comment in both languages, where to send comments and the draft put to comment. They
    are columns of the step rather than a table of their own because a window belongs to exactly one step
    and is read wherever the step is (the timeline, the record format, dumps, exports, the API): a table
    would need one more eager load on each of those paths. ``gazetted_on`` is the day the text the step
    records was published in the Official Gazette. Unlike the step's status and date, these may be
    edited (tracker.services.consultations), each edit audited.
    """

    __tablename__ = "status_changes"
    __table_args__ = (
        UniqueConstraint("policy_id", "position"),
        CheckConstraint(check_in("to_status", LEGAL_STATUSES), name="to_status"),
        CheckConstraint("from_status IS NULL OR " + check_in("from_status", LEGAL_STATUSES), name="from_status"),
        Index("ix_status_changes_effective_on", "effective_on"),
        Index("ix_status_changes_comment_closes_on", "comment_closes_on"),
        CheckConstraint("comment_closes_on IS NULL OR comment_opens_on IS NULL "
                        "OR comment_closes_on >= comment_opens_on", name="comment_window"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("policies.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    effective_on: Mapped[PartialDate | None] = mapped_column(PartialDateType)
    # The note in English and in Lao (either, both or neither).
    note: Mapped[str | None] = mapped_column(Text)
    note_lo: Mapped[str | None] = mapped_column(Text)
    evidence_url: Mapped[str | None] = mapped_column(String(2000))
    recorded_by: Mapped[str | None] = mapped_column(String(320))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Written when the change falls outside the transition table and a reviewer allowed it.
    override_reason: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    comment_opens_on: Mapped[dt.date | None] = mapped_column(Date)
    comment_closes_on: Mapped[dt.date | None] = mapped_column(Date)
    comment_how_en: Mapped[str | None] = mapped_column(Text)
    comment_how_lo: Mapped[str | None] = mapped_column(Text)
    # An email address or an https URL where comments go.
    comment_address: Mapped[str | None] = mapped_column(String(2000))
    comment_draft_url: Mapped[str | None] = mapped_column(String(2000))
    # The draft as a text attached to the policy (tracker.models.document), when it is one.
    comment_draft_document_id: Mapped[int | None] = mapped_column(
        ForeignKey("documents.id", ondelete="SET NULL"))
    gazetted_on: Mapped[dt.date | None] = mapped_column(Date)

    policy: Mapped[Policy] = relationship(back_populates="status_changes", lazy="raise")

    @property
    def has_comment_window(self) -> bool:
        return self.comment_opens_on is not None or self.comment_closes_on is not None
