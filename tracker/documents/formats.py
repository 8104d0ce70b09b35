"""What an uploaded file is, judged by its bytes, and the static checks it must pass before it is parsed."""
from __future__ import annotations

import os
import re
import zipfile
from pathlib import PurePath

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
HTML = "text/html"
TEXT = "text/plain"

# Supported media type -> short name (used in messages, URLs and the sandbox's command line).
MEDIA_TYPES: dict[str, str] = {PDF: "pdf", DOCX: "docx", HTML: "html", TEXT: "txt"}
# Supported media type -> the extension of its download name.
EXTENSIONS: dict[str, str] = {PDF: ".pdf", DOCX: ".docx", HTML: ".html", TEXT: ".txt"}
BY_SHORT_NAME: dict[str, str] = {short: media_type for media_type, short in MEDIA_TYPES.items()}

# Extensions a name may end with, and what they claim: a supported media type, or the short name of a
# known kind of file that is not supported (a name claiming one of those for a supported content is a
# mismatch too: a PDF named scan.png).
_NAMED: dict[str, str] = {
    ".pdf": PDF, ".docx": DOCX, ".html": HTML, ".htm": HTML, ".xhtml": HTML, ".txt": TEXT, ".text": TEXT,
    ".png": "image", ".jpg": "image", ".jpeg": "image", ".gif": "image", ".tif": "image", ".tiff": "image",
    ".webp": "image", ".bmp": "image", ".doc": "doc", ".rtf": "rtf", ".odt": "odt", ".zip": "zip",
    ".xlsx": "xlsx", ".xls": "xls", ".pptx": "pptx", ".ppt": "ppt", ".exe": "executable", ".7z": "7z",
    ".rar": "rar", ".gz": "gzip",
}

_HEAD_BYTES = 8192
_BOMS = (b"\xef\xbb\xbf",)
_HTML_START = re.compile(
    rb"^(?:\s|<!--.*?-->|<\?xml[^>]*\?>)*<(?:!doctype\s+html|html[\s>]|head[\s>]|body[\s>])", re.IGNORECASE | re.DOTALL)
# C0 controls other than tab, line feed, form feed and carriage return, and DEL.
_CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0B, *range(0x0E, 0x20), 0x7F])
# Plain text may hold a stray control character (an old editor's ^Z or ESC), not many.
_MAX_CONTROL_SHARE = 0.001


class BadFile(Exception):
    """What is wrong with an uploaded file: a ``code`` and ``params`` for a translated message.

    Codes:
      ``empty``          the file has no bytes.
      ``unknown_type``   the bytes are none of PDF, DOCX, HTML or UTF-8 text; ``detected`` says what they
                         look like: "image", "doc" (an OLE2 file: Word 97-2003, or a password-protected
                         Office file), "zip" (a zip that is not a Word document), "odt", "rtf", "binary".
      ``binary_text``    named as plain text (.txt) but the bytes are binary.
      ``not_utf8``       text, but not in UTF-8; ``encoding`` is a guess ("UTF-16", "legacy 8-bit").
      ``name_mismatch``  the name's ``extension`` claims another known type than the content (``detected``,
                         a short name): a PNG or a DOCX named x.pdf. Names without a known extension pass.
      ``corrupt``        the file has the signature of ``type`` ("pdf", "docx") but cannot be read.
      ``encrypted``      a password is needed to open the PDF.
      ``no_pages``       a PDF without a single page.
      ``too_many_pages`` more than ``max_pages`` pages (``pages``).
      ``archive_bomb``   a DOCX whose zip would inflate out of proportion: ``reason`` is "members" (more than
                         ``limit`` members), "size" (``size`` bytes declared, over ``limit``), "ratio" (member
                         ``member`` inflates ``ratio`` times, over ``limit``), "nested" (a zip in the zip:
                         ``member``) or "overlap" (members share their compressed bytes).
    """

    def __init__(self, code: str, **params: object) -> None:
        super().__init__(code, params)
        self.code = code
        self.params: dict[str, object] = params

    def __str__(self) -> str:
        details = ", ".join(f"{key}={value!r}" for key, value in sorted(self.params.items()))
        return f"{self.code} ({details})" if details else self.code

    def to_json(self) -> dict[str, object]:
        """The error as JSON-ready data (what the sandbox sends from its child)."""
        return {"code": self.code, "params": self.params}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> BadFile:
        params = data.get("params")
        return cls(str(data["code"]), **(params if isinstance(params, dict) else {}))


def _head(path: str | os.PathLike[str], size: int = _HEAD_BYTES) -> bytes:
    with open(path, "rb") as file:
        return file.read(size)


def _is_docx(path: str | os.PathLike[str]) -> bool:
    """Whether the zip at ``path`` is a Word document: its central directory (read without inflating
    anything) has [Content_Types].xml and word/document.xml."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
        raise BadFile("corrupt", type="zip") from error
    return "[Content_Types].xml" in names and "word/document.xml" in names


def _text_verdict(data: bytes) -> str | None:
    """None when ``data`` is plain UTF-8 text; else "binary" or the guessed encoding of text that is not
    UTF-8."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "UTF-16"
    if b"\x00" in data:
        return "binary"
    controls = len(data) - len(data.translate(None, _CONTROL_BYTES))
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        # No control characters, and (nearly) all printable ASCII or upper-half bytes: an 8-bit code page
        # (Latin-1, Windows-1252, a legacy Lao font's); random bytes are one eighth C0 controls.
        printable = len(data.translate(None, bytes(range(0x20, 0x7F)) + b"\t\n\r\x0c" + bytes(range(0xA0, 0x100))))
        return "legacy 8-bit" if not controls and printable <= 0.05 * len(data) else "binary"
    return "binary" if controls > _MAX_CONTROL_SHARE * len(data) else None


def sniff(path: str | os.PathLike[str], filename: str | None = None) -> str:
    """The media type of the file at ``path``, from its bytes.

    PDF: ``%PDF-`` in the first kilobyte. DOCX: a zip whose central directory lists word/document.xml and
    [Content_Types].xml. HTML: a doctype, ``<html``, ``<head`` or ``<body`` first, after a byte-order
    mark, white space, comments and an XML declaration. Text: valid UTF-8 (a BOM allowed) without NUL and
    with almost no other control characters. Raises BadFile "empty", "unknown_type", "not_utf8", "corrupt"
    (a zip that cannot be read), or "binary_text" when ``filename``, the uploaded name, says text.
    """
    head = _head(path)
    if not head:
        raise BadFile("empty")
    if b"%PDF-" in head[:1024]:
        return PDF
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        if _is_docx(path):
            return DOCX
        raise BadFile("unknown_type", detected="odt" if b"opendocument" in head[:200] else "zip")
    detected = _binary_kind(head)
    if detected is None:
        body = head[3:] if head.startswith(_BOMS) else head
        if _HTML_START.match(body[:2048]):
            return HTML
        with open(path, "rb") as file:
            verdict = _text_verdict(file.read())
        if verdict is None:
            return TEXT
        if verdict != "binary":
            raise BadFile("not_utf8", encoding=verdict)
        detected = "binary"
    if filename and _NAMED.get(PurePath(filename).suffix.lower()) == TEXT:
        raise BadFile("binary_text")
    raise BadFile("unknown_type", detected=detected)


def _binary_kind(head: bytes) -> str | None:
    """What a file is by its magic number, when it is a known kind that is not supported."""
    if head.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"II*\x00", b"MM\x00*",
                        b"BM")) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        return "image"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "doc"
    if head.startswith(b"{\\rtf"):
        return "rtf"
    if head.startswith((b"\x7fELF", b"MZ", b"\x1f\x8b", b"7z\xbc\xaf\x27\x1c", b"Rar!")):
        return "binary"
    return None


def check_name(filename: str, media_type: str) -> None:
    """Raise BadFile("name_mismatch") when ``filename``'s extension claims a known type other than
    ``media_type`` (the sniffed one). Names without an extension, or with one not known here, pass."""
    claimed = _NAMED.get(PurePath(filename).suffix.lower())
    if claimed is not None and claimed != media_type:
        raise BadFile("name_mismatch", extension=PurePath(filename).suffix.lower(),
                      detected=MEDIA_TYPES.get(media_type, media_type))


# A Word document has a few dozen members; one with images and embeddings a few hundred.
MAX_MEMBERS = 1000
# Text, styles and images inflated: far more than any policy text needs.
MAX_UNCOMPRESSED = 256 * 1024 * 1024
# XML compresses 10-30 times, repeated markup up to ~150; zip bombs compress zeros ~1000 times.
MAX_RATIO = 300
# Members smaller than this are not judged by their ratio (a tiny member's ratio says nothing).
_RATIO_FLOOR = 1024 * 1024
_NESTED = (".zip", ".jar", ".gz", ".7z", ".rar")


def check_archive(path: str | os.PathLike[str], *, max_members: int = MAX_MEMBERS,
                  max_uncompressed: int = MAX_UNCOMPRESSED, max_ratio: float = MAX_RATIO) -> None:
    """Refuse a DOCX whose zip would inflate out of proportion, from its central directory alone.

    Raises BadFile("archive_bomb") for too many members, a declared total size over ``max_uncompressed``,
    a member over 1 MiB inflating more than ``max_ratio`` times, a zip inside the zip (Office embeddings,
    word/embeddings/*.xlsx and the like, are not opened by extraction and are allowed), or members whose
    compressed bytes overlap (one kernel of data counted by many entries). Declared sizes can lie: the
    sandbox's memory limit is what holds then.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
        raise BadFile("corrupt", type="docx") from error
    if len(members) > max_members:
        raise BadFile("archive_bomb", reason="members", members=len(members), limit=max_members)
    total = sum(member.file_size for member in members)
    if total > max_uncompressed:
        raise BadFile("archive_bomb", reason="size", size=total, limit=max_uncompressed)
    for member in members:
        if member.file_size >= _RATIO_FLOOR:
            ratio = member.file_size / max(member.compress_size, 1)
            if ratio > max_ratio:
                raise BadFile("archive_bomb", reason="ratio", member=member.filename, ratio=round(ratio),
                              limit=max_ratio)
        if member.filename.lower().endswith(_NESTED):
            raise BadFile("archive_bomb", reason="nested", member=member.filename)
    spans = sorted((member.header_offset, member.header_offset + member.compress_size) for member in members)
    for (start, end), (next_start, _) in zip(spans, spans[1:]):
        if next_start < end or next_start == start:
            raise BadFile("archive_bomb", reason="overlap")
