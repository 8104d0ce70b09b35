"""The search change log: one row per changed searchable record, written in the transaction that changed it.

Session events collect which search documents a flush touched (a policy, an event, or every record
that shows a renamed organisation, topic, country or event) and write them to ``search_changes``
just before the commit, in the same transaction: committed together, or rolled back together.
Bulk UPDATE/DELETE statements bypass those events, so on searchable tables they are refused unless
the caller opts out explicitly (and then logs the changes with ``log_search_changes``).
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import BigInteger, CheckConstraint, Index, Integer, String, event, inspect, select, union
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, mapped_column

from tracker.db import Base
from tracker.models.change_feed import FEED_ENTITY_TYPES, log_feed_changes
from tracker.models.document import Document, DocumentPassage
from tracker.models.event import Event, EventOrganisation, EventTopic, ForumLink
from tracker.models.policy import Policy, PolicyBody, PolicyRelation, PolicyTopic, PolicyVehicleClass, StatusChange
from tracker.models.reference import Jurisdiction, Organisation, Topic
from tracker.models.source import Source
from tracker.models.types import UTCDateTime, utcnow
from tracker.models.vocab import check_in

if TYPE_CHECKING:
    from sqlalchemy import Table

SEARCH_ENTITY_TYPES = ("policy", "event", "document")
# Execution option that lets one bulk UPDATE/DELETE through the guard below; the caller then owns
# logging the changes (log_search_changes) or rebuilding the index.
BYPASS_OPTION = "search_log_bypass"

_PENDING = "tracker.search_log.pending"
_WRITTEN = "tracker.search_log.written"
_IN_COMMIT = "tracker.search_log.in_commit"
log = logging.getLogger(__name__)


class SearchChange(Base):
    """A record whose search document may have changed. Append-only; every index replica reads it in
    id order and re-reads the record itself, so a row says *which* document, never *what* changed.

    Ids come from a sequence, so on PostgreSQL they are not in commit order: the indexer keeps the
    ids it has not seen yet below its position (see tracker.search.indexer).
    """

    __tablename__ = "search_changes"
    __table_args__ = (
        CheckConstraint(check_in("entity_type", SEARCH_ENTITY_TYPES), name="entity_type"),
        Index("ix_search_changes_changed_at", "changed_at"),
    )
    tracks_content = False

    # SQLite gives a rowid only to a column declared exactly INTEGER PRIMARY KEY.
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    entity_type: Mapped[str] = mapped_column(String(10))
    entity_id: Mapped[int] = mapped_column(Integer)
    changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class BulkWriteRefused(RuntimeError):
    """A bulk UPDATE/DELETE on a searchable table would leave the search index silently stale."""


# Tables whose rows end up in a search document; a bulk statement on any of them is guarded.
SEARCHABLE_TABLES = frozenset(model.__tablename__ for model in (
    Policy, PolicyTopic, PolicyVehicleClass, PolicyBody, PolicyRelation, StatusChange, Source, Event,
    EventOrganisation, EventTopic, ForumLink, Organisation, Topic, Jurisdiction, Document, DocumentPassage))

# Whether the guard raises (tests and development) or only logs a warning (production).
refuse_bulk_writes = False


def changes_written(session: Session) -> bool:
    """Whether the session's transaction wrote change-log rows (so its commit should wake an indexer)."""
    return bool(session.info.get(_WRITTEN))


def log_search_changes(session: Session, entity_type: str, ids: Iterable[int]) -> None:
    """Log changes the session events cannot see (after a bulk statement that opted out of the guard)."""
    if entity_type not in SEARCH_ENTITY_TYPES:
        raise ValueError(f"not a searchable entity type: {entity_type!r}")
    ids = [int(i) for i in ids]
    _pending(session)["docs"].update((entity_type, i) for i in ids)
    # The same records may have left (or changed in) the public changes feed.
    if entity_type in FEED_ENTITY_TYPES:
        log_feed_changes(session, entity_type, ids)


def _pending(session: Session) -> dict[str, set]:
    """Search documents touched so far in the transaction, and the renames still to be fanned out."""
    pending = session.info.get(_PENDING)
    if pending is None:
        pending = session.info[_PENDING] = {
            "docs": set(), "organisations": set(), "topics": set(), "jurisdictions": set(), "events": set(),
            "policies": set()}
    return pending


def _values(obj: Any, name: str) -> set:
    """The attribute's current value and any value it had before this flush (a moved child row
    changes two documents), read without loading anything."""
    state = inspect(obj)
    values = {state.dict.get(name)}
    history = state.attrs[name].history
    values.update(history.deleted or ())
    values.discard(None)
    return values


def _renamed(obj: Any, *names: str) -> bool:
    state = inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in names)


def _collect(session: Session, obj: Any, deleted: bool) -> None:
    pending = _pending(session)
    docs = pending["docs"]
    if isinstance(obj, Policy):
        docs.update(("policy", i) for i in _values(obj, "id"))
        # A document's passages carry the policy's editorial state (who may read them).
        if not deleted and _renamed(obj, "editorial_state"):
            pending["policies"].update(_values(obj, "id"))
    elif isinstance(obj, Document):
        docs.update(("document", i) for i in _values(obj, "id"))
    elif isinstance(obj, DocumentPassage):
        docs.update(("document", i) for i in _values(obj, "document_id"))
    elif isinstance(obj, (PolicyTopic, PolicyVehicleClass, PolicyBody, PolicyRelation, StatusChange, ForumLink)):
        docs.update(("policy", i) for i in _values(obj, "policy_id"))
    elif isinstance(obj, Source):
        docs.update(("policy", i) for i in _values(obj, "policy_id"))
        docs.update(("event", i) for i in _values(obj, "event_id"))
    elif isinstance(obj, Event):
        docs.update(("event", i) for i in _values(obj, "id"))
        # Linked policies show the event's name (forum names) and its key (the event facet).
        if not deleted and _renamed(obj, "name_en", "name_lo", "key"):
            pending["events"].update(_values(obj, "id"))
    elif isinstance(obj, (EventOrganisation, EventTopic)):
        docs.update(("event", i) for i in _values(obj, "event_id"))
    elif isinstance(obj, Organisation) and not deleted and _renamed(obj, "name_en", "name_lo", "acronym"):
        pending["organisations"].update(_values(obj, "id"))
    elif isinstance(obj, Topic) and not deleted and _renamed(obj, "name_en", "name_lo"):
        pending["topics"].update(_values(obj, "key"))
    elif isinstance(obj, Jurisdiction) and not deleted and _renamed(obj, "name_en", "name_lo"):
        pending["jurisdictions"].update(_values(obj, "code"))


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, _context, _instances) -> None:
    # Rows that show a record about to be deleted are found while the links still exist.
    organisations = [o.id for o in session.deleted if isinstance(o, Organisation) and o.id is not None]
    topics = [t.key for t in session.deleted if isinstance(t, Topic)]
    events = [e.id for e in session.deleted if isinstance(e, Event) and e.id is not None]
    policies = [p.id for p in session.deleted if isinstance(p, Policy) and p.id is not None]
    if organisations or topics or events or policies:
        _pending(session)["docs"].update(_dependents_in_parts(session, organisations, topics, (), events, policies))


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context) -> None:
    for obj in session.new:
        _collect(session, obj, False)
    for obj in session.deleted:
        _collect(session, obj, True)
    for obj in session.dirty:
        if session.is_modified(obj, include_collections=False):
            _collect(session, obj, False)
    if session.info.get(_IN_COMMIT):
        # A flush after the change log was written (another before_commit hook changed something).
        _write(session)


def _dependents(session: Session, organisations: Iterable[int], topics: Iterable[str],
                jurisdictions: Iterable[str], events: Iterable[int],
                policies: Iterable[int] = ()) -> set[tuple[str, int]]:
    """Documents that show any of these organisations, topics, countries or events by name, and the
    attached texts of these policies (whose passages carry the policy's editorial state)."""
    organisations, topics, jurisdictions, events = list(organisations), list(topics), list(jurisdictions), list(events)
    policies = list(policies)
    policy_queries, event_queries, document_queries = [], [], []
    if policies:
        document_queries.append(select(Document.id).where(Document.policy_id.in_(policies)))
    if organisations:
        policy_queries += [select(Policy.id).where(Policy.issuer_id.in_(organisations)),
                           select(PolicyBody.policy_id).where(PolicyBody.organisation_id.in_(organisations))]
        event_queries.append(select(EventOrganisation.event_id)
                             .where(EventOrganisation.organisation_id.in_(organisations)))
    if topics:
        policy_queries.append(select(PolicyTopic.policy_id).where(PolicyTopic.topic_key.in_(topics)))
        event_queries.append(select(EventTopic.event_id).where(EventTopic.topic_key.in_(topics)))
    if jurisdictions:
        policy_queries.append(select(Policy.id).where(Policy.jurisdiction_code.in_(jurisdictions)))
        event_queries.append(select(Event.id).where(Event.jurisdiction_code.in_(jurisdictions)))
    if events:
        policy_queries.append(select(ForumLink.policy_id).where(ForumLink.event_id.in_(events)))
    found: set[tuple[str, int]] = set()
    connection = session.connection()
    for entity_type, queries in (("policy", policy_queries), ("event", event_queries),
                                 ("document", document_queries)):
        if queries:
            found.update((entity_type, i) for i in connection.execute(union(*queries)).scalars())
    return found


# Ids or keys named at once in one IN list: SQLite takes at most 32,766 parameters a statement and
# PostgreSQL's protocol 65,535, and a load of a large dataset changes more records than that.
_IN_LIST_SIZE = 5000


def _dependents_in_parts(session: Session, organisations: Iterable[int], topics: Iterable[str],
                         jurisdictions: Iterable[str], events: Iterable[int],
                         policies: Iterable[int] = ()) -> set[tuple[str, int]]:
    """_dependents, asked in parts small enough for any database's limit on parameters."""
    lists: list[list[Any]] = [sorted(organisations), sorted(topics), sorted(jurisdictions), sorted(events),
                              sorted(policies)]
    found: set[tuple[str, int]] = set()
    for index, values in enumerate(lists):
        for start in range(0, len(values), _IN_LIST_SIZE):
            part: list[list[Any]] = [[], [], [], [], []]
            part[index] = values[start:start + _IN_LIST_SIZE]
            found |= _dependents(session, *part)
    return found


def _write(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    docs = set(pending["docs"])
    if (pending["organisations"] or pending["topics"] or pending["jurisdictions"] or pending["events"]
            or pending["policies"]):
        docs |= _dependents_in_parts(session, pending["organisations"], pending["topics"],
                                     pending["jurisdictions"], pending["events"], pending["policies"])
    written = session.info.setdefault(_WRITTEN, set())
    docs -= written
    if not docs:
        return
    written |= docs
    now = utcnow()
    # A declarative class with a __tablename__ is mapped to a Table (typed as the FromClause it may be elsewhere).
    session.connection().execute(cast("Table", SearchChange.__table__).insert(), [
        {"entity_type": entity_type, "entity_id": entity_id, "changed_at": now}
        for entity_type, entity_id in sorted(docs)])


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    # Written last, just before COMMIT: the rows get their ids as late as possible, which keeps the
    # window in which ids are allocated out of commit order (PostgreSQL) short.
    session.flush()
    session.info[_IN_COMMIT] = True
    _write(session)


@event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction) -> None:
    if transaction.parent is None:
        for key in (_PENDING, _WRITTEN, _IN_COMMIT):
            session.info.pop(key, None)


@event.listens_for(Session, "do_orm_execute")
def _guard_bulk_writes(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete) or state.execution_options.get(BYPASS_OPTION):
        return
    table = getattr(state.statement, "table", None)
    table_name = getattr(table, "name", None)
    if table_name not in SEARCHABLE_TABLES:
        return
    message = (f"A bulk {'UPDATE' if state.is_update else 'DELETE'} on '{table_name}' bypasses the search "
               f"change log, so the search index would go stale. Change records through the services, or "
               f"pass execution_options={{'{BYPASS_OPTION}': True}} and call log_search_changes().")
    if refuse_bulk_writes:
        raise BulkWriteRefused(message)
    log.warning(message)

