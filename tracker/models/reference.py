"""Reference tables: jurisdictions (ASEAN members and pseudo-jurisdictions), organisations, topics."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Date, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from tracker.db import Base
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
    """A ministry, agency, utility, association, company, development partner or regional body."""

    __tablename__ = "organisations"
    __table_args__ = (CheckConstraint(check_in("kind", ORGANISATION_KINDS), name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)
    name_en: Mapped[str] = mapped_column(String(300))
    name_lo: Mapped[str | None] = mapped_column(String(300))
    # Any ISO 3166-1 code or a pseudo-jurisdiction: partners come from outside ASEAN too.
    country: Mapped[str | None] = mapped_column(String(8))
    kind: Mapped[str] = mapped_column(String(30))

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
