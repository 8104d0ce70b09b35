"""Loading the tracker's JSON dataset: every record checked, then applied all-or-nothing, idempotent by key.

Linear in time and bounded in memory whatever the size of the file: a file is read record by record
(ijson), the few reference records (topics, organisations, events) are checked and applied whole, and the
policies are checked and applied in chunks, each chunk's objects let go once flushed; everything happens
in the caller's one transaction, which is rolled back (nothing written) when any record anywhere is wrong.
"""
from __future__ import annotations

import itertools
import json
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ijson
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from tracker.errors import FieldError, Invalid
from tracker.models import Event, Jurisdiction, Organisation, Policy, StatusChange, Topic, User
from tracker.models.types import PartialDate, utcnow
from tracker.notifications.outbox import record_event
from tracker.notifications.payloads import policy_payload
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
    apply_step_extras,
    assign,
    event_to_record,
    policy_to_record,
    stored_policy_records,
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


# (kind, key, outcome, changes): outcome is "created", "updated" or "unchanged"; changes are (field, old,
# new) in the dataset format, for updates.
RecordOutcome = Callable[[str, str, str, list[tuple[str | None, Any, Any]]], None]


@dataclass
class LoadOptions:
    """Who loads and what else a load does: by default the command line, audited as "dataset import"."""

    actor: User | None = None            # a staff member importing through the site or the API
    reason: str | None = None            # written in every audit entry, e.g. "imported from list.xlsx"
    notify: bool = False                 # tell followers of published policies whose status changed
    on_record: RecordOutcome | None = None
    check_only: bool = False             # check every record and write none (a dry run of a file known wrong)


@dataclass
class LoadReport:
    """What a load created, updated and left unchanged, per kind of record."""

    created: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    unchanged: Counter[str] = field(default_factory=Counter)
    options: LoadOptions = field(default_factory=LoadOptions)

    def note(self, kind: str, key: str, created: bool, changes: list[tuple[str | None, Any, Any]],
             changed: bool | None = None) -> None:
        """Count one record (``changed`` when known otherwise than by ``changes``) and tell the caller."""
        changed = bool(changes) if changed is None else changed
        outcome = "created" if created else "updated" if changed else "unchanged"
        (self.created if created else self.updated if changed else self.unchanged)[kind] += 1
        if self.options.on_record is not None:
            self.options.on_record(kind, key, outcome, [] if created else changes)

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


class RecordLines(DatasetFile):
    """Records one JSON document per line, a file per kind (what an import writes as it reads a
    spreadsheet): read back a line at a time, several times faster than a whole document by its events."""

    def __init__(self, paths: dict[str, Path], *, stored: Path | None = None) -> None:
        super().__init__(next(iter(paths.values()), Path(os.devnull)))
        self.paths = paths
        self.stored = stored

    def stored_alongside(self) -> StoredAlongside | None:
        """The stored records the writer read for its policy records, when it kept them."""
        return StoredAlongside(self.stored) if self.stored is not None and self.stored.exists() else None

    def shape(self) -> tuple[str, dict[str, str]]:
        return "object", dict.fromkeys(self.paths, "array")

    def records(self, kind: str) -> Iterator[Any]:
        if kind not in self.paths:
            return
        with self.paths[kind].open(encoding="utf-8") as lines:
            for line in lines:
                yield json.loads(line)


class StoredAlongside:
    """The stored record of each policy record, as the writer of the records read it ([key, record or
    null] a line, in the records' order), taken a chunk of keys at a time in that order."""

    def __init__(self, path: Path) -> None:
        self._lines = path.open(encoding="utf-8")
        self._ahead: dict[str, dict[str, Any] | None] = {}

    def take(self, keys: list[str]) -> dict[str, dict[str, Any] | None]:
        """What the writer read for ``keys`` (None: not stored); keys it never read are left out."""
        taken: dict[str, dict[str, Any] | None] = {}
        for key in keys:
            while key not in self._ahead:
                line = self._lines.readline()
                if not line:
                    break
                found, record = json.loads(line)
                self._ahead[found] = record
            if key in self._ahead:
                taken[key] = self._ahead.pop(key)
        return taken

    def close(self) -> None:
        self._lines.close()


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


def load_dataset(session: Session, data: Any, *, progress: Progress | None = None,
                 options: LoadOptions | None = None) -> LoadReport:
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
    # An organisation's fields left out of its record keep what is stored (editions of the dataset have
    # come without acronyms, which must not wipe them).
    organisation_fields = [set(raw) if isinstance(raw, dict) else set() for raw in small["organisations"]]
    del small
    report = LoadReport(options=options or LoadOptions())
    # Chunks are flushed as they are applied; a savepoint takes them back if a later record is wrong, so
    # that nothing of a refused dataset is left even in a transaction the caller goes on with.
    savepoint = session.begin_nested()
    try:
        if not problems and not report.options.check_only:
            organisations, events = _apply_reference_records(session, records, organisation_fields, report)
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


def _apply_reference_records(session: Session, records: dict[str, list[dict[str, Any]]],
                             organisation_fields: list[set[str]],
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
        before = {"name_en": topic.name_en, "name_lo": topic.name_lo}
        after = {"name_en": record["name_en"], "name_lo": record["name_lo"]}
        assign(topic, after)
        report.note("topics", record["key"], created, _field_changes(before, after, list(after)))

    organisations = {o.key: o for o in session.scalars(select(Organisation))}
    for record, given in zip(records["organisations"], organisation_fields):
        organisation = organisations.get(record["key"])
        created = organisation is None
        if organisation is None:
            organisation = Organisation(key=record["key"])
            session.add(organisation)
            organisations[organisation.key] = organisation
        own = {k: v for k, v in record.items() if k not in ("key", "parent") and (created or k in given)}
        before = {name: getattr(organisation, name, None) for name in own}
        assign(organisation, own)
        report.note("organisations", record["key"], created, _field_changes(before, own, list(own)))
    session.flush()
    # Parents are set once every organisation of the file has an id.
    for record, given in zip(records["organisations"], organisation_fields):
        organisation = organisations[record["key"]]
        if "parent" not in given and organisation.parent_id is not None:
            continue
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
        apply_event(event, record, organisation_ids)
    session.flush()
    for record in records["events"]:
        event = events[record["key"]]
        before_event = event_before.get(event.key)
        after_event = event_to_record(event, org_keys)
        changes = [] if before_event is None else _field_changes(before_event, after_event,
                                                                [name for name in after_event if name != "key"])
        _audit_import(session, report.options, "event", event, changes, created=before_event is None)
        report.note("events", event.key, before_event is None, changes)
    session.flush()
    return organisation_ids, {key: event.id for key, event in events.items()}


_POLICY_LOADING = (
    selectinload(Policy.topic_links), selectinload(Policy.vehicle_class_links), selectinload(Policy.bodies),
    selectinload(Policy.sources), selectinload(Policy.relations), selectinload(Policy.status_changes),
    selectinload(Policy.forum_links), selectinload(Policy.targets))


def _apply_policies(session: Session, source: DatasetFile | _DatasetValue, known: dict[str, set[str]],
                    check: Callable[[str, str, Any], RecordCheck], problems: _Problems, report: LoadReport,
                    organisation_ids: dict[str, int], event_ids: dict[str, int],
                    progress: Progress | None) -> None:
    """Check every policy and, while no problem has been found, apply them chunk by chunk: own fields and
    history first (every policy then has an id), then relations and forum links, which point at others."""
    # Objects the caller already held stay in its session; those this load brought in are let go after
    # each chunk, which is what keeps memory bounded.
    session.flush()
    held = list(session.identity_map.values())
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
    status_changes: list[tuple[Policy, str]] = []
    done = 0
    # (An error leaves the file to the collector; the import's temporary folder is removed anyway.)
    alongside = source.stored_alongside() if isinstance(source, RecordLines) else None
    for chunk in _chunks(enumerate(source.records("policies")), CHUNK_SIZE):
        applying = not (problems or report.options.check_only)
        # What is stored, read as rows. A record that is exactly its stored one (re-importing an export is
        # mostly such rows) needs nothing checked, written, audited or looked at again: what it says is
        # already there, checked when it was written. Only the others are checked and loaded as models.
        before_records: dict[str, dict[str, Any]] = {}
        if applying:
            chunk_keys = [raw["key"] for _index, raw in chunk
                          if isinstance(raw, dict) and isinstance(raw.get("key"), str)]
            before_records = _stored_records(session, alongside, chunk_keys, org_keys, event_keys, policy_keys)
        checked = []
        for index, raw in chunk:
            raw_key = raw.get("key") if isinstance(raw, dict) else None
            if applying and isinstance(raw_key, str) and before_records.get(raw_key) == raw:
                report.note("policies", raw_key, False, [], False)
                continue
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
        if problems or report.options.check_only:
            continue  # checked to the end, so that every problem is named, but nothing more applied
        differing = []
        for record in checked:
            before = before_records.get(record["key"])
            if before is not None and _as_stored(record) == before:
                report.note("policies", record["key"], False, [], False)
            else:
                differing.append(record)
        policies = {p.key: p for p in session.scalars(
            select(Policy).where(Policy.key.in_([record["key"] for record in differing]))
            .options(*_POLICY_LOADING))} if differing else {}
        for record in differing:
            policy = policies.get(record["key"])
            if policy is None:
                policy = Policy(key=record["key"], topic_links=[], vehicle_class_links=[], bodies=[], sources=[],
                                relations=[], status_changes=[], forum_links=[], targets=[])
                session.add(policy)
                policies[policy.key] = policy
                created_keys.add(policy.key)
            old_status = None if policy.key in created_keys else policy.legal_status
            was_published = policy.editorial_state == "published"
            changed = apply_policy(policy, record, organisation_ids)
            changed |= _append_history(policy, record["status_history"])
            refresh_derived(policy)
            if changed:
                changed_keys.add(policy.key)
            links[record["key"]] = (record["relations"], record["forum_links"])
            if (report.options.notify and was_published and policy.editorial_state == "published"
                    and old_status is not None and old_status != policy.legal_status):
                status_changes.append((policy, old_status))
        session.flush()
        for policy, old_status in status_changes:
            # As for a status change made through the forms: the outbox row commits with the import.
            last = max(policy.status_changes, key=lambda change: change.position)
            record_event(session, "policy.status_changed", policy=policy, payload=policy_payload(
                policy, old_status=old_status, new_status=policy.legal_status, status=last.to_status,
                effective_date=last.effective_on, note=last.note, evidence_url=last.evidence_url))
        status_changes.clear()
        for key, policy in policies.items():
            policy_ids[key], policy_keys[policy.id] = policy.id, key
            before = before_records.get(key)
            if before is not None and key in links:
                after = policy_to_record(policy, org_keys, event_keys, policy_keys)
                changes = _field_changes(before, after, [name for name in after
                                                         if name != "key" and name not in LINK_FIELDS])
                if changes:
                    pending_audit[key] = changes
        _let_go(session, held)
    if alongside is not None:
        alongside.close()
    if problems or report.options.check_only:
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
            changes = pending_audit.pop(key, [])
            if changed and key not in created_keys:
                after_links = _links_record(policy, event_keys, policy_keys)
                changes += _field_changes(before_links, after_links, list(LINK_FIELDS))
            _audit_import(session, report.options, "policy", policy, changes, created=key in created_keys)
            report.note("policies", key, key in created_keys, changes, changed or key in changed_keys)
        session.flush()
        _let_go(session, held)
        done += len(chunk)
        if progress is not None:
            progress(done, "links")


def _stored_records(session: Session, alongside: StoredAlongside | None, keys: list[str],
                    org_keys: dict[int, str], event_keys: dict[int, str],
                    policy_keys: dict[int, str]) -> dict[str, dict[str, Any]]:
    """The stored records of ``keys``: those the writer of a spreadsheet's records read a moment before
    in this transaction (nothing was written since), the others read now."""
    taken = alongside.take(keys) if alongside is not None else {}
    found = {key: record for key, record in taken.items() if record is not None}
    missing = [key for key in keys if key not in taken]
    if missing:
        found.update(stored_policy_records(session, missing, org_keys, event_keys, policy_keys))
    return found


def _as_stored(value: Any) -> Any:
    """A checked record as policy_to_record gives a stored one (partial dates as their ISO text)."""
    if isinstance(value, dict):
        return {name: _as_stored(item) for name, item in value.items()}
    if isinstance(value, list):
        return [_as_stored(item) for item in value]
    if isinstance(value, PartialDate):
        return value.isoformat()
    return value


def _links_record(policy: Policy, event_keys: dict[int, str], policy_keys: dict[int, str]) -> dict[str, Any]:
    """The relations and forum links of a policy as policy_to_record gives them (only those loaded)."""
    return policy_to_record(policy, {}, event_keys, policy_keys, only=LINK_FIELDS)


def _field_changes(before: dict[str, Any], after: dict[str, Any],
                   fields: list[str]) -> list[tuple[str | None, Any, Any]]:
    from tracker.services.audit import field_changes

    return list(field_changes(before, after, fields))


def _let_go(session: Session, held: list[Any]) -> None:
    """Detach everything a chunk brought into the session, keeping what the caller held before the load.

    Expunging the chunk's policies one by one walks the cascade of every collection (a fifth of an
    import's time); clearing the session and re-attaching the caller's few objects costs nothing."""
    session.flush()
    session.expunge_all()
    for obj in held:
        session.add(obj)


def _audit_import(session: Session, options: LoadOptions, entity_type: str, record: Policy | Event,
                  changes: list[tuple[str | None, Any, Any]], *, created: bool) -> None:
    """A created record gets one entry; an updated one an entry per changed field, so an import never
    overwrites what staff entered without a trace."""
    from tracker.services.audit import IMPORT_ACTOR, write_audit

    if created:
        changes = [(None, None, None)]
    if changes:
        write_audit(session, entity_type, record, "import", options.actor, changes, reason=options.reason,
                    actor_label=IMPORT_ACTOR)


def _append_history(policy: Policy, steps: list[dict[str, Any]]) -> bool:
    """Make the steps a dataset recorded say what the file says; never touch a step staff recorded.

    The usual case appends the steps not yet recorded, in the file's order. A newer edition of a dataset
    may also correct a step it brought before (a date made precise, a note reworded) or drop one (a
    derived expiry found wrong): the steps recorded by imports are then made equal to the file's, in
    place, and the change is audited with the record's other fields. Steps entered by staff stay as
    they are, wherever they stand in the timeline."""
    def identity(status: str, date: PartialDate | None, note: str | None, note_lo: str | None,
                 url: str | None) -> tuple[str, str | None, str | None, str | None, str | None]:
        return (status, date.isoformat() if date else None, note or None, note_lo or None, url or None)

    def of_step(step: dict[str, Any]) -> tuple[str, str | None, str | None, str | None, str | None]:
        return identity(step["status"], step["date"], step["note"], step["note_lo"], step["source_url"])

    def of_change(change: StatusChange) -> tuple[str, str | None, str | None, str | None, str | None]:
        return identity(change.to_status, change.effective_on, change.note, change.note_lo, change.evidence_url)

    changes = sorted(policy.status_changes, key=lambda change: change.position)
    imported = [change for change in changes if change.recorded_by == IMPORTED_BY]
    wanted = [of_step(step) for step in steps]
    recorded = {of_change(change) for change in changes}
    # The gazette day and comment period of a step the file brought follow the file (a newer edition may
    # extend a window); those of a step staff recorded are theirs.
    extras = False
    for change, step in zip(imported, steps):
        if of_change(change) == of_step(step):
            extras |= apply_step_extras(change, step)
    if [of_change(change) for change in imported] == wanted[:len(imported)]:
        # What the file adds, after what is recorded; a step staff already recorded is not repeated.
        added = [step for step in steps[len(imported):] if of_step(step) not in recorded]
        return _add_steps(policy, changes, added) or extras
    # A correction: the imported steps become the file's, position by position.
    for change, step in zip(imported, steps):
        if of_change(change) != of_step(step):
            change.to_status, change.effective_on = step["status"], step["date"]
            change.note, change.note_lo, change.evidence_url = step["note"], step["note_lo"], step["source_url"]
            apply_step_extras(change, step)
    for change in imported[len(steps):]:
        policy.status_changes.remove(change)
    # New steps go after every position ever used here: a row deleted in this flush keeps its position
    # until the flush deletes it, after inserting.
    _add_steps(policy, changes, steps[len(imported):])
    previous = None
    for change in sorted(policy.status_changes, key=lambda change: change.position):
        if change.from_status != previous:
            change.from_status = previous
        previous = change.to_status
    return True


def _add_steps(policy: Policy, changes: list[StatusChange], steps: list[dict[str, Any]]) -> bool:
    """Append ``steps`` after ``changes`` (the history in position order); from_status is fixed up by the
    caller where steps were removed."""
    position = changes[-1].position if changes else 0
    previous = changes[-1].to_status if changes else None
    now = utcnow()
    for step in steps:
        position += 1
        change = StatusChange(
            position=position, from_status=previous, to_status=step["status"], effective_on=step["date"],
            note=step["note"], note_lo=step["note_lo"], evidence_url=step["source_url"], recorded_by=IMPORTED_BY,
            recorded_at=now)
        apply_step_extras(change, step)
        policy.status_changes.append(change)
        previous = step["status"]
    return bool(steps)
