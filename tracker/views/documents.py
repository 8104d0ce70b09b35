"""Pages of attached documents: attach, replace, describe, remove and extract again (staff); read, search
within, download and compare versions (everyone who may see the policy)."""
from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from tracker.db import unit_of_work
from tracker.documents.formats import PDF
from tracker.documents.storage import TooLarge, received
from tracker.errors import FieldError, Invalid, NotFound
from tracker.forms.documents import DocumentFactsForm, DocumentForm, ExtractAgainForm, RemoveDocumentForm
from tracker.i18n import format_file_size
from tracker.search.errors import SearchUnavailable
from tracker.services import documents as document_service
from tracker.services import policies as policy_service
from tracker.services import search as search_service
from tracker.translation import gettext as _
from tracker.views.security import csrf, include_unpublished, request_user, role_required
from tracker.views.support import db_session

bp = Blueprint("documents", __name__)

# Room for the form fields around the file in a multipart body.
FORM_OVERHEAD = 256 * 1024


def _actor():
    return current_user._get_current_object()


def _settings() -> document_service.DocumentSettings:
    return document_service.DocumentSettings.from_config(current_app.config)


def allow_upload_size() -> None:
    """Let this request's body be as large as a document may be (the app's usual limit is far smaller)."""
    request.max_content_length = int(current_app.config["DOCUMENT_MAX_BYTES"]) + FORM_OVERHEAD


def too_large_error() -> FieldError:
    return FieldError("file_too_large", max=format_file_size(int(current_app.config["DOCUMENT_MAX_BYTES"])))


def _upload_form(form_class: type[DocumentForm]) -> tuple[DocumentForm | None, int]:
    """The posted form, or None with 413 when the body is over the limit (read before the form parses it)."""
    allow_upload_size()
    try:
        return form_class(), 200
    except RequestEntityTooLarge:
        return None, 413


def _attach(form: DocumentForm, key: str, replaces: int | None) -> tuple[int | None, int]:
    """Attach the form's file; (document id, 201) or (None, status) with the errors put on the form."""
    db = db_session()
    upload = form.file.data
    if upload is None or not getattr(upload, "filename", None):
        form.apply_errors({"file": FieldError("file_required")})
        return None, 400
    try:
        facts = document_service.check_facts(form.to_input())
        with received(upload.stream, int(current_app.config["DOCUMENT_MAX_BYTES"])) as spooled:
            with unit_of_work(db):
                document = document_service.attach(db, key, spooled, upload.filename, facts, _actor(), _settings(),
                                                   replaces=replaces, reason=(form.reason.data or "").strip() or None)
                document_id = document.id
    except TooLarge:
        form.apply_errors({"file": too_large_error()})
        return None, 413
    except Invalid as error:
        form.apply_errors(error.errors, error.message)
        return None, 400
    return document_id, 201


# CSRF is checked by the form itself (validate_on_submit), once the body's larger limit is allowed: the
# app-wide check would read the body first, at the app's far smaller limit, and refuse any real file.
@bp.route("/policies/<key>/documents/new", methods=["GET", "POST"])
@csrf.exempt
@role_required("attach_documents")
def attach(key: str):
    policy = policy_service.get_policy(db_session(), key, include_unpublished=True)
    if request.method == "GET":
        return render_template("documents/attach.html", policy=policy, form=DocumentForm(), replacing=None)
    posted, status = _upload_form(DocumentForm)
    form = posted if posted is not None else DocumentForm(formdata=None)
    if posted is None:
        form.apply_errors({"file": too_large_error()})
    elif form.validate_on_submit():
        document_id, status = _attach(form, key, None)
        if document_id is not None:
            flash(_("The file is attached; its text is being extracted."), "success")
            return redirect(url_for("documents.read", document_id=document_id))
    else:
        status = 400
    return render_template("documents/attach.html", policy=policy, form=form, replacing=None), status


@bp.route("/documents/<int:document_id>/replace", methods=["GET", "POST"])
@csrf.exempt
@role_required("attach_documents")
def replace(document_id: int):
    document, policy = document_service.readable(db_session(), document_id, request_user())
    if request.method == "GET":
        form = DocumentForm(obj=document)
        form.version_label.data = ""
        form.issued_on.data = ""
        return render_template("documents/attach.html", policy=policy, form=form, replacing=document)
    posted, status = _upload_form(DocumentForm)
    form = posted if posted is not None else DocumentForm(formdata=None)
    if posted is None:
        form.apply_errors({"file": too_large_error()})
    elif form.validate_on_submit():
        new_id, status = _attach(form, policy.key, document.id)
        if new_id is not None:
            flash(_("The new version is attached; its text is being extracted."), "success")
            return redirect(url_for("documents.read", document_id=new_id))
    else:
        status = 400
    return render_template("documents/attach.html", policy=policy, form=form, replacing=document), status


@bp.route("/documents/<int:document_id>/edit", methods=["GET", "POST"])
@role_required("attach_documents")
def edit(document_id: int):
    db = db_session()
    document, policy = document_service.readable(db, document_id, request_user())
    if request.method == "GET":
        form = DocumentFactsForm(obj=document)
        form.issued_on.data = document.issued_on.isoformat() if document.issued_on else ""
        return render_template("documents/edit.html", policy=policy, document=document, form=form)
    form = DocumentFactsForm()
    status = 400
    if form.validate_on_submit():
        try:
            facts = document_service.check_facts(form.to_input())
            with unit_of_work(db):
                document_service.update_facts(db, document_id, facts, _actor(),
                                              reason=(form.reason.data or "").strip() or None)
        except Invalid as error:
            form.apply_errors(error.errors, error.message)
        else:
            flash(_("Document saved"), "success")
            return redirect(url_for("documents.read", document_id=document_id))
    return render_template("documents/edit.html", policy=policy, document=document, form=form), status


@bp.route("/documents/<int:document_id>/remove", methods=["GET", "POST"])
@role_required("attach_documents")
def remove(document_id: int):
    db = db_session()
    document, policy = document_service.readable(db, document_id, request_user())
    form = RemoveDocumentForm()
    if request.method == "POST":
        if form.validate_on_submit():
            with unit_of_work(db):
                document_service.remove(db, document_id, _actor(), reason=(form.reason.data or "").strip() or None)
            flash(_("The document was removed."), "success")
            return redirect(url_for("policies.detail", key=policy.key, _anchor="texts"))
        return render_template("documents/remove.html", policy=policy, document=document, form=form), 400
    return render_template("documents/remove.html", policy=policy, document=document, form=form)


@bp.post("/documents/<int:document_id>/extract")
@role_required("attach_documents")
def extract_again(document_id: int):
    db = db_session()
    form = ExtractAgainForm()
    if not form.validate_on_submit():
        raise Invalid(_("The request was incomplete; reload the page and try again."))
    with unit_of_work(db):
        document_service.rerun(db, document_id, _actor())
    flash(_("The text will be extracted again."), "success")
    return redirect(url_for("documents.read", document_id=document_id))


# ---------------------------------------------------------------------------------------------------
# Reading


@bp.get("/documents/<int:document_id>")
def read(document_id: int):
    db = db_session()
    document, policy = document_service.readable(db, document_id, request_user())
    q = (request.args.get("q") or "").strip()
    sort = request.args.get("sort", "relevance")
    if sort not in ("relevance", "page"):
        raise Invalid(_("Sort by relevance or by page."), {"sort": FieldError("one_of", value=sort[:30],
                                                                              values="relevance, page")})
    results = None
    unavailable = None
    if q:
        try:
            results = search_service.search_passages(db, q, documents=(document.id,), sort=sort, per_page=50,
                                                     include_unpublished=include_unpublished())
        except SearchUnavailable as error:
            unavailable = error.message
        except NotFound:
            results = None
    passages = document_service.passages_of(db, document)
    pages: dict[int, list] = {}
    for passage, kind in zip(passages, document_service.passage_kinds(passages)):
        pages.setdefault(passage.page, []).append((passage, kind))
    versions = document_service.versions_of(db, document)
    return render_template("documents/read.html", document=document, policy=policy, pages=pages, q=q, sort=sort,
                           results=results, unavailable=unavailable, versions=versions,
                           extract_form=ExtractAgainForm(),
                           unofficial=document.role in document_service.UNOFFICIAL_ROLES)


def content_disposition(filename: str, inline: bool) -> str:
    """A Content-Disposition header with an ASCII fallback name and the real one (RFC 6266 / 5987)."""
    fallback = "".join(char if char.isascii() and char.isprintable() and char not in '"\\;' else "_"
                       for char in filename) or "document"
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def file_response(document_id: int) -> Response:
    """The document's bytes with safe headers: the sniffed type, nosniff, a download name, and HTML only
    ever as a download under a sandboxing policy (never rendered in the tracker's origin)."""
    db = db_session()
    document, policy = document_service.readable(db, document_id, request_user())
    database = current_app.extensions["tracker.db"]

    def sessions():
        from contextlib import closing

        return closing(database.session())

    chunks = document_service.file_chunks(sessions, db, document)
    inline = document.media_type == PDF and request.args.get("download") is None
    response = Response(chunks, mimetype=document.media_type, direct_passthrough=True)
    if document.media_type.startswith("text/"):
        response.headers["Content-Type"] = f"{document.media_type}; charset=utf-8"
    response.headers["Content-Length"] = str(document.size)
    response.headers["Content-Disposition"] = content_disposition(document.filename, inline)
    response.headers["X-Content-Type-Options"] = "nosniff"
    # Whatever a file holds, it runs no script and reaches nothing in the tracker's origin. A PDF shown in the
    # browser's viewer is the exception to the sandbox (Chromium refuses to show a PDF in a sandboxed
    # document); it is not HTML, and nosniff keeps it from being read as anything else.
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; frame-ancestors 'none'" if document.media_type == PDF
        else "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'")
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    response.headers["ETag"] = f'"{document.sha256}"'
    # A file of a record staff only may see must never sit in a shared cache.
    response.headers["Cache-Control"] = ("public, max-age=3600" if policy.editorial_state == "published"
                                         else "private, no-store")
    return response


@bp.get("/documents/<int:document_id>/file")
def download(document_id: int):
    return file_response(document_id)


@bp.get("/policies/<key>/compare")
def compare(key: str):
    db = db_session()
    raw_from, raw_to = request.args.get("from", ""), request.args.get("to", "")
    errors: dict[str, str | FieldError] = {}
    for name, raw in (("from", raw_from), ("to", raw_to)):
        if not raw.isdigit():
            errors[name] = FieldError("required") if not raw else FieldError("type", expected="an integer",
                                                                                actual="text")
    if errors:
        raise Invalid(_("Choose two documents to compare."), errors)
    policy, old, new, comparison = document_service.compare(
        db, key, int(raw_from), int(raw_to), request_user(), float(current_app.config["DOCUMENT_COMPARE_SECONDS"]))
    return render_template("documents/compare.html", policy=policy, old=old, new=new, comparison=comparison)
