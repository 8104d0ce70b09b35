"""The imports API under /api/v1: upload a file for a dry run (or apply it at once), read a report, apply it."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, url_for

from tracker.db import unit_of_work
from tracker.errors import FieldError, Invalid
from tracker.models import DataImport
from tracker.services import imports as import_service
from tracker.services.schema_check import json_type
from tracker.translation import gettext as _
from tracker.views.api.uploads import multipart_upload
from tracker.views.api.write import json_body
from tracker.views.errors import error_response
from tracker.views.imports import too_large_error
from tracker.views.security import api_user, role_required
from tracker.views.support import db_session

FIELDS = ("dry_run",)


def register(bp: Blueprint) -> None:
    """Add the import routes to the API blueprint."""
    bp.add_url_rule("/imports", "start_import", start_import, methods=["POST"])
    bp.add_url_rule("/imports/<int:import_id>", "data_import", data_import, methods=["GET"])
    bp.add_url_rule("/imports/<int:import_id>/apply", "apply_import", apply_import, methods=["POST"])
    bp.add_url_rule("/imports/<int:import_id>/organisations", "import_organisations", import_organisations,
                    methods=["POST"])


def import_json(record: DataImport) -> dict[str, Any]:
    return {"id": record.id, "filename": record.filename, "format": record.format, "state": record.state,
            "created_at": record.created_at.isoformat(), "applied_at": record.applied_at.isoformat()
            if record.applied_at else None, "rows": record.row_count, "counts": record.summary.get("counts", {}),
            "problems": record.summary.get("problems", []),
            "total_problems": record.summary.get("total_problems", 0), "changes": record.rows,
            "changes_truncated": bool(record.summary.get("rows_truncated")),
            "unknown_organisations": [{"typed": item["typed"], "row": item["row"], "column": item["column"],
                                       "country": item.get("country"), "rows": item.get("rows", 1)}
                                      for item in import_service.unknown_organisations_of(record)],
            "new_organisations": import_service.new_organisations_of(record),
            "url": url_for("api.data_import", import_id=record.id, _external=True),
            "apply_url": url_for("api.apply_import", import_id=record.id, _external=True),
            "organisations_url": url_for("api.import_organisations", import_id=record.id, _external=True)}


@role_required("import_data")
def start_import():
    db = db_session()
    upload = multipart_upload(int(current_app.config["IMPORT_MAX_BYTES"]), too_large_error(), fields=FIELDS,
                              refused=_("The import was not started: check the fields marked."))
    dry_text = upload.form.get("dry_run", "true").strip().lower()
    if dry_text not in ("true", "false", "1", "0"):
        raise Invalid(_("The import was not started: check the fields marked."),
                      {"dry_run": FieldError("type", expected="boolean", actual="string")})
    user = api_user()
    with upload.spooled() as spooled:
        with unit_of_work(db):
            record = import_service.start(db, spooled, upload.filename, user)
            import_id = record.id
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


ORGANISATION_CHOICE_FIELDS = ("typed", "name_en", "name_lo", "country", "kind")


@role_required("import_data")
def import_organisations(import_id: int):
    """Choose the unknown organisations to create with the import; the dry run is run again with them."""
    db = db_session()
    # The write API's reader: 413 over the size limit, 415 when not JSON, 400 for JSON that is not well formed.
    body = json_body()
    message = _("The organisations were not chosen: check the fields marked.")
    if not isinstance(body, dict) or not isinstance(body.get("organisations"), list):
        actual = json_type(body.get("organisations") if isinstance(body, dict) else body)
        raise Invalid(message, {"organisations": FieldError("type", expected="array", actual=actual)})
    errors: dict[str, str | FieldError] = {name[:60]: FieldError("unknown_field") for name in body
                                           if name != "organisations"}
    choices = []
    for index, item in enumerate(body["organisations"][:1000]):
        if not isinstance(item, dict):
            errors[f"organisations[{index}]"] = FieldError("type", expected="object", actual=json_type(item))
            continue
        for name in item:
            if name not in ORGANISATION_CHOICE_FIELDS:
                errors[f"organisations[{index}].{str(name)[:60]}"] = FieldError("unknown_field")
        for name in ORGANISATION_CHOICE_FIELDS:
            if item.get(name) is not None and not isinstance(item.get(name), str):
                errors[f"organisations[{index}].{name}"] = FieldError("type", expected="string",
                                                                      actual=json_type(item.get(name)))
        choices.append(item)
    if errors:
        raise Invalid(message, errors)
    user = api_user()
    with unit_of_work(db):
        record = import_service.choose_organisations(db, import_id, choices, user)
    return jsonify(import_json(record))


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
