"""Page counts and text passages of PDF, DOCX, HTML and plain-text files, from text layers, markup or OCR.

Pure functions, run inside the sandbox's child process (tracker.documents.sandbox). The parsers (pypdfium2,
python-docx, lxml, Pillow) are imported where they are used, so that the parent can import the data classes
without loading them.
"""
from __future__ import annotations

import ctypes
import os
import re
import statistics
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from tracker import lao
from tracker.documents import lao_text, ocr
from tracker.documents.formats import DOCX, HTML, PDF, TEXT, BadFile, check_archive

# Passages are paragraphs, or chunks of about this many characters of a longer one.
MAX_PASSAGE = 1500
# A PDF page with fewer characters than this in its text layer (and something drawn) is OCR'd.
MIN_TEXT_CHARACTERS = 30

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class Passage:
    """A paragraph of a document, or a bounded chunk of one, where it is and how it was read."""

    page: int            # 1-based
    heading: str | None  # the nearest heading above (for a heading itself: the one it belongs under)
    text: str
    language: str
    method: str          # "text" (text layer or markup) or "ocr"
    confidence: float | None  # mean Tesseract word confidence (0-100) for OCR'd passages
    toc: bool            # a table of contents, an index, or only a short heading

    def to_json(self) -> dict[str, object]:
        return {"page": self.page, "heading": self.heading, "text": self.text, "language": self.language,
                "method": self.method, "confidence": self.confidence, "toc": self.toc}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Passage:
        confidence = data["confidence"]
        return cls(int(data["page"]), data["heading"], str(data["text"]), str(data["language"]),
                   str(data["method"]), None if confidence is None else float(confidence), bool(data["toc"]))


@dataclass(frozen=True)
class Extracted:
    """What extraction made of a file."""

    pages: int
    pages_ocr: int
    characters: int
    passages: list[Passage]
    failed_pages: list[tuple[int, str]] = field(default_factory=list)  # page, why nothing usable came of it

    def to_json(self) -> dict[str, object]:
        return {"pages": self.pages, "pages_ocr": self.pages_ocr, "characters": self.characters,
                "passages": [passage.to_json() for passage in self.passages],
                "failed_pages": [[page, reason] for page, reason in self.failed_pages]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Extracted:
        return cls(int(data["pages"]), int(data["pages_ocr"]), int(data["characters"]),
                   [Passage.from_json(item) for item in data["passages"]],
                   [(int(page), str(reason)) for page, reason in data["failed_pages"]])


# ---------------------------------------------------------------------------------------------------
# Headings and tables of contents

_NUMBER = r"(?:[0-9]+|[໐-໙]+|[IVXLCDM]+|[A-Z])"
_END = r"(?=$|[\s.:)\-–—])"
HEADING_PATTERNS: tuple[tuple[re.Pattern[str], int], ...] = (
    (re.compile(rf"^(?i:part|title|book|annex|appendix|schedule)\s+(?i:no\.?\s*)?{_NUMBER}{_END}"), 1),
    (re.compile(rf"^(?i:chapter)\s+(?i:no\.?\s*)?{_NUMBER}{_END}"), 2),
    (re.compile(rf"^(?i:section)\s+(?i:no\.?\s*)?{_NUMBER}{_END}"), 3),
    (re.compile(rf"^(?i:article|art\.)\s*(?i:no\.?\s*)?[0-9]+{_END}"), 4),
    (re.compile(rf"^(?:ພາກທີ|ພາກ|ເອກະສານຊ້ອນທ້າຍ)\s*{_NUMBER}{_END}"), 1),
    # OCR reads ໝ as ໜ or ຫນ at times, and adds a tone to ທີ.
    (re.compile(rf"^(?:ໝ|ຫມ|ໜ|ຫນ)ວດ(?:ທີ່?)?\s*{_NUMBER}{_END}"), 2),
    (re.compile(rf"^(?:ສ່ວນທີ|ພາກສ່ວນທີ)\s*{_NUMBER}{_END}"), 3),
    (re.compile(rf"^(?:ມາດຕາ)\s*[0-9໐-໙]+{_END}"), 4),
)
# "1. Scope", "2.3 Charging stations": a short numbered title, when it is a paragraph of its own.
_NUMBERED_TITLE = re.compile(r"^(\d{1,2}(?:\.\d{1,2}){0,3})\.?\s+\S.{0,78}$")
_TOC_TITLES = frozenset({"contents", "table of contents", "index", "ສາລະບານ", "ສາລະບັນ"})
_LEADER = re.compile(r"(?:\.{3,}|…+|(?:\.\s){3,}|_{4,}|·{3,}|-{4,})\s*(?:[0-9]{1,4}|[ivxlc]{1,6}|[໐-໙]{1,4})\s*$",
                     re.IGNORECASE)
# A long leader alone marks an entry too: OCR reads leaders as dots and dashes and may lose the number.
_LONG_LEADER = re.compile(r"\S\s*(?:[.·…][.\-_·… ]*){12,}")
_TRAILING_PAGE = re.compile(r"\S(?:\s{2,}|\t)(?:[0-9]{1,4}|[໐-໙]{1,4})$")
_LEADER_RUN = re.compile(r"\s*(?:[.·…][.\-_·… ]{3,}|_{4,}|-{4,})\s*")
# Longest line taken as a heading of its own; a longer line that starts like one is a provision that
# begins with its article number, and the number becomes the heading of what follows.
MAX_HEADING = 120
# "Contents" heads the entries under it, and no heading after it (any heading ends the contents).
TOC_LEVEL = 99


def heading_level(line: str) -> int | None:
    """The level of a heading line ("Part 1" 1, "Chapter II"/"ໝວດທີ 2" 2, "Section 3" 3, "Article 4"/
    "ມາດຕາ 4" 4), or None."""
    for pattern, level in HEADING_PATTERNS:
        if pattern.match(line):
            return level
    return None


def is_toc_line(line: str) -> bool:
    """Whether a line is an entry of a table of contents: a dot leader (or the like) then a page number, or
    a heading then a page number after a wide gap."""
    line = line.strip()
    return bool(_LEADER.search(line) or _LONG_LEADER.search(line)) or (
        heading_level(line) is not None and bool(_TRAILING_PAGE.search(line)))


def _numbered_title(text: str) -> int | None:
    match = _NUMBERED_TITLE.match(text)
    if match is None or text.rstrip()[-1] in ".;:,!?" or "\n" in text:
        return None
    first = text[match.end(1):].lstrip(". ")[:1]
    if not (first.isupper() or lao_text.LAO_RUN.match(first)):
        return None
    return 5 + match.group(1).count(".")


# ---------------------------------------------------------------------------------------------------
# From lines to passages


@dataclass
class _Line:
    """A line of a page as read: its text, whether layout says a paragraph starts with it, its size (font
    size or line height; 0 when unknown), and the OCR confidences of its words."""

    text: str
    new_paragraph: bool = False
    size: float = 0.0
    confidences: tuple[float, ...] = ()


@dataclass
class _Unit:
    """A heading, a table-of-contents block or a paragraph of one page, before chunking."""

    kind: str  # "heading", "toc" or "body"
    text: str
    page: int
    level: int = 0
    method: str = "text"
    confidences: tuple[float, ...] = ()
    run_in: str | None = None  # a body paragraph that starts with its own heading ("Article 4 The ...")


def _ends_lao(text: str) -> bool:
    return bool(text) and 0x0E80 <= ord(text[-1]) <= 0x0EFF


def join_lines(lines: Sequence[str]) -> str:
    """Lines of one paragraph as one text: a space between lines, none between two Lao ones (a Lao line
    ends between words written without spaces) or after a hyphen that ends a word."""
    text = ""
    for line in lines:
        line = line.strip()
        if not line:
            continue
        if not text:
            text = line
        elif _ends_lao(text) and _ends_lao(line[0]) or (text.endswith("-") and text[-2:-1].isalpha()):
            text += line
        else:
            text += " " + line
    return text


_LIST_ITEM = re.compile(r"^(?:\(?[0-9]{1,3}[.)]|\(?[a-z][.)]|\(?[ivx]{1,4}[.)]|[-•●▪–]|[໐-໙]{1,3}[.)])\s")


def _units(lines: Sequence[_Line], page: int, method: str, body_size: float) -> list[_Unit]:
    """Headings, tables of contents and paragraphs of one page's lines."""
    units: list[_Unit] = []
    body: list[_Line] = []
    toc: list[_Line] = []

    def flush_body() -> None:
        if body:
            text = join_lines([line.text for line in body])
            confidences = tuple(value for line in body for value in line.confidences)
            level = _numbered_title(text) if len(body) == 1 else None
            if level is not None:
                units.append(_Unit("heading", text, page, level, method, confidences))
            elif text:
                level = heading_level(text)
                run_in = text[:MAX_HEADING] if level is not None else None
                units.append(_Unit("body", text, page, 0, method, confidences, run_in=run_in and _heading_part(
                    run_in)))
            body.clear()

    def flush_toc() -> None:
        if toc:
            text = "\n".join(_LEADER_RUN.sub(" … ", line.text).strip() for line in toc)
            units.append(_Unit("toc", text, page, 0, method, tuple(v for line in toc for v in line.confidences)))
            toc.clear()

    for line in lines:
        text = line.text.strip()
        if not text:
            continue
        if is_toc_line(text):
            flush_body()
            toc.append(line)
            continue
        flush_toc()
        level = heading_level(text)
        if level is None and body_size and line.size >= 1.2 * body_size and len(text) <= MAX_HEADING:
            level = 1
        if level is not None and len(text) <= MAX_HEADING:
            flush_body()
            units.append(_Unit("heading", text, page, level, method, line.confidences))
            continue
        if text.casefold() in _TOC_TITLES:
            flush_body()
            units.append(_Unit("heading", text, page, TOC_LEVEL, method, line.confidences))
            continue
        if body and (line.new_paragraph or _LIST_ITEM.match(text)):
            flush_body()
        body.append(line)
    flush_body()
    flush_toc()
    return units


def _heading_part(text: str) -> str:
    """The heading a provision starts with: "Article 4" of "Article 4. The State ..."."""
    for pattern, _ in HEADING_PATTERNS:
        match = pattern.match(text)
        if match:
            return match.group(0).strip()
    return text


_SENTENCE_END = re.compile(r"[.!?。](?:[\"')\]]*)\s+")


def chunk(text: str, limit: int = MAX_PASSAGE) -> list[str]:
    """``text`` cut into pieces of at most ``limit`` characters: at the last sentence end in the second half
    of the piece, else at the last space, else (a long run of Lao, written without spaces) between two Lao
    words; never inside a Lao word."""
    pieces: list[str] = []
    text = text.strip()
    while len(text) > limit:
        window = text[:limit + 1]
        cut = 0
        for match in _SENTENCE_END.finditer(window):
            if match.end() > limit // 2 and match.end() <= limit:
                cut = match.end()
        if not cut:
            space = window.rfind(" ", limit // 2)
            cut = space + 1 if space > 0 else 0
        if not cut:
            cut = _lao_cut(text, limit)
        pieces.append(text[:cut].strip())
        text = text[cut:].strip()
    if text:
        pieces.append(text)
    return pieces


def _lao_cut(text: str, limit: int) -> int:
    """Where to cut ``text`` at or before ``limit``: the last boundary between Lao words there, else
    ``limit``."""
    for match in lao_text.LAO_RUN.finditer(text):
        if match.start() < limit <= match.end():
            position = match.start()
            best = 0
            for word in lao.words(match[0]):
                position += len(word)
                if position > limit:
                    break
                best = position
            if best > limit // 4:
                return best
            break
    return limit


_SCRIPTS = (("lo", range(0x0E80, 0x0F00)), ("th", range(0x0E00, 0x0E80)), ("km", range(0x1780, 0x1800)),
            ("my", range(0x1000, 0x10A0)), ("vi", range(0x1EA0, 0x1F00)))
_SCRIPT_OF_LANGUAGE = {"lo": "lao", "th": "thai", "km": "khmer", "my": "myanmar"}


def passage_language(text: str, document_language: str) -> str:
    """The document's language, unless the passage is clearly in another script: mostly Lao (or Thai,
    Khmer, Myanmar) letters in a document in another language, or only Latin letters in a document in one
    of those scripts ("en" then)."""
    letters = [char for char in text if char.isalpha()]
    if len(letters) < 8:
        return document_language
    for language, block in _SCRIPTS[:4]:
        share = sum(1 for char in letters if ord(char) in block) / len(letters)
        if share >= 0.6 and language != document_language:
            return language
    latin = sum(1 for char in letters if char.isascii() or 0xC0 <= ord(char) <= 0x24F or 0x1E00 <= ord(char) <= 0x1EFF)
    if latin / len(letters) >= 0.9 and document_language.split("-")[0] in _SCRIPT_OF_LANGUAGE:
        return "en"
    return document_language


def _passages(units: Sequence[_Unit], language: str) -> list[Passage]:
    """Passages of units in document order: each body unit chunked and given the heading above it."""
    passages: list[Passage] = []
    stack: list[tuple[int, str]] = []
    for unit in units:
        confidence = round(statistics.fmean(unit.confidences), 1) if unit.method == "ocr" and unit.confidences \
            else (0.0 if unit.method == "ocr" else None)
        if unit.kind == "heading":
            while stack and stack[-1][0] >= unit.level:
                stack.pop()
            parent = stack[-1][1] if stack else None
            passages.append(Passage(unit.page, parent, unit.text, passage_language(unit.text, language),
                                    unit.method, confidence, True))
            stack.append((unit.level, unit.text))
            continue
        if unit.run_in is not None:
            while stack and stack[-1][0] >= 4:
                stack.pop()
            stack.append((4, unit.run_in))
        heading = stack[-1][1] if stack else None
        for piece in chunk(unit.text) if unit.kind == "body" else [unit.text]:
            passages.append(Passage(unit.page, heading, piece, passage_language(piece, language), unit.method,
                                    confidence, unit.kind == "toc"))
    return passages


def _result(pages: int, pages_ocr: int, units: Sequence[_Unit], language: str,
            failed: Sequence[tuple[int, str]]) -> Extracted:
    passages = _passages(units, language)
    return Extracted(pages, pages_ocr, sum(len(passage.text) for passage in passages), passages, list(failed))


# ---------------------------------------------------------------------------------------------------
# PDF


def _open_pdf(path: str | os.PathLike[str]) -> Any:
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    try:
        return pdfium.PdfDocument(os.fspath(path))
    except pdfium.PdfiumError as error:
        code = getattr(error, "err_code", None)
        if code in (pdfium_c.FPDF_ERR_PASSWORD, pdfium_c.FPDF_ERR_SECURITY):
            raise BadFile("encrypted") from error
        if code == pdfium_c.FPDF_ERR_SUCCESS or _opens_without_pages(path):
            raise BadFile("no_pages") from error
        raise BadFile("corrupt", type="pdf") from error


def _opens_without_pages(path: str | os.PathLike[str]) -> bool:
    """Whether PDFium opens the file but finds no page in it (pypdfium2 reports both as one error)."""
    import pypdfium2.raw as pdfium_c

    handle = pdfium_c.FPDF_LoadDocument(os.fsencode(path), None)
    if not handle:
        return False
    try:
        return bool(pdfium_c.FPDF_GetPageCount(handle) == 0)
    finally:
        pdfium_c.FPDF_CloseDocument(handle)


def _check_pages(pages: int, max_pages: int) -> None:
    if pages < 1:
        raise BadFile("no_pages")
    if pages > max_pages:
        raise BadFile("too_many_pages", pages=pages, max_pages=max_pages)


@dataclass(frozen=True)
class _Char:
    char: str
    generated: bool
    left: float
    bottom: float
    right: float
    top: float
    size: float


def _pdf_chars(textpage: Any) -> list[_Char]:
    import pypdfium2.raw as pdfium_c

    left, right, bottom, top = ctypes.c_double(), ctypes.c_double(), ctypes.c_double(), ctypes.c_double()
    chars: list[_Char] = []
    for index in range(pdfium_c.FPDFText_CountChars(textpage)):
        code = pdfium_c.FPDFText_GetUnicode(textpage, index)
        if not code or 0xD800 <= code <= 0xDFFF:
            continue
        generated = bool(pdfium_c.FPDFText_IsGenerated(textpage, index) == 1)
        if not pdfium_c.FPDFText_GetCharBox(textpage, index, ctypes.byref(left), ctypes.byref(right),
                                            ctypes.byref(bottom), ctypes.byref(top)):
            left.value = right.value = bottom.value = top.value = 0.0
        chars.append(_Char(chr(code), generated, left.value, bottom.value, right.value, top.value,
                           float(pdfium_c.FPDFText_GetFontSize(textpage, index))))
    return chars


def _glyph_runs(chars: Sequence[_Char]) -> list[list[_Char]]:
    """Characters grouped by the glyph that drew them: a glyph mapped to several characters (a shaped Lao
    cluster) gives characters whose boxes split its box, each starting where the one before ends."""
    runs: list[list[_Char]] = []
    for char in chars:
        if runs and not char.generated and not runs[-1][-1].generated and char.right > char.left and (
                abs(char.left - runs[-1][-1].right) < 0.05 and abs(char.bottom - runs[-1][-1].bottom) < 0.05
                and abs(char.top - runs[-1][-1].top) < 0.05):
            runs[-1].append(char)
        else:
            runs.append([char])
    return runs


@dataclass(frozen=True)
class _Run:
    """A glyph run's text and box."""

    text: str
    left: float
    right: float
    bottom: float
    top: float
    generated: bool

    @classmethod
    def of(cls, chars: Sequence[_Char]) -> _Run:
        return cls("".join(char.char for char in chars), min(char.left for char in chars),
                   max(char.right for char in chars), min(char.bottom for char in chars),
                   max(char.top for char in chars), chars[0].generated)


# How many glyph runs back a copy may be from its original (a dot leader is a run per dot).
_COPY_REACH = 256


def drop_overprints(chars: Sequence[_Char]) -> list[_Char]:
    """``chars`` without the copies drawn over their own original, and without the spaces PDFium guessed
    twice in a row.

    Chromium (Skia) maps both the base glyph of a shaped Lao cluster and its mark glyph to the cluster's
    characters, so PDFium reads ລັດ as ລັດລັ (the copy may come a word or two later); fake-bold text drawn
    twice reads doubled the same way. A glyph run whose text equals an earlier run's on the same line, and
    whose box lies mostly over that run's box (the copy of a mark sits above or below, within a font size),
    is a copy.
    """
    kept: list[list[_Char]] = []
    summaries: list[_Run] = []
    for run in _glyph_runs(chars):
        summary = _Run.of(run)
        if not summary.generated and not summary.text.isspace() and _is_copy(summary, run[0].size, summaries):
            continue
        if summary.generated and summary.text == " " and summaries and summaries[-1].text.endswith(" "):
            continue
        kept.append(run)
        summaries.append(summary)
    return [char for run in kept for char in run]


def _is_copy(run: _Run, size: float, kept: Sequence[_Run]) -> bool:
    reach = max(size, 1.0)
    for earlier in reversed(kept[-_COPY_REACH:]):
        if earlier.text.endswith(("\r", "\n")):
            return False  # copies are on the line of their original
        if earlier.generated or earlier.text != run.text:
            continue
        overlap = min(run.right, earlier.right) - max(run.left, earlier.left)
        if overlap > 0.5 * max(min(run.right - run.left, earlier.right - earlier.left), 0.01) and (
                run.bottom <= earlier.top + reach and run.top >= earlier.bottom - reach):
            return True
    return False


def _pdf_lines(chars: Sequence[_Char]) -> list[_Line]:
    """Lines of a page's characters (PDFium ends each with CR LF), paragraph starts found from the gaps
    between lines, and the spaces PDFium invents between Lao syllables left out."""
    raw_lines: list[list[_Char]] = [[]]
    for char in chars:
        if char.char in "\r\n":
            if raw_lines[-1]:
                raw_lines.append([])
            continue
        raw_lines[-1].append(char)
    lines: list[tuple[str, float, float, float]] = []  # text, bottom, height, size
    for line_chars in raw_lines:
        text = _line_text(line_chars)
        if not text.strip():
            continue
        solid = [char for char in line_chars if not char.generated and not char.char.isspace()] or line_chars
        bottom = statistics.median(char.bottom for char in solid)
        size = statistics.median(char.size for char in solid)
        height = max(char.top for char in solid) - min(char.bottom for char in solid)
        lines.append((text, bottom, height, size))
    steps = [previous[1] - current[1] for previous, current in zip(lines, lines[1:]) if previous[1] > current[1]]
    step = statistics.median(steps) if steps else 0.0
    out: list[_Line] = []
    for index, (text, bottom, _height, size) in enumerate(lines):
        new_paragraph = index == 0
        if index:
            previous_text, previous_bottom, _, previous_size = lines[index - 1]
            gap = previous_bottom - bottom
            new_paragraph = (gap <= 0 or (step > 0 and gap > 1.3 * step)
                             or abs(size - previous_size) > 0.15 * max(size, previous_size))
        out.append(_Line(text, new_paragraph, size))
    return out


# A gap between glyphs narrower than this share of the font size is no space (a space is about 0.3).
SPACE_GAP = 0.15
_LAO_TAIL = re.compile("[\u0E81-\u0ECD\u0EDC-\u0EDF]+$")


def _line_text(chars: Sequence[_Char]) -> str:
    """A line's characters as text. PDFium guesses spaces from gaps between glyphs, and shaped Lao has gaps
    inside words (and copies of glyphs, dropped before, left gaps of their own): a guessed space between
    two Lao letters is kept only if the gap is at least ``SPACE_GAP`` of the font size and the dictionary
    sees no word across it."""
    text = "".join(char.char for char in chars)
    if not any(char.generated and char.char == " " for char in chars) or not lao_text.LAO_RUN.search(text):
        return text
    out: list[str] = []
    previous_right: float | None = None
    for index, char in enumerate(chars):
        if char.generated and char.char == " " and out and _ends_lao(out[-1]) and index + 1 < len(chars):
            following = chars[index + 1]
            right = lao_text.LAO_RUN.match("".join(c.char for c in chars[index + 1:index + 40]))
            left = _LAO_TAIL.search("".join(out[-40:]))
            if right and left:
                gap = following.left - (previous_right if previous_right is not None else following.left)
                if gap < SPACE_GAP * max(following.size, 1.0) or lao_text.joins_word(left[0], right[0]):
                    continue
        if not char.generated and not char.char.isspace():
            previous_right = char.right
        out.append(char.char)
    return "".join(out)


def _page_has_drawing(page: Any) -> bool:
    import pypdfium2.raw as pdfium_c

    for _ in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE, pdfium_c.FPDF_PAGEOBJ_PATH,
                                      pdfium_c.FPDF_PAGEOBJ_SHADING], max_depth=3):
        return True
    return False


def _ocr_reason(text: str, language: str) -> str | None:
    """Why a page's text layer is not to be trusted (and the page is to be OCR'd), or None."""
    if language.split("-")[0] == "lo" and lao_text.looks_like_legacy_lao(text):
        return "legacy Lao font"
    if lao_text.is_malformed(text):
        return "ill-formed Lao text layer"
    return None


def _ocr_lines(words: Sequence[ocr.OcrWord]) -> list[_Line]:
    """OCR'd lines in the spelling of typed Lao, without noise: lines of fewer than three letters or digits,
    of a few one- or two-letter "words", much lower than the page's lines (specks, marks read apart from
    their letters), or read with a mean confidence under 20."""
    grouped = ocr.group_lines(words)
    typical = statistics.median(line.height for line in grouped) if grouped else 0
    lines: list[_Line] = []
    previous: tuple[int, int] | None = None
    for line in grouped:
        text = lao_text.normalise_ocr(line.text).strip()
        tokens = text.split()
        if sum(1 for char in text if char.isalnum()) < 3 or (len(tokens) <= 3 and max(map(len, tokens)) <= 2):
            continue
        if line.height < 0.5 * typical:
            continue
        confidences = tuple(word.confidence for word in line.words if word.confidence >= 0)
        if confidences and statistics.fmean(confidences) < 20:
            continue
        key = (line.block, line.paragraph)
        lines.append(_Line(text, key != previous, float(line.height), confidences))
        previous = key
    return lines


def _pdf_units(path: str | os.PathLike[str], language: str, max_pages: int, use_ocr: bool, ocr_languages: str,
               progress: ProgressCallback | None) -> tuple[int, int, list[_Unit], list[tuple[int, str]]]:
    document = _open_pdf(path)
    try:
        pages = len(document)
        _check_pages(pages, max_pages)
        units: list[_Unit] = []
        failed: list[tuple[int, str]] = []
        pages_ocr = 0
        page_lines: list[tuple[int, list[_Line], str | None, Any]] = []
        for index in range(pages):
            page = document[index]
            try:
                textpage = page.get_textpage()
                try:
                    lines = _pdf_lines(drop_overprints(_pdf_chars(textpage)))
                finally:
                    textpage.close()
                text = "\n".join(line.text for line in lines)
                reason: str | None = None
                if sum(1 for char in text if not char.isspace()) < MIN_TEXT_CHARACTERS:
                    reason = "no text layer" if _page_has_drawing(page) else None
                else:
                    reason = _ocr_reason(text, language)
                if reason is None:
                    page_lines.append((index + 1, lines, None, None))
                elif not use_ocr:
                    if reason == "legacy Lao font" or not lines:
                        failed.append((index + 1, f"{reason}; OCR is off"))
                    else:
                        page_lines.append((index + 1, lines, None, None))
                else:
                    try:
                        image, dpi = ocr.render_page(page)
                        words = ocr.recognise(image, ocr_languages, dpi)
                        del image
                        ocr_lines = _ocr_lines(words)
                        if ocr_lines:
                            pages_ocr += 1
                            page_lines.append((index + 1, ocr_lines, "ocr", None))
                        elif lines and reason != "legacy Lao font":
                            page_lines.append((index + 1, lines, None, None))
                        else:
                            failed.append((index + 1, f"{reason}; OCR found no text"))
                    except (ocr.OcrFailed, ocr.OcrUnavailable) as error:
                        if lines and reason != "legacy Lao font":
                            page_lines.append((index + 1, lines, None, None))
                        failed.append((index + 1, f"{reason}; {error}"))
            finally:
                page.close()
            if progress is not None:
                progress(index + 1, pages)
        sizes = [line.size for _, lines, method, _ in page_lines if method is None for line in lines
                 if line.size > 0 for _ in range(max(len(line.text), 1))]
        body_size = statistics.median(sizes) if sizes else 0.0
        for number, lines, method, _ in page_lines:
            units.extend(_units(lines, number, method or "text", body_size if method is None else 0.0))
        return pages, pages_ocr, units, failed
    finally:
        document.close()


# ---------------------------------------------------------------------------------------------------
# DOCX

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
_PAGE_BREAK = "\x0c"
_SKIPPED = frozenset({_W + "del", _W + "moveFrom", _W + "instrText", _W + "delText", _MC_FALLBACK,
                      _W + "footnoteReference", _W + "endnoteReference", _W + "rPr", _W + "pPr"})


def _docx_text(element: Any, rendered: bool) -> Iterator[str]:
    """The text of a paragraph (or of anything inside one), page breaks as form feeds: explicit ones, or
    where Word last laid pages out when ``rendered``."""
    tag = element.tag
    if tag in _SKIPPED:
        return
    if tag == _W + "t":
        yield element.text or ""
        return
    if tag == _W + "tab" or tag == _W + "ptab":
        yield "\t"
        return
    if tag == _W + "br":
        kind = element.get(_W + "type")
        if kind == "page":
            if not rendered:
                yield _PAGE_BREAK
        elif kind != "column":
            yield "\n"
        return
    if tag == _W + "cr":
        yield "\n"
        return
    if tag == _W + "noBreakHyphen":
        yield "-"
        return
    if tag == _W + "lastRenderedPageBreak":
        if rendered:
            yield _PAGE_BREAK
        return
    for child in element:
        yield from _docx_text(child, rendered)


def _docx_styles(document: Any) -> dict[str, int]:
    """Paragraph style id -> heading level (Title 0, Heading N N), following base styles."""
    levels: dict[str, int] = {}
    for style in document.styles:
        current, depth = style, 0
        while current is not None and depth < 5:
            name = (current.name or "").strip().casefold()
            if name == "title":
                levels[style.style_id] = 0
                break
            match = re.fullmatch(r"heading\s*([1-9])", name)
            if match:
                levels[style.style_id] = int(match.group(1))
                break
            current, depth = getattr(current, "base_style", None), depth + 1
    return levels


def _docx_paragraph_level(paragraph: Any, styles: dict[str, int]) -> int | None:
    properties = paragraph.find(_W + "pPr")
    if properties is None:
        return None
    outline = properties.find(_W + "outlineLvl")
    if outline is not None and (outline.get(_W + "val") or "").isdigit() and int(outline.get(_W + "val")) < 9:
        return int(outline.get(_W + "val")) + 1
    style = properties.find(_W + "pStyle")
    if style is not None:
        return styles.get(style.get(_W + "val") or "")
    return None


def _docx_breaks_before(paragraph: Any) -> bool:
    properties = paragraph.find(_W + "pPr")
    if properties is None:
        return False
    flag = properties.find(_W + "pageBreakBefore")
    return flag is not None and flag.get(_W + "val", "true") not in ("0", "false", "off")


def _docx_section_break_after(paragraph: Any) -> bool:
    properties = paragraph.find(_W + "pPr")
    section = properties.find(_W + "sectPr") if properties is not None else None
    if section is None:
        return False
    kind = section.find(_W + "type")
    return kind is None or kind.get(_W + "val") in ("nextPage", "oddPage", "evenPage", None)


def _clean_inline(text: str) -> str:
    return re.sub(r"[ \t]+", " ", lao_text.clean(text)).strip()


def _docx_units(path: str | os.PathLike[str], progress: ProgressCallback | None) -> tuple[int, list[_Unit]]:
    document = _open_docx(path)
    body = document.element.body
    rendered = next(body.iter(_W + "lastRenderedPageBreak"), None) is not None
    styles = _docx_styles(document)
    units: list[_Unit] = []
    page = 1

    def paragraph_units(element: Any) -> None:
        nonlocal page
        if not rendered and _docx_breaks_before(element) and units:
            page += 1
        level = _docx_paragraph_level(element, styles)
        pieces = "".join(_docx_text(element, rendered)).split(_PAGE_BREAK)
        for number, piece in enumerate(pieces):
            if number:
                page += 1
            lines = [_clean_inline(line) for line in piece.split("\n")]
            text = join_lines([line for line in lines if line])
            if not text:
                continue
            if level is not None and len(text) <= MAX_HEADING * 2:
                units.append(_Unit("heading", text, page, level))
            else:
                units.extend(_units([_Line(line, new_paragraph=index == 0) for index, line in
                                     enumerate(line for line in lines if line)], page, "text", 0.0))
        if not rendered and _docx_section_break_after(element):
            page += 1

    def cell_text(cell: Any) -> str:
        parts: list[str] = []
        for child in cell:
            if child.tag == _W + "p":
                parts.append(_clean_inline("".join(_docx_text(child, rendered)).replace(_PAGE_BREAK, " ")))
            elif child.tag == _W + "tbl":
                parts.extend(row_text(row) for row in child.iter(_W + "tr"))
        return " ".join(part for part in parts if part)

    def row_text(row: Any) -> str:
        return " | ".join(text for text in (cell_text(cell) for cell in row.iterchildren(_W + "tc")) if text)

    def walk(container: Any) -> None:
        nonlocal page
        for child in container:
            if child.tag == _W + "p":
                paragraph_units(child)
            elif child.tag == _W + "tbl":
                for row in child.iterchildren(_W + "tr"):
                    breaks = sum(1 for mark in row.iter(_W + "lastRenderedPageBreak", _W + "br")
                                 if (mark.tag == _W + "br" and mark.get(_W + "type") == "page") != rendered)
                    text = row_text(row)
                    if text:
                        units.append(_Unit("body", text, page))
                    page += breaks
            elif child.tag == _W + "sdt":
                content = child.find(_W + "sdtContent")
                if content is not None:
                    walk(content)

    walk(body)
    if progress is not None:
        progress(page, page)
    return page, units


def _open_docx(path: str | os.PathLike[str]) -> Any:
    import docx
    from lxml import etree

    check_archive(path)
    try:
        return docx.Document(os.fspath(path))
    except (zipfile.BadZipFile, KeyError, ValueError, etree.XMLSyntaxError, AttributeError) as error:
        raise BadFile("corrupt", type="docx") from error


def _docx_pages(path: str | os.PathLike[str]) -> int:
    """The page count Word saved in docProps/app.xml, or one more than the page breaks if that is more
    (programs other than Word leave a stale count there)."""
    from lxml import etree

    check_archive(path)
    saved = 0
    try:
        with zipfile.ZipFile(path) as archive:
            if "docProps/app.xml" in archive.namelist():
                with archive.open("docProps/app.xml") as file:
                    root = etree.fromstring(file.read(1024 * 1024), etree.XMLParser(resolve_entities=False,
                                                                                   no_network=True))
                for element in root.iter("{*}Pages"):
                    if (element.text or "").strip().isdigit():
                        saved = int(element.text.strip())
    except (zipfile.BadZipFile, KeyError, OSError, etree.XMLSyntaxError) as error:
        raise BadFile("corrupt", type="docx") from error
    pages, _ = _docx_units(path, None)
    return max(pages, saved)


# ---------------------------------------------------------------------------------------------------
# HTML

_HTML_SKIPPED = frozenset({"script", "style", "noscript", "template", "head", "svg", "math", "iframe", "object",
                           "embed", "canvas", "select", "button", "textarea"})
_HTML_BLOCKS = frozenset({"p", "div", "li", "ul", "ol", "dl", "dt", "dd", "table", "thead", "tbody", "tfoot",
                          "caption", "blockquote", "pre", "section", "article", "aside", "header", "footer", "nav",
                          "main", "figure", "figcaption", "address", "form", "fieldset", "legend", "details",
                          "summary", "hr", "body", "html", "center"})
_HEADINGS = {f"h{level}": level for level in range(1, 7)}
_BREAK = "\x0b"


def _html_root(path: str | os.PathLike[str]) -> Any:
    import lxml.html
    from lxml import etree

    with open(path, "rb") as file:
        data = file.read()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = None
    parser = lxml.html.HTMLParser(remove_comments=True, remove_pis=True, no_network=True)
    try:
        if text is not None:
            # A str may not carry an encoding declaration of its own: the bytes were UTF-8, whatever it says.
            text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text)
            return lxml.html.document_fromstring(text, parser=parser)
        return lxml.html.document_fromstring(data, parser=parser)
    except (etree.ParserError, ValueError) as error:
        raise BadFile("corrupt", type="html") from error


def _html_units(path: str | os.PathLike[str]) -> list[_Unit]:
    root = _html_root(path)
    units: list[_Unit] = []
    buffer: list[str] = []

    def flush() -> None:
        text = "".join(buffer)
        buffer.clear()
        lines = [_clean_inline(re.sub(r"\s+", " ", line)) for line in text.split(_BREAK)]
        lines = [line for line in lines if line]
        if lines:
            units.extend(_units([_Line(line, index == 0) for index, line in enumerate(lines)], 1, "text", 0.0))

    def inline_text(element: Any) -> str:
        parts: list[str] = []

        def visit(node: Any) -> None:
            if not isinstance(node.tag, str) or node.tag.lower() in _HTML_SKIPPED or node.get("hidden") is not None:
                return
            if node.tag.lower() == "br":
                parts.append(" ")
            parts.append(node.text or "")
            for child in node:
                visit(child)
                parts.append(child.tail or "")
            if node.tag.lower() in _HTML_BLOCKS or node.tag.lower() in ("td", "th", "tr"):
                parts.append(" ")

        visit(element)
        return _clean_inline(re.sub(r"\s+", " ", "".join(parts)))

    def walk(element: Any) -> None:
        tag = element.tag.lower() if isinstance(element.tag, str) else ""
        if not tag or tag in _HTML_SKIPPED or element.get("hidden") is not None:
            return
        if tag in _HEADINGS:
            flush()
            text = inline_text(element)
            if text:
                units.append(_Unit("heading", text, 1, _HEADINGS[tag]))
            return
        if tag == "tr":
            flush()
            cells = [inline_text(cell) for cell in element if isinstance(cell.tag, str)
                     and cell.tag.lower() in ("td", "th")]
            text = " | ".join(cell for cell in cells if cell)
            if text:
                units.append(_Unit("body", text, 1))
            return
        if tag == "br":
            buffer.append(_BREAK)
        block = tag in _HTML_BLOCKS
        if block:
            flush()
        buffer.append(element.text or "")
        for child in element:
            walk(child)
            buffer.append(child.tail or "")
        if block:
            flush()

    body = root.find("body")
    walk(body if body is not None else root)
    flush()
    return units


# ---------------------------------------------------------------------------------------------------
# Plain text


def _text_pages(path: str | os.PathLike[str]) -> list[str]:
    with open(path, "rb") as file:
        data = file.read()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise BadFile("not_utf8", encoding="unknown") from error
    pages = text.replace("\r\n", "\n").replace("\r", "\n").split("\f")
    while len(pages) > 1 and not pages[-1].strip():
        pages.pop()
    return pages


def _text_units(pages: Sequence[str]) -> list[_Unit]:
    units: list[_Unit] = []
    for number, page in enumerate(pages, start=1):
        units.extend(_units(_mark_paragraphs(page), number, "text", 0.0))
    return units


def _mark_paragraphs(page: str) -> list[_Line]:
    """The lines of a page of plain text, a paragraph starting after each blank line."""
    lines: list[_Line] = []
    for paragraph in re.split(r"\n[ \t]*\n", page):
        first = True
        for line in paragraph.split("\n"):
            line = _clean_inline(line)
            if line:
                lines.append(_Line(line, first))
                first = False
    return lines


# ---------------------------------------------------------------------------------------------------
# The two entry points


def inspect(path: str | os.PathLike[str], media_type: str, *, max_pages: int) -> int:
    """The number of pages of the file: a PDF's, a DOCX's as Word last counted them (else one more than its
    page breaks), a text's form-feed-separated pages, 1 for HTML.

    Raises BadFile: "encrypted", "corrupt", "no_pages", "too_many_pages" (over ``max_pages``), and for DOCX
    "archive_bomb".
    """
    if media_type == PDF:
        document = _open_pdf(path)
        try:
            pages = len(document)
        finally:
            document.close()
    elif media_type == DOCX:
        pages = _docx_pages(path)
    elif media_type == HTML:
        _html_root(path)
        pages = 1
    elif media_type == TEXT:
        pages = len(_text_pages(path))
    else:
        raise BadFile("unknown_type", detected=media_type)
    _check_pages(pages, max_pages)
    return pages


def extract(path: str | os.PathLike[str], media_type: str, language: str, *, max_pages: int, ocr: bool = True,
            ocr_languages: str = "lao+eng", progress: ProgressCallback | None = None) -> Extracted:
    """The passages of the file at ``path`` (of ``media_type``, in ``language``), in document order.

    PDF pages are read from their text layer, or OCR'd (when ``ocr``) if the layer is missing, drawn with a
    legacy Lao font, or ill-formed Lao; DOCX from its paragraphs and tables; HTML from its blocks; text from
    its paragraphs. ``progress(done, total)`` is called after each page. Raises BadFile as ``inspect`` does
    (a PDF over ``max_pages`` is refused, not cut).
    """
    if media_type == PDF:
        pages, pages_ocr, units, failed = _pdf_units(path, language, max_pages, ocr, ocr_languages, progress)
        return _result(pages, pages_ocr, units, language, failed)
    if media_type == DOCX:
        pages, units = _docx_units(path, progress)
        _check_pages(pages, max_pages)
        return _result(pages, 0, units, language, [])
    if media_type == HTML:
        units = _html_units(path)
        if progress is not None:
            progress(1, 1)
        return _result(1, 0, units, language, [])
    if media_type == TEXT:
        text_pages = _text_pages(path)
        _check_pages(len(text_pages), max_pages)
        units = _text_units(text_pages)
        if progress is not None:
            progress(len(text_pages), len(text_pages))
        return _result(len(text_pages), 0, units, language, [])
    raise BadFile("unknown_type", detected=media_type)
