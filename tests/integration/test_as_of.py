"""Statuses as of a day: back-dated steps, dates known to the year, month or day, undated steps, on every list."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest

from tests.factories import load, policy_record
from tracker.errors import Invalid
from tracker.services.as_of import parse_as_of

STEPS = [
    {"status": "drafting", "date": "2021", "note": None, "source_url": None},
    {"status": "consultation", "date": "2022-03", "note": None, "source_url": None},
    {"status": "adopted", "date": None, "note": "Adopted; the day is not known.", "source_url": None},
    {"status": "in_force", "date": "2022-06-15", "note": None, "source_url": None},
]


@pytest.fixture
def timeline(session):
    """Timor-Leste records: one with steps dated by year, month, day and not at all; one dated to February;
    one whose steps are all undated but whose validity began in 2020; one recorded only from 2024."""
    load(session, policies=[
        policy_record("asof-timeline", status="in_force", status_history=STEPS, valid_from=None),
        policy_record("asof-february", status="proposed", valid_from=None, status_history=[
            {"status": "proposed", "date": "2023-02", "note": None, "source_url": None}]),
        policy_record("asof-undated", status="adopted", valid_from="2020", status_history=[
            {"status": "drafting", "date": None, "note": None, "source_url": None},
            {"status": "adopted", "date": None, "note": None, "source_url": None}]),
        policy_record("asof-late", status="drafting", valid_from=None, status_history=[
            {"status": "drafting", "date": "2024-01-10", "note": None, "source_url": None}]),
    ])
    session.commit()


def statuses(client, as_of: str, extra: str = "") -> dict[str, str]:
    response = client.get(f"/api/v1/policies?country=TL&per_page=100&as_of={as_of}{extra}")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    return {item["key"]: item["status_as_of"] for item in body["items"] if item["key"].startswith("asof-")}


@pytest.mark.parametrize(("as_of", "expected"), [
    # A year-only step counts from 31 December of its year; before that the record shows nothing certain.
    ("2021-06-30", {"asof-undated": "unknown"}),
    # A record whose timeline is all undated counts from the start of its validity, with no status certain.
    ("2020-12-30", {}),
    ("2021-12-31", {"asof-timeline": "drafting", "asof-undated": "unknown"}),
    ("2021", {"asof-timeline": "drafting", "asof-undated": "unknown"}),
    # A month-only step counts from the last day of its month.
    ("2022-03-30", {"asof-timeline": "drafting", "asof-undated": "unknown"}),
    ("2022-03-31", {"asof-timeline": "consultation", "asof-undated": "unknown"}),
    ("2022-03", {"asof-timeline": "consultation", "asof-undated": "unknown"}),
    # The undated adoption never counts on its own: the day before entry into force is still consultation.
    ("2022-06-14", {"asof-timeline": "consultation", "asof-undated": "unknown"}),
    ("2022-06-15", {"asof-timeline": "in_force", "asof-undated": "unknown"}),
    # February's last day is the 28th in 2023: a step dated "2023-02" counts on it, not the day before.
    ("2023-02-27", {"asof-timeline": "in_force", "asof-undated": "unknown"}),
    ("2023-02-28", {"asof-timeline": "in_force", "asof-february": "proposed", "asof-undated": "unknown"}),
    ("2024-01-10", {"asof-timeline": "in_force", "asof-february": "proposed", "asof-undated": "unknown",
                    "asof-late": "drafting"}),
])
def test_the_api_gives_each_record_its_status_on_the_day_and_leaves_out_those_not_yet_recorded(
        client, timeline, as_of, expected):
    assert statuses(client, as_of) == expected


def test_filtering_by_status_uses_the_status_of_that_day(client, timeline):
    assert statuses(client, "2022-04-01", "&status=consultation") == {"asof-timeline": "consultation"}
    assert statuses(client, "2022-04-01", "&status=in_force") == {}
    # Today the same record is in force.
    today = client.get("/api/v1/policies?country=TL&status=consultation&per_page=100").get_json()
    assert "asof-timeline" not in {item["key"] for item in today["items"]}


def test_without_as_of_the_api_answers_as_before(client, timeline):
    body = client.get("/api/v1/policies?country=TL&per_page=100").get_json()
    assert "as_of" not in body and all("status_as_of" not in item for item in body["items"])
    keys = {item["key"] for item in body["items"]}
    assert {"asof-timeline", "asof-february", "asof-undated", "asof-late"} <= keys


def test_the_page_says_which_day_the_api_used(client, timeline):
    assert client.get("/api/v1/policies?as_of=2022-03").get_json()["as_of"] == "2022-03-31"
    assert client.get("/api/v1/policies?as_of=2024-02").get_json()["as_of"] == "2024-02-29"


@pytest.mark.parametrize("value", ["2023-13", "2023-02-30", "23", "2023/01/01", "yesterday", "0999", "2023-1-1"])
def test_a_malformed_or_impossible_day_is_a_400_naming_as_of(client, value):
    response = client.get(f"/api/v1/policies?as_of={value}")
    assert response.status_code == 400
    assert "as_of" in response.get_json()["error"]["errors"]
    page = client.get(f"/policies?as_of={value}")
    assert page.status_code == 400
    assert "as_of" in page.get_data(as_text=True)


def test_a_day_after_today_is_refused_but_the_current_year_means_today():
    today = dt.date(2026, 12, 7)
    with pytest.raises(Invalid) as refused:
        parse_as_of({"as_of": ["2026-12-08"]}, today)
    assert "after today" in refused.value.errors["as_of"]
    with pytest.raises(Invalid):
        parse_as_of({"as_of": ["2027"]}, today)
    assert parse_as_of({"as_of": ["2026"]}, today).day == today
    assert parse_as_of({"as_of": ["2026-12"]}, today).day == today
    assert parse_as_of({"as_of": ["2026-11"]}, today).day == dt.date(2026, 11, 30)
    assert parse_as_of({"as_of": [""]}, today) is None
    with pytest.raises(Invalid):
        parse_as_of({"as_of": [""]}, today, allow_empty=False)


def test_a_lao_reader_is_told_what_is_wrong_in_lao(client):
    response = client.get("/api/v1/policies?as_of=2023-02-30", headers={"Accept-Language": "lo"})
    assert response.status_code == 400
    message = response.get_json()["error"]["errors"]["as_of"]
    assert "2023-02-30" in message and any("\u0e80" <= ch <= "\u0eff" for ch in message)


def test_the_list_page_shows_the_banner_the_statuses_of_that_day_and_a_way_back(client, timeline):
    html = client.get("/policies?country=TL&as_of=2022-04-01&per_page=100").get_data(as_text=True)
    assert "As of 1 April 2022" in html
    assert 'href="/policies?country=TL&amp;per_page=100"' in html
    assert "asof-timeline" in html and "asof-late" not in html and "asof-february" not in html
    row = html[html.index("/policies/asof-timeline"):]
    row = row[:row.index("</tr>")]
    assert "status-consultation" in row and "status-in_force" not in row
    # The form keeps the day.
    assert 'name="as_of"' in html and 'value="2022-04-01"' in html


def test_the_list_page_in_lao_writes_the_day_in_lao(client, timeline):
    client.set_cookie("lang", "lo")
    html = client.get("/policies?country=TL&as_of=2022-04-01").get_data(as_text=True)
    assert "1 ເມສາ 2022" in html
    assert "As of" not in html


def test_the_country_page_counts_and_lists_statuses_of_that_day(client, timeline):
    html = client.get("/countries/TL?as_of=2022-04-01&per_page=100").get_data(as_text=True)
    assert "As of 1 April 2022" in html
    assert "asof-timeline" in html and "asof-late" not in html
    assert "/policies?country=TL&amp;status=consultation&amp;as_of=2022-04-01" in html


def test_the_policy_page_says_the_status_on_the_day_above_its_history(client, timeline):
    html = client.get("/policies/asof-timeline?as_of=2022-06-14").get_data(as_text=True)
    assert "Status on 14 June 2022:" in html
    banner = html[html.index("Status on 14 June 2022:"):]
    assert banner.index("status-consultation") < banner.index("</p>")
    assert "Status on 15 June 2022:" in client.get("/policies/asof-timeline?as_of=2022-06-15").get_data(as_text=True)
    before = client.get("/policies/asof-timeline?as_of=2020").get_data(as_text=True)
    assert "Not yet recorded on 31 December 2020:" in before
    client.set_cookie("lang", "lo")
    lao = client.get("/policies/asof-timeline?as_of=2022-06-14").get_data(as_text=True)
    assert "14 ມິຖຸນາ 2022" in lao and "Status on" not in lao
    assert client.get("/policies/asof-timeline?as_of=2022-02-30").status_code == 400


def test_downloads_carry_the_day_and_the_status_then(client, timeline):
    text = client.get("/policies.csv?country=TL&as_of=2022-04-01").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    by_key = {row["key"]: row for row in rows}
    assert by_key["asof-timeline"]["status_as_of"] == "consultation"
    assert by_key["asof-timeline"]["legal_status"] == "in_force"
    assert by_key["asof-timeline"]["as_of"] == "2022-04-01"
    assert "asof-late" not in by_key
    plain = client.get("/policies.csv?country=TL").get_data(as_text=True)
    assert "status_as_of" not in plain.splitlines()[0]
    data = json.loads(client.get("/policies.json?country=TL&as_of=2022-04-01").get_data(as_text=True))
    assert data["as_of"] == "2022-04-01"
    assert {p["key"]: p["status_as_of"] for p in data["policies"]}["asof-timeline"] == "consultation"
    assert client.get("/policies.xlsx?country=TL&as_of=2022-04-01").status_code == 200


def test_the_dashboard_counts_statuses_of_that_day(client, timeline):
    rows = list(csv.reader(io.StringIO(
        client.get("/dashboard/countries.csv?country=TL&as_of=2022-04-01").get_data(as_text=True).lstrip("\ufeff"))))
    header, row = rows[0], rows[1]
    counts = dict(zip(header, row))
    # Of the four, two existed on that day: one in consultation, one valid with no dated step (unknown).
    assert counts["consultation"] == "1" and counts["unknown"] == "1" and counts["total"] == "2"
    html = client.get("/dashboard?country=TL&as_of=2022-04-01").get_data(as_text=True)
    assert "As of 1 April 2022" in html
    assert "/dashboard/countries.csv?country=TL&amp;as_of=2022-04-01" in html
    quarters = list(csv.reader(io.StringIO(client.get(
        "/dashboard/status-changes.csv?country=TL&as_of=2022-04-01").get_data(as_text=True).lstrip("\ufeff"))))
    by_year = {row[0]: row for row in quarters[1:]}
    # The 2021 step counts; the March 2022 one (Q1) too; nothing after 1 April 2022.
    assert by_year["2021"][5] == "1" and by_year["2022"][1] == "1" and by_year["2022"][6] == "1"
    assert "2024" not in by_year
