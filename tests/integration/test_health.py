"""/healthz and /readyz as a load balancer sees them: a live process, a ready one, and each reason to stop traffic."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import text

from tracker import create_app
from tracker.models.notification import Delivery, DeliveryAttempt, NotificationEvent, WebhookEndpoint
from tracker.models.search_log import SearchChange
from tracker.models.types import utcnow
from tracker.search.runtime import runtime_of
from tracker.services.readiness import code_revisions

# Statements a ready host's /readyz runs: SELECT 1, the schema's revision, the newest search change, the
# outbox's backlog, the newest attempt, the events not fanned out, the workers' heartbeats.
READY_QUERIES = 7


def _app_over(url: str, tmp_path):
    return create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "test-secret-key-not-for-production",
                       "SEARCH_INDEX_PATH": str(tmp_path / "index"), "SEARCH_INDEXER": "external"})


def _add_search_changes(session, count: int, *, changed_at: dt.datetime | None = None) -> None:
    # Rows as a committed edit leaves them, which no indexer of this test applies.
    session.add_all([SearchChange(entity_type="policy", entity_id=1, changed_at=changed_at or utcnow())
                     for _ in range(count)])
    session.flush()


def test_healthz_answers_ok_without_cookie_cache_or_query(client, count_queries):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response.headers
    assert count_queries.count == 0


def test_healthz_stays_ok_while_the_database_is_gone_and_readyz_says_why(tmp_path):
    # A database in a folder that does not exist: every connection fails.
    app = _app_over(f"sqlite:///{tmp_path / 'no-such-folder' / 'tracker.db'}", tmp_path)
    try:
        client = app.test_client()
        live = client.get("/healthz")
        assert (live.status_code, live.get_json()) == (200, {"status": "ok"})
        ready = client.get("/readyz")
        assert ready.status_code == 503
        body = ready.get_json()
        assert body["status"] == "not ready"
        assert body["checks"]["database"]["ok"] is False
        assert body["checks"]["database"]["error"] == "database error (OperationalError)"
        assert {name: check["ok"] for name, check in body["checks"].items()} == {
            "database": False, "schema": False, "search": False, "notifications": False, "workers": False}
        # No path of the server's in the answer.
        assert str(tmp_path) not in ready.get_data(as_text=True)
        assert ready.headers["Cache-Control"] == "no-store"
    finally:
        app.extensions["tracker.db"].dispose()


def test_readyz_is_not_ready_on_a_database_never_migrated(tmp_path):
    app = _app_over(f"sqlite:///{tmp_path / 'empty.db'}", tmp_path)
    try:
        response = app.test_client().get("/readyz")
        assert response.status_code == 503
        checks = response.get_json()["checks"]
        assert checks["database"]["ok"] is True
        assert checks["schema"] == {"ok": False, "database_revision": None,
                                    "code_revision": ",".join(sorted(code_revisions())),
                                    "error": "the database is not migrated", "ms": checks["schema"]["ms"]}
    finally:
        app.extensions["tracker.db"].dispose()


def test_readyz_is_ready_on_the_migrated_database_with_its_index_caught_up(app, client,
        search_index):
    response = client.get("/readyz")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "ready"
    checks = body["checks"]
    assert set(checks) == {"database", "schema", "search", "notifications", "workers"}
    assert all(check["ok"] for check in checks.values())
    assert checks["schema"]["database_revision"] == checks["schema"]["code_revision"]
    for name in ("records", "passages"):
        index = checks["search"]["indexes"][name]
        assert index["ok"] is True
        assert index["pending_changes"] == 0
        assert index["applied_change"] == checks["search"]["newest_change"]
    assert response.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response.headers
    text_of = response.get_data(as_text=True)
    assert app.config["SEARCH_INDEX_PATH"] not in text_of
    assert app.config["DATABASE_URL"] not in text_of


def test_readyz_is_not_ready_when_the_database_is_behind_the_code(client, session):
    # Inside the test's transaction, rolled back afterwards.
    session.execute(text("UPDATE alembic_version SET version_num = '0015'"))
    response = client.get("/readyz")
    assert response.status_code == 503
    schema = response.get_json()["checks"]["schema"]
    assert schema["ok"] is False
    assert schema["database_revision"] == "0015"
    assert schema["code_revision"] == ",".join(sorted(code_revisions())) != "0015"
    assert schema["error"] == "the database is at another revision than this code's migrations"


def test_readyz_sends_traffic_away_while_the_search_replica_lags_beyond_the_bound(app, client, session, monkeypatch,
        search_index):
    monkeypatch.setitem(app.config, "READY_MAX_SEARCH_LAG_CHANGES", 3)
    _add_search_changes(session, 3)
    within = client.get("/readyz")
    assert within.status_code == 200
    assert within.get_json()["checks"]["search"]["indexes"]["records"]["pending_changes"] == 3

    _add_search_changes(session, 1)
    beyond = client.get("/readyz")
    assert beyond.status_code == 503
    search = beyond.get_json()["checks"]["search"]
    assert search["ok"] is False
    for name in ("records", "passages"):
        index = search["indexes"][name]
        assert (index["ok"], index["pending_changes"]) == (False, 4)
        assert index["error"] == "the index is further behind the database than the configured bound"
        # Not `applied + 4 == newest`: on PostgreSQL, numbers taken by transactions that rolled back
        # (other tests') leave holes in the log.
        assert index["applied_change"] < search["newest_change"]
    # The other checks still pass: only the search replica holds this host back.
    checks = beyond.get_json()["checks"]
    assert [name for name, check in checks.items() if not check["ok"]] == ["search"]


def test_readyz_counts_a_long_lag_no_further_than_one_past_the_bound(app, client, session, monkeypatch):
    monkeypatch.setitem(app.config, "READY_MAX_SEARCH_LAG_CHANGES", 2)
    _add_search_changes(session, 7)
    index = client.get("/readyz").get_json()["checks"]["search"]["indexes"]["records"]
    assert (index["pending_changes"], index["pending_changes_at_least"]) == (3, True)


def test_readyz_is_not_ready_when_an_unapplied_change_is_older_than_the_bound(app, client, session, monkeypatch,
        search_index):
    monkeypatch.setitem(app.config, "READY_MAX_SEARCH_LAG_SECONDS", 120.0)
    _add_search_changes(session, 1, changed_at=utcnow() - dt.timedelta(minutes=10))
    response = client.get("/readyz")
    assert response.status_code == 503
    index = response.get_json()["checks"]["search"]["indexes"]["records"]
    assert index["pending_changes"] == 1
    assert 600 <= index["oldest_pending_seconds"] < 700

    # 0 turns the bound off.
    monkeypatch.setitem(app.config, "READY_MAX_SEARCH_LAG_SECONDS", 0.0)
    assert client.get("/readyz").status_code == 200


def test_readyz_is_ready_again_once_the_replica_applies_the_changes(app, client, session, search_index, monkeypatch):
    monkeypatch.setitem(app.config, "READY_MAX_SEARCH_LAG_CHANGES", 1)
    _add_search_changes(session, 2)
    assert client.get("/readyz").status_code == 503
    search_index.sync()
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["checks"]["search"]["indexes"]["records"]["pending_changes"] == 0


def test_readyz_reports_the_notification_backlog_without_turning_the_host_away(client, session, users):
    endpoint = WebhookEndpoint(user_id=users["partner"].id, url="https://hooks.example.org/tracker",
                               secret="whsec_" + "A" * 43 + "=")
    session.add(endpoint)
    session.flush()
    now = utcnow()
    waiting = (("pending", now - dt.timedelta(minutes=5)), ("retrying", now - dt.timedelta(seconds=30)),
               ("retrying", now + dt.timedelta(hours=1)), ("pending", None), ("delivered", None))
    for state, next_attempt_at in waiting:
        event = NotificationEvent(type="webhook.test", webhook_endpoint_id=endpoint.id, payload={},
                                  fanned_out_at=now)
        session.add(event)
        session.flush()
        delivery = Delivery(event_id=event.id, webhook_endpoint_id=endpoint.id, channel="webhook", state=state)
        session.add(delivery)
        session.flush()
        # Set after the insert: a None given to the constructor lets the column's default (now) in.
        delivery.next_attempt_at = next_attempt_at
    session.add(NotificationEvent(type="webhook.test", webhook_endpoint_id=endpoint.id, payload={}))
    session.flush()
    delivered = session.query(Delivery).filter_by(state="delivered").one()
    session.add(DeliveryAttempt(delivery_id=delivered.id, outcome="delivered", status_code=200,
                                attempted_at=now - dt.timedelta(seconds=42)))
    session.flush()

    response = client.get("/readyz")
    assert response.status_code == 200
    outbox = response.get_json()["checks"]["notifications"]
    assert outbox["ok"] is True
    assert (outbox["pending"], outbox["retrying"], outbox["due"], outbox["events_waiting"]) == (2, 2, 2, 1)
    assert 300 <= outbox["oldest_due_seconds"] < 360
    assert 42 <= outbox["last_attempt_seconds"] < 100
    assert outbox["last_attempt_at"].endswith("Z")


def test_readyz_runs_a_handful_of_queries_whether_ready_or_lagging(app, client, session, count_queries, monkeypatch,
        search_index):
    client.get("/readyz")  # the migrations folder is read once per process, before counting
    # On PostgreSQL, numbers the index has not seen below its newest change (transactions that rolled back,
    # or are still open) are watched for a while as gaps, and the log is asked about them.
    gaps = bool(runtime_of(app).indexer.position().gaps)
    count_queries.reset()
    assert client.get("/readyz").status_code == 200
    assert count_queries.count == READY_QUERIES + (2 if gaps else 0), count_queries.statements

    # Lagging: two more, asked once for both indexes (they stand at the same change).
    monkeypatch.setitem(app.config, "READY_MAX_SEARCH_LAG_CHANGES", 1)
    _add_search_changes(session, 5)
    count_queries.reset()
    assert client.get("/readyz").status_code == 503
    assert count_queries.count == READY_QUERIES + 2, count_queries.statements
