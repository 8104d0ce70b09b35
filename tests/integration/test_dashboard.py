"""The dashboard: its four figures against the database, its filters, tables, CSV downloads and query cost."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections import Counter

import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from tests.factories import load, policy_record
from tracker.models import Jurisdiction, Policy
from tracker.models.vocab import LEGAL_STATUSES
from tracker.services.tabular import neutralise

CHARTS = ("countries", "status-changes", "topics", "expiries", "targets")
HEADLINE = {"metric": "share_of_sales", "value": 30, "unit": "percent", "year": 2030, "vehicle_class": "car",
            "headline": True}
ENDED = {"repealed", "withdrawn", "superseded", "expired"}


def published(session) -> list[Policy]:
    """Every published policy with its history and topics, read plainly (the expected figures come from
    here, counted in Python, never from the dashboard's own GROUP BY queries)."""
    return list(session.scalars(
        select(Policy).where(Policy.editorial_state == "published")
        .options(selectinload(Policy.status_changes), selectinload(Policy.topic_links))))


def csv_rows(client, chart: str, query: str = "") -> list[list[str]]:
    response = client.get(f"/dashboard/{chart}.csv{query}")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))


def chart_data(client, query: str = "") -> dict:
    response = client.get(f"/dashboard{query}")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    match = re.search(r'<script type="application/json" id="dashboard-data">(.*?)</script>',
                      response.get_data(as_text=True), re.S)
    assert match
    return json.loads(match.group(1))


def countries_table(client, query: str = "") -> dict[str, dict[str, int]]:
    """The countries CSV as {code: {status key or 'total': count}}."""
    header, *rows = csv_rows(client, "countries", query)
    return {row[0]: {name: int(value) for name, value in zip(header[2:], row[2:])} for row in rows}


def expected_country_counts(policies: list[Policy]) -> Counter:
    return Counter((policy.jurisdiction_code, policy.legal_status) for policy in policies)


def expected_quarters(policies: list[Policy]) -> tuple[dict[int, list[int]], int]:
    """{year: [Q1, Q2, Q3, Q4, year only]} and the number of undated changes."""
    years: dict[int, list[int]] = {}
    undated = 0
    for policy in policies:
        for change in policy.status_changes:
            date = change.effective_on
            if date is None:
                undated += 1
                continue
            row = years.setdefault(date.year, [0, 0, 0, 0, 0])
            row[4 if date.month is None else (date.month - 1) // 3] += 1
    return years, undated


def quarters_table(client, query: str = "") -> dict[int, list[int]]:
    header, *rows = csv_rows(client, "status-changes", query)
    assert header == ["year", "q1", "q2", "q3", "q4", "quarter_unknown", "total"]
    table = {int(row[0]): [int(value) for value in row[1:6]] for row in rows}
    for row in rows:
        assert int(row[6]) == sum(int(value) for value in row[1:6])
    return table


# --- The page ------------------------------------------------------------------------------------------

def test_dashboard_shows_five_charts_each_with_table_csv_link_and_png_button(client):
    response = client.get("/dashboard")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for chart in CHARTS:
        assert f'<canvas id="chart-{chart}" role="img"' in html
        assert f'href="/dashboard/{chart}.csv"' in html
        # The PNG button needs JavaScript: it is hidden until dashboard.js has drawn the chart.
        assert re.search(rf'<button[^>]*data-png="{chart}"[^>]*hidden', html)
    assert html.count("<caption") == 6  # the five charts and the map
    assert html.count('<th scope="col"') >= 4 + 7 + 2 + 5
    assert '<th scope="row">' in html
    assert '<form class="filters inline" method="get" action="/dashboard"' in html
    assert 'aria-current="page">Dashboard</a>' in html


def test_the_page_needs_no_inline_script_or_style_and_loads_chart_js_only_here(client):
    html = client.get("/dashboard").get_data(as_text=True)
    # The strict CSP (script-src 'self'; style-src 'self') allows only files and data blocks.
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert 'src="/static/' in tag or 'type="application/json"' in tag, tag
    assert " style=" not in html
    assert re.search(r'<script src="/static/vendor/chart\.js/chart\.umd\.min[^"]*\.js[^"]*" defer>', html)
    assert re.search(r'<link rel="stylesheet" href="/static/css/dashboard[^"]*\.css', html)
    for other in ("/", "/policies", "/countries/LA", "/policies/la-gov-resolution-08-2021-ev-policy"):
        page = client.get(other).get_data(as_text=True)
        assert "chart.umd" not in page and "dashboard.js" not in page and "dashboard.css" not in page, other


def test_vendored_chart_js_is_served_with_its_licence(client):
    with client.get("/static/vendor/chart.js/chart.umd.min.js") as script:
        assert script.status_code == 200
        assert script.get_data(as_text=True).startswith("/*!\n * Chart.js v4.")
    with client.get("/static/vendor/chart.js/LICENSE.md") as licence:
        assert licence.status_code == 200 and "MIT License" in licence.get_data(as_text=True)


def test_anonymous_dashboard_is_served_from_the_page_cache_with_an_etag(client):
    first = client.get("/dashboard?country=LA")
    assert first.status_code == 200 and first.headers.get("ETag")
    again = client.get("/dashboard?country=LA", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


def test_lao_readers_get_country_and_topic_names_in_lao(client, session):
    client.set_cookie("lang", "lo")
    html = client.get("/dashboard").get_data(as_text=True)
    lao = session.get(Jurisdiction, "LA")
    assert lao.name_lo and f">{lao.name_lo}</a>" in html
    assert lao.name_lo in chart_data(client)["countries"]["labels"]


# --- Chart 1: policies per country by legal status -----------------------------------------------------

def test_country_figures_match_the_published_policies(client, session):
    expected = expected_country_counts(published(session))
    table = countries_table(client)
    codes = list(table)
    # The eleven members and ASEAN always, Lao PDR first; other jurisdictions when they have policies.
    members = list(session.scalars(
        select(Jurisdiction.code).where(Jurisdiction.kind.in_(("member", "regional")))
        .order_by(Jurisdiction.position)))
    assert len(members) == 12 and codes[0] == "LA" and codes[:12] == members
    for code, row in table.items():
        for status in LEGAL_STATUSES:
            assert row.get(status, 0) == expected[(code, status)], (code, status)
        assert row["total"] == sum(n for (c, _s), n in expected.items() if c == code)
    assert sum(row["total"] for row in table.values()) == sum(expected.values())
    data = chart_data(client)["countries"]
    assert data["labels"][0] == "Lao PDR"
    in_force = next(d for d in data["datasets"] if d["key"] == "in_force")
    assert in_force["label"] == "In force"
    assert in_force["data"][0] == expected[("LA", "in_force")]


def test_a_new_published_record_counts_and_an_unpublished_one_does_not(client, session):
    before = countries_table(client)["LA"]
    load(session, policies=[
        policy_record("dash-new-la", country="LA"),
        policy_record("dash-draft-la", country="LA", editorial_state="draft"),
        policy_record("dash-review-la", country="LA", editorial_state="in_review"),
    ])
    session.commit()
    after = countries_table(client)["LA"]
    assert after["in_force"] == before.get("in_force", 0) + 1
    assert after["total"] == before["total"] + 1
    html = client.get("/dashboard").get_data(as_text=True)
    assert "dash-draft-la" not in html and "dash-review-la" not in html


def test_staff_see_the_same_public_figures(client, session, login_as):
    load(session, policies=[policy_record("dash-draft-only", country="BN", editorial_state="draft")])
    session.commit()
    anonymous = countries_table(client)["BN"]
    login_as("admin")
    assert countries_table(client)["BN"] == anonymous


# --- Chart 2: status changes per quarter ---------------------------------------------------------------

def test_status_changes_per_quarter_match_the_history(client, session):
    expected, undated = expected_quarters(published(session))
    assert quarters_table(client) == expected
    data = chart_data(client)["status-changes"]
    # The chart's series runs over consecutive quarters and leaves out only year-only changes.
    assert sum(data["data"]) == sum(sum(row[:4]) for row in expected.values())
    first_year = min(year for year, row in expected.items() if any(row[:4]))
    first_quarter = next(q for q in range(4) if expected[first_year][q]) + 1
    assert data["labels"][0] == f"{first_year} Q{first_quarter}"
    page = client.get("/dashboard").get_data(as_text=True)
    year_only = sum(row[4] for row in expected.values())
    assert year_only > 1, "the demo data has year-only dates"
    assert f"{year_only} changes are dated to the year only" in page
    if undated:
        assert f"{undated} change{' has' if undated == 1 else 's have'} no date" in page


def test_partial_dates_count_in_their_year_and_only_full_months_in_a_quarter(client, session):
    before = quarters_table(client).get(2013, [0, 0, 0, 0, 0])
    load(session, policies=[policy_record("dash-quarters", status_history=[
        {"status": "drafting", "date": "2013", "note": None, "source_url": None},
        {"status": "adopted", "date": "2013-07", "note": None, "source_url": None},
        {"status": "in_force", "date": "2013-09-30", "note": None, "source_url": None},
        {"status": "suspended", "date": "2013-10-01", "note": None, "source_url": None},
    ], status="suspended")])
    session.commit()
    after = quarters_table(client)[2013]
    assert after == [before[0], before[1], before[2] + 2, before[3] + 1, before[4] + 1]


# --- Chart 3: instruments by topic ---------------------------------------------------------------------

def test_topic_figures_count_each_policy_under_each_of_its_topics(client, session):
    expected = Counter(key for policy in published(session) for key in policy.topic_keys)
    header, *rows = csv_rows(client, "topics")
    assert header == ["topic_key", "topic", "published_policies"]
    assert {row[0]: int(row[2]) for row in rows} == dict(expected)
    counts = [int(row[2]) for row in rows]
    assert counts == sorted(counts, reverse=True)
    data = chart_data(client)["topics"]
    assert data["data"] == counts and data["labels"] == [row[1] for row in rows]


# --- Chart 4: upcoming expiries ------------------------------------------------------------------------

def test_upcoming_expiries_list_running_measures_ending_today_or_later(client, session):
    today = dt.date.fromisoformat(client.application.config["TODAY"])  # the day the app counts from
    load(session, policies=[
        policy_record("dash-ends-2098", valid_to="2098", title_en="Ends in 2098"),
        policy_record("dash-ends-soon", valid_to=(today + dt.timedelta(days=10)).isoformat(),
                      title_en="Ends soon"),
        policy_record("dash-ended", valid_from="2001", valid_to="2002-01-01", title_en="Ended long ago"),
        policy_record("dash-repealed", valid_to="2097", status="repealed", title_en="Repealed early",
                      status_history=[{"status": "repealed", "date": "2024", "note": None,
                                       "source_url": None}]),
        policy_record("dash-draft-ends", valid_to="2096", editorial_state="draft", title_en="Draft ends"),
    ])
    session.commit()
    expected = sorted(
        (p.valid_to_end, p.key) for p in published(session)
         if p.valid_to_end is not None and p.valid_to_end >= today and p.legal_status not in ENDED)
    header, *rows = csv_rows(client, "expiries")
    assert header[:2] == ["key", "title_en"]
    assert header[-3:] == ["valid_to", "last_day", "days_left"]
    assert [row[0] for row in rows] == [key for _end, key in expected]
    soon = next(row for row in rows if row[0] == "dash-ends-soon")
    assert soon[-1] == "10"
    later = next(row for row in rows if row[0] == "dash-ends-2098")
    # A year-only end date stays partial and runs to the year's last day.
    assert later[-3:-1] == ["2098", "2098-12-31"]
    data = chart_data(client)["expiries"]
    assert data["today"] == today.isoformat()
    assert data["ends"][-1] == "2098-12-31" and data["endLabels"][-1] == "2098"
    assert data["titles"][-1] == "Ends in 2098" and data["codes"][-1] == "TL"
    html = client.get("/dashboard").get_data(as_text=True)
    assert "Ends soon" in html and "Ended long ago" not in html and "Repealed early" not in html
    assert "Draft ends" not in html


def test_titles_cannot_break_out_of_the_chart_data_block(client, session):
    title = "</script><script>alert(1)</script> & 'quotes'"
    load(session, policies=[policy_record("dash-script-title", valid_to="2099", title_en=title)])
    session.commit()
    html = client.get("/dashboard").get_data(as_text=True)
    assert "<script>alert(1)" not in html
    assert title in chart_data(client)["expiries"]["titles"]


# --- Filters -------------------------------------------------------------------------------------------

def test_a_country_filter_narrows_every_chart_and_csv(client, session):
    laos = [p for p in published(session) if p.jurisdiction_code == "LA"]
    table = countries_table(client, "?country=LA")
    assert list(table) == ["LA"] and table["LA"]["total"] == len(laos)
    expected_years, _undated = expected_quarters(laos)
    assert quarters_table(client, "?country=LA") == expected_years
    header, *rows = csv_rows(client, "topics", "?country=LA")
    assert {row[0]: int(row[2]) for row in rows} == dict(Counter(k for p in laos for k in p.topic_keys))
    for row in csv_rows(client, "expiries", "?country=LA")[1:]:
        assert row[3] == "LA"
    html = client.get("/dashboard?country=LA").get_data(as_text=True)
    assert f"{len(laos)} published policies match these filters" in html
    # The CSV links keep the filter.
    assert 'href="/dashboard/topics.csv?country=LA"' in html
    assert '<option value="LA" selected>' in html


def test_a_topic_filter_and_a_country_filter_combine(client, session):
    chosen = [p for p in published(session)
              if p.jurisdiction_code in ("LA", "TH") and "fiscal_incentives" in p.topic_keys]
    query = "?country=LA&country=th&topic=fiscal_incentives"
    table = countries_table(client, query)
    assert list(table) == ["LA", "TH"]
    assert sum(row["total"] for row in table.values()) == len(chosen)
    header, *rows = csv_rows(client, "topics", query)
    topics = {row[0]: int(row[2]) for row in rows}
    assert topics["fiscal_incentives"] == len(chosen)
    assert topics == dict(Counter(k for p in chosen for k in p.topic_keys))
    expected_years, _undated = expected_quarters(chosen)
    assert quarters_table(client, query) == expected_years


def test_empty_filter_values_mean_all(client):
    assert countries_table(client, "?country=&topic=") == countries_table(client)


def test_a_filter_that_matches_nothing_shows_empty_tables_not_errors(client, session):
    policies = published(session)
    country, topic = next((country, topic) for country in ("BN", "KH", "MM", "TL", "SG")
                          for topic in ("public_procurement_and_fleets", "human_resources_and_skills")
                          if not any(p.jurisdiction_code == country and topic in p.topic_keys
                                     for p in policies))
    response = client.get(f"/dashboard?country={country}&topic={topic}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "0 published policies match these filters" in html
    assert "No dated status change of a published policy matches these filters." in html
    assert "No published policy with a topic matches these filters." in html
    assert "<canvas" not in html
    assert countries_table(client, f"?country={country}&topic={topic}") == {country: {"total": 0}}


@pytest.mark.parametrize("url", [
    "/dashboard?country=XX", "/dashboard?topic=flying_cars", "/dashboard?country=LA&topic=%3Cscript%3E",
    "/dashboard/countries.csv?country=nowhere", "/dashboard/expiries.csv?topic=1",
])
def test_bad_filters_get_400_with_a_message(client, url):
    response = client.get(url)
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert "Some filters are not valid" in body
    assert "Accepted values" in body
    assert "<script>" not in body


def test_an_unknown_chart_is_404(client):
    response = client.get("/dashboard/pies.csv")
    assert response.status_code == 404
    assert "There is no chart named" in response.get_data(as_text=True)


# --- CSV -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("chart", CHARTS)
def test_csv_downloads_are_utf8_with_a_header_row_and_a_file_name(client, chart):
    response = client.get(f"/dashboard/{chart}.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == f'attachment; filename="ev-policies-{chart}.csv"'
    body = response.get_data()
    assert body.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert len(rows) >= 2 and all(cell for cell in rows[0])
    assert len({len(row) for row in rows}) == 1
    # Served twice (the second from the page cache), the file keeps its name.
    again = client.get(f"/dashboard/{chart}.csv")
    assert again.headers["Content-Disposition"] == response.headers["Content-Disposition"]
    assert again.get_data() == body


def test_csv_keeps_lao_text(client, session):
    lao_title = "ນະໂຍບາຍລົດໄຟຟ້າ"
    load(session, policies=[policy_record("dash-lao-title", valid_to="2099", title_lo=lao_title)])
    session.commit()
    rows = csv_rows(client, "expiries")
    assert next(row for row in rows if row[0] == "dash-lao-title")[2] == lao_title


def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(client, session):
    titles = {"=": "=HYPERLINK(\"http://evil.example\",\"x\")", "+": "+1+1", "-": "-2+3", "@": "@SUM(A1:A2)"}
    load(session, policies=[policy_record(f"dash-formula-{i}", valid_to="2099", title_en=title)
                            for i, title in enumerate(titles.values())])
    session.commit()
    rows = {row[0]: row for row in csv_rows(client, "expiries")}
    for i, title in enumerate(titles.values()):
        assert rows[f"dash-formula-{i}"][1] == "'" + title
    # Numbers and plain text are left alone.
    assert neutralise(-1) == -1 and neutralise("Lao PDR") == "Lao PDR" and neutralise("\tx") == "'\tx"


# --- Cost ----------------------------------------------------------------------------------------------

def _queries(client, count_queries, url: str) -> int:
    count_queries.reset()
    response = client.get(url)
    assert response.status_code == 200, url
    return count_queries.count


@pytest.mark.parametrize("url", ["/dashboard", "/dashboard?country=TL&topic=grid_and_energy",
                                 "/dashboard?country=TL&map_topic=import_rules",
                                 *(f"/dashboard/{chart}.csv" for chart in CHARTS)])
def test_the_dashboard_costs_the_same_few_queries_for_5_or_60_more_records(app, client, session,
                                                                          count_queries, url):
    # The page cache would answer the second request from memory; measure the queries of a real render.
    app.config["PAGE_CACHE_SIZE"], saved = 0, app.config["PAGE_CACHE_SIZE"]
    try:
        load(session, policies=[policy_record(f"dash-qc-{i}", valid_to="2099", targets=[HEADLINE])
                                for i in range(5)])
        session.commit()
        few = _queries(client, count_queries, url)
        load(session, policies=[policy_record(f"dash-qc-more-{i}", valid_to="2099", country=code,
                                              targets=[HEADLINE | {"year": 2025 + i % 10}])
                                for i, code in enumerate(["TL", "LA", "VN"] * 20)])
        session.commit()
        many = _queries(client, count_queries, url)
    finally:
        app.config["PAGE_CACHE_SIZE"] = saved
    assert few == many, count_queries.statements
    # Content version, two reference lists, at most five figures and the map's.
    assert many <= 9, count_queries.statements
