"""Records in the dataset format and the rows that hold them: applying a checked record to its rows, and
reading rows back as records (load -> dump -> load changes nothing)."""
from __future__ import annotations

from collections.abc import Callable, Collection
from decimal import Decimal
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, aliased, selectinload

from tracker.models import (
    Event,
    EventOrganisation,
    EventTopic,
    ForumLink,
    Organisation,
    Policy,
    PolicyBody,
    PolicyRelation,
    PolicyTarget,
    PolicyTopic,
    PolicyVehicleClass,
    Source,
    StatusChange,
    Topic,
)
from tracker.models.types import PartialDate

DATASET_NAME = "asean-ev-policies"
FORMAT_VERSION = 1

_Link = TypeVar("_Link")


# ---------------------------------------------------------------------------------------------------
# Applying: every change inside the caller's transaction; the caller commits once.


def assign(obj: Any, values: dict[str, Any]) -> bool:
    changed = False
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed = True
    return changed


def _sync_links(current: list[_Link], wanted: list[tuple[Any, dict[str, Any]]], key_of: Callable[[_Link], Any],
                factory: Callable[[Any], _Link]) -> bool:
    """Make ``current`` hold exactly ``wanted`` (natural key, attributes), reusing rows by key."""
    by_key = {key_of(item): item for item in current}
    wanted_keys = [key for key, _ in wanted]
    # Order lives in the ``position`` attribute, so sets of keys are compared, not sequences.
    if set(by_key) == set(wanted_keys) and len(current) == len(wanted) and all(
            all(getattr(by_key[key], name) == value for name, value in attrs.items()) for key, attrs in wanted):
        return False
    for item in list(current):
        if key_of(item) not in wanted_keys:
            current.remove(item)
    for key, attrs in wanted:
        link = by_key.get(key)
        if link is None:
            link = factory(key)
            current.append(link)
        assign(link, attrs)
    return True


def _sync_sources(current: list[Source], wanted: list[dict[str, Any]]) -> bool:
    def row(source: Source) -> dict[str, Any]:
        return {"url": source.url, "title": source.title, "published": source.published, "kind": source.kind}
    normalised = [{"url": s["url"], "title": s["title"], "published": s["published"], "kind": s.get("kind")}
                  for s in wanted]
    if [row(s) for s in current] == normalised:
        return False
    current.clear()
    current.extend(Source(position=i, **values) for i, values in enumerate(normalised))
    return True


def target_to_record(target: PolicyTarget) -> dict[str, Any]:
    """A target in the record format (what the API serves and the dataset file holds)."""
    return {"metric": target.metric, "value": _number(target.value), "unit": target.unit,
            "year": target.target_year, "vehicle_class": target.vehicle_class, "scope_en": target.scope_en,
            "scope_lo": target.scope_lo, "headline": bool(target.headline), "source_url": target.source_url}


def _number(value: Decimal | None) -> int | float | None:
    """A stored value as the record format writes it: 30, not 30.0000; 2.5, not 2.5000."""
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value.normalize())


def _sync_targets(current: list[PolicyTarget], wanted: list[dict[str, Any]] | None) -> bool:
    """Make ``current`` hold exactly the ``wanted`` targets in their order (None: leave them as they are)."""
    if wanted is None:
        return False
    normalised = [{name: target.get(name) for name in ("metric", "value", "unit", "year", "vehicle_class",
                                                        "scope_en", "scope_lo", "headline", "source_url")}
                  for target in wanted]
    if [target_to_record(target) for target in current] == normalised:
        return False
    current.clear()
    current.extend(PolicyTarget(position=i, metric=t["metric"], value=Decimal(str(t["value"])), unit=t["unit"],
                                target_year=t["year"], vehicle_class=t["vehicle_class"] or "all",
                                scope_en=t["scope_en"], scope_lo=t["scope_lo"], headline=bool(t["headline"]),
                                source_url=t["source_url"])
                   for i, t in enumerate(normalised))
    return True


def apply_event(event: Event, record: dict[str, Any], organisation_ids: dict[str, int]) -> bool:
    """Make ``event`` say what a validated record says; True when anything changed."""
    changed = assign(event, {
        "name_en": record["name_en"], "name_lo": record["name_lo"], "kind": record["kind"],
        "jurisdiction_code": record["country"], "starts_on": record["starts_on"],
        "ends_on": record["ends_on"], "date_note": record["date_note"], "venue": record["venue"],
        "summary_en": record["summary_en"], "summary_lo": record["summary_lo"],
        "editorial_state": record["editorial_state"]})
    wanted_orgs = [((organisation_ids[org], role[:-1]), {"position": i})
                   for role in ("organisers", "funders", "partners")
                   for i, org in enumerate(record[role])]
    changed |= _sync_links(event.organisation_links, wanted_orgs,
                           lambda link: (link.organisation_id, link.role),
                           lambda key: EventOrganisation(organisation_id=key[0], role=key[1]))
    changed |= _sync_links(event.topic_links, [(t, {"position": i}) for i, t in enumerate(record["topics"])],
                           lambda link: link.topic_key, lambda key: EventTopic(topic_key=key))
    changed |= _sync_sources(event.sources, record["sources"])
    return changed


def apply_policy(policy: Policy, record: dict[str, Any], organisation_ids: dict[str, int]) -> bool:
    """Make ``policy``'s own fields, topics, classes, bodies and sources say what a validated record says
    (relations, forum links and the status history are applied separately)."""
    changed = assign(policy, {
        "jurisdiction_code": record["country"], "title_en": record["title_en"],
        "title_lo": record["title_lo"], "title_local": record["title_local"],
        "reference": record["reference"], "instrument": record["instrument"],
        "issuer_id": organisation_ids[record["issuer"]] if record["issuer"] else None,
        "valid_from": record["valid_from"], "valid_to": record["valid_to"],
        "summary_en": record["summary_en"], "summary_lo": record["summary_lo"],
        "confidence": record["confidence"], "conflicts": record["conflicts"],
        "editorial_state": record["editorial_state"]})
    changed |= _sync_links(policy.topic_links, [(t, {"position": i}) for i, t in enumerate(record["topics"])],
                           lambda link: link.topic_key, lambda key: PolicyTopic(topic_key=key))
    changed |= _sync_links(policy.vehicle_class_links,
                           [(v, {"position": i}) for i, v in enumerate(record["vehicle_classes"])],
                           lambda link: link.vehicle_class, lambda key: PolicyVehicleClass(vehicle_class=key))
    changed |= _sync_links(policy.bodies,
                           [((organisation_ids[b["org"]], b["role"]), {"position": i})
                            for i, b in enumerate(record["other_bodies"])],
                           lambda link: (link.organisation_id, link.role),
                           lambda key: PolicyBody(organisation_id=key[0], role=key[1]))
    changed |= _sync_sources(policy.sources, record["sources"])
    changed |= _sync_targets(policy.targets, record.get("targets"))
    return changed


def apply_policy_links(policy: Policy, record: dict[str, Any], policy_ids: dict[str, int],
                       event_ids: dict[str, int]) -> bool:
    """Make ``policy``'s relations and forum links say what a validated record says."""
    wanted_relations = [(i, {"relation_type": r["type"],
                             "target_id": policy_ids[r["target"]] if r["target"] else None,
                             "target_reference": r["target_reference"]})
                        for i, r in enumerate(record["relations"])]
    changed = _sync_links(policy.relations, wanted_relations, lambda rel: rel.position,
                          lambda key: PolicyRelation(position=key))
    wanted_links = [((event_ids[f["event"]], f["role"]),
                     {"evidence": f["evidence"], "evidence_lo": f["evidence_lo"], "source_url": f["source_url"],
                      "position": i})
                    for i, f in enumerate(record["forum_links"])]
    changed |= _sync_links(policy.forum_links, wanted_links, lambda link: (link.event_id, link.role),
                           lambda key: ForumLink(event_id=key[0], role=key[1]))
    return changed


def _date(value: PartialDate | None) -> str | None:
    return value.isoformat() if value else None


# The columns of a step's comment period, by their name in the record format.
WINDOW_COLUMNS = {"opens_on": "comment_opens_on", "closes_on": "comment_closes_on",
                  "how_to_comment_en": "comment_how_en", "how_to_comment_lo": "comment_how_lo",
                  "comment_address": "comment_address", "draft_url": "comment_draft_url"}


def apply_step_extras(change: StatusChange, step: dict[str, Any]) -> bool:
    """Make a step's gazette day and comment period say what a checked step of a record says (the draft's
    attached document, which records do not carry, is kept); True when anything changed."""
    window = step.get("consultation") or {}
    values = {column: window.get(name) for name, column in WINDOW_COLUMNS.items()}
    values["gazetted_on"] = step.get("gazetted_on")
    return assign(change, values)


# ---------------------------------------------------------------------------------------------------
# Reading back: the same format, so that load -> dump -> load changes nothing.


def comment_window_record(change: StatusChange) -> dict[str, Any] | None:
    """A step's comment period in the record format, or None when it has none."""
    window: dict[str, Any] = {name: getattr(change, column) for name, column in WINDOW_COLUMNS.items()}
    if all(value is None for value in window.values()) and change.comment_draft_document_id is None:
        return None
    for name in ("opens_on", "closes_on"):
        window[name] = window[name].isoformat() if window[name] else None
    return window


def step_record(change: StatusChange) -> dict[str, Any]:
    """A step of the status history in the record format; the gazette day and the comment period only when
    known, so that a record without them reads as it did before they existed."""
    step: dict[str, Any] = {"status": change.to_status, "date": _date(change.effective_on), "note": change.note,
                            "note_lo": change.note_lo, "source_url": change.evidence_url}
    if change.gazetted_on is not None:
        step["gazetted_on"] = change.gazetted_on.isoformat()
    window = comment_window_record(change)
    if window is not None:
        step["consultation"] = window
    return step




def organisation_to_record(organisation: Organisation, org_keys: dict[int, str]) -> dict[str, Any]:
    """An organisation in the dataset format."""
    return {"key": organisation.key, "name_en": organisation.name_en, "name_lo": organisation.name_lo,
            "acronym": organisation.acronym, "country": organisation.country, "kind": organisation.kind,
            "parent": org_keys.get(organisation.parent_id) if organisation.parent_id else None}


def event_to_record(event: Event, org_keys: dict[int, str]) -> dict[str, Any]:
    """An event in the dataset format (organisation links and sources must be loaded)."""
    def orgs(role: str) -> list[str]:
        links = sorted((link for link in event.organisation_links if link.role == role),
                       key=lambda link: link.position)
        return [org_keys[link.organisation_id] for link in links]
    return {
        "key": event.key, "name_en": event.name_en, "name_lo": event.name_lo, "kind": event.kind,
        "country": event.jurisdiction_code, "starts_on": _date(event.starts_on),
        "ends_on": _date(event.ends_on), "date_note": event.date_note, "venue": event.venue,
        "organisers": orgs("organiser"), "funders": orgs("funder"), "partners": orgs("partner"),
        "topics": event.topic_keys, "summary_en": event.summary_en, "summary_lo": event.summary_lo,
        "sources": [{"url": s.url, "title": s.title, "published": _date(s.published)}
                    | ({"kind": s.kind} if s.kind else {}) for s in event.sources],
        "editorial_state": event.editorial_state,
    }


def policy_to_record(policy: Policy, org_keys: dict[int, str], event_keys: dict[int, str],
                     policy_keys: dict[int, str], *, only: tuple[str, ...] | None = None) -> dict[str, Any]:
    """A policy in the dataset format (its collections must be loaded; ids are named by key); ``only``
    some of its fields (then only their collections need be loaded)."""
    if only is not None:
        return {name: _POLICY_FIELDS[name](policy, org_keys, event_keys, policy_keys) for name in only}
    return {
        "key": policy.key, "country": policy.jurisdiction_code, "title_en": policy.title_en,
        "title_lo": policy.title_lo, "title_local": policy.title_local, "reference": policy.reference,
        "instrument": policy.instrument,
        "issuer": org_keys[policy.issuer_id] if policy.issuer_id else None,
        "other_bodies": [{"org": org_keys[b.organisation_id], "role": b.role} for b in policy.bodies],
        "topics": policy.topic_keys, "vehicle_classes": policy.vehicle_classes,
        "status": policy.legal_status,
        "status_history": [step_record(c) for c in policy.status_changes],
        "valid_from": _date(policy.valid_from), "valid_to": _date(policy.valid_to),
        "summary_en": policy.summary_en, "summary_lo": policy.summary_lo,
        "relations": _POLICY_FIELDS["relations"](policy, org_keys, event_keys, policy_keys),
        "forum_links": _POLICY_FIELDS["forum_links"](policy, org_keys, event_keys, policy_keys),
        "sources": [{"url": s.url, "title": s.title, "published": _date(s.published), "kind": s.kind}
                    for s in policy.sources],
        "confidence": policy.confidence, "conflicts": list(policy.conflicts or []),
        "targets": [target_to_record(target) for target in policy.targets],
        "editorial_state": policy.editorial_state,
    }


_POLICY_FIELDS: dict[str, Callable[[Policy, dict[int, str], dict[int, str], dict[int, str]], Any]] = {
    "relations": lambda policy, _orgs, _events, policy_keys: [
        {"type": r.relation_type, "target": policy_keys.get(r.target_id) if r.target_id else None,
         "target_reference": r.target_reference} for r in policy.relations],
    "forum_links": lambda policy, _orgs, event_keys, _policies: [
        {"event": event_keys[f.event_id], "role": f.role, "evidence": f.evidence, "evidence_lo": f.evidence_lo,
         "source_url": f.source_url} for f in policy.forum_links],
}


class _StoredPolicy:
    """A policy read with plain row queries, shaped as policy_to_record reads a model: its columns are
    those of the row, its collections lists of rows, in the model's order."""

    _COLLECTIONS = ("topic_links", "vehicle_class_links", "bodies", "sources", "relations", "status_changes",
                    "forum_links", "targets")

    def __init__(self, row: Any) -> None:
        self._row = row
        for name in self._COLLECTIONS:
            setattr(self, name, [])

    def __getattr__(self, name: str) -> Any:  # only for what __init__ did not set: the row's columns
        return getattr(self._row, name)

    # The model's own properties, which read only the link lists set above.
    topic_keys = Policy.topic_keys
    vehicle_classes = Policy.vehicle_classes


def _columns(model: type[Any]) -> list[Any]:
    """Every mapped column attribute of ``model``, so that a row reads like an object of it."""
    from sqlalchemy import inspect

    return [getattr(model, attribute.key) for attribute in inspect(model).column_attrs]


# Each collection of a policy: its model, the column naming the policy, and the model's own order.
_STORED_COLLECTIONS: tuple[tuple[str, type[Any]], ...] = (
    ("topic_links", PolicyTopic), ("vehicle_class_links", PolicyVehicleClass), ("bodies", PolicyBody),
    ("sources", Source), ("relations", PolicyRelation), ("status_changes", StatusChange),
    ("forum_links", ForumLink), ("targets", PolicyTarget))


def stored_policy_records(session: Session, keys: list[str], org_keys: dict[int, str], event_keys: dict[int, str],
                          policy_keys: dict[int, str] | None = None) -> dict[str, dict[str, Any]]:
    """The stored records of the policies named by ``keys`` in the dataset format, as policy_to_record
    gives them, read with one plain query per table and no ORM object: comparing a large file with what
    is stored (imports, where most rows are unchanged) then costs a fraction of loading the models.
    ``policy_keys`` names the targets of relations (looked up when not given)."""
    if not keys:
        return {}
    stored: dict[int, _StoredPolicy] = {}
    for start in range(0, len(keys), 900):  # under SQLite's limit of bound parameters
        for row in session.execute(select(*_columns(Policy)).where(Policy.key.in_(keys[start:start + 900]))):
            stored[row.id] = _StoredPolicy(row)
    ids = list(stored)
    for name, model in _STORED_COLLECTIONS:
        for start in range(0, len(ids), 900):
            statement = (select(*_columns(model)).where(model.policy_id.in_(ids[start:start + 900]))
                         .order_by(model.policy_id, model.position))
            for row in session.execute(statement):
                getattr(stored[row.policy_id], name).append(row)
    if policy_keys is None:
        targets = {r.target_id for p in stored.values() for r in p.relations if r.target_id}
        policy_keys = {}
        for chunk in (list(targets)[i:i + 900] for i in range(0, len(targets), 900)):
            policy_keys.update(session.execute(select(Policy.id, Policy.key).where(Policy.id.in_(chunk))).all())
    return {policy.key: policy_to_record(policy, org_keys, event_keys, policy_keys)  # type: ignore[arg-type]
            for policy in stored.values()}


# What the edit form of a policy shows: every collection but the status timeline and the forum links,
# which change through pages of their own.
_FORM_COLLECTIONS = ("topic_links", "vehicle_class_links", "bodies", "sources", "relations", "targets")


def stored_policy_for_form(session: Session, key: str, states: Collection[str]) -> tuple[Any, dict[str, Any]] | None:
    """The policy named ``key`` (if its editorial state is one of ``states``) as a row of its columns, and
    its record in the dataset format without ``status_history`` and ``forum_links``: read with one plain
    query per table the edit form shows, the keys of the organisations and policies it names joined in
    (a fraction of loading the model with everything its page shows)."""
    policy_statement, collection_statements = _form_statements()
    row = session.execute(policy_statement, {"key": key, "states": list(states)}).one_or_none()
    if row is None:
        return None
    policy = _StoredPolicy(row)
    org_keys: dict[int, str] = {row.issuer_id: row.issuer_key} if row.issuer_id else {}
    policy_keys: dict[int, str] = {}
    for name, statement in collection_statements.items():
        rows = session.execute(statement, {"policy_id": row.id}).all()
        setattr(policy, name, rows)
        if name == "bodies":
            org_keys.update((body.organisation_id, body.org_key) for body in rows)
        elif name == "relations":
            policy_keys.update((relation.target_id, relation.target_key) for relation in rows if relation.target_id)
    record = policy_to_record(policy, org_keys, {}, policy_keys)  # type: ignore[arg-type]
    del record["status_history"], record["forum_links"]
    return row, record


@cache
def _form_statements() -> tuple[Any, dict[str, Any]]:
    """The queries of stored_policy_for_form, built once (building them, aliases included, cost more
    than running them)."""
    issuer, target = aliased(Organisation), aliased(Policy)
    policy = (select(*_columns(Policy), issuer.key.label("issuer_key"))
              .outerjoin(issuer, issuer.id == Policy.issuer_id)
              .where(Policy.key == bindparam("key"), Policy.editorial_state.in_(bindparam("states", expanding=True))))
    collections = {}
    for name, model in _STORED_COLLECTIONS:
        if name not in _FORM_COLLECTIONS:
            continue
        statement = select(*_columns(model)).where(model.policy_id == bindparam("policy_id")).order_by(model.position)
        if model is PolicyBody:
            statement = statement.add_columns(Organisation.key.label("org_key")).join(
                Organisation, Organisation.id == PolicyBody.organisation_id)
        elif model is PolicyRelation:
            statement = statement.add_columns(target.key.label("target_key")).outerjoin(
                target, target.id == PolicyRelation.target_id)
        collections[name] = statement
    return policy, collections


def dump_dataset(session: Session, *, compiled: str, notes: str | None = None) -> dict[str, Any]:
    """Every record in the dataset format, in a stable order (topics and events by position and key)."""
    topics = session.scalars(select(Topic).order_by(Topic.position)).all()
    organisations = session.scalars(select(Organisation).order_by(Organisation.id)).all()
    org_keys = {o.id: o.key for o in organisations}
    events = session.scalars(select(Event).order_by(Event.id).options(
        selectinload(Event.organisation_links), selectinload(Event.topic_links),
        selectinload(Event.sources))).all()
    event_keys = {e.id: e.key for e in events}
    policies = session.scalars(select(Policy).order_by(Policy.id).options(
        selectinload(Policy.topic_links), selectinload(Policy.vehicle_class_links), selectinload(Policy.bodies),
        selectinload(Policy.sources), selectinload(Policy.relations), selectinload(Policy.status_changes),
        selectinload(Policy.forum_links), selectinload(Policy.targets))).all()
    policy_keys = {p.id: p.key for p in policies}

    return {
        "dataset": DATASET_NAME, "version": FORMAT_VERSION, "compiled": compiled, "notes": notes,
        "organisations": [organisation_to_record(o, org_keys) for o in organisations],
        "events": [event_to_record(e, org_keys) for e in events],
        "policies": [policy_to_record(p, org_keys, event_keys, policy_keys) for p in policies],
        "topics": [{"key": t.key, "name_en": t.name_en, "name_lo": t.name_lo} for t in topics],
    }
