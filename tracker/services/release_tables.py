"""The tables of a release: their columns, types, keys and meanings (one declaration that writes the CSV
files, the workbook's sheets, the Table Schemas of the data package and its README), and their rows,
read from the published records only.

Lists never sit in a cell of these tables, except in ``policies``, whose columns are those of the policy
list downloads (tracker.services.exports) so that both agree: there, for spreadsheet readers, topics,
vehicle classes, other bodies, sources and targets are also joined with " ; ", while the link tables
(``policy_topics``, ``policy_vehicle_classes``, ``policy_bodies``, ``targets``, ``event_organisations``,
``event_topics``) hold them one per row with their order. A link to something unpublished is left out
(a relation keeps only its written reference then), as on the pages.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from sqlalchemy import and_, select
from sqlalchemy.orm import Session, aliased

from tracker.models import (
    Document,
    Event,
    EventOrganisation,
    EventTopic,
    ForumLink,
    Jurisdiction,
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
from tracker.models.record_format import KEY_PATTERN
from tracker.models.reference import JURISDICTION_KINDS
from tracker.models.types import PartialDate
from tracker.models.vocab import (
    BODY_ROLES,
    CONFIDENCE_LEVELS,
    DOCUMENT_LANGUAGE_CODES,
    DOCUMENT_ROLES,
    EVENT_KINDS,
    EVENT_ROLES,
    FORUM_ROLES,
    INSTRUMENTS,
    LEGAL_STATUSES,
    ORGANISATION_KINDS,
    RELATION_TYPES,
    SOURCE_KINDS,
    TARGET_METRICS,
    TARGET_UNITS,
    VEHICLE_CLASSES,
)
from tracker.services.exports import POLICY_COLUMNS, POLICY_ROW_LOADS, policy_row
from tracker.services.policies import PUBLIC_STATES
from tracker.services.records import target_to_record

# Rows read from the database at a time.
BATCH = 500
# A partial date as the tables write it (the whole cell must match).
PARTIAL_DATE_PATTERN = "[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?"
PARTIAL_DATE_TEXT = "partial date: YYYY, YYYY-MM or YYYY-MM-DD, as precise as the sources are"
RECORD_KEY_PATTERN = KEY_PATTERN.pattern.removeprefix("^").removesuffix("$")


@dataclass(frozen=True)
class Column:
    """One column: its name (stable, snake_case), Table Schema type, meaning, and constraints."""

    name: str
    type: str  # string, integer, number, boolean, date, datetime
    description: str
    required: bool = False
    enum: tuple[str, ...] = ()
    pattern: str | None = None
    partial_date: bool = False

    def field(self) -> dict[str, Any]:
        """The Table Schema field descriptor."""
        field: dict[str, Any] = {"name": self.name, "type": self.type, "description": self.description}
        constraints: dict[str, Any] = {}
        if self.required:
            constraints["required"] = True
        if self.enum:
            constraints["enum"] = list(self.enum)
        pattern = PARTIAL_DATE_PATTERN if self.partial_date else self.pattern
        if pattern:
            constraints["pattern"] = pattern
        if self.type == "datetime":
            field["format"] = "default"
        if self.type == "boolean":
            field["trueValues"], field["falseValues"] = ["true"], ["false"]
        if constraints:
            field["constraints"] = constraints
        return field

    @property
    def type_label(self) -> str:
        """The type as the README and the workbook's ``columns`` sheet name it."""
        if self.partial_date:
            return "partial date"
        return {"string": "text", "datetime": "timestamp (UTC, ISO 8601)", "date": "date (YYYY-MM-DD)",
                "boolean": "true or false"}.get(self.type, self.type)


def _text(name: str, description: str, **kw: Any) -> Column:
    return Column(name, "string", description, **kw)


def _int(name: str, description: str, **kw: Any) -> Column:
    return Column(name, "integer", description, **kw)


def _date(name: str, description: str) -> Column:
    return Column(name, "string", f"{description} ({PARTIAL_DATE_TEXT})", partial_date=True)


def _key(name: str, description: str, *, required: bool = True) -> Column:
    return Column(name, "string", description, required=required, pattern=RECORD_KEY_PATTERN)


def _choice(name: str, description: str, values: Any, *, required: bool = False) -> Column:
    return Column(name, "string", description, required=required, enum=tuple(values))


@dataclass(frozen=True)
class ForeignKey:
    columns: tuple[str, ...]
    table: str
    table_columns: tuple[str, ...]


@dataclass(frozen=True)
class Links:
    """The public addresses of records, from the site's address (or paths alone when it is not known)."""

    base: str

    def policy(self, key: str) -> str:
        return f"{self.base}/policies/{quote(key, safe='')}"

    def event(self, key: str) -> str:
        return f"{self.base}/events/{quote(key, safe='')}"

    def document(self, document_id: int) -> str:
        return f"{self.base}/documents/{document_id}"

    def page(self, path: str) -> str:
        return f"{self.base}{path}"


Rows = Callable[[Session, Links], Iterator[list[Any]]]


@dataclass(frozen=True)
class Table:
    """One table of a release: a CSV file in the data package, a sheet in the workbook."""

    name: str
    title: str
    description: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    foreign_keys: tuple[ForeignKey, ...]
    rows: Rows
    # Widths of the workbook's first columns.
    widths: tuple[int, ...] = ()

    @property
    def header(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    @property
    def path(self) -> str:
        return f"{self.name}.csv"

    def table_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {
            "$schema": "https://datapackage.org/profiles/2.0/tableschema.json",
            "fields": [column.field() for column in self.columns],
            # An empty cell is a missing value: the tables never write an empty text for one.
            "missingValues": [""],
        }
        if self.primary_key:
            schema["primaryKey"] = list(self.primary_key)
        if self.foreign_keys:
            schema["foreignKeys"] = [
                {"fields": list(fk.columns), "reference": {"fields": list(fk.table_columns)}
                 | ({"resource": fk.table} if fk.table != self.name else {})}
                for fk in self.foreign_keys]
        return schema


def _published(model: Any) -> Any:
    return model.editorial_state.in_(PUBLIC_STATES)


def _partial(value: PartialDate | None) -> str:
    return value.isoformat() if value is not None else ""


def _day(value: dt.date | None) -> str:
    return value.isoformat() if value else ""


def _stream(session: Session, statement: Any) -> Iterator[Any]:
    yield from session.execute(statement.execution_options(yield_per=BATCH))


# ---------------------------------------------------------------------------------------------------
# Rows


def _jurisdiction_rows(session: Session, _links: Links) -> Iterator[list[Any]]:
    for j in session.scalars(select(Jurisdiction).order_by(Jurisdiction.position, Jurisdiction.code)):
        yield [j.code, j.name_en, j.name_lo, j.kind, j.position,
               j.asean_member_since.isoformat() if j.asean_member_since else ""]


def _organisation_rows(session: Session, _links: Links) -> Iterator[list[Any]]:
    parent = aliased(Organisation)
    statement = (select(Organisation, parent.key).outerjoin(parent, parent.id == Organisation.parent_id)
                 .order_by(Organisation.key))
    for organisation, parent_key in _stream(session, statement):
        yield [organisation.key, organisation.name_en, organisation.name_lo, organisation.acronym,
               organisation.country, organisation.kind, parent_key]


def _topic_rows(session: Session, _links: Links) -> Iterator[list[Any]]:
    for topic in session.scalars(select(Topic).order_by(Topic.position, Topic.key)):
        yield [topic.key, topic.name_en, topic.name_lo, topic.position]


def _policy_rows(session: Session, links: Links) -> Iterator[list[Any]]:
    statement = select(Policy).where(_published(Policy)).order_by(Policy.key).options(*POLICY_ROW_LOADS)
    for policy in session.scalars(statement.execution_options(yield_per=BATCH)):
        yield [*policy_row(policy, links.policy), "\n".join(policy.conflicts or [])]


def _policy_link_rows(columns: tuple[Any, ...], model: Any) -> Rows:
    def rows(session: Session, _links: Links) -> Iterator[list[Any]]:
        statement = (select(Policy.key, *columns).join(Policy, Policy.id == model.policy_id)
                     .where(_published(Policy)).order_by(Policy.key, model.position))
        for row in _stream(session, statement):
            yield list(row)
    return rows


def _policy_body_rows(session: Session, _links: Links) -> Iterator[list[Any]]:
    statement = (select(Policy.key, Organisation.key, PolicyBody.role, PolicyBody.position)
                 .join(Policy, Policy.id == PolicyBody.policy_id)
                 .join(Organisation, Organisation.id == PolicyBody.organisation_id)
                 .where(_published(Policy)).order_by(Policy.key, PolicyBody.position))
    for row in _stream(session, statement):
        yield list(row)


def _status_change_rows(session: Session, _links: Links) -> Iterator[list[Any]]:
    statement = (select(Policy.key, StatusChange).join(Policy, Policy.id == StatusChange.policy_id)
                 .where(_published(Policy)).order_by(Policy.key, StatusChange.position))
    for key, change in _stream(session, statement):
        yield [key, change.position, change.from_status, change.to_status, _partial(change.effective_on),
               change.note, change.note_lo, change.evidence_url,
               change.recorded_at.isoformat(timespec="seconds") if change.recorded_at else "",
               _day(change.gazetted_on), _day(change.comment_opens_on), _day(change.comment_closes_on),
               change.comment_how_en, change.comment_how_lo, change.comment_address, change.comment_draft_url]


def _relation_rows(session: Session, _links: Links) -> Iterator[list[Any]]:
    target = aliased(Policy)
    statement = (select(Policy.key, PolicyRelation, target.key)
                 .join(Policy, Policy.id == PolicyRelation.policy_id)
                 .outerjoin(target, and_(target.id == PolicyRelation.target_id, _published(target)))
                 .where(_published(Policy)).order_by(Policy.key, PolicyRelation.position))
    for key, relation, target_key in _stream(session, statement):
        if target_key is None and not relation.target_reference:
            continue  # a link to an unpublished record, and nothing else to say of it
        yield [key, relation.position, relation.relation_type, target_key, relation.target_reference]


def _target_rows(session: Session, _links: Links) -> Iterator[list[Any]]:
    statement = (select(Policy.key, PolicyTarget).join(Policy, Policy.id == PolicyTarget.policy_id)
                 .where(_published(Policy)).order_by(Policy.key, PolicyTarget.position))
    for key, target in _stream(session, statement):
        record = target_to_record(target)
        yield [key, target.position, record["metric"], record["value"], record["unit"], record["year"],
               record["vehicle_class"], record["scope_en"], record["scope_lo"],
               "true" if record["headline"] else "false", record["source_url"]]


def _source_rows(session: Session, _links: Links) -> Iterator[list[Any]]:
    for owner, column in ((Policy, Source.policy_id), (Event, Source.event_id)):
        statement = (select(owner.key, Source).join(owner, owner.id == column)
                     .where(_published(owner)).order_by(owner.key, Source.position))
        for key, source in _stream(session, statement):
            yield [key if owner is Policy else None, key if owner is Event else None, source.position,
                   source.url, source.title, _partial(source.published), source.kind]


def _document_rows(session: Session, links: Links) -> Iterator[list[Any]]:
    statement = (select(Policy.key, Document).join(Policy, Policy.id == Document.policy_id)
                 .where(_published(Policy)).order_by(Document.id))
    for key, document in _stream(session, statement):
        yield [document.id, key, document.series_id, document.role, document.language, document.version_label,
               _partial(document.issued_on), document.source_url, document.sha256, document.size,
               document.media_type, document.pages, links.document(document.id)]


def _event_rows(session: Session, links: Links) -> Iterator[list[Any]]:
    statement = select(Event).where(_published(Event)).order_by(Event.key)
    for event in session.scalars(statement.execution_options(yield_per=BATCH)):
        yield [event.key, links.event(event.key), event.jurisdiction_code, event.kind, event.name_en, event.name_lo,
               _partial(event.starts_on), _partial(event.ends_on), event.date_note, event.venue, event.summary_en,
               event.summary_lo, event.updated_at.isoformat(timespec="seconds") if event.updated_at else ""]


def _event_organisation_rows(session: Session, _links: Links) -> Iterator[list[Any]]:
    statement = (select(Event.key, Organisation.key, EventOrganisation.role, EventOrganisation.position)
                 .join(Event, Event.id == EventOrganisation.event_id)
                 .join(Organisation, Organisation.id == EventOrganisation.organisation_id)
                 .where(_published(Event))
                 .order_by(Event.key, EventOrganisation.role, EventOrganisation.position))
    for row in _stream(session, statement):
        yield list(row)


def _event_topic_rows(session: Session, _links: Links) -> Iterator[list[Any]]:
    statement = (select(Event.key, EventTopic.topic_key, EventTopic.position)
                 .join(Event, Event.id == EventTopic.event_id).where(_published(Event))
                 .order_by(Event.key, EventTopic.position))
    for row in _stream(session, statement):
        yield list(row)


def _forum_link_rows(session: Session, _links: Links) -> Iterator[list[Any]]:
    statement = (select(Policy.key, Event.key, ForumLink)
                 .join(Policy, Policy.id == ForumLink.policy_id).join(Event, Event.id == ForumLink.event_id)
                 .where(_published(Policy), _published(Event)).order_by(Policy.key, ForumLink.position))
    for policy_key, event_key, link in _stream(session, statement):
        yield [policy_key, event_key, link.role, link.evidence, link.evidence_lo, link.source_url, link.position]


# ---------------------------------------------------------------------------------------------------
# The tables, in the order of the package and the workbook

_POLICY_TYPES: dict[str, Column] = {
    "key": _key("key", "The record's key: its permanent identifier in the tracker"),
    "country_code": _text("country_code", "ISO 3166-1 alpha-2 code of the member state, or ASEAN for regional "
                          "instruments (a code of the jurisdictions table)", required=True),
    "instrument": _choice("instrument", "Kind of instrument", INSTRUMENTS, required=True),
    "legal_status": _choice("legal_status", "Current legal status: the last step of the status history",
                            LEGAL_STATUSES, required=True),
    "year": _int("year", "Year of adoption, else of the first dated step, else of the start of validity"),
    "issuer_key": _text("issuer_key", "Key of the issuing body (a key of the organisations table)"),
    "confidence": _choice("confidence", "How sure the record is: high, medium or low", CONFIDENCE_LEVELS),
    "updated_at": Column("updated_at", "datetime", "When the record last changed (UTC, ISO 8601)"),
}


def _policy_columns() -> tuple[Column, ...]:
    columns = []
    for name, description in POLICY_COLUMNS:
        if name in _POLICY_TYPES:
            columns.append(_POLICY_TYPES[name])
        elif "(partial date" in description:
            columns.append(Column(name, "string", description, partial_date=True))
        else:
            columns.append(_text(name, description))
    columns.append(_text("conflicts", "Notes where sources disagree, one per line"))
    return tuple(columns)


_POLICY_KEY = ForeignKey(("policy_key",), "policies", ("key",))
_EVENT_KEY = ForeignKey(("event_key",), "events", ("key",))
_TOPIC_KEY = ForeignKey(("topic_key",), "topics", ("key",))
_ORGANISATION_KEY = ForeignKey(("organisation_key",), "organisations", ("key",))
_COUNTRY = ForeignKey(("country_code",), "jurisdictions", ("code",))
_POSITION = _int("position", "Order within the record (from 0; gaps are possible)", required=True)

TABLES: tuple[Table, ...] = (
    Table("policies", "Policies",
          "One row per published instrument: law, decree, decision, regulation, standard, strategy, incentive "
          "and the like. The columns are those of the list downloads (/policies.csv), plus conflicts.",
          _policy_columns(), ("key",),
          (_COUNTRY, ForeignKey(("issuer_key",), "organisations", ("key",))), _policy_rows,
          widths=(34, 30, 8, 16, 16, 50, 50)),
    Table("status_changes", "Status history",
          "Each dated step of each policy's legal status, in the order of its timeline (append-only).",
          (_key("policy_key", "Key of the policy"), _POSITION,
           _choice("from_status", "Status before the step", LEGAL_STATUSES),
           _choice("to_status", "Status the step leads to", LEGAL_STATUSES, required=True),
           _date("effective_on", "When the step took effect"),
           _text("note_en", "Note in English"), _text("note_lo", "Note in Lao"),
           _text("evidence_url", "Where the step is evidenced"),
           Column("recorded_at", "datetime", "When the step was recorded in the tracker (UTC, ISO 8601)"),
           Column("gazetted_on", "date", "The day the text was published in the Official Gazette"),
           Column("comment_opens_on", "date", "A consultation's comment period: its first day"),
           Column("comment_closes_on", "date", "A consultation's comment period: its last day"),
           _text("how_to_comment_en", "How to comment, in English"),
           _text("how_to_comment_lo", "How to comment, in Lao"),
           _text("comment_address", "Where comments go: an email address or an https URL"),
           _text("comment_draft_url", "The draft put to comment")),
          ("policy_key", "position"), (_POLICY_KEY,), _status_change_rows, widths=(34, 8, 14, 14, 12)),
    Table("relations", "Relations between policies",
          "A policy amends, supersedes, implements, cancels, is issued pursuant to, or is related to another: a "
          "policy of this package (target_key) or an instrument not in the tracker (target_reference).",
          (_key("policy_key", "Key of the policy the relation starts from"), _POSITION,
           _choice("relation_type", "Kind of relation, read from policy_key to the target", RELATION_TYPES,
                   required=True),
           _key("target_key", "Key of the policy it points to, when that policy is published here",
                required=False),
           _text("target_reference", "The instrument's citation when it is not a record of its own")),
          ("policy_key", "position"), (_POLICY_KEY, ForeignKey(("target_key",), "policies", ("key",))),
          _relation_rows, widths=(34, 8, 14, 34, 40)),
    Table("targets", "Targets",
          "The structured targets each policy states, in the record's order: a measure, a value in a unit, the "
          "year it is to be met by, the vehicles it counts and a short scope; at most one per policy is its "
          "headline target.",
          (_key("policy_key", "Key of the policy"), _POSITION,
           _choice("metric", "What the target measures", TARGET_METRICS, required=True),
           Column("value", "number", "The value, in unit (30 for 30 %)", required=True),
           _choice("unit", "The unit of the value (percent: a share of a whole)", TARGET_UNITS, required=True),
           _int("year", "The year the target is to be met by", required=True),
           _choice("vehicle_class", "The vehicles it counts", VEHICLE_CLASSES, required=True),
           _text("scope_en", "What else bounds it, in English"), _text("scope_lo", "What else bounds it, in Lao"),
           Column("headline", "boolean", "Whether it is the policy's headline target", required=True),
           _text("source_url", "Where the target is stated")),
          ("policy_key", "position"), (_POLICY_KEY,), _target_rows, widths=(34, 8, 20, 10, 10, 8, 12, 30, 30)),
    Table("sources", "Sources",
          "The documents and pages each policy and event rests on, in the order the record cites them; each row "
          "belongs to one policy (policy_key) or one event (event_key).",
          (_key("policy_key", "Key of the policy the source is cited by", required=False),
           _key("event_key", "Key of the event the source is cited by", required=False), _POSITION,
           _text("url", "Address of the source", required=True), _text("title", "Title of the source"),
           _date("published", "When the source was published"),
           _choice("kind", "Kind of source", SOURCE_KINDS)),
          (), (_POLICY_KEY, _EVENT_KEY), _source_rows, widths=(34, 20, 8, 50, 50)),
    Table("documents", "Attached texts",
          "Facts of the texts attached to published policies (the files themselves are at each url).",
          (_int("id", "The document's id in the tracker", required=True),
           _key("policy_key", "Key of the policy the text belongs to"),
           _int("series_id", "Id shared by the versions of one text (draft 1, draft 2, adopted ...)"),
           _choice("role", "What the text is to the instrument", DOCUMENT_ROLES, required=True),
           _choice("language", "Language of the text (ISO 639 code)", DOCUMENT_LANGUAGE_CODES, required=True),
           _text("version_label", "Which version of the text"),
           _date("date", "Date of this version of the text"),
           _text("source_url", "Where the file was obtained"),
           Column("sha256", "string", "SHA-256 of the file's bytes", required=True, pattern="[0-9a-f]{64}"),
           _int("size", "Size of the file in bytes", required=True),
           _text("media_type", "Media type of the file", required=True),
           _int("pages", "Pages of the file, when known"),
           _text("url", "The document's page, where its text is read and the file downloaded", required=True)),
          ("id",), (_POLICY_KEY,), _document_rows, widths=(8, 34, 8, 20, 8)),
    Table("events", "Events",
          "Published forums, workshops, summits and meetings where policies were originated, discussed or "
          "announced.",
          (_key("key", "The event's key: its permanent identifier in the tracker"), _text("url", "The event's page"),
           _text("country_code", "Where it took place (a code of the jurisdictions table)"),
           _choice("kind", "Kind of event", EVENT_KINDS, required=True),
           _text("name_en", "Name in English"), _text("name_lo", "Name in Lao"),
           _date("starts_on", "First day"), _date("ends_on", "Last day"),
           _text("date_note", "What is known of the dates when they are uncertain"), _text("venue", "Venue"),
           _text("summary_en", "Summary in English"), _text("summary_lo", "Summary in Lao"),
           Column("updated_at", "datetime", "When the record last changed (UTC, ISO 8601)")),
          ("key",), (_COUNTRY,), _event_rows, widths=(34, 30, 8, 12, 50, 50)),
    Table("forum_links", "Forum links",
          "The forum-origin link: a policy originated, discussed, announced or recommended at an event.",
          (_key("policy_key", "Key of the policy"), _key("event_key", "Key of the event"),
           _choice("role", "What happened to the policy at the event", FORUM_ROLES, required=True),
           _text("evidence_en", "What the source says of it, in English"),
           _text("evidence_lo", "What the source says of it, in Lao"),
           _text("source_url", "Where that is said"), _POSITION),
          ("policy_key", "event_key", "role"), (_POLICY_KEY, _EVENT_KEY), _forum_link_rows,
          widths=(34, 30, 12, 50, 50)),
    Table("policy_topics", "Topics of policies", "Each topic of each policy, in the record's order.",
          (_key("policy_key", "Key of the policy"), _text("topic_key", "Key of the topic", required=True), _POSITION),
          ("policy_key", "topic_key"), (_POLICY_KEY, _TOPIC_KEY),
          _policy_link_rows((PolicyTopic.topic_key, PolicyTopic.position), PolicyTopic), widths=(34, 30)),
    Table("policy_vehicle_classes", "Vehicle classes of policies",
          "Each vehicle class each policy applies to, in the record's order.",
          (_key("policy_key", "Key of the policy"),
           _choice("vehicle_class", "Vehicle class", VEHICLE_CLASSES, required=True), _POSITION),
          ("policy_key", "vehicle_class"), (_POLICY_KEY,),
          _policy_link_rows((PolicyVehicleClass.vehicle_class, PolicyVehicleClass.position), PolicyVehicleClass),
          widths=(34, 16)),
    Table("policy_bodies", "Other bodies of policies",
          "Organisations other than the issuer with a role in each policy.",
          (_key("policy_key", "Key of the policy"),
           _text("organisation_key", "Key of the organisation", required=True),
           _choice("role", "Its role", BODY_ROLES, required=True), _POSITION),
          ("policy_key", "organisation_key", "role"), (_POLICY_KEY, _ORGANISATION_KEY),
          _policy_body_rows,
          widths=(34, 30, 14)),
    Table("event_organisations", "Organisers, funders and partners of events",
          "Each organisation's part in each event, by role in the record's order.",
          (_key("event_key", "Key of the event"), _text("organisation_key", "Key of the organisation", required=True),
           _choice("role", "Its part", EVENT_ROLES, required=True), _POSITION),
          ("event_key", "organisation_key", "role"), (_EVENT_KEY, _ORGANISATION_KEY), _event_organisation_rows,
          widths=(34, 30, 12)),
    Table("event_topics", "Topics of events", "Each topic of each event, in the record's order.",
          (_key("event_key", "Key of the event"), _text("topic_key", "Key of the topic", required=True), _POSITION),
          ("event_key", "topic_key"), (_EVENT_KEY, _TOPIC_KEY), _event_topic_rows, widths=(34, 30)),
    Table("organisations", "Organisations",
          "Ministries, agencies, utilities, associations, companies, development partners and regional bodies.",
          (_text("key", "The organisation's key", required=True), _text("name_en", "Name in English"),
           _text("name_lo", "Name in Lao"), _text("acronym", "Short form people search by (MEM, EDL)"),
           _text("country", "ISO 3166-1 code of its country, ASEAN or INTL"),
           _choice("kind", "Kind of organisation", ORGANISATION_KINDS, required=True),
           _text("parent_key", "Key of the organisation it sits under")),
          ("key",), (ForeignKey(("parent_key",), "organisations", ("key",)),), _organisation_rows,
          widths=(30, 50, 50, 12)),
    Table("topics", "Topics", "The policy themes.",
          (_text("key", "The topic's key", required=True), _text("name_en", "Name in English"),
           _text("name_lo", "Name in Lao"), _int("position", "Order in which the tracker lists topics",
                                                 required=True)),
          ("key",), (), _topic_rows, widths=(34, 40, 40)),
    Table("jurisdictions", "Jurisdictions",
          "The ASEAN members by ISO 3166-1 code, ASEAN for regional instruments, INTL for standards bodies.",
          (_text("code", "ISO 3166-1 alpha-2 code, ASEAN or INTL", required=True),
           _text("name_en", "Name in English", required=True), _text("name_lo", "Name in Lao"),
           _choice("kind", "member, regional or international", JURISDICTION_KINDS, required=True),
           _int("position", "Order in which the tracker lists jurisdictions (Lao PDR first)", required=True),
           Column("asean_member_since", "date", "When the member joined ASEAN (YYYY-MM-DD)")),
          ("code",), (), _jurisdiction_rows, widths=(8, 30, 30, 14)),
)
TABLES_BY_NAME = {table.name: table for table in TABLES}
