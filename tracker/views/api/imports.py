"""The imports API under /api/v1: upload a file for a dry run (or apply it at once), read a report, apply it."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request, url_for
from flask_babel import gettext as _
from werkzeug.exceptions import RequestEntityTooLarge

from tracker.db import unit_of_work
from tracker.documents.storage import TooLarge, received
from tracker.errors import FieldError, Invalid
from tracker.models import DataImport
from tracker.services import imports as import_service
from tracker.views.errors import error_response
from tracker.views.imports import FORM_OVERHEAD, too_large_message
from tracker.views.security import api_user, role_required
from tracker.views.support import db_session

FIELDS = ("dry_run",)


def register(bp: Blueprint) -> None:
    """Add the import routes to the API blueprint."""
    bp.add_url_rule("/imports", "start_import", start_import, methods=["POST"])
    bp.add_url_rule("/imports/<int:import_id>", "data_import", data_import, methods=["GET"])
    bp.add_url_rule("/imports/<int:import_id>/apply", "apply_import", apply_import, methods=["POST"])


def import_json(record: DataImport) -> dict[str, Any]:
    return {"id": record.id, "filename": record.filename, "format": record.format, "state": record.state,
            "created_at": record.created_at.isoformat(), "applied_at": record.applied_at.isoformat()
            if record.applied_at else None, "rows": record.row_count, "counts": record.summary.get("counts", {}),
            "problems": record.summary.get("problems", []),
            "total_problems": record.summary.get("total_problems", 0), "changes": record.rows,
            "changes_truncated": bool(record.summary.get("rows_truncated")),
            "url": url_for("api.data_import", import_id=record.id, _external=True),
            "apply_url": url_for("api.apply_import", import_id=record.id, _external=True)}


@role_required("import_data")
def start_import():
    db = db_session()
    request.max_content_length = int(current_app.config["IMPORT_MAX_BYTES"]) + FORM_OVERHEAD
    try:
        if request.mimetype != "multipart/form-data":
            raise Invalid(_("Send the file as multipart/form-data, in a field named 'file'."),
                          {"file": FieldError("file_required")})
        upload = request.files.get("file")
        form = request.form
    except RequestEntityTooLarge:
        return error_response(413, too_large_message(), {"file": too_large_message()})
    unknown = sorted({str(name) for name in form if name not in FIELDS})
    if unknown:
        raise Invalid(_("The import was not started: check the fields marked."),
                      {name[:60]: FieldError("unknown_field") for name in unknown[:20]})
    dry_text = form.get("dry_run", "true").strip().lower()
    if dry_text not in ("true", "false", "1", "0"):
        raise Invalid(_("The import was not started: check the fields marked."),
                      {"dry_run": FieldError("type", expected="boolean", actual="string")})
    if upload is None or not upload.filename:
        raise Invalid(_("The import was not started: check the fields marked."), {"file": FieldError("file_required")})
    user = api_user()
    try:
        with received(upload.stream, int(current_app.config["IMPORT_MAX_BYTES"])) as spooled:
            with unit_of_work(db):
                record = import_service.start(db, spooled, upload.filename, user)
                import_id = record.id
    except TooLarge:
        return error_response(413, too_large_message(), {"file": too_large_message()})
    if dry_text in ("false", "0") and record.state == "dry_run":
        return _apply(import_id)
    record = import_service.get(db, import_id, user)
    response = jsonify(import_json(record))
    response.status_code = 201
    response.headers["Location"] = url_for("api.data_import", import_id=import_id, _external=True)
    return response


@role_required("import_data")
def data_import(import_id: int):
    return jsonify(import_json(import_service.get(db_session(), import_id, api_user())))


@role_required("import_data")
def apply_import(import_id: int):
    return _apply(import_id)


def _apply(import_id: int):
    db = db_session()
    user = api_user()
    try:
        with unit_of_work(db):
            record = import_service.apply(db, import_id, user)
    except import_service.StaleImport:
        with unit_of_work(db):
            record = import_service.refresh(db, import_id, user)
        body = import_json(record)
        response = error_response(409, _("The tracker changed since this dry run: it was run again. Read it "
                                         "before applying."), {})
        payload = response.get_json()
        payload["import"] = body
        response.set_data(jsonify(payload).get_data())
        return response
    return jsonify(import_json(record))
