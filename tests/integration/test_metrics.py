"""/metrics as Prometheus and an operator see it: requests by route, search timings, the outbox's backlog, access."""
from __future__ import annotations

import datetime as dt

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from tracker import create_app
from tracker.config import ConfigError
from tracker.metrics import allowed_networks
from tracker.models import Delivery, DeliveryAttempt, NotificationEvent

# Samples are keyed by name and labels: {("name", (("label", "value"), ...)): value}.
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(client, **kwargs) -> Samples:
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    samples: Samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def requests_of(samples: Samples, route: str, status: str, method: str = "GET") -> float:
    return value(samples, "tracker_http_requests_total", route=route, method=method, status=status)


def test_a_request_is_counted_and_timed_under_its_route_never_its_path(client):
    before = scrape(client)
    assert client.get("/countries/LA").status_code == 200
    assert client.get("/countries/LA").status_code == 200
    assert client.get("/no-such-page-anywhere-7f3a").status_code == 404
    after = scrape(client)
    assert requests_of(after, "pages.country", "200") - requests_of(before, "pages.country", "200") == 2
    assert requests_of(after, "none", "404") - requests_of(before, "none", "404") == 1
    timed = ("tracker_http_request_duration_seconds_count", (("method", "GET"), ("route", "pages.country"),
                                                             ("status", "200")))
    assert after[timed] - before.get(timed, 0.0) == 2
    labels = {value for (_, pairs) in after for _, value in pairs}
    assert "/countries/LA" not in labels and not any("no-such-page" in label for label in labels)


def test_a_made_up_method_adds_no_series_of_its_own(client):
    before = scrape(client)
    assert client.open("/countries/LA", method="BREW-7f3a").status_code == 405
    after = scrape(client)
    # No route matched the method either: a 405 is counted under "none".
    assert requests_of(after, "none", "405", method="other") - requests_of(before, "none", "405", method="other") == 1
    assert not any("BREW" in value for (_, pairs) in after for _, value in pairs)


def test_a_search_is_timed_by_kind(client):
    before = scrape(client)
    assert client.get("/search?q=charging").status_code == 200
    assert client.get("/api/v1/search/passages?q=electric").status_code == 200
    after = scrape(client)
    for kind in ("records", "passages"):
        count = "tracker_search_duration_seconds_count"
        assert value(after, count, kind=kind) - value(before, count, kind=kind) == 1, kind
        assert value(after, "tracker_search_duration_seconds_sum", kind=kind) > \
            value(before, "tracker_search_duration_seconds_sum", kind=kind)


def test_the_outbox_backlog_is_the_deliveries_waiting(client, session):
    before = scrape(client)
    now = dt.datetime.now(dt.UTC)
    event = NotificationEvent(type="webhook.test", payload={})
    session.add(event)
    session.flush()
    # Two pending (one due now, one due tomorrow), one retrying due for ten minutes, one delivered.
    session.add_all([Delivery(event_id=event.id, channel="email", state="pending", next_attempt_at=now),
                     Delivery(event_id=event.id, channel="email", state="pending",
                              next_attempt_at=now + dt.timedelta(days=1)),
                     Delivery(event_id=event.id, channel="webhook", state="retrying",
                              next_attempt_at=now - dt.timedelta(minutes=10)),
                     Delivery(event_id=event.id, channel="webhook", state="delivered", next_attempt_at=None)])
    session.flush()
    retrying = session.scalar(select(Delivery).where(Delivery.event_id == event.id, Delivery.state == "retrying"))
    session.add(DeliveryAttempt(delivery_id=retrying.id, outcome="retry", status_code=503,
                                attempted_at=now - dt.timedelta(minutes=2)))
    session.commit()
    after = scrape(client)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("tracker_outbox_deliveries", state="pending") == 2
    assert grew("tracker_outbox_deliveries", state="retrying") == 1
    assert grew("tracker_outbox_due_deliveries") == 2
    assert grew("tracker_outbox_events_not_fanned_out") == 1
    assert value(after, "tracker_outbox_oldest_due_seconds") >= 600
    # The newest attempt, two minutes ago, is the workers' last sign of life.
    assert 120 <= value(after, "tracker_outbox_last_attempt_seconds") < 3600
    assert value(after, "tracker_database_up") == 1


def test_scrape_time_figures_name_the_search_indexes_and_extraction_states(client):
    samples = scrape(client)
    assert value(samples, "tracker_search_index_up", index="records") == 1
    assert value(samples, "tracker_search_index_up", index="passages") == 1
    assert ("tracker_search_lag_changes", (("index", "records"),)) in samples
    states = {dict(labels)["state"] for name, labels in samples if name == "tracker_document_extractions"}
    assert states == {"pending", "extracting", "done", "partial", "failed"}


def test_metrics_are_never_cached_and_set_no_cookie(client):
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response.headers
    assert response.content_type.startswith("text/plain")


def test_a_client_not_allowed_is_refused_without_a_word_unless_it_has_the_token(app, client, monkeypatch):
    remote = {"REMOTE_ADDR": "203.0.113.9"}
    refused = client.get("/metrics", environ_base=remote)
    assert refused.status_code == 403 and refused.data == b""
    assert "Set-Cookie" not in refused.headers
    # No token configured: any bearer token is refused.
    assert client.get("/metrics", environ_base=remote, headers={"Authorization": "Bearer "}).status_code == 403

    monkeypatch.setitem(app.config, "METRICS_TOKEN", "a-long-scrape-token")
    assert client.get("/metrics", environ_base=remote,
                      headers={"Authorization": "Bearer not-the-token"}).status_code == 403
    assert client.get("/metrics", environ_base=remote,
                      headers={"Authorization": "Basic a-long-scrape-token"}).status_code == 403
    samples = scrape(client, environ_base=remote, headers={"Authorization": "Bearer a-long-scrape-token"})
    assert value(samples, "tracker_database_up") == 1


def test_networks_of_metrics_allow_let_their_clients_in(app, client, monkeypatch):
    monkeypatch.setitem(app.extensions, "tracker.metrics_allow", allowed_networks("192.0.2.7, 10.0.0.0/8"))
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.20.30.40"}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "192.0.2.8"}).status_code == 403
    # Loopback is no longer in the list.
    assert client.get("/metrics").status_code == 403


def test_behind_a_trusted_proxy_the_client_is_the_forwarded_address(app, database_url):
    proxied = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "x", "TRUSTED_PROXIES": 1})
    try:
        client = proxied.test_client()
        # nginx on this host forwards a request from the internet: not a loopback client.
        outside = client.get("/metrics", headers={"X-Forwarded-For": "198.51.100.4"})
        assert outside.status_code == 403
    finally:
        proxied.extensions["tracker.db"].dispose()


@pytest.mark.parametrize("setting", ["10.0.0.0/33", "localhost", "127.0.0.1,,example.org"])
def test_a_wrong_metrics_allow_stops_the_app_and_names_the_entry(setting, database_url):
    with pytest.raises(ConfigError, match="METRICS_ALLOW"):
        create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "x", "METRICS_ALLOW": setting})


def test_an_empty_metrics_allow_lets_in_only_the_token(app, client, monkeypatch):
    monkeypatch.setitem(app.extensions, "tracker.metrics_allow", allowed_networks(""))
    monkeypatch.setitem(app.config, "METRICS_TOKEN", "scrape-token")
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", headers={"Authorization": "Bearer scrape-token"}).status_code == 200


def test_a_scrape_reads_the_database_in_a_few_statements(client, count_queries):
    client.get("/metrics")
    count_queries.reset()
    assert client.get("/metrics").status_code == 200
    print(f"/metrics ran {count_queries.count} statements:", *count_queries.statements, sep="\n  ")
    # The readiness checks (SELECT 1, the revision, the newest change, the outbox: two, the newest attempt, the
    # workers' heartbeats) and one count of texts by state; lag queries only for an index behind the log.
    assert count_queries.count <= 10
