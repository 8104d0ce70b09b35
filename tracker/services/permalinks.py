"""Permanent addresses: the keys a policy or event had before keep leading to it after its key changes.

An old key is kept in ``record_key_aliases`` with the id of its record, so a chain of changes (a → b → c)
leads from every old key to the current one in one step. A key that a live record of the same kind
holds is that record's: an alias never takes a reader away from it.
"""
from __future__ import annotations

from typing import cast

from sqlalchemy import delete, exists, select, update
from sqlalchemy.orm import Session, aliased

from tracker.models import ChangeProposal, Event, Policy, RecordKeyAlias, Subscription
from tracker.services.policies import visible_states

KEY_LENGTH = 120


def current_key(session: Session, kind: str, key: str, *, include_unpublished: bool = False) -> str | None:
    """The current key of the ``kind`` ("policy" or "event") that once had ``key``, if no record of that
    kind holds ``key`` now and the reader may see the record it leads to; else None (one query)."""
    if "\x00" in key or len(key) > KEY_LENGTH:
        # No key holds NUL (which PostgreSQL refuses in any string) or is longer than a key column.
        return None
    model: type[Policy] | type[Event] = Policy if kind == "policy" else Event
    holder = aliased(model)
    record_id = RecordKeyAlias.policy_id if kind == "policy" else RecordKeyAlias.event_id
    statement = (
        select(model.key).join(RecordKeyAlias, record_id == model.id)
        .where(RecordKeyAlias.kind == kind, RecordKeyAlias.old_key == key,
               model.editorial_state.in_(visible_states(include_unpublished)),
               ~exists().where(holder.key == key)))
    return cast("str | None", session.scalar(statement))


def old_keys(session: Session, kind: str, record_id: int) -> list[str]:
    """The keys that lead to the record besides its own, oldest first (one query)."""
    column = RecordKeyAlias.policy_id if kind == "policy" else RecordKeyAlias.event_id
    return list(session.scalars(select(RecordKeyAlias.old_key).where(
        RecordKeyAlias.kind == kind, column == record_id).order_by(RecordKeyAlias.created_at, RecordKeyAlias.id)))


def remember_old_key(session: Session, kind: str, record: Policy | Event, old_key: str, new_key: str) -> None:
    """``record`` leaves ``old_key`` for ``new_key``: from now on ``old_key`` leads to it (taken over from
    any record it led to before), and no alias is left for ``new_key``, which is the record's own."""
    session.execute(delete(RecordKeyAlias).where(RecordKeyAlias.kind == kind,
                                                 RecordKeyAlias.old_key.in_((old_key, new_key))))
    session.add(RecordKeyAlias(kind=kind, old_key=old_key,
                               policy_id=record.id if kind == "policy" else None,
                               event_id=record.id if kind == "event" else None))


def follow_key_change(session: Session, kind: str, record_id: int, old_key: str, new_key: str) -> None:
    """Move what names the record by its key to the new key: subscriptions that follow it (or search
    within an event), and the change proposals made on it."""
    session.execute(update(Subscription).where(Subscription.target_kind == kind,
                                               Subscription.target_value == old_key)
                    .values(target_value=new_key))
    if kind == "event":
        # A saved search may be narrowed to events; a handful of rows, read and rewritten here rather
        # than through each database's own JSON functions.
        for subscription in session.scalars(select(Subscription).where(Subscription.target_kind == "search")):
            filters = subscription.target_filters or {}
            events = filters.get("event") or []
            if old_key in events:
                subscription.target_filters = {**filters, "event": [new_key if key == old_key else key
                                                                    for key in events]}
    session.execute(update(ChangeProposal).where(ChangeProposal.entity_type == kind,
                                                 ChangeProposal.entity_id == record_id)
                    .values(entity_key=new_key))
