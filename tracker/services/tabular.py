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
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

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
# Styles shared by every cell that has them (openpyxl registers a style each time one is made).
_BOLD = Font(bold=True)
_WRAPPED = Alignment(wrap_text=True, vertical="top")


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
        cell.font = _BOLD
    if wrap:
        cell.alignment = _WRAPPED
    return cell


class WorkbookWriter:
    """A workbook in openpyxl's write-only mode, a sheet and a row at a time (memory does not grow with the
    rows): ``sheet()`` starts a sheet with its bold, frozen header, and the function it returns appends a row
    to it; ``save()`` writes the file once every sheet is done."""

    def __init__(self) -> None:
        self._workbook = Workbook(write_only=True)

    def sheet(self, title: str, header: Sequence[str], *, widths: Sequence[int] = (),
              wrap: bool = False) -> Callable[[Sequence[object]], None]:
        sheet = self._workbook.create_sheet(title=title[:31])
        for index, width in enumerate(widths):
            sheet.column_dimensions[_column_letter(index)].width = width
        sheet.freeze_panes = "A2"
        sheet.append([_xlsx_cell(sheet, name, bold=True) for name in header])

        def append(row: Sequence[object]) -> None:
            sheet.append([_xlsx_cell(sheet, value, wrap=wrap) for value in row])

        return append

    def save(self, target: str | IO[bytes]) -> None:
        self._workbook.save(target)


def xlsx_file(sheets: Iterable[Sheet]) -> IO[bytes]:
    """A workbook written sheet by sheet (see WorkbookWriter), in a temporary file rewound for reading; the
    caller closes it."""
    workbook = WorkbookWriter()
    for spec in sheets:
        append = workbook.sheet(spec.title, spec.header, widths=spec.widths, wrap=spec.wrap)
        for row in spec.rows:
            append(row)
    out = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
    workbook.save(out)
    out.seek(0)
    return out


class BinaryOutput(Protocol):
    """Anything bytes are written to: a file, or a wrapper that hashes them on the way."""

    def write(self, data: bytes, /) -> object: ...


def write_csv(stream: BinaryOutput, header: Sequence[str], rows: Iterable[Sequence[object]]) -> int:
    """Write a CSV file (the conventions above) to a binary stream a batch of rows at a time; the number of
    rows written."""
    count = 0

    def counted() -> Iterator[Sequence[object]]:
        nonlocal count
        for row in rows:
            count += 1
            yield row

    for chunk in csv_chunks(header, counted()):
        stream.write(chunk.encode("utf-8"))
    return count


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
