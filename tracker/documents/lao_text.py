"""Lao text layers judged and repaired: script statistics, legacy-font detection, syllable checks, OCR clean-up."""
from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tracker import lao

# ---------------------------------------------------------------------------------------------------
# Lao characters by the part they play in a syllable

CONSONANTS = frozenset(chr(code) for code in range(0x0E81, 0x0EAF) if unicodedata.name(chr(code), "")) | frozenset(
    "\u0EDC\u0EDD\u0EDE\u0EDF")
LEADING_VOWELS = frozenset("\u0EC0\u0EC1\u0EC2\u0EC3\u0EC4")  # ເ ແ ໂ ໃ ໄ: written before their consonant
# Vowels written above or below the consonant: one per syllable. NIGGAHITA (ໍ) counts as one.
MARK_VOWELS = frozenset("\u0EB1\u0EB4\u0EB5\u0EB6\u0EB7\u0EB8\u0EB9\u0EBB\u0ECD")
TONE_MARKS = frozenset("\u0EC8\u0EC9\u0ECA\u0ECB")
SEMIVOWEL_LO = "\u0EBC"  # ຼ, under the consonant (ຫຼ), before any vowel mark
CANCELLATION_MARK = "\u0ECC"
PALI_VIRAMA = "\u0EBA"
COMBINING = MARK_VOWELS | TONE_MARKS | {SEMIVOWEL_LO, CANCELLATION_MARK, PALI_VIRAMA}
# Vowels written after the consonant on the line (ະ າ ຳ ຽ).
FOLLOWING_VOWELS = frozenset("\u0EB0\u0EB2\u0EB3\u0EBD")
MAI_KAN, MAI_KON, AA = "\u0EB1", "\u0EBB", "\u0EB2"
# Lao letters, marks and signs (digits aside): what a run of Lao text is made of.
LAO_RUN = re.compile("[\u0E81-\u0ECD\u0EDC-\u0EDF]+")
_LAO_BLOCK = range(0x0E80, 0x0F00)


# ---------------------------------------------------------------------------------------------------
# Script statistics and legacy fonts


@dataclass(frozen=True)
class ScriptProfile:
    """Counts of a text's characters by script."""

    lao: int          # anything in the Lao block (U+0E80-U+0EFF)
    ascii_letters: int
    latin1: int       # Latin-1 Supplement, U+00A0-U+00FF: letters and symbols alike
    other_letters: int
    digits: int

    @property
    def letters(self) -> int:
        return self.lao + self.ascii_letters + self.latin1 + self.other_letters

    @property
    def lao_share(self) -> float:
        """The share of Lao among the letters (0 when there are none)."""
        return self.lao / self.letters if self.letters else 0.0


def script_profile(text: str) -> ScriptProfile:
    """How many of ``text``'s characters are Lao, ASCII letters, Latin-1 Supplement, other letters, digits."""
    lao_count = ascii_count = latin1 = other = digits = 0
    for char in text:
        code = ord(char)
        if code in _LAO_BLOCK:
            lao_count += 1
        elif char.isascii():
            if char.isalpha():
                ascii_count += 1
            elif char.isdigit():
                digits += 1
        elif 0xA1 <= code <= 0xFF:
            latin1 += 1
        elif char.isalpha():
            other += 1
        elif char.isdigit():
            digits += 1
    return ScriptProfile(lao_count, ascii_count, latin1, other, digits)


_VOWELS = frozenset("aeiouyAEIOUY")
_WORD_PUNCTUATION = frozenset("[]{};:'\"\\|`~^<>=+@#$%&*_/,.!?()-")


def _gibberish(token: str) -> bool:
    """Whether a Latin-script token reads like a legacy Lao font's code points rather than a word: Latin-1
    symbols or letters, punctuation or digits inside it, or four letters without a vowel."""
    core = token.strip(".,;:!?()\"'[]")
    if len(core) < 2:
        return bool(core) and 0xA1 <= ord(core[0]) <= 0xFF
    if any(0xA1 <= ord(char) <= 0xFF for char in core):
        return True
    inner = core[1:-1]
    if any(char in _WORD_PUNCTUATION and char not in "-'." or char.isdigit() for char in inner) and any(
            char.isalpha() for char in core):
        return True
    letters = [char for char in core if char.isalpha()]
    return len(letters) >= 4 and not any(char in _VOWELS for char in letters)


def legacy_share(text: str) -> float:
    """The share of ``text``'s non-Lao tokens that look like legacy-font gibberish."""
    tokens = [token for token in text.split() if not any(ord(char) in _LAO_BLOCK for char in token)]
    tokens = [token for token in tokens if any(not char.isdigit() for char in token)]
    if not tokens:
        return 0.0
    return sum(_gibberish(token) for token in tokens) / len(tokens)


LEGACY_MIN_LETTERS = 20
LEGACY_MAX_LAO_SHARE = 0.2
LEGACY_MIN_GIBBERISH_SHARE = 0.3


def looks_like_legacy_lao(text: str) -> bool:
    """Whether ``text``, a text layer of a page in Lao, was drawn with a legacy (pre-Unicode) Lao font.

    Such fonts put Lao glyphs at Latin or Latin-1 code points, so the layer has almost no Lao characters
    and its "words" are runs of Latin-1 symbols and letters mixed with punctuation (``ÊÒ¸ÒÃÐ¹Ð``, ``g]kp``).
    A page in Lao with real English on it is not flagged: English words pass the gibberish test.
    """
    profile = script_profile(text)
    if profile.letters < LEGACY_MIN_LETTERS or profile.lao_share > LEGACY_MAX_LAO_SHARE:
        return False
    return legacy_share(text) >= LEGACY_MIN_GIBBERISH_SHARE


# ---------------------------------------------------------------------------------------------------
# Syllables


@dataclass(frozen=True)
class Syllable:
    """One orthographic syllable of a Lao run, and what is wrong with it (empty when well formed)."""

    text: str
    defects: tuple[str, ...] = ()


def syllables(run: str) -> list[Syllable]:
    """The syllables of a run of Lao letters, cut by spelling rules (no dictionary), each with its defects.

    A syllable is [leading vowel] consonant [ຼ] [one vowel mark] [one tone] [following vowels]
    [final consonant]; a consonant is taken as final when no mark or following vowel comes after it.
    Defects: "leading vowel without consonant", "mark without consonant", "vowel without consonant",
    "two vowel marks", "two tones", "tone before vowel", "ັ without final" (MAI KAN always closes on a
    consonant), "ົ without final" (MAI KON too, except in ເ-ົາ), "echo" (the consonant and marks of one of
    the two syllables before, repeated: what PDF text layers of shaped Lao often produce).
    """
    out: list[Syllable] = []
    onsets: list[str] = []
    length = len(run)
    i = 0
    while i < length:
        start = i
        defects: list[str] = []
        leading = run[i] in LEADING_VOWELS
        if leading:
            i += 1
            if i >= length or run[i] not in CONSONANTS:
                out.append(Syllable(run[start:i], ("leading vowel without consonant",)))
                continue
        char = run[i]
        if char in CONSONANTS:
            i += 1
        elif char in COMBINING:
            defects.append("mark without consonant")
        elif char in FOLLOWING_VOWELS:
            defects.append("vowel without consonant")
        else:  # ໆ, ຯ and other signs stand alone, neither syllable nor defect
            i += 1
            continue
        onset_start = i - 1 if not defects else i
        vowel = tone = ""
        while i < length and run[i] in COMBINING:
            mark = run[i]
            if mark in MARK_VOWELS:
                if vowel:
                    defects.append("two vowel marks")
                if tone:
                    defects.append("tone before vowel")
                vowel = mark
            elif mark in TONE_MARKS:
                if tone:
                    defects.append("two tones")
                tone = mark
            i += 1
        onset = run[onset_start:i]
        following = ""
        while i < length and run[i] in FOLLOWING_VOWELS:
            following += run[i]
            i += 1
        final = ""
        if i < length and run[i] in CONSONANTS and not (
                i + 1 < length and (run[i + 1] in COMBINING or run[i + 1] in FOLLOWING_VOWELS)):
            final = run[i]
            i += 1
        if vowel == MAI_KAN and not final:
            defects.append("ັ without final")
        if vowel == MAI_KON and not final and not (leading and following.startswith(AA)):
            defects.append("ົ without final")
        if len(onset) > 1 and onset in onsets[-2:]:
            defects.append("echo")
        onsets.append(onset)
        out.append(Syllable(run[start:i], tuple(defects)))
    return out


@dataclass(frozen=True)
class SyllableCheck:
    """How well formed the Lao of a text is."""

    syllables: int
    ill_formed: int
    examples: tuple[str, ...]  # the first few ill-formed syllables, for logs and reports

    @property
    def share(self) -> float:
        """The share of ill-formed syllables (0 when there is no Lao)."""
        return self.ill_formed / self.syllables if self.syllables else 0.0


def check_syllables(text: str, *, examples: int = 5) -> SyllableCheck:
    """Count the syllables of the Lao runs of ``text`` and the ill-formed ones among them."""
    total = bad = 0
    found: list[str] = []
    for match in LAO_RUN.finditer(unicodedata.normalize("NFC", text)):
        for syllable in syllables(match[0]):
            total += 1
            if syllable.defects:
                bad += 1
                if len(found) < examples:
                    found.append(syllable.text)
    return SyllableCheck(total, bad, tuple(found))


# Well-typed Lao has no ill-formed syllable, or one in a few hundred (a typo, a Pali spelling); text layers
# of shaped Lao that lost or repeated marks have one in five or more.
MALFORMED_SHARE = 0.05
MALFORMED_MIN_SYLLABLES = 10


def is_malformed(text: str, *, threshold: float = MALFORMED_SHARE) -> bool:
    """Whether the Lao of ``text`` has too many ill-formed syllables to be trusted (too little Lao: no)."""
    check = check_syllables(text, examples=0)
    return check.syllables >= MALFORMED_MIN_SYLLABLES and check.share > threshold


# ---------------------------------------------------------------------------------------------------
# Normalisation

_CONTROL = re.compile("[\u0000-\u0008\u000B\u000E-\u001F\u007F-\u009F\u00AD\u200B\u200E\u200F\uFEFF\uFFFD]")
_SPACES = re.compile("[ \t\u00A0\u2000-\u200A\u202F\u205F\u3000]+")


def clean(text: str) -> str:
    """``text`` in NFC without control characters, soft hyphens, zero-width spaces, byte-order marks and
    replacement characters; every kind of space as one space; line breaks and form feeds kept."""
    text = _CONTROL.sub("", unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n")))
    return _SPACES.sub(" ", text)


def compose_am(text: str) -> str:
    """``text`` with sara AM typed as one character (ຳ), however it was typed (ໍ + າ)."""
    return text.replace(lao.DECOMPOSED_AM, lao.AM)


def _is_lao(char: str) -> bool:
    return ord(char) in _LAO_BLOCK


def _candidate_tone_places(run: str) -> list[int]:
    """Where a tone mark lost by OCR may go: after a vowel written above a consonant (ີ ື ິ ຶ ົ) with no tone
    after it, and between a consonant and ຳ."""
    places: list[int] = []
    for i, char in enumerate(run):
        after = run[i + 1] if i + 1 < len(run) else ""
        if after in TONE_MARKS:
            continue
        if char in "\u0EB4\u0EB5\u0EB6\u0EB7\u0EBB" and i > 0 and (run[i - 1] in CONSONANTS
                                                                    or run[i - 1] == SEMIVOWEL_LO):
            places.append(i + 1)
        elif char in CONSONANTS and after == lao.AM:
            places.append(i + 1)
    return places


_RESTORED_TONES = ("\u0EC8", "\u0EC9")  # ່ ້: the two tones of nearly every word


@functools.lru_cache(maxsize=8192)
def restore_tones(run: str) -> str:
    """A run of OCR'd Lao with the tone marks that Tesseract drops from above upper vowels put back where the
    dictionary says so.

    Tesseract's Lao model often reads ເຄື່ອງ as ເຄືອງ and ສິ່ງແວດລ້ອມ as ສິງແວດລ້ອມ: the small tone above a
    vowel mark is lost. A ່ or ້ is put back at such a place when the run then cuts into fewer dictionary
    words (ສິ່ງແວດລ້ອມ is one word, ສິງ + ແວດລ້ອມ two), one place at a time, the best first; a run that no
    mark shortens is left as it is, so text read with its tones stays as it is. The dictionary can be wrong
    where both spellings are words: ເຂົາໄປ ("he goes") can become ເຂົ້າໄປ ("go in"), a word it knows.
    """
    segment: Callable[[str], Sequence[str]] = lao.words
    best = len(segment(run))
    while True:
        choice: tuple[int, int, str] | None = None
        for place in _candidate_tone_places(run):
            for tone in _RESTORED_TONES:
                candidate = run[:place] + tone + run[place:]
                count = len(segment(candidate))
                if count < best and (choice is None or count < choice[0]):
                    choice = (count, place, candidate)
        if choice is None:
            return run
        best, _, run = choice


def normalise_spelling(text: str) -> str:
    """``text`` cleaned (see ``clean``), with sara AM and the HO ligatures composed: ໍ + າ and ຳ, ຫນ and ໜ,
    ຫມ and ໝ look alike on paper, Tesseract reads the two-letter forms, typed Lao uses the single ones."""
    text = clean(text)
    for pair, single in lao.SPELLINGS:
        text = text.replace(pair, single)
    return text


def normalise_ocr(text: str) -> str:
    """OCR output in the spelling of typed Lao: ``normalise_spelling``, then lost tone marks restored
    (``restore_tones``)."""
    return LAO_RUN.sub(lambda match: restore_tones(match[0]), normalise_spelling(text))


def joins_word(left: str, right: str) -> bool:
    """Whether the dictionary reads a word across the boundary between two runs of Lao (so a space
    between them is not a real one): the last few words of ``left`` and the first few of ``right``, put
    together, cut into words one of which straddles the boundary."""
    if not left or not right:
        return False
    tail, head = "".join(lao.words(left)[-3:]), "".join(lao.words(right)[:3])
    position = 0
    for word in lao.words(tail + head):
        if position < len(tail) < position + len(word):
            return True
        position += len(word)
    return False


@dataclass(frozen=True)
class PlacedWord:
    """A word read by OCR on one line, with its box in pixels."""

    text: str
    left: int
    width: int


def _lao_head(text: str) -> str:
    match = LAO_RUN.match(text)
    return match[0] if match else ""


def _lao_tail(parts: Sequence[str]) -> str:
    match = re.search("[\u0E81-\u0ECD\u0EDC-\u0EDF]+$", "".join(parts[-6:]))
    return match[0] if match else ""


# A gap narrower than this share of the line's height is a gap between letters, not a space.
JOIN_GAP = 0.15


def join_line(words: Sequence[PlacedWord], line_height: int) -> str:
    """The words of one OCR line as text, spaced as the page is.

    Lao is written without spaces between words, a space marking a phrase break. Tesseract sometimes cuts
    a Lao word at a narrow gap between syllables: two Lao words are joined without a space when the gap
    between their boxes is under ``JOIN_GAP`` of the line's height (a real space is about a third of the
    font size), or when the dictionary reads a word across them (``joins_word``); they are kept apart
    otherwise. Words with Latin letters or digits on either side keep their space.
    """
    parts: list[str] = []
    previous: PlacedWord | None = None
    for word in words:
        if not word.text:
            continue
        if previous is not None:
            gap = word.left - (previous.left + previous.width)
            lao_pair = _is_lao(previous.text[-1]) and _is_lao(word.text[0])
            if not (lao_pair and (gap < JOIN_GAP * line_height or joins_word(_lao_tail(parts), _lao_head(word.text)))):
                parts.append(" ")
        parts.append(word.text)
        previous = word
    return "".join(parts)
