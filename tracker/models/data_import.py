"""Spreadsheet and dataset imports by staff: the uploaded file, its dry-run report, and whether it was applied."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from tracker.db import Base
from tracker.models.types import UTCDateTime, utcnow
from tracker.models.vocab import check_in

IMPORT_FORMATS = ("xlsx", "csv", "json")
# dry_run: reported, nothing written; applied: written in one transaction; stale: content changed since
# the report (run again before applying); refused: the file has problems (nothing can be applied).
IMPORT_STATES = ("dry_run", "applied", "stale", "refused")


class DataImport(Base):
    """One uploaded file and what importing it would do (or did)."""

    __tablename__ = "data_imports"
    __table_args__ = (CheckConstraint(check_in("format", IMPORT_FORMATS), name="format"),
                      CheckConstraint(check_in("state", IMPORT_STATES), name="state"))
    tracks_content = False

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    filename: Mapped[str] = mapped_column(String(200))
    format: Mapped[str] = mapped_column(String(10))
    sha256: Mapped[str] = mapped_column(ForeignKey("stored_files.sha256"))
    # The content version the dry run saw: applying is refused once it has moved.
    content_token: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(10), default="dry_run")
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    rows: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    row_count: Mapped[int] = mapped_column(Integer, default=0)
    applied_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
