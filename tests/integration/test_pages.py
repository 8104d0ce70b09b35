"""What a reader sees on each page: the records, their history, relations, forums and sources."""
from __future__ import annotations

import html as html_lib
import re

import pytest

from tests.factories import event_record, load, policy_record

LAO_POLICY = "la-gov-resolution-08-2021-ev-policy"


def text_of(response) -> str:
    """The page's text without tags, whitespace folded, for assertions about what a reader sees."""
    html = response.get_data(as_text=True)
    return html_lib.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


def test_home_page_counts_policies_by_country_and_status(client, demo_data):
    response = client.get("/")
    assert response.status_code == 200
    page = text_of(response)
    assert f"{len(demo_data['policies'])} laws, decrees" in page
    assert "Policies by country and legal status" in page
    lao_total = sum(1 for p in demo_data["policies"] if p["country"] == "LA")
    html = response.get_data(as_text=True)
    assert f'href="/policies?country=LA">{lao_total}</a>' in html
    assert "Latest status changes" in page and "Upcoming expiries" in page


def test_home_page_lists_upcoming_expiries_soonest_first(client, session):
    load(session, policies=[
        policy_record("ends-later", valid_from="2030-01-01", valid_to="2099-12-31", title_en="Ends later"),
        policy_record("ends-sooner", valid_from="2030-01-01", valid_to="2098", title_en="Ends sooner"),
        policy_record("already-ended", valid_from="2001", valid_to="2002-01-01", title_en="Already ended"),
    ])
    page = text_of(client.get("/"))
    expiries = page.split("Upcoming expiries", 1)[1]
    assert "Already ended" not in expiries
    assert "Ends sooner" not in expiries or expiries.index("Ends sooner") > 0


def test_policy_list_filters_sorts_and_paginates(client, demo_data):
    laos = [p for p in demo_data["policies"] if p["country"] == "LA"]
    page = text_of(client.get("/policies?country=LA"))
    assert f"{len(laos)} policies match these filters" in page
    in_force = [p for p in laos if p["status"] == "in_force"]
    page = text_of(client.get("/policies?country=LA&status=in_force"))
    assert f"{len(in_force)} {'policy' if len(in_force) == 1 else 'policies'} match" in page
    for policy in in_force:
        assert policy["title_en"] in page

    first = text_of(client.get("/policies?sort=title&per_page=5"))
    second = text_of(client.get("/policies?sort=title&per_page=5&page=2"))
    titles = sorted((p["title_en"] for p in demo_data["policies"]), key=str.lower)
    assert titles[0].split("(")[0].strip()[:30] in first
    assert titles[5].split("(")[0].strip()[:30] in second
    assert "Next →" in first and "← Previous" in second


def test_filters_by_topic_vehicle_class_instrument_and_year(client, session):
    load(session, policies=[policy_record("filter-me", country="TL", instrument="standard",
                                          topics=["battery_and_recycling"], vehicle_classes=["three_wheeler"])])
    for query in ("topic=battery_and_recycling", "vehicle_class=three_wheeler", "instrument=standard",
                  "year=2023", "country=TL"):
        assert "Test policy filter-me" in text_of(client.get(f"/policies?{query}")), query
    assert "Test policy filter-me" not in text_of(client.get("/policies?year=2019"))


@pytest.mark.parametrize("url, status, message", [
    ("/policies?country=XX", 400, "Unknown country 'XX'"),
    ("/policies?status=flying", 400, "Unknown status 'flying'"),
    ("/policies?year=abcd", 400, "year must be a four-digit year"),
    ("/policies?page=0", 400, "page must be a whole number"),
    ("/policies?per_page=5000", 400, "per_page must be a whole number from 1 to 100"),
    ("/policies?page=999", 404, "Page 999 does not exist"),
    ("/policies/no-such-policy", 404, "There is no policy with the key 'no-such-policy'"),
    ("/policies/%3Cscript%3E", 404, "There is no policy with the key &#39;&lt;script&gt;&#39;"),
    ("/events/no-such-event", 404, "There is no event with the key"),
    ("/countries/XX", 404, "There is no country or region with the code 'XX'"),
    ("/events?country=ZZ", 400, "Unknown country 'ZZ'"),
    ("/no/such/page", 404, "Not found"),
])
def test_bad_input_gets_a_clear_message_and_a_4xx(client, url, status, message):
    response = client.get(url)
    assert response.status_code == status
    assert response.mimetype == "text/html"
    assert message in (response.get_data(as_text=True) if "&lt;" in message else text_of(response))
    assert "Traceback" not in response.get_data(as_text=True)


def test_policy_page_shows_every_part_of_the_record(client, demo_data):
    record = next(p for p in demo_data["policies"] if p["key"] == LAO_POLICY)
    response = client.get(f"/policies/{LAO_POLICY}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    page = text_of(response)
    assert record["title_en"] in page
    assert f'<span lang="lo" class="lo">{record["title_lo"]}</span>' in html
    assert record["reference"] in page
    assert "Government of the Lao PDR" in page
    assert "Electricité du Laos" in page and "implementing" in page
    assert "4 October 2021" in page  # a dated step, shown as given
    assert "October 2021" in page  # a month-only step stays partial
    for step in record["status_history"]:
        assert step["note"] in page
    for conflict in record["conflicts"]:
        assert conflict.split("'")[0] in page
    assert "How certain is this record?" in page
    for source in record["sources"]:
        assert source["url"] in html
    assert "Discussed at" in page and "National Workshop on Transitioning to Electric Mobility" in page


def test_relations_show_in_both_directions(client, session):
    load(session, policies=[
        policy_record("old-decree", title_en="The old decree"),
        policy_record("new-decree", title_en="The new decree",
                      relations=[{"type": "cancels", "target": "old-decree", "target_reference": None},
                                 {"type": "pursuant_to", "target": None, "target_reference": "Law No. 1/2020"}]),
    ])
    new_page = text_of(client.get("/policies/new-decree"))
    assert "Cancels The old decree" in new_page
    assert "Issued pursuant to Law No. 1/2020 (not in the tracker)" in new_page
    old_page = text_of(client.get("/policies/old-decree"))
    assert "Cancelled by The new decree" in old_page


def test_unknown_status_and_low_confidence_are_shown_plainly(client, session):
    load(session, policies=[policy_record(
        "uncertain", confidence="low", conflicts=["Two sources give different years."], status="unknown",
        status_history=[{"status": "unknown", "date": None, "note": "Nobody knows.", "source_url": None}])])
    page = text_of(client.get("/policies/uncertain"))
    assert "Confidence: Low — few or weak sources" in page
    assert "Two sources give different years." in page
    assert "Date not known" in page and "Unknown" in page


def test_event_page_shows_organisers_and_linked_policies_by_role(client, session):
    load(session, events=[event_record("test-forum", name_en="Forum of tests")],
         policies=[policy_record("born-at-forum", forum_links=[
             {"event": "test-forum", "role": "originated", "evidence": "Announced on stage.",
              "source_url": "https://example.org/forum"}])])
    page = text_of(client.get("/events/test-forum"))
    assert "Forum of tests" in page and "May 2024" in page
    assert "Organisers Ministry of Energy and Mines" in page
    assert "Originated at this event" in page
    assert "Test policy born-at-forum" in page and "Announced on stage." in page
    policy_page = text_of(client.get("/policies/born-at-forum"))
    assert "Originated at Forum of tests" in policy_page


def test_lao_ev_forums_are_listed_with_partial_dates(client):
    page = text_of(client.get("/events"))
    assert "1st Lao EV Forum" in page and "2nd Lao EV Forum" in page
    first = text_of(client.get("/events/lao-ev-forum-2022"))
    assert "2022" in first and "ກອງປະຊຸມເສວະນາຍານພາຫະນະໄຟຟ້າໃນລາວຄັ້ງທຳອິດ" in first


def test_country_page(client, demo_data):
    page = text_of(client.get("/countries/LA"))
    laos = [p for p in demo_data["policies"] if p["country"] == "LA"]
    assert "Lao PDR" in page and "ສປປ ລາວ" in page
    assert f"Policies ({len(laos)})" in page
    assert "1st Lao EV Forum" in page
    assert client.get("/countries/la").status_code == 200
    countries = text_of(client.get("/countries"))
    for name in ("Brunei Darussalam", "Cambodia", "Indonesia", "Lao PDR", "Malaysia", "Myanmar", "Philippines",
                 "Singapore", "Thailand", "Timor-Leste", "Viet Nam"):
        assert name in countries


def test_unpublished_records_are_invisible_to_anonymous_readers(client, session):
    load(session, policies=[policy_record("secret-draft", editorial_state="draft", title_en="Draft decree")])
    assert client.get("/policies/secret-draft").status_code == 404
    assert "Draft decree" not in text_of(client.get("/policies?country=TL"))
    assert client.get("/api/v1/policies/secret-draft").status_code == 404


def test_pages_send_security_headers_and_load_nothing_from_other_hosts(client):
    for url in ("/", "/policies", f"/policies/{LAO_POLICY}", "/events", "/events/lao-ev-forum-2023",
                "/countries/LA"):
        response = client.get(url)
        assert "default-src 'self'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        html = response.get_data(as_text=True)
        for match in re.finditer(r'<(?:script|link|img)[^>]+(?:src|href)="([^"]+)"', html):
            assert match.group(1).startswith("/"), match.group(0)


def test_static_files_are_fingerprinted_and_cached(client):
    html = client.get("/").get_data(as_text=True)
    href = re.search(r'href="(/static/css/app\.[0-9a-f]{12}\.css)"', html).group(1)
    response = client.get(href)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    response.close()
