"""Import pages for staff: download the template, upload a file, read its dry run, apply it."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.exceptions import RequestEntityTooLarge

from tracker.db import unit_of_work
from tracker.documents.storage import TooLarge, received
from tracker.errors import FieldError, Invalid
from tracker.forms.imports import ImportApplyForm, ImportUploadForm
from tracker.forms.records import FIELD_LABELS, load_choices
from tracker.i18n import format_file_size
from tracker.models import DataImport
from tracker.models.vocab import ORGANISATION_KINDS
from tracker.pagination import Page, PageRequest, check_page_in_range
from tracker.services import import_template
from tracker.services import imports as import_service
from tracker.services.permissions import has_permission
from tracker.services.tabular import file_chunks
from tracker.translation import current_locale as get_locale
from tracker.translation import gettext as _
from tracker.translation import lazy_gettext as _l
from tracker.views.history import ORGANISATION_LABELS, Describer
from tracker.views.security import csrf, role_required
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


# CSRF is checked by the form itself (validate_on_submit), once the body's larger limit is allowed: the
# app-wide check would read the body first, at the app's far smaller limit, and refuse any real file.
@bp.route("", methods=["GET", "POST"])
@csrf.exempt
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


# Rows of a report shown at a time: a dry run of a large file is read a page at a time.
ROWS_PER_PAGE = 50
PROBLEMS_PER_PAGE = 100


@dataclass
class ReportRow:
    """A row of a report as people read it: field labels and values in the reader's language."""

    kind: str
    key: str
    row: str
    outcome: str
    changes: list[tuple[str, str, str]]
    notes: list[str]


def _will_create(key: str, names: dict[str, Any]) -> str:
    locale = get_locale()
    lao = locale is not None and locale.language == "lo"
    name = (names.get("name_lo") if lao else None) or names.get("name_en") or names.get("name_lo") or key
    return _("Will create the organisation %(name)s (%(key)s).", name=name, key=key)


def _readable(rows: list[dict[str, Any]]) -> list[ReportRow]:
    choices = load_choices(db_session(), "countries", "organisations", "topics", "events")
    describers = {"organisations": Describer(choices, ORGANISATION_LABELS)}
    default = Describer(choices)
    readable = []
    for row in rows:
        describer = describers.get(row["kind"], default)
        notes = [_will_create(note["create_organisation"], note) for note in row.get("notes") or []
                 if "create_organisation" in note]
        readable.append(ReportRow(row["kind"], row["key"], row["row"], row["outcome"], [
            (str(describer.labels.get(change["field"], str(change["field"]).replace("_", " ").capitalize())),
             describer.value(change["field"], change["old"]), describer.value(change["field"], change["new"]))
            for change in row["changes"]], notes))
    return readable


def _page_of(items: list[Any], per_page: int) -> Page[Any]:
    wanted = PageRequest.parse(request.args.get("page"), None, default=per_page, maximum=per_page)
    check_page_in_range(wanted, len(items))
    return Page(items[wanted.offset:wanted.offset + per_page], len(items), wanted.page, per_page)


def _show(record: DataImport, form: ImportApplyForm, status: int = 200,
          choice_errors: list[str] | None = None) -> tuple[str, int]:
    summary = record.summary or {}
    problems = _page_of(list(summary.get("problems") or []), PROBLEMS_PER_PAGE) if summary.get("problems") \
        else None
    rows = None
    if problems is None:
        page = _page_of(record.rows or [], ROWS_PER_PAGE)
        rows = Page(_readable(list(page.items)), page.total, page.page, page.per_page)
    offered = import_service.unknown_organisations_of(record)
    chosen = import_service.new_organisations_of(record)
    may_create = has_permission(_actor(), "edit") and record.state != "applied"
    return render_template("imports/show.html", record=record, form=form, problems=problems, rows=rows,
                           offered=offered, chosen=chosen, may_create=may_create,
                           chosen_notes=[_will_create(item["key"], item) for item in chosen],
                           countries=load_choices(db_session(), "countries").countries if may_create else {},
                           ORGANISATION_KINDS=ORGANISATION_KINDS, choice_errors=choice_errors or []), status


@bp.get("/<int:import_id>")
@role_required("import_data")
def show(import_id: int):
    record = import_service.get(db_session(), import_id, _actor())
    return _show(record, ImportApplyForm())


def _incomplete(db: Session, import_id: int, form: ImportApplyForm):
    """The import's page again, with a 400: the form came without its token or fields."""
    record = import_service.get(db, import_id, _actor())
    flash(_("The request was incomplete; reload the page and try again."), "error")
    return _show(record, form, 400)


@bp.post("/<int:import_id>/organisations")
@role_required("import_data")
def organisations(import_id: int):
    """Choose the unknown organisations to create with the import, and run the dry run again."""
    db = db_session()
    form = ImportApplyForm()
    if not form.validate_on_submit():
        return _incomplete(db, import_id, form)
    choices = []
    for index in request.form.getlist("create")[:1000]:
        if not index.isdigit() or len(index) > 4:
            continue
        choices.append({"typed": request.form.get(f"typed-{index}"), "kind": request.form.get(f"kind-{index}"),
                        **{name: request.form.get(f"{name}-{index}", "").strip() or None
                           for name in ("name_en", "name_lo", "country")}})
    try:
        with unit_of_work(db):
            import_service.choose_organisations(db, import_id, choices, _actor())
    except Invalid as error:
        record = import_service.get(db, import_id, _actor())
        messages = []
        for name, problem in error.errors.items():
            match = re.match(r"organisations\[(\d+)\]\.(\w+)", name)
            typed = choices[int(match.group(1))].get("typed") if match else None
            label = FIELD_LABELS.get(match.group(2), match.group(2)) if match else name
            messages.append(f"{typed or ''} · {label}: {problem}")
        flash(error.message, "error")
        return _show(record, form, 400, messages)
    flash(_("The dry run was run again with the organisations you chose. Nothing is written until you apply."),
          "success")
    return redirect(url_for("imports.show", import_id=import_id))


@bp.post("/<int:import_id>/apply")
@role_required("import_data")
def apply(import_id: int):
    db = db_session()
    form = ImportApplyForm()
    if not form.validate_on_submit():
        return _incomplete(db, import_id, form)
    try:
        with unit_of_work(db):
            import_service.apply(db, import_id, _actor())
    except import_service.StaleImport:
        # The report brought up to date is kept (a transaction of its own: the failed one wrote nothing).
        with unit_of_work(db):
            record = import_service.refresh(db, import_id, _actor())
        flash(_("The tracker changed since this dry run: it was run again. Read it before applying."), "error")
        return _show(record, form, 409)
    except Invalid as error:
        record = import_service.get(db, import_id, _actor())
        flash(error.message, "error")
        return _show(record, form, 400)
    flash(_("The import was applied."), "success")
    return redirect(url_for("imports.show", import_id=import_id))
