"""The extraction worker: claims documents waiting for text extraction with a lease, parses each in a limited
subprocess, and replaces its passages in one transaction.

- A document is a job from the moment it is committed (``status`` pending): nothing is lost when no
  worker runs, and any number of workers (threads in web processes, ``flask documents work``) share
  the queue; on PostgreSQL a claim skips rows another worker is claiming.
- A claim sets ``claimed_until`` and bumps ``run``; the result is written only if ``run`` is still the
  claimed one, so a worker whose lease ran out (killed, frozen) never overwrites a newer result, and a
  killed worker's document is claimed again once its lease expires.
- Passages are deleted and written again in the transaction that records the result: a text has the
  passages of exactly one extraction, never a mix, never two copies.
- A parse that crashes, times out or runs out of memory is retried with a back-off, then marked
  failed with the reason; it never blocks the policy, which is saved and shown without its text.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, or_, select
from sqlalchemy.orm import Session

from tracker.documents.formats import BadFile
from tracker.documents.sandbox import Limits, SandboxFailure, run_extract
from tracker.documents.storage import store_for
from tracker.models import Document, DocumentPassage, StoredFile
from tracker.models.search_log import BYPASS_OPTION, log_search_changes
from tracker.models.types import utcnow
from tracker.models.worker_heartbeat import HeartbeatReporter

if TYPE_CHECKING:
    from flask import Flask

    from tracker.db import Database
    from tracker.documents.extraction import Extracted

log = logging.getLogger(__name__)

_QUEUED = "tracker.documents.queued"
# Seconds before a failed parse is tried again: 30 s, 2 min, 8 min ...
FIRST_RETRY = 30.0


def mark_queued(session: Session) -> None:
    """Note that the session's transaction gave the extraction worker something to do."""
    session.info[_QUEUED] = True


def queued(session: Session) -> bool:
    return bool(session.info.get(_QUEUED))


@dataclass
class Claim:
    """A document leased to this worker: which one, the run number it was claimed at, and what to parse."""

    document_id: int
    run: int
    attempts: int
    sha256: str
    media_type: str
    language: str


@dataclass
class Outcome:
    """What happened to one claimed document: its new status, and why when it is not done."""

    document_id: int
    status: str
    reason: str | None = None
    pages: int = 0
    pages_ocr: int = 0
    passages: int = 0


class ExtractionWorker:
    """Extracts the text of waiting documents of one app's database."""

    def __init__(self, app: Flask) -> None:
        self.config = app.config
        self.database: Database = app.extensions["tracker.db"]
        # Registered by the loops that run until stopped (the embedded thread, `flask documents work`).
        self.heartbeat = HeartbeatReporter("documents", self.database.engine,
                                           interval=lambda: float(self.config["WORKER_HEARTBEAT_SECONDS"]))

    @property
    def limits(self) -> Limits:
        return Limits(cpu_seconds=int(self.config["DOCUMENT_CPU_SECONDS"]),
                      memory_bytes=int(self.config["DOCUMENT_MEMORY_BYTES"]),
                      wall_seconds=float(self.config["DOCUMENT_WALL_SECONDS"]))

    @property
    def lease(self) -> dt.timedelta:
        chosen = float(self.config["DOCUMENT_LEASE_SECONDS"])
        # By default longer than the longest parse the limits allow, so a slow parse is not taken over.
        return dt.timedelta(seconds=chosen or float(self.config["DOCUMENT_WALL_SECONDS"]) + 60.0)

    @contextlib.contextmanager
    def sessions(self) -> Iterator[Session]:
        # Through the app's database (a test binds it to its own transaction).
        session = self.database.session()
        try:
            yield session
        finally:
            session.close()

    def _write_session(self) -> Session:
        return self.database.session(write=True)

    def _due(self, now: dt.datetime) -> tuple[Any, ...]:
        return (Document.status.in_(("pending", "extracting")), Document.next_attempt_at <= now,
                or_(Document.claimed_until.is_(None), Document.claimed_until < now))

    # -- claiming ---------------------------------------------------------------------------------------

    def claim(self) -> Claim | None:
        """Lease the next due document to this worker (None: nothing is due)."""
        now = utcnow()
        with self.sessions() as session:
            if session.scalar(select(Document.id).where(*self._due(now)).limit(1)) is None:
                return None
        with self._write_session() as session:
            statement = (select(Document).where(*self._due(now))
                         .order_by(Document.next_attempt_at, Document.id).limit(1))
            if self.database.engine.dialect.name == "postgresql":
                statement = statement.with_for_update(skip_locked=True)
            document = session.scalars(statement).first()
            if document is None:
                session.rollback()
                return None
            maximum = int(self.config["DOCUMENT_ATTEMPTS"])
            if document.attempts >= maximum:
                # Claimed that often without a result: the worker died each time (killed, out of memory).
                document.status, document.claimed_until = "failed", None
                document.status_reason = (f"the extraction stopped {document.attempts} times without a result "
                                          f"(its worker was stopped or ran out of memory)")
                session.commit()
                return self.claim()
            document.status = "extracting"
            document.attempts += 1
            document.run += 1
            document.claimed_until = now + self.lease
            claim = Claim(document.id, document.run, document.attempts, document.sha256, document.media_type,
                          document.language)
            session.commit()
        return claim

    # -- extracting -------------------------------------------------------------------------------------

    def run_once(self) -> Outcome | None:
        """Claim one document and extract it; None when nothing was due."""
        claim = self.claim()
        if claim is None:
            self.heartbeat.beat()
            return None
        outcome = self.extract(claim)
        self.heartbeat.worked()
        self.heartbeat.beat()
        return outcome

    def run_until_idle(self, *, stop: threading.Event | None = None, limit: int | None = None) -> list[Outcome]:
        """Extract due documents until none is left (or ``stop`` is set, or ``limit`` were done)."""
        done: list[Outcome] = []
        while (stop is None or not stop.is_set()) and (limit is None or len(done) < limit):
            outcome = self.run_once()
            if outcome is None:
                break
            done.append(outcome)
        return done

    def extract(self, claim: Claim) -> Outcome:
        """Parse the claimed document's file in the sandbox and record the result."""
        try:
            with self._file(claim) as path:
                extracted = run_extract(path, claim.media_type, claim.language,
                                        max_pages=int(self.config["DOCUMENT_MAX_PAGES"]), limits=self.limits,
                                        ocr=bool(self.config["DOCUMENT_OCR"]))
        except BadFile as error:
            return self._failed(claim, f"the file cannot be read ({error.code})", retry=False)
        except SandboxFailure as failure:
            return self._failed(claim, failure.reason, retry=True)
        except FileNotFoundError:
            return self._failed(claim, "the file is no longer stored", retry=False)
        return self._record(claim, extracted)

    @contextlib.contextmanager
    def _file(self, claim: Claim) -> Iterator[Path]:
        """The document's bytes in a temporary file (the subprocess reads a path, not the database)."""
        with self.sessions() as session:
            stored = session.get(StoredFile, claim.sha256)
            if stored is None:
                raise FileNotFoundError(claim.sha256)
            store = store_for(stored)
        handle, name = tempfile.mkstemp(prefix="tracker-extract-")
        path = Path(name)
        try:
            with os.fdopen(handle, "wb") as out:
                for chunk in store.chunks(self.sessions, claim.sha256):
                    out.write(chunk)
            yield path
        finally:
            path.unlink(missing_ok=True)

    def _current(self, session: Session, claim: Claim) -> Document | None:
        """The claimed document, locked, if this claim is still the one that counts."""
        document = session.scalars(select(Document).where(Document.id == claim.document_id).with_for_update()
                                   .execution_options(populate_existing=True)).one_or_none()
        if document is None or document.run != claim.run:
            return None
        return document

    def _record(self, claim: Claim, extracted: Extracted) -> Outcome:
        failed_pages = list(extracted.failed_pages)
        status = "partial" if failed_pages else "done"
        with self._write_session() as session:
            document = self._current(session, claim)
            if document is None:
                session.rollback()
                return Outcome(claim.document_id, "superseded")
            session.execute(delete(DocumentPassage).where(DocumentPassage.document_id == document.id)
                            .execution_options(**{BYPASS_OPTION: True}))
            rows = [{"document_id": document.id, "seq": seq, "page": passage.page,
                     "heading": (passage.heading or None) and passage.heading[:500], "language": passage.language,
                     "text": passage.text, "method": passage.method, "confidence": passage.confidence,
                     "toc": passage.toc}
                    for seq, passage in enumerate(extracted.passages)]
            for start in range(0, len(rows), 500):
                session.execute(insert(DocumentPassage), rows[start:start + 500])
            log_search_changes(session, "document", [document.id])
            document.status = status
            document.status_reason = ("; ".join(f"page {page}: {why}" for page, why in failed_pages[:20])
                                      if failed_pages else None)
            document.pages = extracted.pages
            document.pages_ocr = extracted.pages_ocr
            document.characters = extracted.characters
            document.extracted_at = utcnow()
            document.claimed_until = None
            session.commit()
        return Outcome(claim.document_id, status, None, extracted.pages, extracted.pages_ocr, len(rows))

    def _failed(self, claim: Claim, reason: str, *, retry: bool) -> Outcome:
        log.warning("extraction of document %s failed (attempt %s): %s", claim.document_id, claim.attempts, reason)
        with self._write_session() as session:
            document = self._current(session, claim)
            if document is None:
                session.rollback()
                return Outcome(claim.document_id, "superseded", reason)
            document.claimed_until = None
            document.status_reason = reason
            if retry and claim.attempts < int(self.config["DOCUMENT_ATTEMPTS"]):
                document.status = "pending"
                document.next_attempt_at = utcnow() + dt.timedelta(seconds=FIRST_RETRY * 4 ** (claim.attempts - 1))
            else:
                document.status = "failed"
            status = document.status
            session.commit()
        return Outcome(claim.document_id, status, reason)

    def status(self) -> dict[str, Any]:
        """Documents per extraction state, and the oldest waiting one's age in seconds."""
        from sqlalchemy import func

        with self.sessions() as session:
            counts = dict(session.execute(select(Document.status, func.count(Document.id))
                                          .group_by(Document.status)).tuples().all())
            oldest = session.scalar(select(func.min(Document.added_at)).where(Document.status == "pending"))
        age = (utcnow() - oldest).total_seconds() if oldest is not None else None
        return {"documents": counts, "oldest_pending_seconds": age}
