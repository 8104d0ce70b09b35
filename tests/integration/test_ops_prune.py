"""`flask ops prune`: search replicas register and report their position; the change log is pruned only below the
lowest live replica and beyond the safety margin; a forgotten replica knows it must rebuild; a dry run removes
nothing and reports what a real run removes."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from tests.factories import policy_record
from tracker import create_app
from tracker.db import unit_of_work
from tracker.models import ManageLinkRequest, RequestCount, SearchChange
from tracker.models.search_replica import SearchReplica
from tracker.models.types import utcnow
from tracker.search.index import IndexBehindLog
from tracker.search.replicas import replica_id
from tracker.search.runtime import runtime_of
from tracker.services.dataset import load_dataset


def _write(app):
    return unit_of_work(app.extensions["tracker.db"].session(write=True))


def _add_policies(app, prefix: str, count: int) -> None:
    for n in range(count):
        with _write(app) as session:
            load_dataset(session, {"policies": [policy_record(f"{prefix}-{n}", title_en=f"Dugong plan {prefix} {n}")]})


def _replicas(app) -> dict[str, SearchReplica]:
    with app.extensions["tracker.db"].session() as session:
        return {row.id: row for row in session.scalars(select(SearchReplica))}


def _log_ids(app) -> list[int]:
    with app.extensions["tracker.db"].session() as session:
        return list(session.scalars(select(SearchChange.id).order_by(SearchChange.id)))


def _age_log(app, *, through: int | None = None, days: float = 30) -> None:
    """Make log rows (all, or up to ``through``) look ``days`` old."""
    statement = update(SearchChange).values(changed_at=utcnow() - dt.timedelta(days=days))
    if through is not None:
        statement = statement.where(SearchChange.id <= through)
    with _write(app) as session:
        session.execute(statement)


def _prune(app, *args: str):
    result = app.test_cli_runner().invoke(args=["ops", "prune", *args])
    assert result.exit_code == 0, result.output
    table = {}
    for line in result.output.splitlines()[1:]:
        words = line.split()
        if len(words) >= 2 and words[1].replace(",", "").isdigit():
            table[words[0]] = int(words[1].replace(",", ""))
    return result.output, table


@pytest.fixture
def other_host(committed_app, tmp_path):
    """Another host on the same database, with its own index folder."""
    apps = []

    def make(name: str):
        app = create_app({"TESTING": True, "DATABASE_URL": committed_app.config["DATABASE_URL"],
                          "SECRET_KEY": "test-secret-key-not-for-production",
                          "SEARCH_INDEX_PATH": str(tmp_path / name), "SEARCH_INDEXER": "external"})
        apps.append(app)
        return app

    yield make
    for app in apps:
        runtime_of(app).close()
        app.extensions["tracker.db"].dispose()


def test_an_index_registers_as_a_replica_and_reports_its_position(committed_app):
    runtime = runtime_of(committed_app)
    _add_policies(committed_app, "first", 2)
    assert _replicas(committed_app) == {}
    result = committed_app.test_cli_runner().invoke(args=["search", "ensure"])
    assert result.exit_code == 0, result.output
    (row,) = _replicas(committed_app).values()
    newest = _log_ids(committed_app)[-1]
    assert row.id == replica_id(committed_app.config["SEARCH_INDEX_PATH"])
    assert row.position == row.complete_through == newest and row.gaps == 0
    assert row.index_path == str(Path(committed_app.config["SEARCH_INDEX_PATH"]).resolve()) and row.host

    # Idle: no write until the heartbeat interval has passed.
    runtime.config["SEARCH_REPLICA_HEARTBEAT_SECONDS"] = 3600.0
    assert runtime.heartbeat.beat() is False
    assert _replicas(committed_app)[row.id].heartbeat_at == row.heartbeat_at

    # A change applied moves the reported position at once, whatever the interval.
    _add_policies(committed_app, "second", 1)
    runtime.config["SEARCH_INDEXER"] = "embedded"
    try:
        runtime._index_pending()
    finally:
        runtime.config["SEARCH_INDEXER"] = "external"
    moved = _replicas(committed_app)[row.id]
    assert moved.position == _log_ids(committed_app)[-1] > row.position
    assert moved.heartbeat_at > row.heartbeat_at

    # An idle replica still says it is alive once the interval has passed.
    runtime.config["SEARCH_REPLICA_HEARTBEAT_SECONDS"] = 0.0
    assert runtime.heartbeat.beat() is True
    assert _replicas(committed_app)[row.id].heartbeat_at > moved.heartbeat_at
    assert len(_replicas(committed_app)) == 1


def test_nothing_is_pruned_from_the_log_while_no_replica_is_registered(committed_app):
    _add_policies(committed_app, "lonely", 3)
    _age_log(committed_app)
    before = _log_ids(committed_app)
    output, table = _prune(committed_app)
    assert table["search_changes"] == 0 and "no search replica is registered" in output
    assert _log_ids(committed_app) == before


def test_the_log_is_pruned_only_below_the_lowest_replica_and_beyond_the_safety_margin(committed_app, other_host):
    _add_policies(committed_app, "early", 4)
    laggard = other_host("laggard-index")
    assert laggard.test_cli_runner().invoke(args=["search", "ensure"]).exit_code == 0
    lagging_at = _replicas(committed_app)[replica_id(laggard.config["SEARCH_INDEX_PATH"])].complete_through
    _add_policies(committed_app, "late", 4)
    assert committed_app.test_cli_runner().invoke(args=["search", "ensure"]).exit_code == 0
    ids = _log_ids(committed_app)
    assert ids[-1] > lagging_at
    # Everything old except the two rows just below the laggard's position, which are recent.
    _age_log(committed_app)
    recent = [i for i in ids if i <= lagging_at][-2:]
    with _write(committed_app) as session:
        session.execute(update(SearchChange).where(SearchChange.id.in_(recent)).values(changed_at=utcnow()))

    output, table = _prune(committed_app)
    left = _log_ids(committed_app)
    expected_gone = [i for i in ids if i <= lagging_at and i not in recent]
    assert table["search_changes"] == len(expected_gone) > 0
    assert left == [i for i in ids if i not in expected_gone]
    assert f"id <= {lagging_at}" in output and "2 replica(s)" in output
    # Both replicas still follow the log.
    _add_policies(committed_app, "after", 1)
    for app in (committed_app, laggard):
        report = runtime_of(app).indexer.apply_pending(runtime_of(app).sessions)
        assert report.high == _log_ids(committed_app)[-1]


def test_the_newest_log_row_is_never_pruned(committed_app):
    _add_policies(committed_app, "only", 2)
    assert committed_app.test_cli_runner().invoke(args=["search", "ensure"]).exit_code == 0
    _age_log(committed_app)
    ids = _log_ids(committed_app)
    _, table = _prune(committed_app)
    assert table["search_changes"] == len(ids) - 1
    assert _log_ids(committed_app) == ids[-1:]


def test_a_forgotten_replica_knows_it_must_rebuild_and_search_ensure_rebuilds_it(committed_app, other_host):
    _add_policies(committed_app, "old", 3)
    sleeper = other_host("sleeper-index")
    assert sleeper.test_cli_runner().invoke(args=["search", "ensure"]).exit_code == 0
    _add_policies(committed_app, "new", 3)
    assert committed_app.test_cli_runner().invoke(args=["search", "ensure"]).exit_code == 0
    _age_log(committed_app)
    sleeper_id = replica_id(sleeper.config["SEARCH_INDEX_PATH"])
    with _write(committed_app) as session:
        session.execute(update(SearchReplica).where(SearchReplica.id == sleeper_id)
                        .values(heartbeat_at=utcnow() - dt.timedelta(days=8)))

    output, table = _prune(committed_app)
    assert table["search_replicas"] == 1 and sleeper_id not in _replicas(committed_app)
    assert table["search_changes"] > 0

    runtime = runtime_of(sleeper)
    with pytest.raises(IndexBehindLog, match="must be rebuilt"):
        runtime.indexer.apply_pending(runtime.sessions)
    check = sleeper.test_cli_runner().invoke(args=["search", "check"])
    assert check.exit_code == 1 and "can never catch up and must be rebuilt" in check.output
    ensure = sleeper.test_cli_runner().invoke(args=["search", "ensure"])
    assert ensure.exit_code == 0, ensure.output
    assert "Rebuilding the index of records" in ensure.output
    check = sleeper.test_cli_runner().invoke(args=["search", "check"])
    assert check.exit_code == 0 and "No drift" in check.output
    assert _replicas(committed_app)[sleeper_id].position == _log_ids(committed_app)[-1]


def test_a_dry_run_removes_nothing_and_reports_what_a_real_run_removes(committed_app):
    _add_policies(committed_app, "dry", 3)
    assert committed_app.test_cli_runner().invoke(args=["search", "ensure"]).exit_code == 0
    _age_log(committed_app)
    now = utcnow()
    with _write(committed_app) as session:
        session.add_all([RequestCount(scope="subscribe_client", key="192.0.2.1", count=3,
                                      window_ends_at=now - dt.timedelta(hours=2)),
                         RequestCount(scope="subscribe_client", key="192.0.2.2", count=1,
                                      window_ends_at=now + dt.timedelta(hours=2)),
                         ManageLinkRequest(client="192.0.2.1", address_digest="a" * 64,
                                           requested_at=now - dt.timedelta(days=2)),
                         ManageLinkRequest(client="192.0.2.1", address_digest="b" * 64, requested_at=now)])
    ids = _log_ids(committed_app)

    output, dry = _prune(committed_app, "--dry-run")
    assert "would remove" in output and "Dry run: nothing was removed." in output
    assert "audit_entries" in output and "never pruned" in output
    assert _log_ids(committed_app) == ids
    with committed_app.extensions["tracker.db"].session() as session:
        assert session.scalar(select(func.count(RequestCount.id))) == 2
        assert session.scalar(select(func.count(ManageLinkRequest.id))) == 2
    assert dry["search_changes"] == len(ids) - 1 and dry["request_counts"] == 1 and dry["manage_link_requests"] == 1

    output, real = _prune(committed_app)
    assert "removed" in output.splitlines()[0] and "Dry run" not in output
    assert real == dry
    assert _log_ids(committed_app) == ids[-1:]
    with committed_app.extensions["tracker.db"].session() as session:
        assert session.scalar(select(func.count(RequestCount.id))) == 1
        assert session.scalar(select(func.count(ManageLinkRequest.id))) == 1
    _, again = _prune(committed_app)
    assert again["search_changes"] == again["request_counts"] == again["manage_link_requests"] == 0
