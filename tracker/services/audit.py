"""Writing the audit trail: one entry per changed field, in the transaction that made the change."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.models import AuditEntry, Event, Organisation, Policy, User
from tracker.models.types import utcnow

IMPORT_ACTOR = "dataset import"


def write_audit(session: Session, entity_type: str, record: Policy | Event | Organisation, action: str,
                actor: User | None, changes: Iterable[tuple[str | None, Any, Any]], *, reason: str | None = None,
                details: dict[str, Any] | None = None, actor_label: str | None = None) -> None:
    """Add one AuditEntry per (field, old, new); ``actor`` None is the command line or an import.

    The entry names the actor by email (stable, unique); pages show the person's display name."""
    now = utcnow()
    label = actor.email if actor is not None else (actor_label or "command line")
    # The entity type names the record's model: an "organisation" entry is always about an Organisation.
    country = (getattr(record, "jurisdiction_code", None) if entity_type != "organisation"
               else cast(Organisation, record).country)
    for field, old, new in changes:
        session.add(AuditEntry(entity_type=entity_type, entity_id=record.id, entity_key=record.key,
                               jurisdiction_code=country,
                               version=record.version, action=action, field=field, old_value=old,
                               new_value=new, details=details, reason=reason,
                               actor_id=actor.id if actor is not None else None, actor_label=label,
                               created_at=now))


def field_changes(before: Mapping[str, Any], after: Mapping[str, Any],
                  fields: Iterable[str]) -> list[tuple[str, Any, Any]]:
    """(field, old, new) for every field whose value differs."""
    return [(name, before.get(name), after.get(name)) for name in fields if before.get(name) != after.get(name)]


def actor_labels(session: Session, entries: Iterable[AuditEntry]) -> dict[int, str]:
    """The display name (else the email) of each person behind ``entries``, by account id (one query)."""
    ids = {entry.actor_id for entry in entries if entry.actor_id is not None}
    if not ids:
        return {}
    return {user.id: user.label for user in session.scalars(select(User).where(User.id.in_(ids)))}
