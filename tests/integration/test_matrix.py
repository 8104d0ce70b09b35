"""The comparison matrix: counts and strongest statuses per country and dimension, empty cells that say why,
links to the filtered list, the CSV and the API, one aggregate query whatever the number of records."""
from __future__ import annotations

import csv
import io
import re

import pytest

from tests.factories import load, policy_record
from tracker.models.vocab import INSTRUMENTS, KIND_OF_INSTRUMENT, STATUS_STRENGTH
from tracker.services import matrix as matrix_service
from tracker.services.matrix import ExtraCell, MatrixFilter


def history(*steps: tuple[str, str | None]) -> list[dict]:
    return [{"status": status, "date": date, "note": None, "source_url": None} for status, date in steps]


@pytest.fixture
def timor(session, demo_data):
    """Timor-Leste with its one demo record taken back to draft, then three published instruments on two
    topics, with no vehicle class."""
    demo = [record | {"editorial_state": "draft"} for record in demo_data["policies"] if record["country"] == "TL"]
    load(session, policies=[*demo,
        policy_record("mx-decree", topics=["charging_infrastructure"], vehicle_classes=[], instrument="decree",
                      status="in_force", status_history=history(("drafting", "2021"), ("in_force", "2022-05-01"))),
        policy_record("mx-standard", topics=["charging_infrastructure"], vehicle_classes=[], instrument="standard",
                      status="consultation", status_history=history(("consultation", "2024-03"))),
        policy_record("mx-incentive", topics=["fiscal_incentives"], vehicle_classes=[], instrument="incentive",
                      status="adopted", status_history=history(("proposed", "2019"), ("adopted", "2023-09-01"))),
    ])
    session.commit()


def cells_of(client, query: str) -> dict[tuple[str, str], dict]:
    response = client.get(f"/api/v1/matrix?{query}")
    assert response.status_code == 200, response.get_json()
    return {(cell["row"], cell["column"]): cell for cell in response.get_json()["cells"]}


def test_rows_are_the_eleven_members_and_asean_lao_first(client):
    body = client.get("/api/v1/matrix").get_json()
    codes = [row["code"] for row in body["rows"]]
    assert len(codes) == 12 and codes[0] == "LA" and "ASEAN" in codes and "INTL" not in codes
    assert body["cols"] == "topic" and body["as_of"] is None
    assert body["status_strength"] == list(STATUS_STRENGTH)


def test_a_cell_counts_instruments_and_names_the_strongest_status(client, timor):
    cells = cells_of(client, "cols=topic")
    charging = cells[("TL", "charging_infrastructure")]
    assert (charging["count"], charging["strongest_status"], charging["state"]) == (2, "in_force", "some")
    assert cells[("TL", "fiscal_incentives")]["strongest_status"] == "adopted"
    # Timor-Leste has topics recorded, but none of these.
    assert cells[("TL", "vehicle_standards")]["state"] == "none"
    others = [cell for (row, _col), cell in cells.items() if row == "TL" and cell["count"] == 0]
    assert others and all(cell["state"] == "none" for cell in others)


def test_not_researched_differs_from_nothing_recorded(client, timor):
    # No vehicle class is recorded on any Timor-Leste instrument: the whole row is "not researched".
    cells = cells_of(client, "cols=vehicle_class")
    row = [cell for (code, _col), cell in cells.items() if code == "TL"]
    assert row and all(cell["state"] == "not_researched" and cell["count"] == 0 for cell in row)
    body = client.get("/api/v1/matrix?cols=vehicle_class").get_json()
    assert {r["code"]: r["researched"] for r in body["rows"]}["TL"] is False
    html = client.get("/compare?dimension=vehicle_class").get_data(as_text=True)
    timor_row = html[html.index('href="/countries/TL"'):]
    timor_row = timor_row[:timor_row.index("</tr>")]
    assert timor_row.count('class="not-researched"') == 6
    assert timor_row.count("Not researched") == 6 and "No instrument recorded" not in timor_row
    types = client.get("/compare?dimension=instrument").get_data(as_text=True)
    timor_types = types[types.index('href="/countries/TL"'):]
    timor_types = timor_types[:timor_types.index("</tr>")]
    assert "No instrument recorded" in timor_types and "Not researched" not in timor_types


def test_every_cell_says_something(client, timor):
    for dimension in matrix_service.DIMENSIONS:
        html = client.get(f"/compare?dimension={dimension}").get_data(as_text=True)
        tbody = html[html.index("<tbody>"):html.index("</tbody>")]
        for cell in re.findall(r"<td[^>]*>(.*?)</td>", tbody, re.S):
            assert re.sub(r"<[^>]+>", "", cell).strip(), dimension


def test_status_and_year_filters_and_as_of_narrow_the_cells(client, timor):
    in_force = cells_of(client, "cols=topic&status=in_force")
    assert in_force[("TL", "charging_infrastructure")]["count"] == 1
    assert in_force[("TL", "fiscal_incentives")]["state"] == "none"
    of_2024 = cells_of(client, "cols=topic&year=2024")
    assert of_2024[("TL", "charging_infrastructure")]["count"] == 1
    assert of_2024[("TL", "charging_infrastructure")]["strongest_status"] == "consultation"
    # On 31 December 2022 the standard did not exist yet and the incentive was only proposed.
    then = cells_of(client, "cols=topic&as_of=2022")
    charging = then[("TL", "charging_infrastructure")]
    assert (charging["count"], charging["strongest_status"]) == (1, "in_force")
    assert then[("TL", "fiscal_incentives")]["strongest_status"] == "proposed"
    before = cells_of(client, "cols=topic&as_of=2018")
    assert before[("TL", "charging_infrastructure")]["state"] == "none"


def test_kinds_cover_every_instrument_type_and_link_to_all_of_their_types(client, timor):
    assert set(KIND_OF_INSTRUMENT) == set(INSTRUMENTS)
    cells = cells_of(client, "cols=kind")
    legislation = cells[("TL", "legislation")]
    assert legislation["count"] == 1
    assert "instrument=law" in legislation["html_url"] and "instrument=decree" in legislation["html_url"]
    assert cells[("TL", "standard")]["count"] == 1 and cells[("TL", "incentive")]["count"] == 1
    assert cells[("TL", "target")]["state"] == "none"


def test_a_cell_links_to_the_list_of_exactly_what_it_counts_with_the_filter_kept(client, timor):
    html = client.get("/compare?dimension=topic&status=in_force&status=consultation&as_of=2024-12-31") \
        .get_data(as_text=True)
    link = re.search(r'href="(/policies\?country=TL&amp;topic=charging_infrastructure[^"]*)"', html)
    assert link, "no link from the cell"
    url = link.group(1).replace("&amp;", "&")
    assert "status=in_force" in url and "status=consultation" in url and "as_of=2024-12-31" in url
    listed = client.get(url).get_data(as_text=True)
    assert "mx-decree" in listed and "mx-standard" in listed and "mx-incentive" not in listed
    assert "2 policies match these filters" in listed


def test_the_page_is_a_captioned_table_with_headers_a_legend_and_a_scrolling_box(client):
    html = client.get("/compare").get_data(as_text=True)
    assert '<table class="matrix compare">' in html and "<caption" in html
    assert html.count('<th scope="row">') == 12 and '<th scope="col">' in html
    assert 'role="region"' in html and 'tabindex="0"' in html
    assert "How to read the table" in html and "Not researched" in html and "No instrument recorded" in html
    assert 'href="/compare"' in html and ">Compare</a>" in html  # in the menu
    assert "<script" not in html.split("</head>")[1]


def test_the_page_in_lao(client):
    client.set_cookie("lang", "lo")
    html = client.get("/compare?dimension=kind&as_of=2023-01-01").get_data(as_text=True)
    assert "1 ມັງກອນ 2023" in html
    assert "Compare countries" not in html and "Legislation" not in html


@pytest.mark.parametrize("query", ["dimension=bogus", "status=in_farce", "year=23", "as_of=2023-02-30",
                                   "as_of=2999"])
def test_bad_filters_are_a_400_naming_the_parameter(client, query):
    response = client.get(f"/compare?{query}")
    assert response.status_code == 400
    name = query.split("=")[0]
    assert name in response.get_data(as_text=True)
    api = client.get("/api/v1/matrix?" + query.replace("dimension", "cols"))
    assert api.status_code == 400
    assert name.replace("dimension", "cols") in api.get_json()["error"]["errors"]


def test_the_api_refuses_rows_other_than_country(client):
    response = client.get("/api/v1/matrix?rows=topic")
    assert response.status_code == 400 and "rows" in response.get_json()["error"]["errors"]


def test_the_csv_has_a_row_per_cell_with_stable_columns(client, timor):
    response = client.get("/compare.csv?dimension=topic&as_of=2022")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff") and "\r\n" in text
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert list(rows[0]) == [name for name, _meaning in matrix_service.MATRIX_COLUMNS] + ["headline_target"]
    charging = next(r for r in rows if r["country_code"] == "TL" and r["value_key"] == "charging_infrastructure")
    assert charging["instruments"] == "1" and charging["strongest_status"] == "in_force"
    assert charging["state"] == "some" and charging["as_of"] == "2022-12-31"
    assert len({r["country_code"] for r in rows}) == 12


def test_the_matrix_costs_one_aggregate_query_for_5_or_60_more_records(client, session, count_queries):
    def cost(url: str) -> tuple[int, list[str]]:
        count_queries.reset()
        assert client.get(url).status_code == 200
        return count_queries.count, [s for s in count_queries.statements if "GROUP BY" in s.upper()]

    url = "/api/v1/matrix?cols=topic&as_of=2025&status=in_force"
    load(session, policies=[policy_record(f"mx-few-{i}") for i in range(5)])
    session.commit()
    few, grouped = cost(url)
    assert len(grouped) == 1
    load(session, policies=[policy_record(f"mx-many-{i}") for i in range(60)])
    session.commit()
    many, grouped = cost(url)
    assert few == many and len(grouped) == 1


class HeadlineTarget:
    """An extra column as another part of the tracker would add it."""

    key = "test_extra"

    def label(self) -> str:
        return "Extra figure"

    def missing(self) -> str:
        return "No target recorded"

    def cells(self, session, codes, flt: MatrixFilter):
        return {"LA": ExtraCell("30% of new cars by 2030", "30% by 2030", "/policies?country=LA&instrument=target")}


def test_an_extra_column_shows_after_the_dimension_in_the_page_csv_and_api(client):
    matrix_service.register_extra_column(HeadlineTarget())
    try:
        html = client.get("/compare?dimension=kind&year=2020").get_data(as_text=True)
        assert '<th scope="col" class="extra">Extra figure</th>' in html
        assert "30% of new cars by 2030" in html and "No target recorded" in html
        header = client.get("/compare.csv?dimension=kind&year=2020").get_data(as_text=True).splitlines()[0]
        assert header.endswith(",headline_target,test_extra")
        body = client.get("/api/v1/matrix?cols=kind&year=2020").get_json()
        assert body["extra_columns"][1]["cells"]["LA"]["value"] == "30% by 2030"
    finally:
        matrix_service.unregister_extra_column("test_extra")


def test_the_headline_target_column_gives_each_country_its_headline_target_or_says_there_is_none(client):
    html = client.get("/compare").get_data(as_text=True)
    assert '<th scope="col" class="extra">Headline target</th>' in html
    body = client.get("/api/v1/matrix").get_json()
    column = next(extra for extra in body["extra_columns"] if extra["key"] == "headline_target")
    cells = column["cells"]
    # Demo data: Lao PDR's targets are recorded, Myanmar has none.
    assert cells["LA"]["url"].startswith("/policies/la-") and "@20" in cells["LA"]["value"]
    assert cells["MM"]["text"] == "No target recorded" and cells["MM"]["url"] is None
    assert f'href="{cells["LA"]["url"]}"' in html
    client.set_cookie("lang", "lo")
    lao = client.get("/compare").get_data(as_text=True)
    assert "ເປົ້າໝາຍຫຼັກ" in lao and "No target recorded" not in lao
