"""Every list page and list endpoint costs the same number of queries for 5 records as for 60."""
from __future__ import annotations

import pytest

from tests.factories import event_record, load, policy_record

LIST_URLS = [
    "/policies?country=TL&per_page=100",
    "/api/v1/policies?country=TL&per_page=100",
    "/api/v1/policies?country=TL&per_page=100&expand=summary,status_history,sources",
    "/countries/TL?per_page=100",
    "/events?country=TL&per_page=100",
    "/api/v1/events?country=TL&per_page=100",
    "/api/v1/events?country=TL&per_page=100&expand=summary&expand=sources",
    "/",
    "/?map_topic=charging_infrastructure",
    "/countries",
    "/api/v1/jurisdictions",
    "/api/v1/topics",
    "/policies?country=TL&per_page=100&as_of=2024-01",
    "/api/v1/policies?country=TL&per_page=100&as_of=2024&status=in_force",
    "/countries/TL?per_page=100&as_of=2024",
    "/compare",
    "/compare?dimension=kind&as_of=2024-06-30&status=in_force&status=adopted",
    "/compare?dimension=vehicle_class&year=2023",
    "/compare.csv?dimension=instrument",
    "/api/v1/matrix?cols=topic&as_of=2024",
]


def seed(session, count: int) -> None:
    """``count`` Timor-Leste policies and events, each with topics, bodies, sources, history and links."""
    events = [event_record(f"qc-event-{i}") for i in range(count)]
    policies = [policy_record(f"qc-policy-{i}", relations=[
        {"type": "related", "target": f"qc-policy-{(i + 1) % count}", "target_reference": None}] if count > 1 else [],
        forum_links=[{"event": f"qc-event-{i}", "role": "discussed", "evidence": None, "source_url": None}])
        for i in range(count)]
    load(session, events=events, policies=policies)
    session.commit()


def queries_for(client, count_queries, url: str) -> int:
    count_queries.reset()
    response = client.get(url)
    assert response.status_code == 200, url
    return count_queries.count


@pytest.mark.parametrize("url", LIST_URLS)
def test_list_pages_run_a_constant_number_of_queries(client, session, count_queries, url):
    seed(session, 5)
    with_five = queries_for(client, count_queries, url)
    load(session, events=[event_record(f"qc-more-event-{i}") for i in range(55)],
         policies=[policy_record(f"qc-more-policy-{i}") for i in range(55)])
    session.commit()
    with_sixty = queries_for(client, count_queries, url)
    assert with_five == with_sixty, count_queries.statements
    assert with_sixty <= 15


def test_a_policy_page_with_many_relations_costs_no_more_queries(client, session, count_queries):
    seed(session, 3)
    few = queries_for(client, count_queries, "/policies/qc-policy-0")
    load(session, policies=[policy_record("qc-hub", relations=[
        {"type": "related", "target": f"qc-policy-{i}", "target_reference": None} for i in range(3)],
        sources=[{"url": f"https://example.org/{i}", "title": str(i), "published": None, "kind": "news"}
                 for i in range(30)])])
    session.commit()
    many = queries_for(client, count_queries, "/policies/qc-hub")
    assert few == many
    # The page also lists the policy's attached texts (one query); the API gives them at .../documents.
    assert queries_for(client, count_queries, "/api/v1/policies/qc-hub") == many - 1


def test_a_page_of_the_changes_feed_costs_the_same_for_5_changed_records_as_for_60(client, session, count_queries):
    """Each change carries its record as the detail endpoint serves it, loaded for the whole page at once."""
    from tests.integration.test_changes_feed import head

    cursor = head(client)
    seed(session, 5)
    with_five = queries_for(client, count_queries, f"/api/v1/changes?since={cursor}&limit=1000")
    cursor = head(client)
    load(session, events=[event_record(f"qc-more-event-{i}", funders=[], partners=["la-edl"]) for i in range(60)],
         policies=[policy_record(f"qc-more-policy-{i}", forum_links=[
             {"event": f"qc-more-event-{i}", "role": "announced", "evidence": None, "source_url": None}])
             for i in range(60)])
    session.commit()
    with_sixty = queries_for(client, count_queries, f"/api/v1/changes?since={cursor}&limit=1000")
    assert with_five == with_sixty, count_queries.statements
    assert with_sixty <= 25
    changes = client.get(f"/api/v1/changes?since={cursor}&limit=1000").get_json()["changes"]
    assert len(changes) > 120
    assert {change["type"] for change in changes} == {"policy", "event", "topic", "jurisdiction"}
    assert all(change["record"] is not None for change in changes)


def test_comparing_four_policies_costs_the_same_queries_as_comparing_two(client, session, count_queries):
    """Every policy compared is loaded with all its rows at once, whatever their number; so is the tray."""
    seed(session, 4)
    keys = [f"qc-policy-{i}" for i in range(4)]
    two = queries_for(client, count_queries, "/compare/policies?keys=" + ",".join(keys[:2]))
    four = queries_for(client, count_queries, "/compare/policies?keys=" + ",".join(keys))
    assert two == four, count_queries.statements
    assert four <= 15
    assert queries_for(client, count_queries, "/compare/policies.csv?keys=" + ",".join(keys[:2])) == \
        queries_for(client, count_queries, "/compare/policies.csv?keys=" + ",".join(keys))
    plain = queries_for(client, count_queries, "/policies?country=TL&per_page=100")
    tray_of_one = queries_for(client, count_queries, "/policies?country=TL&per_page=100&compare=" + keys[0])
    tray_of_four = queries_for(client, count_queries, "/policies?country=TL&per_page=100&compare=" + ",".join(keys))
    assert tray_of_one == tray_of_four == plain + 1
