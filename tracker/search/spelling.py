"""Typo correction: unknown query words replaced by the closest words of the records the reader may see."""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from tracker.search.analysis import ENGLISH_STOP_WORDS, stem, words
from tracker.search.expansion import QUOTED

# Bare words only: a `field:value`, a "quoted phrase", a prefix* or an operator keeps what was typed.
_FIELD_VALUE = re.compile(r"\w+:(?:\"[^\"]*\"|\S+)")
_OPERATORS = frozenset({"AND", "OR", "NOT", "ANDNOT", "ANDMAYBE"})
# Shorter words are too often an abbreviation or a code to be guessed at.
MIN_LENGTH = 3


def max_distance(word: str) -> int:
    """How many edits a correction of ``word`` may make: 1 up to four letters, then 2."""
    return 1 if len(word) <= 4 else 2


def distance(a: str, b: str) -> int:
    """Edit distance counting a swap of two neighbouring letters as one edit (optimal string alignment)."""
    if a == b:
        return 0
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, char_b in enumerate(b, 1):
            cost = 0 if char_a == char_b else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and char_a == b[j - 2] and a[i - 2] == char_b:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[len(b)]


@dataclass(frozen=True)
class Correction:
    """A query with its unknown words replaced, and which words were replaced by what."""

    text: str
    replaced: tuple[tuple[str, str], ...]   # (as typed, as searched)


class Lexicon:
    """What spelling needs to know of the index, limited to the records the reader may see.

    ``known(word)``: whether a word (or its stem) occurs in a visible record or in the vocabulary.
    ``candidates(word, distance)``: indexed words within ``distance`` edits (from every record; the
    caller's ``frequency`` then counts only visible ones, so a word of a draft is never offered).
    ``frequency(word)``: in how many visible records the word occurs.
    """

    def __init__(self, known: Callable[[str, str], bool], candidates: Callable[[str, int], Iterable[str]],
                 frequency: Callable[[str], int]) -> None:
        self.known = known
        self.candidates = candidates
        self.frequency = frequency


def _bare_words(text: str) -> Iterator[tuple[str, int, int]]:
    masked = _FIELD_VALUE.sub(lambda m: " " * len(m.group()), text)
    masked = QUOTED.sub(lambda m: " " * len(m.group()), masked)
    for word, start, end in words(masked, stemmed=False, stops=False):
        original = text[start:end]
        if original in _OPERATORS or end < len(text) and text[end] in "*?":
            continue
        if not (word.isascii() and word.isalpha()) or len(word) < MIN_LENGTH or word in ENGLISH_STOP_WORDS:
            continue
        yield word, start, end


def correct(text: str, lexicon: Lexicon) -> Correction | None:
    """``text`` with each unknown bare word replaced by its closest visible word, or None when every
    word is known or nothing close enough exists. A word that exists is never replaced."""
    replacements: list[tuple[int, int, str, str]] = []
    for word, start, end in _bare_words(text):
        if lexicon.known(word, stem(word)):
            continue
        limit = max_distance(word)
        best: tuple[int, int, str] | None = None
        for candidate in lexicon.candidates(word, limit):
            if candidate == word or not (candidate.isascii() and candidate.isalpha()):
                continue
            edits = distance(word, candidate)
            if edits > limit:
                continue
            frequency = lexicon.frequency(candidate)
            if not frequency:
                continue
            ranked = (edits, -frequency, candidate)
            if best is None or ranked < best:
                best = ranked
        if best is not None:
            original = text[start:end]
            replacement = best[2]
            if original.isupper():
                replacement = replacement.upper()
            elif original[:1].isupper():
                replacement = replacement[:1].upper() + replacement[1:]
            replacements.append((start, end, original, replacement))
    if not replacements:
        return None
    out = text
    for start, end, _original, replacement in sorted(replacements, reverse=True):
        out = out[:start] + replacement + out[end:]
    return Correction(out, tuple((original, replacement) for _, _, original, replacement in replacements))
