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
import difflib
import itertools
import json
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import ijson
from openpyxl.utils.exceptions import InvalidFileException
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from tracker.db import bulk_page_cache
from tracker.documents.storage import Received, default_store, store_for
from tracker.errors import Invalid, NotFound
from tracker.i18n import current_language
from tracker.models import DataImport, Event, Jurisdiction, Organisation, Policy, StoredFile, User
from tracker.models.content_version import current_content_version
from tracker.models.types import PartialDate, PartialDateError, utcnow
from tracker.services.dataset import DatasetFile, DatasetInvalid, LoadOptions, RecordLines, load_dataset
from tracker.services.exports import AS_OF_COLUMNS, POLICY_HEADER
from tracker.services.permissions import has_permission, require
from tracker.services.record_checks import check_key
from tracker.services.records import event_to_record, stored_policy_records
from tracker.translation import gettext as _

# Columns a spreadsheet row may set; the other columns of an export are derived or shown for reading and
# are ignored on import.
EDITABLE_COLUMNS = ("key", "country_code", "title_en", "title_lo", "title_local", "reference", "instrument",
                    "legal_status", "status_since", "status_note", "status_source_url", "valid_from", "valid_to",
                    "issuer_key", "other_bodies", "topics", "vehicle_classes", "summary_en", "summary_lo",
                    "sources", "confidence")
# A list downloaded as of a day has two columns more (the day and the status then), read-only too.
EXPORTED_COLUMNS = frozenset(POLICY_HEADER) | {name for name, _meaning in AS_OF_COLUMNS} | {"conflicts"}
READ_ONLY_COLUMNS = EXPORTED_COLUMNS - set(EDITABLE_COLUMNS)
SPREADSHEET_COLUMNS = EXPORTED_COLUMNS | set(EDITABLE_COLUMNS)
ORGANISATION_COLUMNS = ("key", "name_en", "name_lo", "acronym", "country", "kind", "parent")
# The events sheet: the columns of the release's events table, with the lists a release keeps in tables of
# their own (organisers, funders, partners, topics, sources) as cells separated by ";".
EVENT_COLUMNS = ("key", "country_code", "kind", "name_en", "name_lo", "starts_on", "ends_on", "date_note", "venue",
                 "organisers", "funders", "partners", "topics", "summary_en", "summary_lo", "sources")
EVENT_READ_ONLY_COLUMNS = frozenset({"url", "updated_at"})
# The forum_links sheet: the columns of the release's forum_links table (position is the row's order).
FORUM_LINK_COLUMNS = ("policy_key", "event_key", "role", "evidence_en", "evidence_lo", "source_url", "position")
SHEETS = ("policies", "events", "forum_links", "organisations")
# A cell holding only this clears the field (an empty cell keeps what is stored).
CLEAR = "-"
DATE_COLUMNS = frozenset({"status_since", "valid_from", "valid_to", "starts_on", "ends_on"})
LIST_COLUMNS = frozenset({"other_bodies", "topics", "vehicle_classes", "sources", "organisers", "funders",
                          "partners"})
ORGANISATION_LIST_COLUMNS = ("organisers", "funders", "partners")
# Rows shown with their details in a report kept for the page (the counts always cover every row).
MAX_REPORTED_ROWS = 5000
# Problems kept for the report (all of them are counted).
MAX_PROBLEMS = 1000
# Stored records read at a time to overlay a sheet's rows on.
ROW_CHUNK = 500
_MERGED = re.compile(rb'<mergeCell ref="([A-Z]+\d+(?::[A-Z]+\d+)?)"')


@dataclass(frozen=True)
class RowProblem:
    row: str        # "row 12", "policies[3]"
    column: str
    message: str


class _CellError(Exception):
    """What is wrong with one cell of a row (the row is left out of the import)."""

    def __init__(self, column: str, message: str) -> None:
        super().__init__(message)
        self.column = column
        self.message = message


@dataclass
class Parsed:
    """An upload turned into a dataset file the loader streams, with where each record came from."""

    format: str
    data: Any = None
    rows_of: dict[tuple[str, str], str] = field(default_factory=dict)   # (kind, key) -> "row 12"
    problems: list[RowProblem] = field(default_factory=list)
    dropped_problems: int = 0
    count: int = 0
    # Organisations the rows name that the tracker does not have: the text as typed -> what is known of it.
    unknown_organisations: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Organisations the staff member chose to create with the import (the text as typed -> their record).
    new_organisations: dict[str, dict[str, Any]] = field(default_factory=dict)
    # (kind, key) -> what else the row does: {"create_organisation": key, "name_en": ..., "name_lo": ...}.
    notes_of: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    temporary: Path | None = None

    def problem(self, row: str, column: str, message: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(RowProblem(row, column, message))
        else:
            self.dropped_problems += 1

    @property
    def total_problems(self) -> int:
        return len(self.problems) + self.dropped_problems

    def close(self) -> None:
        if self.temporary is not None:
            shutil.rmtree(self.temporary, ignore_errors=True)
            self.temporary = None


def _cell_text(value: Any, number_format: str | None = None) -> str | None:
    if value is None:
        return None
    if isinstance(value, (dt.datetime, dt.date)):
        day = value.date() if isinstance(value, dt.datetime) else value
        # A date cell shown as "Mar-2024" or "2024" holds the first day: only what is shown is meant.
        shown = re.sub(r'"[^"]*"|\[[^]]*\]', "", (number_format or "").lower())
        if shown and "d" not in shown and "m" in shown:
            return day.isoformat()[:7]
        if shown and "d" not in shown and "m" not in shown and "y" in shown:
            return day.isoformat()[:4]
        return day.isoformat()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def date_message(error: PartialDateError, text: str) -> str:
    """Why a date a person typed cannot be read, in the reader's language, with the shapes that can."""
    value = text[:80]
    if error.reason == "day":
        return str(_("'%(value)s' is not a day of the calendar.", value=value))
    if error.reason == "month":
        return str(_("'%(value)s' names no month of the year.", value=value))
    if error.reason == "year":
        return str(_("'%(value)s' has a year out of range.", value=value))
    if error.reason == "short_year":
        return str(_("'%(value)s' has no year written in full: write 2024, not 24.", value=value))
    return str(_("'%(value)s' is not a date the import reads: write the day first (7/3/2024), or 2024-03-07, "
             "March 2024, ມີນາ 2024 or 2024.", value=value))


def _date_text(text: str | None, column: str) -> str | None:
    if text is None:
        return None
    try:
        return PartialDate.parse_written(text).isoformat()
    except PartialDateError as error:
        raise _CellError(column, date_message(error, text)) from None


def _split(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(";") if part.strip()]


def _closest_country(text: str, countries: dict[str, tuple[str, str | None]]) -> str | None:
    """The code of the jurisdiction most like ``text`` (a mistyped code or a name), if any is close."""
    wanted = text.strip().lower()
    names: dict[str, str] = {}
    for code, (name_en, name_lo) in countries.items():
        names[code.lower()] = code
        names[name_en.lower()] = code
        if name_lo:
            names[name_lo.lower()] = code
    for name, code in names.items():
        if len(wanted) > 3 and (wanted in name or name in wanted):
            return code
    close = difflib.get_close_matches(wanted, list(names), n=1, cutoff=0.5)
    return names[close[0]] if close else None


class _Reader:
    """What turning rows into records needs to know of the tracker, read once per upload."""

    def __init__(self, session: Session, parsed: Parsed, new_organisations: list[dict[str, Any]]) -> None:
        self.session = session
        self.parsed = parsed
        # Told each policy record's stored record as it is made (the loader reads them back instead of
        # reading the same rows again in the same transaction); set by the writer of the records.
        self.note_stored: Callable[[str, dict[str, Any] | None], None] | None = None
        self.countries = {row.code: (row.name_en, row.name_lo) for row in session.execute(
            select(Jurisdiction.code, Jurisdiction.name_en, Jurisdiction.name_lo).order_by(Jurisdiction.position))}
        self.org_keys = {row.id: row.key for row in session.execute(select(Organisation.id, Organisation.key))}
        self.organisations = set(self.org_keys.values())
        self.event_keys = {row.id: row.key for row in session.execute(select(Event.id, Event.key))}
        for choice in new_organisations:
            parsed.new_organisations[choice["typed"]] = choice

    def country(self, column: str, text: str) -> str:
        code = text.strip().upper()
        if code in self.countries:
            return code
        closest = _closest_country(text, self.countries)
        fixed = _("The tracker's countries are fixed (the 11 ASEAN members and ASEAN) and an import cannot add "
                  "one.")
        if closest is not None:
            name_en, name_lo = self.countries[closest]
            name = name_lo if name_lo and current_language() == "lo" else name_en
            raise _CellError(column, _("Unknown country '%(value)s'. %(fixed)s Did you mean %(code)s (%(name)s)?",
                                       value=text[:40], fixed=fixed, code=closest, name=name))
        raise _CellError(column, _("Unknown country '%(value)s'. %(fixed)s Use one of: %(codes)s.",
                                   value=text[:40], fixed=fixed, codes=", ".join(self.countries)))

    def organisation(self, column: str, typed: str, row: str, record: tuple[str, str], country: str | None) -> str:
        """The key of the organisation a cell names: one the tracker or the file has, or one chosen to be
        created with the import (the row then says so)."""
        if typed in self.organisations:
            return typed
        chosen = self.parsed.new_organisations.get(typed)
        if chosen is not None:
            notes = self.parsed.notes_of.setdefault(record, [])
            note = {"create_organisation": chosen["key"], "name_en": chosen.get("name_en"),
                    "name_lo": chosen.get("name_lo")}
            if note not in notes:
                notes.append(note)
            return str(chosen["key"])
        known = self.parsed.unknown_organisations.setdefault(typed, {
            "typed": typed, "row": row, "column": column, "country": country, "rows": 0})
        known["rows"] += 1
        raise _CellError(column, _("Unknown organisation '%(name)s': add it on the organisations sheet, or tick "
                                   "'Create this organisation' in the report.", name=typed[:80]))


def _new_policy(key: str) -> dict[str, Any]:
    return {"key": key, "status_history": [], "relations": [], "forum_links": [], "other_bodies": [], "sources": [],
            "topics": [], "vehicle_classes": [], "conflicts": [], "editorial_state": "draft", "status": "unknown",
            "country": None, "title_en": None, "title_lo": None, "title_local": None, "reference": None,
            "instrument": None, "issuer": None, "valid_from": None, "valid_to": None, "summary_en": None,
            "summary_lo": None, "confidence": None}


def _stored_policies(reader: _Reader, keys: list[str]) -> dict[str, dict[str, Any]]:
    """The stored records of ``keys`` in the dataset format (read as rows: no model is loaded)."""
    return stored_policy_records(reader.session, keys, reader.org_keys, reader.event_keys)


def _policy_records(reader: _Reader, rows: Iterator[tuple[str, dict[str, str | None]]], header: list[str],
                    forum_links: dict[str, list[dict[str, Any]]]) -> Iterator[dict[str, Any]]:
    """Dataset records for spreadsheet rows, a chunk at a time: each overlays the stored record of its key
    (or a new draft); then the stored policies whose forum links alone the file gives."""
    parsed = reader.parsed
    seen: dict[str, str] = {}
    for chunk in _chunks(rows, ROW_CHUNK):
        parsed.count += len(chunk)
        keys = [key for _row, values in chunk if (key := values.get("key"))]
        stored = _stored_policies(reader, keys)
        for row, values in chunk:
            key = values.get("key")
            if not key:
                parsed.problem(row, "key", _("Every row needs a key."))
                continue
            if key in seen:
                parsed.problem(row, "key", _("The key '%(key)s' is also on %(row)s.", key=key, row=seen[key]))
                continue
            seen[key] = row
            parsed.rows_of[("policies", key)] = row
            record = _policy_row(reader, row, key, values, header, stored.get(key))
            if record is not None:
                if key in forum_links:
                    record["forum_links"] = forum_links.pop(key)
                if reader.note_stored is not None:
                    reader.note_stored(key, stored.get(key))
                yield record
    remaining = [key for key in forum_links if key not in seen]
    for start in range(0, len(remaining), ROW_CHUNK):
        stored = _stored_policies(reader, remaining[start:start + ROW_CHUNK])
        for key in remaining[start:start + ROW_CHUNK]:
            links = forum_links[key]
            if key not in stored:
                parsed.problem(links[0]["_row"], "policy_key", _(
                    "There is no policy '%(key)s' in the tracker or on the policies sheet.", key=key[:120]))
                continue
            parsed.rows_of.setdefault(("policies", key), links[0]["_row"])
            if reader.note_stored is not None:
                reader.note_stored(key, stored[key])
            yield stored[key] | {"forum_links": [_link_record(link) for link in links]}


def _link_record(link: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in link.items() if name != "_row"}


def _policy_row(reader: _Reader, row: str, key: str, values: dict[str, str | None], header: list[str],
                base: dict[str, Any] | None) -> dict[str, Any] | None:
    """One row of the policies sheet over its stored record; None when a cell is wrong (named in parsed)."""
    parsed = reader.parsed
    record: dict[str, Any] = dict(base) if base else _new_policy(key)
    problem = False
    for column in header:
        if column in ("key", "legal_status", "status_since", "status_note", "status_source_url") \
                or column in READ_ONLY_COLUMNS:
            continue
        text = values.get(column)
        if text is None:
            continue  # an empty cell keeps what is stored (a sheet may name columns it does not fill)
        try:
            _set(reader, record, column, None if text == CLEAR else text, base, row, ("policies", key))
        except _CellError as error:
            parsed.problem(row, error.column, error.message)
            problem = True
    if base is None and not values.get("legal_status"):
        parsed.problem(row, "legal_status", _("A new policy needs its legal status (choose 'unknown' when it is "
                                              "not known)."))
        problem = True
    if "legal_status" in header:
        status = values.get("legal_status")
        current = (base or {}).get("status")
        if status and status != current:
            try:
                date = _date_text(values.get("status_since"), "status_since")
            except _CellError as error:
                parsed.problem(row, error.column, error.message)
                problem = True
                date = None
            record["status_history"] = [*record["status_history"], {
                "status": status, "date": date, "note": values.get("status_note"), "note_lo": None,
                "source_url": values.get("status_source_url")}]
            record["status"] = status
    return None if problem else record


def _set(reader: _Reader, record: dict[str, Any], column: str, text: str | None, base: dict[str, Any] | None,
         row: str, owner: tuple[str, str]) -> None:
    """Write one spreadsheet cell into a dataset record (a policy's or an event's)."""
    if column == "country_code":
        record["country"] = reader.country(column, text) if text is not None else None
    elif column == "issuer_key":
        record["issuer"] = reader.organisation(column, text, row, owner, record.get("country")) if text else None
    elif column in DATE_COLUMNS:
        record[column] = _date_text(text, column)
    elif column == "other_bodies":
        bodies = []
        for part in _split(text):
            org, _sep, role = part.partition(":")
            bodies.append({"org": reader.organisation(column, org.strip(), row, owner, record.get("country")),
                           "role": role.strip()})
        record["other_bodies"] = bodies
    elif column in ORGANISATION_LIST_COLUMNS:
        record[column] = [reader.organisation(column, part, row, owner, record.get("country"))
                          for part in _split(text)]
    elif column == "sources":
        known = {source["url"]: source for source in (base or {}).get("sources", [])}
        empty = {"url": None, "title": None, "published": None} | ({} if owner[0] == "events" else {"kind": None})
        record["sources"] = [known.get(url, empty | {"url": url}) for url in _split(text)]
    elif column in LIST_COLUMNS:
        record[column] = _split(text)
    else:
        record[column] = text


def _event_records(reader: _Reader, rows: Iterator[tuple[str, dict[str, str | None]]],
                   header: list[str]) -> list[dict[str, Any]]:
    """Dataset records for the rows of the events sheet, each over the stored event of its key (or a new
    draft). Events are few: read whole, like the loader reads them."""
    parsed = reader.parsed
    session = reader.session
    stored = {event.key: event_to_record(event, reader.org_keys) for event in session.scalars(
        select(Event).options(selectinload(Event.organisation_links), selectinload(Event.topic_links),
                              selectinload(Event.sources)))}
    seen: dict[str, str] = {}
    records = []
    for row, values in rows:
        parsed.count += 1
        key = values.get("key")
        if not key:
            parsed.problem(row, "key", _("Every row needs a key."))
            continue
        if key in seen:
            parsed.problem(row, "key", _("The key '%(key)s' is also on %(row)s.", key=key, row=seen[key]))
            continue
        seen[key] = row
        parsed.rows_of[("events", key)] = row
        base = stored.get(key)
        record: dict[str, Any] = dict(base) if base else {
            "key": key, "name_en": None, "name_lo": None, "kind": None, "country": None, "starts_on": None,
            "ends_on": None, "date_note": None, "venue": None, "organisers": [], "funders": [], "partners": [],
            "topics": [], "summary_en": None, "summary_lo": None, "sources": [], "editorial_state": "draft"}
        problem = False
        for column in header:
            text = values.get(column)
            if column == "key" or column in EVENT_READ_ONLY_COLUMNS or text is None:
                continue
            try:
                _set(reader, record, column, None if text == CLEAR else text, base, row, ("events", key))
            except _CellError as error:
                parsed.problem(row, error.column, error.message)
                problem = True
        if not problem:
            records.append(record)
    return records


def _forum_links(reader: _Reader, rows: Iterator[tuple[str, dict[str, str | None]]]) -> dict[str, list[dict[str, Any]]]:
    """The rows of the forum_links sheet by policy key, in the order of their position (else of the sheet)."""
    parsed = reader.parsed
    links: dict[str, list[tuple[float, int, dict[str, Any]]]] = {}
    for index, (row, values) in enumerate(rows):
        parsed.count += 1
        policy, event = values.get("policy_key"), values.get("event_key")
        if not policy or not event:
            parsed.problem(row, "policy_key" if not policy else "event_key",
                           _("A forum link needs a policy_key and an event_key."))
            continue
        position_text = values.get("position")
        try:
            position = float(position_text) if position_text else float(index)
        except ValueError:
            parsed.problem(row, "position", _("'%(value)s' is not a number.", value=str(position_text)[:40]))
            continue
        links.setdefault(policy, []).append((position, index, {
            "_row": row, "event": event, "role": values.get("role"), "evidence": values.get("evidence_en"),
            "evidence_lo": values.get("evidence_lo"), "source_url": values.get("source_url")}))
    return {policy: [link for _p, _i, link in sorted(found, key=lambda item: item[:2])]
            for policy, found in links.items()}


def _organisation_records(reader: _Reader, rows: Iterator[tuple[str, dict[str, str | None]]],
                          header: list[str]) -> list[dict[str, Any]]:
    parsed = reader.parsed
    organisations = []
    for row, values in rows:
        parsed.count += 1
        key = values.get("key")
        if key:
            parsed.rows_of[("organisations", key)] = row
            reader.organisations.add(key)
        organisations.append({name: values.get(name) for name in ORGANISATION_COLUMNS if name in header})
    return organisations


def _rows_from_table(header_cells: list[Any], body: Iterator[tuple[str, list[Any]]], parsed: Parsed,
                     columns: tuple[str, ...] | frozenset[str], sheet: str) -> tuple[list[str], Iterator[tuple[
                         str, dict[str, Any]]]]:
    # A header cell may carry its labels under the name ("title_en\nTitle in English\n..."): the name counts.
    header = [(_cell_text(cell) or "").splitlines()[0].strip() if _cell_text(cell) else "" for cell in header_cells]
    header = ["parent" if name == "parent_key" and sheet == "organisations" else name for name in header]
    while header and not header[-1]:
        header.pop()
    where = _("%(sheet)s, header", sheet=sheet) if sheet else _("header")
    for index, name in enumerate(header):
        if name and name not in columns:
            parsed.problem(where, name[:60], _("Unknown column '%(name)s'. Columns: %(columns)s.", name=name[:60],
                                               columns=", ".join(sorted(columns))))
        elif not name:
            parsed.problem(where, str(index + 1), _("A column has no name."))
    needed = "policy_key" if sheet == "forum_links" else "key"
    if needed not in header:
        parsed.problem(where, needed, _("The sheet needs a '%(name)s' column.", name=needed))

    def rows() -> Iterator[tuple[str, dict[str, Any]]]:
        for row, cells in body:
            values = {name: cells[index] if index < len(cells) else None for index, name in enumerate(header) if name}
            if any(value is not None for value in values.values()):
                yield row, values
    return header, rows()


@contextlib.contextmanager
def _csv_table(path: Path) -> Iterator[tuple[list[Any], Iterator[tuple[str, list[Any]]]]]:
    """The header and the numbered rows of a CSV file, read a row at a time."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])

        def rows() -> Iterator[tuple[str, list[Any]]]:
            for number, cells in enumerate(reader, start=2):
                yield _("row %(number)s", number=number), [_cell_text(cell) for cell in cells]
        yield list(header), rows()


def _merged_ranges(archive: Any, member: str) -> list[str]:
    """The merged ranges of a sheet, read from its XML a megabyte at a time (they follow the cells)."""
    found: list[str] = []
    tail = b""
    with archive.open(member) as stream:
        while chunk := stream.read(1024 * 1024):
            text = tail + chunk
            found.extend(match.decode() for match in _MERGED.findall(text))
            # A tag cut at the chunk's end is searched again with the next chunk (and not counted twice).
            cut = text.rfind(b"<")
            tail = text[cut:] if cut >= 0 and b">" not in text[cut:] else b""
    return found


class _CachedValues:
    """What a sheet's formulas showed when the file was last saved, read only once a formula is met."""

    def __init__(self, path: Path, title: str) -> None:
        self.path, self.title = path, title
        self.rows: Iterator[tuple[Any, ...]] | None = None
        self.number = 1
        self.current: tuple[Any, ...] = ()
        self.workbook: Any = None
        self.handle: IO[bytes] | None = None

    def value(self, number: int, index: int) -> Any:
        if self.rows is None:
            from openpyxl import load_workbook

            self.handle = self.path.open("rb")
            self.workbook = load_workbook(self.handle, read_only=True, data_only=True)
            self.rows = self.workbook[self.title].iter_rows(values_only=True)
            self.number = 0
        while self.number < number:
            self.current = next(self.rows, ())
            self.number += 1
        return self.current[index] if index < len(self.current) else None

    def close(self) -> None:
        if self.workbook is not None:
            self.workbook.close()
        if self.handle is not None:
            self.handle.close()


def _sheet_rows(sheet: Any, path: Path, parsed: Parsed, header: list[Any],
                cached: _CachedValues) -> Iterator[tuple[str, list[Any]]]:
    """The numbered rows of a read-only sheet as cell texts; a formula gives the value it showed when the
    file was last saved (a spreadsheet program saves it), else it is named as a problem."""
    for number, cells in enumerate(sheet.iter_rows(min_row=2), start=2):
        values: list[Any] = []
        for cell in cells:
            if getattr(cell, "data_type", None) == "f":
                shown = cached.value(number, len(values))
                if shown is None:
                    parsed.problem(_("%(sheet)s, row %(number)s", sheet=sheet.title, number=number),
                                   _column_name(header, len(values)), _(
                        "A formula with no saved result (the file was not saved by a spreadsheet program): type "
                        "the value itself."))
                values.append(_cell_text(shown))
            else:
                values.append(_cell_text(cell.value, getattr(cell, "number_format", None)))
        yield _("%(sheet)s, row %(number)s", sheet=sheet.title, number=number), values


def _column_name(header: list[Any], index: int) -> str:
    text = _cell_text(header[index]) if index < len(header) else None
    return text.splitlines()[0].strip() if text else str(index + 1)


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


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


class _DatasetWriter:
    """Records written to temporary files as they are made (a JSON document a line, a file per kind), for
    the loader to read back a record at a time."""

    def __init__(self, parsed: Parsed) -> None:
        self.parsed = parsed
        self.folder = Path(tempfile.mkdtemp(prefix="tracker-import-"))
        parsed.temporary = self.folder
        self.paths: dict[str, Path] = {}
        self.stored_path = self.folder / "policies.stored.jsonl"
        self._stored = self.stored_path.open("w", encoding="utf-8")

    def note_stored(self, key: str, record: dict[str, Any] | None) -> None:
        """Keep a policy record's stored record, in the order of the records, for the loader."""
        self._stored.write(json.dumps([key, record], ensure_ascii=False) + "\n")

    def section(self, kind: str, records: Iterable[dict[str, Any]]) -> None:
        path = self.paths[kind] = self.folder / f"{kind}.jsonl"
        with path.open("w", encoding="utf-8") as out:
            for record in records:
                out.write(json.dumps(record, ensure_ascii=False) + "\n")

    def close(self) -> None:
        self._stored.close()

    def dataset(self) -> RecordLines:
        self.close()
        return RecordLines(self.paths, stored=self.stored_path)


def parse_upload(session: Session, path: Path, filename: str,
                 new_organisations: list[dict[str, Any]] | None = None) -> Parsed:
    """Read an upload into a dataset file the loader streams: spreadsheet and CSV rows become records in a
    temporary file, a row at a time; a JSON dataset is streamed as it is. The caller closes the result.

    ``new_organisations`` are organisations the staff member chose to create with the import (the text
    typed in the rows and the organisation's record): rows naming them are read as naming the new one.

    Raises:
        Invalid: the file cannot be read at all (its bytes, its encoding).
    """
    kind = sniff_format(path, filename)
    parsed = Parsed(kind)
    if kind == "json":
        problem = json_problems(path)
        if problem:
            raise _bad_file(problem)
        parsed.data = DatasetFile(path)
        return parsed
    reader = _Reader(session, parsed, new_organisations or [])
    writer = _DatasetWriter(parsed)
    reader.note_stored = writer.note_stored
    try:
        if kind == "csv":
            _parse_csv(reader, path, writer)
        else:
            _parse_xlsx(reader, path, writer)
    except BaseException:
        writer.close()
        parsed.close()
        raise
    parsed.data = writer.dataset()
    return parsed


def _parse_csv(reader: _Reader, path: Path, writer: _DatasetWriter) -> None:
    try:
        with _csv_table(path) as (header_cells, body):
            header, rows = _rows_from_table(header_cells, body, reader.parsed, SPREADSHEET_COLUMNS, "")
            writer.section("policies", _policy_records(reader, rows, header, {}))
    except UnicodeDecodeError:
        raise _bad_file(_("The CSV file is not in UTF-8; save it as 'CSV UTF-8' and upload it again.")) from None
    except csv.Error as error:
        raise _bad_file(_("The CSV file cannot be read: %(error)s", error=str(error)[:200])) from None


def _parse_xlsx(reader: _Reader, path: Path, writer: _DatasetWriter) -> None:
    from openpyxl import load_workbook

    parsed = reader.parsed
    try:
        # A file object: openpyxl judges a path by its extension, and an upload is spooled without one.
        handle = path.open("rb")
        workbook = load_workbook(handle, read_only=True, data_only=False)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, InvalidFileException) as error:
        raise _bad_file(_("The workbook cannot be read: %(error)s", error=str(error)[:200])) from None
    try:
        sheets = {sheet.title: sheet for sheet in workbook.worksheets if sheet.title in SHEETS}
        if "policies" not in sheets and "organisations" not in sheets and "events" not in sheets:
            parsed.problem(_("sheet"), "policies", _(
                "The workbook has no sheet named 'policies', 'events' or 'organisations': use the template."))
        for title, sheet in sheets.items():
            member = getattr(sheet, "_worksheet_path", None)
            merged = _merged_ranges(workbook._archive, member) if member else []
            if merged:
                parsed.problem(title, _("merged cells"), _(
                    "Merged cells (%(ranges)s): unmerge them and give each cell its own value.",
                    ranges=", ".join(merged[:5])))
        columns = {"policies": SPREADSHEET_COLUMNS, "events": frozenset(EVENT_COLUMNS) | EVENT_READ_ONLY_COLUMNS,
                   "forum_links": frozenset(FORUM_LINK_COLUMNS), "organisations": frozenset(ORGANISATION_COLUMNS)}
        tables = {}
        cached: list[_CachedValues] = []
        # Organisations first (rows elsewhere may name them), then events, forum links and policies.
        for title in ("organisations", "events", "forum_links", "policies"):
            if title not in sheets:
                continue
            sheet = sheets[title]
            header_cells = [cell.value for cell in next(sheet.iter_rows(max_row=1), ())]
            cached.append(_CachedValues(path, title))
            body = _sheet_rows(sheet, path, parsed, header_cells, cached[-1])
            tables[title] = _rows_from_table(header_cells, body, parsed, columns[title], title)
        try:
            if "organisations" in tables:
                header, rows = tables["organisations"]
                writer.section("organisations", _organisation_records(reader, rows, header))
            if "events" in tables:
                header, rows = tables["events"]
                writer.section("events", _event_records(reader, rows, header))
            links: dict[str, list[dict[str, Any]]] = {}
            if "forum_links" in tables:
                links = _forum_links(reader, tables["forum_links"][1])
            if "policies" in tables or links:
                header, rows = tables.get("policies", ([], iter(())))
                writer.section("policies", _policy_records(reader, rows, header, links))
        finally:
            for values in cached:
                values.close()
    except (zipfile.BadZipFile, KeyError, ValueError, InvalidFileException) as error:
        raise _bad_file(_("The workbook cannot be read: %(error)s", error=str(error)[:200])) from None
    finally:
        workbook.close()
        handle.close()


@dataclass
class Report:
    """What an import would do (a dry run) or did."""

    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    total_problems: int = 0

    def add(self, kind: str, key: str, outcome: str, changes: list[tuple[str | None, Any, Any]],
            row: str, notes: list[dict[str, Any]] | None = None) -> None:
        self.counts.setdefault(kind, {}).setdefault(outcome, 0)
        self.counts[kind][outcome] += 1
        if len(self.rows) < MAX_REPORTED_ROWS and outcome != "unchanged":
            entry: dict[str, Any] = {"kind": kind, "key": key, "row": row, "outcome": outcome,
                                     "changes": [{"field": name, "old": _shown(old), "new": _shown(new)}
                                                 for name, old, new in changes]}
            if notes:
                entry["notes"] = notes
            self.rows.append(entry)

    def problem(self, problem: RowProblem) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)
        self.total_problems += 1


# Values longer than this are cut in a report (a report is for reading, not a copy of the data).
MAX_SHOWN_TEXT = 500
MAX_SHOWN_ITEMS = 50


def _shown(value: Any) -> Any:
    """A value of the dataset format as a report keeps it: itself, with long texts and lists cut."""
    if isinstance(value, str):
        return value[:MAX_SHOWN_TEXT]
    if isinstance(value, list):
        return [_shown(item) for item in value[:MAX_SHOWN_ITEMS]]
    if isinstance(value, dict):
        return {name: _shown(item) for name, item in value.items()}
    return value


def _create_organisations(session: Session, parsed: Parsed, actor: User | None, report: Report) -> None:
    """Create the organisations the staff member chose to create with the import (audited, as from the
    organisation form), before the rows that name them are loaded."""
    from tracker.services.organisations import create_organisation

    if not parsed.new_organisations:
        return
    if actor is None:
        raise Invalid(_("Only staff may create organisations."))
    require(actor, "edit")
    for choice in parsed.new_organisations.values():
        data = {name: choice.get(name) for name in ("key", "name_en", "name_lo", "country", "kind")}
        create_organisation(session, data, actor)
        report.add("organisations", choice["key"], "created", [], _("created with the import"))


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
            report.problem(RowProblem(row, "key", _(
                "'%(key)s' is published: only a reviewer may import changes to it.", key=key)))
        elif outcome == "created" and kind in guarded and published and any(
                name == "editorial_state" and new == "published" for name, _old, new in changes):
            report.problem(RowProblem(row, "editorial_state", _(
                "Only a reviewer may import records as published.")))
        report.add(kind, key, outcome, changes, row, parsed.notes_of.get((kind, key)))
    options.on_record = on_record
    try:
        _create_organisations(session, parsed, actor, report)
        load_dataset(session, parsed.data, options=options)
        if report.problems:
            report.rows.clear()
            report.counts.clear()
    except DatasetInvalid as error:
        report.total_problems += error.total - len(error.problems)
        for problem in error.problems:
            kind, _sep, key = problem.record.partition(" ")
            plural = {"policy": "policies", "organisation": "organisations", "event": "events",
                      "topic": "topics"}.get(kind, kind)
            row = parsed.rows_of.get((plural, key.strip("'")), problem.record)
            report.problem(RowProblem(row, problem.field, str(problem.error)))
        report.rows.clear()
        report.counts.clear()


def dry_run(session: Session, parsed: Parsed, actor: User) -> Report:
    """What importing ``parsed`` would do; nothing of it is written (the load runs in a savepoint rolled back).

    Rows the parsing refused are reported with what the loader finds in the others (every problem of a
    file at once); the loader then only checks, it does not write."""
    report = Report(problems=list(parsed.problems), total_problems=parsed.total_problems)
    savepoint = session.begin_nested()
    try:
        _load(session, parsed, LoadOptions(actor=actor, check_only=bool(parsed.problems)), report)
    finally:
        savepoint.rollback()
    if report.problems:
        report.rows.clear()
        report.counts.clear()
    return report


def start(session: Session, upload: Received, filename: str, actor: User) -> DataImport:
    """Store an upload and its dry run; the caller commits.

    Raises:
        Forbidden: the actor may not import; Invalid: the file is of no known format.
    """
    require(actor, "import_data")
    with bulk_page_cache(session):
        return _start(session, upload, filename, actor)


def _start(session: Session, upload: Received, filename: str, actor: User) -> DataImport:
    name = Path(filename or "upload").name[:200] or "upload"
    parsed = parse_upload(session, upload.path, name)
    try:
        token, _changed = current_content_version(session)
        report = dry_run(session, parsed, actor)
    finally:
        parsed.close()
    if session.get(StoredFile, upload.sha256) is None:
        media = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "csv": "text/csv",
                 "json": "application/json"}[parsed.format]
        session.add(StoredFile(sha256=upload.sha256, size=upload.size, media_type=media,
                               chunk_size=1024 * 1024))
        session.flush()
        default_store().put(session, upload.sha256, upload.path)
    record = DataImport(created_by_id=actor.id, filename=name, format=parsed.format, sha256=upload.sha256,
                        content_token=token, state="refused" if report.problems else "dry_run",
                        summary=_summary(report, parsed, []), rows=report.rows, row_count=parsed.count)
    session.add(record)
    session.flush()
    return record


def _summary(report: Report, parsed: Parsed, new_organisations: list[dict[str, Any]]) -> dict[str, Any]:
    return {"counts": report.counts, "problems": [vars(p) for p in report.problems[:MAX_PROBLEMS]],
            "total_problems": max(report.total_problems, len(report.problems)),
            "rows_reported": len(report.rows), "rows_truncated": len(report.rows) >= MAX_REPORTED_ROWS,
            "rows": parsed.count,
            "unknown_organisations": list(parsed.unknown_organisations.values())[:MAX_PROBLEMS],
            "new_organisations": new_organisations}


def new_organisations_of(record: DataImport) -> list[dict[str, Any]]:
    """The organisations chosen to be created with an import."""
    return list((record.summary or {}).get("new_organisations") or [])


def unknown_organisations_of(record: DataImport) -> list[dict[str, Any]]:
    """The organisations an import's rows name that the tracker does not have, as typed."""
    return list((record.summary or {}).get("unknown_organisations") or [])


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


@contextlib.contextmanager
def _parsed_again(session: Session, record: DataImport) -> Iterator[Parsed]:
    with _stored_copy(session, record) as path:
        parsed = parse_upload(session, path, record.filename, new_organisations_of(record))
        try:
            yield parsed
        finally:
            parsed.close()


def apply(session: Session, import_id: int, actor: User) -> DataImport:
    """Apply a dry run that is still current, in the caller's transaction (with the organisations chosen
    to be created).

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
    with bulk_page_cache(session), _parsed_again(session, record) as parsed:
        report = Report()
        if parsed.problems:
            raise Invalid(_("This file has problems: correct them and upload it again."))
        _load(session, parsed, LoadOptions(actor=actor, reason=_import_reason(record), notify=True), report)
    if report.problems:
        raise Invalid(_("This file has problems: correct them and upload it again."))
    record.state, record.applied_at = "applied", utcnow()
    record.summary = _summary(report, parsed, new_organisations_of(record))
    return record


def refresh(session: Session, import_id: int, actor: User) -> DataImport:
    """Run a dry run again against the tracker as it is now (after content changed since the last one)."""
    record = get(session, import_id, actor)
    if record.state == "applied":
        return record
    token, _changed = current_content_version(session)
    with bulk_page_cache(session), _parsed_again(session, record) as parsed:
        report = dry_run(session, parsed, actor)
    record.summary = _summary(report, parsed, new_organisations_of(record))
    record.rows, record.content_token = report.rows, token
    record.state = "refused" if report.problems else "dry_run"
    return record


def choose_organisations(session: Session, import_id: int, choices: list[dict[str, Any]],
                         actor: User) -> DataImport:
    """Create, with the import, the unknown organisations ``choices`` describe (each: ``typed``, the text
    the rows give; ``name_en``, ``name_lo``, ``country``, ``kind``), and run the dry run again with them.
    Nothing is written until the import is applied. An empty list takes every choice back.

    Raises:
        Forbidden: the actor may not create organisations. Invalid: the import was applied already, a
        choice names text no row gives, or its organisation is not valid (each field named as
        ``organisations[i].field``).
    """
    from tracker.services.organisations import check_new_organisation

    record = get(session, import_id, actor)
    if choices:
        require(actor, "edit")
    if record.state == "applied":
        message = _("This import was applied already.")
        raise Invalid(message, {"import_id": message})
    offered = {item["typed"]: item for item in unknown_organisations_of(record)}
    offered |= {item["typed"]: item for item in new_organisations_of(record)}
    taken = set(session.scalars(select(Organisation.key)))
    errors: dict[str, Any] = {}
    chosen: list[dict[str, Any]] = []
    for index, choice in enumerate(choices):
        typed = choice.get("typed")
        if not isinstance(typed, str) or typed not in offered:
            errors[f"organisations[{index}].typed"] = _(
                "No row of this import names an unknown organisation '%(name)s'.", name=str(typed)[:80])
            continue
        data = {name: choice.get(name) for name in ("name_en", "name_lo", "country", "kind")}
        key = typed if check_key(typed) is None and typed not in taken else None
        try:
            found = check_new_organisation(session, data, key, taken)
        except Invalid as error:
            for name, problem in error.errors.items():
                errors[f"organisations[{index}].{name}"] = problem
            continue
        taken.add(found["key"])
        chosen.append({"typed": typed, **found})
    if errors:
        raise Invalid(_("The organisations were not chosen: check the fields marked."), errors)
    summary = dict(record.summary or {})
    summary["new_organisations"] = chosen
    record.summary = summary
    return refresh(session, import_id, actor)


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
