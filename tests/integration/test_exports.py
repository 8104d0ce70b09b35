"""Downloads of the policy list and of searches as filtered: CSV, XLSX and JSON that spreadsheets and
scripts read back intact, with stable column names, published records only and formulas made inert."""
from __future__ import annotations

import csv
import io
import json

import openpyxl
import pytest

from tests.factories import load, policy_record
from tracker.services.exports import POLICY_HEADER, SEARCH_HEADER

LAO_TITLE = "ຂໍ້ຕົກລົງ ວ່າດ້ວຍ ສະຖານີສາກໄຟຟ້າ 🔌"


def read_csv(response) -> list[list[str]]:
    body = response.get_data()
    assert body.startswith("\ufeff".encode()), "UTF-8 with a byte-order mark, for Excel"
    text = body.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    # Every record ends with CRLF (a line break inside a quoted cell is the cell's own).
    assert text.endswith("\r\n") and text.count("\r\n") == len(rows)
    return rows


def api_keys(client, query: str) -> list[str]:
    keys, page = [], 1
    while True:
        body = client.get(f"/api/v1/policies?{query}&per_page=100&page={page}").get_json()
        keys += [item["key"] for item in body["items"]]
        if page >= body["pages"]:
            return keys
        page += 1


@pytest.fixture
def awkward(session):
    """Published records with every awkward value, and a draft that must never be exported."""
    load(session, policies=[
        policy_record("export-awkward", country="LA", title_en="=HYPERLINK(\"http://evil.example\",\"click\")",
                      title_lo=LAO_TITLE, topics=["charging_infrastructure"], valid_from="2024-07",
                      valid_to="2030", summary_en="+SUM(A1:A9) and a \"quoted\" word,\nover two lines"),
        policy_record("export-draft", country="LA", editorial_state="draft", topics=["charging_infrastructure"]),
    ])
    session.commit()


def test_the_policy_csv_holds_what_the_list_shows_with_stable_columns(client, awkward):
    query = "country=LA&topic=charging_infrastructure&sort=title"
    response = client.get(f"/policies.csv?{query}&page=2")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="ev-policies-')
    header, *rows = read_csv(response)
    assert tuple(header) == POLICY_HEADER
    # The whole filtered list, not the page asked for, in the list's order; published records only.
    assert [row[0] for row in rows] == api_keys(client, query)
    assert "export-draft" not in {row[0] for row in rows}
    row = dict(zip(header, next(row for row in rows if row[0] == "export-awkward")))
    assert row["title_en"] == "'=HYPERLINK(\"http://evil.example\",\"click\")"
    assert row["summary_en"] == "'+SUM(A1:A9) and a \"quoted\" word,\nover two lines"
    assert row["title_lo"] == LAO_TITLE
    assert (row["valid_from"], row["valid_to"]) == ("2024-07", "2030")
    assert row["country_code"] == "LA" and row["country_lo"] == "ສປປ ລາວ"
    assert row["topics"] == "charging_infrastructure"
    assert row["url"] == "http://localhost/policies/export-awkward"


def test_column_names_do_not_change_with_the_interface_language(client, awkward):
    english = read_csv(client.get("/policies.csv"))[0]
    client.set_cookie("lang", "lo")
    assert read_csv(client.get("/policies.csv"))[0] == english
    for chart in ("countries", "status-changes", "topics", "expiries"):
        lao_header = read_csv(client.get(f"/dashboard/{chart}.csv"))[0]
        client.set_cookie("lang", "en")
        assert read_csv(client.get(f"/dashboard/{chart}.csv"))[0] == lao_header, chart
        assert all(name.isascii() and name == name.lower() and " " not in name for name in lao_header), lao_header
        client.set_cookie("lang", "lo")


def test_the_policy_workbook_reads_back_with_lao_text_and_partial_dates_as_text(client, awkward):
    response = client.get("/policies.xlsx?country=LA")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    workbook = openpyxl.load_workbook(io.BytesIO(response.get_data()))
    assert workbook.sheetnames == ["policies", "about"]
    rows = list(workbook["policies"].iter_rows(values_only=True))
    assert tuple(rows[0]) == POLICY_HEADER
    assert [row[0] for row in rows[1:]] == api_keys(client, "country=LA")
    row = dict(zip(rows[0], next(row for row in rows if row[0] == "export-awkward")))
    assert row["title_lo"] == LAO_TITLE
    assert row["title_en"].startswith("'=")
    assert workbook["policies"].cell(row=1 + [r[0] for r in rows].index("export-awkward"),
                                     column=POLICY_HEADER.index("valid_from") + 1).data_type == "s"
    assert row["valid_from"] == "2024-07" and row["valid_to"] == "2030"
    about = dict(row[:2] for row in workbook["about"].iter_rows(values_only=True))
    assert about["licence"] == "CC-BY-4.0" and about["country_code"].startswith("ISO 3166-1")
    assert "country=LA" in about["filters"]


def test_the_policy_json_is_the_dataset_format_and_loads_back(client, session, awkward):
    from tracker.services.dataset import load_dataset

    response = client.get("/policies.json?country=LA")
    assert response.status_code == 200 and response.mimetype == "application/json"
    body = json.loads(response.get_data())
    assert body["licence"] == "CC-BY-4.0" and body["source"].endswith("/policies?country=LA")
    keys = [record["key"] for record in body["policies"]]
    assert keys == api_keys(client, "country=LA") and "export-draft" not in keys
    record = next(r for r in body["policies"] if r["key"] == "export-awkward")
    assert record["title_lo"] == LAO_TITLE and record["valid_from"] == "2024-07"
    # What a researcher downloaded loads into a tracker: here into this one, changing nothing.
    report = load_dataset(session, {"policies": body["policies"]})
    assert report.unchanged["policies"] == len(keys) and not report.updated["policies"]


def test_bad_filters_get_a_clear_400_and_nothing_to_download(client):
    for path in ("/policies.csv?country=XX", "/policies.xlsx?year=20x4", "/policies.json?sort=best"):
        response = client.get(path)
        assert response.status_code == 400, path
        assert "Content-Disposition" not in response.headers


def test_downloads_answer_conditional_requests(client, awkward):
    first = client.get("/policies.csv?country=LA")
    again = client.get("/policies.csv?country=LA", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.get_data() == b""
    assert first.headers["Last-Modified"]


def test_search_downloads_say_where_each_result_matched(client, session, search_index, awkward):
    search_index.sync()
    response = client.get("/search.csv?q=charging&country=LA")
    assert response.status_code == 200
    header, *rows = read_csv(response)
    assert tuple(header) == SEARCH_HEADER
    page = client.get("/api/v1/search?q=charging&country=LA&per_page=100").get_json()
    assert [row[2] for row in rows] == [hit["key"] for hit in page["hits"]]
    assert int(response.headers["X-Total-Count"]) == page["total"] == len(rows)
    matched = {row[2]: row[-1].split(" ; ") for row in rows}
    assert all(set(parts) <= {"title", "summary", "reference", "other", "text"} and parts for parts in matched.values())
    assert any("title" in parts for parts in matched.values())
    assert "export-draft" not in matched
    workbook = openpyxl.load_workbook(io.BytesIO(client.get("/search.xlsx?q=charging&country=LA").get_data()))
    assert [row[2] for row in workbook["results"].iter_rows(min_row=2, values_only=True)] == [r[2] for r in rows]


def test_a_search_download_over_the_row_limit_says_so_in_the_file_and_on_the_page(app, client, search_index,
                                                                                  monkeypatch):
    monkeypatch.setitem(app.config, "EXPORT_SEARCH_ROWS", 3)
    header, *rows = read_csv(client.get("/search.csv?q=electric"))
    assert len(rows) == 4 and "Only the first 3 of" in rows[-1][4]
    workbook = openpyxl.load_workbook(io.BytesIO(client.get("/search.xlsx?q=electric").get_data()))
    about = dict(row[:2] for row in workbook["about"].iter_rows(values_only=True))
    assert about["row limit"] == "3" and "Only the first 3 of" in about["note"]
    page = client.get("/search?q=electric").get_data(as_text=True)
    assert "A download holds the first 3 results" in page


def test_the_list_and_search_pages_offer_downloads_of_what_they_show(client, search_index):
    html = client.get("/policies?country=LA&topic=charging_infrastructure&page=1").get_data(as_text=True)
    assert 'href="/policies.csv?country=LA&amp;topic=charging_infrastructure"' in html
    assert 'href="/policies.xlsx?country=LA&amp;topic=charging_infrastructure"' in html
    search = client.get("/search?q=charging&country=LA").get_data(as_text=True)
    assert 'href="/search.csv?q=charging&amp;country=LA"' in search
    client.set_cookie("lang", "lo")
    assert "Download" not in client.get("/policies").get_data(as_text=True)
