"""What a reader sees when searching: results, highlights, facets, filters, sorting, pages and messages."""
from __future__ import annotations

import html as html_lib
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from tests.factories import event_record, load, policy_record
from tracker.models import Policy

LAO_POLICY = "la-gov-resolution-08-2021-ev-policy"
LAO_POLICY_TITLE = "Government resolution approving and announcing the policy on the use of electric vehicles"
LAO_POLICY_TITLE_LO = "ມະຕິວ່າດ້ວຍການຮັບຮອງ ແລະປະກາດໃຊ້ນະໂຍບາຍການນຳໃຊ້ລົດໄຟຟ້າຢູ່ ສປປ ລາວ"
CHARGING_PILOT = "la-edl-ev-lao-charging-pilot-2019"
CLOSING_WORKSHOP = "lao-gcf-emobility-closing-workshop-2024"
# A prefix of one letter would expand to most of the index: the service refuses it.
UNPARSABLE = "c*"


def text_of_html(html: str) -> str:
    """Text without tags, whitespace folded, for assertions about what a reader sees."""
    return html_lib.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


def text_of(response) -> str:
    return text_of_html(response.get_data(as_text=True))


def hits_of(response) -> list[str]:
    """The keys of the records the results link to, in order."""
    html = response.get_data(as_text=True)
    if '<ol class="hits"' not in html:
        return []
    results = html.split('<ol class="hits"', 1)[1].split("</ol>", 1)[0]
    return re.findall(r'<h3 class="hit-title"><a href="/(?:policies|events)/([^"]+)"', results)


def hit_html(response, key: str) -> str:
    """The markup of one hit."""
    html = response.get_data(as_text=True)
    for item in re.findall(r'<li class="hit hit-\w+">.*?</li>', html, re.S):
        if f'href="/policies/{key}"' in item or f'href="/events/{key}"' in item:
            return item
    raise AssertionError(f"{key} is not among the results")


def count_of(response) -> int:
    """The number of results the page announces."""
    match = re.search(r'<p class="count" role="status">\s*(?:No search words yet: [a-z ]*?)?(\d+)',
                      response.get_data(as_text=True))
    assert match, text_of(response)[:2000]
    return int(match.group(1))


def _links(html: str) -> list[tuple[str, str]]:
    return [(html_lib.unescape(href), text_of_html(inner).strip())
            for href, inner in re.findall(r'<a [^>]*?href="([^"]+)"[^>]*>(.*?)</a>', html, re.S)]


def link(response, text: str) -> str:
    """The href of the first link whose text contains ``text``."""
    for href, inner in _links(response.get_data(as_text=True)):
        if text in inner:
            return href
    raise AssertionError(f"no link with {text!r}")


def facet(response, name: str) -> dict[str, tuple[str, int | None]]:
    """One facet of the side panel: label -> (link, count)."""
    html = response.get_data(as_text=True)
    section = re.search(rf'<section class="facet" aria-labelledby="facet-{name}">(.*?)</section>', html, re.S)
    assert section, f"no {name} facet"
    values = {}
    for href, inner in re.findall(r'<a href="([^"]+)"[^>]*>(.*?)</a>', section.group(1), re.S):
        count = re.search(r'<span class="facet-count">(\d+)', inner)
        label = text_of_html(re.sub(r'<span class="(?:facet-count|visually-hidden)">.*?</span>', "", inner))
        values[label.strip()] = (html_lib.unescape(href), int(count.group(1)) if count else None)
    return values


def test_an_english_word_finds_a_demo_policy(client):
    response = client.get("/search?q=charging")
    assert response.status_code == 200
    assert CHARGING_PILOT in hits_of(response)
    page = text_of(response)
    assert "EDL–EV Lao agreement on testing EV charging stations" in page
    assert re.search(r"\d+ results for “charging” · page 1 of \d+\.", page)


def test_the_lao_title_finds_the_policy_first_with_its_titles_type_country_and_status(client):
    response = client.get("/search", query_string={"q": LAO_POLICY_TITLE_LO})
    assert response.status_code == 200
    assert hits_of(response)[0] == LAO_POLICY
    hit = hit_html(response, LAO_POLICY)
    assert LAO_POLICY_TITLE in text_of_html(hit)
    lao_title = re.search(r'<p class="subtitle" lang="lo">(.*?)</p>', hit, re.S)
    assert text_of_html(lao_title.group(1)).strip() == LAO_POLICY_TITLE_LO
    assert "<mark>" in lao_title.group(1)
    assert "Policy · Decision · Lao PDR" in text_of_html(hit)
    assert '<span class="status status-adopted">Adopted</span>' in hit


def test_a_part_of_a_lao_compound_finds_the_policy(client):
    # ໄຟຟ້າ (electricity) only occurs inside ລົດໄຟຟ້າ (electric vehicle) in the title.
    response = client.get("/search", query_string={"q": "ໄຟຟ້າ", "per_page": "100"})
    assert LAO_POLICY in hits_of(response)
    assert "<mark>" in hit_html(response, LAO_POLICY)


def test_the_query_stays_in_the_url_and_in_both_boxes(client):
    html = client.get("/search?q=charging+station&country=LA").get_data(as_text=True)
    assert re.search(r'<input type="search" id="search-q" name="q" value="charging station"', html)
    assert re.search(r'id="site-search-q" name="q"[^>]*value="charging station"', html, re.S)
    # The box on the results page keeps the filter in force when the words change.
    assert '<input type="hidden" name="country" value="LA">' in html


def test_highlights_mark_the_matched_word_and_titles_are_escaped(client, session, search_index):
    load(session, policies=[policy_record(
        "search-xss", title_en="<script>alert('x')</script> Quokkacharger rules",
        summary_en="Rules for every quokkacharger & <b>bold</b> claim.")])
    search_index.sync()
    response = client.get("/search?q=quokkacharger")
    assert hits_of(response) == ["search-xss"]
    html = response.get_data(as_text=True)
    assert "<script>alert" not in html and "<b>bold</b>" not in html
    hit = hit_html(response, "search-xss")
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; <mark>Quokkacharger</mark> rules" in hit
    assert "Rules for every <mark>quokkacharger</mark> &amp; &lt;b&gt;bold&lt;/b&gt; claim." in hit
    # Only the page's own markup and <mark> appear inside a hit.
    page_tags = {"li", "p", "span", "h3", "a", "mark", "dl", "div", "dt", "dd"}
    assert set(re.findall(r"</?([a-z0-9]+)", hit)) <= page_tags


def test_facets_count_the_results_and_their_links_narrow_them(client):
    everything = client.get("/search?q=electric")
    total = count_of(everything)
    lao_link, lao_count = facet(everything, "country")["Lao PDR"]
    assert 0 < lao_count < total

    narrowed = client.get(lao_link)
    assert narrowed.status_code == 200
    assert parse_qs(urlsplit(lao_link).query) == {"q": ["electric"], "country": ["LA"]}
    assert count_of(narrowed) == lao_count
    assert "with these filters" in text_of(narrowed)
    assert all(" · Lao PDR" in text_of_html(hit_html(narrowed, key)) for key in hits_of(narrowed))

    # The filter in force is listed with a link that removes it; its facet value now removes it too.
    assert link(narrowed, "Country: Lao PDR") == "/search?q=electric"
    assert facet(narrowed, "country")["Lao PDR"] == ("/search?q=electric", lao_count)
    assert count_of(client.get(link(narrowed, "Country: Lao PDR"))) == total


def test_the_event_facet_names_the_forum_and_narrows_to_its_policies(client):
    everything = client.get("/search")
    workshop = ("Validation Workshop and Closing Ceremony, Groundwork for E-mobility Investment in Lao PDR "
                "project")
    href, count = facet(everything, "event")[workshop]
    assert href == f"/search?event={CLOSING_WORKSHOP}"
    narrowed = client.get(href)
    assert count_of(narrowed) == count == 5
    assert "Forum or event: Validation Workshop and Closing Ceremony" in text_of(narrowed)


def test_two_filters_combine_and_each_can_be_removed(client):
    narrowed = client.get("/search?q=electric&country=LA&status=adopted")
    assert narrowed.status_code == 200
    page = text_of(narrowed)
    assert "Country: Lao PDR" in page and "Legal status: Adopted" in page
    assert link(narrowed, "Country: Lao PDR") == "/search?q=electric&status=adopted"
    assert link(narrowed, "Legal status: Adopted") == "/search?q=electric&country=LA"
    assert link(narrowed, "Remove all filters") == "/search?q=electric"
    # Values are read in either case, and removed whatever case the link that added them used.
    assert link(client.get("/search?q=electric&country=la&sort=latest"), "Country: Lao PDR") == (
        "/search?q=electric&sort=latest")
    both = count_of(narrowed)
    assert 0 < both < count_of(client.get("/search?q=electric&country=LA"))
    assert both < count_of(client.get("/search?q=electric&status=adopted"))


def test_the_type_filter_keeps_events_only(client):
    everything = client.get("/search?q=forum")
    response = client.get(facet(everything, "type")["Events"][0])
    assert urlsplit(response.request.url).query == "q=forum&type=event"
    assert "lao-ev-forum-2023" in hits_of(response)
    assert '<li class="hit hit-policy">' not in response.get_data(as_text=True)
    assert "Event · Forum · Lao PDR" in text_of_html(hit_html(response, "lao-ev-forum-2023"))


def test_sorting_by_latest_status_change_and_by_date_adopted(client, session):
    by_latest = client.get("/search?q=electric&country=LA&type=policy&sort=latest")
    assert by_latest.status_code == 200
    assert 'aria-current="true">Latest status change</a>' in by_latest.get_data(as_text=True)
    assert link(by_latest, "Date adopted") == "/search?q=electric&country=LA&type=policy&sort=adopted"
    assert link(by_latest, "Relevance") == "/search?q=electric&country=LA&type=policy"
    for sort, column in (("latest", Policy.status_changed_on), ("adopted", Policy.adopted_on)):
        keys = hits_of(client.get(f"/search?q=electric&country=LA&type=policy&sort={sort}"))
        assert len(keys) > 3
        dates = dict(session.execute(select(Policy.key, column).where(Policy.key.in_(keys))).all())
        known = [dates[key].earliest() for key in keys if dates[key] is not None]
        assert known == sorted(known, reverse=True), sort
        # Records without the date come last.
        assert all(dates[key] is None for key in keys[len(known):]), sort


def test_results_come_in_pages_with_links_between_them(client):
    first = client.get("/search?q=electric&per_page=5")
    assert first.status_code == 200
    total = count_of(first)
    assert total > 10
    assert "page 1 of" in text_of(first)
    second = client.get(link(first, "Next →"))
    assert urlsplit(second.request.url).query == "q=electric&per_page=5&page=2"
    assert "page 2 of" in text_of(second)
    assert len(hits_of(second)) == 5
    assert not set(hits_of(first)) & set(hits_of(second))
    assert link(second, "← Previous") == "/search?q=electric&per_page=5"
    assert '<ol class="hits" start="6">' in second.get_data(as_text=True)


def test_a_page_past_the_last_is_not_found(client):
    response = client.get("/search?q=electric&page=999")
    assert response.status_code == 404
    assert "Page 999 does not exist" in text_of(response)


def test_a_misspelt_word_is_corrected_with_a_link_to_search_it_as_typed(client):
    response = client.get("/search?q=chargng&country=LA")
    assert response.status_code == 200
    assert CHARGING_PILOT in hits_of(response)
    assert re.search(r"Showing results for charging ?\. Search instead for chargng", text_of(response))
    # "Alert me" saves the search that found these results, not the typo.
    assert "/subscribe?q=charging&amp;country=LA" in response.get_data(as_text=True)
    as_typed = client.get(link(response, "chargng"))
    assert urlsplit(as_typed.request.url).query == "q=chargng&country=LA&verbatim=1"
    assert hits_of(as_typed) == []
    assert re.search(r"Did you mean charging ?\?", text_of(as_typed))
    fixed = client.get(link(as_typed, "charging"))
    assert urlsplit(fixed.request.url).query == "q=charging&country=LA"
    assert CHARGING_PILOT in hits_of(fixed)


def test_the_correction_reads_in_lao(client):
    client.set_cookie("lang", "lo")
    response = client.get("/search?q=chargng")
    assert response.status_code == 200
    text = text_of(response)
    assert re.search(r"ສະແດງຜົນການຄົ້ນຫາສຳລັບ charging ?\. ຄົ້ນຫາຕາມທີ່ພິມແທນ: chargng", text)
    assert "Showing results for" not in text


def test_nothing_found_says_what_to_try(client):
    response = client.get("/search?q=zzyzx&country=LA")
    assert response.status_code == 200
    page = text_of(response)
    assert "0 results for “zzyzx” with these filters." in page
    assert "Nothing matches “zzyzx”." in page
    assert link(response, "Remove the filters") == "/search?q=zzyzx"


def test_an_empty_query_lists_every_record_with_a_hint(client, demo_data):
    response = client.get("/search")
    assert response.status_code == 200
    page = text_of(response)
    assert "No search words yet" in page and "Type words above to search them." in page
    assert count_of(response) == len(demo_data["policies"]) + len(demo_data["events"])
    in_laos = client.get("/search?q=&country=LA")
    assert count_of(in_laos) == (sum(1 for p in demo_data["policies"] if p["country"] == "LA")
                                 + sum(1 for e in demo_data["events"] if e["country"] == "LA"))


def test_an_unparsable_query_gets_the_search_page_with_what_is_wrong(client):
    response = client.get("/search", query_string={"q": UNPARSABLE, "country": "LA"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'class="alert alert-error" role="alert"' in html
    assert "This search could not be run. Put at least 2 letters before * (in 'c')." in text_of(response)
    # The box keeps the query to fix, points at the message, and the filter still rides along.
    assert re.search(r'id="search-q" name="q" value="c\*"[^>]*aria-describedby="search-help search-q-error"'
                     r'[^>]*aria-invalid="true"', html)
    assert '<p class="error-message" id="search-q-error">' in html
    assert '<input type="hidden" name="country" value="LA">' in html
    assert "<details class=\"search-help\" id=\"search-help\" open>" in html


def test_a_query_with_nothing_to_search_for_says_so(client):
    response = client.get("/search?q=the")
    assert response.status_code == 200 and hits_of(response) == []
    assert "The query has no words to search for" in text_of(response)


@pytest.mark.parametrize("url, parameter, message", [
    ("/search?q=x&country=L4", "country", "is not a country code"),
    ("/search?q=x&status=flying", "status", "Unknown status 'flying'"),
    ("/search?q=x&sort=up", "sort", "Unknown sort 'up'"),
    ("/search?q=x&page=0", "page", "page must be a whole number"),
    ("/search?q=x&year=20x3", "year", "year must be a four-digit year"),
])
def test_bad_filters_give_a_400_page_naming_the_parameter(client, url, parameter, message):
    response = client.get(url)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert f"<strong>{parameter}</strong>" in html
    assert message in text_of(response)


def test_drafts_are_found_by_staff_only(client, session, search_index, login_as):
    load(session, policies=[policy_record("search-draft", title_en="Wombatcharger draft rules",
                                          editorial_state="draft")],
         events=[event_record("search-draft-forum", name_en="Wombatcharger forum", editorial_state="draft")])
    search_index.sync()
    assert hits_of(client.get("/search?q=wombatcharger")) == []
    login_as("partner")
    assert hits_of(client.get("/search?q=wombatcharger")) == []
    login_as("editor")
    response = client.get("/search?q=wombatcharger")
    assert sorted(hits_of(response)) == ["search-draft", "search-draft-forum"]
    assert '<span class="editorial">Draft</span>' in hit_html(response, "search-draft")


@pytest.mark.parametrize("url", ["/", "/policies", f"/policies/{LAO_POLICY}", "/events",
                                 "/events/lao-ev-forum-2023", "/countries", "/countries/LA", "/login",
                                 "/policies/no-such-policy", "/search"])
def test_the_search_box_is_on_every_page(client, url):
    html = client.get(url).get_data(as_text=True)
    form = re.search(r'<form class="site-search" method="get" action="/search" role="search"[^>]*>'
                     r"(.*?)</form>", html, re.S)
    assert form, url
    box = re.search(r'<input type="search" id="site-search-q" name="q" aria-label="([^"]+)"', form.group(1))
    assert box and box.group(1) == "Search policies and events"


def test_without_an_index_the_search_page_says_so_with_a_503(committed_app):
    # This app's index has never been built.
    client = committed_app.test_client()
    response = client.get("/search?q=charging")
    assert response.status_code == 503
    page = text_of(response)
    assert "Search is unavailable for a few minutes while its index is being built." in page
    # What the operator needs (a path, a command) goes to the log, not to readers.
    assert "flask" not in page and committed_app.config["SEARCH_INDEX_PATH"] not in page
    assert client.get("/policies").status_code == 200


def test_the_page_runs_a_fixed_number_of_queries(client, session, search_index, count_queries):
    forum = [{"event": "lao-ev-forum-2023", "role": "discussed", "evidence": None, "source_url": None}]
    load(session, policies=[policy_record(f"search-qc-{i}", title_en=f"Platypuscharger rules {i}",
                                          forum_links=forum) for i in range(3)])
    search_index.sync()
    count_queries.reset()
    assert len(hits_of(client.get("/search?q=platypuscharger"))) == 3
    few = count_queries.count
    load(session, policies=[policy_record(f"search-qc-more-{i}", title_en=f"Platypuscharger more {i}",
                                          forum_links=forum) for i in range(30)])
    search_index.sync()
    count_queries.reset()
    assert len(hits_of(client.get("/search?q=platypuscharger&per_page=50"))) == 33
    assert count_queries.count == few <= 6, count_queries.statements


def test_without_words_the_latest_changes_come_first(client):
    response = client.get("/search?country=LA")
    html = response.get_data(as_text=True)
    assert 'aria-current="true">Latest status change</a>' in html
    assert ">Relevance</a>" not in html
    assert link(response, "Date adopted") == "/search?country=LA&sort=adopted"
