"""Text analysis for the index: English stemmed, Lao segmented into words and syllables, references."""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from typing import Any

from whoosh.analysis import Analyzer, Token
from whoosh.analysis.filters import STOP_WORDS
from whoosh.lang.porter import stem as _porter_stem

from tracker import lao as lao_text
from tracker.search.vocabulary import lemmas, stems

# Lao script block. Thai, Khmer and Burmese letters carry their vowel signs as combining marks,
# which Python's \w does not match; they are kept inside a word so it is not cut at every mark.
_LAO = "\u0E80-\u0EFF"
_MARKS = "\u0300-\u036F\u0E00-\u0E7F\u1000-\u109F\u1780-\u17FF"
_TOKEN = re.compile(rf"(?P<lao>[{_LAO}]+)|(?P<word>[^\W_{_LAO}](?:[^\W_{_LAO}]|[{_MARKS}])*)")
# Lao runs are segmented, and their two spellings of AM and of the HO ligatures made one, by tracker.lao.

ENGLISH_STOP_WORDS = frozenset(STOP_WORDS)
# Capitalised words before a number name an instrument ("Republic Act No. 11697"); people search by
# their initials ("RA 11697"), so those are indexed too.
_CAPITALISED = re.compile(r"[A-Z][a-z]+|[A-Z]{2,}(?![a-z])")
# "No." and "Nos." only introduce the number; they are neither searched for nor part of initials.
_REFERENCE_STOP_WORDS = frozenset({"no", "nos"})


_STEMS: dict[str, str] = {}


def stem(word: str) -> str:
    """The Porter stem of an English word, or of its lemma where the vocabulary gives one ("buses" is
    stemmed as "bus"), or the vocabulary's own stem for it; cached, since the same words recur."""
    stemmed = _STEMS.get(word)
    if stemmed is None:
        if len(_STEMS) > 200000:
            _STEMS.clear()
        stemmed = stems().get(word) or _porter_stem(lemmas().get(word, word))
        _STEMS[word] = stemmed
    return stemmed


def _word(raw: str) -> str:
    word = raw.lower()
    return word if word.isascii() else unicodedata.normalize("NFKC", word)


def words(text: str, *, stemmed: bool = True, stops: bool = True) -> Iterator[tuple[str, int, int]]:
    """(term, start, end) for each word of ``text``: Lao segmented into dictionary words, other
    scripts split at non-word characters, English lower-cased, stop words dropped and stemmed."""
    for match in _TOKEN.finditer(text):
        if match.lastgroup == "lao":
            base = match.start()
            for piece, start, end in lao_text.pieces(match.group(), False):
                yield piece, base + start, base + end
            continue
        word = _word(match.group())
        if word.isascii() and word.isalpha():
            if stops and (word in ENGLISH_STOP_WORDS or len(word) < 2):
                continue
            if stemmed:
                word = stem(word)
        yield word, match.start(), match.end()


def terms(text: str, *, stemmed: bool = True) -> list[str]:
    """The terms of ``words(text)`` in order, without offsets: the fast path used for indexing."""
    out: list[str] = []
    append = out.append
    stems = _STEMS
    for lao, raw in _TOKEN.findall(text):
        if lao:
            out.extend(piece for piece, _, _ in lao_text.pieces(lao, False))
            continue
        word = raw.lower()
        if not word.isascii():
            word = unicodedata.normalize("NFKC", word)
        if word.isascii() and word.isalpha():
            if word in ENGLISH_STOP_WORDS or len(word) < 2:
                continue
            if stemmed:
                word = stems.get(word) or stem(word)
        append(word)
    return out


def syllable_terms(text: str) -> list[str]:
    """The Lao syllables of ``text`` in order, without offsets (indexing)."""
    out: list[str] = []
    for lao, _ in _TOKEN.findall(text):
        if lao:
            out.extend(piece for piece, _, _ in lao_text.pieces(lao, True))
    return out


def syllables(text: str) -> Iterator[tuple[str, int, int]]:
    """(syllable, start, end) for each Lao syllable of ``text``; other scripts are left out."""
    for match in _TOKEN.finditer(text):
        if match.lastgroup == "lao":
            base = match.start()
            for piece, start, end in lao_text.pieces(match.group(), True):
                yield piece, base + start, base + end


def reference_terms(text: str) -> list[tuple[str, int, int, int]]:
    """(term, start, end, position) of an official reference: its words unstemmed, plus the initials
    of capitalised runs ("Republic Act No. 11697" also gives "ra"), placed at the position of the
    run's last word so that "RA 11697" is found as a phrase too."""
    kept = (term for term in words(text, stemmed=False) if term[0] not in _REFERENCE_STOP_WORDS)
    terms = [(word, start, end, pos) for pos, (word, start, end) in enumerate(kept)]
    position_at = {start: pos for _, start, _, pos in terms}
    run: list[re.Match[str]] = []
    initials: list[tuple[str, int, int, int]] = []
    for match in _CAPITALISED.finditer(text):
        if match.group().lower() in _REFERENCE_STOP_WORDS:
            initials.extend(_initials(run, position_at))
            run = []
            continue
        if run and not text[run[-1].end():match.start()].strip(" "):
            run.append(match)
            continue
        initials.extend(_initials(run, position_at))
        run = [match]
    initials.extend(_initials(run, position_at))
    return sorted(terms + initials, key=lambda term: term[3])


def _initials(run: list[re.Match[str]], position_at: dict[int, int]) -> list[tuple[str, int, int, int]]:
    # Every tail of two or more words: "Prime Ministerial Decree" gives "pmd" and "md".
    names = [m for m in run if m.start() in position_at]
    return [("".join(m.group()[0] for m in names[first:]).lower(), names[first].start(), names[-1].end(),
             position_at[names[-1].start()]) for first in range(len(names) - 1)]


# whoosh has no type information, so its classes are Any to mypy: subclassing one cannot be checked.
class _TermAnalyzer(Analyzer):  # type: ignore[misc]
    """A Whoosh analyzer over one of the term functions above, keeping positions and offsets."""

    def _terms(self, value: str) -> Iterator[tuple[str, int, int, int]]:
        """(term, start, end, position) in order of position."""
        raise NotImplementedError

    def __call__(self, value: str, positions: bool = False, chars: bool = False, keeporiginal: bool = False,
                 removestops: bool = True, start_pos: int = 0, start_char: int = 0, tokenize: bool = True,
                 mode: str = "", **kwargs: Any) -> Iterator[Token]:
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        token.boost = 1.0
        token.stopped = False
        if not tokenize:
            # Prefix and wildcard queries: the text as typed, in the index's spelling, unstemmed.
            token.original = token.text = _word(value)
            token.pos = start_pos
            token.startchar, token.endchar = start_char, start_char + len(value)
            yield token
            return
        for text, start, end, pos in self._terms(value):
            token.text = text
            if keeporiginal:
                token.original = value[start:end]
            if positions:
                token.pos = start_pos + pos
            if chars:
                token.startchar, token.endchar = start_char + start, start_char + end
            yield token

    def __eq__(self, other: object) -> bool:
        return other.__class__ is self.__class__

    def __hash__(self) -> int:
        return hash(self.__class__.__name__)


def _numbered(terms: Iterator[tuple[str, int, int]]) -> Iterator[tuple[str, int, int, int]]:
    for pos, (text, start, end) in enumerate(terms):
        yield text, start, end, pos


class TextAnalyzer(_TermAnalyzer):
    """Words in every script; English stemmed without stop words; Lao segmented by dictionary."""

    def _terms(self, value: str) -> Iterator[tuple[str, int, int, int]]:
        return _numbered(words(value))


class SyllableAnalyzer(_TermAnalyzer):
    """Lao syllables only, so that part of a compound (ໄຟຟ້າ in ລົດໄຟຟ້າ) is found."""

    def _terms(self, value: str) -> Iterator[tuple[str, int, int, int]]:
        return _numbered(syllables(value))


class ReferenceAnalyzer(_TermAnalyzer):
    """Official reference numbers: words and numbers unstemmed, with the initials of named acts."""

    def _terms(self, value: str) -> Iterator[tuple[str, int, int, int]]:
        return iter(reference_terms(value))
