"""The search vocabulary: how the stemmer treats the domain's words, the synonym and bridge tables, and the
glossary that documents the bridge."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tracker.search.analysis import stem, terms
from tracker.search.expansion import minimum_match, vocabulary
from tracker.search.vocabulary import BRIDGE_WEIGHT, SYNONYM_WEIGHT, raw_vocabulary

GLOSSARY = Path(__file__).resolve().parents[2] / "docs" / "glossary.md"


@pytest.mark.parametrize("forms", [
    ("bus", "buses", "busses"), ("tax", "taxes", "taxation"), ("reduce", "reduced", "reducing", "reduction"),
    ("exempt", "exemption", "exemptions", "exempted"), ("subsidy", "subsidies", "subsidised", "subsidized"),
    ("charge", "charges", "charging"), ("battery", "batteries"), ("recycle", "recycling", "recycled"),
    ("register", "registered", "registration"), ("vehicle", "vehicles"), ("motorcycle", "motorcycles"),
    ("standard", "standards"), ("tariff", "tariffs"), ("duty", "duties"), ("import", "imports", "imported"),
    ("incentive", "incentives"), ("policy", "policies"), ("regulation", "regulations"), ("emission", "emissions"),
    ("electrify", "electrified", "electrification"), ("manufacture", "manufacturer", "manufacturing"),
    ("gas", "gases"), ("charger", "chargers"), ("target", "targets"), ("truck", "trucks"),
])
def test_the_forms_of_a_domain_word_meet_in_one_stem(forms):
    assert len({stem(word) for word in forms}) == 1, {word: stem(word) for word in forms}


@pytest.mark.parametrize("one, other", [
    ("bus", "business"), ("policy", "police"), ("charge", "charger"), ("import", "important"),
    ("tax", "taxi"), ("standard", "standardisation"), ("gas", "gasoline"),
])
def test_words_of_different_meaning_keep_apart(one, other):
    assert stem(one) != stem(other)


def test_every_term_of_the_vocabulary_means_something_to_the_index():
    raw = raw_vocabulary()
    for group in raw["synonyms"]:
        for term in group["terms"]:
            assert terms(term), term
    for entry in raw["bridge"]:
        assert entry["en"] and entry["lo"], entry
        for term in entry["en"] + entry["lo"]:
            assert terms(term), term
        assert all(re.search("[\u0e80-\u0eff]", term) for term in entry["lo"]), entry
        assert not any(re.search("[\u0e80-\u0eff]", term) for term in entry["en"]), entry
    for word, base in raw["lemmas"].items():
        assert word.isascii() and word.isalpha() and base.isascii() and base.isalpha(), word


def test_neighbours_are_found_both_ways_and_weigh_less_than_the_word_typed():
    known = vocabulary()
    tariff = {alternative.terms: alternative.weight for alternative in known.lookup(tuple(terms("tariff")))}
    assert tariff[tuple(terms("duty"))] == SYNONYM_WEIGHT < 1
    duty = {alternative.terms for alternative in known.lookup(tuple(terms("duty")))}
    assert tuple(terms("tariff")) in duty
    station = {alternative.terms: alternative.weight
               for alternative in known.lookup(tuple(terms("charging station")))}
    assert station[tuple(terms("ສະຖານີສາກໄຟ"))] == BRIDGE_WEIGHT < SYNONYM_WEIGHT
    back = {alternative.terms for alternative in known.lookup(tuple(terms("ສະຖານີສາກໄຟ")))}
    assert tuple(terms("charging station")) in back
    # Either spelling of the Lao vowel AM is one term.
    assert known.lookup(tuple(terms("ນຳເຂົ້າ"))) == known.lookup(tuple(terms("ນໍາເຂົ້າ"))) != ()


def test_a_broader_word_finds_narrower_ones_but_not_the_reverse():
    known = vocabulary()
    xev = {alternative.terms for alternative in known.lookup(tuple(terms("xEV")))}
    assert tuple(terms("PHEV")) in xev and tuple(terms("BEV")) in xev
    phev = {alternative.terms for alternative in known.lookup(tuple(terms("PHEV")))}
    assert tuple(terms("xEV")) not in phev and tuple(terms("BEV")) not in phev


@pytest.mark.parametrize("count, needed", [(1, 1), (2, 2), (3, 2), (4, 3), (5, 3), (8, 6)])
def test_how_many_words_must_match(count, needed):
    assert minimum_match(count) == needed


def _glossary_table(heading: str) -> list[list[str]]:
    text = GLOSSARY.read_text(encoding="utf-8")
    section = text.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("|---")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[1:]]


def test_the_glossary_lists_exactly_the_bridge_terms():
    table = [(english, lao) for english, lao in _glossary_table("Search terms")]
    bridge = [(" / ".join(entry["en"]), " / ".join(entry["lo"])) for entry in raw_vocabulary()["bridge"]]
    assert table == bridge


@pytest.mark.parametrize("heading", ["Instrument types", "Legal statuses", "Vehicle classes"])
def test_the_vocabularies_of_the_glossary_are_bridged(heading):
    bridged = {(english.lower(), lao) for entry in raw_vocabulary()["bridge"]
               for english in entry["en"] for lao in entry["lo"]}
    for row in _glossary_table(heading):
        english, lao, code = row[:3]
        if code:  # the table's own heading row has no code
            assert (english.lower(), lao) in bridged, (english, lao)
