"""Reference tables: jurisdictions (ASEAN members and pseudo-jurisdictions), organisations, topics."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.db import Base
from tracker.models.types import UTCDateTime, utcnow
from tracker.models.vocab import ORGANISATION_KINDS, check_in

JURISDICTION_KINDS = ("member", "regional", "international")


class Jurisdiction(Base):
    """An ASEAN member by ISO 3166-1 code, ``ASEAN`` for regional instruments, ``INTL`` for standards bodies."""

    __tablename__ = "jurisdictions"
    __table_args__ = (CheckConstraint(check_in("kind", JURISDICTION_KINDS), name="kind"),)

    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    name_en: Mapped[str] = mapped_column(String(100))
    name_lo: Mapped[str | None] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    position: Mapped[int] = mapped_column(Integer)
    asean_member_since: Mapped[dt.date | None] = mapped_column(Date)

    def __repr__(self) -> str:
        return f"<Jurisdiction {self.code}>"


class Organisation(Base):
    """A ministry, agency, utility, association, company, development partner or regional body.

    Staff create and edit organisations like records (audited, with optimistic locking); a body may sit
    under a parent (a department under its ministry)."""

    __tablename__ = "organisations"
    __table_args__ = (CheckConstraint(check_in("kind", ORGANISATION_KINDS), name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)
    # At least one of the two names (checked by the services).
    name_en: Mapped[str | None] = mapped_column(String(300))
    name_lo: Mapped[str | None] = mapped_column(String(300))
    # The short form people search by: MEM, DIMEX, MPWT, EDL.
    acronym: Mapped[str | None] = mapped_column(String(40), index=True)
    # Any ISO 3166-1 code or a pseudo-jurisdiction: partners come from outside ASEAN too.
    country: Mapped[str | None] = mapped_column(String(8))
    kind: Mapped[str] = mapped_column(String(30))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id", ondelete="SET NULL"), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __mapper_args__ = {"version_id_col": version}

    parent: Mapped[Organisation | None] = relationship(remote_side=[id], lazy="raise")

    def __repr__(self) -> str:
        return f"<Organisation {self.key}>"


class Topic(Base):
    """A policy theme such as charging infrastructure or fiscal incentives."""

    __tablename__ = "topics"

    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    name_en: Mapped[str] = mapped_column(String(200))
    name_lo: Mapped[str | None] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer)

    def __repr__(self) -> str:
        return f"<Topic {self.key}>"
