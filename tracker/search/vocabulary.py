"""The search vocabulary (vocabulary.toml): lemmas for the stemmer, domain synonyms, English–Lao bridge terms."""
from __future__ import annotations

import functools
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import resources

# How much a neighbour counts against the reader's own word (1.0): enough to find the record, not
# enough to rank it above one with the reader's word.
SYNONYM_WEIGHT = 0.5
NARROWER_WEIGHT = 0.4
BRIDGE_WEIGHT = 0.35
# The longest phrase of the vocabulary, in terms: query runs longer than this are never looked up.
MAX_PHRASE = 5

Key = tuple[str, ...]


@dataclass(frozen=True)
class Alternative:
    """Another way to say a concept: its terms (a phrase when several) and its weight."""

    terms: Key
    weight: float
    kind: str   # "synonym" | "narrower" | "bridge"


@dataclass(frozen=True)
class Vocabulary:
    """The vocabulary analysed into terms: alternatives by the terms of the words people type."""

    alternatives: dict[Key, tuple[Alternative, ...]]
    known: frozenset[str]   # every term that appears in the vocabulary (never "corrected" as a typo)

    def lookup(self, key: Key) -> tuple[Alternative, ...]:
        return self.alternatives.get(key, ())


@functools.cache
def raw_vocabulary() -> dict[str, object]:
    """The parsed vocabulary.toml."""
    text = resources.files("tracker.search").joinpath("vocabulary.toml").read_text("utf-8")
    return tomllib.loads(text)


@functools.cache
def lemmas() -> dict[str, str]:
    """English word -> the word whose stem it takes."""
    table = raw_vocabulary().get("lemmas", {})
    assert isinstance(table, dict)
    return {str(word).lower(): str(base).lower() for word, base in table.items()}


@functools.cache
def stems() -> dict[str, str]:
    """English word -> the stem to index it under (where Porter's would meet a word of another meaning)."""
    table = raw_vocabulary().get("stems", {})
    assert isinstance(table, dict)
    return {str(word).lower(): str(value).lower() for word, value in table.items()}


def build(analyse: Callable[[str], list[str]]) -> Vocabulary:
    """The vocabulary with every term analysed by ``analyse`` (the index's own analysis)."""
    raw = raw_vocabulary()
    found: dict[Key, dict[Key, Alternative]] = {}

    def add(source: Key, target: Key, weight: float, kind: str) -> None:
        if not source or not target or source == target:
            return
        alternatives = found.setdefault(source, {})
        previous = alternatives.get(target)
        if previous is None or previous.weight < weight:
            alternatives[target] = Alternative(target, weight, kind)

    def keys(terms: Iterable[object]) -> list[Key]:
        return [key for key in (tuple(analyse(str(term))) for term in terms) if key]

    for group in _tables(raw, "synonyms"):
        members = keys(group.get("terms", ()))
        for source in members:
            for target in members:
                add(source, target, SYNONYM_WEIGHT, "synonym")
    for entry in _tables(raw, "narrower"):
        sources = keys([entry.get("term", "")])
        for source in sources:
            for target in keys(entry.get("covers", ())):
                add(source, target, NARROWER_WEIGHT, "narrower")
    for entry in _tables(raw, "bridge"):
        english, lao = keys(entry.get("en", ())), keys(entry.get("lo", ()))
        for one, other in ((english, lao), (lao, english)):
            for source in one:
                for target in other:
                    add(source, target, BRIDGE_WEIGHT, "bridge")
        # Words of one language in one entry are neighbours too (charger, charging station).
        for same in (english, lao):
            for source in same:
                for target in same:
                    add(source, target, SYNONYM_WEIGHT, "synonym")
    alternatives = {source: tuple(sorted(targets.values(), key=lambda a: (-a.weight, a.terms)))
                    for source, targets in found.items()}
    known = frozenset(term for key in alternatives for term in key)
    return Vocabulary(alternatives, known)


def _tables(raw: dict[str, object], name: str) -> list[dict[str, Iterable[object]]]:
    tables = raw.get(name, [])
    assert isinstance(tables, list)
    return [table for table in tables if isinstance(table, dict)]
