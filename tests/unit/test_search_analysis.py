"""Search analysis, query parsing, parameters and highlighting, without a database."""
from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from tracker.errors import Invalid
from tracker.search.analysis import (
    ReferenceAnalyzer,
    TextAnalyzer,
    reference_terms,
    syllable_terms,
    syllables,
    terms,
    words,
)
from tracker.search.highlight import Terms, _render, _spans
from tracker.search.index import IndexState
from tracker.search.query import QueryError, has_text, parse
from tracker.search.request import SearchRequest, parse_search_args

SENTENCE = "ລັດຖະບານອອກນະໂຍບາຍສົ່ງເສີມການນຳໃຊ້ລົດໄຟຟ້າ"
MIXED = [
    "Charging stations for electric vehicles in the Lao PDR",
    SENTENCE,
    "ພາສີ 0% EV ແລະ ນະໂຍບາຍລົດໄຟຟ້າ (Decree No. 1283/PM) — 2023",
    "ການນໍາໃຊ້ລົດໄຟຟ້າ ໜ່ວຍງານ ຫນ່ວຍງານ ເລກທີ ໑໒໘໓",
    "Việt Nam xe điện, ＥＶ fullwidth, e-mobility, TR25, 30@30, 3.5%",
    "",
    "The of and",
]


def texts(triples) -> list[str]:
    return [text for text, _, _ in triples]


def test_lao_is_segmented_into_dictionary_words_with_offsets_into_the_original_text():
    found = list(words(SENTENCE))
    assert texts(found) == ["ລັດຖະບານ", "ອອກ", "ນະໂຍບາຍ", "ສົ່ງເສີມ", "ການ", "ນຳໃຊ້", "ລົດໄຟຟ້າ"]
    assert all(SENTENCE[start:end] == word for word, start, end in found)


def test_both_spellings_of_lao_vowels_and_ligatures_give_the_same_terms():
    decomposed, composed = "ການນໍາໃຊ້ ຫນ່ວຍງານ ເລກທີ ໑໒໘໓", "ການນຳໃຊ້ ໜ່ວຍງານ ເລກທີ 1283"
    assert texts(words(decomposed)) == texts(words(composed)) == ["ການ", "ນຳໃຊ້", "ໜ່ວຍງານ", "ເລກທີ", "1283"]
    # Offsets still point at the text as written (two characters for the decomposed vowel).
    _, start, end = list(words(decomposed))[1]
    assert decomposed[start:end] == "ນໍາໃຊ້"


def test_mixed_lao_english_and_numbers():
    assert texts(words("ພາສີ 0% EV")) == ["ພາສີ", "0", "ev"]
    assert texts(words("EVs charging the vehicles")) == ["ev", "charg", "vehicl"]
    assert texts(words("Vehicles", stemmed=False)) == ["vehicles"]


def test_syllables_find_the_parts_of_compounds():
    assert syllable_terms("ລົດໄຟຟ້າ") == ["ລົດ", "ໄຟ", "ຟ້າ"]
    assert syllable_terms("ໄຟຟ້າ EV 2023") == ["ໄຟ", "ຟ້າ"]
    assert texts(syllables("EV ລົດໄຟຟ້າ")) == ["ລົດ", "ໄຟ", "ຟ້າ"]


@pytest.mark.parametrize("text", MIXED)
def test_the_fast_indexing_path_gives_exactly_the_terms_of_the_analyser(text):
    assert terms(text) == texts(words(text))
    assert terms(text, stemmed=False) == texts(words(text, stemmed=False))
    assert syllable_terms(text) == texts(syllables(text))
    assert [t.text for t in TextAnalyzer()(text)] == terms(text)


def test_references_give_numbers_words_and_the_initials_of_named_acts():
    found = {term: position for term, _, _, position in reference_terms("Republic Act No. 11697")}
    assert found == {"republic": 0, "act": 1, "ra": 1, "11697": 2}
    # "RA 11697" as a phrase: the initials sit right before the number.
    assert [(t.text, t.pos) for t in ReferenceAnalyzer()("RA 11697", positions=True)] == [("ra", 0), ("11697", 1)]
    assert {t for t, *_ in reference_terms("Prime Ministerial Decree No. 231")} >= {"pmd", "md", "231"}
    assert {t for t, *_ in reference_terms("No. 1283/DIMEX (Lao text: ເລກທີ 1283/ກຂອ)")} >= {"1283", "dimex", "ເລກທີ"}
    assert "no" not in {t for t, *_ in reference_terms("Order No. 62/2022")}


def test_the_analyzer_keeps_positions_and_offsets_and_leaves_prefixes_whole():
    tokens = [(t.text, t.pos, t.startchar, t.endchar)
              for t in TextAnalyzer()("ນະໂຍບາຍ EV charging", positions=True, chars=True)]
    assert tokens == [("ນະໂຍບາຍ", 0, 0, 7), ("ev", 1, 8, 10), ("charg", 2, 11, 19)]
    assert [t.text for t in TextAnalyzer()("Charg", tokenize=False)] == ["charg"]


@pytest.mark.slow
def test_the_lao_segmenter_runs_without_writing_to_home(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHAINLP")} | {"HOME": str(home)}
    code = ("from tracker.search.analysis import words; "
            "assert [w for w, _, _ in words('ລົດໄຟຟ້າ')] == ['ລົດໄຟຟ້າ']")
    subprocess.run([sys.executable, "-W", "error", "-c", code], check=True, env=env,
                   cwd=Path(__file__).resolve().parents[2])
    assert list(home.iterdir()) == []


def test_the_whoosh_and_lao_sources_compile_without_warnings_on_this_python():
    """Compile warnings (invalid escapes, `is` with a literal) appear only when a module is compiled;
    compile every module of the pinned libraries from source with warnings as errors."""
    import laonlp
    import whoosh

    for package in (whoosh, laonlp):
        root = Path(package.__file__).parent
        for path in root.rglob("*.py"):
            # Whoosh's bundled copy of pyparsing is never imported.
            if path.parent.name == "support" and path.name == "pyparsing.py":
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                compile(path.read_text(encoding="utf-8"), str(path), "exec")


def test_queries_parse_into_words_phrases_fields_and_prefixes():
    assert has_text(parse("charging stations"))
    assert not has_text(parse("country:LA status:in_force"))
    assert str(parse("country:LA")) == "country:la"
    assert "syllables:\"ໄຟ ຟ້າ\"" in str(parse("ໄຟຟ້າ"))
    assert "body:tax" == str(parse("summary:tax"))
    assert "title:charg*" in str(parse("charg*"))


@pytest.mark.parametrize("text, says", [
    ("the of", "no words to search for"),
    ("%%%", "no words to search for"),
    ("c*", "at least 2 letters"),
    ("state:draft", "cannot be searched"),
])
def test_queries_that_cannot_run_say_why(text, says):
    with pytest.raises(QueryError, match=says):
        parse(text)


def test_search_parameters_are_parsed_and_normalised():
    request = parse_search_args({"q": ["  ລົດໄຟຟ້າ "], "country": ["la", "TH"], "status": ["in_force"],
                                 "topic": ["Charging_Infrastructure"], "year": ["2023"], "type": ["policy"],
                                 "event": ["lao-ev-forum-2022"], "sort": ["latest"], "page": ["2"],
                                 "per_page": ["5"]})
    assert request == SearchRequest(q="ລົດໄຟຟ້າ", countries=("LA", "TH"), statuses=("in_force",),
                                    topics=("charging_infrastructure",), years=(2023,), types=("policy",),
                                    events=("lao-ev-forum-2022",), sort="latest", page=2, per_page=5)
    assert parse_search_args({}) == SearchRequest()


def test_each_bad_search_parameter_is_named():
    with pytest.raises(Invalid) as caught:
        parse_search_args({"q": ["x" * 501], "country": ["X1"], "status": ["law"], "year": ["23"],
                           "type": ["page"], "sort": ["title"], "page": ["0"], "per_page": ["1000"],
                           "event": ["Not a key!"], "vehicle_class": ["plane"]})
    assert set(caught.value.errors) == {"q", "country", "status", "year", "type", "sort", "page", "per_page",
                                        "event", "vehicle_class"}
    assert "500" in caught.value.errors["q"]


def test_empty_parameters_are_any_on_forms_and_refused_by_the_api():
    assert parse_search_args({"country": [""], "q": [""]}) == SearchRequest()
    with pytest.raises(Invalid) as caught:
        parse_search_args({"country": [""]}, allow_empty=False)
    assert set(caught.value.errors) == {"country"}
    assert parse_search_args({"q": [""]}, allow_empty=False) == SearchRequest()


def test_highlights_mark_whole_words_and_escape_everything_else():
    terms_ = Terms.of(parse("standard <b>"))
    text = "EV <b>standard</b> & standardisation"
    spans = _spans(text, "title", terms_)
    assert str(_render(text, spans, cut=False)) == ("EV &lt;b&gt;<mark>standard</mark>&lt;/b&gt; &amp; "
                                                    "standardisation")


def test_highlights_mark_the_neighbours_a_query_word_also_found():
    terms_ = Terms.of(parse("charging"))
    text = "EV charging & chargers; EVSE"
    spans = _spans(text, "title", terms_)
    assert str(_render(text, spans, cut=False)) == ("EV <mark>charging</mark> &amp; <mark>chargers</mark>; "
                                                    "<mark>EVSE</mark>")


def test_a_lao_syllable_match_marks_the_whole_word_that_contains_it():
    text = "ນະໂຍບາຍລົດໄຟຟ້າ ແລະ ລາຄາໄຟຟ້າ"
    spans = _spans(text, "title", Terms.of(parse("ໄຟຟ້າ")))
    assert [text[s:e] for s, e in spans] == ["ລົດໄຟຟ້າ", "ໄຟຟ້າ"]


def test_long_summaries_are_cut_around_the_first_match():
    text = " ".join(["filler"] * 100) + " battery swapping " + " ".join(["filler"] * 100)
    html = str(_render(text, _spans(text, "body", Terms.of(parse("swapping"))), cut=True))
    assert html.startswith("…") and html.endswith("…") and "<mark>swapping</mark>" in html
    assert len(html) < 320


def test_nothing_under_not_is_highlighted():
    terms_ = Terms.of(parse("tax NOT excise"))
    assert "excis" not in terms_.exact.get("title", set()) and "tax" in terms_.exact["title"]


def test_the_index_state_round_trips():
    state = IndexState(high=42, gaps={40: 1.5, 41: 2.0}, built_at=3.0)
    assert IndexState.from_stored(state.to_stored()) == state
