"""Search documents built from the database: what each policy and event contributes to the records index, and
each passage of an attached text to the passages index (two corpora, each in its own index)."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from tracker.i18n import english
from tracker.models import (
    Document,
    DocumentPassage,
    Event,
    EventOrganisation,
    EventTopic,
    ForumLink,
    Policy,
    PolicyBody,
    PolicyTopic,
)
from tracker.models.types import PartialDate
from tracker.models.vocab import EVENT_KINDS, INSTRUMENTS, LEGAL_STATUSES, VEHICLE_CLASSES
from tracker.search.analysis import syllable_terms, terms
from tracker.search.schema import SCHEMA_VERSION

if TYPE_CHECKING:
    from sqlalchemy.sql.base import ExecutableOption

# Records read per query when building many documents (rebuild, check, large batches).
CHUNK = 500

POLICY_LOAD = (
    joinedload(Policy.jurisdiction), joinedload(Policy.issuer),
    selectinload(Policy.topic_links).joinedload(PolicyTopic.topic), selectinload(Policy.vehicle_class_links),
    selectinload(Policy.bodies).joinedload(PolicyBody.organisation), selectinload(Policy.sources),
    selectinload(Policy.relations), selectinload(Policy.forum_links).joinedload(ForumLink.event),
)
EVENT_LOAD = (
    joinedload(Event.jurisdiction),
    selectinload(Event.organisation_links).joinedload(EventOrganisation.organisation),
    selectinload(Event.topic_links).joinedload(EventTopic.topic), selectinload(Event.sources),
)

DocKey = tuple[str, int]


class _Positioned(Protocol):
    @property
    def position(self) -> int: ...


_P = TypeVar("_P", bound=_Positioned)
_Record = TypeVar("_Record", Policy, Event)


def doc_id(entity_type: str, record_id: int) -> str:
    """The stable id of a record's document: ``policy:12``, ``event:3``."""
    return f"{entity_type}:{record_id}"


def parse_doc_id(value: str) -> DocKey | None:
    """(entity type, record id) of a record's document id, None for anything else (the meta document)."""
    entity_type, _, number = value.partition(":")
    if entity_type in ("policy", "event") and number.isdigit():
        return entity_type, int(number)
    return None


def passage_doc_id(passage_id: int) -> str:
    """The stable id of a passage's document: ``passage:7``."""
    return f"passage:{passage_id}"


def parse_passage_id(value: str) -> int | None:
    """The passage id of a passage document's id, None for anything else."""
    kind, _, number = value.partition(":")
    return int(number) if kind == "passage" and number.isdigit() else None


def date_number(value: PartialDate | None) -> int:
    """A partial date as a sortable number (20230700 for July 2023); 0 when unknown, so it sorts last."""
    if value is None:
        return 0
    return value.year * 10000 + (value.month or 0) * 100 + (value.day or 0)


def _join(*parts: str | None) -> str:
    return "\n".join(part for part in parts if part)


def _names(*records: Any) -> list[str | None]:
    """The English and Lao names of records, and an organisation's acronym (people search by it: EDL, MEM)."""
    names: list[str | None] = []
    for record in records:
        if record is not None:
            names += [record.name_en, record.name_lo, getattr(record, "acronym", None)]
    return names


def digest(fields: dict[str, Any]) -> str:
    """A fingerprint of a document's content, stored with it so `search check` can find stale ones."""
    content = {name: value.decode() if isinstance(value, bytes) else value for name, value in fields.items()}
    payload = json.dumps([SCHEMA_VERSION, content], sort_keys=True, ensure_ascii=False)
    return hashlib.sha1(payload.encode()).hexdigest()[:20]


def analysed(source: dict[str, Any]) -> dict[str, Any]:
    """The fields Whoosh receives for a document's source fields: every text analysed once into
    its terms, the Lao syllables, the words for suggestions, and the digest of the source."""
    fields = dict(source)
    fields["digest"] = digest(source)
    for name in ("title", "body", "text"):
        fields[name] = terms(source[name])
    fields["syllables"] = syllable_terms(source["syllables"])
    # Suggestions come from the words that name things (titles, bodies' and topics' names, sources),
    # not from summaries: those would double the postings of a build for little gain.
    fields["spell"] = sorted({word for word in terms(_join(source["title"], source["text"]), stemmed=False)
                              if len(word) > 2 and not word.isdigit()})
    return fields


def _by_position(items: Iterable[_P]) -> list[_P]:
    return sorted(items, key=lambda item: item.position)


def policy_document(policy: Policy) -> dict[str, Any]:
    """The source fields of a policy's document (its links must be loaded, see POLICY_LOAD): texts as
    strings; ``analysed`` turns them into what the index stores."""
    title = _join(policy.title_en, policy.title_lo, policy.title_local)
    body = _join(policy.summary_en, policy.summary_lo)
    # Collections are read in their stored order, not their order in memory: a record just edited in
    # this session keeps its lists in the order they were appended, while one loaded afresh has them
    # by position, and a document must not depend on which of the two the indexer happened to see.
    bodies, topic_links = _by_position(policy.bodies), _by_position(policy.topic_links)
    classes = [link.vehicle_class for link in _by_position(policy.vehicle_class_links)]
    text = _join(
        *_names(policy.issuer, *(body.organisation for body in bodies)),
        *_names(*(link.topic for link in topic_links)),
        *_names(policy.jurisdiction),
        english(INSTRUMENTS.get(policy.instrument)), english(LEGAL_STATUSES.get(policy.legal_status)),
        *(english(VEHICLE_CLASSES.get(v)) for v in classes),
        *(source.title for source in _by_position(policy.sources)),
        *_names(*(link.event for link in _by_position(policy.forum_links))),
        *(relation.target_reference for relation in _by_position(policy.relations)),
    )
    fields: dict[str, Any] = {
        "id": doc_id("policy", policy.id), "type": "policy", "state": policy.editorial_state,
        "title": title, "body": body, "text": text, "reference": policy.reference or "",
        # Lao appears in titles, summaries and names; English summaries are left out (no syllables).
        "syllables": _join(policy.title_lo, policy.summary_lo, text),
        "country": [policy.jurisdiction_code.lower()], "status": [policy.legal_status],
        "instrument": [policy.instrument], "topic": [link.topic_key.lower() for link in topic_links],
        "vehicle_class": classes,
        "year": [str(policy.year)] if policy.year else [],
        "event": sorted({link.event.key for link in policy.forum_links}),
        "latest": date_number(policy.status_changed_on), "adopted": date_number(policy.adopted_on),
        "sortkey": policy.key.encode(), "owner": policy.id,
    }
    return fields


def event_document(event: Event) -> dict[str, Any]:
    """The source fields of an event's document (its links must be loaded, see EVENT_LOAD)."""
    title = _join(event.name_en, event.name_lo)
    body = _join(event.summary_en, event.summary_lo, event.date_note)
    topic_links = _by_position(event.topic_links)
    organisation_links = sorted(event.organisation_links, key=lambda link: (link.role, link.position))
    text = _join(
        event.venue, english(EVENT_KINDS.get(event.kind)),
        *_names(*(link.organisation for link in organisation_links)),
        *_names(*(link.topic for link in topic_links)),
        *_names(event.jurisdiction),
        *(source.title for source in _by_position(event.sources)),
    )
    fields: dict[str, Any] = {
        "id": doc_id("event", event.id), "type": "event", "state": event.editorial_state,
        "title": title, "body": body, "text": text, "reference": "",
        "syllables": _join(event.name_lo, event.summary_lo, text),
        "country": [event.jurisdiction_code.lower()] if event.jurisdiction_code else [],
        "status": [], "instrument": [], "topic": [link.topic_key.lower() for link in topic_links],
        "vehicle_class": [], "year": [str(event.starts_on.year)] if event.starts_on else [], "event": [],
        "latest": date_number(event.starts_on), "adopted": 0, "sortkey": event.key.encode(), "owner": 0,
    }
    return fields


def load_documents(session: Session, keys: Iterable[DocKey]) -> dict[DocKey, dict[str, Any]]:
    """The current documents of these records, read in bulk; a record that no longer exists is absent."""
    wanted: dict[str, list[int]] = {"policy": [], "event": []}
    for entity_type, record_id in keys:
        wanted[entity_type].append(record_id)
    documents: dict[DocKey, dict[str, Any]] = {}
    for entity_type, ids in wanted.items():
        for start in range(0, len(ids), CHUNK):
            for key, fields in _documents(session, entity_type, ids[start:start + CHUNK]):
                documents[key] = fields
    return documents


def _documents(session: Session, entity_type: str,
               ids: list[int] | None) -> Iterator[tuple[DocKey, dict[str, Any]]]:
    if entity_type == "policy":
        yield from _built(session, entity_type, ids, Policy, POLICY_LOAD, policy_document)
    else:
        yield from _built(session, entity_type, ids, Event, EVENT_LOAD, event_document)


def _built(session: Session, entity_type: str, ids: list[int] | None, model: type[_Record],
           options: Iterable[ExecutableOption],
           build: Callable[[_Record], dict[str, Any]]) -> Iterator[tuple[DocKey, dict[str, Any]]]:
    statement = select(model).options(*options).order_by(model.id)
    if ids is not None:
        statement = statement.where(model.id.in_(ids))
    for record in session.scalars(statement).unique():
        yield (entity_type, record.id), build(record)


def all_documents(session: Session, *, release: bool = False) -> Iterator[tuple[DocKey, dict[str, Any]]]:
    """Every record's document, reading CHUNK records at a time in id order.

    ``release``: empty the session's identity map after each chunk, so that a build of 100,000
    records never holds them all (only for a session of its own).
    """
    for entity_type, model in (("policy", Policy), ("event", Event)):
        ids = list(session.scalars(select(model.id).order_by(model.id)))
        for start in range(0, len(ids), CHUNK):
            yield from _documents(session, entity_type, ids[start:start + CHUNK])
            if release:
                session.expunge_all()


def count_records(session: Session) -> int:
    """How many documents a full build writes."""
    from sqlalchemy import func

    return sum(session.scalar(select(func.count(model.id))) or 0 for model in (Policy, Event))


# -- passages of attached texts ------------------------------------------------------------------------

# Extraction states whose passages are searchable (a failed or pending document has none, or old ones).
SEARCHABLE_EXTRACTIONS = ("done", "partial")
# Passages read per query when building or checking the whole passages index.
PASSAGE_CHUNK = 2000


def passage_document(passage: DocumentPassage, document_id: int, policy_id: int, state: str) -> dict[str, Any]:
    """The source fields of one passage's document: its heading as the title, its text as the body, and
    the policy, document, language and kind (provision or table of contents) as filters."""
    heading = passage.heading or ""
    return {
        "id": passage_doc_id(passage.id), "type": "passage", "state": state,
        "title": heading, "body": passage.text, "text": "", "reference": "",
        "syllables": _join(heading, passage.text),
        "country": [], "status": [], "instrument": [], "topic": [], "vehicle_class": [], "year": [], "event": [],
        "policy": [str(policy_id)], "document": [str(document_id)], "language": [passage.language.lower()],
        "kind": ["toc" if passage.toc else "provision"],
        # Sorted "by latest" (all equal), passages come in sortkey order: by text, then as they are in it.
        "latest": 0, "adopted": 0, "sortkey": f"{document_id:010d}:{passage.seq:06d}".encode(), "owner": policy_id,
    }


def analysed_passage(source: dict[str, Any]) -> dict[str, Any]:
    """The fields Whoosh receives for a passage: like a record's, without words for suggestions (those
    come from the records, whose words name things)."""
    fields = dict(source)
    fields["digest"] = digest(source)
    for name in ("title", "body", "text"):
        fields[name] = terms(source[name])
    fields["syllables"] = syllable_terms(source["syllables"])
    return fields


def _passages(session: Session, document_ids: list[int] | None) -> Iterator[tuple[DocKey, dict[str, Any]]]:
    statement = (select(DocumentPassage, Document.policy_id, Policy.editorial_state)
                 .join(Document, Document.id == DocumentPassage.document_id)
                 .join(Policy, Policy.id == Document.policy_id)
                 .where(Document.status.in_(SEARCHABLE_EXTRACTIONS))
                 .order_by(DocumentPassage.document_id, DocumentPassage.seq))
    if document_ids is not None:
        statement = statement.where(DocumentPassage.document_id.in_(document_ids))
    for passage, policy_id, state in session.execute(statement):
        yield ("document", passage.document_id), passage_document(passage, passage.document_id, policy_id, state)


def load_passages(session: Session, keys: Iterable[DocKey]) -> dict[DocKey, list[dict[str, Any]]]:
    """The current passage documents of these attached texts, by text; a text without searchable
    passages (removed, failed, not extracted yet) is absent."""
    ids = sorted({record_id for entity_type, record_id in keys if entity_type == "document"})
    found: dict[DocKey, list[dict[str, Any]]] = {}
    for start in range(0, len(ids), CHUNK):
        for key, fields in _passages(session, ids[start:start + CHUNK]):
            found.setdefault(key, []).append(fields)
    return found


def all_passages(session: Session, *, release: bool = False) -> Iterator[tuple[DocKey, dict[str, Any]]]:
    """Every searchable passage's document, a chunk of texts at a time in id order."""
    ids = list(session.scalars(select(Document.id).where(Document.status.in_(SEARCHABLE_EXTRACTIONS))
                               .order_by(Document.id)))
    for start in range(0, len(ids), 50):
        yield from _passages(session, ids[start:start + 50])
        if release:
            session.expunge_all()


def count_passages(session: Session) -> int:
    """How many documents a full build of the passages index writes."""
    from sqlalchemy import func

    return session.scalar(select(func.count(DocumentPassage.id)).join(Document)
                          .where(Document.status.in_(SEARCHABLE_EXTRACTIONS))) or 0


@dataclass(frozen=True)
class Corpus:
    """What one index holds: the change-log entity types it follows, and how it reads their documents.

    A changed entity's documents are replaced as a group: every document whose ``group_field`` is the
    entity's group value is deleted, then the entity's current documents (none, one, or many passages)
    are added."""

    name: str
    label: str                                   # what a progress bar counts
    entity_types: tuple[str, ...]
    group_field: str
    load: Callable[[Session, Iterable[DocKey]], dict[DocKey, list[dict[str, Any]]]]
    every: Callable[..., Iterator[tuple[DocKey, dict[str, Any]]]]
    count: Callable[[Session], int]
    analyse: Callable[[dict[str, Any]], dict[str, Any]]
    owns: Callable[[str], bool]                  # whether a stored document id is one of this corpus

    def group_value(self, key: DocKey) -> str:
        return doc_id(*key) if self.group_field == "id" else str(key[1])


def _load_records(session: Session, keys: Iterable[DocKey]) -> dict[DocKey, list[dict[str, Any]]]:
    return {key: [fields] for key, fields in load_documents(session, keys).items()}


RECORDS = Corpus("records", "records", ("policy", "event"), "id", _load_records, all_documents, count_records,
                 analysed, lambda value: parse_doc_id(value) is not None)
PASSAGES = Corpus("passages", "passages", ("document",), "document", load_passages, all_passages, count_passages,
                  analysed_passage, lambda value: parse_passage_id(value) is not None)
