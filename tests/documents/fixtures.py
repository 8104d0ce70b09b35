"""Attached-document fixtures made on the spot: PDFs printed by Debian's Chromium, scans, legacy-font and bad files.

Every generator takes a directory, writes one file with a fixed name there and returns its path; a file that is
already there is returned as it is, so a session (or a benchmark) makes each fixture once. Generators that need
Chromium take an optional Playwright ``browser``; without one they start Debian's chromium for the call.
"""
from __future__ import annotations

import contextlib
import html
import io
import os
import shutil
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]


# ---------------------------------------------------------------------------------------------------
# The texts: a decree on electric vehicles, in Lao and in English, page by page


@dataclass(frozen=True)
class Block:
    """One block of a fixture page: ``kind`` is "title", "line" (centred line), "chapter", "article",
    "toc-heading", "toc" (an entry: text and page number) or "p"."""

    kind: str
    text: str
    page_number: int | None = None


LAO_PAGES: tuple[tuple[Block, ...], ...] = (
    (
        Block("line", "ສາທາລະນະລັດ ປະຊາທິປະໄຕ ປະຊາຊົນລາວ"),
        Block("line", "ສັນຕິພາບ ເອກະລາດ ປະຊາທິປະໄຕ ເອກະພາບ ວັດທະນະຖາວອນ"),
        Block("title", "ດຳລັດ ວ່າດ້ວຍ ລົດໄຟຟ້າ"),
        Block("toc-heading", "ສາລະບານ"),
        Block("toc", "ໝວດທີ 1 ບົດບັນຍັດທົ່ວໄປ", 2),
        Block("toc", "ມາດຕາ 1 ຈຸດປະສົງ", 2),
        Block("toc", "ມາດຕາ 2 ການອະທິບາຍຄຳສັບ", 2),
        Block("toc", "ໝວດທີ 2 ການສົ່ງເສີມລົດໄຟຟ້າ", 3),
        Block("toc", "ມາດຕາ 3 ອາກອນ ແລະ ພາສີ", 3),
        Block("toc", "ມາດຕາ 4 ສະຖານີສາກ", 3),
        Block("toc", "ໝວດທີ 3 ບົດບັນຍັດສຸດທ້າຍ", 4),
        Block("toc", "ມາດຕາ 5 ແບັດເຕີຣີ", 4),
        Block("toc", "ມາດຕາ 6 ຜົນສັກສິດ", 4),
    ),
    (
        Block("chapter", "ໝວດທີ 1 ບົດບັນຍັດທົ່ວໄປ"),
        Block("article", "ມາດຕາ 1 ຈຸດປະສົງ"),
        Block("p", "ດຳລັດສະບັບນີ້ ກຳນົດຫຼັກການ, ລະບຽບການ ແລະ ມາດຕະການ ກ່ຽວກັບການຄຸ້ມຄອງ ແລະ ການສົ່ງເສີມການນຳໃຊ້"
                   "ລົດໄຟຟ້າ ໃນ ສາທາລະນະລັດ ປະຊາທິປະໄຕ ປະຊາຊົນລາວ ເພື່ອຫຼຸດຜ່ອນການນຳເຂົ້ານ້ຳມັນເຊື້ອໄຟ, "
                   "ປົກປັກຮັກສາສິ່ງແວດລ້ອມ ແລະ ປະກອບສ່ວນເຂົ້າໃນການພັດທະນາເສດຖະກິດ-ສັງຄົມ ຂອງຊາດ."),
        Block("article", "ມາດຕາ 2 ການອະທິບາຍຄຳສັບ"),
        Block("p", "ຄຳສັບທີ່ນຳໃຊ້ໃນດຳລັດສະບັບນີ້ ມີຄວາມໝາຍ ດັ່ງນີ້:"),
        Block("p", "1. ລົດໄຟຟ້າ ໝາຍເຖິງ ຍານພາຫະນະທີ່ໃຊ້ມໍເຕີໄຟຟ້າ ແລະ ພະລັງງານຈາກແບັດເຕີຣີ ໃນການຂັບເຄື່ອນ;"),
        Block("p", "2. ສະຖານີສາກ ໝາຍເຖິງ ສະຖານທີ່ ທີ່ມີເຄື່ອງສາກໄຟຟ້າ ສຳລັບສາກແບັດເຕີຣີຂອງລົດໄຟຟ້າ;"),
        Block("p", "3. ແບັດເຕີຣີ ໝາຍເຖິງ ອຸປະກອນເກັບຮັກສາພະລັງງານໄຟຟ້າ ທີ່ຕິດຕັ້ງຢູ່ໃນລົດໄຟຟ້າ."),
    ),
    (
        Block("chapter", "ໝວດທີ 2 ການສົ່ງເສີມລົດໄຟຟ້າ"),
        Block("article", "ມາດຕາ 3 ອາກອນ ແລະ ພາສີ"),
        Block("p", "ລັດ ຍົກເວັ້ນ ຫຼື ຫຼຸດຜ່ອນອາກອນ ແລະ ພາສີ ສຳລັບການນຳເຂົ້າລົດໄຟຟ້າ, ແບັດເຕີຣີ ແລະ ອຸປະກອນ"
                   "ສະຖານີສາກ ຕາມກົດໝາຍວ່າດ້ວຍການສົ່ງເສີມການລົງທຶນ. ກະຊວງການເງິນ ເປັນຜູ້ກຳນົດອັດຕາອາກອນ "
                   "ໃນແຕ່ລະໄລຍະ."),
        Block("article", "ມາດຕາ 4 ສະຖານີສາກ"),
        Block("p", "ຜູ້ລົງທຶນ ທີ່ມີຈຸດປະສົງສ້າງສະຖານີສາກ ຕ້ອງຂໍອະນຸຍາດນຳ ກະຊວງພະລັງງານ ແລະ ບໍ່ແຮ່ ແລະ "
                   "ປະຕິບັດຕາມມາດຕະຖານຄວາມປອດໄພ ທີ່ກຳນົດໄວ້. ລັດວິສາຫະກິດໄຟຟ້າລາວ ສະໜອງໄຟຟ້າໃຫ້ສະຖານີສາກ "
                   "ຕາມລາຄາໄຟຟ້າ ທີ່ລັດຖະບານ ກຳນົດ."),
    ),
    (
        Block("chapter", "ໝວດທີ 3 ບົດບັນຍັດສຸດທ້າຍ"),
        Block("article", "ມາດຕາ 5 ແບັດເຕີຣີ"),
        Block("p", "ແບັດເຕີຣີ ທີ່ໝົດອາຍຸການນຳໃຊ້ ຕ້ອງໄດ້ຮັບການເກັບກຳ ແລະ ນຳມາໃຊ້ຄືນ ຕາມລະບຽບການຄຸ້ມຄອງ"
                   "ສິ່ງເສດເຫຼືອ ເພື່ອບໍ່ໃຫ້ສົ່ງຜົນກະທົບຕໍ່ສິ່ງແວດລ້ອມ."),
        Block("article", "ມາດຕາ 6 ຜົນສັກສິດ"),
        Block("p", "ດຳລັດສະບັບນີ້ ມີຜົນສັກສິດ ນັບແຕ່ວັນລົງລາຍເຊັນ ເປັນຕົ້ນໄປ."),
        Block("line", "ນາຍົກລັດຖະມົນຕີ"),
    ),
)

# Words of the Lao decree (as typed: composed AM) that OCR of its scan must give back.
LAO_KNOWN_WORDS: tuple[str, ...] = (
    "ລົດໄຟຟ້າ", "ສະຖານີສາກ", "ອາກອນ", "ແບັດເຕີຣີ", "ພາສີ", "ສິ່ງແວດລ້ອມ", "ພະລັງງານ", "ມາດຕະຖານ",
    "ຄວາມປອດໄພ", "ຜູ້ລົງທຶນ", "ລັດຖະບານ", "ດຳລັດ", "ນ້ຳມັນເຊື້ອໄຟ", "ການນຳເຂົ້າ", "ເຄື່ອງສາກ", "ກະຊວງ",
    "ມາດຕາ", "ຈຸດປະສົງ", "ຍານພາຫະນະ", "ມໍເຕີ", "ນາຍົກລັດຖະມົນຕີ", "ການລົງທຶນ", "ອຸປະກອນ", "ລາຄາ",
)

ENGLISH_PAGES: tuple[tuple[Block, ...], ...] = (
    (
        Block("line", "Lao People's Democratic Republic"),
        Block("line", "Peace Independence Democracy Unity Prosperity"),
        Block("title", "Decree on Electric Vehicles"),
        Block("toc-heading", "Contents"),
        Block("toc", "Chapter 1 General Provisions", 2),
        Block("toc", "Article 1 Objective", 2),
        Block("toc", "Article 2 Definitions", 2),
        Block("toc", "Chapter 2 Promotion of Electric Vehicles", 3),
        Block("toc", "Article 3 Taxes and Duties", 3),
        Block("toc", "Article 4 Charging Stations", 3),
        Block("toc", "Chapter 3 Final Provisions", 4),
        Block("toc", "Article 5 Batteries", 4),
        Block("toc", "Article 6 Entry into Force", 4),
    ),
    (
        Block("chapter", "Chapter 1 General Provisions"),
        Block("article", "Article 1 Objective"),
        Block("p", "This Decree sets out the principles, rules and measures for the management and promotion of "
                   "electric vehicles in the Lao People's Democratic Republic, in order to reduce fuel imports, "
                   "protect the environment and contribute to the socio-economic development of the nation."),
        Block("article", "Article 2 Definitions"),
        Block("p", "The terms used in this Decree have the following meanings:"),
        Block("p", "1. Electric vehicle means a vehicle driven by an electric motor using energy stored in a "
                   "battery;"),
        Block("p", "2. Charging station means a place equipped with chargers for the batteries of electric "
                   "vehicles;"),
        Block("p", "3. Battery means a device storing electrical energy installed in an electric vehicle."),
    ),
    (
        Block("chapter", "Chapter 2 Promotion of Electric Vehicles"),
        Block("article", "Article 3 Taxes and Duties"),
        Block("p", "The State exempts or reduces taxes and import duties on electric vehicles, batteries and "
                   "charging equipment in accordance with the Law on Investment Promotion. The Ministry of Finance "
                   "sets the rates from time to time."),
        Block("article", "Article 4 Charging Stations"),
        Block("p", "Charging stations shall be registered with the Ministry of Energy and Mines and shall meet the "
                   "safety standards in force. Electricite du Laos supplies electricity to charging stations at "
                   "the tariff set by the Government."),
    ),
    (
        Block("chapter", "Chapter 3 Final Provisions"),
        Block("article", "Article 5 Batteries"),
        Block("p", "Batteries at the end of their service life shall be collected and recycled under the rules on "
                   "waste management, so that they do not harm the environment."),
        Block("article", "Article 6 Entry into Force"),
        Block("p", "This Decree enters into force on the date of its signature."),
        Block("line", "Prime Minister"),
    ),
)

# A sentence of the English decree that extraction must give back verbatim.
ENGLISH_PHRASE = "Charging stations shall be registered with the Ministry of Energy and Mines"

_STYLE = """
@page { size: A4; margin: 20mm; }
body { font-family: %s; font-size: 12pt; line-height: 1.6; color: #000; background: #fff; }
.page { break-after: page; }
.page:last-child { break-after: auto; }
.line { text-align: center; margin: 0 0 4pt; }
h1 { font-size: 18pt; text-align: center; margin: 16pt 0; }
h2 { font-size: 15pt; margin: 14pt 0 8pt; }
h3 { font-size: 13pt; margin: 12pt 0 6pt; }
p { margin: 0 0 10pt; }
.toc { display: flex; margin: 0 0 4pt; }
.toc .label { white-space: nowrap; }
.toc .leader { flex: 1; overflow: hidden; white-space: nowrap; }
"""
LAO_FONTS = '"Phetsarath OT", "Noto Sans Lao", sans-serif'
ENGLISH_FONTS = '"DejaVu Serif", serif'


def page_html(blocks: Sequence[Block]) -> str:
    """The HTML of one fixture page's blocks."""
    parts: list[str] = []
    for block in blocks:
        text = html.escape(block.text)
        if block.kind == "title":
            parts.append(f"<h1>{text}</h1>")
        elif block.kind in ("chapter", "toc-heading"):
            parts.append(f"<h2>{text}</h2>")
        elif block.kind == "article":
            parts.append(f"<h3>{text}</h3>")
        elif block.kind == "line":
            parts.append(f'<p class="line">{text}</p>')
        elif block.kind == "toc":
            parts.append(f'<div class="toc"><span class="label">{text}</span><span class="leader"> {"." * 120}</span>'
                         f"<span>{block.page_number}</span></div>")
        else:
            parts.append(f"<p>{text}</p>")
    return "\n".join(parts)


def document_html(pages: Sequence[Sequence[Block]], language: str, fonts: str) -> str:
    """A whole fixture document as HTML, one ``.page`` section per printed page."""
    body = "\n".join(f'<section class="page">\n{page_html(blocks)}\n</section>' for blocks in pages)
    return (f'<!DOCTYPE html>\n<html lang="{language}"><head><meta charset="utf-8"><title>Decree</title>'
            f"<style>{_STYLE % fonts}</style></head>\n<body>\n{body}\n</body></html>\n")


# ---------------------------------------------------------------------------------------------------
# Chromium


@contextlib.contextmanager
def chromium(browser: Any = None) -> Iterator[Any]:
    """``browser`` when given, else Debian's chromium started by Playwright for the block."""
    if browser is not None:
        yield browser
        return
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        raise RuntimeError("Debian's chromium is not installed (apt-get install chromium fonts-noto-core fonts-lao)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def _cached(path: Path, make: Callable[[Path], None]) -> Path:
    """``path``, made by ``make`` (into a temporary name, then renamed) unless it exists."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        make(partial)
        os.replace(partial, path)
    return path


def _print_pdf(markup: str, target: Path, browser: Any) -> None:
    with chromium(browser) as instance:
        tab = instance.new_page()
        try:
            tab.set_content(markup, wait_until="load")
            tab.evaluate("document.fonts.ready.then(() => true)")
            tab.pdf(path=str(target), format="A4", print_background=True, prefer_css_page_size=True)
        finally:
            tab.close()


def _screenshots(markup: str, browser: Any, *, width: int = 794, scale: float = 300 / 96) -> list[bytes]:
    """PNG images of each ``.page`` section of ``markup`` as an A4 sheet (``width`` CSS pixels = 210 mm),
    at ``scale`` device pixels per CSS pixel (300 dpi by default)."""
    height = round(width * 297 / 210)
    images: list[bytes] = []
    with chromium(browser) as instance:
        context = instance.new_context(viewport={"width": width, "height": height}, device_scale_factor=scale)
        try:
            tab = context.new_page()
            sheet = (f".page {{ box-sizing: border-box; width: {width}px; height: {height}px; padding: 76px;"
                     " overflow: hidden; } body { margin: 0; }</style>")
            tab.set_content(markup.replace("</style>", sheet), wait_until="load")
            tab.evaluate("document.fonts.ready.then(() => true)")
            for section in tab.locator("section.page").all():
                images.append(section.screenshot(type="png"))
        finally:
            context.close()
    return images


# ---------------------------------------------------------------------------------------------------
# PDFs with a text layer, printed by Chromium


def lao_html() -> str:
    """The Lao decree as an HTML document."""
    return document_html(LAO_PAGES, "lo", LAO_FONTS)


def english_html() -> str:
    """The English decree as an HTML document."""
    return document_html(ENGLISH_PAGES, "en", ENGLISH_FONTS)


def lao_pdf(directory: Path, browser: Any = None) -> Path:
    """The Lao decree printed by Chromium: four A4 pages (contents, then chapters 1-3), a Unicode text layer."""
    return _cached(directory / "lao-decree.pdf", lambda target: _print_pdf(lao_html(), target, browser))


def english_pdf(directory: Path, browser: Any = None) -> Path:
    """The English decree printed by Chromium: four A4 pages, like ``lao_pdf``."""
    return _cached(directory / "english-decree.pdf", lambda target: _print_pdf(english_html(), target, browser))


def html_file(directory: Path) -> Path:
    """The English decree as an HTML file (with a script and a style that extraction must leave out)."""
    markup = english_html().replace("</head>", "<script>var hidden = 'script text never extracted';</script>"
                                               "<noscript>noscript text never extracted</noscript></head>")
    return _cached(directory / "decree.html", lambda target: target.write_text(markup, encoding="utf-8"))


def text_file(directory: Path) -> Path:
    """The English decree as plain UTF-8 text with a BOM: blank lines between paragraphs, form feeds
    between pages."""
    pages = ["\n\n".join(block.text if block.kind != "toc" else f"{block.text} .......... {block.page_number}"
                         for block in blocks) for blocks in ENGLISH_PAGES]
    content = "\ufeff" + "\n\f".join(pages) + "\n"
    return _cached(directory / "decree.txt", lambda target: target.write_text(content, encoding="utf-8"))


# ---------------------------------------------------------------------------------------------------
# Scans: pages as images only


def _images_pdf(images: Sequence[bytes], target: Path, dpi: float = 300) -> None:
    from PIL import Image

    pages = [Image.open(io.BytesIO(data)).convert("L") for data in images]
    pages[0].save(target, "PDF", resolution=dpi, save_all=True, append_images=pages[1:])


def lao_page_images(directory: Path, browser: Any = None) -> list[Path]:
    """The Lao decree's pages as 300 dpi PNG images (A4), screenshots by Chromium."""
    paths = [directory / f"lao-decree-page-{number}.png" for number in range(1, len(LAO_PAGES) + 1)]
    if not all(path.exists() for path in paths):
        directory.mkdir(parents=True, exist_ok=True)
        for path, data in zip(paths, _screenshots(lao_html(), browser)):
            path.write_bytes(data)
    return paths


def scanned_lao_pdf(directory: Path, browser: Any = None) -> Path:
    """The Lao decree as an image-only PDF (300 dpi grayscale pages, no text layer), as a scanner makes."""
    images = lao_page_images(directory, browser)
    return _cached(directory / "lao-decree-scanned.pdf",
                   lambda target: _images_pdf([path.read_bytes() for path in images], target))


# ---------------------------------------------------------------------------------------------------
# PDFs written by hand: a legacy-font text layer, thousands of pages, damage


class PdfWriter:
    """The smallest PDF writer that serves the fixtures: numbered objects, a cross-reference table."""

    def __init__(self) -> None:
        self.objects: list[bytes] = []

    def add(self, body: bytes) -> int:
        """Add an object; its number."""
        self.objects.append(body)
        return len(self.objects)

    def reserve(self) -> int:
        return self.add(b"null")

    def set(self, number: int, body: bytes) -> None:
        self.objects[number - 1] = body

    def stream(self, dictionary: bytes, data: bytes) -> int:
        return self.add(b"<< " + dictionary + b" /Length %d >>\nstream\n" % len(data) + data + b"\nendstream")

    def write(self, target: Path, root: int) -> None:
        out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
        offsets = []
        for number, body in enumerate(self.objects, start=1):
            offsets.append(len(out))
            out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
        xref = len(out)
        out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(self.objects) + 1)
        out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
        out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(self.objects) + 1, root, xref)
        target.write_bytes(bytes(out))


A4 = (595.28, 841.89)


def _pages_pdf(target: Path, contents: Sequence[tuple[bytes, bytes]]) -> None:
    """A PDF of A4 pages, each (content stream, resources dictionary)."""
    writer = PdfWriter()
    pages = writer.reserve()
    kids = []
    for content, resources in contents:
        stream = writer.stream(b"/Filter /FlateDecode", zlib.compress(content))
        kids.append(writer.add(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %.2f %.2f] /Resources %s "
                               b"/Contents %d 0 R >>" % (pages, A4[0], A4[1], resources, stream)))
    writer.set(pages, b"<< /Type /Pages /Count %d /Kids [%s] >>"
               % (len(kids), b" ".join(b"%d 0 R" % kid for kid in kids)))
    root = writer.add(b"<< /Type /Catalog /Pages %d 0 R >>" % pages)
    writer.write(target, root)


def legacy_encoding(text: str) -> bytes:
    """``text`` as a legacy 8-bit Lao font encodes it: each Lao character at a Latin-1 code point
    (U+0E81.. -> 0xA1..), everything else as it is."""
    out = bytearray()
    for char in text:
        code = ord(char)
        if 0x0E81 <= code <= 0x0EDD:
            out.append(0xA1 + code - 0x0E81)
        elif code < 0x80:
            out.append(code)
    return bytes(out)


def _pdf_string(data: bytes) -> bytes:
    return b"(" + data.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def legacy_font_lao_pdf(directory: Path, browser: Any = None) -> Path:
    """The Lao decree as a legacy-font PDF does it: each page an image of the Lao text, under an invisible
    (render mode 3) text layer of Latin-1 code points standing for Lao letters, as pre-Unicode Lao fonts
    leave (``ÊÒ·Ò...``)."""
    from PIL import Image

    images = lao_page_images(directory, browser)

    def make(target: Path) -> None:
        writer = PdfWriter()
        pages = writer.reserve()
        font = writer.add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
        kids = []
        for path, blocks in zip(images, LAO_PAGES):
            picture = Image.open(path).convert("L")
            image = writer.stream(b"/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
                                  b"/BitsPerComponent 8 /Filter /FlateDecode" % picture.size,
                                  zlib.compress(picture.tobytes(), 6))
            lines = [legacy_encoding(block.text) for block in blocks]
            text = b" ".join(_pdf_string(line) + b" Tj T*" for line in lines)
            content = (b"q %.2f 0 0 %.2f 0 0 cm /Im0 Do Q BT 3 Tr /F1 12 Tf 16 TL 56 780 Td " % A4 + text + b" ET")
            stream = writer.stream(b"/Filter /FlateDecode", zlib.compress(content))
            kids.append(writer.add(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %.2f %.2f] /Resources << /Font "
                                   b"<< /F1 %d 0 R >> /XObject << /Im0 %d 0 R >> >> /Contents %d 0 R >>"
                                   % (pages, A4[0], A4[1], font, image, stream)))
        writer.set(pages, b"<< /Type /Pages /Count %d /Kids [%s] >>"
                   % (len(kids), b" ".join(b"%d 0 R" % kid for kid in kids)))
        writer.write(target, writer.add(b"<< /Type /Catalog /Pages %d 0 R >>" % pages))

    return _cached(directory / "lao-decree-legacy-font.pdf", make)


def many_pages_pdf(directory: Path, pages: int = 3000, text: bool = False) -> Path:
    """A PDF of ``pages`` A4 pages: blank, or (``text``) each with a few lines in Helvetica, "Page N" and an
    article about charging stations."""
    font = b"<< /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >> >> >>"

    def content(number: int) -> bytes:
        if not text:
            return b""
        lines = [f"Article {number} Charging stations", f"Page {number}: operators of charging stations shall "
                 "report the energy supplied", "to electric vehicles every month to the Ministry of Energy and Mines."]
        body = b" ".join(_pdf_string(line.encode("latin-1")) + b" Tj T*" for line in lines)
        return b"BT /F1 12 Tf 16 TL 56 780 Td " + body + b" ET"

    name = f"{'text' if text else 'blank'}-{pages}-pages.pdf"
    return _cached(directory / name, lambda target: _pages_pdf(
        target, [(content(number), font if text else b"<< >>") for number in range(1, pages + 1)]))


def encrypted_pdf(directory: Path, browser: Any = None) -> Path:
    """The English decree, encrypted with a user password (pypdf, RC4 128-bit)."""
    from pypdf import PdfReader
    from pypdf import PdfWriter as PypdfWriter

    source = english_pdf(directory, browser)

    def make(target: Path) -> None:
        writer = PypdfWriter(clone_from=PdfReader(source))
        writer.encrypt(user_password="secret", owner_password="owner-secret")
        with open(target, "wb") as file:
            writer.write(file)

    return _cached(directory / "encrypted.pdf", make)


def corrupt_pdf(directory: Path) -> Path:
    """A PDF header, then bytes that are no PDF at all (deterministic noise)."""
    import random

    noise = random.Random(11).randbytes(8192)
    return _cached(directory / "corrupt.pdf", lambda target: target.write_bytes(b"%PDF-1.7\n" + noise))


def truncated_pdf(directory: Path, browser: Any = None) -> Path:
    """The first tenth of the English decree's bytes."""
    data = english_pdf(directory, browser).read_bytes()
    return _cached(directory / "truncated.pdf", lambda target: target.write_bytes(data[:len(data) // 10]))


# ---------------------------------------------------------------------------------------------------
# Word documents


def _docx(target: Path, pages: Sequence[Sequence[Block]], table: Sequence[Sequence[str]]) -> None:
    import docx

    document = docx.Document()
    for number, blocks in enumerate(pages):
        if number:
            document.add_page_break()
        for block in blocks:
            if block.kind == "title":
                document.add_heading(block.text, level=0)
            elif block.kind in ("chapter", "toc-heading"):
                document.add_heading(block.text, level=1)
            elif block.kind == "article":
                document.add_heading(block.text, level=2)
            elif block.kind == "toc":
                document.add_paragraph(f"{block.text}\t{'.' * 20}\t{block.page_number}")
            else:
                document.add_paragraph(block.text)
        if number == 2:
            grid = document.add_table(rows=len(table), cols=len(table[0]))
            for row, values in zip(grid.rows, table):
                for cell, value in zip(row.cells, values):
                    cell.text = value
    document.save(str(target))


LAO_TABLE = (("ປະເພດ", "ອັດຕາອາກອນ"), ("ລົດໄຟຟ້າ", "0%"), ("ແບັດເຕີຣີ", "5%"))
ENGLISH_TABLE = (("Category", "Tax rate"), ("Electric vehicle", "0%"), ("Battery", "5%"))


def lao_docx(directory: Path) -> Path:
    """The Lao decree written with python-docx: Title and Heading 1/2 styles, a page break before each of
    pages 2-4, a table of tax rates on page 3."""
    return _cached(directory / "lao-decree.docx", lambda target: _docx(target, LAO_PAGES, LAO_TABLE))


def english_docx(directory: Path) -> Path:
    """The English decree written with python-docx, laid out like ``lao_docx``."""
    return _cached(directory / "english-decree.docx", lambda target: _docx(target, ENGLISH_PAGES, ENGLISH_TABLE))


def docx_bomb(directory: Path, megabytes: int = 400, name: str = "bomb.docx") -> Path:
    """A Word document whose zip holds, beside a real document, a member of ``megabytes`` MiB of zeros that
    deflates to a few hundred kilobytes."""
    source = english_docx(directory)

    def make(target: Path) -> None:
        with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as bomb:
            for member in original.infolist():
                bomb.writestr(member, original.read(member))
            chunk = bytes(1024 * 1024)
            with bomb.open("word/media/zeros.bin", "w", force_zip64=True) as member_file:
                for _ in range(megabytes):
                    member_file.write(chunk)

    return _cached(directory / name, make)


# ---------------------------------------------------------------------------------------------------
# Other bad files


def _png_bytes() -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("L", (200, 80), 255)
    ImageDraw.Draw(image).text((10, 30), "not a PDF", fill=0)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def png_named_pdf(directory: Path) -> Path:
    """A PNG image named scan.pdf."""
    return _cached(directory / "scan.pdf", lambda target: target.write_bytes(_png_bytes()))


def docx_named_pdf(directory: Path) -> Path:
    """The English decree's DOCX named decree.pdf."""
    data = english_docx(directory).read_bytes()
    return _cached(directory / "docx-named.pdf", lambda target: target.write_bytes(data))


def empty_file(directory: Path) -> Path:
    """Zero bytes, named empty.pdf."""
    return _cached(directory / "empty.pdf", lambda target: target.write_bytes(b""))


def binary_named_txt(directory: Path) -> Path:
    """Deterministic random bytes named notes.txt."""
    import random

    data = random.Random(5).randbytes(4096)
    return _cached(directory / "notes.txt", lambda target: target.write_bytes(data))


def legacy_text_file(directory: Path) -> Path:
    """Lao text in a legacy 8-bit encoding (not UTF-8), named decree.txt."""
    data = legacy_encoding("\n".join(block.text for block in LAO_PAGES[1]))
    return _cached(directory / "legacy.txt", lambda target: target.write_bytes(data))


def all_fixtures(directory: Path, browser: Any = None) -> dict[str, Path]:
    """Every fixture (those that need Chromium made with one browser), by the name of its generator."""
    made: dict[str, Path] = {}
    with chromium(browser) as instance:
        for maker in (lao_pdf, english_pdf, scanned_lao_pdf, legacy_font_lao_pdf, encrypted_pdf, truncated_pdf):
            made[maker.__name__] = maker(directory, instance)
    for simple in (html_file, text_file, lao_docx, english_docx, corrupt_pdf, docx_bomb, png_named_pdf,
                   docx_named_pdf, empty_file, binary_named_txt, legacy_text_file, many_pages_pdf):
        made[simple.__name__] = simple(directory)
    return made
