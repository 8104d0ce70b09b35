"""Log lines joining a request to the background work it queued: notification events and text extractions.

The rows a worker picks up carry no request id (that would need a column); instead, when a request's
transaction commits, one line names each event and document it queued, with the request's id on it. The
workers' own lines name the same ids (deliveries belong to an event by ``deliveries.event_id``).
"""
from __future__ import annotations

import logging

from flask import has_request_context
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from tracker.models import Document, NotificationEvent

log = logging.getLogger("tracker.jobs")
_QUEUED = "tracker.jobs_queued"


def _note_queued(session: Session, _flush_context: object) -> None:
    if not has_request_context():
        return
    queued = session.info.setdefault(_QUEUED, [])
    for obj in session.new:
        if isinstance(obj, NotificationEvent):
            queued.append(("event", obj.id, obj.type))
        elif isinstance(obj, Document) and obj.status == "pending":
            queued.append(("document", obj.id, "extraction"))
    for obj in session.dirty:
        # A text sent back for extraction again.
        if isinstance(obj, Document) and obj.status == "pending" and inspect(obj).attrs.status.history.added:
            queued.append(("document", obj.id, "extraction"))


def _log_queued(session: Session) -> None:
    queued = session.info.pop(_QUEUED, None)
    if not queued or not has_request_context():
        return
    for kind, job_id, what in queued:
        if kind == "event":
            log.info("Queued notification event %s (%s)", job_id, what, extra={"event_id": job_id})
        else:
            log.info("Queued text extraction of document %s", job_id, extra={"document_id": job_id})


def _forget_queued(session: Session, *_args: object) -> None:
    session.info.pop(_QUEUED, None)


def init_job_log() -> None:
    """Listen to every session (once per process, whatever the number of apps)."""
    if not event.contains(Session, "after_flush", _note_queued):
        event.listen(Session, "after_flush", _note_queued)
        event.listen(Session, "after_commit", _log_queued)
        event.listen(Session, "after_soft_rollback", _forget_queued)
