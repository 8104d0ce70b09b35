"""Tables for spreadsheets and scripts: CSV and XLSX written row by row, the same conventions everywhere.

Every CSV the tracker writes is UTF-8 with a byte-order mark (so that Excel reads Lao text as UTF-8;
LibreOffice and scripts take it too), CRLF line ends (RFC 4180) and a header row of stable,
machine-readable column names that never change with the interface language. A text cell that a
spreadsheet would run as a formula gets a leading apostrophe (OWASP's advice on CSV injection), in CSV
and XLSX alike. Dates are written as given: a partial date stays partial ("2023", "2023-07").
"""
from __future__ import annotations

import csv
import io
import re
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font

# A spreadsheet runs a cell that starts with one of these as a formula; tab and carriage return are
# read as the start of a cell of their own by some importers.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"
# Rows written to a CSV buffer before it is handed on: few large writes rather than many small ones.
CSV_BATCH = 200
# Characters XML 1.0 cannot hold, which openpyxl refuses (controls other than tab, newline, return).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# Excel's limit on the text of one cell.
XLSX_CELL_LIMIT = 32767


def neutralise(cell: object) -> object:
    """A text cell a spreadsheet would run as a formula, made inert by a leading apostrophe."""
    if isinstance(cell, str) and cell.startswith(FORMULA_PREFIXES):
        return "'" + cell
    return cell


def _text(cell: object) -> object:
    if cell is None:
        return ""
    return cell


def csv_chunks(header: Sequence[str], rows: Iterable[Sequence[object]]) -> Iterator[str]:
    """A CSV file as text chunks: the byte-order mark and header first, then the rows a batch at a time
    (a download starts at once and never holds the whole table)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write(BOM)
    writer.writerow(header)
    count = 0
    for row in rows:
        writer.writerow([neutralise(_text(cell)) for cell in row])
        count += 1
        if count % CSV_BATCH == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A whole (small) CSV file as one string."""
    return "".join(csv_chunks(header, rows))


@dataclass
class Sheet:
    """One sheet of a workbook: a stable header, its rows, and the widths of its first columns."""

    title: str
    header: Sequence[str]
    rows: Iterable[Sequence[object]]
    widths: Sequence[int] = field(default_factory=tuple)
    wrap: bool = False


def _xlsx_cell(sheet: Any, value: object, *, bold: bool = False, wrap: bool = False) -> Any:
    if isinstance(value, str):
        value = neutralise(_NOT_XML.sub("", value))
        if isinstance(value, str) and len(value) > XLSX_CELL_LIMIT:
            value = value[:XLSX_CELL_LIMIT - 1] + "…"
    cell = WriteOnlyCell(sheet, value=_text(value))
    if isinstance(value, str):
        # Text stays text: "2023-07" is a partial date as given, never turned into a day by Excel.
        cell.data_type = "s"
    if bold:
        cell.font = Font(bold=True)
    if wrap:
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    return cell


def xlsx_file(sheets: Iterable[Sheet]) -> IO[bytes]:
    """A workbook written sheet by sheet in openpyxl's write-only mode (memory does not grow with the
    rows), in a temporary file rewound for reading; the caller closes it."""
    workbook = Workbook(write_only=True)
    for spec in sheets:
        sheet = workbook.create_sheet(title=spec.title[:31])
        for index, width in enumerate(spec.widths):
            sheet.column_dimensions[_column_letter(index)].width = width
        sheet.freeze_panes = "A2"
        sheet.append([_xlsx_cell(sheet, name, bold=True) for name in spec.header])
        for row in spec.rows:
            sheet.append([_xlsx_cell(sheet, value, wrap=spec.wrap) for value in row])
    out = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
    workbook.save(out)
    out.seek(0)
    return out


def _column_letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return str(get_column_letter(index + 1))


def file_chunks(stream: IO[bytes], size: int = 256 * 1024) -> Iterator[bytes]:
    """The bytes of an open file a piece at a time, closing it at the end."""
    try:
        while chunk := stream.read(size):
            yield chunk
    finally:
        stream.close()
