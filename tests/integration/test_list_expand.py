"""expand= on the list endpoints: each item carries its summary, status history and sources as its own record
does, so a client needs no request per record; unknown values are refused naming the parameter."""
from __future__ import annotations

import pytest


def pages(client, path: str) -> list[dict]:
    items, page = [], 1
    while True:
        response = client.get(f"{path}&per_page=100&page={page}")
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_json()
        items += body["items"]
        if page >= body["pages"]:
            return items
        page += 1


def test_policies_embed_what_expand_names_as_their_records_give_it(client):
    items = pages(client, "/api/v1/policies?expand=summary,status_history&expand=sources")
    assert len(items) > 20
    for item in items:
        record = client.get(f"/api/v1/policies/{item['key']}").get_json()
        for name in ("summary_en", "summary_lo", "status_history", "sources"):
            assert item[name] == record[name], (item["key"], name)
        assert set(item) - set(record) == set()
    assert any(item["status_history"] and item["sources"] and item["summary_en"] for item in items)


def test_without_expand_a_list_stays_as_it_was(client):
    item = client.get("/api/v1/policies?per_page=1").get_json()["items"][0]
    assert not {"summary_en", "status_history", "sources"} & set(item)
    assert client.get("/api/v1/policies?per_page=1&expand=sources").get_json()["items"][0].keys() == (
        set(item) | {"sources"})


def test_events_embed_their_summary_and_sources(client):
    items = pages(client, "/api/v1/events?expand=summary,sources")
    assert items
    for item in items:
        record = client.get(f"/api/v1/events/{item['key']}").get_json()
        assert (item["summary_en"], item["summary_lo"], item["sources"]) == (
            record["summary_en"], record["summary_lo"], record["sources"])


@pytest.mark.parametrize(("path", "accepted"), [
    ("/api/v1/policies?expand=summary,history", "summary, status_history, sources"),
    ("/api/v1/policies?expand=", None),
    ("/api/v1/policies?expand=summary,,sources", None),
    ("/api/v1/events?expand=status_history", "summary, sources"),
])
def test_an_unknown_expansion_is_refused_naming_expand(client, path, accepted):
    response = client.get(path)
    assert response.status_code == 400
    errors = response.get_json()["error"]["errors"]
    assert list(errors) == ["expand"]
    if accepted:
        assert errors["expand"].endswith(accepted)


def test_an_unknown_expansion_is_explained_in_lao(client):
    response = client.get("/api/v1/policies?expand=everything", headers={"Accept-Language": "lo"})
    assert response.status_code == 400
    message = response.get_json()["error"]["errors"]["expand"]
    assert "everything" in message and any("\u0e80" <= char <= "\u0eff" for char in message)
