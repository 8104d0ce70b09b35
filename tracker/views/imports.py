"""Import pages for staff: download the template, upload a file, read its dry run, apply it."""
from __future__ import annotations

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from werkzeug.exceptions import RequestEntityTooLarge

from tracker.db import unit_of_work
from tracker.documents.storage import TooLarge, received
from tracker.errors import FieldError, Invalid
from tracker.forms.imports import ImportApplyForm, ImportUploadForm
from tracker.i18n import format_file_size
from tracker.models import DataImport
from tracker.services import import_template
from tracker.services import imports as import_service
from tracker.services.tabular import file_chunks
from tracker.views.security import role_required
from tracker.views.support import db_session

bp = Blueprint("imports", __name__, url_prefix="/imports")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORM_OVERHEAD = 256 * 1024


@bp.context_processor
def _labels() -> dict[str, object]:
    return {
        "IMPORT_STATES": {"dry_run": _l("Dry run: nothing written yet"), "applied": _l("Applied"),
                          "stale": _l("Out of date: run again"), "refused": _l("Refused: the file has problems")},
        "IMPORT_KINDS": {"policies": _l("Policies"), "organisations": _l("Organisations"), "events": _l("Events"),
                         "topics": _l("Topics")},
        "IMPORT_OUTCOMES": {"created": _l("New record"), "updated": _l("Updated"), "unchanged": _l("Unchanged")},
    }


def _actor():
    return current_user._get_current_object()


def too_large_error() -> FieldError:
    return FieldError("file_too_large", max=format_file_size(int(current_app.config["IMPORT_MAX_BYTES"])))


def too_large_message() -> str:
    return str(too_large_error())


@bp.get("/template.xlsx")
@role_required("import_data")
def template() -> Response:
    workbook = import_template.template_file(db_session())
    response = Response(file_chunks(workbook), mimetype=XLSX_TYPE, direct_passthrough=True)
    response.headers["Content-Disposition"] = 'attachment; filename="ev-policies-import-template.xlsx"'
    return response


def _recent() -> list[DataImport]:
    return list(db_session().scalars(select(DataImport).order_by(DataImport.id.desc()).limit(20)))


@bp.route("", methods=["GET", "POST"])
@role_required("import_data")
def index():
    if request.method == "GET":
        return render_template("imports/index.html", form=ImportUploadForm(), imports=_recent())
    request.max_content_length = int(current_app.config["IMPORT_MAX_BYTES"]) + FORM_OVERHEAD
    try:
        form = ImportUploadForm()
    except RequestEntityTooLarge:
        form = ImportUploadForm(formdata=None)
        form.file.errors = [too_large_message()]
        return render_template("imports/index.html", form=form, imports=_recent()), 413
    if not form.validate_on_submit():
        return render_template("imports/index.html", form=form, imports=_recent()), 400
    upload = form.file.data
    if upload is None or not getattr(upload, "filename", None):
        form.file.errors = [_("Choose a file to import.")]
        return render_template("imports/index.html", form=form, imports=_recent()), 400
    db = db_session()
    try:
        with received(upload.stream, int(current_app.config["IMPORT_MAX_BYTES"])) as spooled:
            with unit_of_work(db):
                record = import_service.start(db, spooled, upload.filename, _actor())
                import_id = record.id
    except TooLarge:
        form.file.errors = [too_large_message()]
        return render_template("imports/index.html", form=form, imports=_recent()), 413
    except Invalid as error:
        form.file.errors = [error.message]
        return render_template("imports/index.html", form=form, imports=_recent()), 400
    return redirect(url_for("imports.show", import_id=import_id))


@bp.get("/<int:import_id>")
@role_required("import_data")
def show(import_id: int):
    record = import_service.get(db_session(), import_id, _actor())
    return render_template("imports/show.html", record=record, form=ImportApplyForm())


@bp.post("/<int:import_id>/apply")
@role_required("import_data")
def apply(import_id: int):
    db = db_session()
    form = ImportApplyForm()
    if not form.validate_on_submit():
        record = import_service.get(db, import_id, _actor())
        flash(_("The request was incomplete; reload the page and try again."), "error")
        return render_template("imports/show.html", record=record, form=form), 400
    try:
        with unit_of_work(db):
            import_service.apply(db, import_id, _actor())
    except import_service.StaleImport:
        # The report brought up to date is kept (a transaction of its own: the failed one wrote nothing).
        with unit_of_work(db):
            record = import_service.refresh(db, import_id, _actor())
        flash(_("The tracker changed since this dry run: it was run again. Read it before applying."), "error")
        return render_template("imports/show.html", record=record, form=form), 409
    except Invalid as error:
        record = import_service.get(db, import_id, _actor())
        flash(error.message, "error")
        return render_template("imports/show.html", record=record, form=form), 400
    flash(_("The import was applied."), "success")
    return redirect(url_for("imports.show", import_id=import_id))
