"""GET /api/v1/search: the shape of the answer, filters and facets, drafts, and strict parameters."""
from __future__ import annotations

import pytest

from tests.factories import event_record, load, policy_record

LAO_POLICY = "la-gov-resolution-08-2021-ev-policy"
CHARGING_PILOT = "la-edl-ev-lao-charging-pilot-2019"
FACETS = {"country", "status", "instrument", "topic", "vehicle_class", "year", "event"}
HIT_FIELDS = {"key", "type", "title_en", "title_lo", "country", "status", "score", "highlights", "url",
              "html_url", "matched_in", "passages"}


def search(client, headers=None, **params) -> dict:
    response = client.get("/api/v1/search", query_string=params, headers=headers or {})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    return response.get_json()


def keys(body: dict) -> list[str]:
    return [hit["key"] for hit in body["hits"]]


def test_the_answer_has_exactly_the_documented_shape(client):
    body = search(client, q="charging")
    assert set(body) == {"total", "page", "pages", "hits", "facets", "suggestion", "corrected", "corrections", "notice"}
    assert body["page"] == 1 and body["pages"] >= 1 and body["total"] >= len(body["hits"]) > 0
    assert body["suggestion"] is None
    assert set(body["facets"]) == FACETS
    for counts in body["facets"].values():
        assert all(isinstance(value, str) and isinstance(count, int) and count > 0
                   for value, count in counts.items())
    for hit in body["hits"]:
        assert set(hit) == HIT_FIELDS
        assert isinstance(hit["score"], float)
        assert all(isinstance(name, str) and isinstance(html, str)
                   for name, html in hit["highlights"].items())
    pilot = next(hit for hit in body["hits"] if hit["key"] == CHARGING_PILOT)
    assert pilot["type"] == "policy" and pilot["country"] == "LA" and pilot["status"] == "adopted"
    assert pilot["title_en"].startswith("EDL–EV Lao agreement on testing EV charging stations")
    assert pilot["url"] == f"http://localhost/api/v1/policies/{CHARGING_PILOT}"
    assert pilot["html_url"] == f"http://localhost/policies/{CHARGING_PILOT}"
    assert pilot["highlights"]["title_en"].startswith(
        "EDL–EV Lao agreement on testing EV <mark>charging</mark> <mark>stations</mark>")


def test_events_have_a_name_and_no_legal_status(client):
    body = search(client, q="forum", type="event")
    assert body["hits"] and all(hit["type"] == "event" and hit["status"] is None for hit in body["hits"])
    forum = next(hit for hit in body["hits"] if hit["key"] == "lao-ev-forum-2023")
    assert forum["title_en"] == "2nd Lao EV Forum"
    assert forum["title_lo"] == "ກອງປະຊຸມເສວະນາຍານພາຫະນະໄຟຟ້າ ຄັ້ງທີ 2"
    assert forum["url"].endswith("/api/v1/events/lao-ev-forum-2023")
    assert forum["highlights"]["name_en"] == "2nd Lao EV <mark>Forum</mark>"


def test_a_lao_title_finds_its_policy_first(client):
    body = search(client, q="ນະໂຍບາຍການນຳໃຊ້ລົດໄຟຟ້າ")
    assert body["hits"][0]["key"] == LAO_POLICY
    assert body["hits"][0]["title_lo"].startswith("ມະຕິວ່າດ້ວຍການຮັບຮອງ")
    assert "<mark>" in body["hits"][0]["highlights"]["title_lo"]


def test_titles_are_escaped_in_highlights(client, session, search_index):
    load(session, policies=[policy_record("api-search-xss",
                                          title_en="<img src=x onerror=alert(1)> Bilbycharger")])
    search_index.sync()
    hit = search(client, q="bilbycharger")["hits"][0]
    assert hit["title_en"] == "<img src=x onerror=alert(1)> Bilbycharger"
    assert hit["highlights"]["title_en"] == "&lt;img src=x onerror=alert(1)&gt; <mark>Bilbycharger</mark>"


def test_filters_narrow_the_results_to_the_facet_counts(client):
    everything = search(client, q="electric")
    lao = everything["facets"]["country"]["LA"]
    narrowed = search(client, q="electric", country="LA")
    assert narrowed["total"] == lao < everything["total"]
    assert {hit["country"] for hit in narrowed["hits"]} == {"LA"}
    in_force = search(client, q="electric", country="LA", status="in_force")
    assert in_force["total"] == narrowed["facets"]["status"]["in_force"]
    assert {hit["status"] for hit in in_force["hits"]} == {"in_force"}
    decrees = search(client, q="electric", instrument="decree", year="2021")
    assert 0 < decrees["total"] == decrees["facets"]["instrument"]["decree"]
    assert decrees["total"] == decrees["facets"]["year"]["2021"]


def test_several_values_of_a_filter_are_any_of_them(client):
    both = client.get("/api/v1/search?q=electric&country=LA&country=TH").get_json()
    assert both["total"] == (search(client, q="electric", country="LA")["total"]
                             + search(client, q="electric", country="TH")["total"])


def test_pages_do_not_overlap(client):
    first = search(client, q="electric", per_page=5)
    second = search(client, q="electric", per_page=5, page=2)
    assert first["pages"] == second["pages"] > 2 and second["page"] == 2
    assert len(second["hits"]) == 5
    assert not set(keys(first)) & set(keys(second))


def test_sorting_by_date_adopted(client):
    by_relevance = search(client, q="electric", country="LA", type="policy", per_page=100)
    by_adopted = search(client, q="electric", country="LA", type="policy", sort="adopted", per_page=100)
    assert sorted(keys(by_relevance)) == sorted(keys(by_adopted))
    assert keys(by_relevance) != keys(by_adopted)


def test_an_empty_query_lists_everything(client, demo_data):
    everything = len(demo_data["policies"]) + len(demo_data["events"])
    assert search(client)["total"] == search(client, q="")["total"] == everything


def test_a_misspelt_word_is_corrected_and_said_so(client):
    body = search(client, q="chargng")
    assert body["total"] > 0 and body["corrected"] == "charging" and body["suggestion"] is None
    assert body["corrections"] == [{"typed": "chargng", "searched": "charging"}]
    as_typed = search(client, q="chargng", verbatim="1")
    assert as_typed["total"] == 0 and as_typed["corrected"] is None and as_typed["suggestion"] == "charging"


@pytest.mark.parametrize("q", ["digest:abc", "meta:x", "latest:2023", "adopted:1", "sortkey:la", "state:draft"])
def test_internal_index_fields_are_a_400_naming_q(client, q):
    response = client.get("/api/v1/search", query_string={"q": q})
    assert response.status_code == 400
    assert set(response.get_json()["error"]["errors"]) == {"q"}


def test_a_query_of_punctuation_only_finds_nothing_and_says_why(client):
    body = search(client, q="®")
    assert body["total"] == 0 and body["hits"] == [] and "no words to search for" in body["notice"]


def test_drafts_are_found_with_a_staff_token_only(client, session, search_index, api_token):
    load(session, policies=[policy_record("api-search-draft", title_en="Numbatcharger draft rules",
                                          editorial_state="draft")],
         events=[event_record("api-search-draft-forum", name_en="Numbatcharger forum",
                              editorial_state="draft")])
    search_index.sync()
    assert search(client, q="numbatcharger")["total"] == 0
    assert search(client, headers=api_token("partner"), q="numbatcharger")["total"] == 0
    body = search(client, headers=api_token("editor"), q="numbatcharger")
    assert sorted(keys(body)) == ["api-search-draft", "api-search-draft-forum"]


@pytest.mark.parametrize("query, parameter", [
    ("q=x&country=L4", "country"),
    ("q=x&country=", "country"),
    ("q=x&status=flying", "status"),
    ("q=x&instrument=poem", "instrument"),
    ("q=x&topic=no+such+topic", "topic"),
    ("q=x&vehicle_class=boat", "vehicle_class"),
    ("q=x&year=12", "year"),
    ("q=x&event=%3Cscript%3E", "event"),
    ("q=x&type=person", "type"),
    ("q=x&sort=up", "sort"),
    ("q=x&sort=", "sort"),
    ("q=x&page=abc", "page"),
    ("q=x&page=", "page"),
    ("q=x&per_page=0", "per_page"),
    ("q=x&per_page=5000", "per_page"),
    ("q=c*", "q"),
    (f"q={'a' * 501}", "q"),
])
def test_bad_parameters_give_a_json_400_naming_the_parameter(client, query, parameter):
    response = client.get(f"/api/v1/search?{query}")
    assert response.status_code == 400
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert error["status"] == 400 and error["message"]
    assert set(error["errors"]) == {parameter}


def test_a_page_past_the_last_gives_a_json_404(client):
    response = client.get("/api/v1/search?q=electric&page=999")
    assert response.status_code == 404
    assert response.get_json()["error"]["message"].startswith("Page 999 does not exist")


def test_without_an_index_the_api_answers_503(committed_app):
    response = committed_app.test_client().get("/api/v1/search?q=charging")
    assert response.status_code == 503
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert error["status"] == 503
    assert error["message"].startswith("Search is unavailable for a few minutes")


def test_the_openapi_document_describes_the_search(client):
    operation = client.get("/api/v1/openapi.json").get_json()["paths"]["/search"]["get"]
    names = [parameter["name"] for parameter in operation["parameters"]]
    assert names == ["q", "country", "status", "instrument", "topic", "vehicle_class", "year", "event",
                     "type", "sort", "verbatim", "page", "per_page"]
    assert set(operation["responses"]) == {"200", "400", "401", "404", "503"}


@pytest.mark.parametrize("q", ["car (-bus)", "+(+bus)", "NOT NOT bus", "bus NOT NOT car", "[a TO z]", "((((",
                               "\"\"\"", "title:", "+the bus", "ລົດໄຟຟ້າ 🚗 +", "digest:x OR bus"])
def test_odd_queries_answer_results_or_a_clear_400_on_the_api_and_the_page(client, q):
    response = client.get("/api/v1/search", query_string={"q": q})
    assert response.status_code in (200, 400), (q, response.status_code)
    if response.status_code == 400:
        assert set(response.get_json()["error"]["errors"]) == {"q"}
    page = client.get("/search", query_string={"q": q})
    assert page.status_code == response.status_code
    if page.status_code == 400:
        assert 'class="error-message" id="search-q-error"' in page.get_data(as_text=True)
