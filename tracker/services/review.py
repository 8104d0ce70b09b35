"""Review: the queue of records waiting for a reviewer, and proposed changes to published records.

An editor cannot change a published record; they propose a change instead. The proposal is stored beside
the record (the public keeps seeing the published version) until a reviewer approves it (applied through
the same edit path as any change: merged three ways onto the record as it is then, audited, partners
told) or rejects it with a comment.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from tracker.errors import Conflict, Forbidden, Invalid, MergeConflict, NotFound
from tracker.models import AuditEntry, ChangeProposal, Event, Policy, User
from tracker.models.proposal import PROPOSAL_STATES
from tracker.models.types import utcnow
from tracker.services import editing, staff_mail
from tracker.services.audit import write_audit
from tracker.services.merging import FieldConflict
from tracker.services.permissions import has_permission, require
from tracker.services.record_checks import RecordCheck, RecordProblem, check_event, check_policy
from tracker.translation import gettext as _

if TYPE_CHECKING:
    from sqlalchemy import ScalarResult

    from tracker.errors import FieldError

MODELS: dict[str, type[Policy] | type[Event]] = {"policy": Policy, "event": Event}
# The bilingual fields a reviewer checks for a missing translation: (field, English column, Lao column).
BILINGUAL = {"policy": (("title", "title_en", "title_lo"), ("summary", "summary_en", "summary_lo")),
             "event": (("name", "name_en", "name_lo"), ("summary", "summary_en", "summary_lo"))}


def missing_translations(entity_type: str, record: Any) -> list[tuple[str, str]]:
    """(field, language) of each bilingual field written in one language only: "not yet translated"."""
    missing = []
    for name, english, lao in BILINGUAL.get(entity_type, ()):
        has_english, has_lao = bool(getattr(record, english, None)), bool(getattr(record, lao, None))
        if has_english != has_lao:
            missing.append((name, "lo" if has_english else "en"))
    return missing


# ---------------------------------------------------------------------------------------------------
# The queue


@dataclass
class FieldChange:
    """A field as it was published last and as it is now."""

    field: str
    before: Any
    after: Any


@dataclass
class ReviewItem:
    """A record in review: who submitted it and when, and what changed since it was last published."""

    entity_type: str
    record: Policy | Event
    submitted_by: User | None
    submitted_at: Any
    never_published: bool
    changes: list[FieldChange] = field(default_factory=list)
    missing: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class ReviewQueue:
    """The review page: records in review, pending proposals, and the records and people they name."""

    items: list[ReviewItem]
    proposals: list[ChangeProposal]
    records: dict[tuple[str, int], Policy | Event]
    users: dict[int, User]


def review_queue(session: Session, actor: User | None) -> ReviewQueue:
    """Records in review, oldest submission first, with what changed since their last publication; and
    pending proposals, oldest first (six queries whatever the number of records).

    Raises:
        Forbidden: the actor may not read unpublished records.
    """
    require(actor, "read_unpublished")
    policies = session.scalars(select(Policy).where(Policy.editorial_state == "in_review")
                               .options(joinedload(Policy.jurisdiction))).all()
    events = session.scalars(select(Event).where(Event.editorial_state == "in_review")).all()
    records: dict[tuple[str, int], Policy | Event] = {("policy", p.id): p for p in policies}
    records |= {("event", e.id): e for e in events}
    trails: dict[tuple[str, int], list[AuditEntry]] = {}
    for entity_type, ids in (("policy", [p.id for p in policies]), ("event", [e.id for e in events])):
        if ids:
            for entry in session.scalars(select(AuditEntry).where(
                    AuditEntry.entity_type == entity_type, AuditEntry.entity_id.in_(ids)).order_by(AuditEntry.id)):
                trails.setdefault((entity_type, entry.entity_id), []).append(entry)
    proposals = list(session.scalars(select(ChangeProposal).where(ChangeProposal.state == "pending")
                                     .order_by(ChangeProposal.created_at, ChangeProposal.id)))
    user_ids = {entry.actor_id for trail in trails.values() for entry in trail if entry.actor_id}
    user_ids |= {proposal.proposed_by_id for proposal in proposals if proposal.proposed_by_id}
    users = {user.id: user for user in session.scalars(select(User).where(User.id.in_(user_ids)))} if user_ids else {}
    proposed_records = _records_of(session, [(p.entity_type, p.entity_id) for p in proposals])

    items = []
    for (entity_type, record_id), record in records.items():
        trail = trails.get((entity_type, record_id), [])
        moves = [entry for entry in trail if entry.action == "editorial" and entry.field == "editorial_state"]
        submission = next((entry for entry in reversed(moves) if entry.new_value == "in_review"), None)
        published = next((entry for entry in reversed(moves) if entry.new_value == "published"), None)
        imported = next((entry for entry in reversed(trail) if entry.action == "import"), None)
        # A record loaded from the dataset was published by the load when no move says otherwise.
        since = published.id if published else imported.id if imported else None
        item = ReviewItem(entity_type, record,
                          users.get(submission.actor_id) if submission and submission.actor_id is not None else None,
                          submission.created_at if submission else record.updated_at,
                          published is None and imported is None, missing=missing_translations(entity_type, record))
        if since is not None:
            first_old: dict[str, Any] = {}
            last_new: dict[str, Any] = {}
            for entry in trail:
                if entry.id > since and entry.field in editing.FIELDS[entity_type]:
                    first_old.setdefault(entry.field, entry.old_value)
                    last_new[entry.field] = entry.new_value
            item.changes = [FieldChange(name, first_old[name], last_new[name]) for name in editing.FIELDS[entity_type]
                            if name in first_old and first_old[name] != last_new[name]]
        items.append(item)
    items.sort(key=lambda item: (item.submitted_at, item.record.key))
    return ReviewQueue(items, proposals, records | proposed_records, users)


def _records_of(session: Session, wanted: list[tuple[str, int]]) -> dict[tuple[str, int], Policy | Event]:
    found: dict[tuple[str, int], Policy | Event] = {}
    for entity_type, model in MODELS.items():
        ids = {record_id for kind, record_id in wanted if kind == entity_type}
        if ids:
            # ``model`` is one of MODELS, so are its rows (mypy joins the union to Base in select()).
            rows = cast("ScalarResult[Policy | Event]", session.scalars(select(model).where(model.id.in_(ids))))
            found |= {(entity_type, r.id): r for r in rows}
    return found


def sent_back_comment(session: Session, entity_type: str, record: Policy | Event) -> AuditEntry | None:
    """The reviewer's comment when the record's last editorial move sent it back to draft and it is still
    a draft (one query): what its editor is asked to change."""
    if record.editorial_state != "draft":
        return None
    last = session.scalar(select(AuditEntry).where(
        AuditEntry.entity_type == entity_type, AuditEntry.entity_id == record.id,
        AuditEntry.action == "editorial").order_by(AuditEntry.id.desc()).limit(1))
    if last is None or last.old_value != "in_review" or last.new_value != "draft" or not last.reason:
        return None
    return last


# ---------------------------------------------------------------------------------------------------
# Proposals


def _published_for_proposal(session: Session, entity_type: str, key: str) -> Policy | Event:
    if entity_type not in MODELS:
        raise NotFound(_("There is no such record."))
    # A row of one of MODELS (mypy joins the union to Base in select()).
    record = cast("Policy | Event | None",
                  session.scalar(select(MODELS[entity_type]).where(MODELS[entity_type].key == key)))
    if record is None:
        raise NotFound(_("There is no policy with the key '%(key)s'.", key=key[:120]) if entity_type == "policy"
                       else _("There is no event with the key '%(key)s'.", key=key[:120]))
    return record


def propose_change(session: Session, entity_type: str, key: str, submitted: Mapping[str, Any], actor: User,
                   base_version: int, note: str | None = None) -> ChangeProposal:
    """Store an editor's change to a published (or archived) record as a proposal for a reviewer; only the
    fields that differ from the version the editor read are kept.

    Raises:
        NotFound. Forbidden: not staff. Invalid: the record is a draft or in review (edit it instead),
        nothing differs, a field is not valid, or the note is too long.
    """
    require(actor, "edit")
    record = _published_for_proposal(session, entity_type, key)
    if record.editorial_state not in ("published", "archived"):
        raise Invalid(_("Drafts and records in review are edited directly; a change is proposed only for a "
                        "published record."))
    errors: dict[str, str | FieldError] = {}
    note = editing._text(note, "note", errors, max_length=5000)
    if errors:
        raise Invalid(_("Some fields are not valid."), errors)
    plan, current = editing.plan_edit_merge(session, entity_type, key, submitted, base_version)
    # Fields changed from what the editor read; a field whose proposed value is already the current one
    # (someone made the same change meanwhile) is no change.
    changes = dict(plan.changes) | {conflict.field: conflict.mine for conflict in plan.conflicts}
    if not changes:
        raise Invalid(_("Nothing to propose: the form matches the record."))
    # The proposed values must be valid now, as they will be when approved.
    _check_valid(session, entity_type, key, current | changes)
    proposal = ChangeProposal(entity_type=entity_type, entity_id=record.id, entity_key=record.key,
                              jurisdiction_code=record.jurisdiction_code, base_version=base_version,
                              changes=changes, note=note, state="pending", proposed_by_id=actor.id)
    session.add(proposal)
    session.flush()
    write_audit(session, entity_type, record, "proposal_submitted", actor, [(None, None, None)],
                        reason=note, details={"proposal_id": proposal.id, "fields": sorted(changes)})
    staff_mail.queue_to_role(session, "proposal_submitted", "reviewer", editing.record_mail_payload(
        entity_type, record, actor, proposal_id=proposal.id, changed=sorted(changes)), except_user=actor)
    session.flush()
    return proposal


def _check_valid(session: Session, entity_type: str, key: str, record: Mapping[str, Any]) -> None:
    keys = editing._Keys(session)
    problems: list[RecordProblem] = []
    checker = RecordCheck(problems, entity_type, dict(record), entity_type, keys.jurisdictions)
    if entity_type == "policy":
        check_policy(checker, key, keys.known())
    else:
        check_event(checker, key, keys.known())
    if problems:
        raise editing._problems_to_invalid(problems)


def get_proposal(session: Session, proposal_id: int) -> ChangeProposal:
    """Raises NotFound."""
    proposal = session.get(ChangeProposal, proposal_id)
    if proposal is None:
        raise NotFound(_("There is no such proposed change."))
    return proposal


@dataclass
class ProposalView:
    """A proposal as a reviewer reads it: each proposed field as published now and as proposed, and the
    fields changed on the record since the proposal was made (which need a pick)."""

    proposal: ChangeProposal
    record: Policy | Event
    current: dict[str, Any]
    rows: list[FieldChange]
    conflicts: list[FieldConflict]
    proposer: User | None
    decider: User | None


def proposal_view(session: Session, proposal_id: int, actor: User | None) -> ProposalView:
    """Raises NotFound, Forbidden."""
    require(actor, "read_unpublished")
    proposal = get_proposal(session, proposal_id)
    # A row of one of MODELS (mypy joins the union to Base in Session.get()).
    record = cast("Policy | Event | None", session.get(MODELS[proposal.entity_type], proposal.entity_id))
    if record is None:
        raise NotFound(_("The record of this proposal no longer exists."))
    conflicts: list[FieldConflict] = []
    if proposal.is_pending:
        plan, current = editing.plan_edit_merge(session, proposal.entity_type, proposal.entity_key,
                                                proposal.changes, proposal.base_version)
        conflicts = plan.conflicts
    else:
        current = editing.current_record(session, proposal.entity_type, proposal.entity_key)
    rows = [FieldChange(name, current.get(name), value) for name, value in proposal.changes.items()]
    # Keyed by int | None so that a proposal nobody decided yet reads None from .get().
    users: dict[int | None, User] = {user.id: user for user in session.scalars(select(User).where(
        User.id.in_([i for i in (proposal.proposed_by_id, proposal.decided_by_id) if i])))}
    return ProposalView(proposal, record, current, rows, conflicts, users.get(proposal.proposed_by_id),
                        users.get(proposal.decided_by_id))


def _pending(session: Session, proposal_id: int) -> ChangeProposal:
    proposal = session.scalars(select(ChangeProposal).where(ChangeProposal.id == proposal_id)
                               .with_for_update()).one_or_none()
    if proposal is None:
        raise NotFound(_("There is no such proposed change."))
    if not proposal.is_pending:
        raise Conflict(_("This proposed change was already decided on (%(state)s).",
                         state=str(PROPOSAL_STATES[proposal.state]).lower()))
    return proposal


def approve_proposal(session: Session, proposal_id: int, actor: User, *, resolutions: Mapping[str, str] | None = None,
                     comment: str | None = None) -> ChangeProposal:
    """Apply a proposal to the record as it is now: merged three ways from the version it was made on,
    audited as an approved proposal, partners told as for any edit. A field changed on the record since
    the proposal was made needs a pick in ``resolutions`` ("proposed" or "current").

    Raises:
        NotFound, Forbidden (only reviewers approve), Conflict (already decided), MergeConflict (a field
        needs a pick), Invalid.
    """
    require(actor, "publish")
    proposal = _pending(session, proposal_id)
    errors: dict[str, str | FieldError] = {}
    comment = editing._text(comment, "comment", errors, max_length=5000)
    if errors:
        raise Invalid(_("Some fields are not valid."), errors)
    resolutions = dict(resolutions or {})
    plan, current = editing.plan_edit_merge(session, proposal.entity_type, proposal.entity_key, proposal.changes,
                                            proposal.base_version)
    changes = dict(plan.changes)
    unresolved = []
    for conflict in plan.conflicts:
        pick = resolutions.get(conflict.field)
        if pick == "proposed":
            changes[conflict.field] = conflict.mine
        elif pick != "current":
            unresolved.append(conflict)
    if unresolved:
        plan.conflicts = unresolved
        raise MergeConflict(_("The record changed since the proposal was made: choose which value to keep for "
                              "each field changed on both sides."), plan.current_version, plan)
    editor = session.get(User, proposal.proposed_by_id) if proposal.proposed_by_id else None
    update = editing.update_policy if proposal.entity_type == "policy" else editing.update_event
    record = update(session, proposal.entity_key, changes, actor, plan.current_version, action="proposal_approved",
                    reason=comment, details={"proposal_id": proposal.id,
                                             "proposed_by": editor.label if editor else None})
    proposal.state = "approved"
    proposal.decided_by_id = actor.id
    proposal.decided_at = utcnow()
    proposal.decision_comment = comment
    proposal.applied_version = record.version
    if editor is not None and editor.id != actor.id:
        staff_mail.queue(session, "proposal_approved", editor, editing.record_mail_payload(
            proposal.entity_type, record, actor, proposal_id=proposal.id, comment=comment))
    session.flush()
    return proposal


def reject_proposal(session: Session, proposal_id: int, actor: User, comment: str | None) -> ChangeProposal:
    """Decline a proposal with a comment for its editor (kept in the record's history).

    Raises:
        NotFound, Forbidden, Conflict (already decided), Invalid (no comment).
    """
    require(actor, "publish")
    proposal = _pending(session, proposal_id)
    errors: dict[str, str | FieldError] = {}
    comment = editing._text(comment, "comment", errors, max_length=5000)
    if not comment and not errors:
        errors["comment"] = _("Say why, for the editor who proposed it.")
    if errors:
        raise Invalid(_("Some fields are not valid."), errors)
    # Policies and events are never deleted, so the proposal's record is there; it is one of MODELS
    # (mypy joins the union to Base in Session.get()).
    record = cast("Policy | Event", session.get(MODELS[proposal.entity_type], proposal.entity_id))
    proposal.state = "rejected"
    proposal.decided_by_id = actor.id
    proposal.decided_at = utcnow()
    proposal.decision_comment = comment
    write_audit(session, proposal.entity_type, record, "proposal_rejected", actor, [(None, None, None)],
                        reason=comment, details={"proposal_id": proposal.id, "fields": sorted(proposal.changes)})
    editor = session.get(User, proposal.proposed_by_id) if proposal.proposed_by_id else None
    if editor is not None and editor.id != actor.id:
        staff_mail.queue(session, "proposal_rejected", editor, editing.record_mail_payload(
            proposal.entity_type, record, actor, proposal_id=proposal.id, comment=comment))
    session.flush()
    return proposal


def withdraw_proposal(session: Session, proposal_id: int, actor: User) -> ChangeProposal:
    """The editor who proposed a change takes it back before it is decided.

    Raises:
        NotFound, Forbidden (someone else's proposal), Conflict (already decided).
    """
    proposal = _pending(session, proposal_id)
    if proposal.proposed_by_id != actor.id and not has_permission(actor, "publish"):
        raise Forbidden(_("Only the editor who proposed a change may withdraw it."))
    proposal.state = "withdrawn"
    proposal.decided_by_id = actor.id
    proposal.decided_at = utcnow()
    session.flush()
    return proposal


def pending_proposals_of(session: Session, entity_type: str, record_id: int) -> list[ChangeProposal]:
    """The record's proposals waiting for review, oldest first (one query)."""
    return list(session.scalars(select(ChangeProposal).where(
        ChangeProposal.entity_type == entity_type, ChangeProposal.entity_id == record_id,
        ChangeProposal.state == "pending").order_by(ChangeProposal.id)))
