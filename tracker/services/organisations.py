"""Organisations: the bodies that issue, implement, fund and organise; listed, read, created and edited.

Staff create and edit organisations like records: validated whole, checked against the version read
(or merged three ways from it), and written to the audit trail field by field.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from tracker.errors import Invalid, MergeConflict, NotFound, StaleEdit
from tracker.lao import sort_key
from tracker.models import AuditEntry, Event, EventOrganisation, Jurisdiction, Organisation, Policy, PolicyBody, User
from tracker.models.vocab import ORGANISATION_KINDS
from tracker.services.audit import field_changes, write_audit
from tracker.services.keys import slugify, unique_key
from tracker.services.merging import MergePlan, jsonable, plan_merge, values_at_version
from tracker.services.permissions import require
from tracker.services.policies import visible_states
from tracker.services.record_checks import (
    RecordCheck,
    RecordProblem,
    check_key,
    check_organisation,
    problems_to_invalid,
)
from tracker.translation import gettext as _

ORGANISATION_FIELDS = ("name_en", "name_lo", "acronym", "country", "kind", "parent")


# ---------------------------------------------------------------------------------------------------
# Names and ordering


def display_name(organisation: Organisation, language: str) -> str:
    """The organisation's name in ``language``, else in the other language, else its key."""
    first, second = (organisation.name_lo, organisation.name_en) if language == "lo" else (
        organisation.name_en, organisation.name_lo)
    return first or second or organisation.key


def picker_label(organisation: Organisation, language: str) -> str:
    """An option of the issuer and body pickers: acronym, the name in the reader's language and the other
    name, so that typing either script or the acronym finds it ("MEM — Ministry of Energy and Mines ·
    ກະຊວງພະລັງງານ ແລະ ບໍ່ແຮ່")."""
    name = display_name(organisation, language)
    other = organisation.name_en if language == "lo" else organisation.name_lo
    parts = [f"{organisation.acronym} — {name}" if organisation.acronym and organisation.acronym != name else name]
    if other and other != name:
        parts.append(other)
    return " · ".join(parts)


def name_order(language: str) -> Callable[[Organisation], tuple[str, str]]:
    """A sort key for organisations by their name in ``language`` (Lao in dictionary order)."""
    return lambda organisation: (sort_key(display_name(organisation, language)), organisation.key)


@dataclass(frozen=True)
class CountryGroup:
    """Organisations of one country (or of none), for grouped lists and pickers."""

    code: str | None
    name: str
    organisations: list[Organisation]


def grouped_by_country(session: Session, organisations: Sequence[Organisation], language: str, *,
                       jurisdictions: Sequence[Any] | None = None) -> list[CountryGroup]:
    """``organisations`` grouped by country: the ASEAN members in the tracker's order (Lao PDR first),
    then ASEAN and international bodies, then other countries by code, then those with no country;
    inside a group by name in the reader's language (one query, for the jurisdiction names, unless
    ``jurisdictions`` gives them in their order: objects or rows with code, name_en and name_lo).
    Organisations may be rows with the columns the names are made of (key, names, acronym, country)."""
    if jurisdictions is None:
        jurisdictions = session.scalars(select(Jurisdiction).order_by(Jurisdiction.position)).all()
    by_code = {j.code: j for j in jurisdictions}
    order = {code: index for index, code in enumerate(by_code)}
    by_country: dict[str | None, list[Organisation]] = {}
    for organisation in organisations:
        by_country.setdefault(organisation.country, []).append(organisation)

    def rank(code: str | None) -> tuple[int, str] | tuple[int, int, str]:
        if code is None:
            return (2, "")
        return (0, order[code], "") if code in order else (1, 0, code)

    groups = []
    for code in sorted(by_country, key=rank):
        jurisdiction = by_code.get(code) if code else None
        if jurisdiction is not None:
            name = (jurisdiction.name_lo or jurisdiction.name_en) if language == "lo" else jurisdiction.name_en
        else:
            name = code or _("No country")
        groups.append(CountryGroup(code, name, sorted(by_country[code], key=name_order(language))))
    return groups


def country_choices(session: Session, language: str) -> list[tuple[str, str]]:
    """(code, name) of every country some organisation belongs to, in the order of grouped lists (two
    queries)."""
    organisations = session.scalars(select(Organisation).where(Organisation.country.is_not(None))).all()
    return [(group.code, group.name) for group in grouped_by_country(session, organisations, language)
            if group.code]


# ---------------------------------------------------------------------------------------------------
# Reading


@dataclass
class OrganisationRow:
    """An organisation in the list, with how many visible records name it in each part."""

    organisation: Organisation
    issued: int = 0
    bodies: int = 0
    events: int = 0


def list_organisations(session: Session, *, country: str | None = None, kind: str | None = None,
                       query: str | None = None, include_unpublished: bool = False) -> list[OrganisationRow]:
    """Organisations matching the filters, each with its counts (four queries whatever their number).

    ``query`` matches the acronym or either name, in any case.

    Raises:
        Invalid: an unknown kind.
    """
    if kind is not None and kind not in ORGANISATION_KINDS:
        raise Invalid(_("Some filters are not valid"),
                      {"kind": _("Choose one of: %(values)s.", values=", ".join(ORGANISATION_KINDS))})
    statement = select(Organisation)
    if country:
        statement = statement.where(Organisation.country == country)
    if kind:
        statement = statement.where(Organisation.kind == kind)
    if query and query.strip():
        pattern = f"%{query.strip()[:100].lower()}%"
        statement = statement.where(or_(func.lower(Organisation.acronym).like(pattern),
                                        func.lower(Organisation.name_en).like(pattern),
                                        Organisation.name_lo.like(f"%{query.strip()[:100]}%")))
    organisations = session.scalars(statement).all()
    # Keyed by int | None for the lookups below, by columns that may be NULL (never here: IN (ids)).
    rows: dict[int | None, OrganisationRow] = {organisation.id: OrganisationRow(organisation)
                                               for organisation in organisations}
    if not rows:
        return []
    states = visible_states(include_unpublished)
    ids = list(rows)
    for org_id, count in session.execute(
            select(Policy.issuer_id, func.count(Policy.id)).where(
                Policy.issuer_id.in_(ids), Policy.editorial_state.in_(states)).group_by(Policy.issuer_id)):
        rows[org_id].issued = count
    for org_id, count in session.execute(
            select(PolicyBody.organisation_id, func.count(func.distinct(PolicyBody.policy_id)))
            .join(Policy, Policy.id == PolicyBody.policy_id)
            .where(PolicyBody.organisation_id.in_(ids), Policy.editorial_state.in_(states))
            .group_by(PolicyBody.organisation_id)):
        rows[org_id].bodies = count
    for org_id, count in session.execute(
            select(EventOrganisation.organisation_id, func.count(func.distinct(EventOrganisation.event_id)))
            .join(Event, Event.id == EventOrganisation.event_id)
            .where(EventOrganisation.organisation_id.in_(ids), Event.editorial_state.in_(states))
            .group_by(EventOrganisation.organisation_id)):
        rows[org_id].events = count
    return list(rows.values())


@dataclass
class OrganisationPage:
    """Everything the page of one organisation shows."""

    organisation: Organisation
    parent: Organisation | None
    children: list[Organisation]
    issued: list[Policy] = field(default_factory=list)
    bodies: list[tuple[Policy, str]] = field(default_factory=list)
    events: list[tuple[Event, str]] = field(default_factory=list)


def get_organisation(session: Session, key: str) -> Organisation:
    """One organisation by key.

    Raises:
        NotFound.
    """
    organisation = session.scalar(select(Organisation).where(Organisation.key == key))
    if organisation is None:
        raise NotFound(_("There is no organisation with the key '%(key)s'.", key=key[:120]))
    return organisation


def organisation_page(session: Session, key: str, *, include_unpublished: bool = False) -> OrganisationPage:
    """An organisation, its parent and sub-bodies, what it issued, the policies it has another part in and
    the events it organised, funded or joined (six queries).

    Raises:
        NotFound.
    """
    from sqlalchemy.orm import joinedload

    organisation = get_organisation(session, key)
    states = visible_states(include_unpublished)
    parent = session.get(Organisation, organisation.parent_id) if organisation.parent_id else None
    children = list(session.scalars(select(Organisation).where(Organisation.parent_id == organisation.id)))
    issued = list(session.scalars(
        select(Policy).where(Policy.issuer_id == organisation.id, Policy.editorial_state.in_(states))
        .options(joinedload(Policy.jurisdiction))
        .order_by(Policy.status_changed_on.desc().nulls_last(), Policy.key)))
    bodies = [(policy, role) for policy, role in session.execute(
        select(Policy, PolicyBody.role).join(PolicyBody, PolicyBody.policy_id == Policy.id)
        .where(PolicyBody.organisation_id == organisation.id, Policy.editorial_state.in_(states))
        .options(joinedload(Policy.jurisdiction))
        .order_by(Policy.status_changed_on.desc().nulls_last(), Policy.key, PolicyBody.role))]
    events = [(event, role) for event, role in session.execute(
        select(Event, EventOrganisation.role).join(EventOrganisation, EventOrganisation.event_id == Event.id)
        .where(EventOrganisation.organisation_id == organisation.id, Event.editorial_state.in_(states))
        .order_by(Event.starts_on.desc().nulls_last(), Event.key, EventOrganisation.role))]
    return OrganisationPage(organisation, parent, children, issued, bodies, events)


# ---------------------------------------------------------------------------------------------------
# Changing


def organisation_record(session: Session, organisation: Organisation) -> dict[str, Any]:
    """The organisation in the dataset format."""
    parent_key = session.scalar(select(Organisation.key).where(Organisation.id == organisation.parent_id)) \
        if organisation.parent_id else None
    return {"key": organisation.key, "name_en": organisation.name_en, "name_lo": organisation.name_lo,
            "acronym": organisation.acronym, "country": organisation.country, "kind": organisation.kind,
            "parent": parent_key}


def _validate(session: Session, key: str, data: Mapping[str, Any]) -> dict[str, Any]:
    problems: list[RecordProblem] = []
    raw = dict(data)
    if isinstance(raw.get("country"), str):
        raw["country"] = raw["country"].strip().upper() or None
    if isinstance(raw.get("acronym"), str):
        raw["acronym"] = raw["acronym"].strip() or None
    record = check_organisation(RecordCheck(problems, "organisation", raw, "organisation", ()), key,
                                set(session.scalars(select(Organisation.key))))
    if problems:
        raise problems_to_invalid(problems, _("Some fields are not valid."))
    return record


def _check_parent(session: Session, organisation_id: int | None, parent_key: str | None) -> int | None:
    """The parent's id, refusing a chain of parents that would lead back to the organisation."""
    if parent_key is None:
        return None
    parents = dict(session.execute(select(Organisation.id, Organisation.parent_id)).all())
    parent_id = session.scalar(select(Organisation.id).where(Organisation.key == parent_key))
    seen, current = set(), parent_id
    while current is not None and current not in seen:
        if current == organisation_id:
            raise Invalid(_("Some fields are not valid."), {"parent": _(
                "This would make the organisation a part of itself; choose another parent body.")})
        seen.add(current)
        current = parents.get(current)
    return parent_id


def _key_for(session: Session, record: Mapping[str, Any]) -> str:
    country = (record.get("country") or "").lower()
    words = record.get("acronym") or record.get("name_en") or ""
    base = slugify(words, prefix=country) if re.search(r"[A-Za-z0-9]", slugify(words)) else \
        slugify(record.get("kind") or "organisation", prefix=country)
    return unique_key(base, set(session.scalars(select(Organisation.key))))


def check_new_organisation(session: Session, data: Mapping[str, Any], key: str | None,
                           taken: set[str]) -> dict[str, Any]:
    """An organisation to be created later (with an import), checked as create_organisation checks one:
    its record, with ``key`` or a key made from its acronym or name and country (none of ``taken``).

    Raises:
        Invalid: names each field that is wrong.
    """
    record = _validate(session, key or "", data)
    if key is None:
        key = unique_key(_key_for(session, record), taken)
    return {"key": key, "name_en": record["name_en"], "name_lo": record["name_lo"], "country": record["country"],
            "kind": record["kind"]}


def create_organisation(session: Session, data: Mapping[str, Any], actor: User) -> Organisation:
    """Create an organisation from a record in the dataset format (``key`` optional: made from the
    acronym or English name and the country).

    Raises:
        Forbidden. Invalid: names each field that is wrong (including a taken key).
    """
    require(actor, "edit")
    if not isinstance(data, Mapping):
        raise Invalid(_("The organisation must be a JSON object."), {"body": _("Send a JSON object.")})
    unknown = [name for name in data if name not in ORGANISATION_FIELDS + ("key",)]
    if unknown:
        raise Invalid(_("Some fields are not known."), dict.fromkeys(
            (name[:60] for name in unknown), _("This field does not exist or cannot be changed here.")))
    key = data.get("key")
    record = _validate(session, key if isinstance(key, str) else "", data)
    if key is None:
        key = _key_for(session, record)
    elif (key_error := check_key(key)) is not None:
        raise Invalid(_("Some fields are not valid."), {"key": key_error})
    elif session.scalar(select(Organisation.id).where(Organisation.key == key)) is not None:
        raise Invalid(_("The key is taken."), {"key": _("An organisation with the key '%(key)s' already exists.",
                                                        key=key)})
    organisation = Organisation(key=key, name_en=record["name_en"], name_lo=record["name_lo"],
                                acronym=record["acronym"], country=record["country"], kind=record["kind"])
    organisation.parent_id = _check_parent(session, None, record["parent"])
    session.add(organisation)
    session.flush()
    after = organisation_record(session, organisation)
    write_audit(session, "organisation", organisation, "create", actor,
                [(name, None, after[name]) for name in ORGANISATION_FIELDS if after[name] is not None])
    session.flush()
    return organisation


def _for_edit(session: Session, key: str) -> Organisation:
    """The organisation, its row locked first (the lock order of tracker.services.editing)."""
    organisation = session.scalars(select(Organisation).where(Organisation.key == key).with_for_update()
                                   .execution_options(populate_existing=True)).one_or_none()
    if organisation is None:
        raise NotFound(_("There is no organisation with the key '%(key)s'.", key=key[:120]))
    return organisation


def plan_edit_merge(session: Session, key: str, submitted: Mapping[str, Any],
                    base_version: int) -> tuple[MergePlan, dict[str, Any]]:
    """How an edit of an organisation made from ``base_version`` would land, without saving anything: the
    plan and the current record (as tracker.services.editing.plan_edit_merge for policies and events).

    Raises:
        NotFound. Invalid: ``base_version`` is not a version of the organisation.
    """
    organisation = _for_edit(session, key)
    current = organisation_record(session, organisation)
    return plan_organisation_merge(session, organisation, current, submitted, base_version), current


def plan_organisation_merge(session: Session, organisation: Organisation, current: Mapping[str, Any],
                            submitted: Mapping[str, Any], base_version: int) -> MergePlan:
    """How an edit made from ``base_version`` lands on the organisation as it is now."""
    if not isinstance(base_version, int) or not 1 <= base_version <= organisation.version:
        raise Invalid(_("The base version is not a version of this record."), {"base_version": _(
            "Give the version you read, between 1 and %(current)s.", current=organisation.version)})
    base = values_at_version(session, "organisation", organisation.id, current, base_version, ORGANISATION_FIELDS)
    mine = {name: submitted[name] for name in ORGANISATION_FIELDS if name in submitted}
    for name in ("acronym", "country"):
        if isinstance(mine.get(name), str):
            mine[name] = mine[name].strip().upper() if name == "country" else mine[name].strip()
            mine[name] = mine[name] or None
    mine = {name: jsonable(value) for name, value in mine.items()}
    return plan_merge(base, mine, current, ORGANISATION_FIELDS, base_version=base_version,
                      current_version=organisation.version)


def update_organisation(session: Session, key: str, changes: Mapping[str, Any], actor: User,
                        expected_version: int | None, *, base_version: int | None = None) -> Organisation:
    """Change some fields of an organisation (``expected_version`` and ``base_version`` as in
    tracker.services.editing.update_policy).

    Raises:
        NotFound, Forbidden, StaleEdit, MergeConflict, Invalid: names each field that is wrong.
    """
    require(actor, "edit")
    if not isinstance(changes, Mapping):
        raise Invalid(_("The changes must be a JSON object."), {"body": _("Send a JSON object.")})
    organisation = _for_edit(session, key)
    if expected_version is not None and expected_version != organisation.version:
        entries = session.scalars(select(AuditEntry).where(
            AuditEntry.entity_type == "organisation", AuditEntry.entity_id == organisation.id,
            AuditEntry.version > expected_version).order_by(AuditEntry.id)).all()
        raise StaleEdit(_("This record was changed by someone else since you opened it (you edited version "
                          "%(expected)s; it is now at version %(current)s).", expected=expected_version,
                          current=organisation.version), organisation.version, list(entries))
    unknown = [name for name in changes if name not in ORGANISATION_FIELDS]
    if unknown:
        raise Invalid(_("Some fields are not known."), dict.fromkeys(
            (name[:60] for name in unknown), _("This field does not exist or cannot be changed here.")))
    before = organisation_record(session, organisation)
    details = None
    if base_version is not None and base_version != organisation.version:
        plan = plan_organisation_merge(session, organisation, before, changes, base_version)
        if plan.conflicts:
            raise MergeConflict(_("Some fields you changed were also changed by someone else since version "
                                  "%(base)s; nothing was saved.", base=base_version), organisation.version, plan)
        changes = plan.changes
        details = {"merged_from_version": base_version, "fields_merged": plan.mine_changed}
    record = _validate(session, key, before | dict(changes))
    parent_id = _check_parent(session, organisation.id, record["parent"])
    values = {"name_en": record["name_en"], "name_lo": record["name_lo"], "acronym": record["acronym"],
              "country": record["country"], "kind": record["kind"], "parent_id": parent_id}
    for name, value in values.items():
        if getattr(organisation, name) != value:
            setattr(organisation, name, value)
    session.flush()
    after = organisation_record(session, organisation)
    write_audit(session, "organisation", organisation, "update", actor,
                field_changes(before, after, ORGANISATION_FIELDS), details=details)
    session.flush()
    return organisation


def organisation_history(session: Session, key: str) -> tuple[Organisation, list[AuditEntry]]:
    """An organisation and its audit trail, newest first.

    Raises:
        NotFound.
    """
    organisation = get_organisation(session, key)
    entries = session.scalars(select(AuditEntry).where(
        AuditEntry.entity_type == "organisation", AuditEntry.entity_id == organisation.id)
        .order_by(AuditEntry.id.desc())).all()
    return organisation, list(entries)

