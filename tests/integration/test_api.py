"""The read API: the same records and filters as the pages, JSON errors naming what is wrong."""
from __future__ import annotations

import re

import pytest

from tests.factories import event_record, load, policy_record

LAO_POLICY = "la-gov-resolution-08-2021-ev-policy"


def test_policy_list_is_paginated_and_filtered(client, demo_data):
    body = client.get("/api/v1/policies?per_page=10").get_json()
    assert body["total"] == len(demo_data["policies"])
    assert body["page"] == 1 and body["per_page"] == 10
    assert body["pages"] == -(-len(demo_data["policies"]) // 10)
    assert len(body["items"]) == 10

    expected = {p["key"] for p in demo_data["policies"] if p["country"] in ("LA", "TH") and p["status"] == "in_force"}
    body = client.get("/api/v1/policies?country=LA&country=TH&status=in_force&per_page=100").get_json()
    assert {item["key"] for item in body["items"]} == expected
    assert all(item["legal_status"] == "in_force" for item in body["items"])


def test_every_page_of_results_together_lists_every_policy_once(client, demo_data):
    keys = []
    for page in range(1, 5):
        keys += [item["key"] for item in client.get(f"/api/v1/policies?per_page=20&page={page}").get_json()["items"]]
    assert sorted(keys) == sorted(p["key"] for p in demo_data["policies"])


def test_policy_record_has_history_relations_forum_links_and_sources(client, demo_data):
    record = next(p for p in demo_data["policies"] if p["key"] == LAO_POLICY)
    response = client.get(f"/api/v1/policies/{LAO_POLICY}")
    assert response.status_code == 200
    body = response.get_json()
    assert body["title_lo"] == record["title_lo"]
    assert body["legal_status"] == record["status"]
    assert [(s["status"], s["effective_on"]) for s in body["status_history"]] == [
        (s["status"], s["date"]) for s in record["status_history"]]
    assert [s["url"] for s in body["sources"]] == [s["url"] for s in record["sources"]]
    assert body["issuer"]["key"] == record["issuer"]
    assert {(link["event"]["key"], link["role"]) for link in body["forum_links"]} == {
        (link["event"], link["role"]) for link in record["forum_links"]}
    outgoing = [r for r in body["relations"] if r["direction"] == "outgoing"]
    assert [r["policy"]["key"] for r in outgoing] == [r["target"] for r in record["relations"]]
    assert body["html_url"].endswith(f"/policies/{LAO_POLICY}")


def test_inverse_relations_are_served(client, session):
    load(session, policies=[policy_record("base-law"),
                            policy_record("amending-decree", relations=[
                                {"type": "amends", "target": "base-law", "target_reference": None}])])
    relations = client.get("/api/v1/policies/base-law").get_json()["relations"]
    assert relations == [{"type": "amends", "direction": "incoming", "label": "Amended by",
                          "policy": relations[0]["policy"], "target_reference": None}]
    assert relations[0]["policy"]["key"] == "amending-decree"


def test_events_and_an_event_with_its_policies(client, session):
    load(session, events=[event_record("api-forum")], policies=[policy_record("api-policy", forum_links=[
        {"event": "api-forum", "role": "announced", "evidence": "Said so.", "source_url": None}])])
    body = client.get("/api/v1/events?country=TL").get_json()
    assert [item["key"] for item in body["items"]] == ["api-forum"]
    event = client.get("/api/v1/events/api-forum").get_json()
    assert event["starts_on"] == "2024-05"
    assert event["organisers"][0]["key"] == "la-mem"
    assert event["policies"] == [{"role": "announced", "evidence": "Said so.", "evidence_lo": None, "source_url": None,
                                  "policy": event["policies"][0]["policy"]}]


def test_jurisdictions_list_lao_first_and_all_eleven_members(client):
    items = client.get("/api/v1/jurisdictions").get_json()["items"]
    assert items[0]["code"] == "LA"
    members = [item["code"] for item in items if item["kind"] == "member"]
    assert sorted(members) == sorted(["BN", "KH", "ID", "LA", "MY", "MM", "PH", "SG", "TH", "VN", "TL"])


def test_topics_have_counts(client, demo_data):
    items = client.get("/api/v1/topics").get_json()["items"]
    counts = {item["key"]: item["policy_count"] for item in items}
    expected = sum(1 for p in demo_data["policies"] if "charging_infrastructure" in p["topics"])
    assert counts["charging_infrastructure"] == expected


@pytest.mark.parametrize("url, status, parameter", [
    ("/api/v1/policies?country=XX", 400, "country"),
    ("/api/v1/policies?status=nope", 400, "status"),
    ("/api/v1/policies?year=12", 400, "year"),
    ("/api/v1/policies?per_page=0", 400, "per_page"),
    ("/api/v1/policies?page=abc", 400, "page"),
    ("/api/v1/policies?sort=up", 400, "sort"),
    ("/api/v1/events?country=XX", 400, "country"),
])
def test_bad_parameters_give_a_json_400_naming_the_parameter(client, url, status, parameter):
    response = client.get(url)
    assert response.status_code == status
    assert response.mimetype == "application/json"
    assert parameter in response.get_json()["error"]["errors"]


@pytest.mark.parametrize("url", ["/api/v1/policies/unknown-key", "/api/v1/events/unknown-key",
                                 "/api/v1/policies?page=500", "/api/v1/nothing-here"])
def test_unknown_things_give_a_json_404(client, url):
    response = client.get(url)
    assert response.status_code == 404
    assert response.mimetype == "application/json"
    assert response.get_json()["error"]["message"]


def test_wrong_method_gives_json_405_with_allow(client):
    response = client.delete("/api/v1/policies")
    assert response.status_code == 405
    assert response.mimetype == "application/json"
    assert "GET" in response.headers["Allow"]


def test_openapi_document_describes_every_api_route(app, client):
    document = client.get("/api/v1/openapi.json").get_json()
    assert document["openapi"] == "3.1.0"
    documented = {path for path in document["paths"]}
    # Flask's "<int:endpoint_id>" is OpenAPI's "{endpoint_id}".
    routes = {re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
              for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1")}
    assert routes == documented
