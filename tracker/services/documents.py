"""Attached documents: staff attach, replace, describe and remove the texts of a policy; readers list, read,
download, search and compare them. Every change is audited on the policy and committed by the caller.

An upload is checked before anything is stored: its type from its bytes (never from its name), a DOCX's
archive for bombs, and a PDF opened in a limited subprocess (encrypted, corrupt, too many pages). The
text is extracted later by a background job (tracker.documents.worker) committed with the upload.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tracker.documents import formats
from tracker.documents.sandbox import Limits, SandboxFailure, run_inspect
from tracker.documents.storage import Received, SessionFactory, default_store, store_for
from tracker.documents.worker import mark_queued
from tracker.errors import FIELD_MESSAGES, FieldError, Invalid, NotFound
from tracker.models import Document, DocumentPassage, Policy, ReleaseFile, StoredFile, User
from tracker.models.record_format import NULLABLE_URL, URL_LENGTH
from tracker.models.types import PartialDate, PartialDateError, utcnow
from tracker.models.vocab import DOCUMENT_LANGUAGES, DOCUMENT_ROLES
from tracker.notifications.outbox import record_event
from tracker.notifications.payloads import policy_payload
from tracker.services import schema_check
from tracker.services.audit import write_audit
from tracker.services.permissions import has_permission, require
from tracker.services.policies import visible_states
from tracker.services.record_checks import checked_text, date_error
from tracker.translation import gettext as _
from tracker.translation import ngettext

if TYPE_CHECKING:
    from tracker.documents.comparison import Comparison

VERSION_LABEL_LENGTH = 120
FILENAME_LENGTH = 200
# Roles whose text is not the instrument's own words as adopted: readers are told so.
UNOFFICIAL_ROLES = frozenset({"unofficial_translation", "draft"})
DOCUMENT_FIELDS = ("role", "language", "version_label", "issued_on", "source_url")


@dataclass(frozen=True)
class DocumentSettings:
    """The limits an upload is checked against (from the app's configuration)."""

    max_bytes: int
    max_pages: int
    limits: Limits

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> DocumentSettings:
        return cls(int(config["DOCUMENT_MAX_BYTES"]), int(config["DOCUMENT_MAX_PAGES"]),
                   Limits(cpu_seconds=min(60, int(config["DOCUMENT_CPU_SECONDS"])),
                          memory_bytes=int(config["DOCUMENT_MEMORY_BYTES"]),
                          wall_seconds=min(60.0, float(config["DOCUMENT_WALL_SECONDS"]))))


@dataclass(frozen=True)
class DocumentFacts:
    """What staff say about a file: its role, language, version, date and where it was published."""

    role: str
    language: str
    version_label: str | None
    issued_on: PartialDate | None
    source_url: str | None

    def as_record(self) -> dict[str, Any]:
        return {"role": self.role, "language": self.language, "version_label": self.version_label,
                "issued_on": self.issued_on.isoformat() if self.issued_on else None, "source_url": self.source_url}


def check_facts(data: Mapping[str, Any], *, date_field: str = "issued_on") -> DocumentFacts:
    """The facts of a form or an API body, checked; every problem is reported at once. The date is read
    from ``date_field`` (the form's ``issued_on``, the API's ``date``) and its error named so.

    Raises:
        Invalid: naming each offending field.
    """
    errors: dict[str, str | FieldError] = {}
    role = data.get("role")
    if not isinstance(role, str) or role not in DOCUMENT_ROLES:
        errors["role"] = FieldError("one_of", value=str(role or "")[:60], values=", ".join(DOCUMENT_ROLES))
    language = data.get("language")
    language = language.strip().lower() if isinstance(language, str) else language
    if not isinstance(language, str) or language not in DOCUMENT_LANGUAGES:
        errors["language"] = FieldError("one_of", value=str(language or "")[:60],
                                        values=", ".join(DOCUMENT_LANGUAGES))
    label, problem = checked_text(data.get("version_label"), max_length=VERSION_LABEL_LENGTH, multiline=False)
    if problem is not None:
        errors["version_label"] = problem
    issued_on = None
    raw_date = data.get(date_field)
    if isinstance(raw_date, str) and raw_date.strip():
        try:
            issued_on = PartialDate.parse(raw_date.strip())
        except PartialDateError as error:
            errors[date_field] = date_error(error, raw_date)
    elif raw_date not in (None, ""):
        errors[date_field] = FieldError("date_format", value=str(raw_date)[:60])
    source_url = data.get("source_url")
    source_url = source_url.strip() or None if isinstance(source_url, str) else source_url
    if source_url is not None:
        found = schema_check.check(source_url, NULLABLE_URL)
        if found or not isinstance(source_url, str) or len(source_url) > URL_LENGTH:
            errors["source_url"] = FieldError("url", value=str(source_url)[:80])
    if errors:
        raise Invalid(_("The document was not saved: check the fields marked."), errors)
    assert isinstance(role, str) and isinstance(language, str)
    return DocumentFacts(role, language, label, issued_on, source_url if isinstance(source_url, str) else None)


def clean_filename(name: str | None, media_type: str) -> str:
    """The name a file is shown and downloaded under: the uploaded name without any folder, control or
    path characters, cut to FILENAME_LENGTH, its extension the one of its real type."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(char for char in unicodedata.normalize("NFC", base)
                   if unicodedata.category(char)[0] != "C" and char not in '<>:"|?*')
    stem = re.sub(r"\s+", " ", base.rsplit(".", 1)[0] if "." in base else base).strip(" .") or "document"
    extension = formats.EXTENSIONS.get(media_type, "")
    return str(stem[:FILENAME_LENGTH - len(extension)] + extension)


def _bad_file(error: formats.BadFile, settings: DocumentSettings) -> Invalid:
    code = error.code
    params: dict[str, Any] = {}
    if code == "too_many_pages":
        params = {"pages": error.params.get("pages", "?"), "max": settings.max_pages}
    elif code == "name_mismatch":
        params = {"found": formats.MEDIA_TYPES.get(str(error.params.get("found", "")), "?").upper()}
    field_error = FieldError(f"file_{code}" if f"file_{code}" in FILE_CODES else "file_unreadable", **params)
    return Invalid(_("The file was not attached: %(reason)s", reason=str(field_error)), {"file": field_error})


# The codes of tracker.documents.formats.BadFile that have a message of their own (tracker.errors).
FILE_CODES = frozenset({"file_empty", "file_unknown_type", "file_name_mismatch", "file_corrupt", "file_encrypted",
                        "file_too_many_pages", "file_archive_bomb", "file_binary_text", "file_not_utf8",
                        "file_no_pages"})


def inspect_upload(upload: Received, filename: str | None, settings: DocumentSettings) -> tuple[str, int]:
    """The media type (from the bytes) and page count of an upload, or Invalid saying what is wrong."""
    try:
        media_type = formats.sniff(upload.path, filename)
        formats.check_name(filename or "", media_type)
        if media_type == formats.DOCX:
            formats.check_archive(upload.path)
        pages = run_inspect(upload.path, media_type, max_pages=settings.max_pages, limits=settings.limits)
    except formats.BadFile as error:
        raise _bad_file(error, settings) from None
    except SandboxFailure as failure:
        unreadable = FieldError("file_unreadable")
        raise Invalid(_("The file was not attached: %(reason)s", reason=str(unreadable)),
                      {"file": unreadable}) from failure
    return media_type, pages


def _policy(session: Session, key: str, actor: User) -> Policy:
    require(actor, "attach_documents")
    policy = session.scalars(select(Policy).where(Policy.key == key).with_for_update()
                             .execution_options(populate_existing=True)).one_or_none()
    if policy is None:
        raise NotFound(_("There is no policy with the key '%(key)s'.", key=key[:120]))
    return policy


# Ids are 32-bit integers in every database; a larger number names no document (and must not reach SQL).
MAX_ID = 2**31 - 1


def _get_document(session: Session, document_id: int) -> Document | None:
    return session.get(Document, document_id) if 0 < document_id <= MAX_ID else None


def _document_for_change(session: Session, document_id: int, actor: User) -> tuple[Document, Policy]:
    require(actor, "attach_documents")
    document = _get_document(session, document_id)
    if document is None:
        raise NotFound(_("There is no document %(id)s.", id=document_id))
    policy = session.scalars(select(Policy).where(Policy.id == document.policy_id).with_for_update()
                             .execution_options(populate_existing=True)).one()
    return document, policy


def _store(session: Session, upload: Received, media_type: str) -> None:
    """Keep the upload's bytes unless the same bytes are stored already."""
    if session.get(StoredFile, upload.sha256) is not None:
        return
    store = default_store()
    from tracker.documents.storage import CHUNK_SIZE

    session.add(StoredFile(sha256=upload.sha256, size=upload.size, media_type=media_type, storage=store.name,
                           chunk_size=CHUNK_SIZE))
    session.flush()
    store.put(session, upload.sha256, upload.path)


def document_summary(document: Document) -> dict[str, Any]:
    """What the audit trail and the outbox say about a document."""
    return {"id": document.id, "filename": document.filename, "sha256": document.sha256,
            "media_type": document.media_type, "size": document.size, "role": document.role,
            "language": document.language, "version_label": document.version_label,
            "issued_on": document.issued_on.isoformat() if document.issued_on else None,
            "source_url": document.source_url}


def attach(session: Session, key: str, upload: Received, filename: str | None, facts: DocumentFacts, actor: User,
           settings: DocumentSettings, *, replaces: int | None = None, reason: str | None = None) -> Document:
    """Attach an uploaded file to the policy ``key`` (a new version of document ``replaces`` when given).

    Raises:
        Forbidden, NotFound; Invalid: the file is refused (nothing is stored) or the facts are wrong;
        Conflict-free: the same bytes already attached to this policy are refused as Invalid.
    """
    policy = _policy(session, key, actor)
    media_type, pages = inspect_upload(upload, filename, settings)
    previous: Document | None = None
    if replaces is not None:
        previous = _get_document(session, replaces)
        if previous is None or previous.policy_id != policy.id:
            raise NotFound(_("There is no document %(id)s.", id=replaces))
    same = session.scalar(select(Document).where(Document.policy_id == policy.id, Document.sha256 == upload.sha256))
    if same is not None:
        error = FieldError("file_attached_twice", name=same.filename)
        raise Invalid(_("The file was not attached: %(reason)s", reason=str(error)), {"file": error})
    _store(session, upload, media_type)
    document = Document(policy_id=policy.id, sha256=upload.sha256, filename=clean_filename(filename, media_type),
                        media_type=media_type, size=upload.size, role=facts.role, language=facts.language,
                        version_label=facts.version_label, issued_on=facts.issued_on, source_url=facts.source_url,
                        added_by_id=actor.id, added_by_label=actor.email, status="pending", pages=pages,
                        next_attempt_at=utcnow())
    session.add(document)
    session.flush()
    mark_queued(session)
    document.series_id = previous.series_id or previous.id if previous is not None else document.id
    session.flush()
    summary = document_summary(document)
    action = "document_replace" if previous is not None else "document_add"
    details = {"document": summary} | ({"replaces": previous.id} if previous is not None else {})
    write_audit(session, "policy", policy, action, actor, [("documents", None, summary)], reason=reason,
                details=details)
    if policy.editorial_state == "published":
        record_event(session, "policy.document_added", policy=policy,
                     payload=policy_payload(policy, document=document_payload(document),
                                            replaces=previous.id if previous is not None else None))
    return document


def document_payload(document: Document) -> dict[str, Any]:
    """The ``document`` object of a webhook message: its facts and where to read and download it."""
    from tracker.notifications.payloads import external_url

    return document_summary(document) | {
        "urls": {"html": external_url(f"/documents/{document.id}"),
                 "file": external_url(f"/documents/{document.id}/file"),
                 "api": external_url(f"/api/v1/documents/{document.id}")}}


def update_facts(session: Session, document_id: int, facts: DocumentFacts, actor: User,
                 *, reason: str | None = None) -> Document:
    """Change what is said about a document (role, language, version, date, source)."""
    document, policy = _document_for_change(session, document_id, actor)
    before = document_summary(document)
    document.role, document.language = facts.role, facts.language
    document.version_label, document.issued_on, document.source_url = (facts.version_label, facts.issued_on,
                                                                       facts.source_url)
    session.flush()
    after = document_summary(document)
    changes = [(f"documents.{document.id}.{name}", before[name], after[name])
               for name in DOCUMENT_FIELDS if before[name] != after[name]]
    if changes:
        write_audit(session, "policy", policy, "document_update", actor, changes, reason=reason,
                    details={"document": after})
        if before["language"] != after["language"]:
            # Passages carry their document's language; extract again so they agree.
            _queue(document)
    return document


def remove(session: Session, document_id: int, actor: User, *, reason: str | None = None) -> None:
    """Remove a document, its passages (from search too) and, when no other document has them, its bytes."""
    document, policy = _document_for_change(session, document_id, actor)
    summary = document_summary(document)
    sha256 = document.sha256
    session.delete(document)
    session.flush()
    # The same bytes may be another document's, or a release's file (a release's JSON attached as a text).
    if (session.scalar(select(func.count(Document.id)).where(Document.sha256 == sha256)) == 0
            and session.scalar(select(func.count()).select_from(ReleaseFile).where(ReleaseFile.sha256 == sha256))
            == 0):
        stored = session.get(StoredFile, sha256)
        if stored is not None:
            store_for(stored).delete(session, sha256)
            session.delete(stored)
    write_audit(session, "policy", policy, "document_remove", actor, [("documents", summary, None)], reason=reason,
                details={"document": summary})
    session.flush()


def _queue(document: Document) -> None:
    session = Session.object_session(document)
    if session is not None:
        mark_queued(session)
    document.status = "pending"
    document.status_reason = None
    document.attempts = 0
    document.run += 1
    document.claimed_until = None
    document.next_attempt_at = utcnow()


def rerun(session: Session, document_id: int, actor: User) -> Document:
    """Extract a document's text again (after a failure, or with a newer extractor)."""
    document, policy = _document_for_change(session, document_id, actor)
    _queue(document)
    write_audit(session, "policy", policy, "document_extract", actor, [], details={"document": document.id})
    session.flush()
    return document


# -- reading ---------------------------------------------------------------------------------------------


# What the worker records when an extraction fails (tracker.documents.worker), said in the reader's language.
# The stored reason stays in one language so that logs and the API name it the same way everywhere; any
# technical tail (a parser's own message) is kept as it is.
_PAGE_REASON = re.compile(r"page (\d+): ([^;]+)(?:; (.*))?")
_STOPPED = re.compile(r"the extraction stopped (\d+) times")
_CRASHED = re.compile(r"crashed \(signal (.+)\)")
_UNREADABLE = re.compile(r"the file cannot be read \((\w+)\)")


def _problem(text: str) -> str:
    """One cause of a page or file failing, translated when it is one the extractor names."""

    known = {
        "timeout": _("the reading of the file ran out of time"),
        "cpu limit": _("the reading of the file used all the processor time allowed"),
        "memory limit": _("the reading of the file used all the memory allowed"),
        "the file is no longer stored": _("the file is no longer stored"),
        "no text layer": _("the page is an image with no text"),
        "legacy Lao font": _("the page is typed in an old Lao font"),
        "ill-formed Lao text layer": _("the page's Lao text is damaged in the PDF"),
        "OCR is off": _("text recognition (OCR) is switched off"),
        "OCR found no text": _("text recognition (OCR) found no text"),
        "tesseract is not installed": _("text recognition (OCR) is not installed"),
    }
    if text in known:
        return str(known[text])
    if match := _CRASHED.fullmatch(text):
        return str(_("the reading of the file crashed (%(detail)s)", detail=match.group(1)))
    if match := _UNREADABLE.fullmatch(text):
        message = FIELD_MESSAGES.get(f"file_{match.group(1)}")
        return str(_(message) if message and "%(" not in message else _("The file is damaged and cannot be read.")
                   ).rstrip(".")
    if text.startswith("error: "):
        return str(_("the reading of the file stopped with an error: %(detail)s", detail=text[len("error: "):]))
    return text


def explain_reason(reason: str | None) -> str:
    """Why a document's extraction failed or was partial, in the reader's language."""
    if not reason:
        return ""
    if match := _STOPPED.match(reason):
        return str(ngettext("the extraction stopped once without a result (its worker was stopped or ran out "
                            "of memory)",
                            "the extraction stopped %(num)s times without a result (its worker was stopped or ran "
                            "out of memory)", int(match.group(1))))
    parts: list[str] = []
    for part in reason.split("; page "):
        part = part if part.startswith("page ") else f"page {part}" if parts else part
        if match := _PAGE_REASON.fullmatch(part):
            page, cause, detail = match.groups()
            described = _problem(cause)
            if detail:
                described = f"{described}; {_problem(detail)}"
            parts.append(_("page %(page)s: %(reason)s", page=page, reason=described))
        else:
            parts.append(_problem(part))
    return "; ".join(parts)


def can_read_unpublished(actor: Any) -> bool:
    return has_permission(actor, "read_unpublished")


def documents_of(session: Session, policy: Policy) -> list[Document]:
    """The documents of a policy the caller may already see: by series, newest version first within it."""
    documents = list(session.scalars(select(Document).where(Document.policy_id == policy.id)
                                     .order_by(Document.series_id, Document.id.desc())))
    return documents


def readable(session: Session, document_id: int, actor: Any) -> tuple[Document, Policy]:
    """A document and its policy, if the reader may see the policy (drafts and records in review only for
    staff); NotFound otherwise, never revealing that it exists."""
    document = _get_document(session, document_id)
    if document is not None:
        policy = session.get(Policy, document.policy_id)
        if policy is not None and policy.editorial_state in visible_states(can_read_unpublished(actor)):
            return document, policy
    raise NotFound(_("There is no document %(id)s.", id=document_id))


def passages_of(session: Session, document: Document) -> list[DocumentPassage]:
    return list(session.scalars(select(DocumentPassage).where(DocumentPassage.document_id == document.id)
                                .order_by(DocumentPassage.seq)))


def passage_kinds(passages: list[DocumentPassage]) -> list[str]:
    """What each passage is to a reader: "heading" (a heading line: the next passage sits under it),
    "toc" (a table of contents or index), or "text"."""
    kinds = []
    for index, passage in enumerate(passages):
        following = passages[index + 1] if index + 1 < len(passages) else None
        if following is not None and following.heading and following.heading == passage.text.strip():
            kinds.append("heading")
        elif passage.toc and not passage.heading and len(passage.text) < 200 and "\n" not in passage.text:
            kinds.append("heading")  # a title line at the top of the text
        else:
            kinds.append("toc" if passage.toc else "text")
    return kinds


def file_chunks(sessions: SessionFactory, session: Session, document: Document) -> Iterator[bytes]:
    """The bytes of a document's file, a chunk at a time."""
    stored = session.get(StoredFile, document.sha256)
    if stored is None:
        raise NotFound(_("There is no document %(id)s.", id=document.id))
    return store_for(stored).chunks(sessions, document.sha256)


def versions_of(session: Session, document: Document) -> list[Document]:
    """The documents of the same series (versions of one text), oldest first."""
    return list(session.scalars(select(Document).where(Document.series_id == document.series_id)
                                .order_by(Document.id)))


def compare(session: Session, key: str, from_id: int, to_id: int, actor: Any,
            budget_seconds: float) -> tuple[Policy, Document, Document, Comparison]:
    """Compare two extracted documents of the policy ``key`` paragraph by paragraph.

    Raises:
        NotFound: the policy or either document is unknown or not visible;
        Invalid: a document has no extracted text yet, or both are the same.
    """
    from tracker.documents.comparison import Paragraph
    from tracker.documents.comparison import compare as compare_texts

    old, policy = readable(session, from_id, actor)
    new, other = readable(session, to_id, actor)
    if policy.key != key or other.key != key:
        raise NotFound(_("There is no document %(id)s.", id=from_id if policy.key != key else to_id))
    errors: dict[str, str | FieldError] = {}
    for name, document in (("from", old), ("to", new)):
        if document.status not in ("done", "partial"):
            errors[name] = FieldError("document_not_extracted")
    if from_id == to_id:
        errors["to"] = FieldError("document_same")
    if errors:
        raise Invalid(_("These documents cannot be compared yet."), errors)

    def paragraphs(document: Document) -> list[Paragraph]:
        # Headings are compared with the text (an article added shows its heading); tables of contents not.
        passages = passages_of(session, document)
        return [Paragraph(text=p.text, page=p.page, heading=p.heading)
                for p, kind in zip(passages, passage_kinds(passages)) if kind != "toc"]

    return policy, old, new, compare_texts(paragraphs(old), paragraphs(new), budget_seconds=budget_seconds)


def extraction_summary(session: Session) -> dict[str, int]:
    """How many documents are in each extraction state (for staff pages and the status command)."""
    rows = session.execute(select(Document.status, func.count(Document.id)).group_by(Document.status))
    return {status: count for status, count in rows}

