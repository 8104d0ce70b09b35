"""Highlights: the matched whole words of a record's titles and summaries, escaped and wrapped in <mark>.

The text is the record as the database has it now (not a stored copy), re-analysed with the index's
own analysis so that a stemmed English match ("charging" for "charge") and a Lao match inside a
compound (ໄຟຟ້າ inside ລົດໄຟຟ້າ) both mark the whole word the reader sees.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import cast

from markupsafe import Markup, escape
from whoosh import query as wq

from tracker.search.analysis import reference_terms, syllables, words
from tracker.search.query import positive_leaves

# Record attribute -> index field that searched it.
POLICY_FIELDS = {"title_en": "title", "title_lo": "title", "title_local": "title", "reference": "reference",
                 "summary_en": "body", "summary_lo": "body"}
EVENT_FIELDS = {"name_en": "title", "name_lo": "title", "summary_en": "body", "summary_lo": "body"}
_LAO = re.compile("[\u0E80-\u0EFF]")
# Summaries longer than this are cut to a fragment around the first match.
FRAGMENT = 240


@dataclass
class Terms:
    """What to mark, per index field: exact terms, prefixes, and Lao syllable sequences."""

    exact: dict[str, set[str]] = field(default_factory=dict)
    prefixes: dict[str, set[str]] = field(default_factory=dict)
    syllable_runs: list[tuple[str, ...]] = field(default_factory=list)

    @classmethod
    def of(cls, query: wq.Query) -> Terms:
        terms = cls()
        for leaf in positive_leaves(query):
            name = getattr(leaf, "fieldname", None)
            if isinstance(leaf, wq.Phrase):
                if name == "syllables":
                    terms.syllable_runs.append(tuple(leaf.words))
                else:
                    terms.exact.setdefault(cast(str, name), set()).update(leaf.words)
            elif isinstance(leaf, (wq.Prefix, wq.Wildcard)):
                terms.prefixes.setdefault(cast(str, name), set()).add(leaf.text.split("*")[0].split("?")[0])
            elif isinstance(leaf, wq.Term) and isinstance(leaf.text, str):
                if name == "syllables":
                    terms.syllable_runs.append((leaf.text,))
                else:
                    terms.exact.setdefault(cast(str, name), set()).add(leaf.text)
        return terms

    def __bool__(self) -> bool:
        return bool(self.exact or self.prefixes or self.syllable_runs)


def highlights(record: object, entity_type: str, terms: Terms) -> dict[str, str]:
    """Field name -> HTML snippet for each field of ``record`` with a match."""
    out: dict[str, str] = {}
    fields = POLICY_FIELDS if entity_type == "policy" else EVENT_FIELDS
    for attribute, index_field in fields.items():
        text = getattr(record, attribute, None)
        if not text:
            continue
        spans = _spans(text, index_field, terms, cut=index_field == "body")
        if spans:
            out[attribute] = str(_render(text, spans, cut=index_field == "body"))
    return out


def _spans(text: str, index_field: str, terms: Terms, *, cut: bool = False) -> list[tuple[int, int]]:
    """Character spans of the matched words; with ``cut``, only those a fragment around the first
    match can show (a long summary is not analysed past it)."""
    exact = terms.exact.get(index_field, set())
    prefixes = tuple(terms.prefixes.get(index_field, ()))
    if not _may_match(text, exact, prefixes, terms.syllable_runs):
        return []
    if index_field == "reference":
        tokens: list[tuple[str, int, int]] = [(t, s, e) for t, s, e, _ in reference_terms(text)]
    else:
        tokens = []
        stop_at = None
        for token in words(text):
            tokens.append(token)
            if stop_at is None and (token[0] in exact or (prefixes and token[0].startswith(prefixes))):
                stop_at = token[1] + FRAGMENT + 80 if cut else None
            elif stop_at is not None and token[1] > stop_at:
                break
    spans = [(start, end) for term, start, end in tokens
             if term in exact or (prefixes and term.startswith(prefixes))]
    if terms.syllable_runs and index_field != "reference":
        spans += _syllable_spans(text, tokens, terms.syllable_runs)
    return _merged(spans)


def _may_match(text: str, exact: set[str], prefixes: tuple[str, ...], runs: list[tuple[str, ...]]) -> bool:
    """A cheap test that spares analysing a text that cannot match: a Porter stem keeps the start of
    its word, so an English term's first letters must appear; a Lao term needs Lao text."""
    lowered = text.lower()
    for term in (*exact, *prefixes):
        if not term.isascii() or term[:4] in lowered:
            if term.isascii() or _LAO.search(text):
                return True
    return bool(runs) and _LAO.search(text) is not None


def _syllable_spans(text: str, tokens: list[tuple[str, int, int]],
                    runs: list[tuple[str, ...]]) -> list[tuple[int, int]]:
    """Whole words covering each occurrence of a syllable sequence (ໄຟຟ້າ marks all of ລົດໄຟຟ້າ)."""
    pieces = list(syllables(text))
    texts = [piece for piece, _, _ in pieces]
    spans = []
    for run in runs:
        width = len(run)
        for i in range(len(texts) - width + 1):
            if tuple(texts[i:i + width]) == run:
                start, end = pieces[i][1], pieces[i + width - 1][2]
                spans += [(s, e) for _, s, e in tokens if s < end and e > start]
    return spans


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, end in sorted(set(spans)):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def _render(text: str, spans: list[tuple[int, int]], *, cut: bool) -> Markup:
    begin, finish = 0, len(text)
    if cut and len(text) > FRAGMENT:
        first = spans[0][0]
        begin = max(0, first - FRAGMENT // 3)
        if begin:
            space = text.rfind(" ", 0, begin)
            begin = space + 1 if space >= 0 and begin - space < 40 else begin
        finish = min(len(text), begin + FRAGMENT)
        if finish < len(text):
            space = text.find(" ", finish)
            finish = space if 0 <= space - finish < 40 else finish
            # Never cut a highlighted word in half.
            for start, end in spans:
                if start < finish < end:
                    finish = end
    parts: list[str | Markup] = ["…"] if begin else []
    cursor = begin
    for start, end in spans:
        if end <= begin or start >= finish:
            continue
        start, end = max(start, begin), min(end, finish)
        parts.append(text[cursor:start])
        parts.append(Markup("<mark>") + escape(text[start:end]) + Markup("</mark>"))
        cursor = end
    parts.append(text[cursor:finish])
    if finish < len(text):
        parts.append("…")
    return Markup("").join(escape(part) for part in parts)


# A passage's fragment under a search hit: this many characters around its first match.
PASSAGE_FRAGMENT = 300


def passage_highlight(text: str, terms: Terms, *, whole: bool = False) -> Markup | None:
    """A passage's text with its matched words marked: the whole text (``whole``), or a fragment of about
    PASSAGE_FRAGMENT characters around the first match that starts and ends on word boundaries (a Lao
    passage has no spaces to cut at: it is cut between the words the analysis found, never inside one).
    None when nothing in the text matches."""
    spans = _spans(text, "body", terms) or _spans(text, "title", terms)
    if not spans:
        return None
    if whole or len(text) <= PASSAGE_FRAGMENT:
        return _render(text, spans, cut=False)
    bounds = [(start, end) for _, start, end in words(text)]
    first = spans[0][0]
    begin = max(0, first - PASSAGE_FRAGMENT // 3)
    finish = min(len(text), begin + PASSAGE_FRAGMENT)
    if begin:
        # The start of the first word that begins at or after ``begin`` (not after the match).
        begin = next((start for start, _ in bounds if begin <= start <= first), first)
    if finish < len(text):
        # The end of the last word that ends at or before ``finish``, and never inside a marked word.
        finish = max((end for _, end in bounds if first < end <= finish), default=finish)
        for start, end in spans:
            if start < finish < end:
                finish = end
    parts: list[str | Markup] = ["…"] if begin else []
    cursor = begin
    for start, end in spans:
        if end <= begin or start >= finish:
            continue
        start, end = max(start, begin), min(end, finish)
        parts.append(text[cursor:start])
        parts.append(Markup("<mark>") + escape(text[start:end]) + Markup("</mark>"))
        cursor = end
    parts.append(text[cursor:finish])
    if finish < len(text):
        parts.append("…")
    return Markup("").join(escape(part) for part in parts)
