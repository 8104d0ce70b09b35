"""The documents API under /api/v1: attach (multipart), list, read, download, remove, search passages, compare."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request, url_for

from tracker.db import unit_of_work
from tracker.errors import FieldError, Invalid
from tracker.models import Document, DocumentPassage, Policy
from tracker.services import documents as document_service
from tracker.services import policies as policy_service
from tracker.services import search as search_service
from tracker.translation import gettext as _
from tracker.views.api.uploads import multipart_upload
from tracker.views.documents import file_response, too_large_error
from tracker.views.security import api_user, include_unpublished, request_user, role_required
from tracker.views.support import db_session

# Fields of the multipart attach request other than the file.
FACT_FIELDS = ("role", "language", "version_label", "date", "source_url", "replaces", "reason")
MAX_PASSAGES_PER_PAGE = 100
MAX_PAGE = 999_999_999


def register(bp: Blueprint) -> None:
    """Add the document routes to the API blueprint."""
    bp.add_url_rule("/policies/<key>/documents", "attach_document", attach_document, methods=["POST"])
    bp.add_url_rule("/policies/<key>/documents", "policy_documents", policy_documents, methods=["GET"])
    bp.add_url_rule("/documents/<int:document_id>", "document", document, methods=["GET"])
    bp.add_url_rule("/documents/<int:document_id>", "remove_document", remove_document, methods=["DELETE"])
    bp.add_url_rule("/documents/<int:document_id>/text", "document_text", document_text, methods=["GET"])
    bp.add_url_rule("/documents/<int:document_id>/file", "document_file", document_file, methods=["GET"])
    bp.add_url_rule("/search/passages", "search_passages", search_passages, methods=["GET"])
    bp.add_url_rule("/policies/<key>/compare", "compare_documents", compare_documents, methods=["GET"])


def document_json(document: Document, *, staff: bool) -> dict[str, Any]:
    """A document's facts and extraction state as the API returns them."""
    body: dict[str, Any] = {
        "id": document.id, "series_id": document.series_id, "filename": document.filename,
        "media_type": document.media_type, "size": document.size, "sha256": document.sha256,
        "role": document.role, "language": document.language, "version_label": document.version_label,
        "date": document.issued_on.isoformat() if document.issued_on else None, "source_url": document.source_url,
        "added_at": document.added_at.isoformat(), "status": document.status, "pages": document.pages,
        "pages_ocr": document.pages_ocr, "characters": document.characters,
        "official": document.role not in document_service.UNOFFICIAL_ROLES,
        "urls": {"html": url_for("documents.read", document_id=document.id, _external=True),
                 "api": url_for("api.document", document_id=document.id, _external=True),
                 "text": url_for("api.document_text", document_id=document.id, _external=True),
                 "file": url_for("api.document_file", document_id=document.id, _external=True)},
    }
    if staff:
        body["status_reason"] = document.status_reason
        body["added_by"] = document.added_by_label
    return body


def passage_json(passage: DocumentPassage) -> dict[str, Any]:
    return {"seq": passage.seq, "page": passage.page, "heading": passage.heading, "language": passage.language,
            "text": passage.text, "method": passage.method, "confidence": passage.confidence, "toc": passage.toc}


def _staff() -> bool:
    return document_service.can_read_unpublished(request_user())


@role_required("attach_documents")
def attach_document(key: str):
    db = db_session()
    upload = multipart_upload(int(current_app.config["DOCUMENT_MAX_BYTES"]), too_large_error(), fields=FACT_FIELDS,
                              refused=_("The document was not saved: check the fields marked."))
    form = upload.form
    replaces_text = form.get("replaces", "").strip()
    if replaces_text and not replaces_text.isdigit():
        raise Invalid(_("The document was not saved: check the fields marked."),
                      {"replaces": FieldError("type", expected="integer", actual="string")})
    facts = document_service.check_facts({name: form.get(name) for name in FACT_FIELDS}, date_field="date")
    user = api_user()
    with upload.spooled() as spooled:
        with unit_of_work(db):
            created = document_service.attach(
                db, key, spooled, upload.filename, facts, user,
                document_service.DocumentSettings.from_config(current_app.config),
                replaces=int(replaces_text) if replaces_text else None,
                reason=(form.get("reason") or "").strip() or None)
    response = jsonify(document_json(created, staff=True))
    response.status_code = 201
    response.headers["Location"] = url_for("api.document", document_id=created.id, _external=True)
    return response


def policy_documents(key: str):
    db = db_session()
    policy = policy_service.get_policy(db, key, include_unpublished=include_unpublished())
    staff = _staff()
    return jsonify({"policy": policy.key,
                    "documents": [document_json(d, staff=staff) for d in document_service.documents_of(db, policy)]})


def document(document_id: int):
    db = db_session()
    found, policy = document_service.readable(db, document_id, request_user())
    return jsonify(document_detail_json(found, policy, document_service.versions_of(db, found), staff=_staff()))


def document_detail_json(document: Document, policy: Policy, versions: list[Document], *,
                         staff: bool) -> dict[str, Any]:
    """A document as GET /documents/<id> returns it: its facts, its policy and the versions of its text."""
    body = document_json(document, staff=staff)
    body["policy"] = {"key": policy.key, "url": url_for("api.policy", key=policy.key, _external=True)}
    body["versions"] = [{"id": v.id, "version_label": v.version_label,
                         "date": v.issued_on.isoformat() if v.issued_on else None} for v in versions]
    return body


def document_text(document_id: int):
    db = db_session()
    found, _policy = document_service.readable(db, document_id, request_user())
    passages = document_service.passages_of(db, found)
    return jsonify({"document_id": found.id, "status": found.status, "pages": found.pages,
                    "passages": [passage_json(p) for p in passages]})


def document_file(document_id: int):
    return file_response(document_id)


@role_required("attach_documents")
def remove_document(document_id: int):
    db = db_session()
    with unit_of_work(db):
        document_service.remove(db, document_id, api_user(), reason=request.args.get("reason") or None)
    return "", 204


def _ints(name: str) -> tuple[int, ...]:
    values = []
    for raw in request.args.getlist(name):
        for part in raw.split(","):
            part = part.strip()
            if not part:
                continue
            if not part.isdigit() or len(part) > 12:
                raise Invalid(_("Invalid search parameters."), {name: FieldError("type", expected="integer",
                                                                                 actual="string")})
            values.append(int(part))
    return tuple(values)


def search_passages():
    db = db_session()
    q = request.args.get("q", "")
    errors: dict[str, str | FieldError] = {}
    if not q.strip():
        errors["q"] = FieldError("required")
    elif len(q) > 500:
        errors["q"] = FieldError("too_long", length=len(q), max=500)
    sort = request.args.get("sort", "relevance")
    if sort not in ("relevance", "page"):
        errors["sort"] = FieldError("one_of", value=sort[:30], values="relevance, page")
    page_text, per_page_text = request.args.get("page", "1"), request.args.get("per_page", "20")
    for name, text, largest in (("page", page_text, MAX_PAGE), ("per_page", per_page_text, MAX_PASSAGES_PER_PAGE)):
        if not text.isdigit() or len(text) > 9 or not 1 <= int(text) <= largest:
            errors[name] = FieldError("too_large" if text.isdigit() and int(text) > 0 else "too_small",
                                      min=1, max=largest)
    unknown = sorted(set(request.args) - {"q", "sort", "page", "per_page", "policy", "document", "lang"})
    for name in unknown[:20]:
        errors[name[:60]] = FieldError("unknown_field")
    if errors:
        raise Invalid(_("Invalid search parameters."), errors)
    policy_ids: tuple[int, ...] = ()
    keys = [part.strip() for raw in request.args.getlist("policy") for part in raw.split(",") if part.strip()]
    if keys:
        policy_ids = tuple(policy_service.get_policy(db, key[:120], include_unpublished=include_unpublished()).id
                           for key in keys[:20])
    results = search_service.search_passages(
        db, q, policies=policy_ids, documents=_ints("document"),
        languages=tuple(lang.strip().lower()[:12] for raw in request.args.getlist("lang") for lang in raw.split(",")
                        if lang.strip()),
        sort=sort, page=int(page_text), per_page=int(per_page_text), include_unpublished=include_unpublished())
    return jsonify({"total": results.total, "page": results.page, "pages": results.pages, "notice": results.notice,
                    "hits": [passage_hit_json(hit) for hit in results.hits]})


def passage_hit_json(hit: search_service.PassageHit) -> dict[str, Any]:
    return {"document_id": hit.document.id, "policy": hit.policy.key, "page": hit.passage.page,
            "heading": hit.passage.heading, "language": hit.passage.language, "score": float(hit.score),
            "highlight": str(hit.highlight), "method": hit.passage.method, "toc": hit.passage.toc,
            "url": url_for("documents.read", document_id=hit.document.id, _external=True,
                           _anchor=f"page-{hit.passage.page}")}


def compare_documents(key: str):
    db = db_session()
    errors: dict[str, str | FieldError] = {}
    raw = {name: request.args.get(name, "") for name in ("from", "to")}
    for name, text in raw.items():
        if not text.isdigit() or len(text) > 12:
            errors[name] = FieldError("required") if not text else FieldError("type", expected="integer",
                                                                                actual="string")
    if errors:
        raise Invalid(_("Choose two documents to compare."), errors)
    policy, old, new, comparison = document_service.compare(
        db, key, int(raw["from"]), int(raw["to"]), request_user(),
        float(current_app.config["DOCUMENT_COMPARE_SECONDS"]))
    return jsonify({"policy": policy.key, "from": old.id, "to": new.id} | comparison.to_json())
