"""The search service on the demo data and Lao fixtures: relevance, references, phrases, fields, facets,
typos, highlights, visibility, and the answers when the index cannot be trusted."""
from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select

from tests.factories import event_record, load, policy_record
from tracker.errors import Invalid, NotFound
from tracker.models import Policy
from tracker.models.vocab import LEGAL_STATUSES
from tracker.search import SearchUnavailable
from tracker.search.index import write_state
from tracker.search.request import SearchRequest
from tracker.search.runtime import runtime_of
from tracker.services.policies import get_policy
from tracker.services.search import search

LAO_FIXTURES = [
    # Only the compound ລົດໄຟຟ້າ (electric vehicle), never ໄຟຟ້າ (electricity) on its own.
    policy_record("lo-compound", title_en="Promotion decree", title_lo="ນະໂຍບາຍສົ່ງເສີມລົດໄຟຟ້າ",
                  summary_lo="ລັດຖະບານສົ່ງເສີມການນຳໃຊ້ລົດໄຟຟ້າ ທົ່ວປະເທດ", reference="No. LO-1"),
    # ໄຟຟ້າ on its own, no compound.
    policy_record("lo-electricity", title_en="Tariff notice", title_lo="ລາຄາໄຟຟ້າ ສຳລັບສະຖານີສາກ",
                  summary_lo="ກຳນົດລາຄາໄຟຟ້າ ສຳລັບ ສະຖານີສາກ", reference="No. LO-2"),
    policy_record("lo-tax", title_en="Import notice", title_lo="ພາສີນຳເຂົ້າ 0% ສຳລັບ EV",
                  summary_lo="ຫຼຸດພາສີ ນຳເຂົ້າ ລົດ EV ເປັນ 0%", reference="No. LO-3"),
    # The other spelling of the vowel AM (ໍາ instead of ຳ).
    policy_record("lo-spelling", title_en="Usage rules", title_lo="ລະບຽບການນໍາໃຊ້ພາຫະນະ",
                  summary_lo=None, reference="No. LO-4"),
]


@pytest.fixture
def find(app, session, search_index):
    """``find(q, **filters)`` -> SearchResults through the service, as a public reader by default."""

    def run(q: str = "", *, staff: bool = False, **fields):
        with app.test_request_context():
            return search(session, SearchRequest(q=q, **fields), include_unpublished=staff)

    return run


def keys(results) -> list[str]:
    return [hit.key for hit in results.hits]


@pytest.fixture
def lao(session, search_index):
    load(session, policies=LAO_FIXTURES)
    search_index.sync()


def test_a_lao_word_finds_compounds_that_contain_it(find, lao):
    found = keys(find("ໄຟຟ້າ", per_page=100))
    assert "lo-compound" in found and "lo-electricity" in found


def test_the_whole_compound_ranks_the_documents_with_the_compound_first(find, lao):
    found = [key for key in keys(find("ລົດໄຟຟ້າ", per_page=100)) if key.startswith("lo-")]
    assert found[0] == "lo-compound"
    assert "lo-electricity" not in found


def test_a_lao_phrase_typed_without_spaces_is_segmented(find, lao):
    assert keys(find("ສົ່ງເສີມລົດໄຟຟ້າ"))[0] == "lo-compound"


def test_highlights_land_on_whole_lao_words(find, lao):
    hit = next(hit for hit in find("ໄຟຟ້າ", per_page=100).hits if hit.key == "lo-compound")
    assert hit.highlights["title_lo"] == "ນະໂຍບາຍສົ່ງເສີມ<mark>ລົດໄຟຟ້າ</mark>"
    other = next(hit for hit in find("ໄຟຟ້າ", per_page=100).hits if hit.key == "lo-electricity")
    assert other.highlights["title_lo"] == "ລາຄາ<mark>ໄຟຟ້າ</mark> ສຳລັບສະຖານີສາກ"


def test_mixed_lao_english_and_numbers(find, lao):
    assert keys(find("ພາສີ 0% EV"))[0] == "lo-tax"


def test_either_spelling_of_a_lao_vowel_finds_the_other(find, lao):
    assert "lo-spelling" in keys(find("ການນຳໃຊ້ພາຫະນະ"))
    assert "lo-spelling" in keys(find("ນໍາໃຊ້"))


def test_english_words_are_stemmed_and_ranked(find):
    results = find("charging stations")
    assert results.total > 5
    assert "la-charging-station-standards" in keys(results)[:5]
    assert keys(find("charge station")) [:5] == keys(results)[:5]
    top = results.hits[0]
    assert any("<mark>charging</mark>" in html for html in top.highlights.values())


@pytest.mark.parametrize("q, expected", [
    ("1283", "la-dimex-notification-1283-2020"),
    ("RA 11697", "ph-ra-11697-evida"),
    ("11697", "ph-ra-11697-evida"),
    ('"RA 11697"', "ph-ra-11697-evida"),
    ("1169*", "ph-ra-11697-evida"),
    ("10/2022/ND-CP", "vn-decree-10-2022-registration-fee"),
    ("reference:61851", "iec-61851-1"),
])
def test_reference_numbers_exact_and_prefix(find, q, expected):
    assert keys(find(q))[0] == expected


def test_phrases_match_adjacent_words_in_long_documents(find, session, search_index):
    """Many paragraphs, and a word whose positions differ by 46 (the delta one fork's position
    encoding mistakes for the end of a pickle)."""
    filler = [f"clause{number}" for number in range(400)]
    words = filler[:3] + ["battery", "swapping"] + filler[3:44] + ["battery", "swapping"] + filler[44:]
    paragraphs = [" ".join(words[i:i + 60]) + "." for i in range(0, len(words), 60)]
    load(session, policies=[policy_record("long-phrase", summary_en="\n\n".join(paragraphs)),
                            policy_record("long-apart", summary_en="swapping " + " ".join(filler) + " battery")])
    search_index.sync()
    found = keys(find('"battery swapping"', per_page=100))
    assert "long-phrase" in found and "long-apart" not in found
    assert "long-apart" in keys(find("battery swapping", per_page=100))
    assert "long-phrase" not in keys(find('"swapping battery"', per_page=100))
    assert "long-phrase" in keys(find('"clause100 clause101"'))


def test_field_values_select_like_filters(find):
    results = find("country:LA status:in_force", per_page=100)
    assert results.total > 0
    for hit in results.hits:
        assert hit.record.jurisdiction_code == "LA" and hit.record.legal_status == "in_force"
    assert find("country:LA status:in_force").total == find(countries=("LA",), statuses=("in_force",),
                                                            types=("policy",)).total
    assert all(hit.record.instrument == "standard" for hit in find("instrument:standard", per_page=100).hits)
    assert all("charging_infrastructure" in hit.record.topic_keys
               for hit in find("topic:charging_infrastructure year:2023", per_page=100).hits)


def test_and_or_not_and_prefixes(find):
    tax = find("tax", per_page=100).total
    without = find("tax NOT Malaysia", per_page=100)
    assert 0 < without.total < tax
    assert all(hit.record.jurisdiction_code != "MY" for hit in without.hits)
    # Quoted, a word is searched as typed (no neighbours), as OR searches its words.
    assert find("excise OR tariff").total >= max(find('"excise"').total, find('"tariff"').total)
    assert find("charg*").total >= find("charging").total


def test_facets_count_the_current_query_and_filters(find):
    results = find("electric")
    assert set(results.facets) == {"country", "status", "instrument", "topic", "vehicle_class", "year", "event"}
    for country, count in list(results.facets["country"].items())[:4]:
        assert find("electric", countries=(country,)).total == count
    for status, count in results.facets["status"].items():
        assert status in LEGAL_STATUSES
        assert find("electric", statuses=(status,)).total == count
    narrowed = find("electric", countries=("LA",))
    assert set(narrowed.facets["country"]) == {"LA"}
    event, count = next(iter(find("").facets["event"].items()))
    assert find(events=(event,)).total == count


def test_an_unknown_word_is_searched_as_the_closest_known_word_and_said_so(find):
    typed = find("Cambodai EV tax")
    assert typed.corrected == "Cambodia EV tax" and typed.corrections == (("Cambodai", "Cambodia"),)
    assert typed.total > 0 and typed.hits[0].record.jurisdiction_code == "KH"
    assert keys(typed) == keys(find("Cambodia EV tax"))
    assert find("chargng").corrected == "charging"
    assert find("electrc vehicles").corrected == "electric vehicles"
    assert find("VIETNMA").corrected == "VIETNAM"


@pytest.mark.parametrize("q", ["bus", "buses", "charging", "tax", "ev", "2W", "11697", "ລົດໄຟຟ້າ", "charging point",
                               "subsidies for electric buses"])
def test_a_word_that_exists_is_never_corrected(find, q):
    results = find(q)
    assert results.corrected is None and results.corrections == ()


def test_verbatim_searches_the_words_as_typed_and_offers_the_correction(find):
    results = find("chargng", verbatim=True)
    assert results.total == 0 and results.corrected is None
    assert results.suggestion == "charging"


def test_corrections_come_only_from_records_the_reader_may_see(find, session, search_index):
    load(session, policies=[policy_record("quokka-draft", title_en="Quokkaville tariff plan", editorial_state="draft"),
                            policy_record("wombat-archived", title_en="Wombatton levy", editorial_state="archived")])
    search_index.sync()
    for typo in ("Quokaville", "Wombaton"):
        public = find(typo)
        assert public.corrected is None and public.total == 0
        assert find(typo, verbatim=True).suggestion is None
    assert find("Quokaville", staff=True).corrected == "Quokkaville"


def test_sorting_by_latest_change_and_by_adoption(find):
    def dates(results, attribute):
        return [getattr(hit.record, attribute) for hit in results.hits]

    latest = [d for d in dates(find("electric", sort="latest", types=("policy",), per_page=50), "status_changed_on")]
    known = [d for d in latest if d is not None]
    assert known == sorted(known, reverse=True)
    adopted = [d for d in dates(find("", sort="adopted", types=("policy",), per_page=50), "adopted_on") if d]
    assert adopted == sorted(adopted, reverse=True)


def test_an_empty_query_lists_everything_latest_first(find, demo_data):
    results = find("", per_page=100)
    assert results.total == len(demo_data["policies"]) + len(demo_data["events"])
    assert find("", types=("event",)).total == len(demo_data["events"])


def test_pages_do_not_overlap_and_a_page_past_the_end_is_not_found(find):
    first, second = find("electric", per_page=5), find("electric", per_page=5, page=2)
    assert first.pages == second.pages > 1
    assert not set(keys(first)) & set(keys(second))
    with pytest.raises(NotFound):
        find("electric", per_page=5, page=first.pages + 1)


@pytest.mark.parametrize("q", ["a*", "digest:abc", "meta:x", "latest:2023", "sortkey:la", "state:draft",
                               "id:policy:1"])
def test_a_query_that_cannot_run_is_invalid_with_a_message(find, q):
    with pytest.raises(Invalid) as caught:
        find(q)
    assert set(caught.value.errors) == {"q"} and caught.value.message


@pytest.mark.parametrize("q", ["the", "%%%", "AND", "®", "of the"])
def test_a_query_with_nothing_to_search_for_finds_nothing_and_says_why(find, q):
    results = find(q)
    assert results.total == 0 and results.hits == []
    assert "no words to search for" in results.notice


def test_drafts_are_found_by_staff_only(find, session, search_index):
    load(session, policies=[policy_record("numbat-draft", title_en="Numbatcharger draft", editorial_state="draft")],
         events=[event_record("numbat-forum", name_en="Numbatcharger forum", editorial_state="in_review")])
    search_index.sync()
    assert find("numbatcharger").total == 0
    assert sorted(keys(find("numbatcharger", staff=True))) == ["numbat-draft", "numbat-forum"]


def test_what_the_database_no_longer_shows_is_dropped(find, session, search_index):
    policy = get_policy(session, "la-dimex-notification-1283-2020")
    policy.editorial_state = "draft"
    session.flush()  # not synced: the index still says published
    assert "la-dimex-notification-1283-2020" not in keys(find("1283"))


def test_hits_are_hydrated_in_one_query_per_record_type(find, count_queries):
    find("charging")  # warm
    count_queries.reset()
    results = find("charging", types=("policy",))
    assert results.hits and count_queries.count == 1
    hit = results.hits[0]
    assert hit.record.jurisdiction.code and isinstance(hit.record.topic_keys, list)


def test_the_searcher_is_reused_between_searches(find, app):
    replica = runtime_of(app).replica
    find("charging")
    first, _ = replica.searcher()
    find("battery")
    assert replica.searcher()[0] is first


def test_an_index_of_another_schema_version_refuses_to_serve(find, app, search_index):
    runtime = runtime_of(app)
    _, index = runtime.store.open_live()
    state = runtime.indexer._peek(index)
    writer = index.writer()
    state.schema = 0
    write_state(writer, state)
    writer.commit()
    with pytest.raises(SearchUnavailable) as caught:
        find("charging")
    assert caught.value.status_code == 503 and "search rebuild" in caught.value.message


def test_a_missing_index_is_unavailable(find, app, tmp_path):
    runtime = runtime_of(app)
    runtime.set_index_path(tmp_path / "nothing-here")
    with pytest.raises(SearchUnavailable) as caught:
        find("charging")
    assert "search rebuild" in caught.value.message


def test_a_reused_searcher_sees_an_updated_document_once_with_its_new_content(find, session, users,
                                                                              search_index):
    """Whoosh's own refresh() kept the deleted old version of an updated document visible."""
    assert keys(find("ph-crevi 11697", per_page=100)).count("ph-crevi") <= 1
    before = find("", per_page=100).total
    assert "ph-crevi" in keys(find("roadmap"))
    editing_title = "Echidna plan for electric vehicles"
    from tracker.services import editing

    editing.update_policy(session, "ph-crevi", {"title_en": editing_title}, users["reviewer"], None)
    search_index.sync()
    assert keys(find("echidna")) == ["ph-crevi"]
    assert find("", per_page=100).total == before
    assert keys(find("11697", per_page=100)).count("ph-crevi") == 1


def _in_whoosh_terms(query):
    from whoosh import query as wq

    from tracker.search.expansion import Concepts

    if isinstance(query, Concepts):
        children = [_in_whoosh_terms(child) for child in query.subqueries]
        return wq.Or([wq.And(list(chosen)) for chosen in itertools.combinations(children, query.minmatch)])
    if isinstance(query, (wq.AndNot, wq.AndMaybe)):
        return type(query)(_in_whoosh_terms(query.a), _in_whoosh_terms(query.b))
    if isinstance(query, wq.Not):
        return wq.Not(_in_whoosh_terms(query.query))
    if isinstance(query, wq.CompoundQuery):
        return type(query)([_in_whoosh_terms(child) for child in query.subqueries])
    return query


@pytest.mark.parametrize("q", ["electric", "charging stations", '"import duty"', '"electric vehicle" tax',
                               "tax NOT Malaysia", "excise OR tariff", "charg*", "ໄຟຟ້າ", "ລົດໄຟຟ້າ",
                               "country:LA status:in_force", "year:[2020 TO 2022]", "RA 11697", "title:(ev OR tax)",
                               '"battery swapping"~3 OR standard', "electric bus subsidies incentives",
                               "+charging station -Thailand", "ລົດໄຟຟ້ານຳເຂົ້າ ພາສີ", "EV import duty exemption"])
def test_the_bitmask_engine_matches_what_whoosh_matches(app, find, lao, q):
    """The engine evaluates queries itself (for speed); Whoosh's own matchers are the reference. Whoosh
    has no "at least m of these n": it is written out as an OR of every AND of m of them."""
    from tracker.search.engine import Collection
    from tracker.search.query import parse

    runtime = runtime_of(app)
    find("warm")  # opens this thread's searcher
    searcher, leaves = runtime.replica.searcher()
    query = parse(q)
    expected = {d for d in searcher.docs_for_query(_in_whoosh_terms(query))
                if not searcher.reader().is_deleted(d)}
    ours = set()
    for leaf, segment in zip(leaves, Collection(leaves, runtime.replica.terms, runtime.replica.stats()).segments):
        mask = segment.mask(query) & leaf.live
        ours |= {d + leaf.offset for d in range(leaf.data.size) if mask >> d & 1}
    assert ours == expected and expected


# ---------------------------------------------------------------------------------------------------
# Queries as people ask them: most of the words, plurals, neighbours, the other language


def _marsupials(**overrides):
    """Fixtures named with words no demo record uses, kept off the charging topic whose name every
    factory record otherwise carries."""
    return {"topics": ["fiscal_incentives"], "title_lo": None, "summary_en": "A record made for tests.",
            **overrides}


@pytest.fixture
def marsupials(session, search_index):
    load(session, policies=[
        policy_record("m-all", title_en="Quokka wombat numbat echidna rules", **_marsupials()),
        policy_record("m-three", title_en="Quokka wombat numbat notice", **_marsupials()),
        policy_record("m-two", title_en="Quokka wombat circular", **_marsupials()),
        policy_record("m-tariff", title_en="Bilby tariff schedule", **_marsupials()),
        policy_record("m-duty", title_en="Bilby duty schedule", **_marsupials()),
        policy_record("m-plain", title_en="Bilby schedule", **_marsupials()),
        policy_record("m-station", title_en="Dunnart charging station rules", **_marsupials()),
        policy_record("m-lao", title_en="Dunnart notice", **_marsupials(title_lo="ລະບຽບການ ສະຖານີສາກໄຟ")),
        policy_record("m-buses", title_en="Kowari buses", **_marsupials(vehicle_classes=["car"])),
    ])
    search_index.sync()


def test_most_of_the_words_match_and_more_matched_words_rank_first(find, marsupials):
    # Four words: three of them must match; all four rank above three.
    assert keys(find("quokka wombat numbat echidna")) == ["m-all", "m-three"]
    # Two words: both must match.
    assert keys(find("quokka echidna")) == ["m-all"]
    # Nothing has both words: records with either are found, rather than nothing.
    assert set(keys(find("numbat platypus", verbatim=True))) == {"m-all", "m-three"}


def test_strict_syntax_keeps_its_meaning(find, marsupials):
    assert keys(find('"quokka wombat numbat echidna"')) == ["m-all"]
    assert keys(find("quokka AND wombat AND numbat AND echidna")) == ["m-all"]
    assert keys(find("+echidna quokka wombat")) == ["m-all"]
    assert set(keys(find("quokka wombat -echidna"))) == {"m-three", "m-two"}
    assert keys(find('"tariff" bilby')) == ["m-tariff"]  # quoted: the word itself, no neighbours
    assert keys(find("bilby country:TL tariff")) == ["m-tariff", "m-duty"]
    assert all(hit.record.jurisdiction_code == "LA" for hit in find("bilby country:LA tariff").hits)


def test_a_neighbour_word_is_found_below_the_word_typed(find, marsupials):
    assert keys(find("bilby tariff")) == ["m-tariff", "m-duty"]
    assert keys(find("bilby duty")) == ["m-duty", "m-tariff"]


def test_an_english_query_finds_the_lao_term_below_the_english_one_and_back(find, marsupials):
    assert keys(find("dunnart charging station")) == ["m-station", "m-lao"]
    assert keys(find("dunnart ສະຖານີສາກໄຟ")) == ["m-lao", "m-station"]


def test_singular_and_plural_find_each_other(find, marsupials):
    assert keys(find("kowari bus")) == keys(find("kowari buses")) == ["m-buses"]


def test_the_everyday_questions_of_researchers_find_answers(find):
    """The questions that found nothing, or one record, when every word was required."""
    assert "la-charging-station-standards" in keys(find("charging point rules", per_page=10))
    assert keys(find("bus", per_page=100)) == keys(find("buses", per_page=100))
    assert find("bus").total == find("buses").total > 5
    assert find("subsidies for electric buses").total > 5
    assert find("Cambodai EV tax").hits[0].record.jurisdiction_code == "KH"
    assert find("bus").corrected is None


# ---------------------------------------------------------------------------------------------------
# Answers that depend on nothing but the query: clause order, the page asked for, odd syntax


@pytest.fixture
def phrases(session, search_index):
    records = [policy_record(f"ph-both-{n}", title_en=f"Notice {n}", **_marsupials(
        summary_en="The quokka wombat rule and the numbat echidna rule.")) for n in range(5)]
    records += [policy_record(f"ph-one-{n:03}", title_en=f"Circular {n}", **_marsupials(
        summary_en="Only the numbat echidna rule, said once." + " Filler text." * (n % 7)))
                for n in range(140)]
    load(session, policies=records)
    search_index.sync()


def test_the_order_of_alternatives_does_not_change_the_ranking(find, phrases):
    one = find('"quokka wombat" OR "numbat echidna"', per_page=100)
    other = find('"numbat echidna" OR "quokka wombat"', per_page=100)
    assert [(h.key, round(h.score, 9)) for h in one.hits] == [(h.key, round(h.score, 9)) for h in other.hits]
    assert {h.key for h in one.hits[:5]} == {f"ph-both-{n}" for n in range(5)}


@pytest.mark.parametrize("q", ["numbat echidna rule", '"quokka wombat" OR "numbat echidna"'])
def test_pages_follow_one_order_whatever_page_is_asked_for(find, phrases, q):
    whole = keys(find(q, per_page=100)) + keys(find(q, per_page=100, page=2))
    paged = [key for page in range(1, 9) for key in keys(find(q, per_page=20, page=page))]
    assert len(whole) == len(set(whole)) == 145
    assert paged == whole


@pytest.mark.parametrize("q", ["car (-bus)", "-(-bus)", "+(+bus)", "(+(+bus))", "NOT NOT bus", "bus NOT NOT car",
                               "+-word", "-\"phrase\"", "title:", "AND OR NOT", "((((", "\"\"\"", "*", "?"])
def test_odd_syntax_is_an_answer_or_a_clear_400_never_a_500(find, q):
    try:
        find(q)
    except Invalid as error:
        assert set(error.errors) == {"q"} and error.message


def test_a_required_stop_word_does_not_empty_the_query(find):
    assert find("+the bus").total == find("the bus").total == find("bus").total > 0


def test_a_range_over_too_many_words_is_refused(find):
    with pytest.raises(Invalid) as caught:
        find("[a TO z]")
    assert "covers too many words" in caught.value.errors["q"]


def test_a_saved_search_matcher_gives_each_search_its_own_answer(app, session):
    """One matcher runs every saved search of a notification against the changed policy; a search must
    never read what an earlier one matched."""
    from tracker.search.matching import SavedSearchMatcher

    policy = session.scalars(select(Policy).where(Policy.key == "asean-leaders-declaration-ev-ecosystem-2023")).one()
    queries = ["wombat", "electric", "tax", "vehicle", "motorcycle", "battery", "leaders declaration", "quokka",
               "ASEAN", "charging", "zzzz", "ecosystem", "bus", "decree"] * 3
    shared = SavedSearchMatcher(session, policy)
    try:
        together = [shared.matches(q, None) for q in queries]
    finally:
        shared.close()
    alone = []
    for q in queries:
        matcher = SavedSearchMatcher(session, policy)
        try:
            alone.append(matcher.matches(q, None))
        finally:
            matcher.close()
    assert together == alone and any(alone) and not all(alone)


def test_threads_decoding_one_term_s_positions_at_once_keep_its_cache_whole(app, find, phrases):
    """Every web thread shares the term cache: what one marks as decoded must be there for all."""
    import threading

    from tracker.search.caches import TermCache
    from tracker.search.engine import Collection

    runtime = runtime_of(app)
    find("warm")
    for _ in range(20):
        terms = TermCache()
        searcher, leaves = runtime.replica.searcher()
        segments = [Collection(leaves, terms, runtime.replica.stats()).segments for _ in range(8)]
        barrier = threading.Barrier(8)
        errors = []

        def decode(index: int, segments=segments, barrier=barrier, errors=errors) -> None:
            try:
                for segment in segments[index]:
                    docs = segment.term("body", "numbat").mask
                    barrier.wait(5)
                    # Each thread wants a different part of the term's documents.
                    wanted = docs & int("".join("1" if (bit + index) % 8 == 0 else "0"
                                                 for bit in range(docs.bit_length())) or "0", 2)
                    segment.positions("body", "numbat", wanted)
            except Exception as error:  # collected and asserted below
                errors.append(error)

        threads = [threading.Thread(target=decode, args=(index,)) for index in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert not errors
        for segment in segments[0]:
            data = segment.term("body", "numbat")
            from tracker.search.reader import bits_of

            covered = data.mask if data.covered == -1 else data.covered & data.mask
            assert not covered or data.values is not None and all(docnum in data.values for docnum in bits_of(covered))
    assert keys(find('"numbat echidna"', per_page=5))


def test_a_draft_does_not_shift_the_scores_a_public_reader_gets(find, session, search_index):
    """What drafts contain must not be readable from public scores: BM25 counts published records only."""
    load(session, policies=[policy_record("pub-numbat", title_en="Numbat charging notice", **_marsupials())])
    search_index.sync()
    before = [(hit.key, hit.score) for hit in find("numbat notice").hits]
    load(session, policies=[policy_record(f"draft-numbat-{n}", title_en="Numbat numbat plan",
                                          editorial_state="draft", **_marsupials()) for n in range(5)])
    search_index.sync()
    assert [(hit.key, hit.score) for hit in find("numbat notice").hits] == before
    assert {hit.key for hit in find("numbat", staff=True).hits} >= {f"draft-numbat-{n}" for n in range(5)}
