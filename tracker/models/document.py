"""Documents attached to policies: the texts themselves, their stored bytes, and the passages extracted from them."""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.db import Base
from tracker.models.types import PartialDate, PartialDateType, UTCDateTime, utcnow
from tracker.models.vocab import DOCUMENT_ROLES, EXTRACTION_STATUSES, check_in

if TYPE_CHECKING:
    from tracker.models.policy import Policy
    from tracker.models.user import User

PASSAGE_METHODS = ("text", "ocr")


class StoredFile(Base):
    """The bytes of one file, identified by their SHA-256: the same bytes attached twice are stored once.

    The bytes live in ``stored_file_chunks`` (the database storage) or in another store named by
    ``storage``; chunks keep any one read or write of a large file to a bounded piece of memory.
    """

    __tablename__ = "stored_files"
    tracks_content = False

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(100))
    storage: Mapped[str] = mapped_column(String(20), default="database")
    chunk_size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class StoredFileChunk(Base):
    """One piece of a stored file's bytes, in order."""

    __tablename__ = "stored_file_chunks"
    tracks_content = False

    sha256: Mapped[str] = mapped_column(ForeignKey("stored_files.sha256", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class Document(Base):
    """One file attached to a policy: a text of the instrument in one language and one version.

    Versions of one text (draft 1, draft 2, adopted, consolidated) share ``series_id`` (the id of the
    first of them); replacing a document adds a version to its series. ``status`` and the columns after
    it belong to the text extraction, a job that is committed with the upload and claimed by workers
    with a lease (``claimed_until``); ``run`` grows with every claim and re-run, so the result of a
    worker whose lease ran out is never written over a newer one.
    """

    __tablename__ = "documents"
    __table_args__ = (
        CheckConstraint(check_in("role", DOCUMENT_ROLES), name="role"),
        CheckConstraint(check_in("status", EXTRACTION_STATUSES), name="status"),
        Index("ix_documents_policy", "policy_id", "id"),
        Index("ix_documents_series", "series_id"),
        Index("ix_documents_status", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("policies.id", ondelete="CASCADE"))
    series_id: Mapped[int | None] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(ForeignKey("stored_files.sha256"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    role: Mapped[str] = mapped_column(String(30))
    language: Mapped[str] = mapped_column(String(12))
    version_label: Mapped[str | None] = mapped_column(String(120))
    issued_on: Mapped[PartialDate | None] = mapped_column(PartialDateType)
    source_url: Mapped[str | None] = mapped_column(String(2000))
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    added_by_label: Mapped[str] = mapped_column(String(320), default="")
    added_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Text extraction.
    status: Mapped[str] = mapped_column(String(12), default="pending")
    status_reason: Mapped[str | None] = mapped_column(Text)
    pages: Mapped[int | None] = mapped_column(Integer)
    pages_ocr: Mapped[int] = mapped_column(Integer, default=0)
    characters: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    run: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    extracted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    policy: Mapped[Policy] = relationship(lazy="raise")
    added_by: Mapped[User | None] = relationship(lazy="raise")
    stored_file: Mapped[StoredFile] = relationship(lazy="raise")


class DocumentPassage(Base):
    """A paragraph (or a bounded piece of one) of a document's text, with the page it is on and how it was
    read: from the file's text layer or markup (``text``) or by OCR, with its mean confidence."""

    __tablename__ = "document_passages"
    __table_args__ = (
        UniqueConstraint("document_id", "seq", name="uq_document_passages_seq"),
        CheckConstraint(check_in("method", PASSAGE_METHODS), name="method"),
    )
    # Passages change what readers see only with their document's status, which is tracked.
    tracks_content = False

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    page: Mapped[int] = mapped_column(Integer)
    heading: Mapped[str | None] = mapped_column(String(500))
    language: Mapped[str] = mapped_column(String(12))
    text: Mapped[str] = mapped_column(Text)
    method: Mapped[str] = mapped_column(String(4), default="text")
    confidence: Mapped[float | None] = mapped_column(Float)
    toc: Mapped[bool] = mapped_column(Boolean, default=False)
