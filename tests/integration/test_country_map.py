"""The ASEAN map on the home page and the dashboard: figures from the database, measures, filters, bad input."""
from __future__ import annotations

import html
import re
from collections import Counter

import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from tests.factories import load, policy_record
from tracker.models import Jurisdiction, Policy

MEMBERS = ("LA", "BN", "KH", "ID", "MY", "MM", "PH", "SG", "TH", "TL", "VN")


def published(session) -> list[Policy]:
    """Published policies read plainly: the expected figures are counted here in Python."""
    return list(session.scalars(select(Policy).where(Policy.editorial_state == "published")
                                .options(selectinload(Policy.topic_links))))


def map_links(page: str) -> dict[str, str]:
    """{country code: accessible name} of every country link drawn on the map."""
    return {code: html.unescape(label) for code, label in re.findall(
        r'<a class="map-country" id="map-([A-Z]{2})" href="/countries/\1" aria-label="([^"]*)"', page)}


def map_table(page: str) -> dict[str, tuple[str, str]]:
    """{country code: (figure cell, published cell)} of the table under the map."""
    table = re.search(r'<table class="map-table">(.*?)</table>', page, re.S)
    assert table, "no map table"
    rows = re.findall(r'<th scope="row"><a href="/countries/([A-Z]{2})">[^<]*</a></th>\s*(.*?)</tr>',
                      table.group(1), re.S)
    cells = {}
    for code, rest in rows:
        values = [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", rest, re.S)]
        cells[code] = tuple(values) if len(values) == 2 else (values[0], "")
    return cells


def get(client, url: str, language: str = "en") -> str:
    response = client.get(url, headers={"Accept-Language": language})
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


def test_the_home_map_links_every_member_to_its_page_with_its_instruments_in_force(client, session):
    policies = published(session)
    in_force = Counter(p.jurisdiction_code for p in policies if p.legal_status == "in_force")
    totals = Counter(p.jurisdiction_code for p in policies)
    page = get(client, "/")
    links = map_links(page)
    assert set(links) == set(MEMBERS)
    names = {j.code: j.name_en for j in session.scalars(select(Jurisdiction))}
    for code in MEMBERS:
        count = in_force[code]
        expected = f"{names[code]}: {count} instrument{'s' if count != 1 else ''} in force"
        assert links[code] == expected
    table = map_table(page)
    assert {code: (int(figure), int(total)) for code, (figure, total) in table.items()} == {
        code: (in_force[code], totals[code]) for code in MEMBERS}
    # The measure's select offers "in force" (chosen) and every topic.
    assert re.search(r'<option value="" selected>Instruments in force</option>', page)
    assert 'value="charging_infrastructure"' in page
    # Every member's outline links to its page too; small members have a marker inside their link.
    assert set(re.findall(r'<a class="map-area" href="/countries/([A-Z]{2})" tabindex="-1"', page)) == set(MEMBERS)
    for code in ("SG", "BN"):
        link = re.search(rf'<a class="map-country" id="map-{code}".*?</a>', page, re.S)
        assert link and 'class="map-marker"' in link.group(0)
    assert "Natural Earth" in page and "do not imply" in page


def test_map_in_force_is_the_default_measure(client):
    assert map_links(get(client, "/?map=in_force")) == map_links(get(client, "/"))


def test_a_topic_colours_the_map_by_its_presence(client, session):
    topic = "charging_infrastructure"
    policies = published(session)
    with_topic = Counter(p.jurisdiction_code for p in policies if topic in {t.topic_key for t in p.topic_links})
    page = get(client, f"/?map_topic={topic}")
    links = map_links(page)
    for code in MEMBERS:
        assert re.fullmatch(rf".*: {with_topic[code]} polic(y|ies) on Charging infrastructure", links[code]), \
            links[code]
    assert {code: int(figure) for code, (figure, _total) in map_table(page).items()} == {
        code: with_topic[code] for code in MEMBERS}
    assert f'<option value="{topic}" selected>' in page
    # Two classes in the legend: none, or at least one; the countries with none are hatched.
    legend = re.search(r'<ul class="map-legend".*?</ul>', page, re.S).group(0)
    assert legend.count("<li>") == 2 and "1 or more" in legend
    absent = [code for code in MEMBERS if not with_topic[code]]
    present = [code for code in MEMBERS if with_topic[code]]
    assert absent and present
    for code in absent:
        assert re.search(rf'data-code="{code}"><path class="map-shape" d="[^"]+" fill="url\(#map-none\)"', page)
    for code in present:
        assert re.search(rf'data-code="{code}"><path class="map-shape" d="[^"]+" fill="#2a6fa8"', page)


def test_new_published_records_count_and_unpublished_ones_do_not(client, session):
    before = map_links(get(client, "/"))["TL"]
    adopted = [{"status": "adopted", "date": "2023", "note": None, "source_url": None}]
    load(session, policies=[policy_record("map-tl-1"), policy_record("map-tl-2"),
                            policy_record("map-tl-draft", editorial_state="draft"),
                            policy_record("map-tl-review", editorial_state="in_review"),
                            policy_record("map-tl-adopted", status="adopted", status_history=adopted)])
    session.commit()
    count = int(re.search(r": (\d+) instrument", before).group(1))
    after = map_links(get(client, "/"))["TL"]
    assert after == f"Timor-Leste: {count + 2} instruments in force"


def test_lao_readers_get_lao_country_names_on_the_map(client, session):
    page = get(client, "/", "lo")
    names = {j.code: j.name_lo for j in session.scalars(select(Jurisdiction))}
    for code in MEMBERS:
        assert f'data-name="{names[code]}"' in page


def test_the_dashboard_map_counts_what_its_filters_choose(client, session):
    topic = "fiscal_incentives"
    policies = [p for p in published(session) if topic in {t.topic_key for t in p.topic_links}
                and p.jurisdiction_code in ("LA", "TH")]
    in_force = Counter(p.jurisdiction_code for p in policies if p.legal_status == "in_force")
    page = get(client, f"/dashboard?country=LA&country=TH&topic={topic}")
    table = map_table(page)
    assert table["LA"][0] == str(in_force["LA"]) and table["TH"][0] == str(in_force["TH"])
    assert table["VN"] == ("Not in the filter", "")
    assert map_links(page)["VN"] == "Viet Nam: not in the filter"
    assert "Not in the filter" in re.search(r'<ul class="map-legend".*?</ul>', page, re.S).group(0)
    # The map's form keeps the dashboard's filters, and the filters' form keeps the map's measure.
    form = re.search(r'<form class="map-measure".*?</form>', page, re.S).group(0)
    assert 'action="/dashboard#map"' in form
    for name, value in (("country", "LA"), ("country", "TH"), ("topic", topic)):
        assert f'<input type="hidden" name="{name}" value="{value}">' in form
    page = get(client, "/dashboard?map_topic=import_rules")
    filters = re.search(r'<form class="filters inline".*?</form>', page, re.S).group(0)
    assert '<input type="hidden" name="map_topic" value="import_rules">' in filters


@pytest.mark.parametrize(("query", "parameter", "message"), [
    ("map=bogus", "map", "Unknown map 'bogus'. Accepted values: in_force, topic"),
    ("map_topic=bogus", "map_topic", "Unknown map topic 'bogus'. Accepted values: charging_infrastructure"),
    ("map=topic", "map_topic", "Choose a topic for map=topic"),
    ("map=in_force&map_topic=import_rules", "map", "Choose either map=in_force or a map topic, not both."),
])
@pytest.mark.parametrize("path", ["/", "/dashboard"])
def test_a_bad_map_choice_gets_a_400_that_says_what_is_accepted(client, path, query, parameter, message):
    response = client.get(f"{path}?{query}")
    assert response.status_code == 400
    assert message in html.unescape(response.get_data(as_text=True))


def test_the_outlines_cover_every_member_in_the_jurisdictions_table(session):
    from tracker.views.country_map import geometry

    members = set(session.scalars(select(Jurisdiction.code).where(Jurisdiction.kind == "member")))
    shapes = geometry()
    assert set(shapes.outlines) == members
    for code, outline in shapes.outlines.items():
        assert re.fullmatch(r"(m-?\d+,-?\d+l[-\d, ]+z)+", outline.d), code
        assert 0 <= outline.label[0] <= shapes.width and 0 <= outline.label[1] <= shapes.height
