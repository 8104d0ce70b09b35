"""Reading a query as people mean it: loose words matched by most-of, with synonyms, Lao–English bridges and proximity.

The parser (tracker.search.query) reads the query language; words typed bare, without operators,
come out as a group of "should" words. Such a group is rewritten here into concepts:

* every bare word is a concept (a Lao run is cut into its words, each a concept); consecutive words
  that the vocabulary knows as one phrase ("charging point", "road tax") make one concept;
* a concept matches its own words in any text field, or any of its vocabulary neighbours (synonyms
  and acronyms, broader terms, the same concept in the other language), those with a lower weight;
* a document must match all concepts when there are at most two, else three quarters of them
  (rounded down); documents matching more concepts rank first (see tracker.search.engine);
* consecutive single words found close together (within a few words) in a title or summary add to
  the score.

Anything written with the query language keeps its strict meaning: ``"phrases"``, ``AND``, ``OR``,
``NOT``, ``+word``, ``-word``, ``field:value`` and ``prefix*`` are required or excluded as typed.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from whoosh import query as wq

from tracker.search.analysis import reference_terms, syllables, terms, words
from tracker.search.schema import TEXT_FIELDS
from tracker.search.vocabulary import MAX_PHRASE, Alternative, Vocabulary, build

# A quoted phrase, closed or not: its words are never bare.
QUOTED = re.compile(r"\"[^\"]*\"?")
# Fields the words and their neighbours are searched in (the reference field has its own analysis).
WORD_FIELDS = ("title", "body", "text")
# Proximity: consecutive query words within this many positions in one field add to the score.
NEAR_SLOP = 4
NEAR_WEIGHT = 0.5
NEAR_FIELDS = ("title", "body")


class Should(wq.Or):  # type: ignore[misc]
    """Words the reader typed bare, side by side: the parser's default group (see tracker.search.query)."""


class Near(wq.Phrase):  # type: ignore[misc]
    """Query words close together: scored on the best candidates only, never required."""


class Concepts(wq.Or):  # type: ignore[misc]
    """Concepts of which a document must match at least ``minmatch``; more matched ranks higher."""


def minimum_match(count: int) -> int:
    """How many of ``count`` concepts a document must match: all of one or two, then three quarters."""
    return count if count <= 2 else (count * 3) // 4


@functools.cache
def vocabulary() -> Vocabulary:
    """The search vocabulary analysed with the index's own analysis (built once per process)."""
    return build(terms)


@dataclass
class _Unit:
    """One word as typed (a Lao run gives one per word): its terms in the word fields, and its text."""

    terms: tuple[str, ...]
    raw: str
    lao: bool


def rewrite(query: wq.Query, text: str) -> wq.Query:
    """``query`` with every group of bare words rewritten into concepts (see the module's docstring)."""
    if isinstance(query, Should):
        return _rewrite_group(query, text)
    if query.is_leaf():
        return query
    if isinstance(query, (wq.AndNot, wq.AndMaybe)):
        return type(query)(rewrite(query.a, text), rewrite(query.b, text))
    if isinstance(query, wq.Not):
        return wq.Not(rewrite(query.query, text), boost=query.boost)
    if isinstance(query, wq.CompoundQuery):
        rebuilt = type(query)([rewrite(child, text) for child in query.subqueries], boost=query.boost)
        copy_extent(query, rebuilt)
        return rebuilt
    return query


def primary_concepts(query: wq.Query) -> Concepts | None:
    """The concepts that rank the query's documents: the first group of bare words outside NOT."""
    if isinstance(query, Concepts):
        return query
    if isinstance(query, wq.AndNot):
        return primary_concepts(query.a)
    if isinstance(query, wq.AndMaybe):
        return primary_concepts(query.a) or primary_concepts(query.b)
    if isinstance(query, wq.And):
        for child in query.subqueries:
            found = primary_concepts(child)
            if found is not None:
                return found
    return None


def copy_extent(source: wq.Query, target: wq.Query) -> None:
    """Give ``target`` the place in the query text that ``source`` had (bare words are read from it)."""
    for name in ("startchar", "endchar"):
        if hasattr(source, name):
            setattr(target, name, getattr(source, name))


def _is_bare_word(query: wq.Query, text: str) -> bool:
    """A word typed without syntax: the parser's group of one word over the text fields."""
    start = getattr(query, "startchar", None)
    end = getattr(query, "endchar", None)
    if start is None or end is None or not isinstance(query, wq.Or) or isinstance(query, Should):
        return False
    if getattr(query, "boost", 1.0) != 1.0 or any(getattr(leaf, "boost", 1.0) != 1.0 for leaf in query.subqueries):
        return False  # word^2: the reader weighs it; kept as typed
    raw = text[start:end]
    if not raw or raw[0] in "\"'+-(" or ":" in raw:
        return False
    for leaf in query.subqueries:
        if not isinstance(leaf, (wq.Term, wq.Phrase)) or leaf.fieldname not in TEXT_FIELDS:
            return False
    return True


def _rewrite_group(group: Should, text: str) -> wq.Query:
    required: list[wq.Query] = []
    units: list[_Unit] = []
    for child in group.subqueries:
        if _is_bare_word(child, text):
            units.extend(_units(text[child.startchar:child.endchar]))
        else:
            required.append(rewrite(child, text))
    parts = list(required)
    if units:
        concepts = _concepts(units)
        parts.append(Concepts(concepts, minmatch=minimum_match(len(concepts))))
        near = _near(units)
        if near:
            parts[-1] = wq.AndMaybe(parts[-1], wq.Or(near))
    if not parts:
        return wq.NullQuery
    result = parts[0] if len(parts) == 1 else wq.And(parts)
    copy_extent(group, result)
    return result


def _units(raw: str) -> list[_Unit]:
    """The units of one typed word: one for an English word (several terms make a phrase: e-mobility),
    one per Lao word of a Lao run."""
    found = list(words(raw))
    if not found:
        return []
    if any(_is_lao(term) for term, _, _ in found):
        units: list[_Unit] = []
        latin: list[str] = []
        for term, start, end in found:
            if _is_lao(term):
                units.append(_Unit((term,), raw[start:end], True))
            else:
                latin.append(term)
        if latin:
            units.append(_Unit(tuple(latin), " ".join(latin), False))
        return units
    return [_Unit(tuple(term for term, _, _ in found), raw, False)]


def _is_lao(term: str) -> bool:
    return any("\u0e80" <= char <= "\u0eff" for char in term)


def _concepts(units: list[_Unit]) -> list[wq.Query]:
    """Concepts over consecutive units, each the longest phrase the vocabulary knows from there."""
    known = vocabulary()
    concepts: list[wq.Query] = []
    index = 0
    while index < len(units):
        taken, alternatives = 1, known.lookup(units[index].terms)
        for length in range(min(MAX_PHRASE, len(units) - index), 1, -1):
            key = tuple(term for unit in units[index:index + length] for term in unit.terms)
            found = known.lookup(key)
            if found:
                taken, alternatives = length, found
                break
        own_units = units[index:index + taken]
        own = _unit_query(own_units[0]) if taken == 1 else wq.And([_unit_query(u) for u in own_units])
        if alternatives:
            concepts.append(wq.Or([own, *(_alternative_query(a) for a in alternatives)]))
        else:
            concepts.append(own)
        index += taken
    return concepts


def _terms_query(field: str, found: Iterable[str], boost: float = 1.0) -> wq.Query:
    found = list(found)
    if len(found) == 1:
        return wq.Term(field, found[0], boost=boost)
    return wq.Phrase(field, found, boost=boost)


def _unit_query(unit: _Unit) -> wq.Query:
    """A unit in every text field: its terms, its reference words, and its Lao syllables."""
    alternatives = [_terms_query(field, unit.terms) for field in WORD_FIELDS]
    reference = [term for term, _, _, _ in reference_terms(unit.raw)]
    if reference:
        alternatives.append(_terms_query("reference", reference))
    if unit.lao:
        pieces = [piece for piece, _, _ in syllables(unit.raw)]
        if pieces:
            alternatives.append(_terms_query("syllables", pieces))
    return wq.Or(alternatives)


def _alternative_query(alternative: Alternative) -> wq.Query:
    return wq.Or([_terms_query(field, alternative.terms) for field in WORD_FIELDS], boost=alternative.weight)


def _near(units: list[_Unit]) -> list[wq.Query]:
    """Score-only phrases of consecutive single-term words, a few positions apart at most."""
    near: list[wq.Query] = []
    for first, second in zip(units, units[1:]):
        if len(first.terms) == 1 and len(second.terms) == 1 and first.terms != second.terms:
            for field in NEAR_FIELDS:
                near.append(Near(field, [first.terms[0], second.terms[0]], slop=NEAR_SLOP, boost=NEAR_WEIGHT))
    return near
