"""The changes feed: which published records each commit changed, in commit order, for clients that sync.

Session events collect what a transaction's flushes touched (a policy, an event, an attached document,
a country or topic whose counts move, and every record that shows a renamed organisation, a retitled
policy or event, or a country's new name) and, just before the commit, write one ``feed_changes`` row
per record whose public form changed, in the same transaction: committed together, or not at all.

Rows are placed by the content version the transaction commits as (``commit_position``): the counter
is moved under the content version row's lock, held until COMMIT, so a transaction can only take
position N + 1 once position N has committed. A reader that has seen position N therefore never
meets a row below N later: on PostgreSQL, unlike ids from a sequence, positions cannot commit out of
order. Everything a row records (the kind of change, the key clients hold the record under) is
decided after that lock is taken, from the feed's own last word on the record, so two transactions
never announce the same record from the same stale view.

A row names the record and what happened to it; readers render the record as it is when they read
(tracker.services.changes). Bulk UPDATE/DELETE statements bypass these events as they bypass the search
change log; the callers that opt out of its guard log the records they touched, and that logs them
here too (tracker.models.search_log.log_search_changes).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import BigInteger, CheckConstraint, Index, Integer, String, and_, event, func, inspect, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from tracker.db import Base
from tracker.models.content_version import commit_position
from tracker.models.document import Document
from tracker.models.event import Event, EventOrganisation, EventTopic, ForumLink
from tracker.models.policy import Policy, PolicyBody, PolicyRelation, PolicyTopic, PolicyVehicleClass, StatusChange
from tracker.models.reference import Jurisdiction, Organisation, Topic
from tracker.models.source import Source
from tracker.models.target import PolicyTarget
from tracker.models.types import UTCDateTime, utcnow
from tracker.models.vocab import check_in

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement, Table

FEED_ENTITY_TYPES = ("policy", "event", "document", "jurisdiction", "topic")
FEED_KINDS = ("created", "updated", "status_changed", "unpublished", "deleted")
# Kinds after which the record is no longer public: the feed's tombstones.
TOMBSTONE_KINDS = frozenset({"unpublished", "deleted"})

# Fields of a policy or event that other records show (a relation, a forum link, an attached document):
# a change to one of them changes those records' public form too.
POLICY_REFERENCE_FIELDS = ("key", "title_en", "title_lo", "jurisdiction_code", "legal_status", "editorial_state")
EVENT_REFERENCE_FIELDS = ("key", "name_en", "name_lo", "kind", "starts_on", "editorial_state")
ORGANISATION_FIELDS = ("key", "name_en", "name_lo", "acronym", "country", "kind")
# Bound parameters per IN list: PostgreSQL takes at most 65,535 in one statement.
CHUNK = 1000

_PENDING = "tracker.change_feed.pending"
_IN_COMMIT = "tracker.change_feed.in_commit"
_NEXT_ORDINAL = "tracker.change_feed.next_ordinal"


class FeedChange(Base):
    """A published record that changed in one commit: created, updated, status changed, unpublished or deleted.

    Append-only. ``position`` is the content version counter of the commit (commit order, see the
    module's docstring) and ``ordinal`` the row's place within the commit; together they are the
    feed's cursor. ``key`` is the key the record is published under after this change (for a tombstone,
    the key it was published under until now) and ``old_key`` the key it was published under before,
    when this change moved it. ``entity_id`` is the record's stable identity: the id of a policy, event
    or document, the code of a jurisdiction, the key of a topic.
    """

    __tablename__ = "feed_changes"
    __table_args__ = (
        CheckConstraint(check_in("entity_type", FEED_ENTITY_TYPES), name="entity_type"),
        CheckConstraint(check_in("kind", FEED_KINDS), name="kind"),
        Index("ix_feed_changes_entity", "entity_type", "entity_id", "position", "ordinal"),
    )
    tracks_content = False

    position: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    ordinal: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    entity_type: Mapped[str] = mapped_column(String(12))
    entity_id: Mapped[str] = mapped_column(String(120))
    key: Mapped[str] = mapped_column(String(120))
    old_key: Mapped[str | None] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16))
    changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


Ref = tuple[str, str]  # (entity type, entity id)


@dataclass
class _Pending:
    """What the transaction's flushes touched, before fanning out to the records that show it."""

    records: set[Ref]
    status_changed: set[int]
    # Policies and events whose shown fields changed: the records that show them change too.
    policy_references: set[int]
    policy_owners: set[int]  # key or publication changed: their attached documents change
    event_references: set[int]
    organisations: set[int]
    renamed_jurisdictions: set[str]
    series: set[int]
    # Counts of published records per country and topic: the records whose publication could move them.
    counts: dict[Ref, set[Ref]]
    count_topics_of: set[int]  # policies whose every topic's count may move

    @classmethod
    def empty(cls) -> _Pending:
        return cls(set(), set(), set(), set(), set(), set(), set(), set(), {}, set())

    def count(self, cause: Ref, *refs: Ref) -> None:
        self.counts.setdefault(cause, set()).update(refs)

    def __bool__(self) -> bool:
        return bool(self.records or self.organisations or self.renamed_jurisdictions or self.counts
                    or self.policy_references or self.event_references or self.series)


def log_feed_changes(session: Session, entity_type: str, ids: Iterable[int]) -> None:
    """Log changes the session events cannot see (after a bulk statement): the records are compared
    with the feed's last word on them when the transaction commits."""
    if entity_type not in FEED_ENTITY_TYPES:
        raise ValueError(f"not a feed entity type: {entity_type!r}")
    _pending(session).records.update((entity_type, str(i)) for i in ids)


def _pending(session: Session) -> _Pending:
    pending = session.info.get(_PENDING)
    if pending is None:
        pending = session.info[_PENDING] = _Pending.empty()
    return pending


def _values(obj: Any, name: str) -> set:
    """The attribute's value now and any value it had before this flush, read without loading anything."""
    state = inspect(obj)
    values = {state.dict.get(name)}
    values.update(state.attrs[name].history.deleted or ())
    values.discard(None)
    return values


def _changed(obj: Any, names: Iterable[str]) -> bool:
    """Whether any of the attributes took a different value in this flush (a value set again to what it
    was, as the derived status fields are on every status change, is no change)."""
    state = inspect(obj)
    for name in names:
        history = state.attrs[name].history
        if history.has_changes() and list(history.added) != list(history.deleted):
            return True
    return False


def _ids(entity_type: str, values: Iterable[Any]) -> Iterator[Ref]:
    return ((entity_type, str(value)) for value in values if value is not None)


def _collect(pending: _Pending, obj: Any, created: bool, deleted: bool) -> None:
    whole = created or deleted
    if isinstance(obj, Policy):
        ids = _values(obj, "id")
        policy = next(iter(_ids("policy", ids)), None)
        pending.records.update(_ids("policy", ids))
        if whole or _changed(obj, POLICY_REFERENCE_FIELDS):
            pending.policy_references.update(ids)
        if whole or _changed(obj, ("key", "editorial_state")):
            pending.policy_owners.update(ids)
        if policy is not None and (whole or _changed(obj, ("editorial_state", "jurisdiction_code"))):
            pending.count(policy, *_ids("jurisdiction", _values(obj, "jurisdiction_code")))
            if whole or _changed(obj, ("editorial_state",)):
                pending.count_topics_of.update(ids)
    elif isinstance(obj, Event):
        ids = _values(obj, "id")
        event_ref = next(iter(_ids("event", ids)), None)
        pending.records.update(_ids("event", ids))
        if whole or _changed(obj, EVENT_REFERENCE_FIELDS):
            pending.event_references.update(ids)
        if event_ref is not None and (whole or _changed(obj, ("editorial_state", "jurisdiction_code"))):
            pending.count(event_ref, *_ids("jurisdiction", _values(obj, "jurisdiction_code")))
    elif isinstance(obj, StatusChange):
        pending.records.update(_ids("policy", _values(obj, "policy_id")))
        if created:
            pending.status_changed.update(_values(obj, "policy_id"))
    elif isinstance(obj, PolicyTopic):
        for policy in _ids("policy", _values(obj, "policy_id")):
            pending.records.add(policy)
            pending.count(policy, *_ids("topic", _values(obj, "topic_key")))
    elif isinstance(obj, (PolicyVehicleClass, PolicyBody, PolicyTarget)):
        pending.records.update(_ids("policy", _values(obj, "policy_id")))
    elif isinstance(obj, PolicyRelation):
        # The target shows the relation too, as an incoming one.
        pending.records.update(_ids("policy", _values(obj, "policy_id") | _values(obj, "target_id")))
    elif isinstance(obj, ForumLink):
        pending.records.update(_ids("policy", _values(obj, "policy_id")))
        pending.records.update(_ids("event", _values(obj, "event_id")))
    elif isinstance(obj, Source):
        pending.records.update(_ids("policy", _values(obj, "policy_id")))
        pending.records.update(_ids("event", _values(obj, "event_id")))
    elif isinstance(obj, (EventOrganisation, EventTopic)):
        pending.records.update(_ids("event", _values(obj, "event_id")))
    elif isinstance(obj, Document):
        pending.records.update(_ids("document", _values(obj, "id")))
        # The versions of a text list each other.
        pending.series.update(_values(obj, "series_id"))
    elif isinstance(obj, Organisation) and (whole or _changed(obj, ORGANISATION_FIELDS)):
        pending.organisations.update(_values(obj, "id"))
    elif isinstance(obj, Jurisdiction):
        pending.records.update(_ids("jurisdiction", _values(obj, "code")))
        if whole or _changed(obj, ("name_en",)):
            pending.renamed_jurisdictions.update(_values(obj, "code"))
    elif isinstance(obj, Topic):
        pending.records.update(_ids("topic", _values(obj, "key")))


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, _context, _instances) -> None:
    # What shows a record about to be deleted is found while the links still exist (the database
    # deletes some of them by cascade, unseen by the session).
    policies = [p.id for p in session.deleted if isinstance(p, Policy) and p.id is not None]
    events = [e.id for e in session.deleted if isinstance(e, Event) and e.id is not None]
    organisations = [o.id for o in session.deleted if isinstance(o, Organisation) and o.id is not None]
    topics = [t.key for t in session.deleted if isinstance(t, Topic)]
    if not (policies or events or organisations or topics):
        return
    pending = _pending(session)
    connection = session.connection()
    for chunk in _chunks(policies):
        pending.records.update(_ids("policy", connection.execute(
            select(PolicyRelation.policy_id).where(PolicyRelation.target_id.in_(chunk))).scalars()))
        pending.records.update(_ids("event", connection.execute(
            select(ForumLink.event_id).where(ForumLink.policy_id.in_(chunk))).scalars()))
        pending.records.update(_ids("document", connection.execute(
            select(Document.id).where(Document.policy_id.in_(chunk))).scalars()))
        for policy_id, topic_key in connection.execute(
                select(PolicyTopic.policy_id, PolicyTopic.topic_key).where(PolicyTopic.policy_id.in_(chunk))):
            pending.count(("policy", str(policy_id)), ("topic", topic_key))
    for chunk in _chunks(events):
        pending.records.update(_ids("policy", connection.execute(
            select(ForumLink.policy_id).where(ForumLink.event_id.in_(chunk))).scalars()))
    pending.organisations.update(organisations)
    for chunk in _chunks(topics):
        pending.records.update(_ids("policy", connection.execute(
            select(PolicyTopic.policy_id).where(PolicyTopic.topic_key.in_(chunk))).scalars()))
        pending.records.update(_ids("event", connection.execute(
            select(EventTopic.event_id).where(EventTopic.topic_key.in_(chunk))).scalars()))


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context) -> None:
    pending = _pending(session)
    for obj in session.new:
        _collect(pending, obj, True, False)
    for obj in session.deleted:
        _collect(pending, obj, False, True)
    for obj in session.dirty:
        if session.is_modified(obj, include_collections=False):
            _collect(pending, obj, False, False)
    if session.info.get(_IN_COMMIT):
        # A flush after the feed was written (another before_commit hook changed something).
        _write(session)


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    session.flush()
    session.info[_IN_COMMIT] = True
    _write(session)


@event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction) -> None:
    if transaction.parent is None:
        for key in (_PENDING, _IN_COMMIT, _NEXT_ORDINAL):
            session.info.pop(key, None)


# ---------------------------------------------------------------------------------------------------
# Writing: under the content version's lock, so what is read here is every earlier commit


def _chunks(values: Iterable[Any]) -> Iterator[list[Any]]:
    items = sorted(set(values), key=str)
    for start in range(0, len(items), CHUNK):
        yield items[start:start + CHUNK]


def _numbers(refs: Iterable[Ref], entity_type: str) -> set[int]:
    return {int(entity_id) for kind, entity_id in refs if kind == entity_type}


def _fan_out(session: Session, pending: _Pending) -> set[Ref]:
    """Every record whose public form may have changed: the ones touched and the ones that show them."""
    connection = session.connection()
    found = set(pending.records)

    def add(entity_type: str, column: Any, condition_column: Any, values: Iterable[Any]) -> None:
        for chunk in _chunks(values):
            found.update(_ids(entity_type, connection.execute(
                select(column).where(condition_column.in_(chunk))).scalars()))

    policies = pending.policy_references
    add("policy", PolicyRelation.policy_id, PolicyRelation.target_id, policies)
    add("policy", PolicyRelation.target_id, PolicyRelation.policy_id, policies)
    add("event", ForumLink.event_id, ForumLink.policy_id, policies)
    add("document", Document.id, Document.policy_id, pending.policy_owners)
    add("policy", ForumLink.policy_id, ForumLink.event_id, pending.event_references)
    add("policy", Policy.id, Policy.issuer_id, pending.organisations)
    add("policy", PolicyBody.policy_id, PolicyBody.organisation_id, pending.organisations)
    add("event", EventOrganisation.event_id, EventOrganisation.organisation_id, pending.organisations)
    add("policy", Policy.id, Policy.jurisdiction_code, pending.renamed_jurisdictions)
    add("document", Document.id, Document.series_id, pending.series)
    return found


@dataclass(frozen=True)
class _State:
    key: str
    public: bool


def _current(session: Session, refs: set[Ref]) -> dict[Ref, _State]:
    """Each record's key and whether it is public now (absent: it no longer exists)."""
    connection = session.connection()
    states: dict[Ref, _State] = {}
    for chunk in _chunks(_numbers(refs, "policy")):
        for row in connection.execute(select(Policy.id, Policy.key, Policy.editorial_state)
                                      .where(Policy.id.in_(chunk))):
            states[("policy", str(row.id))] = _State(row.key, row.editorial_state == "published")
    for chunk in _chunks(_numbers(refs, "event")):
        for row in connection.execute(select(Event.id, Event.key, Event.editorial_state).where(Event.id.in_(chunk))):
            states[("event", str(row.id))] = _State(row.key, row.editorial_state == "published")
    for chunk in _chunks(_numbers(refs, "document")):
        # An attached text is public with its policy.
        for document_id, state in connection.execute(
                select(Document.id, Policy.editorial_state).join(Policy, Policy.id == Document.policy_id)
                .where(Document.id.in_(chunk))):
            states[("document", str(document_id))] = _State(str(document_id), state == "published")
    for chunk in _chunks(entity_id for kind, entity_id in refs if kind == "jurisdiction"):
        for code in connection.execute(select(Jurisdiction.code).where(Jurisdiction.code.in_(chunk))).scalars():
            states[("jurisdiction", code)] = _State(code, True)
    for chunk in _chunks(entity_id for kind, entity_id in refs if kind == "topic"):
        for key in connection.execute(select(Topic.key).where(Topic.key.in_(chunk))).scalars():
            states[("topic", key)] = _State(key, True)
    return states


@dataclass(frozen=True)
class _Said:
    """The feed's last word on a record: the key it announced and whether that was a tombstone."""

    key: str
    public: bool


def _last_said(session: Session, refs: set[Ref]) -> dict[Ref, _Said]:
    """The latest row of each record in the feed (one query per thousand records)."""
    connection = session.connection()
    said: dict[Ref, _Said] = {}
    by_type: dict[str, list[str]] = {}
    for entity_type, entity_id in refs:
        by_type.setdefault(entity_type, []).append(entity_id)
    for entity_type, entity_ids in sorted(by_type.items()):
        for chunk in _chunks(entity_ids):
            condition: ColumnElement[bool] = and_(FeedChange.entity_type == entity_type,
                                                  FeedChange.entity_id.in_(chunk))
            ranked = select(
                FeedChange.entity_id, FeedChange.key, FeedChange.kind,
                func.row_number().over(partition_by=FeedChange.entity_id,
                                       order_by=(FeedChange.position.desc(), FeedChange.ordinal.desc()))
                .label("rank")).where(condition).subquery()
            for row in connection.execute(select(ranked.c.entity_id, ranked.c.key, ranked.c.kind)
                                          .where(ranked.c.rank == 1)):
                said[(entity_type, row.entity_id)] = _Said(row.key, row.kind not in TOMBSTONE_KINDS)
    return said


@dataclass(frozen=True)
class _Row:
    ref: Ref
    kind: str
    key: str
    old_key: str | None = None

    @property
    def released(self) -> str | None:
        """The key this change frees for another record of its type."""
        return self.key if self.kind in TOMBSTONE_KINDS else self.old_key

    @property
    def taken(self) -> str | None:
        """The key this change gives the record that it did not have before."""
        return self.key if self.kind == "created" or self.old_key is not None else None


def _decide(candidates: set[Ref], states: dict[Ref, _State], said: dict[Ref, _Said],
            status_changed: set[int]) -> list[_Row]:
    rows = []
    for ref in candidates:
        state, last = states.get(ref), said.get(ref)
        public_now = state is not None and state.public
        public_before = last is not None and last.public
        if public_now and not public_before:
            assert state is not None
            rows.append(_Row(ref, "created", state.key))
        elif public_now:
            assert state is not None and last is not None
            kind = "status_changed" if ref[0] == "policy" and int(ref[1]) in status_changed else "updated"
            rows.append(_Row(ref, kind, state.key, last.key if last.key != state.key else None))
        elif public_before:
            assert last is not None
            rows.append(_Row(ref, "deleted" if state is None else "unpublished", last.key))
    return rows


def _ordered(rows: list[_Row]) -> list[_Row]:
    """The commit's rows in an order a client can apply one by one, keeping its copy by key: a key is
    freed (a tombstone, a key change) before another record takes it. Two records exchanging keys in
    one commit would need each other's key first: one of them is then announced as unpublished under
    its old key and created under its new one."""
    type_order = {name: number for number, name in enumerate(FEED_ENTITY_TYPES)}
    rows = sorted(rows, key=lambda row: (type_order[row.ref[0]], row.ref[1].zfill(20)))
    tombstones = [row for row in rows if row.kind in TOMBSTONE_KINDS]
    moving = [row for row in rows if row.kind not in TOMBSTONE_KINDS and row.taken is not None]
    others = [row for row in rows if row.kind not in TOMBSTONE_KINDS and row.taken is None]
    ordered = list(tombstones)
    while moving:
        freed_later = {(row.ref[0], row.released) for row in moving if row.released is not None}
        ready = [row for row in moving if (row.ref[0], row.taken) not in freed_later]
        if not ready:
            row = moving[0]
            assert row.old_key is not None
            ordered.append(_Row(row.ref, "unpublished", row.old_key))
            moving[0] = _Row(row.ref, "created", row.key)
            continue
        ordered.extend(ready)
        # By identity: a commit may move a hundred thousand keys, and list membership would be quadratic.
        taken_now = {id(row) for row in ready}
        moving = [row for row in moving if id(row) not in taken_now]
    return ordered + others


def _write(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    # From here the content version row is locked until COMMIT: every transaction positioned before
    # this one has committed, so the queries below read the feed and the records as they will stand
    # just before this commit, and no later transaction can write rows this one's would have to follow.
    position = commit_position(session)
    candidates = _fan_out(session, pending)
    counted = {cause for cause in pending.counts} | _ids_set("policy", pending.count_topics_of)
    states = _current(session, candidates | counted)
    said = _last_said(session, candidates | counted)
    if pending.count_topics_of:
        connection = session.connection()
        for chunk in _chunks(pending.count_topics_of):
            for policy_id, topic_key in connection.execute(
                    select(PolicyTopic.policy_id, PolicyTopic.topic_key).where(PolicyTopic.policy_id.in_(chunk))):
                pending.count(("policy", str(policy_id)), ("topic", topic_key))
    # A country's or topic's counts move only when a record that is or was published changed.
    extra: set[Ref] = set()
    for cause, refs in pending.counts.items():
        state, last = states.get(cause), said.get(cause)
        if (state is not None and state.public) or (last is not None and last.public):
            extra |= refs
    extra -= candidates
    if extra:
        states |= _current(session, extra)
        said |= _last_said(session, extra)
        candidates |= extra
    rows = _ordered(_decide(candidates, states, said, pending.status_changed))
    if not rows:
        return
    first = session.info.get(_NEXT_ORDINAL, 0)
    session.info[_NEXT_ORDINAL] = first + len(rows)
    now = utcnow()
    # A declarative class with a __tablename__ is mapped to a Table (typed as the FromClause it may be elsewhere).
    session.connection().execute(cast("Table", FeedChange.__table__).insert(), [
        {"position": position, "ordinal": first + number, "entity_type": row.ref[0], "entity_id": row.ref[1],
         "key": row.key, "old_key": row.old_key, "kind": row.kind, "changed_at": now}
        for number, row in enumerate(rows)])


def _ids_set(entity_type: str, values: Iterable[Any]) -> set[Ref]:
    return set(_ids(entity_type, values))


def feed_order() -> tuple[Any, Any]:
    """The order of the feed: commit, then place within the commit."""
    return FeedChange.position, FeedChange.ordinal


def after(position: int, ordinal: int) -> ColumnElement[bool]:
    """Rows after the cursor (position, ordinal)."""
    return or_(FeedChange.position > position, and_(FeedChange.position == position, FeedChange.ordinal > ordinal))
