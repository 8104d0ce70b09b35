"""Three-way merge of a stale edit: apply only what the editor changed on top of what others changed since.

An editor reads a record at version B (the *base*), changes some fields and saves; meanwhile others
saved versions B+1...C (the *current* record, "theirs"). Re-sending every field of the stale form
would silently revert the others' work. Instead:

- a field the editor left as it was at B takes the current value (theirs);
- a field only the editor changed takes the editor's value;
- a field both changed to the same value is agreed;
- a list field both changed is merged element by element when the two sides touched different
  elements (the editor's additions and removals replayed on the current list);
- anything else is a conflict: both values are shown and a person picks.

The value of every field at version B is rebuilt from the audit trail (each entry holds the field's
old and new value and the record's version after the change), so no snapshot table is needed.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.models import AuditEntry
from tracker.models.types import PartialDate

# Fields whose value is a list: merged element by element when both sides changed them.
LIST_FIELDS = frozenset({"other_bodies", "topics", "vehicle_classes", "relations", "forum_links", "sources",
                         "conflicts", "organisers", "funders", "partners", "targets"})


def jsonable(value: Any) -> Any:
    """A validated value in the JSON form the audit trail and the dataset format use."""
    if isinstance(value, PartialDate):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {name: jsonable(item) for name, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    return value


@dataclass(frozen=True)
class FieldConflict:
    """A field both sides changed differently since the base version."""

    field: str
    base: Any
    mine: Any
    theirs: Any


@dataclass
class MergePlan:
    """What a stale edit becomes when replayed on the current version."""

    base_version: int
    current_version: int
    # Field -> value to write: the editor's changes (and list merges), never a field only others changed.
    changes: dict[str, Any] = field(default_factory=dict)
    mine_changed: list[str] = field(default_factory=list)
    theirs_changed: list[str] = field(default_factory=list)
    conflicts: list[FieldConflict] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.conflicts


def _freeze(item: Any) -> Any:
    """A hashable stand-in for a list element (dicts of sources, relations...)."""
    if isinstance(item, Mapping):
        return tuple(sorted((name, _freeze(value)) for name, value in item.items()))
    if isinstance(item, list):
        return tuple(_freeze(value) for value in item)
    return item


def merge_lists(base: Sequence[Any], mine: Sequence[Any], theirs: Sequence[Any]) -> list[Any] | None:
    """Replay the editor's additions and removals (base -> mine) on ``theirs``; None when both sides
    removed or replaced the same element, which only a person can settle."""
    base_keys = [_freeze(item) for item in base]
    mine_keys = {_freeze(item) for item in mine}
    theirs_keys = {_freeze(item) for item in theirs}
    removed_by_me = {key for key in base_keys if key not in mine_keys}
    removed_by_them = {key for key in base_keys if key not in theirs_keys}
    if removed_by_me & removed_by_them:
        # Both edited or removed one element: a change on one side may be undone by the other.
        return None
    merged = [item for item in theirs if _freeze(item) not in removed_by_me]
    present = {_freeze(item) for item in merged}
    base_set = set(base_keys)
    for item in mine:
        key = _freeze(item)
        if key not in base_set and key not in present:
            merged.append(item)
            present.add(key)
    return merged


def plan_merge(base: Mapping[str, Any], mine: Mapping[str, Any], theirs: Mapping[str, Any],
               fields: Iterable[str], *, base_version: int, current_version: int) -> MergePlan:
    """The merge of ``mine`` (only the fields the editor sent) with ``theirs`` against ``base``."""
    plan = MergePlan(base_version=base_version, current_version=current_version)
    for name in fields:
        base_value, theirs_value = base.get(name), theirs.get(name)
        if base_value != theirs_value:
            plan.theirs_changed.append(name)
        if name not in mine:
            continue
        mine_value = mine[name]
        if mine_value == base_value:
            continue  # the editor left it as it was: the current value stands
        plan.mine_changed.append(name)
        if theirs_value == base_value or mine_value == theirs_value:
            if mine_value != theirs_value:
                plan.changes[name] = mine_value
            continue
        if name in LIST_FIELDS and isinstance(mine_value, list) and isinstance(theirs_value, list):
            merged = merge_lists(base_value or [], mine_value, theirs_value)
            if merged is not None:
                if merged != theirs_value:
                    plan.changes[name] = merged
                continue
        plan.conflicts.append(FieldConflict(name, base_value, mine_value, theirs_value))
    return plan


def values_at_version(session: Session, entity_type: str, entity_id: int, current: Mapping[str, Any],
                      version: int, fields: Iterable[str]) -> dict[str, Any]:
    """The record's ``fields`` as they were at ``version``: the current values with every later audited
    change undone (one query)."""
    wanted = tuple(fields)
    entries = session.execute(
        select(AuditEntry.field, AuditEntry.old_value)
        .where(AuditEntry.entity_type == entity_type, AuditEntry.entity_id == entity_id,
               AuditEntry.version > version, AuditEntry.field.in_(wanted))
        .order_by(AuditEntry.id)).all()
    values = {name: current.get(name) for name in wanted}
    undone: set[str] = set()
    for name, old in entries:
        # The earliest change after ``version`` holds the value the field had at ``version``.
        if name not in undone:
            values[name] = old
            undone.add(name)
    return values
