"""Loading the tracker's JSON dataset: every record checked first, then applied all-or-nothing, idempotent
by key."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

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


class DatasetInvalid(Invalid):
    """A dataset was refused; nothing of it was written."""

    def __init__(self, problems: list[RecordProblem]) -> None:
        shown = "\n".join(f"  - {problem}" for problem in problems[:50])
        more = f"\n  ... and {len(problems) - 50} more" if len(problems) > 50 else ""
        super().__init__(f"The dataset was not loaded: {len(problems)} problem(s) found.\n{shown}{more}",
                         {f"{p.record}.{p.field}": p.error for p in problems})
        self.problems = problems


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


def validate_dataset(data: Any, jurisdictions: set[str],
                     existing_keys: dict[str, set[str]]) -> dict[str, list[dict[str, Any]]]:
    """Check a whole dataset and return its records normalised to the dump format.

    Raises:
        DatasetInvalid: listing every problem found, each naming the record key and the field.
    """
    problems: list[RecordProblem] = []
    if not isinstance(data, dict):
        raise DatasetInvalid([RecordProblem("(dataset)", "(top level)",
                                            FieldError("type", expected="object", actual=json_type(data)))])
    for name in KINDS:
        if name in data and not isinstance(data[name], list):
            problems.append(RecordProblem("(dataset)", name,
                                          FieldError("type", expected="array", actual=json_type(data[name]))))
    if problems:
        raise DatasetInvalid(problems)

    keys: dict[str, set[str]] = {kind: set() for kind in KINDS}
    raw_records = {kind: data.get(kind) or [] for kind in KINDS}
    record_keys = {kind: [_record_key(problems, SINGULAR[kind], i, record, keys[kind])
                          for i, record in enumerate(raw_records[kind])] for kind in KINDS}
    known = {kind: keys[kind] | existing_keys.get(kind, set()) for kind in KINDS}

    def check(kind: str, key: str, record: Any) -> RecordCheck:
        return RecordCheck(problems, f"{SINGULAR[kind]} '{key}'", record, SINGULAR[kind], jurisdictions)

    out: dict[str, list[dict[str, Any]]] = {
        "topics": [check_topic(check("topics", key, record), key)
                   for key, record in zip(record_keys["topics"], raw_records["topics"])],
        "organisations": [check_organisation(check("organisations", key, record), key, known["organisations"])
                          for key, record in zip(record_keys["organisations"], raw_records["organisations"])],
        "events": [check_event(check("events", key, record), key, known)
                   for key, record in zip(record_keys["events"], raw_records["events"])],
        "policies": [check_policy(check("policies", key, record), key, known)
                     for key, record in zip(record_keys["policies"], raw_records["policies"])],
    }
    if problems:
        raise DatasetInvalid(problems)
    return out


def load_dataset(session: Session, data: Any) -> LoadReport:
    """Create or update every record of ``data`` by key; append status steps not yet recorded.

    Nothing is committed here; a problem anywhere raises before anything is flushed.

    Raises:
        DatasetInvalid: when any record is invalid (every problem is listed).
    """
    jurisdictions = set(session.scalars(select(Jurisdiction.code)))
    existing = {
        "topics": set(session.scalars(select(Topic.key))),
        "organisations": set(session.scalars(select(Organisation.key))),
        "events": set(session.scalars(select(Event.key))),
        "policies": set(session.scalars(select(Policy.key))),
    }
    records = validate_dataset(data, jurisdictions, existing)
    report = LoadReport()

    def tally(kind: str, created: bool, changed: bool) -> None:
        (report.created if created else report.updated if changed else report.unchanged)[kind] += 1

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
        tally("topics", created, assign(topic, {"name_en": record["name_en"], "name_lo": record["name_lo"]}))

    organisations = {o.key: o for o in session.scalars(select(Organisation))}
    for record in records["organisations"]:
        organisation = organisations.get(record["key"])
        created = organisation is None
        if organisation is None:
            organisation = Organisation(key=record["key"])
            session.add(organisation)
            organisations[organisation.key] = organisation
        tally("organisations", created, assign(organisation, {k: v for k, v in record.items()
                                                               if k not in ("key", "parent")}))
    session.flush()
    # Parents are set once every organisation of the file has an id.
    for record in records["organisations"]:
        organisation = organisations[record["key"]]
        parent_id = organisations[record["parent"]].id if record["parent"] else None
        if organisation.parent_id != parent_id:
            organisation.parent_id = parent_id
    session.flush()

    events = {e.key: e for e in session.scalars(select(Event).options(
        selectinload(Event.organisation_links), selectinload(Event.topic_links), selectinload(Event.sources)))}
    org_keys = {org.id: key for key, org in organisations.items()}
    event_before = {e.key: event_to_record(e, org_keys) for e in events.values()}
    for record in records["events"]:
        event = events.get(record["key"])
        created = event is None
        if event is None:
            event = Event(key=record["key"], organisation_links=[], topic_links=[], sources=[])
            session.add(event)
            events[event.key] = event
        changed = apply_event(event, record, {key: org.id for key, org in organisations.items()})
        tally("events", created, changed)
    session.flush()
    for record in records["events"]:
        event = events[record["key"]]
        _audit_import(session, "event", event, event_before.get(event.key), event_to_record(event, org_keys))

    policies = {p.key: p for p in session.scalars(select(Policy).options(
        selectinload(Policy.topic_links), selectinload(Policy.vehicle_class_links), selectinload(Policy.bodies),
        selectinload(Policy.sources), selectinload(Policy.relations), selectinload(Policy.status_changes),
        selectinload(Policy.forum_links)))}
    outcome: dict[str, tuple[bool, bool]] = {}
    event_keys = {e.id: key for key, e in events.items()}
    policy_keys = {p.id: key for key, p in policies.items()}
    policy_before = {p.key: policy_to_record(p, org_keys, event_keys, policy_keys) for p in policies.values()}
    for record in records["policies"]:
        policy = policies.get(record["key"])
        created = policy is None
        if policy is None:
            policy = Policy(key=record["key"], topic_links=[], vehicle_class_links=[], bodies=[], sources=[],
                            relations=[], status_changes=[], forum_links=[])
            session.add(policy)
            policies[policy.key] = policy
        changed = apply_policy(policy, record, {key: org.id for key, org in organisations.items()})
        changed |= _append_history(policy, record["status_history"])
        outcome[policy.key] = (created, changed)
    session.flush()

    # Relations and forum links point at other records, which all have ids now.
    for record in records["policies"]:
        policy = policies[record["key"]]
        created, changed = outcome[policy.key]
        changed |= apply_policy_links(policy, record, {key: p.id for key, p in policies.items()},
                                      {key: e.id for key, e in events.items()})
        refresh_derived(policy)
        tally("policies", created, changed)
    session.flush()
    policy_keys = {p.id: key for key, p in policies.items()}
    for record in records["policies"]:
        policy = policies[record["key"]]
        _audit_import(session, "policy", policy, policy_before.get(policy.key),
                      policy_to_record(policy, org_keys, event_keys, policy_keys))
    session.flush()
    return report


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

