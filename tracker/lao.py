"""Lao text, one home for it: the two spellings of AM and of the HO ligatures, Lao digits, word and syllable
segmentation (laonlp, loaded on first use and kept offline), line-break marks that keep words whole, shortening
that never cuts a word, and ordering as a Lao dictionary orders words. Used by search, templates, i18n and the
services alike.
"""
from __future__ import annotations

import functools
import os
import re
import tempfile

from markupsafe import Markup, escape

# Lao keyboards often type sara am (ຳ) as nikhahit + sara aa (ໍ + າ), and the ligatures HO-NO and HO-MO
# as two letters; the segmenter's dictionary knows only the composed forms, and a search must find
# either spelling.
DECOMPOSED_AM, AM = "\u0ECD\u0EB2", "\u0EB3"
SPELLINGS = ((DECOMPOSED_AM, AM), ("\u0EAB\u0E99", "\u0EDC"), ("\u0EAB\u0EA1", "\u0EDD"))
DIGITS = {chr(0x0ED0 + i): str(i) for i in range(10)}
LAO_RUN = re.compile(r"[\u0E81-\u0EDF]+")
_LAO_LETTER_OR_DIGIT = re.compile(r"[\u0E81-\u0EAE\u0EB0-\u0EBD\u0EC0-\u0EC4\u0EDC-\u0EDF0-9]")
# Vowels written before the consonant they follow in speech (ເ ແ ໂ ໄ ໃ).
_LEADING_VOWEL = re.compile("([\u0EC0-\u0EC4])([\u0E81-\u0EAE])")


# ---------------------------------------------------------------------------------------------------
# The segmenter


def configure_data(directory: str | None = None) -> None:
    """Keep the segmenter's helper library offline and away from $HOME.

    pythainlp (under laonlp) creates a data folder when it is imported; it is pointed at ``directory``
    (the app's instance folder) or a temporary folder, and put in read-only mode, since the dictionaries
    it needs ship in the wheel. Called before the first import, wherever that happens.
    """
    os.environ.setdefault("PYTHAINLP_READ_ONLY", "1")
    if not os.environ.get("PYTHAINLP_DATA"):
        os.environ["PYTHAINLP_DATA"] = directory or os.path.join(tempfile.gettempdir(), "tracker-pythainlp")


def load_segmenter() -> None:
    """Load laonlp's word segmenter and its dictionary now, rather than on the first Lao text (a server's worker
    does so as it boots, so that no reader's page waits for it)."""
    word_tokenize, _ = _segmenter()
    word_tokenize("ລາວ")


@functools.cache
def _segmenter() -> tuple:
    configure_data()
    from laonlp.tokenize import syllable_tokenize, word_tokenize

    return word_tokenize, syllable_tokenize


def normalise(run: str) -> tuple[str, list[int]]:
    """A Lao run in one spelling (composed AM and ligatures, ASCII digits), with the offset in ``run`` of
    each character of the result."""
    if not any(pair in run for pair, _ in SPELLINGS) and not any(digit in run for digit in DIGITS):
        return run, list(range(len(run)))
    chars: list[str] = []
    offsets: list[int] = []
    i = 0
    while i < len(run):
        for pair, single in SPELLINGS:
            if run.startswith(pair, i):
                chars.append(single)
                offsets.append(i)
                i += 2
                break
        else:
            chars.append(DIGITS.get(run[i], run[i]))
            offsets.append(i)
            i += 1
    return "".join(chars), offsets


@functools.lru_cache(maxsize=20000)
def pieces(run: str, syllables: bool = False) -> tuple[tuple[str, int, int], ...]:
    """Words (or syllables) of a Lao run as (text in one spelling, start, end in the run as written);
    pieces with no letter or digit (stray marks) are left out."""
    text, offsets = normalise(run)
    word_tokenize, syllable_tokenize = _segmenter()
    found = syllable_tokenize(text) if syllables else word_tokenize(text)
    out: list[tuple[str, int, int]] = []
    cursor = 0
    for piece in found:
        start = text.find(piece, cursor)
        if start < 0:  # the segmenter changed the text; keep what can be placed
            continue
        end = start + len(piece)
        cursor = end
        if _LAO_LETTER_OR_DIGIT.search(piece):
            out.append((piece, offsets[start], offsets[end - 1] + 1))
    return tuple(out)


def words(run: str) -> list[str]:
    """The words of a run of Lao text, as written (``"".join(words(run)) == run``)."""
    word_tokenize, _ = _segmenter()
    found, position = [], 0
    for word in word_tokenize(run.replace(DECOMPOSED_AM, AM)):
        length = 0
        for char in word:
            length += 2 if char == AM and run.startswith(DECOMPOSED_AM, position + length) else 1
        found.append(run[position:position + length])
        position += length
    return found


# ---------------------------------------------------------------------------------------------------
# Line breaks


@functools.lru_cache(maxsize=4096)
def _set_run(run: str) -> str:
    _, syllable_tokenize = _segmenter()
    marked = []
    for word in words(run):
        if len(syllable_tokenize(word)) > 1:
            marked.append(f'<span class="lw">{escape(word)}</span>')
        else:
            marked.append(str(escape(word)))
    return "<wbr>".join(marked)


def keep_words_whole(text: object) -> Markup:
    """``text`` as HTML (escaped unless it is markup already), its Lao words kept whole across lines.

    Browsers find line-break opportunities with ICU's Lao dictionary, which splits some compounds that
    are one word (ລົດໄຟ|ຟ້າ, ປະ|ຊຸມ, ມາດຕະ|ການ). laonlp knows them: each word of two syllables or more is
    wrapped in a ``<span class="lw">`` (``white-space: nowrap`` in the stylesheet) and a ``<wbr>`` goes
    between words, so a line may end after any word and never inside one. The text itself is unchanged
    (copy, search and screen readers see the same characters).
    """
    if text is None:
        return Markup("")
    html = str(escape(text))
    if not LAO_RUN.search(html):
        return Markup(html)
    # Only text between tags is touched, never a tag or an attribute (Lao runs contain no < or >).
    parts = re.split(r"(<[^>]*>)", html)
    return Markup("".join(part if part.startswith("<") else LAO_RUN.sub(lambda m: _set_run(m[0]), part)
                          for part in parts))


# ---------------------------------------------------------------------------------------------------
# Shortening


def _break_points(text: str) -> list[int]:
    """Offsets in ``text`` where it may be cut without cutting a word: at spaces, between a Lao word and the
    next (by the segmenter), and where Lao script meets other text."""
    points = {match.start() for match in re.finditer(r"\s+", text)}
    for match in LAO_RUN.finditer(text):
        points.update((match.start(), match.end()))
        position = match.start()
        for word in words(match[0]):
            position += len(word)
            points.add(position)
    return sorted(point for point in points if 0 < point < len(text))


def shorten(text: str, limit: int, ellipsis: str = "…") -> str:
    """``text`` in at most ``limit`` characters, cut at a word boundary (Lao words found by the segmenter,
    never cut inside) and ended with ``ellipsis`` when anything was left out. A first word longer than the
    limit is cut at the limit if it is not Lao, and left out if it is."""
    text = text.strip()
    if len(text) <= limit:
        return text
    budget = max(0, limit - len(ellipsis))
    fitting = [point for point in _break_points(text) if point <= budget]
    if fitting:
        cut = fitting[-1]
    elif budget == 0 or LAO_RUN.match(text[budget - 1]):
        cut = 0
    else:
        cut = budget
    return text[:cut].rstrip() + ellipsis


# ---------------------------------------------------------------------------------------------------
# Ordering


def sort_key(text: str | None) -> str:
    """A key that orders Lao as dictionaries do: by consonant first, a leading vowel after it (so ເມືອງ
    files under ມ, not after every consonant as its code point would put it); other text unchanged,
    compared without case."""
    if not text:
        return ""
    text = text.replace(DECOMPOSED_AM, AM)
    return _LEADING_VOWEL.sub(r"\2\1", text).casefold()
