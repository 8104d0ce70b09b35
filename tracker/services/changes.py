"""Reading the changes feed: the changes after a cursor, each with its record as the public reads it now.

A change names a record and what happened to it in one commit; the record itself is read when the feed
is read, as the public detail endpoint serves it, so a client that applies every change in order ends
with the published records as they stand (see docs/api.md, "Changes feed").
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from tracker.errors import FieldError, Invalid
from tracker.models import Document, ForumLink, Policy, Topic
from tracker.models.change_feed import TOMBSTONE_KINDS, FeedChange, after, feed_order
from tracker.models.content_version import committed_position
from tracker.services import events as event_service
from tracker.services import policies as policy_service
from tracker.services.jurisdictions import JurisdictionSummary, list_jurisdictions, list_topics
from tracker.translation import gettext as _

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
PARAMETERS = ("since", "limit")
# Positions are 64-bit counters; ordinals count the rows of one commit.
MAX_POSITION = 2**63 - 1
MAX_ORDINAL = 2**31 - 1
_CURSOR_TEXT = re.compile(r"([0-9]{1,19})\.([0-9]{1,10})")


@dataclass(frozen=True, order=True)
class Cursor:
    """A place in the feed: after the change at ``ordinal`` of the commit at ``position``. Clients see it
    only encoded, as an opaque token."""

    position: int
    ordinal: int

    def encode(self) -> str:
        return base64.urlsafe_b64encode(f"{self.position}.{self.ordinal}".encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor | None:
        """The cursor a token stands for, or None when no cursor of this API encodes to it."""
        if not token.isascii() or not 0 < len(token) <= 48:
            return None
        try:
            text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
        except (binascii.Error, ValueError):
            return None
        match = _CURSOR_TEXT.fullmatch(text)
        if match is None:
            return None
        cursor = cls(int(match[1]), int(match[2]))
        if cursor.position > MAX_POSITION or cursor.ordinal > MAX_ORDINAL or cursor.encode() != token:
            return None
        return cursor


START = Cursor(0, -1)


@dataclass(frozen=True)
class ChangesRequest:
    since: Cursor
    limit: int


def parse_changes_request(args: Mapping[str, Sequence[str]]) -> ChangesRequest:
    """``since`` (a token from ``next``; the beginning when absent) and ``limit`` (1 to 1000, 100 by default).

    Raises:
        Invalid: naming each parameter that is wrong or unknown.
    """
    errors: dict[str, str | FieldError] = {}
    for name in sorted(set(args) - set(PARAMETERS))[:20]:
        errors[name[:60]] = FieldError("unknown_field")
    since = START
    tokens = args.get("since", ())
    if tokens:
        cursor = Cursor.decode(tokens[-1].strip())
        if cursor is None:
            errors["since"] = _("This is not a cursor given by this API. Start without 'since' and follow "
                                "'next' from there.")
        else:
            since = cursor
    limit = DEFAULT_LIMIT
    texts = args.get("limit", ())
    if texts:
        text = texts[-1].strip()
        if not (text.isascii() and text.isdigit()):
            errors["limit"] = FieldError("type", expected="integer", actual="string")
        elif int(text) < 1:
            errors["limit"] = FieldError("too_small", min=1)
        elif len(text) > 9 or int(text) > MAX_LIMIT:
            errors["limit"] = FieldError("too_large", max=MAX_LIMIT)
        else:
            limit = int(text)
    if errors:
        raise Invalid(_("Some parameters are not valid"), errors)
    return ChangesRequest(since, limit)


@dataclass(frozen=True)
class TopicCount:
    topic: Topic
    policy_count: int


@dataclass(frozen=True)
class FeedEntry:
    """One change, with its record as the public reads it now (None: not public now).

    ``key`` is where a client keeps the record: its key now, or for a record that is not public now the
    key it was published under at this change. ``old_key`` is the key it was published under before this
    change, when this change moved it."""

    entity_type: str
    entity_id: str
    kind: str
    key: str
    old_key: str | None
    changed_at: dt.datetime
    record: Any = None
    # An event's forum links to published policies; a document's policy and the versions of its text.
    links: list[ForumLink] = field(default_factory=list)
    policy: Policy | None = None
    versions: list[Document] = field(default_factory=list)


@dataclass(frozen=True)
class ChangesPage:
    entries: list[FeedEntry]
    next: Cursor
    more: bool


def read_changes(session: Session, request: ChangesRequest) -> ChangesPage:
    """The changes after ``request.since``, oldest first, at most ``request.limit``, each with its record as
    the public reads it now; a fixed number of queries whatever the number of changes.

    Raises:
        Invalid: the cursor is past the last commit this database has recorded (a cursor of another
            tracker, or of this one before its database was restored from a backup).
    """
    since = request.since
    if since.position > committed_position(session):
        raise Invalid(_("Some parameters are not valid"), {"since": _(
            "This cursor is ahead of the changes this tracker has recorded (was its database restored from a "
            "backup?). Start again without 'since'.")})
    rows = session.execute(
        select(FeedChange).where(after(since.position, since.ordinal)).order_by(*feed_order())
        .limit(request.limit + 1)).scalars().all()
    more = len(rows) > request.limit
    rows = rows[:request.limit]
    next_cursor = Cursor(rows[-1].position, rows[-1].ordinal) if rows else since
    if next_cursor == START:
        next_cursor = Cursor(0, 0)  # no change yet: a token all the same, to poll with

    wanted: dict[str, set[str]] = {}
    for row in rows:
        if row.kind not in TOMBSTONE_KINDS:
            wanted.setdefault(row.entity_type, set()).add(row.entity_id)
    policies = policy_service.published_policies(session, {int(i) for i in wanted.get("policy", ())})
    events = event_service.published_events(session, {int(i) for i in wanted.get("event", ())})
    links = policy_service.policies_of_events(session, set(events))
    documents, versions = _published_documents(session, {int(i) for i in wanted.get("document", ())})
    jurisdictions: dict[str, JurisdictionSummary] = {}
    if wanted.get("jurisdiction"):
        jurisdictions = {s.jurisdiction.code: s for s in list_jurisdictions(session)}
    topics: dict[str, TopicCount] = {}
    if wanted.get("topic"):
        topics = {topic.key: TopicCount(topic, count) for topic, count in list_topics(session)}

    entries = []
    for row in rows:
        if row.kind in TOMBSTONE_KINDS:
            entries.append(_entry(row))
        elif row.entity_type == "policy":
            entries.append(_entry(row, policies.get(int(row.entity_id))))
        elif row.entity_type == "event":
            event = events.get(int(row.entity_id))
            entries.append(_entry(row, event, links=links.get(event.id, []) if event else []))
        elif row.entity_type == "document":
            document = documents.get(int(row.entity_id))
            entries.append(_entry(row, document, policy=document.policy if document else None,
                                  versions=versions.get(document.series_id, []) if document else []))
        elif row.entity_type == "jurisdiction":
            entries.append(_entry(row, jurisdictions.get(row.entity_id)))
        else:
            entries.append(_entry(row, topics.get(row.entity_id)))
    return ChangesPage(entries, next_cursor, more)


def _entry(row: FeedChange, record: Any = None, *, links: list[ForumLink] | None = None,
           policy: Policy | None = None, versions: list[Document] | None = None) -> FeedEntry:
    return FeedEntry(row.entity_type, row.entity_id, row.kind, _key_of(record) if record is not None else row.key,
                     row.old_key, row.changed_at, record, links or [], policy, versions or [])


def _key_of(record: Any) -> str:
    """The key a record is published under now: what a client keeps it by."""
    if isinstance(record, JurisdictionSummary):
        return record.jurisdiction.code
    if isinstance(record, TopicCount):
        return record.topic.key
    if isinstance(record, Document):
        return str(record.id)
    return str(record.key)


def _published_documents(session: Session,
                         ids: set[int]) -> tuple[dict[int, Document], dict[int | None, list[Document]]]:
    """Documents of published policies among ``ids`` with their policies, and the versions of their
    texts by series, oldest first (two queries)."""
    if not ids:
        return {}, {}
    documents = {document.id: document for document in session.scalars(
        select(Document).join(Policy, Policy.id == Document.policy_id)
        .where(Document.id.in_(sorted(ids)), Policy.editorial_state.in_(policy_service.PUBLIC_STATES))
        .options(joinedload(Document.policy)))}
    series = {document.series_id for document in documents.values()}
    versions: dict[int | None, list[Document]] = {}
    for version in session.scalars(select(Document).where(Document.series_id.in_(sorted(s for s in series if s)))
                                   .order_by(Document.id)):
        versions.setdefault(version.series_id, []).append(version)
    return documents, versions
