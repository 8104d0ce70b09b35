"""Releases of the published dataset: the files built from one snapshot, and the schedule's claim and last look."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, CheckConstraint, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.db import Base
from tracker.models.types import UTCDateTime, utcnow
from tracker.models.vocab import check_in

# Who asked for a release: `flask data release`, the schedule, or an administrator on the data page.
RELEASE_TRIGGERS = ("command", "schedule", "page")
# The three files of a release, in the order they are listed.
RELEASE_FORMATS = ("csv_zip", "xlsx", "json")


class Release(Base):
    """The published dataset as it was at one content version, built into three files.

    ``content_version`` is the counter of tracker.models.content_version read in the snapshot the files
    were built from; ``content_digest`` is the SHA-256 of the tables' bytes, so two releases with equal
    digests hold the same published data whatever else (drafts, accounts) changed in between. Releases
    change nothing readers see of the records, so they do not move the content version themselves.
    """

    __tablename__ = "releases"
    __table_args__ = (CheckConstraint(check_in("trigger", RELEASE_TRIGGERS), name="trigger"),)
    tracks_content = False

    id: Mapped[int] = mapped_column(primary_key=True)
    built_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    content_version: Mapped[int] = mapped_column(BigInteger)
    content_digest: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(60))
    licence: Mapped[str] = mapped_column(String(100))
    trigger: Mapped[str] = mapped_column(String(20))
    # Rows per table of the data package: {"policies": 67, ...}.
    counts: Mapped[dict] = mapped_column(JSON, default=dict)
    # Seconds the build took (reading, writing and compressing; storing not included).
    build_seconds: Mapped[float | None] = mapped_column(Float)

    files: Mapped[list[ReleaseFile]] = relationship(
        back_populates="release", cascade="all, delete-orphan", order_by="ReleaseFile.position", lazy="raise")

    def __repr__(self) -> str:
        return f"<Release {self.id} {self.version}>"


class ReleaseFile(Base):
    """One file of a release; its bytes are a StoredFile (tracker.documents.storage), kept by SHA-256."""

    __tablename__ = "release_files"
    __table_args__ = (CheckConstraint(check_in("format", RELEASE_FORMATS), name="format"),)
    tracks_content = False

    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(120), primary_key=True)
    format: Mapped[str] = mapped_column(String(10))
    position: Mapped[int] = mapped_column(Integer)
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(ForeignKey("stored_files.sha256"), index=True)

    release: Mapped[Release] = relationship(back_populates="files", lazy="raise")


class ReleaseSchedule(Base):
    """One row (id 1): which process is building a release now (a claim that lapses), and when the schedule
    last looked and found nothing to build, so that every host of a deployment agrees on both."""

    __tablename__ = "release_schedule"
    tracks_content = False

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    claimed_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    checked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
