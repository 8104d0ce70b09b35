"""Loading and dumping the tracker's JSON dataset: validated first, applied all-or-nothing, idempotent by key."""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from tracker.models import (Event, EventOrganisation, EventTopic, ForumLink, Jurisdiction, Organisation, Policy,
                            PolicyBody, PolicyRelation, PolicyTopic, PolicyVehicleClass, Source, StatusChange,
                            Topic)
from tracker.models.types import PartialDate, PartialDateError, utcnow
from tracker.models.vocab import (BODY_ROLES, CONFIDENCE_LEVELS, EDITORIAL_STATES, EVENT_KINDS, FORUM_ROLES,
                                  INSTRUMENTS, LEGAL_STATUSES, ORGANISATION_KINDS, RELATION_TYPES, SOURCE_KINDS,
                                  VEHICLE_CLASSES)
from tracker.errors import Invalid
from tracker.services.policies import refresh_derived

DATASET_NAME = "asean-ev-policies"
FORMAT_VERSION = 1
KEY_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9_-]{0,118}[a-z0-9])?$")
IMPORTED_BY = "dataset import"
# Keys that would collide with page addresses such as /policies/new.
RESERVED_KEYS = frozenset({"new"})


# Line breaks: kept in multi-line fields (as \n), each turned into a space in single-line ones, as are tabs.
_LINE_BREAKS = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
_SPACING = re.compile("[\t\v\f]")
# Other C0 and C1 control characters (and DEL): invisible, never meant (pasted from PDFs and terminals).
# NUL is left for the checker, which refuses it: it marks binary data, not text.
_CONTROL = re.compile("[\x01-\x08\x0e-\x1f\x7f-\x9f]")


def clean_text(text: str, *, multiline: bool) -> str:
    """Text as the tracker stores it: in a single-line field (a title, a name, a reference) every line break
    and tab becomes a space, since one line break in a title breaks every mail header and feed title it
    reaches; in a multi-line field line breaks become ``\n`` and tabs stay; other control characters are
    dropped everywhere."""
    if multiline:
        text = _LINE_BREAKS.sub("\n", text).replace("\v", " ").replace("\f", " ")
    else:
        text = _SPACING.sub(" ", _LINE_BREAKS.sub(" ", text))
    return _CONTROL.sub("", text)


@dataclass
class DatasetProblem:
    """One thing wrong with a dataset: which record, which field, what is wrong."""

    record: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.record}: {self.field}: {self.message}"


class DatasetInvalid(Invalid):
    """A dataset was refused; nothing of it was written."""

    def __init__(self, problems: list[DatasetProblem]) -> None:
        shown = "\n".join(f"  - {problem}" for problem in problems[:50])
        more = f"\n  ... and {len(problems) - 50} more" if len(problems) > 50 else ""
        super().__init__(f"The dataset was not loaded: {len(problems)} problem(s) found.\n{shown}{more}",
                         {f"{p.record}.{p.field}": p.message for p in problems})
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


# ---------------------------------------------------------------------------------------------------
# Validation: the whole dataset is checked before a single row is written.


class _Checker:
    """Collects problems while reading one record's fields."""

    def __init__(self, problems: list[DatasetProblem], record: str, data: Any) -> None:
        self.problems = problems
        self.record = record
        self.data = data if isinstance(data, dict) else {}
        if not isinstance(data, dict):
            self.fail("(record)", "must be a JSON object")

    def fail(self, name: str, message: str) -> None:
        self.problems.append(DatasetProblem(self.record, name, message))

    def text(self, name: str, *, required: bool = False, max_length: int = 500,
             value: Any = ..., label: str | None = None, multiline: bool = False) -> str | None:
        """Text of at most ``max_length`` characters, cleaned by ``clean_text`` (NUL is refused)."""
        label = label or name
        raw = self.data.get(name) if value is ... else value
        if isinstance(raw, str):
            raw = clean_text(raw, multiline=multiline)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            if required:
                self.fail(label, "is required")
            return None
        if not isinstance(raw, str):
            self.fail(label, f"must be text, not {type(raw).__name__}")
            return None
        if len(raw) > max_length:
            self.fail(label, f"is {len(raw)} characters long; the limit is {max_length}")
            return None
        if "\x00" in raw:
            self.fail(label, "contains a NUL character")
            return None
        return raw

    def choice(self, name: str, allowed: Iterable[str], *, required: bool = True, value: Any = ...,
               label: str | None = None) -> str | None:
        label = label or name
        raw = self.data.get(name) if value is ... else value
        if raw is None:
            if required:
                self.fail(label, "is required")
            return None
        allowed = list(allowed)
        if not isinstance(raw, str) or raw not in allowed:
            self.fail(label, f"'{str(raw)[:60]}' is not one of: {', '.join(allowed)}")
            return None
        return raw

    def date(self, name: str, *, value: Any = ..., label: str | None = None) -> PartialDate | None:
        label = label or name
        raw = self.data.get(name) if value is ... else value
        if raw is None:
            return None
        if not isinstance(raw, str):
            self.fail(label, f"must be a date as text (YYYY, YYYY-MM or YYYY-MM-DD), not {type(raw).__name__}")
            return None
        try:
            return PartialDate.parse(raw)
        except PartialDateError as error:
            self.fail(label, str(error))
            return None

    def url(self, name: str, *, required: bool = False, value: Any = ..., label: str | None = None) -> str | None:
        label = label or name
        raw = self.text(name, required=required, max_length=2000, value=value, label=label)
        if raw is None:
            return None
        try:
            parts = urlsplit(raw)
        except ValueError:  # e.g. an unclosed IPv6 bracket
            parts = None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            self.fail(label, f"'{raw[:80]}' is not an http(s) URL")
            return None
        return raw

    def items(self, name: str) -> list[Any]:
        raw = self.data.get(name)
        if raw is None:
            return []
        if not isinstance(raw, list):
            self.fail(name, "must be a list")
            return []
        return raw

    def keys_in(self, name: str, known: set[str] | dict[str, Any], what: str) -> list[str]:
        values = []
        for index, raw in enumerate(self.items(name)):
            if not isinstance(raw, str) or raw not in known:
                self.fail(f"{name}[{index}]", f"unknown {what} '{str(raw)[:60]}'")
            elif raw in values:
                self.fail(f"{name}[{index}]", f"'{raw}' is listed twice")
            else:
                values.append(raw)
        return values


def _record_key(problems: list[DatasetProblem], kind: str, index: int, data: Any, seen: set[str]) -> str:
    label = f"{kind}[{index}]"
    key = data.get("key") if isinstance(data, dict) else None
    if not isinstance(key, str) or not KEY_PATTERN.fullmatch(key) or key in RESERVED_KEYS:
        problems.append(DatasetProblem(label, "key", "must be lower-case letters, digits, '-' or '_' "
                                                     "(at most 120), starting and ending with a letter or digit"))
        return label
    if key in seen:
        problems.append(DatasetProblem(f"{kind} '{key}'", "key", "is used by two records"))
    seen.add(key)
    return key


def validate_dataset(data: Any, jurisdictions: set[str], existing_keys: dict[str, set[str]]) -> dict[str, list]:
    """Check a whole dataset and return its records normalised to the dump format.

    Raises:
        DatasetInvalid: listing every problem found, each naming the record key and the field.
    """
    problems: list[DatasetProblem] = []
    if not isinstance(data, dict):
        raise DatasetInvalid([DatasetProblem("(dataset)", "(top level)", "must be a JSON object")])
    for name in ("topics", "organisations", "events", "policies"):
        if name in data and not isinstance(data[name], list):
            problems.append(DatasetProblem("(dataset)", name, "must be a list"))
    if problems:
        raise DatasetInvalid(problems)

    keys: dict[str, set[str]] = {kind: set() for kind in ("topics", "organisations", "events", "policies")}
    raw_records = {kind: data.get(kind) or [] for kind in keys}
    singular = {"topics": "topic", "organisations": "organisation", "events": "event", "policies": "policy"}
    record_keys = {kind: [_record_key(problems, singular[kind], i, record, keys[kind])
                          for i, record in enumerate(raw_records[kind])] for kind in keys}
    known = {kind: keys[kind] | existing_keys.get(kind, set()) for kind in keys}

    out: dict[str, list] = {"topics": [], "organisations": [], "events": [], "policies": []}
    for key, record in zip(record_keys["topics"], raw_records["topics"]):
        check = _Checker(problems, f"topic '{key}'", record)
        out["topics"].append({"key": key, "name_en": check.text("name_en", required=True, max_length=200),
                              "name_lo": check.text("name_lo", max_length=200)})
    for key, record in zip(record_keys["organisations"], raw_records["organisations"]):
        check = _Checker(problems, f"organisation '{key}'", record)
        country = check.text("country", max_length=8)
        if country is not None and not re.fullmatch(r"[A-Z]{2}|ASEAN|INTL", country):
            check.fail("country", f"'{country}' is not an ISO 3166-1 alpha-2 code, ASEAN or INTL")
        out["organisations"].append(validate_organisation(check, key, known["organisations"], country=country))
    for key, record in zip(record_keys["events"], raw_records["events"]):
        out["events"].append(_validate_event(_Checker(problems, f"event '{key}'", record), key,
                                             jurisdictions, known))
    for key, record in zip(record_keys["policies"], raw_records["policies"]):
        out["policies"].append(_validate_policy(_Checker(problems, f"policy '{key}'", record), key,
                                                jurisdictions, known))
    if problems:
        raise DatasetInvalid(problems)
    return out


def validate_organisation(check: _Checker, key: str, organisation_keys: set[str], *, country: Any = ...) -> dict:
    """An organisation record: a name in English or Lao (or both), an acronym, a country, a kind and
    optionally the key of the body it belongs to."""
    if country is ...:
        country = check.text("country", max_length=8)
        if country is not None and not re.fullmatch(r"[A-Z]{2}|ASEAN|INTL", country):
            check.fail("country", f"'{country}' is not an ISO 3166-1 alpha-2 code, ASEAN or INTL")
    record = {"key": key, "name_en": check.text("name_en", max_length=300),
              "name_lo": check.text("name_lo", max_length=300),
              "acronym": check.text("acronym", max_length=40), "country": country,
              "kind": check.choice("kind", ORGANISATION_KINDS), "parent": None}
    _require_one(check, record, "name_en", "name_lo", "needs a name in English or in Lao")
    parent = check.data.get("parent")
    if parent is not None:
        if not isinstance(parent, str) or parent not in organisation_keys:
            check.fail("parent", f"unknown organisation '{str(parent)[:60]}'")
        elif parent == key:
            check.fail("parent", "an organisation cannot be its own parent")
        else:
            record["parent"] = parent
    return record


def _require_one(check: _Checker, record: dict, first: str, second: str, message: str) -> None:
    """A record needs ``first`` or ``second`` (a title in English or in Lao): named on ``first``."""
    failed = {problem.field for problem in check.problems if problem.record == check.record}
    if record[first] is None and record[second] is None and not failed & {first, second}:
        check.fail(first, message)


def _validate_sources(check: _Checker, with_kind: bool) -> list[dict]:
    sources = []
    for index, raw in enumerate(check.items("sources")):
        label = f"sources[{index}]"
        if not isinstance(raw, dict):
            check.fail(label, "must be an object")
            continue
        source = {"url": check.url("", required=True, value=raw.get("url"), label=f"{label}.url"),
                  "title": check.text("", max_length=1000, value=raw.get("title"), label=f"{label}.title"),
                  "published": check.date("", value=raw.get("published"), label=f"{label}.published")}
        if with_kind or raw.get("kind") is not None:
            source["kind"] = check.choice("", SOURCE_KINDS, required=False, value=raw.get("kind"),
                                          label=f"{label}.kind")
        sources.append(source)
    return sources


def _validate_event(check: _Checker, key: str, jurisdictions: set[str], known: dict[str, set[str]]) -> dict:
    event = {
        "key": key,
        "name_en": check.text("name_en"),
        "name_lo": check.text("name_lo"),
        "kind": check.choice("kind", EVENT_KINDS),
        "country": check.choice("country", sorted(jurisdictions), required=False),
        "starts_on": check.date("starts_on"),
        "ends_on": check.date("ends_on"),
        "date_note": check.text("date_note", max_length=5000, multiline=True),
        "venue": check.text("venue"),
    }
    _require_one(check, event, "name_en", "name_lo", "needs a name in English or in Lao")
    if event["starts_on"] and event["ends_on"] and event["ends_on"].latest() < event["starts_on"].earliest():
        check.fail("ends_on", "is before starts_on")
    for role in ("organisers", "funders", "partners"):
        event[role] = check.keys_in(role, known["organisations"], "organisation")
    event["topics"] = check.keys_in("topics", known["topics"], "topic")
    event["summary_en"] = check.text("summary_en", max_length=20000, multiline=True)
    event["summary_lo"] = check.text("summary_lo", max_length=20000, multiline=True)
    event["sources"] = _validate_sources(check, with_kind=False)
    event["editorial_state"] = check.choice("editorial_state", EDITORIAL_STATES, required=False) or "published"
    return event


def _validate_policy(check: _Checker, key: str, jurisdictions: set[str], known: dict[str, set[str]]) -> dict:
    policy: dict[str, Any] = {
        "key": key,
        "country": check.choice("country", sorted(jurisdictions)),
        "title_en": check.text("title_en"),
        "title_lo": check.text("title_lo"),
        "title_local": check.text("title_local"),
        "reference": check.text("reference", max_length=300),
        "instrument": check.choice("instrument", INSTRUMENTS),
        "issuer": None,
        "other_bodies": [],
    }
    _require_one(check, policy, "title_en", "title_lo", "needs a title in English or in Lao")
    issuer = check.data.get("issuer")
    if issuer is not None and (not isinstance(issuer, str) or issuer not in known["organisations"]):
        check.fail("issuer", f"unknown organisation '{str(issuer)[:60]}'")
    else:
        policy["issuer"] = issuer
    seen_bodies = set()
    for index, raw in enumerate(check.items("other_bodies")):
        label = f"other_bodies[{index}]"
        if not isinstance(raw, dict):
            check.fail(label, "must be an object with org and role")
            continue
        if not isinstance(raw.get("org"), str) or raw["org"] not in known["organisations"]:
            check.fail(f"{label}.org", f"unknown organisation '{str(raw.get('org'))[:60]}'")
            continue
        role = check.choice("", BODY_ROLES, value=raw.get("role"), label=f"{label}.role")
        if role and (raw["org"], role) in seen_bodies:
            check.fail(label, "is listed twice")
        elif role:
            seen_bodies.add((raw["org"], role))
            policy["other_bodies"].append({"org": raw["org"], "role": role})
    policy["topics"] = check.keys_in("topics", known["topics"], "topic")
    policy["vehicle_classes"] = check.keys_in("vehicle_classes", set(VEHICLE_CLASSES), "vehicle class")

    history = []
    for index, raw in enumerate(check.items("status_history")):
        label = f"status_history[{index}]"
        if not isinstance(raw, dict):
            check.fail(label, "must be an object")
            continue
        history.append({
            "status": check.choice("", LEGAL_STATUSES, value=raw.get("status"), label=f"{label}.status"),
            "date": check.date("", value=raw.get("date"), label=f"{label}.date"),
            "note": check.text("", max_length=5000, value=raw.get("note"), label=f"{label}.note", multiline=True),
            "note_lo": check.text("", max_length=5000, value=raw.get("note_lo"), label=f"{label}.note_lo",
                                  multiline=True),
            "source_url": check.url("", value=raw.get("source_url"), label=f"{label}.source_url"),
        })
    status = check.choice("status", LEGAL_STATUSES, required=False)
    if not history and status:
        check.fail("status_history", "is empty: a status needs at least one dated or undated step")
    elif history and status and history[-1]["status"] and history[-1]["status"] != status:
        check.fail("status", f"'{status}' differs from the last step of status_history "
                              f"('{history[-1]['status']}')")
    policy["status"] = status
    policy["status_history"] = history
    policy["valid_from"] = check.date("valid_from")
    policy["valid_to"] = check.date("valid_to")
    if policy["valid_from"] and policy["valid_to"] and policy["valid_to"].latest() < policy["valid_from"].earliest():
        check.fail("valid_to", "is before valid_from")
    policy["summary_en"] = check.text("summary_en", max_length=20000, multiline=True)
    policy["summary_lo"] = check.text("summary_lo", max_length=20000, multiline=True)

    relations = []
    for index, raw in enumerate(check.items("relations")):
        label = f"relations[{index}]"
        if not isinstance(raw, dict):
            check.fail(label, "must be an object")
            continue
        relation_type = check.choice("", RELATION_TYPES, value=raw.get("type"), label=f"{label}.type")
        target = raw.get("target")
        reference = check.text("", max_length=500, value=raw.get("target_reference"),
                               label=f"{label}.target_reference")
        if target is not None and (not isinstance(target, str) or target not in known["policies"]):
            check.fail(f"{label}.target", f"unknown policy '{str(target)[:60]}'")
        elif target == key:
            check.fail(f"{label}.target", "a policy cannot relate to itself")
        elif target is None and reference is None:
            check.fail(label, "needs a target policy key or a target_reference")
        relations.append({"type": relation_type, "target": target, "target_reference": reference})

    links = []
    seen_links = set()
    for index, raw in enumerate(check.items("forum_links")):
        label = f"forum_links[{index}]"
        if not isinstance(raw, dict):
            check.fail(label, "must be an object")
            continue
        event_key = raw.get("event") if isinstance(raw.get("event"), str) else None
        if event_key not in known["events"]:
            check.fail(f"{label}.event", f"unknown event '{str(raw.get('event'))[:60]}'")
        role = check.choice("", FORUM_ROLES, value=raw.get("role"), label=f"{label}.role")
        if (event_key, role) in seen_links:
            check.fail(label, "links the same event with the same role twice")
        seen_links.add((event_key, role))
        links.append({"event": raw.get("event"), "role": role,
                      "evidence": check.text("", max_length=5000, value=raw.get("evidence"),
                                             label=f"{label}.evidence", multiline=True),
                      "evidence_lo": check.text("", max_length=5000, value=raw.get("evidence_lo"),
                                                label=f"{label}.evidence_lo", multiline=True),
                      "source_url": check.url("", value=raw.get("source_url"), label=f"{label}.source_url")})
    policy["relations"] = relations
    policy["forum_links"] = links
    policy["sources"] = _validate_sources(check, with_kind=True)
    policy["confidence"] = check.choice("confidence", CONFIDENCE_LEVELS, required=False)
    conflicts = []
    for index, raw in enumerate(check.items("conflicts")):
        text = check.text("", required=True, max_length=5000, value=raw, label=f"conflicts[{index}]")
        if text is not None:
            conflicts.append(text)
    policy["conflicts"] = conflicts
    policy["editorial_state"] = check.choice("editorial_state", EDITORIAL_STATES, required=False) or "published"
    return policy


# ---------------------------------------------------------------------------------------------------
# Applying: every change inside the caller's transaction; the caller commits once.


def _assign(obj: Any, values: dict[str, Any]) -> bool:
    changed = False
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed = True
    return changed


def _sync_links(current: list, wanted: list[tuple[Any, dict[str, Any]]], key_of: Callable[[Any], Any],
                factory: Callable[[Any], Any]) -> bool:
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
        item = by_key.get(key)
        if item is None:
            item = factory(key)
            current.append(item)
        _assign(item, attrs)
    return True


def _sync_sources(current: list[Source], wanted: list[dict]) -> bool:
    def row(source: Source) -> dict:
        return {"url": source.url, "title": source.title, "published": source.published, "kind": source.kind}
    normalised = [{"url": s["url"], "title": s["title"], "published": s["published"], "kind": s.get("kind")}
                  for s in wanted]
    if [row(s) for s in current] == normalised:
        return False
    current.clear()
    current.extend(Source(position=i, **values) for i, values in enumerate(normalised))
    return True


def apply_event(event: Event, record: dict, organisation_ids: dict[str, int]) -> bool:
    """Make ``event`` say what a validated record says; True when anything changed."""
    changed = _assign(event, {
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


def apply_policy(policy: Policy, record: dict, organisation_ids: dict[str, int]) -> bool:
    """Make ``policy``'s own fields, topics, classes, bodies and sources say what a validated record says
    (relations, forum links and the status history are applied separately)."""
    changed = _assign(policy, {
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
    return changed


def apply_policy_links(policy: Policy, record: dict, policy_ids: dict[str, int], event_ids: dict[str, int]) -> bool:
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
        tally("topics", created, _assign(topic, {"name_en": record["name_en"], "name_lo": record["name_lo"]}))

    organisations = {o.key: o for o in session.scalars(select(Organisation))}
    for record in records["organisations"]:
        organisation = organisations.get(record["key"])
        created = organisation is None
        if organisation is None:
            organisation = Organisation(key=record["key"])
            session.add(organisation)
            organisations[organisation.key] = organisation
        tally("organisations", created, _assign(organisation, {k: v for k, v in record.items()
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


def _audit_import(session: Session, entity_type: str, record: Policy | Event, before: dict | None,
                  after: dict) -> None:
    """A created record gets one entry; an updated one an entry per changed field, so an import never
    overwrites what staff entered without a trace."""
    from tracker.services.audit import IMPORT_ACTOR, field_changes, write_audit

    if before is None:
        write_audit(session, entity_type, record, "import", None, [(None, None, None)], actor_label=IMPORT_ACTOR)
        return
    changes = field_changes(before, after, [name for name in after if name != "key"])
    if changes:
        write_audit(session, entity_type, record, "import", None, changes, actor_label=IMPORT_ACTOR)


def _append_history(policy: Policy, steps: list[dict]) -> bool:
    """Append the steps not yet in the policy's history, in the dataset's order; never rewrite one."""
    def identity(status: str, date: PartialDate | None, note: str | None, note_lo: str | None,
                 url: str | None) -> tuple:
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


# ---------------------------------------------------------------------------------------------------
# Dumping: the same format back, so that load -> dump -> load changes nothing.


def _date(value: PartialDate | None) -> str | None:
    return value.isoformat() if value else None


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
                     policy_keys: dict[int, str]) -> dict[str, Any]:
    """A policy in the dataset format (its collections must be loaded; ids are named by key)."""
    return {
        "key": policy.key, "country": policy.jurisdiction_code, "title_en": policy.title_en,
        "title_lo": policy.title_lo, "title_local": policy.title_local, "reference": policy.reference,
        "instrument": policy.instrument,
        "issuer": org_keys[policy.issuer_id] if policy.issuer_id else None,
        "other_bodies": [{"org": org_keys[b.organisation_id], "role": b.role} for b in policy.bodies],
        "topics": policy.topic_keys, "vehicle_classes": policy.vehicle_classes,
        "status": policy.legal_status,
        "status_history": [{"status": c.to_status, "date": _date(c.effective_on), "note": c.note,
                            "note_lo": c.note_lo, "source_url": c.evidence_url} for c in policy.status_changes],
        "valid_from": _date(policy.valid_from), "valid_to": _date(policy.valid_to),
        "summary_en": policy.summary_en, "summary_lo": policy.summary_lo,
        "relations": [{"type": r.relation_type, "target": policy_keys.get(r.target_id) if r.target_id else None,
                       "target_reference": r.target_reference} for r in policy.relations],
        "forum_links": [{"event": event_keys[f.event_id], "role": f.role, "evidence": f.evidence,
                         "evidence_lo": f.evidence_lo, "source_url": f.source_url} for f in policy.forum_links],
        "sources": [{"url": s.url, "title": s.title, "published": _date(s.published), "kind": s.kind}
                    for s in policy.sources],
        "confidence": policy.confidence, "conflicts": list(policy.conflicts or []),
        "editorial_state": policy.editorial_state,
    }


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
        selectinload(Policy.forum_links))).all()
    policy_keys = {p.id: p.key for p in policies}

    return {
        "dataset": DATASET_NAME, "version": FORMAT_VERSION, "compiled": compiled, "notes": notes,
        "organisations": [organisation_to_record(o, org_keys) for o in organisations],
        "events": [event_to_record(e, org_keys) for e in events],
        "policies": [policy_to_record(p, org_keys, event_keys, policy_keys) for p in policies],
        "topics": [{"key": t.key, "name_en": t.name_en, "name_lo": t.name_lo} for t in topics],
    }
