"""Loading the tracker's JSON dataset: every record checked, then applied all-or-nothing, idempotent by key.

Linear in time and bounded in memory whatever the size of the file: a file is read record by record
(ijson), the few reference records (topics, organisations, events) are checked and applied whole, and the
policies are checked and applied in chunks, each chunk's objects let go once flushed; everything happens
in the caller's one transaction, which is rolled back (nothing written) when any record anywhere is wrong.
"""
from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ijson
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from tracker.errors import FieldError, Invalid
from tracker.models import Event, Jurisdiction, Organisation, Policy, StatusChange, Topic
from tracker.models.types import PartialDate, utcnow
from tracker.services.policies import refresh_derived
from tracker.services.record_checks import (
    RecordCheck,
    RecordProblem,
    check_event,
    check_key,
    check_organisation,
    check_policy,
    check_topic,
)
from tracker.services.records import (
    apply_event,
    apply_policy,
    apply_policy_links,
    assign,
    event_to_record,
    policy_to_record,
)
from tracker.services.schema_check import json_type

IMPORTED_BY = "dataset import"
KINDS = ("topics", "organisations", "events", "policies")
SINGULAR = {"topics": "topic", "organisations": "organisation", "events": "event", "policies": "policy"}
# Policies checked and applied at a time: large enough for few round trips, small enough that a chunk's
# objects and their collections stay a few megabytes.
CHUNK_SIZE = 500
# Problems kept for the report: enough to fix a file from; the count of the others is still given.
MAX_PROBLEMS = 1000
LINK_FIELDS = ("relations", "forum_links")
# Called with (records of the kind done, kind) as a long load goes on.
Progress = Callable[[int, str], None]


class DatasetInvalid(Invalid):
    """A dataset was refused; nothing of it was written."""

    def __init__(self, problems: list[RecordProblem], total: int | None = None) -> None:
        total = total if total is not None else len(problems)
        shown = "\n".join(f"  - {problem}" for problem in problems[:50])
        more = f"\n  ... and {total - 50} more" if total > 50 else ""
        super().__init__(f"The dataset was not loaded: {total} problem(s) found.\n{shown}{more}",
                         {f"{p.record}.{p.field}": p.error for p in problems})
        self.problems = problems
        self.total = total


@dataclass
class LoadReport:
    """What a load created, updated and left unchanged, per kind of record."""

    created: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    unchanged: Counter[str] = field(default_factory=Counter)

    def lines(self) -> list[str]:
        kinds = ("topics", "organisations", "events", "policies")
        return [f"{kind}: {self.created[kind]} created, {self.updated[kind]} updated, "
                f"{self.unchanged[kind]} unchanged" for kind in kinds]


class DatasetFile:
    """A dataset file read record by record, as many times as a load needs, never whole."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def shape(self) -> tuple[str, dict[str, str]]:
        """The JSON type of the top level and of each record list present (one streaming pass).

        Raises:
            ijson.JSONError / UnicodeDecodeError: when the file is not JSON in UTF-8.
        """
        top = ""
        kinds: dict[str, str] = {}
        with self.path.open("rb") as stream:
            for prefix, event, _value in ijson.parse(stream):
                if prefix == "" and not top:
                    top = _EVENT_TYPES.get(event, "")
                elif prefix in KINDS and prefix not in kinds:
                    kinds[prefix] = _EVENT_TYPES.get(event, "")
        return top, kinds

    def records(self, kind: str) -> Iterator[Any]:
        with self.path.open("rb") as stream:
            yield from ijson.items(stream, f"{kind}.item", use_float=True)


_EVENT_TYPES = {"start_map": "object", "start_array": "array", "string": "string", "number": "number",
                "boolean": "boolean", "null": "null"}


class _DatasetValue:
    """A dataset already parsed (the API, tests): the same interface as DatasetFile."""

    def __init__(self, data: Any) -> None:
        self.data = data

    def shape(self) -> tuple[str, dict[str, str]]:
        if not isinstance(self.data, dict):
            return json_type(self.data), {}
        return "object", {kind: json_type(self.data[kind]) for kind in KINDS if kind in self.data}

    def records(self, kind: str) -> Iterator[Any]:
        yield from self.data.get(kind) or []


def _record_key(problems: list[RecordProblem], kind: str, index: int, data: Any, seen: set[str]) -> str:
    label = f"{kind}[{index}]"
    key = data.get("key") if isinstance(data, dict) else None
    error = check_key(key)
    if error is not None:
        problems.append(RecordProblem(label, "key", error))
        return label
    assert isinstance(key, str)
    if key in seen:
        problems.append(RecordProblem(f"{kind} '{key}'", "key", FieldError("key_used_twice", value=key)))
    seen.add(key)
    return key


class _Problems:
    """The problems found so far: the first MAX_PROBLEMS kept, all of them counted."""

    def __init__(self) -> None:
        self.kept: list[RecordProblem] = []
        self.dropped = 0

    def trim(self) -> None:
        if len(self.kept) > MAX_PROBLEMS:
            self.dropped += len(self.kept) - MAX_PROBLEMS
            del self.kept[MAX_PROBLEMS:]

    def __bool__(self) -> bool:
        return bool(self.kept)

    def error(self) -> DatasetInvalid:
        return DatasetInvalid(self.kept, len(self.kept) + self.dropped)


def _source(data: Any) -> DatasetFile | _DatasetValue:
    return data if isinstance(data, DatasetFile) else _DatasetValue(data)


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def load_dataset(session: Session, data: Any, *, progress: Progress | None = None) -> LoadReport:
    """Create or update every record of ``data`` (a parsed dataset, or a DatasetFile read record by
    record) by key; append status steps not yet recorded.

    Nothing is committed here, and when a record anywhere is invalid nothing is left written (the load
    runs in a savepoint of the caller's transaction).

    Raises:
        DatasetInvalid: when any record is invalid (every problem is listed, the first thousand named).
    """
    source = _source(data)
    problems = _Problems()
    top, kinds = source.shape()
    if top != "object":
        raise DatasetInvalid([RecordProblem("(dataset)", "(top level)",
                                            FieldError("type", expected="object", actual=top or "null"))])
    for name, found in kinds.items():
        if found != "array":
            problems.kept.append(RecordProblem("(dataset)", name,
                                               FieldError("type", expected="array", actual=found)))
    if problems:
        raise problems.error()

    jurisdictions = set(session.scalars(select(Jurisdiction.code)))
    existing = {
        "topics": set(session.scalars(select(Topic.key))),
        "organisations": set(session.scalars(select(Organisation.key))),
        "events": set(session.scalars(select(Event.key))),
        "policies": set(session.scalars(select(Policy.key))),
    }
    # Every key of the file first (a policy may point at one further down), one record at a time.
    keys: dict[str, set[str]] = {kind: set() for kind in KINDS}
    small = {kind: list(source.records(kind)) for kind in ("topics", "organisations", "events")}
    record_keys = {kind: [_record_key(problems.kept, SINGULAR[kind], i, record, keys[kind])
                          for i, record in enumerate(small[kind])] for kind in small}
    for index, record in enumerate(source.records("policies")):
        _record_key(problems.kept, "policy", index, record, keys["policies"])
        problems.trim()
    known = {kind: keys[kind] | existing[kind] for kind in KINDS}

    def check(kind: str, key: str, record: Any) -> RecordCheck:
        return RecordCheck(problems.kept, f"{SINGULAR[kind]} '{key}'", record, SINGULAR[kind], jurisdictions)

    records: dict[str, list[dict[str, Any]]] = {
        "topics": [check_topic(check("topics", key, record), key)
                   for key, record in zip(record_keys["topics"], small["topics"])],
        "organisations": [check_organisation(check("organisations", key, record), key, known["organisations"])
                          for key, record in zip(record_keys["organisations"], small["organisations"])],
        "events": [check_event(check("events", key, record), key, known)
                   for key, record in zip(record_keys["events"], small["events"])],
    }
    del small
    report = LoadReport()
    # Chunks are flushed as they are applied; a savepoint takes them back if a later record is wrong, so
    # that nothing of a refused dataset is left even in a transaction the caller goes on with.
    savepoint = session.begin_nested()
    try:
        if not problems:
            organisations, events = _apply_reference_records(session, records, report)
        else:
            organisations, events = {}, {}
        del records
        _apply_policies(session, source, known, check, problems, report, organisations, events, progress)
        problems.trim()
        if problems:
            raise problems.error()
    except BaseException:
        savepoint.rollback()
        raise
    savepoint.commit()
    return report


def _tally(report: LoadReport, kind: str, created: bool, changed: bool) -> None:
    (report.created if created else report.updated if changed else report.unchanged)[kind] += 1


def _apply_reference_records(session: Session, records: dict[str, list[dict[str, Any]]],
                             report: LoadReport) -> tuple[dict[str, int], dict[str, int]]:
    """Topics, organisations and events (a few hundred at most): applied whole. Returns the ids of every
    organisation and event by key."""
    topics = {t.key: t for t in session.scalars(select(Topic))}
    next_position = max((t.position for t in topics.values()), default=0) + 1
    for record in records["topics"]:
        topic = topics.get(record["key"])
        created = topic is None
        if topic is None:
            topic = Topic(key=record["key"], position=next_position)
            next_position += 1
            session.add(topic)
            topics[topic.key] = topic
        _tally(report, "topics", created,
               assign(topic, {"name_en": record["name_en"], "name_lo": record["name_lo"]}))

    organisations = {o.key: o for o in session.scalars(select(Organisation))}
    for record in records["organisations"]:
        organisation = organisations.get(record["key"])
        created = organisation is None
        if organisation is None:
            organisation = Organisation(key=record["key"])
            session.add(organisation)
            organisations[organisation.key] = organisation
        _tally(report, "organisations", created, assign(organisation, {k: v for k, v in record.items()
                                                                      if k not in ("key", "parent")}))
    session.flush()
    # Parents are set once every organisation of the file has an id.
    for record in records["organisations"]:
        organisation = organisations[record["key"]]
        parent_id = organisations[record["parent"]].id if record["parent"] else None
        if organisation.parent_id != parent_id:
            organisation.parent_id = parent_id
    session.flush()
    organisation_ids = {key: org.id for key, org in organisations.items()}
    org_keys = {org_id: key for key, org_id in organisation_ids.items()}

    events = {e.key: e for e in session.scalars(select(Event).options(
        selectinload(Event.organisation_links), selectinload(Event.topic_links), selectinload(Event.sources)))}
    event_before = {e.key: event_to_record(e, org_keys) for e in events.values()}
    for record in records["events"]:
        event = events.get(record["key"])
        created = event is None
        if event is None:
            event = Event(key=record["key"], organisation_links=[], topic_links=[], sources=[])
            session.add(event)
            events[event.key] = event
        _tally(report, "events", created, apply_event(event, record, organisation_ids))
    session.flush()
    for record in records["events"]:
        event = events[record["key"]]
        _audit_import(session, "event", event, event_before.get(event.key), event_to_record(event, org_keys))
    session.flush()
    return organisation_ids, {key: event.id for key, event in events.items()}


_POLICY_LOADING = (
    selectinload(Policy.topic_links), selectinload(Policy.vehicle_class_links), selectinload(Policy.bodies),
    selectinload(Policy.sources), selectinload(Policy.relations), selectinload(Policy.status_changes),
    selectinload(Policy.forum_links))


def _apply_policies(session: Session, source: DatasetFile | _DatasetValue, known: dict[str, set[str]],
                    check: Callable[[str, str, Any], RecordCheck], problems: _Problems, report: LoadReport,
                    organisation_ids: dict[str, int], event_ids: dict[str, int],
                    progress: Progress | None) -> None:
    """Check every policy and, while no problem has been found, apply them chunk by chunk: own fields and
    history first (every policy then has an id), then relations and forum links, which point at others."""
    # Objects the caller already held stay in its session; those this load brought in are let go after
    # each chunk, which is what keeps memory bounded.
    held = {id(obj) for obj in session.identity_map.values()}
    org_keys = {org_id: key for key, org_id in organisation_ids.items()}
    event_keys = {event_id: key for key, event_id in event_ids.items()}
    policy_ids: dict[str, int] = {}
    policy_keys: dict[int, str] = {}
    for policy_id, key in session.execute(select(Policy.id, Policy.key)):
        policy_ids[key], policy_keys[policy_id] = policy_id, key
    # What the second step needs of each policy: its links as checked, whether it existed before, and
    # the changes already found in its own fields (an update is audited once, with every field).
    links: dict[str, tuple[list[Any], list[Any]]] = {}
    pending_audit: dict[str, list[tuple[str | None, Any, Any]]] = {}
    created_keys: set[str] = set()
    changed_keys: set[str] = set()
    done = 0
    for chunk in _chunks(enumerate(source.records("policies")), CHUNK_SIZE):
        checked = []
        for index, raw in chunk:
            raw_key = raw.get("key") if isinstance(raw, dict) else None
            # A record without a usable key (named already) is still checked, under its place in the file.
            label = raw_key if isinstance(raw_key, str) and check_key(raw_key) is None else f"policy[{index}]"
            found_before = len(problems.kept)
            record = check_policy(check("policies", label, raw), label, known)
            if len(problems.kept) == found_before:
                checked.append(record)
        problems.trim()
        done += len(chunk)
        if progress is not None:
            progress(done, "policies")
        if problems:
            continue  # checked to the end, so that every problem is named, but nothing more applied
        policies = {p.key: p for p in session.scalars(
            select(Policy).where(Policy.key.in_([record["key"] for record in checked])).options(*_POLICY_LOADING))}
        before_records = {key: policy_to_record(policy, org_keys, event_keys, policy_keys)
                          for key, policy in policies.items()}
        for record in checked:
            policy = policies.get(record["key"])
            if policy is None:
                policy = Policy(key=record["key"], topic_links=[], vehicle_class_links=[], bodies=[], sources=[],
                                relations=[], status_changes=[], forum_links=[])
                session.add(policy)
                policies[policy.key] = policy
                created_keys.add(policy.key)
            changed = apply_policy(policy, record, organisation_ids)
            changed |= _append_history(policy, record["status_history"])
            refresh_derived(policy)
            if changed:
                changed_keys.add(policy.key)
            links[record["key"]] = (record["relations"], record["forum_links"])
        session.flush()
        for key, policy in policies.items():
            policy_ids[key], policy_keys[policy.id] = policy.id, key
            before = before_records.get(key)
            if before is not None:
                after = policy_to_record(policy, org_keys, event_keys, policy_keys)
                changes = _field_changes(before, after, [name for name in after
                                                         if name != "key" and name not in LINK_FIELDS])
                if changes:
                    pending_audit[key] = changes
        _let_go(session, policies.values(), held)
    if problems:
        return

    # Relations and forum links, now that every policy of the file has an id.
    done = 0
    for chunk in _chunks(links.items(), CHUNK_SIZE):
        policies = {p.key: p for p in session.scalars(
            select(Policy).where(Policy.key.in_([key for key, _ in chunk]))
            .options(selectinload(Policy.relations), selectinload(Policy.forum_links)))}
        for key, (relations, forum_links) in chunk:
            policy = policies[key]
            before_links = _links_record(policy, event_keys, policy_keys)
            record = {"relations": relations, "forum_links": forum_links}
            changed = apply_policy_links(policy, record, policy_ids, event_ids)
            if key in created_keys:
                _audit_import(session, "policy", policy, None, {})
            else:
                changes = pending_audit.pop(key, [])
                if changed:
                    after_links = _links_record(policy, event_keys, policy_keys)
                    changes += _field_changes(before_links, after_links, list(LINK_FIELDS))
                if changes:
                    from tracker.services.audit import IMPORT_ACTOR, write_audit

                    write_audit(session, "policy", policy, "import", None, changes, actor_label=IMPORT_ACTOR)
            _tally(report, "policies", key in created_keys, changed or key in changed_keys)
        session.flush()
        _let_go(session, policies.values(), held)
        done += len(chunk)
        if progress is not None:
            progress(done, "links")


def _links_record(policy: Policy, event_keys: dict[int, str], policy_keys: dict[int, str]) -> dict[str, Any]:
    """The relations and forum links of a policy as policy_to_record gives them (only those loaded)."""
    return policy_to_record(policy, {}, event_keys, policy_keys, only=LINK_FIELDS)


def _field_changes(before: dict[str, Any], after: dict[str, Any],
                   fields: list[str]) -> list[tuple[str | None, Any, Any]]:
    from tracker.services.audit import field_changes

    return list(field_changes(before, after, fields))


def _let_go(session: Session, objects: Iterable[Any], held: set[int]) -> None:
    """Detach what a chunk loaded (with its collections), unless the caller held it before the load."""
    for obj in objects:
        if id(obj) not in held and obj in session:
            session.expunge(obj)


def _audit_import(session: Session, entity_type: str, record: Policy | Event, before: dict[str, Any] | None,
                  after: dict[str, Any]) -> None:
    """A created record gets one entry; an updated one an entry per changed field, so an import never
    overwrites what staff entered without a trace."""
    from tracker.services.audit import IMPORT_ACTOR, field_changes, write_audit

    if before is None:
        write_audit(session, entity_type, record, "import", None, [(None, None, None)], actor_label=IMPORT_ACTOR)
        return
    changes = field_changes(before, after, [name for name in after if name != "key"])
    if changes:
        write_audit(session, entity_type, record, "import", None, changes, actor_label=IMPORT_ACTOR)


def _append_history(policy: Policy, steps: list[dict[str, Any]]) -> bool:
    """Append the steps not yet in the policy's history, in the dataset's order; never rewrite one."""
    def identity(status: str, date: PartialDate | None, note: str | None, note_lo: str | None,
                 url: str | None) -> tuple[str, str | None, str | None, str | None, str | None]:
        return (status, date.isoformat() if date else None, note or None, note_lo or None, url or None)

    recorded = {identity(c.to_status, c.effective_on, c.note, c.note_lo, c.evidence_url)
                for c in policy.status_changes}
    changes = sorted(policy.status_changes, key=lambda change: change.position)
    position = changes[-1].position if changes else 0
    previous = changes[-1].to_status if changes else None
    appended = False
    now = utcnow()
    for step in steps:
        if identity(step["status"], step["date"], step["note"], step["note_lo"], step["source_url"]) in recorded:
            continue
        position += 1
        policy.status_changes.append(StatusChange(
            position=position, from_status=previous, to_status=step["status"], effective_on=step["date"],
            note=step["note"], note_lo=step["note_lo"], evidence_url=step["source_url"], recorded_by=IMPORTED_BY,
            recorded_at=now))
        previous = step["status"]
        appended = True
    return appended

