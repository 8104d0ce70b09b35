"""OCR of page images with Tesseract's command line: words, their boxes and confidences, grouped into lines."""
from __future__ import annotations

import io
import math
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tracker.documents.lao_text import PlacedWord, join_line, normalise_spelling
from tracker.documents.processes import die_with_parent

if TYPE_CHECKING:
    from PIL import Image

TESSERACT = "tesseract"
DPI = 300
# A page image larger than this many pixels is rendered at a lower resolution: an A4 page at 300 dpi has
# 8.7 million, A3 17.4; a PDF declaring a page of a square metre does not get gigabytes of bitmap.
MAX_PIXELS = 36_000_000
# Seconds one page may take in Tesseract (about 1.5 s for a dense A4 page here).
PAGE_TIMEOUT = 120.0


class OcrUnavailable(Exception):
    """Tesseract, or one of the languages asked for, is not installed."""


class OcrFailed(Exception):
    """Tesseract failed on a page; the message says how."""


@dataclass(frozen=True)
class OcrWord:
    """A word as Tesseract read it, with its box in pixels and its confidence (0-100)."""

    text: str
    confidence: float
    left: int
    top: int
    width: int
    height: int
    block: int
    paragraph: int
    line: int


@dataclass(frozen=True)
class OcrLine:
    """A line of words, in a paragraph of a block, as Tesseract's layout analysis found them."""

    words: tuple[OcrWord, ...]
    block: int
    paragraph: int
    top: int
    height: int

    @property
    def text(self) -> str:
        """The words in the spelling of typed Lao, spaced as on the page (see ``lao_text.join_line``)."""
        return join_line([PlacedWord(normalise_spelling(word.text), word.left, word.width) for word in self.words],
                         self.height)


def tesseract_environment() -> dict[str, str]:
    """The environment for Tesseract: the process's own, OpenMP kept to one thread.

    With its default of a thread per core, Tesseract 5 spends most of a page spinning: 4.9 s of wall time
    against 1.2 s single-threaded on this two-core machine, the same text read.
    """
    return {**os.environ, "OMP_THREAD_LIMIT": "1"}


def available_languages() -> set[str]:
    """The languages Tesseract has trained data for (empty when Tesseract is not installed)."""
    if shutil.which(TESSERACT) is None:
        return set()
    result = subprocess.run([TESSERACT, "--list-langs"], capture_output=True, text=True, timeout=30,
                            env=tesseract_environment(), stdin=subprocess.DEVNULL, check=False)
    return {line.strip() for line in result.stdout.splitlines()[1:] if line.strip()}


def render_scale(width_points: float, height_points: float, dpi: int = DPI, max_pixels: int = MAX_PIXELS) -> float:
    """The scale (pixels per PDF point) to render a page of this size at ``dpi``, lowered so that the image
    has at most ``max_pixels``."""
    scale = dpi / 72
    area = max(width_points, 1.0) * max(height_points, 1.0) * scale * scale
    if area > max_pixels:
        scale *= math.sqrt(max_pixels / area)
    return scale


def render_page(page: Any, dpi: int = DPI, max_pixels: int = MAX_PIXELS) -> tuple[Image.Image, int]:
    """A pypdfium2 page as a grayscale PIL image at ``dpi`` (less for huge pages), and the resolution used."""
    scale = render_scale(page.get_width(), page.get_height(), dpi, max_pixels)
    bitmap = page.render(scale=scale, grayscale=True, draw_annots=False)
    image: Image.Image = bitmap.to_pil()
    # The bitmap's buffer belongs to PDFium: copy before it is freed.
    return image.copy(), max(round(scale * 72), 1)


def parse_tsv(tsv: str) -> list[OcrWord]:
    """The words of Tesseract's TSV output (level-5 rows with text), in reading order."""
    words: list[OcrWord] = []
    lines = tsv.splitlines()
    for row in lines[1:]:
        fields = row.split("\t")
        if len(fields) < 12 or fields[0] != "5":
            continue
        text = fields[11].strip()
        if not text:
            continue
        try:
            block, paragraph, line = int(fields[2]), int(fields[3]), int(fields[4])
            left, top, width, height = (int(value) for value in fields[6:10])
            confidence = float(fields[10])
        except ValueError:
            continue
        words.append(OcrWord(text, confidence, left, top, width, height, block, paragraph, line))
    return words


def group_lines(words: Sequence[OcrWord]) -> list[OcrLine]:
    """Words grouped into Tesseract's lines, in order."""
    lines: list[OcrLine] = []
    current: list[OcrWord] = []
    for word in words:
        if current and (word.block, word.paragraph, word.line) != (current[0].block, current[0].paragraph,
                                                                   current[0].line):
            lines.append(_line(current))
            current = []
        current.append(word)
    if current:
        lines.append(_line(current))
    return lines


def _line(words: Sequence[OcrWord]) -> OcrLine:
    top = min(word.top for word in words)
    bottom = max(word.top + word.height for word in words)
    return OcrLine(tuple(words), words[0].block, words[0].paragraph, top, bottom - top)


def recognise(image: Image.Image, languages: str = "lao+eng", dpi: int = DPI,
              timeout: float = PAGE_TIMEOUT) -> list[OcrWord]:
    """The words Tesseract reads on ``image`` (automatic page segmentation, LSTM engine).

    The image goes to Tesseract's standard input as uncompressed PGM (no temporary file, no PNG
    compression) and the TSV comes back on its standard output. Raises OcrUnavailable when Tesseract or a
    language is missing, OcrFailed when it fails or takes longer than ``timeout`` seconds.
    """
    if shutil.which(TESSERACT) is None:
        raise OcrUnavailable("tesseract is not installed")
    buffer = io.BytesIO()
    image.convert("L").save(buffer, "PPM")
    command = [TESSERACT, "stdin", "stdout", "-l", languages, "--dpi", str(dpi), "--psm", "3", "--oem", "1", "tsv"]
    try:
        # Run inside the single-threaded parsing subprocess, where a preexec_fn is safe.
        result = subprocess.run(command, input=buffer.getvalue(), capture_output=True, timeout=timeout,
                                env=tesseract_environment(), check=False, preexec_fn=die_with_parent)
    except subprocess.TimeoutExpired as error:
        raise OcrFailed(f"tesseract took more than {timeout:.0f} s") from error
    errors = result.stderr.decode("utf-8", "replace")
    if result.returncode != 0:
        if "Failed loading language" in errors or "Error opening data file" in errors:
            raise OcrUnavailable(f"tesseract has no trained data for {languages}")
        if "bad_alloc" in errors or "Cannot allocate memory" in errors:
            raise OcrFailed("tesseract ran out of memory (memory limit)")
        reason = f"signal {-result.returncode}" if result.returncode < 0 else f"exit status {result.returncode}"
        raise OcrFailed(f"tesseract failed ({reason}): {errors.strip()[-300:]}")
    return parse_tsv(result.stdout.decode("utf-8", "replace"))
