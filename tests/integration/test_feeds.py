"""The Atom change feed: valid Atom a feed reader can parse, stable ids, links to policy pages, filters."""
from __future__ import annotations

import datetime as dt

import pytest
from lxml import etree
from sqlalchemy import select

from tests.factories import event_record, load, policy_record
from tracker.models import Policy, StatusChange, User
from tracker.services import editing

ATOM = "{http://www.w3.org/2005/Atom}"
NS = {"a": "http://www.w3.org/2005/Atom"}
LAO_TITLE = "ດຳລັດວ່າດ້ວຍລົດໄຟຟ້າ ທົດສອບ ຟີດ"


def fetch(client, query: str = "", status: int = 200):
    response = client.get(f"/feeds/changes.atom{query}")
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    if status != 200:
        return response
    assert response.mimetype == "application/atom+xml"
    return etree.fromstring(response.data)


def entries(feed) -> list[dict]:
    """Each entry's id, title, updated time, alternate link, category terms and summary."""
    found = []
    for entry in feed.findall(f"{ATOM}entry"):
        link = entry.find("a:link[@rel='alternate']", NS)
        if link is None:
            link = entry.find("a:link", NS)
        found.append({
            "id": entry.findtext(f"{ATOM}id"), "title": entry.findtext(f"{ATOM}title"),
            "updated": dt.datetime.fromisoformat(entry.findtext(f"{ATOM}updated")),
            "link": link.get("href"), "terms": [c.get("term") for c in entry.findall(f"{ATOM}category")],
            "summary": entry.findtext(f"{ATOM}summary"),
        })
    return found


def keys(feed) -> set[str]:
    return {entry["link"].rsplit("/policies/", 1)[1] for entry in entries(feed)}


@pytest.fixture
def feed_data(session):
    """A forum and three policies: two in Timor-Leste (one linked to the forum), one draft."""
    load(session, events=[event_record("feed-forum")], policies=[
        policy_record("feed-tl-charging", title_lo=LAO_TITLE, topics=["charging_infrastructure"],
                      title_en="Zanzibarian charging decree",
                      forum_links=[{"event": "feed-forum", "role": "discussed", "evidence": None, "source_url": None}]),
        policy_record("feed-tl-tax", topics=["fiscal_incentives"], title_en="Feed test tax relief"),
        policy_record("feed-vn-draft", country="VN", editorial_state="draft", title_en="Feed test draft"),
    ])
    session.commit()


def test_the_feed_is_valid_atom_with_the_latest_changes_first(client, feed_data):
    feed = fetch(client)
    assert feed.tag == f"{ATOM}feed"
    assert feed.findtext(f"{ATOM}id").startswith("tag:")
    assert feed.findtext(f"{ATOM}title")
    assert feed.findtext(f"{ATOM}updated")
    assert feed.find(f"{ATOM}author/{ATOM}name").text
    self_link = feed.find("a:link[@rel='self']", NS)
    assert self_link is not None and self_link.get("href").endswith("/feeds/changes.atom")
    found = entries(feed)
    assert 0 < len(found) <= 50
    assert len({entry["id"] for entry in found}) == len(found), "entry ids are unique"
    for entry in found:
        assert entry["id"].startswith("tag:localhost,2026:status-change/")
        assert entry["title"]
        assert "/policies/" in entry["link"] and entry["link"].startswith("http")
    assert dt.datetime.fromisoformat(feed.findtext(f"{ATOM}updated")).tzinfo is not None
    assert all(entry["updated"].utcoffset() == dt.timedelta(0) for entry in found), "UTC, with its offset"
    times = [entry["updated"] for entry in found]
    assert times == sorted(times, reverse=True), "newest first"
    # The policies loaded by the test were recorded last, so they lead the feed.
    assert {"feed-tl-charging", "feed-tl-tax"} <= {entry["link"].rsplit("/", 1)[1] for entry in found[:6]}


def test_a_new_status_change_leads_the_feed_with_a_stable_id(app, client, session, feed_data):
    reviewer = session.scalar(select(User).where(User.role == "reviewer"))
    with app.app_context():  # the change is also recorded for subscribers, with links to the site
        change = editing.change_status(session, "feed-tl-tax", {
            "status": "suspended", "effective_on": "2026-10-01", "note": "Suspended for a review."}, reviewer)
        session.commit()
    first = entries(fetch(client))[0]
    assert first["id"] == f"tag:localhost,2026:status-change/{change.id}"
    assert first["link"] == "http://localhost/policies/feed-tl-tax"
    assert first["title"] == "Feed test tax relief: In force → Suspended"
    assert "2026" in first["summary"]
    assert "Suspended for a review." in first["summary"]
    # Asked again (and from the page cache), the entry keeps its id.
    again = entries(fetch(client))[0]
    assert again["id"] == first["id"]


def test_lao_titles_come_through_intact(client, feed_data):
    lao = entries(fetch(client, "?policy=feed-tl-charging&lang=lo"))
    assert lao and all(entry["title"].startswith(LAO_TITLE) for entry in lao)
    english = entries(fetch(client, "?policy=feed-tl-charging"))
    assert all(entry["title"].startswith("Zanzibarian charging decree") for entry in english)
    assert all(LAO_TITLE in entry["summary"] for entry in english)



def test_a_policy_titled_in_lao_only_has_its_lao_title_in_the_english_feed(client, session):
    load(session, policies=[policy_record("feed-lao-only", title_en=None, title_lo=LAO_TITLE)])
    session.commit()
    english = entries(fetch(client, "?policy=feed-lao-only"))
    assert english and all(entry["title"].startswith(LAO_TITLE) for entry in english)
    assert all(entry["summary"].startswith(LAO_TITLE) and "None" not in entry["summary"] for entry in english)

def test_filters_narrow_the_feed(client, feed_data):
    by_policy = fetch(client, "?policy=feed-tl-charging")
    assert keys(by_policy) == {"feed-tl-charging"}
    assert len(entries(by_policy)) == 3  # its whole status history
    assert by_policy.find("a:link[@rel='alternate']", NS).get("href") == "http://localhost/policies/feed-tl-charging"

    by_country = entries(fetch(client, "?country=TL"))
    assert by_country and all("TL" in entry["terms"] for entry in by_country)
    assert {"feed-tl-charging", "feed-tl-tax"} <= keys(fetch(client, "?country=tl"))

    by_topic = fetch(client, "?topic=fiscal_incentives&country=TL")
    assert "feed-tl-tax" in keys(by_topic) and "feed-tl-charging" not in keys(by_topic)
    assert all("fiscal_incentives" in entry["terms"] for entry in entries(by_topic))

    assert keys(fetch(client, "?event=feed-forum")) == {"feed-tl-charging"}
    assert keys(fetch(client, "?instrument=decree&country=TL")) >= {"feed-tl-charging", "feed-tl-tax"}


def test_only_published_policies_are_in_the_feed(client, session, feed_data):
    draft = session.scalar(select(Policy).where(Policy.key == "feed-vn-draft"))
    draft_ids = set(session.scalars(select(StatusChange.id).where(StatusChange.policy_id == draft.id)))
    assert draft_ids
    everything = entries(fetch(client, "?country=VN"))
    assert not {int(entry["id"].rsplit("/", 1)[1]) for entry in everything} & draft_ids
    response = fetch(client, "?policy=feed-vn-draft", status=404)
    assert "no published policy" in response.get_data(as_text=True)


def test_a_saved_search_narrows_the_feed(client, session, feed_data, search_index):
    search_index.sync()
    feed = fetch(client, "?q=zanzibarian")
    assert keys(feed) == {"feed-tl-charging"}
    assert "zanzibarian" in feed.findtext(f"{ATOM}title")
    assert keys(fetch(client, "?q=zanzibarian&country=VN")) == set()
    # The filters of the search page without words: the search page's "Alert me" feed.
    by_status = keys(fetch(client, "?status=in_force&country=TL"))
    assert {"feed-tl-charging", "feed-tl-tax"} <= by_status
    assert keys(fetch(client, "?status=repealed&country=TL")).isdisjoint({"feed-tl-charging", "feed-tl-tax"})


@pytest.mark.parametrize("query, field", [
    ("?country=XX", "country"), ("?topic=no_such_topic", "topic"), ("?instrument=edict", "instrument"),
    ("?lang=fr", "lang"), ("?colour=blue", "colour"), ("?status=dormant", "status"), ("?year=23", "year"),
    ("?q=***", "q"), ("?q=digest:abc", "q"), ("?q=meta:1", "q"), ("?q=sortkey:la", "q"),
])
def test_bad_parameters_get_a_clear_400(client, query, field):
    response = fetch(client, query, status=400)
    assert field in response.get_data(as_text=True)


def test_an_unknown_event_is_not_found(client):
    fetch(client, "?event=no-such-forum", status=404)


def test_the_feed_answers_conditional_requests(client, feed_data):
    first = client.get("/feeds/changes.atom?country=TL")
    etag = first.headers["ETag"]
    again = client.get("/feeds/changes.atom?country=TL", headers={"If-None-Match": etag})
    assert again.status_code == 304


def test_an_empty_feed_is_still_valid_atom(client):
    feed = fetch(client, "?q=qqqzzzxxyy")
    assert feed.findtext(f"{ATOM}updated") and feed.findtext(f"{ATOM}id")
    assert entries(feed) == []


def test_record_pages_link_their_feeds(client):
    policy = client.get("/policies/la-gov-resolution-08-2021-ev-policy").get_data(as_text=True)
    assert ('<link rel="alternate" type="application/atom+xml" title="Status changes of this page (Atom feed)" '
            'href="/feeds/changes.atom?policy=la-gov-resolution-08-2021-ev-policy">') in policy
    assert 'href="/subscribe?policy=la-gov-resolution-08-2021-ev-policy"' in policy
    country = client.get("/countries/LA").get_data(as_text=True)
    assert 'href="/feeds/changes.atom?country=LA"' in country and 'href="/subscribe?country=LA"' in country
    event = client.get("/events/lao-ev-forum-2023").get_data(as_text=True)
    assert 'href="/feeds/changes.atom?event=lao-ev-forum-2023"' in event
    assert 'href="/subscribe?event=lao-ev-forum-2023"' in event
    search = client.get("/search?q=charging&country=LA&sort=latest").get_data(as_text=True)
    assert 'href="/subscribe?q=charging&amp;country=LA"' in search
    assert 'href="/feeds/changes.atom?q=charging&amp;country=LA"' in search


def test_characters_xml_cannot_hold_do_not_break_the_feed(app, client, session, feed_data):
    # A note pasted from a PDF may carry a form feed or an escape character; XML has no room for them.
    reviewer = session.scalar(select(User).where(User.role == "reviewer"))
    with app.app_context():
        change = editing.change_status(session, "feed-tl-tax", {
            "status": "suspended", "effective_on": "2026-10-01",
            "note": "Page one\x0cpage two \x1b[0m ລົດໄຟຟ້າ 🚗"}, reviewer)
        session.commit()
    first = entries(fetch(client))[0]
    assert first["id"].endswith(f"/{change.id}")
    assert "Page one page two" in first["summary"] and "ລົດໄຟຟ້າ 🚗" in first["summary"]
    assert "\x0c" not in first["summary"] and "\x1b" not in first["summary"]
    assert entries(fetch(client, "?country=TL&lang=lo"))


def test_the_lao_feed_names_everything_in_lao(client, feed_data):
    feed = fetch(client, "?country=TL&lang=lo")
    title = feed.findtext(f"{ATOM}title")
    assert "ທິມໍ-ເລສເຕ" in title and "Timor-Leste" not in title
    charging = [entry for entry in entries(feed) if entry["link"].endswith("/feed-tl-charging")]
    assert charging and all(entry["title"].startswith(LAO_TITLE) for entry in charging)
    newest = charging[0]
    assert newest["title"] == f"{LAO_TITLE}: ຮັບຮອງແລ້ວ → ມີຜົນສັກສິດ"
    # The effective day in Lao (1 August 2023), statuses and labels in Lao; English only in the English title.
    assert "1 ສິງຫາ 2023" in newest["summary"] and "2023-08-01" not in newest["summary"]
    assert "ຮັບຮອງແລ້ວ → ມີຜົນສັກສິດ" in newest["summary"]  # its note, "In force.", is the record's own text
    for english in ("Country", "Legal status", "Effective", "Adopted", "August"):
        assert english not in newest["summary"], english
    labels = [category.get("label") for category in feed.find(f"{ATOM}entry").findall(f"{ATOM}category")]
    assert "ທິມໍ-ເລສເຕ" in labels

    def feed_title(query: str) -> str:
        return fetch(client, query).findtext(f"{ATOM}title")

    assert "ດຳລັດ" in feed_title("?instrument=decree&country=TL&lang=lo")
    assert "decree" not in feed_title("?instrument=decree&lang=lo").lower()
    assert "Decree" in feed_title("?instrument=decree") and "decree" not in feed_title("?instrument=decree")
    assert "ມາດຕະການຈູງໃຈດ້ານພາສີອາກອນ" in feed_title("?topic=fiscal_incentives&lang=lo")
    assert "ກອງປະຊຸມ" in feed_title("?event=feed-forum&lang=lo")
    assert LAO_TITLE in feed_title("?policy=feed-tl-charging&lang=lo")
    assert "Zanzibarian charging decree" in feed_title("?policy=feed-tl-charging")
