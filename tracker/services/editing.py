"""Changing records: create and edit policies and events, status changes, publication, forum links.

Every change is validated whole before anything is written, checked against the version the editor
read, and written to the audit trail field by field in the same transaction. Services flush; the
caller commits once.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.exc import StaleDataError

from tracker.errors import Conflict, Forbidden, Invalid, MergeConflict, NotFound, StaleEdit
from tracker.models import AuditEntry, Document, Event, Jurisdiction, Organisation, Policy, StatusChange, Topic, User
from tracker.models.types import PartialDate, PartialDateError, utcnow
from tracker.models.vocab import EDITORIAL_STATES, LEGAL_STATUSES
from tracker.notifications.outbox import record_event
from tracker.notifications.payloads import policy_payload
from tracker.services import consultations, permalinks, records, staff_mail
from tracker.services.audit import field_changes, write_audit
from tracker.services.keys import slugify, unique_key
from tracker.services.merging import MergePlan, jsonable, plan_merge, values_at_version
from tracker.services.permissions import can_edit_record, has_permission, require
from tracker.services.policies import refresh_derived, visible_states
from tracker.services.record_checks import (
    RecordCheck,
    RecordProblem,
    check_event,
    check_key,
    check_policy,
    checked_input,
    checked_text,
    date_error,
    problems_to_invalid,
)
from tracker.translation import gettext as _

if TYPE_CHECKING:
    from tracker.errors import FieldError

# Fields of the dataset format an edit may change; status and history change only through status
# changes, the editorial state only through publication.
POLICY_FIELDS = ("country", "title_en", "title_lo", "title_local", "reference", "instrument", "issuer",
                 "other_bodies", "topics", "vehicle_classes", "valid_from", "valid_to", "summary_en",
                 "summary_lo", "relations", "forum_links", "sources", "confidence", "conflicts", "targets")
EVENT_FIELDS = ("name_en", "name_lo", "kind", "country", "starts_on", "ends_on", "date_note", "venue",
                "organisers", "funders", "partners", "topics", "summary_en", "summary_lo", "sources")
FIELDS = {"policy": POLICY_FIELDS, "event": EVENT_FIELDS,
          "organisation": ("name_en", "name_lo", "acronym", "country", "kind", "parent")}

# The legal status table: from each status, the statuses an instrument normally moves to. Recording
# the same status again (new evidence for it) is always allowed. Anything else needs a reviewer and a
# written reason.
TRANSITIONS: dict[str, frozenset[str]] = {
    "proposed": frozenset({"drafting", "consultation", "adopted", "withdrawn"}),
    "drafting": frozenset({"consultation", "adopted", "withdrawn"}),
    "consultation": frozenset({"drafting", "adopted", "withdrawn"}),
    "adopted": frozenset({"in_force", "suspended", "superseded", "repealed"}),
    "in_force": frozenset({"suspended", "expired", "superseded", "repealed"}),
    "suspended": frozenset({"in_force", "expired", "superseded", "repealed"}),
    "expired": frozenset(),
    "superseded": frozenset(),
    "repealed": frozenset(),
    "withdrawn": frozenset(),
    "unknown": frozenset(LEGAL_STATUSES) - {"unknown"},
}

# Editorial workflow: from each state, the states a record may move to, and the permission needed.
EDITORIAL_TRANSITIONS: dict[str, dict[str, str]] = {
    "draft": {"in_review": "submit_for_review", "published": "publish"},
    "in_review": {"draft": "submit_for_review", "published": "publish"},
    "published": {"archived": "publish", "draft": "publish"},
    "archived": {"published": "publish", "draft": "publish"},
}


def transition_allowed(previous: str | None, new: str) -> bool:
    """Whether moving from ``previous`` (None: first step) to ``new`` is in the transition table."""
    return previous is None or previous == new or new in TRANSITIONS[previous]


# ---------------------------------------------------------------------------------------------------
# Loading and describing records


def _policy_for_edit(session: Session, key: str, *, lock: bool = True) -> Policy:
    """The policy with everything an edit reads, its row locked until the transaction ends.

    Lock order (the same in every write path, so two writers never wait on each other in a cycle):
    1. the row of the record being changed (``SELECT ... FOR UPDATE``, taken first, before any write);
    2. the rows the change inserts or updates under it (status steps, links, audit entries, outbox);
    3. the content version row, bumped last, just before COMMIT (tracker.models.content_version).
    On SQLite the write lock is the whole database, taken at BEGIN IMMEDIATE, so there is no order to keep.
    """
    statement = select(Policy).where(Policy.key == key).options(
        selectinload(Policy.topic_links), selectinload(Policy.vehicle_class_links), selectinload(Policy.bodies),
        selectinload(Policy.sources), selectinload(Policy.relations), selectinload(Policy.status_changes),
        selectinload(Policy.forum_links), selectinload(Policy.targets))
    if lock:
        statement = statement.with_for_update(of=Policy)
    # A copy read earlier in the request (before the lock) must not hide a newer committed version.
    policy = session.scalars(statement.execution_options(populate_existing=True)).one_or_none()
    if policy is None:
        raise NotFound(_("There is no policy with the key '%(key)s'.", key=key[:120]))
    return policy


def _event_for_edit(session: Session, key: str, *, lock: bool = True) -> Event:
    """The event with everything an edit reads, its row locked first (see _policy_for_edit)."""
    statement = select(Event).where(Event.key == key).options(
        selectinload(Event.organisation_links), selectinload(Event.topic_links), selectinload(Event.sources))
    if lock:
        statement = statement.with_for_update(of=Event)
    event = session.scalars(statement.execution_options(populate_existing=True)).one_or_none()
    if event is None:
        raise NotFound(_("There is no event with the key '%(key)s'.", key=key[:120]))
    return event


class _Keys:
    """Keys of every referenceable record, read once per change (small tables, one query each)."""

    def __init__(self, session: Session) -> None:
        self.org_ids = dict(session.execute(select(Organisation.key, Organisation.id)).all())
        self.event_ids = dict(session.execute(select(Event.key, Event.id)).all())
        self.policy_ids = dict(session.execute(select(Policy.key, Policy.id)).all())
        self.topics = set(session.scalars(select(Topic.key)))
        self.jurisdictions = set(session.scalars(select(Jurisdiction.code)))

    def known(self) -> dict[str, set[str]]:
        return {"organisations": set(self.org_ids), "events": set(self.event_ids),
                "policies": set(self.policy_ids), "topics": self.topics}

    def by_id(self, mapping: dict[str, int]) -> dict[int, str]:
        return {value: key for key, value in mapping.items()}


def policy_record(session: Session, policy: Policy, keys: _Keys | None = None) -> dict[str, Any]:
    """The policy in the dataset format (the shape of the API's write bodies)."""
    keys = keys or _Keys(session)
    return records.policy_to_record(policy, keys.by_id(keys.org_ids), keys.by_id(keys.event_ids),
                                    keys.by_id(keys.policy_ids))


def policy_for_form(session: Session, key: str) -> tuple[Any, dict[str, Any]]:
    """What the edit form of the policy ``key`` shows, in any editorial state: the policy as a row of its
    columns (key, titles, editorial state, version) and its record as ``policy_record`` gives it, without
    the status timeline and the forum links (changed on pages of their own); a few plain row queries.

    Raises:
        NotFound: when no policy has this key.
    """
    if "\x00" not in key:  # no key holds NUL, and PostgreSQL refuses it in any string parameter
        found = records.stored_policy_for_form(session, key, visible_states(True))
        if found is not None:
            return found
    raise NotFound(_("There is no policy with the key '%(key)s'.", key=key[:120].replace("\x00", "")))


def event_record(session: Session, event: Event, keys: _Keys | None = None) -> dict[str, Any]:
    """The event in the dataset format."""
    keys = keys or _Keys(session)
    return records.event_to_record(event, keys.by_id(keys.org_ids))


def _problems_to_invalid(problems: list[RecordProblem]) -> Invalid:
    return problems_to_invalid(problems, _("Some fields are not valid."))


def _reject_unknown_fields(data: Mapping[str, Any], allowed: tuple[str, ...], also: tuple[str, ...] = ()) -> None:
    unknown = [name for name in data if name not in allowed and name not in also]
    if unknown:
        raise Invalid(_("Some fields are not known."),
                      dict.fromkeys((name[:60] for name in unknown),
                                    _("This field does not exist or cannot be changed here.")))


def _words(value: Any) -> str:
    """Text with ASCII letters or digits in it (a Lao title alone gives none), else ''."""
    return value if isinstance(value, str) and re.search(r"[A-Za-z0-9]", slugify(value)) else ""


def _policy_key_base(data: Mapping[str, Any]) -> str:
    """A key for a new policy: from its English title; a Lao-only record from its instrument and
    reference number (Lao titles have no Latin letters to make an address of), else its instrument."""
    country = str(data.get("country") or "")
    if _words(data.get("title_en")):
        return slugify(data["title_en"], prefix=country)
    instrument = data.get("instrument") if isinstance(data.get("instrument"), str) else "policy"
    return slugify(f"{instrument} {_words(data.get('reference'))}", prefix=country)


def _event_key_base(data: Mapping[str, Any]) -> str:
    if _words(data.get("name_en")):
        return slugify(data["name_en"])
    kind = data.get("kind") if isinstance(data.get("kind"), str) else "event"
    return slugify(f"{kind} {data.get('starts_on') or ''}", prefix=str(data.get("country") or ""))


def _check_version(entity_type: str, record: Policy | Event, expected: int | None,
                   session: Session) -> None:
    if expected is None or expected == record.version:
        return
    changes = session.scalars(select(AuditEntry).where(
        AuditEntry.entity_type == entity_type, AuditEntry.entity_id == record.id,
        AuditEntry.version > expected).order_by(AuditEntry.id)).all()
    raise StaleEdit(_("This record was changed by someone else since you opened it (you edited version "
                      "%(expected)s; it is now at version %(current)s).", expected=expected,
                      current=record.version),
                    record.version, list(changes))


def _touch(record: Policy | Event) -> None:
    """Mark the record's own row changed, so its version moves even when only its lists changed
    (SQLAlchemy moves a version only when the row itself is updated)."""
    record.updated_at = utcnow()


def _flush(session: Session, entity_type: str, record: Policy | Event) -> None:
    """Flush; an UPDATE that matched no row means another transaction changed the record first."""
    # Read before flushing: after a failed flush the record's attributes can no longer be loaded.
    model, record_id = type(record), record.id
    try:
        session.flush()
    except IntegrityError:
        # Another transaction took the same key or link between our check and our write.
        raise Conflict(_("Another change took the same key or link at the same moment; nothing was saved. "
                         "Reload and try again.")) from None
    except StaleDataError:
        raise StaleEdit(_("This record was changed by someone else at the same moment; reload it and "
                          "apply your change again."), _committed_version(session, model, record_id)) from None


def _committed_version(session: Session, model: type[Policy] | type[Event], record_id: int) -> int:
    """The version another transaction committed, read beside the failed flush's transaction."""
    bind = session.get_bind()
    statement = select(model.version).where(model.id == record_id)
    if isinstance(bind, Connection):
        return bind.execute(statement).scalar_one()
    with bind.connect() as connection:
        return connection.execute(statement).scalar_one()


def _audit(session: Session, entity_type: str, record: Policy | Event, action: str, actor: User | None,
           changes: Sequence[tuple[str | None, Any, Any]], *, reason: str | None = None,
           details: dict[str, Any] | None = None) -> None:
    write_audit(session, entity_type, record, action, actor, changes, reason=reason, details=details)


def _diff(before: Mapping[str, Any], after: Mapping[str, Any], fields: tuple[str, ...]) -> list[tuple[str, Any, Any]]:
    return field_changes(before, after, fields)


def _text(value: Any, field: str, errors: dict[str, str | FieldError], *, max_length: int, required: bool = False,
          multiline: bool = True) -> str | None:
    text, error = checked_text(value, max_length=max_length, required=required, multiline=multiline)
    if error is not None:
        errors[field] = error
    return text


# ---------------------------------------------------------------------------------------------------
# Policies


def create_policy(session: Session, data: Mapping[str, Any], actor: User) -> Policy:
    """Create a draft policy from a record in the dataset format (``key`` optional: made from the title).

    The first status step is ``status`` (default "proposed") effective ``status_effective_on``.

    Raises:
        Forbidden: the actor may not edit. Invalid: names each field that is wrong.
    """
    require(actor, "edit")
    if not isinstance(data, Mapping):
        raise Invalid(_("The policy must be a JSON object."), {"body": _("Send a JSON object.")})
    _reject_unknown_fields(data, POLICY_FIELDS, ("key", "status", "status_effective_on", "status_note",
                                                 "status_note_lo", "status_evidence_url"))
    keys = _Keys(session)
    key = data.get("key")
    if key is None:
        key = unique_key(_policy_key_base(data), set(keys.policy_ids))
    if key in keys.policy_ids:
        raise Invalid(_("The key is taken."), {"key": _("A policy with the key '%(key)s' already exists.",
                                                        key=key)})
    raw = {name: data.get(name) for name in POLICY_FIELDS}
    for name in ("other_bodies", "topics", "vehicle_classes", "relations", "forum_links", "sources", "conflicts",
                 "targets"):
        raw[name] = raw[name] if raw[name] is not None else []
    status = data.get("status") or "proposed"
    raw.update(key=key, status=status, editorial_state="draft", status_history=[{
        "status": status, "date": data.get("status_effective_on"),
        "note": data.get("status_note") or None, "note_lo": data.get("status_note_lo") or None,
        "source_url": data.get("status_evidence_url") or None}])
    problems: list[RecordProblem] = []
    record = check_policy(RecordCheck(problems, "policy", raw, "policy", keys.jurisdictions),
                          key if isinstance(key, str) else "", keys.known())
    key_error = check_key(key)
    if key_error is not None:
        problems.append(RecordProblem("policy", "key", key_error))
    if problems:
        raise _problems_to_invalid([_rename_status_problem(p) for p in problems])

    policy = Policy(key=key, topic_links=[], vehicle_class_links=[], bodies=[], sources=[], relations=[],
                    status_changes=[], forum_links=[], targets=[])
    session.add(policy)
    records.apply_policy(policy, record, keys.org_ids)
    # Validation refuses relations to itself, so the new policy's own id is not needed here.
    records.apply_policy_links(policy, record, keys.policy_ids, keys.event_ids)
    step = record["status_history"][0]
    policy.status_changes.append(StatusChange(
        position=1, from_status=None, to_status=step["status"], effective_on=step["date"], note=step["note"],
        note_lo=step["note_lo"], evidence_url=step["source_url"], recorded_by=actor.email, recorded_by_id=actor.id,
        recorded_at=utcnow()))
    refresh_derived(policy)
    _flush(session, "policy", policy)
    after = policy_record(session, policy, keys)
    _audit(session, "policy", policy, "create", actor,
           [(name, None, after[name]) for name in POLICY_FIELDS + ("status",) if after[name] not in (None, [])])
    session.flush()
    return policy


def _rename_status_problem(problem: RecordProblem) -> RecordProblem:
    field = {"status_history[0].date": "status_effective_on", "status_history[0].note": "status_note",
             "status_history[0].note_lo": "status_note_lo",
             "status_history[0].source_url": "status_evidence_url",
             "status_history[0].status": "status"}.get(problem.field, problem.field)
    return RecordProblem(problem.record, field, problem.error)


def update_policy(session: Session, key: str, changes: Mapping[str, Any], actor: User | None,
                  expected_version: int | None, *, action: str = "update", reason: str | None = None,
                  base_version: int | None = None, details: dict[str, Any] | None = None) -> Policy:
    """Change some fields of a policy (fields absent from ``changes`` keep their value).

    ``expected_version``: the edit is refused (StaleEdit) unless the policy is still at that version.
    ``base_version`` instead: ``changes`` were made from that version and are merged three ways on top of
    whatever others saved since (see tracker.services.merging); only fields changed on both sides stop it.

    Raises:
        NotFound. Forbidden: the actor may not edit this record. StaleEdit: ``expected_version`` is old.
        MergeConflict: with ``base_version``, a field was changed differently on both sides.
        Invalid: names each field that is wrong.
    """
    if not isinstance(changes, Mapping):
        raise Invalid(_("The changes must be a JSON object."), {"body": _("Send a JSON object.")})
    policy = _policy_for_edit(session, key)
    if not can_edit_record(actor, policy.editorial_state):
        raise Forbidden(_("You may not edit this record: editors edit drafts and records in review; "
                          "a reviewer edits published records."))
    _check_version("policy", policy, expected_version, session)
    _reject_unknown_fields(changes, POLICY_FIELDS)
    keys = _Keys(session)
    before = policy_record(session, policy, keys)
    if base_version is not None and base_version != policy.version:
        changes, details = _merged_changes("policy", session, policy, before, changes, base_version, keys, details)
    merged = before | dict(changes)
    problems: list[RecordProblem] = []
    record = check_policy(RecordCheck(problems, "policy", merged, "policy", keys.jurisdictions), key, keys.known())
    if problems:
        raise _problems_to_invalid(problems)
    changed = records.apply_policy(policy, record, keys.org_ids)
    changed |= records.apply_policy_links(policy, record, keys.policy_ids, keys.event_ids)
    refresh_derived(policy)
    if changed:
        _touch(policy)
    _flush(session, "policy", policy)
    after = policy_record(session, policy, keys)
    _audit(session, "policy", policy, action, actor, _diff(before, after, POLICY_FIELDS), reason=reason,
           details=details)
    validity_moved = any(before.get(name) != after.get(name) for name in ("valid_from", "valid_to"))
    if policy.editorial_state == "published" and validity_moved:
        # Partners follow validity windows (incentives end on fixed dates): tell them when one moves.
        record_event(session, "policy.validity_changed", policy=policy, payload=policy_payload(
            policy, old_valid_from=before.get("valid_from"), old_valid_to=before.get("valid_to")))
    session.flush()
    return policy


def _canonical(entity_type: str, session: Session, current: Mapping[str, Any], submitted: Mapping[str, Any],
               keys: _Keys) -> dict[str, Any]:
    """The submitted fields in the form the record itself is read in (dates written out the same way,
    control characters cleaned...), so that "unchanged" compares equal; a field that does not validate
    keeps its value as sent (it will be refused when saved)."""
    problems: list[RecordProblem] = []
    checker = RecordCheck(problems, entity_type, dict(current) | dict(submitted), entity_type, keys.jurisdictions)
    if entity_type == "policy":
        validated = check_policy(checker, current.get("key") or "", keys.known())
    else:
        validated = check_event(checker, current.get("key") or "", keys.known())
    failed = {re.split(r"[.\[]", problem.field, maxsplit=1)[0] for problem in problems}
    return {name: value if name in failed else jsonable(validated.get(name))
            for name, value in submitted.items()}


def _plan(entity_type: str, session: Session, record: Policy | Event, current: Mapping[str, Any],
          submitted: Mapping[str, Any], base_version: int, keys: _Keys) -> MergePlan:
    if not isinstance(base_version, int) or isinstance(base_version, bool) or not 1 <= base_version <= record.version:
        raise Invalid(_("The base version is not a version of this record."), {"base_version": _(
            "Give the version you read, between 1 and %(current)s.", current=record.version)})
    fields = POLICY_FIELDS if entity_type == "policy" else EVENT_FIELDS
    base = values_at_version(session, entity_type, record.id, current, base_version, fields)
    mine = _canonical(entity_type, session, current, {name: submitted[name] for name in fields if name in submitted},
                      keys)
    return plan_merge(base, mine, current, fields, base_version=base_version, current_version=record.version)


def _merged_changes(entity_type: str, session: Session, record: Policy | Event, before: Mapping[str, Any],
                    changes: Mapping[str, Any], base_version: int, keys: _Keys,
                    details: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The changes of an edit made from ``base_version``, merged onto the record as it is, and the audit
    details that say so.

    Raises:
        MergeConflict: a field was changed differently on both sides.
    """
    plan = _plan(entity_type, session, record, before, changes, base_version, keys)
    if plan.conflicts:
        raise MergeConflict(_("Some fields you changed were also changed by someone else since version "
                              "%(base)s; nothing was saved.", base=base_version), record.version, plan)
    return plan.changes, (details or {}) | {"merged_from_version": base_version, "fields_merged": plan.mine_changed}


def plan_edit_merge(session: Session, entity_type: str, key: str, submitted: Mapping[str, Any],
                    base_version: int) -> tuple[MergePlan, dict[str, Any]]:
    """How an edit made from ``base_version`` would land on the current record, without saving anything:
    the plan, and the current record in the dataset format (for a page that shows both).

    Raises:
        NotFound. Invalid: ``base_version`` is not a version of the record.
    """
    record = _policy_for_edit(session, key) if entity_type == "policy" else _event_for_edit(session, key)
    keys = _Keys(session)
    # The record was loaded as a Policy exactly when entity_type is "policy", as an Event otherwise.
    current = (policy_record(session, cast(Policy, record), keys) if entity_type == "policy"
               else event_record(session, cast(Event, record), keys))
    return _plan(entity_type, session, record, current, submitted, base_version, keys), current


def add_forum_link(session: Session, key: str, link: Mapping[str, Any], actor: User,
                   expected_version: int | None = None) -> Policy:
    """Link the policy to an event with a role, evidence and source.

    Raises:
        NotFound, Forbidden, StaleEdit, Invalid (unknown event, role, or the same link twice).
    """
    policy = _policy_for_edit(session, key)
    keys = _Keys(session)
    links = policy_record(session, policy, keys)["forum_links"]
    new = {"event": link.get("event"), "role": link.get("role"), "evidence": link.get("evidence") or None,
           "evidence_lo": link.get("evidence_lo") or None, "source_url": link.get("source_url") or None}
    return update_policy(session, key, {"forum_links": links + [new]}, actor, expected_version,
                         action="forum_link_add")


def remove_forum_link(session: Session, key: str, event_key: str, role: str, actor: User,
                      expected_version: int | None = None) -> Policy:
    """Remove the link of the policy to ``event_key`` with ``role``.

    Raises:
        NotFound: no such policy or link. Forbidden, StaleEdit.
    """
    policy = _policy_for_edit(session, key)
    links = policy_record(session, policy)["forum_links"]
    kept = [link for link in links if not (link["event"] == event_key and link["role"] == role)]
    if len(kept) == len(links):
        raise NotFound(_("This policy has no such forum link."))
    return update_policy(session, key, {"forum_links": kept}, actor, expected_version,
                         action="forum_link_remove")


def change_status(session: Session, key: str, data: Mapping[str, Any], actor: User,
                  expected_version: int | None = None) -> StatusChange:
    """Record a legal status change: ``status``, ``effective_on`` (partial date, optional), ``note`` and
    ``note_lo`` (English and Lao), ``evidence_url``, and ``reason`` (needed, with a reviewer, outside the
    transition table).

    A back-dated change takes its place in the timeline by effective date; the current status is the
    last step of the timeline.

    Raises:
        NotFound, Forbidden, StaleEdit, Invalid: names each field that is wrong.
    """
    require(actor, "edit")
    if not isinstance(data, Mapping):
        raise Invalid(_("The status change must be a JSON object."), {"body": _("Send a JSON object.")})
    _reject_unknown_fields(data, ("status", "effective_on", "note", "note_lo", "evidence_url", "reason", "version",
                                  "gazetted_on", "consultation"))
    policy = _policy_for_edit(session, key)
    _check_version("policy", policy, expected_version, session)

    checked, found = checked_input({name: value for name, value in data.items() if name != "version"},
                                   "StatusChangeInput")
    values: dict[str, Any] = checked
    errors: dict[str, str | FieldError] = dict(found)
    extras, extra_errors = consultations.step_values(
        {name: values[name] for name in ("gazetted_on", "consultation") if name in values},
        values.get("status"), _document_ids(session, policy))
    errors |= extra_errors
    status: str | None = values.get("status")
    effective_on: PartialDate | None = None
    if values.get("effective_on") is not None and "effective_on" not in errors:
        try:
            effective_on = PartialDate.parse(values["effective_on"])
        except PartialDateError as error:
            errors["effective_on"] = date_error(error, values["effective_on"])
    note, note_lo, reason = values.get("note"), values.get("note_lo"), values.get("reason")
    evidence_url = values.get("evidence_url")
    if errors:
        raise Invalid(_("Some fields are not valid."), errors)
    # StatusChangeInput requires a status: checked_input reports it when it is missing.
    assert status is not None

    timeline = sorted(policy.status_changes, key=lambda change: change.position)
    index = len(timeline)
    if effective_on is not None:
        index = next((i for i, change in enumerate(timeline)
                      if change.effective_on is not None and change.effective_on > effective_on), len(timeline))
    previous = timeline[index - 1].to_status if index > 0 else None
    following = timeline[index].to_status if index < len(timeline) else None
    in_table = transition_allowed(previous, status) and (following is None or transition_allowed(status, following))
    if not in_table:
        if following is not None:
            described = _("A change from %(old)s to %(new)s (followed by %(next)s)",
                          old=LEGAL_STATUSES[previous] if previous else _("nothing"),
                          new=LEGAL_STATUSES[status],
                          next=LEGAL_STATUSES[following])
        else:
            described = _("A change from %(old)s to %(new)s",
                          old=LEGAL_STATUSES[previous] if previous else _("nothing"),
                          new=LEGAL_STATUSES[status])
        if not has_permission(actor, "override_transition"):
            raise Forbidden(_("%(change)s is outside the transition table: a reviewer must record it, "
                              "with a reason.", change=described))
        if not reason:
            raise Invalid(_("A reason is needed."), {"reason": _(
                "%(change)s is outside the transition table: say why it is right.", change=described)})

    old_status = policy.legal_status
    change = StatusChange(to_status=status, effective_on=effective_on, note=note, note_lo=note_lo,
                          evidence_url=evidence_url,
                          recorded_by=actor.email, recorded_by_id=actor.id, recorded_at=utcnow(),
                          override_reason=None if in_table else reason, position=0)
    records.assign(change, extras)
    timeline.insert(index, change)
    # Renumber in two steps so the unique (policy, position) never sees two rows on one number.
    for number, step in enumerate(timeline, start=1):
        step.position = -number
    policy.status_changes.insert(index, change)
    session.flush()
    previous_status = None
    for number, step in enumerate(timeline, start=1):
        step.position = number
        step.from_status = previous_status
        previous_status = step.to_status
    refresh_derived(policy)
    _touch(policy)
    _flush(session, "policy", policy)
    _audit(session, "policy", policy, "status_change", actor, [("legal_status", old_status, policy.legal_status)],
           reason=reason, details={"status": status, "effective_on": effective_on.isoformat() if effective_on else None,
                                   "note": note, "note_lo": note_lo, "evidence_url": evidence_url,
                                   "position": change.position,
                                   "from_status": change.from_status}
           | {name: value for name, value in consultations.audit_values(change).items() if value is not None})
    if policy.editorial_state == "published":
        # The outbox row commits with the change or not at all; the worker fans it out later.
        record_event(session, "policy.status_changed", policy=policy, payload=policy_payload(
            policy, old_status=old_status, new_status=policy.legal_status, status=status,
            effective_date=effective_on, note=note, evidence_url=evidence_url))
    session.flush()
    return change


def _document_ids(session: Session, policy: Policy) -> set[int]:
    return set(session.scalars(select(Document.id).where(Document.policy_id == policy.id)))


def update_status_step(session: Session, key: str, position: int, data: Mapping[str, Any], actor: User,
                       expected_version: int | None = None) -> StatusChange:
    """Set or change the gazette day (``gazetted_on``) and the comment period (``consultation``: opens_on,
    closes_on, how_to_comment_en/_lo, comment_address, draft_url or draft_document; null removes it) of
    the step at ``position``; only the parts sent change. The step's status and date stay as recorded.

    Each changed part is audited; when the closing day of a published policy's comment period moves,
    followers are told it was extended or shortened.

    Raises:
        NotFound (no such policy or step), Forbidden, StaleEdit, Invalid: names each part that is wrong.
    """
    require(actor, "edit")
    if not isinstance(data, Mapping):
        raise Invalid(_("The changes must be a JSON object."), {"body": _("Send a JSON object.")})
    _reject_unknown_fields(data, ("gazetted_on", "consultation", "version"))
    policy = _policy_for_edit(session, key)
    if not can_edit_record(actor, policy.editorial_state):
        raise Forbidden(_("You may not edit this record: editors edit drafts and records in review; "
                          "a reviewer edits published records."))
    _check_version("policy", policy, expected_version, session)
    step = next((change for change in policy.status_changes if change.position == position), None)
    if step is None:
        raise NotFound(_("This policy has no status step %(position)s.", position=position))
    values, found = checked_input({name: value for name, value in data.items() if name != "version"},
                                  "StatusStepPatch")
    errors: dict[str, str | FieldError] = dict(found)
    sent = {name: values.get(name) for name in ("gazetted_on", "consultation") if name in data}
    window = sent.get("consultation")
    if isinstance(window, Mapping):
        # Parts not sent keep their value.
        current = records.comment_window_record(step) or {}
        current["draft_document"] = step.comment_draft_document_id
        sent["consultation"] = current | dict(window)
    new, step_errors = consultations.step_values(sent, step.to_status, _document_ids(session, policy))
    errors |= step_errors
    if errors:
        raise Invalid(_("Some fields are not valid."), errors)
    before = consultations.audit_values(step)
    old_closes_on = step.comment_closes_on
    if not records.assign(step, new):
        return step
    _touch(policy)
    _flush(session, "policy", policy)
    after = consultations.audit_values(step)
    _audit(session, "policy", policy, "status_step_update", actor,
           [(name, before[name], after[name]) for name in consultations.STEP_FIELDS if before[name] != after[name]],
           details={"position": step.position, "status": step.to_status})
    moved = consultations.moved_closing(old_closes_on, step.comment_closes_on)
    if moved is not None and old_closes_on is not None and policy.editorial_state == "published":
        record_event(session, "policy.comment_period_changed", policy=policy, payload=policy_payload(
            policy, **consultations.change_payload(step, old_closes_on, moved)))
    session.flush()
    return step


# ---------------------------------------------------------------------------------------------------
# Events


def create_event(session: Session, data: Mapping[str, Any], actor: User) -> Event:
    """Create a draft event from a record in the dataset format (``key`` optional).

    Raises:
        Forbidden, Invalid: names each field that is wrong.
    """
    require(actor, "edit")
    if not isinstance(data, Mapping):
        raise Invalid(_("The event must be a JSON object."), {"body": _("Send a JSON object.")})
    _reject_unknown_fields(data, EVENT_FIELDS, ("key",))
    keys = _Keys(session)
    key = data.get("key")
    if key is None:
        key = unique_key(_event_key_base(data), set(keys.event_ids))
    if key in keys.event_ids:
        raise Invalid(_("The key is taken."), {"key": _("An event with the key '%(key)s' already exists.",
                                                        key=key)})
    raw = {name: data.get(name) for name in EVENT_FIELDS}
    for name in ("organisers", "funders", "partners", "topics", "sources"):
        raw[name] = raw[name] if raw[name] is not None else []
    raw["editorial_state"] = "draft"
    problems: list[RecordProblem] = []
    record = check_event(RecordCheck(problems, "event", raw, "event", keys.jurisdictions),
                         key if isinstance(key, str) else "", keys.known())
    key_error = check_key(key)
    if key_error is not None:
        problems.append(RecordProblem("event", "key", key_error))
    if problems:
        raise _problems_to_invalid(problems)
    event = Event(key=key, organisation_links=[], topic_links=[], sources=[])
    session.add(event)
    records.apply_event(event, record, keys.org_ids)
    _flush(session, "event", event)
    after = event_record(session, event, keys)
    _audit(session, "event", event, "create", actor,
           [(name, None, after[name]) for name in EVENT_FIELDS if after[name] not in (None, [])])
    session.flush()
    return event


def update_event(session: Session, key: str, changes: Mapping[str, Any], actor: User,
                 expected_version: int | None, *, base_version: int | None = None, action: str = "update",
                 reason: str | None = None, details: dict[str, Any] | None = None) -> Event:
    """Change some fields of an event (``expected_version`` and ``base_version`` as in update_policy).

    Raises:
        NotFound, Forbidden, StaleEdit, MergeConflict, Invalid: names each field that is wrong.
    """
    if not isinstance(changes, Mapping):
        raise Invalid(_("The changes must be a JSON object."), {"body": _("Send a JSON object.")})
    event = _event_for_edit(session, key)
    if not can_edit_record(actor, event.editorial_state):
        raise Forbidden(_("You may not edit this record: editors edit drafts and records in review; "
                          "a reviewer edits published records."))
    _check_version("event", event, expected_version, session)
    _reject_unknown_fields(changes, EVENT_FIELDS)
    keys = _Keys(session)
    before = event_record(session, event, keys)
    if base_version is not None and base_version != event.version:
        changes, details = _merged_changes("event", session, event, before, changes, base_version, keys, details)
    problems: list[RecordProblem] = []
    record = check_event(RecordCheck(problems, "event", before | dict(changes), "event", keys.jurisdictions), key,
                         keys.known())
    if problems:
        raise _problems_to_invalid(problems)
    if records.apply_event(event, record, keys.org_ids):
        _touch(event)
    _flush(session, "event", event)
    after = event_record(session, event, keys)
    _audit(session, "event", event, action, actor, _diff(before, after, EVENT_FIELDS), reason=reason, details=details)
    session.flush()
    return event


# ---------------------------------------------------------------------------------------------------
# Publication


def set_editorial_state(session: Session, entity_type: str, key: str, state: str, actor: User,
                        expected_version: int | None = None, reason: str | None = None) -> Policy | Event:
    """Move a policy or event through draft -> in review -> published -> archived.

    A reviewer sending a record in review back to draft must say why (``reason``): the comment is kept in
    the record's history and shown to its editor. Submitting mails the reviewers; publishing and sending
    back mail the editor who submitted it, each in their own language.

    Raises:
        NotFound, StaleEdit, Invalid (no such move, or a send-back without a comment), Forbidden (editors
        submit; reviewers publish).
    """
    record = _policy_for_edit(session, key) if entity_type == "policy" else _event_for_edit(session, key)
    if not isinstance(state, str) or state not in EDITORIAL_STATES:
        raise Invalid(_("Unknown editorial state."),
                      {"state": _("Choose one of: %(values)s.", values=", ".join(EDITORIAL_STATES))})
    _check_version(entity_type, record, expected_version, session)
    permission = EDITORIAL_TRANSITIONS[record.editorial_state].get(state)
    if permission is None:
        raise Invalid(_("This move is not possible."), {
            "state": _("A record %(old)s cannot become %(new)s.",
                       old=EDITORIAL_STATES[record.editorial_state].lower(),
                       new=EDITORIAL_STATES[state].lower())})
    require(actor, permission)
    errors: dict[str, str | FieldError] = {}
    comment = _text(reason, "reason", errors, max_length=5000)
    if errors:
        raise Invalid(_("Some fields are not valid."), errors)
    old = record.editorial_state
    submitter = last_submitter(session, entity_type, record.id) if old == "in_review" else None
    sending_back = old == "in_review" and state == "draft" and (submitter is None or submitter.id != actor.id)
    if sending_back and not comment:
        raise Invalid(_("Say what needs changing."), {"reason": _(
            "Sending a record back needs a comment for its editor: what should change before it is published?")})
    record.editorial_state = state
    _flush(session, entity_type, record)
    _audit(session, entity_type, record, "editorial", actor, [("editorial_state", old, state)], reason=comment)
    if isinstance(record, Policy) and state == "published" and old != "published":
        record_event(session, "policy.published", policy=record, payload=policy_payload(record))
    _mail_about_move(session, entity_type, record, old, state, actor, submitter, comment)
    session.flush()
    return record


def change_key(session: Session, entity_type: str, key: str, new_key: Any, actor: User,
               expected_version: int | None = None) -> Policy | Event:
    """Give a policy or event a new key (its address). The old key keeps leading to the record (see
    tracker.services.permalinks); subscriptions and proposals that name the record follow it.

    Raises:
        NotFound. Forbidden: the actor may not edit this record. StaleEdit. Invalid: the new key is not a
        key, is the record's key already, or is another record's.
    """
    record = _policy_for_edit(session, key) if entity_type == "policy" else _event_for_edit(session, key)
    if not can_edit_record(actor, record.editorial_state):
        raise Forbidden(_("You may not edit this record: editors edit drafts and records in review; "
                          "a reviewer edits published records."))
    _check_version(entity_type, record, expected_version, session)
    key_error = check_key(new_key)
    if key_error is not None:
        raise Invalid(_("Some fields are not valid."), {"key": key_error})
    if new_key == record.key:
        raise Invalid(_("Some fields are not valid."), {"key": _("This is the record's key already.")})
    model: type[Policy] | type[Event] = Policy if entity_type == "policy" else Event
    if session.scalar(select(model.id).where(model.key == new_key)) is not None:
        raise Invalid(_("The key is taken."), {"key": _("A policy with the key '%(key)s' already exists.", key=new_key)
                                               if entity_type == "policy"
                                               else _("An event with the key '%(key)s' already exists.", key=new_key)})
    old_key = record.key
    permalinks.remember_old_key(session, entity_type, record, old_key, new_key)
    record.key = new_key
    _touch(record)
    _flush(session, entity_type, record)
    permalinks.follow_key_change(session, entity_type, record.id, old_key, new_key)
    _audit(session, entity_type, record, "update", actor, [("key", old_key, new_key)])
    session.flush()
    return record


def record_mail_payload(entity_type: str, record: Policy | Event, actor: User, **extra: Any) -> dict[str, Any]:
    """What a staff email says of a record: its type, key and titles, and who acted."""
    titles = ({"title_en": record.title_en, "title_lo": record.title_lo} if isinstance(record, Policy)
              else {"title_en": record.name_en, "title_lo": record.name_lo})
    return {"entity_type": entity_type, "key": record.key, **titles, "by": actor.label, **extra}


def _mail_about_move(session: Session, entity_type: str, record: Policy | Event, old: str, new: str, actor: User,
                     submitter: User | None, comment: str | None) -> None:
    if new == "in_review" and old != "in_review":
        staff_mail.queue_to_role(session, "review_requested", "reviewer",
                                 record_mail_payload(entity_type, record, actor), except_user=actor)
    elif old == "in_review" and submitter is not None and submitter.id != actor.id:
        if new == "published":
            staff_mail.queue(session, "record_published", submitter, record_mail_payload(entity_type, record, actor))
        elif new == "draft":
            staff_mail.queue(session, "record_sent_back", submitter,
                             record_mail_payload(entity_type, record, actor, comment=comment))


def last_submitter(session: Session, entity_type: str, record_id: int) -> User | None:
    """Who last submitted the record for review (one query), if anyone did in the tracker."""
    # Editorial moves of one record are few; their JSON values are compared here rather than in SQL
    # (PostgreSQL has no equality on json).
    moves = session.execute(
        select(AuditEntry.actor_id, AuditEntry.new_value).where(
            AuditEntry.entity_type == entity_type, AuditEntry.entity_id == record_id,
            AuditEntry.action == "editorial", AuditEntry.field == "editorial_state")
        .order_by(AuditEntry.id.desc())).all()
    actor_id = next((actor for actor, new in moves if new == "in_review"), None)
    return session.get(User, actor_id) if actor_id is not None else None


# ---------------------------------------------------------------------------------------------------
# History


def current_record(session: Session, entity_type: str, key: str) -> dict[str, Any]:
    """A policy or event in the dataset format, read without locking it.

    Raises:
        NotFound.
    """
    if entity_type == "policy":
        return policy_record(session, _policy_for_edit(session, key, lock=False))
    return event_record(session, _event_for_edit(session, key, lock=False))


def current_version(session: Session, entity_type: str, key: str) -> int:
    """The version a policy, event or organisation is at (one query).

    Raises:
        NotFound.
    """
    models: dict[str, type[Policy] | type[Event] | type[Organisation]] = {
        "policy": Policy, "event": Event, "organisation": Organisation}
    model = models[entity_type]
    version = session.scalar(select(model.version).where(model.key == key))
    if version is None:
        raise NotFound(_("This record no longer exists."))
    return version


def history(session: Session, entity_type: str, key: str) -> tuple[Policy | Event, list[AuditEntry]]:
    """A record and its audit trail, newest first.

    Raises:
        NotFound.
    """
    model: type[Policy] | type[Event] = Policy if entity_type == "policy" else Event
    # A row of ``model`` (mypy joins the union to Base in select()).
    record = cast("Policy | Event | None", session.scalar(select(model).where(model.key == key)))
    if record is None:
        raise NotFound(_("There is no policy with the key '%(key)s'.",
                         key=key[:120]) if entity_type == "policy"
                       else _("There is no event with the key '%(key)s'.", key=key[:120]))
    entries = session.scalars(select(AuditEntry).where(
        AuditEntry.entity_type == entity_type, AuditEntry.entity_id == record.id)
        .order_by(AuditEntry.id.desc())).all()
    return record, list(entries)
