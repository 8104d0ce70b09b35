"""Imports by staff: a spreadsheet (the tracker's template or a policy export), a CSV in the export format or a
dataset JSON file, shown first as a dry run (each row created, updated with its field changes, unchanged
or wrong), then applied in one transaction only if nothing changed since the dry run.

Rows become records of the dataset format and go through the same loader as `flask data load`
(tracker.services.dataset): one set of checks, one way of writing, audit and search alike. A row of a
spreadsheet overlays the record it names: a column left out or a cell left empty keeps what is stored, a
cell holding only "-" clears the field, and a legal status that differs from the current one appends a
dated step (the status history is never rewritten by a spreadsheet). Records created from a spreadsheet
are drafts, for review.
"""
from __future__ import annotations

import contextlib
import csv
import datetime as dt
import json
import os
import re
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import ijson
from flask_babel import gettext as _
from openpyxl.utils.exceptions import InvalidFileException
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from tracker.documents.storage import Received, default_store, store_for
from tracker.errors import Invalid, NotFound
from tracker.models import DataImport, Event, Organisation, Policy, StoredFile, User
from tracker.models.content_version import current_content_version
from tracker.models.types import PartialDate, PartialDateError, utcnow
from tracker.services.dataset import DatasetFile, DatasetInvalid, LoadOptions, load_dataset
from tracker.services.exports import AS_OF_COLUMNS, POLICY_HEADER
from tracker.services.permissions import has_permission, require
from tracker.services.records import policy_to_record

# Columns a spreadsheet row may set; the other columns of an export are derived or shown for reading and
# are ignored on import.
EDITABLE_COLUMNS = ("key", "country_code", "title_en", "title_lo", "title_local", "reference", "instrument",
                    "legal_status", "status_since", "status_note", "status_source_url", "valid_from", "valid_to",
                    "issuer_key", "other_bodies", "topics", "vehicle_classes", "summary_en", "summary_lo",
                    "sources", "confidence")
# A list downloaded as of a day has two columns more (the day and the status then), read-only too.
EXPORTED_COLUMNS = frozenset(POLICY_HEADER) | {name for name, _meaning in AS_OF_COLUMNS}
READ_ONLY_COLUMNS = EXPORTED_COLUMNS - set(EDITABLE_COLUMNS)
SPREADSHEET_COLUMNS = EXPORTED_COLUMNS | set(EDITABLE_COLUMNS)
ORGANISATION_COLUMNS = ("key", "name_en", "name_lo", "acronym", "country", "kind", "parent")
# A cell holding only this clears the field (an empty cell keeps what is stored).
CLEAR = "-"
DATE_COLUMNS = frozenset({"status_since", "valid_from", "valid_to"})
LIST_COLUMNS = frozenset({"other_bodies", "topics", "vehicle_classes", "sources"})
# Rows shown with their details in a report kept for the page (the counts always cover every row).
MAX_REPORTED_ROWS = 5000
_MERGED = re.compile(rb'<mergeCell ref="([A-Z]+\d+:[A-Z]+\d+)"')


@dataclass(frozen=True)
class RowProblem:
    row: str        # "row 12", "policies[3]"
    column: str
    message: str


@dataclass
class Parsed:
    """An upload turned into a dataset (or a file the loader streams), with where each record came from."""

    format: str
    data: Any = None
    rows_of: dict[tuple[str, str], str] = field(default_factory=dict)   # (kind, key) -> "row 12"
    problems: list[RowProblem] = field(default_factory=list)
    count: int = 0


def _cell_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (dt.datetime, dt.date)):
        return (value.date() if isinstance(value, dt.datetime) else value).isoformat()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def _date_text(text: str | None) -> str | None:
    if text is None:
        return None
    return PartialDate.parse_written(text).isoformat()


def _split(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(";") if part.strip()]


def _policy_records(session: Session, rows: list[tuple[str, dict[str, str | None]]], header: list[str],
                    parsed: Parsed) -> list[dict[str, Any]]:
    """Dataset records for spreadsheet rows: each overlays the stored record of its key (or a new draft)."""
    keys = [values.get("key") for _, values in rows if values.get("key")]
    org_keys = {row.id: row.key for row in session.execute(select(Organisation.id, Organisation.key))}
    event_keys = {row.id: row.key for row in session.execute(select(Event.id, Event.key))}
    policy_keys: dict[int, str] = {}
    stored: dict[str, dict[str, Any]] = {}
    for start in range(0, len(keys), 500):
        policies = session.scalars(select(Policy).where(Policy.key.in_(keys[start:start + 500])).options(
            selectinload(Policy.topic_links), selectinload(Policy.vehicle_class_links),
            selectinload(Policy.bodies), selectinload(Policy.sources), selectinload(Policy.relations),
            selectinload(Policy.status_changes), selectinload(Policy.forum_links),
            selectinload(Policy.targets))).all()
        targets = {r.target_id for p in policies for r in p.relations if r.target_id}
        if targets:
            policy_keys.update({row.id: row.key for row in session.execute(
                select(Policy.id, Policy.key).where(Policy.id.in_(targets)))})
        for policy in policies:
            stored[policy.key] = policy_to_record(policy, org_keys, event_keys, policy_keys)
            session.expunge(policy)
    seen: dict[str, str] = {}
    records = []
    for row, values in rows:
        key = values.get("key")
        if not key:
            parsed.problems.append(RowProblem(row, "key", _("Every row needs a key.")))
            continue
        if key in seen:
            parsed.problems.append(RowProblem(row, "key", _("The key '%(key)s' is also on %(row)s.", key=key,
                                                            row=seen[key])))
            continue
        seen[key] = row
        parsed.rows_of[("policies", key)] = row
        base = stored.get(key)
        record: dict[str, Any] = dict(base) if base else {
            "key": key, "status_history": [], "relations": [], "forum_links": [], "other_bodies": [],
            "sources": [], "topics": [], "vehicle_classes": [], "conflicts": [], "editorial_state": "draft",
            "status": "unknown"}
        problem = False
        for column in header:
            if column in ("key", "status_since", "status_note", "status_source_url") or column in READ_ONLY_COLUMNS:
                continue
            text = values.get(column)
            if text is None:
                continue  # an empty cell keeps what is stored (a sheet may name columns it does not fill)
            try:
                _set(record, column, None if text == CLEAR else text, base)
            except PartialDateError as error:
                parsed.problems.append(RowProblem(row, column, str(error)))
                problem = True
        if "legal_status" in header:
            status = values.get("legal_status")
            current = (base or {}).get("status")
            if status and status != current:
                try:
                    date = _date_text(values.get("status_since"))
                except PartialDateError as error:
                    parsed.problems.append(RowProblem(row, "status_since", str(error)))
                    problem = True
                    date = None
                record["status_history"] = [*record["status_history"], {
                    "status": status, "date": date, "note": values.get("status_note"), "note_lo": None,
                    "source_url": values.get("status_source_url")}]
                record["status"] = status
        if not problem:
            records.append(record)
    return records


def _set(record: dict[str, Any], column: str, text: str | None, base: dict[str, Any] | None) -> None:
    """Write one spreadsheet cell into a dataset record."""
    if column == "country_code":
        record["country"] = text
    elif column == "issuer_key":
        record["issuer"] = text
    elif column in DATE_COLUMNS:
        record[column] = _date_text(text)
    elif column == "other_bodies":
        record["other_bodies"] = [{"org": part.partition(":")[0].strip(), "role": part.partition(":")[2].strip()}
                                  for part in _split(text)]
    elif column == "sources":
        known = {source["url"]: source for source in (base or {}).get("sources", [])}
        record["sources"] = [known.get(url, {"url": url, "title": None, "published": None, "kind": None})
                             for url in _split(text)]
    elif column in LIST_COLUMNS:
        record[column] = _split(text)
    else:
        record[column] = text


def _rows_from_table(header_cells: list[Any], body: Iterator[tuple[str, list[Any]]], parsed: Parsed,
                     columns: tuple[str, ...] | frozenset[str]) -> tuple[list[str], list[tuple[str, dict[str, Any]]]]:
    # A header cell may carry its labels under the name ("title_en\nTitle in English\n..."): the name counts.
    header = [(_cell_text(cell) or "").splitlines()[0].strip() if _cell_text(cell) else "" for cell in header_cells]
    while header and not header[-1]:
        header.pop()
    for index, name in enumerate(header):
        if name and name not in columns:
            parsed.problems.append(RowProblem(_("header"), name[:60], _(
                "Unknown column '%(name)s'. Columns: %(columns)s.", name=name[:60],
                columns=", ".join(sorted(columns)))))
        elif not name:
            parsed.problems.append(RowProblem(_("header"), str(index + 1), _("A column has no name.")))
    if "key" not in header:
        parsed.problems.append(RowProblem(_("header"), "key", _("The file needs a 'key' column.")))
    rows = []
    for row, cells in body:
        values = {name: _cell_text(cells[index]) if index < len(cells) else None
                  for index, name in enumerate(header) if name}
        if any(value is not None for value in values.values()):
            rows.append((row, values))
    return header, rows


def parse_csv(path: Path) -> tuple[list[Any], Iterator[tuple[str, list[Any]]]]:
    """The header and the numbered rows of a CSV file (read whole: a sheet's rows are small)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        rows = [(_("row %(number)s", number=number), list(cells)) for number, cells in enumerate(reader, start=2)]
    return list(header), iter(rows)


def _xlsx_sheets(path: Path, parsed: Parsed) -> dict[str, tuple[list[Any], list[tuple[str, list[Any]]]]]:
    from openpyxl import load_workbook

    sheets: dict[str, tuple[list[Any], list[tuple[str, list[Any]]]]] = {}
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/sheet") and name.endswith(".xml"):
                merged = _MERGED.findall(archive.read(name))
                if merged:
                    parsed.problems.append(RowProblem(_("sheet"), name.rsplit("/", 1)[-1], _(
                        "Merged cells (%(ranges)s): unmerge them and give each cell its own value.",
                        ranges=", ".join(r.decode() for r in merged[:5]))))
    # A file object: openpyxl judges a path by its extension, and an upload is spooled without one.
    handle = path.open("rb")
    workbook = load_workbook(handle, read_only=True, data_only=False)
    try:
        for sheet in workbook.worksheets:
            if sheet.title not in ("policies", "organisations"):
                continue
            rows = sheet.iter_rows()
            header = [cell.value for cell in next(rows, ())]
            body = []
            for number, cells in enumerate(rows, start=2):
                values: list[Any] = []
                for cell in cells:
                    if getattr(cell, "data_type", None) == "f":
                        parsed.problems.append(RowProblem(_("row %(number)s", number=number), str(
                            header[len(values)] if len(values) < len(header) else len(values) + 1), _(
                            "A formula: type the value itself.")))
                        values.append(None)
                    else:
                        values.append(cell.value)
                body.append((_("%(sheet)s, row %(number)s", sheet=sheet.title, number=number), values))
            sheets[sheet.title] = (header, body)
    finally:
        workbook.close()
        handle.close()
    if "policies" not in sheets and "organisations" not in sheets:
        parsed.problems.append(RowProblem(_("sheet"), "policies", _(
            "The workbook has no sheet named 'policies' (or 'organisations'): use the template.")))
    return sheets


def sniff_format(path: Path, filename: str) -> str:
    """The format of an upload from its bytes (a name can say anything).

    Raises:
        Invalid: the bytes are none of XLSX, CSV (UTF-8 text) or JSON.
    """
    with path.open("rb") as handle:
        head = handle.read(4096)
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as archive:
                if "xl/workbook.xml" in archive.namelist():
                    return "xlsx"
        except zipfile.BadZipFile:
            pass
        raise _bad_file(_("The file is a ZIP archive but not an Excel workbook (XLSX)."))
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError:
        # The head may end inside a character; anything else is not UTF-8 text.
        try:
            head[:-4].decode("utf-8-sig")
        except UnicodeDecodeError:
            raise _bad_file(_("The file is neither an Excel workbook (XLSX) nor text in UTF-8 (CSV or JSON).")) \
                from None
        text = head[:-4].decode("utf-8-sig")
    if "\x00" in text:
        raise _bad_file(_("The file is neither an Excel workbook (XLSX) nor text in UTF-8 (CSV or JSON)."))
    stripped = text.lstrip()
    if stripped.startswith("{"):
        return "json"
    if filename.lower().endswith((".xlsx", ".json")):
        raise _bad_file(_("The file's name says %(type)s, but its content is not.", type=filename.rsplit(".", 1)[-1]))
    return "csv"


def _bad_file(message: str) -> Invalid:
    return Invalid(message, {"file": message})


def parse_upload(session: Session, path: Path, filename: str) -> Parsed:
    """Read an upload into dataset records (spreadsheets, CSV) or a streamed dataset file (JSON)."""
    kind = sniff_format(path, filename)
    parsed = Parsed(kind)
    if kind == "json":
        problem = json_problems(path)
        if problem:
            raise _bad_file(problem)
        parsed.data = DatasetFile(path)
        return parsed
    if kind == "csv":
        try:
            header_cells, body = parse_csv(path)
            header, rows = _rows_from_table(header_cells, body, parsed,
                                            SPREADSHEET_COLUMNS)
        except UnicodeDecodeError:
            raise _bad_file(_("The CSV file is not in UTF-8; save it as 'CSV UTF-8' and upload it again.")) from None
        except csv.Error as error:
            raise _bad_file(_("The CSV file cannot be read: %(error)s", error=str(error)[:200])) from None
        parsed.count = len(rows)
        parsed.data = {"policies": _policy_records(session, rows, header, parsed)}
        return parsed
    try:
        sheets = _xlsx_sheets(path, parsed)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, InvalidFileException) as error:
        raise _bad_file(_("The workbook cannot be read: %(error)s", error=str(error)[:200])) from None
    data: dict[str, Any] = {}
    if "organisations" in sheets:
        header_cells, sheet_rows = sheets["organisations"]
        header, rows = _rows_from_table(header_cells, iter(sheet_rows), parsed, ORGANISATION_COLUMNS)
        organisations = []
        for row, values in rows:
            key = values.get("key")
            if key:
                parsed.rows_of[("organisations", key)] = row
            organisations.append({name: values.get(name) for name in ORGANISATION_COLUMNS if name in header})
        data["organisations"] = organisations
        parsed.count += len(rows)
    if "policies" in sheets:
        header_cells, sheet_rows = sheets["policies"]
        header, rows = _rows_from_table(header_cells, iter(sheet_rows), parsed, SPREADSHEET_COLUMNS)
        parsed.count += len(rows)
        data["policies"] = _policy_records(session, rows, header, parsed)
    parsed.data = data
    return parsed


@dataclass
class Report:
    """What an import would do (a dry run) or did."""

    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    total_problems: int = 0

    def add(self, kind: str, key: str, outcome: str, changes: list[tuple[str | None, Any, Any]],
            row: str) -> None:
        self.counts.setdefault(kind, {}).setdefault(outcome, 0)
        self.counts[kind][outcome] += 1
        if len(self.rows) < MAX_REPORTED_ROWS and outcome != "unchanged":
            self.rows.append({"kind": kind, "key": key, "row": row, "outcome": outcome,
                              "changes": [{"field": name, "old": _shown(old), "new": _shown(new)}
                                          for name, old, new in changes]})


def _shown(value: Any) -> Any:
    """A value as the report shows it (JSON, and not too long)."""
    if isinstance(value, (list, dict)):
        value = json.dumps(value, ensure_ascii=False)
    return value[:500] if isinstance(value, str) else value


def _load(session: Session, parsed: Parsed, options: LoadOptions, report: Report) -> None:
    actor = options.actor
    # What the forms allow, an import allows: an editor changes drafts, a reviewer published records too.
    guarded = ("policies", "events")
    published: dict[str, set[str]] = {}
    if actor is not None and not has_permission(actor, "edit_published"):
        published = {
            "policies": set(session.scalars(select(Policy.key).where(Policy.editorial_state == "published"))),
            "events": set(session.scalars(select(Event.key).where(Event.editorial_state == "published")))}

    def on_record(kind: str, key: str, outcome: str, changes: list[tuple[str | None, Any, Any]]) -> None:
        row = parsed.rows_of.get((kind, key), f"{kind} '{key}'")
        if outcome == "updated" and key in published.get(kind, ()):
            report.problems.append(RowProblem(row, "key", _(
                "'%(key)s' is published: only a reviewer may import changes to it.", key=key)))
        elif outcome == "created" and kind in guarded and published and any(
                name == "editorial_state" and new == "published" for name, _old, new in changes):
            report.problems.append(RowProblem(row, "editorial_state", _(
                "Only a reviewer may import records as published.")))
        report.add(kind, key, outcome, changes, row)
    options.on_record = on_record
    try:
        load_dataset(session, parsed.data, options=options)
        if report.problems:
            report.total_problems = len(report.problems)
            report.rows.clear()
            report.counts.clear()
    except DatasetInvalid as error:
        report.total_problems = error.total
        for problem in error.problems:
            kind, _sep, key = problem.record.partition(" ")
            plural = {"policy": "policies", "organisation": "organisations", "event": "events",
                      "topic": "topics"}.get(kind, kind)
            row = parsed.rows_of.get((plural, key.strip("'")), problem.record)
            report.problems.append(RowProblem(row, problem.field, str(problem.error)))
        report.rows.clear()
        report.counts.clear()


def dry_run(session: Session, parsed: Parsed, actor: User) -> Report:
    """What importing ``parsed`` would do; nothing of it is written (the load runs in a savepoint rolled back)."""
    report = Report(problems=list(parsed.problems), total_problems=len(parsed.problems))
    if parsed.problems:
        return report
    savepoint = session.begin_nested()
    try:
        _load(session, parsed, LoadOptions(actor=actor), report)
    finally:
        savepoint.rollback()
    return report


def start(session: Session, upload: Received, filename: str, actor: User) -> DataImport:
    """Store an upload and its dry run; the caller commits.

    Raises:
        Forbidden: the actor may not import; Invalid: the file is of no known format.
    """
    require(actor, "import_data")
    name = Path(filename or "upload").name[:200] or "upload"
    parsed = parse_upload(session, upload.path, name)
    token, _changed = current_content_version(session)
    report = dry_run(session, parsed, actor)
    if session.get(StoredFile, upload.sha256) is None:
        media = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "csv": "text/csv",
                 "json": "application/json"}[parsed.format]
        session.add(StoredFile(sha256=upload.sha256, size=upload.size, media_type=media,
                               chunk_size=1024 * 1024))
        session.flush()
        default_store().put(session, upload.sha256, upload.path)
    record = DataImport(created_by_id=actor.id, filename=name, format=parsed.format, sha256=upload.sha256,
                        content_token=token, state="refused" if report.problems else "dry_run",
                        summary=_summary(report, parsed), rows=report.rows, row_count=parsed.count)
    session.add(record)
    session.flush()
    return record


def _summary(report: Report, parsed: Parsed) -> dict[str, Any]:
    return {"counts": report.counts, "problems": [vars(p) for p in report.problems[:1000]],
            "total_problems": report.total_problems, "rows_reported": len(report.rows),
            "rows_truncated": len(report.rows) >= MAX_REPORTED_ROWS,
            "rows": parsed.count}


def get(session: Session, import_id: int, actor: User) -> DataImport:
    require(actor, "import_data")
    record = session.get(DataImport, import_id) if 0 < import_id < 2**31 else None
    if record is None:
        raise NotFound(_("There is no import number %(id)s.", id=import_id))
    return record


class StaleImport(Exception):
    """Content changed since the dry run: nothing was applied; run it again (refresh) and look again."""

    def __init__(self, record: DataImport) -> None:
        super().__init__("content changed since the dry run")
        self.record = record


@contextlib.contextmanager
def _stored_copy(session: Session, record: DataImport) -> Iterator[Path]:
    """The import's stored file in a temporary file, read in this transaction."""
    stored = session.get(StoredFile, record.sha256)
    if stored is None:
        raise NotFound(_("The file of import %(id)s is no longer stored.", id=record.id))
    handle, name = tempfile.mkstemp(prefix="tracker-import-")
    path = Path(name)
    try:
        with os.fdopen(handle, "wb") as out:
            for chunk in store_for(stored).chunks(lambda: contextlib.nullcontext(session), record.sha256):
                out.write(chunk)
        yield path
    finally:
        path.unlink(missing_ok=True)


def apply(session: Session, import_id: int, actor: User) -> DataImport:
    """Apply a dry run that is still current, in the caller's transaction.

    Raises:
        Invalid: the import was refused or already applied; StaleImport: content changed since the dry
        run (nothing is applied; the caller runs it again with refresh).
    """
    record = get(session, import_id, actor)
    # The import named in the request is what is at fault (an API client is told which parameter).
    if record.state == "applied":
        message = _("This import was applied already.")
        raise Invalid(message, {"import_id": message})
    if record.state == "refused":
        message = _("This file has problems: correct them and upload it again.")
        raise Invalid(message, {"import_id": message})
    token, _changed = current_content_version(session)
    if token != record.content_token:
        raise StaleImport(record)
    with _stored_copy(session, record) as path:
        parsed = parse_upload(session, path, record.filename)
        report = Report()
        _load(session, parsed, LoadOptions(actor=actor, reason=_import_reason(record), notify=True), report)
    if report.problems:
        raise Invalid(_("This file has problems: correct them and upload it again."))
    record.state, record.applied_at = "applied", utcnow()
    record.summary = _summary(report, parsed)
    return record


def refresh(session: Session, import_id: int, actor: User) -> DataImport:
    """Run a dry run again against the tracker as it is now (after content changed since the last one)."""
    record = get(session, import_id, actor)
    if record.state == "applied":
        return record
    token, _changed = current_content_version(session)
    with _stored_copy(session, record) as path:
        parsed = parse_upload(session, path, record.filename)
        report = dry_run(session, parsed, actor)
    record.summary, record.rows, record.content_token = _summary(report, parsed), report.rows, token
    record.state = "refused" if report.problems else "dry_run"
    return record


def _import_reason(record: DataImport) -> str:
    return f"imported from {record.filename} (import {record.id})"


def json_problems(path: Path) -> str | None:
    """Why a JSON upload cannot be read, before any work is done, else None."""
    try:
        with path.open("rb") as handle:
            for _event in ijson.parse(handle):
                pass
    except (ijson.JSONError, UnicodeDecodeError) as error:
        return str(_("The JSON file cannot be read: %(error)s", error=str(error)[:200]))
    return None



# The template's column labels, in both languages in every copy (a sheet is passed between colleagues who
# read one language or the other).
COLUMN_LABELS: dict[str, tuple[str, str]] = {
    "key": ("Key: the record's identifier (lower case, digits, dashes); a new key makes a new draft",
            "ລະຫັດ: ຕົວລະບຸບັນທຶກ (ຕົວພິມນ້ອຍ, ຕົວເລກ, ຂີດ); ລະຫັດໃໝ່ ສ້າງສະບັບຮ່າງໃໝ່"),
    "country_code": ("Country: ISO code (LA, TH, VN ...) or ASEAN", "ປະເທດ: ລະຫັດ ISO (LA, TH, VN ...) ຫຼື ASEAN"),
    "title_en": ("Title in English", "ຊື່ເປັນພາສາອັງກິດ"),
    "title_lo": ("Title in Lao", "ຊື່ເປັນພາສາລາວ"),
    "title_local": ("Title in the country's own language", "ຊື່ເປັນພາສາຂອງປະເທດນັ້ນ"),
    "reference": ("Official reference number", "ເລກທີອ້າງອີງທາງການ"),
    "instrument": ("Kind of instrument (choose from the list)", "ປະເພດນິຕິກຳ (ເລືອກຈາກລາຍການ)"),
    "legal_status": ("Legal status; a new one adds a dated step", "ສະຖານະທາງກົດໝາຍ; ສະຖານະໃໝ່ ເພີ່ມຂັ້ນຕອນທີ່ມີວັນທີ"),
    "status_since": ("Date of the new status, day first: 15/11/2025, 11/2025 or 2025",
                     "ວັນທີຂອງສະຖານະໃໝ່, ວັນກ່ອນ: 15/11/2025, 11/2025 ຫຼື 2025"),
    "status_note": ("Note on the new status", "ໝາຍເຫດກ່ຽວກັບສະຖານະໃໝ່"),
    "status_source_url": ("Where the new status is reported (URL)", "ແຫຼ່ງທີ່ລາຍງານສະຖານະໃໝ່ (URL)"),
    "valid_from": ("Valid from, day first", "ມີຜົນແຕ່ວັນທີ, ວັນກ່ອນ"),
    "valid_to": ("Valid to, day first", "ມີຜົນເຖິງວັນທີ, ວັນກ່ອນ"),
    "issuer_key": ("Issuing body (key of an organisation)", "ອົງການທີ່ອອກ (ລະຫັດຂອງອົງການ)"),
    "other_bodies": ("Other bodies as key:role, separated by ;", "ອົງການອື່ນ ເປັນ ລະຫັດ:ບົດບາດ, ແຍກດ້ວຍ ;"),
    "topics": ("Topics (keys), separated by ;", "ຫົວຂໍ້ (ລະຫັດ), ແຍກດ້ວຍ ;"),
    "vehicle_classes": ("Vehicle classes, separated by ;", "ປະເພດຍານພາຫະນະ, ແຍກດ້ວຍ ;"),
    "summary_en": ("Summary in English", "ບົດສະຫຼຸບເປັນພາສາອັງກິດ"),
    "summary_lo": ("Summary in Lao", "ບົດສະຫຼຸບເປັນພາສາລາວ"),
    "sources": ("Source URLs, separated by ;", "URL ຂອງແຫຼ່ງຂໍ້ມູນ, ແຍກດ້ວຍ ;"),
    "confidence": ("Confidence: high, medium or low", "ຄວາມໝັ້ນໃຈ: high, medium ຫຼື low"),
}
ORGANISATION_LABELS: dict[str, tuple[str, str]] = {
    "key": ("Key of the organisation (new ones are created)", "ລະຫັດຂອງອົງການ (ອົງການໃໝ່ຈະຖືກສ້າງ)"),
    "name_en": ("Name in English", "ຊື່ເປັນພາສາອັງກິດ"),
    "name_lo": ("Name in Lao", "ຊື່ເປັນພາສາລາວ"),
    "acronym": ("Acronym", "ຕົວຫຍໍ້"),
    "country": ("Country: ISO code, ASEAN, or empty for international bodies", "ປະເທດ: ລະຫັດ ISO, ASEAN ຫຼື ວ່າງ"),
    "kind": ("Kind (choose from the list)", "ປະເພດ (ເລືອກຈາກລາຍການ)"),
    "parent": ("Parent organisation (key)", "ອົງການແມ່ (ລະຫັດ)"),
}


def template_file(session: Session) -> IO[bytes]:
    """The import template: a policies sheet and an organisations sheet with labelled columns and
    drop-down lists, a notes sheet, and the lists themselves; in a temporary file, rewound."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    from tracker.models import Jurisdiction, Topic
    from tracker.models.vocab import (
        BODY_ROLES,
        CONFIDENCE_LEVELS,
        INSTRUMENTS,
        LEGAL_STATUSES,
        ORGANISATION_KINDS,
        VEHICLE_CLASSES,
    )

    lists = {
        "country_code": list(session.scalars(select(Jurisdiction.code).order_by(Jurisdiction.position))),
        "instrument": list(INSTRUMENTS), "legal_status": list(LEGAL_STATUSES),
        "confidence": list(CONFIDENCE_LEVELS), "kind": list(ORGANISATION_KINDS),
        "topics": list(session.scalars(select(Topic.key).order_by(Topic.position))),
        "vehicle_classes": list(VEHICLE_CLASSES), "body_roles": list(BODY_ROLES),
        "issuer_key": list(session.scalars(select(Organisation.key).order_by(Organisation.key))),
    }
    workbook = Workbook()
    policies = workbook.active
    policies.title = "policies"
    organisations = workbook.create_sheet("organisations")
    notes = workbook.create_sheet("notes")
    values = workbook.create_sheet("lists")
    for index, (name, items) in enumerate(lists.items(), start=1):
        letter = get_column_letter(index)
        values.cell(row=1, column=index, value=name).font = Font(bold=True)
        for row, item in enumerate(items, start=2):
            values.cell(row=row, column=index, value=item)
        lists[name] = [f"lists!${letter}$2:${letter}${max(2, len(items) + 1)}"]
    for sheet, labels in ((policies, COLUMN_LABELS), (organisations, ORGANISATION_LABELS)):
        for index, (name, (english, lao)) in enumerate(labels.items(), start=1):
            cell = sheet.cell(row=1, column=index, value=f"{name}\n{english}\n{lao}")
            cell.font = Font(bold=True)
            cell.alignment = Alignment(wrap_text=True, vertical="top")
            sheet.column_dimensions[get_column_letter(index)].width = 28
            source = {"kind": "kind"}.get(name, name) if sheet is organisations else name
            if source in ("country_code", "instrument", "legal_status", "confidence", "kind", "issuer_key") or (
                    sheet is organisations and name == "country"):
                reference = lists["country_code" if name == "country" else source][0]
                validation = DataValidation(type="list", formula1=reference, allow_blank=True,
                                            showErrorMessage=True)
                sheet.add_data_validation(validation)
                validation.add(f"{get_column_letter(index)}2:{get_column_letter(index)}5000")
            # Text cells: a partial date or a code stays as typed.
            for row in range(2, 202):
                sheet.cell(row=row, column=index).number_format = "@"
        sheet.row_dimensions[1].height = 90
        sheet.freeze_panes = "B2"
    notes.column_dimensions["A"].width = 22
    notes.column_dimensions["B"].width = 90
    notes.column_dimensions["C"].width = 90
    notes.append(["column", "English", "ລາວ"])
    for name, (english, lao) in COLUMN_LABELS.items():
        notes.append([name, english, lao])
    notes.append([])
    notes.append(["dates", "Day first, as precise as the source: 15/11/2025, 11/2025 or 2025 (also 2025-11-15).",
                  "ວັນກ່ອນ, ລະອຽດເທົ່າທີ່ແຫຼ່ງຂໍ້ມູນໃຫ້: 15/11/2025, 11/2025 ຫຼື 2025 (ຫຼື 2025-11-15)."])
    notes.append(["rows", "One row per policy. A key already in the tracker updates that record: an empty cell "
                          "keeps what is stored, a cell holding only - clears the field. A new key creates a draft.",
                  "ແຖວໜຶ່ງຕໍ່ນະໂຍບາຍໜຶ່ງ. ລະຫັດທີ່ມີຢູ່ແລ້ວ ປັບປຸງບັນທຶກນັ້ນ: ຫ້ອງວ່າງ ຮັກສາຂໍ້ມູນເດີມ, "
                  "ຫ້ອງທີ່ມີພຽງ - ລຶບຂໍ້ມູນ. ລະຫັດໃໝ່ ສ້າງສະບັບຮ່າງ."])
    notes.append(["upload", "Upload the filled workbook at /imports: a dry run shows every change before anything "
                            "is written.",
                  "ອັບໂຫຼດໄຟລ໌ທີ່ປ້ອນແລ້ວ ທີ່ /imports: ການທົດລອງຈະສະແດງທຸກການປ່ຽນແປງ ກ່ອນບັນທຶກ."])
    for row in notes.iter_rows():
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    out = tempfile.SpooledTemporaryFile(max_size=4 * 1024 * 1024)
    workbook.save(out)
    out.seek(0)
    return out
