"""`flask ops backup` and `flask ops restore`: a backup taken while the site writes restores into a fresh instance
with exactly the rows of its moment and a search index without drift; a damaged backup and a database that is not
empty are refused."""
from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, inspect, select, text

from tests.conftest import _create_postgresql_database, _drop_postgresql_database
from tests.factories import policy_record
from tracker import create_app
from tracker.db import unit_of_work
from tracker.models import Policy
from tracker.search.runtime import runtime_of
from tracker.services.dataset import load_dataset


def _write(app):
    return unit_of_work(app.extensions["tracker.db"].session(write=True))


@pytest.fixture
def fresh_instance(committed_app, database_url, tmp_path):
    """A second instance of the same kind of database, empty (not even migrated)."""
    created: list[str] = []

    def make():
        if database_url.startswith("postgresql"):
            url = _create_postgresql_database(database_url)
            created.append(url)
        else:
            url = f"sqlite:///{tmp_path / f'restored-{len(created)}.db'}"
            created.append(url)
        return create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "test-secret-key-not-for-production",
                           "SEARCH_INDEX_PATH": str(tmp_path / f"restored-index-{len(created)}"),
                           "SEARCH_INDEXER": "external"})

    apps = []

    def tracked():
        app = make()
        apps.append(app)
        return app

    yield tracked
    for app in apps:
        runtime_of(app).close()
        app.extensions["tracker.db"].dispose()
    if database_url.startswith("postgresql"):
        for url in created:
            _drop_postgresql_database(database_url, url)


def _table_rows(app) -> dict[str, int]:
    engine = app.extensions["tracker.db"].engine
    with engine.connect() as connection:
        return {name: connection.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one()
                for name in inspect(connection).get_table_names()}


def _policy_keys(app) -> set[str]:
    with app.extensions["tracker.db"].session() as session:
        return set(session.scalars(select(Policy.key)))


def test_a_backup_under_write_load_restores_exactly_its_moment_with_a_clean_search_index(
        committed_app, fresh_instance, tmp_path):
    with _write(committed_app) as session:
        load_dataset(session, {"policies": [policy_record(f"before-{n}", title_en=f"Wombat charging plan {n}")
                                            for n in range(5)]})
    written: list[str] = []
    stop = threading.Event()
    failures: list[BaseException] = []

    def keep_writing() -> None:
        # One policy per transaction, in order: a consistent copy holds a prefix of them, never a hole.
        n = 0
        try:
            while not stop.is_set():
                with _write(committed_app) as session:
                    load_dataset(session, {"policies": [policy_record(f"load-{n:04d}", title_en=f"Load plan {n}")]})
                written.append(f"load-{n:04d}")
                n += 1
        except BaseException as error:  # reported by the test below
            failures.append(error)

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        while len(written) < 3:
            stop.wait(0.01)
        before = len(written)
        result = committed_app.test_cli_runner().invoke(args=["ops", "backup", str(tmp_path / "backup")])
        while len(written) < before + 3:
            stop.wait(0.01)
    finally:
        stop.set()
        writer.join()
    assert failures == []
    assert result.exit_code == 0, result.output
    assert "Backed up the" in result.output
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    assert manifest["schema_revision"] == "0018" and manifest["database"] in ("sqlite", "postgresql")
    assert manifest["created_at"].endswith("+00:00") and manifest["tracker_version"]
    expected_file = "tracker.sqlite3" if manifest["database"] == "sqlite" else "tracker.pgdump"
    assert [entry["name"] for entry in manifest["files"]] == [expected_file]
    # The writer went on after the backup, so the source has moved past the backup's moment.
    assert _policy_keys(committed_app) > {f"load-{n:04d}" for n in range(before)}
    assert manifest["tables"]["policies"] < _table_rows(committed_app)["policies"]

    restored = fresh_instance()
    outcome = restored.test_cli_runner().invoke(args=["ops", "restore", str(tmp_path / "backup")])
    assert outcome.exit_code == 0, outcome.output
    assert "as the manifest counted them" in outcome.output and "Built the records index" in outcome.output
    # Every table holds the rows of the backup's moment; beside them, the rebuilt index registered itself.
    rows = _table_rows(restored)
    assert rows.pop("search_replicas") == manifest["tables"].pop("search_replicas") + 1
    assert rows == manifest["tables"]
    loaded = sorted(key for key in _policy_keys(restored) if key.startswith("load-"))
    assert loaded == [f"load-{n:04d}" for n in range(len(loaded))] and len(loaded) >= before
    assert {f"before-{n}" for n in range(5)} <= _policy_keys(restored)
    # The rebuilt index holds every restored record, and no other.
    runtime = runtime_of(restored)
    for indexer in runtime.indexers:
        with runtime.sessions() as session:
            drift = indexer.check(session)
        assert drift.clean and drift.pending == 0, (indexer.corpus.name, drift)
    with runtime.sessions() as session:
        assert session.scalar(select(func.count(Policy.id))) == manifest["tables"]["policies"]
    check = restored.test_cli_runner().invoke(args=["search", "check"])
    assert check.exit_code == 0 and "No drift" in check.output


def test_a_damaged_backup_is_refused_and_nothing_is_restored(committed_app, fresh_instance, tmp_path):
    result = committed_app.test_cli_runner().invoke(args=["ops", "backup", str(tmp_path / "backup")])
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    data = tmp_path / "backup" / manifest["files"][0]["name"]
    content = bytearray(data.read_bytes())
    content[len(content) // 2] ^= 0xFF
    data.write_bytes(bytes(content))

    restored = fresh_instance()
    outcome = restored.test_cli_runner().invoke(args=["ops", "restore", str(tmp_path / "backup")])
    assert outcome.exit_code == 1
    assert "The backup is damaged: the SHA-256 of" in outcome.output and "Restore another backup" in outcome.output
    assert [name for name, rows in _table_rows(restored).items() if rows] == []

    data.write_bytes(bytes(content[:-10]))
    truncated = restored.test_cli_runner().invoke(args=["ops", "restore", str(tmp_path / "backup")])
    assert truncated.exit_code == 1 and "bytes, the manifest says" in truncated.output


def test_a_restore_into_a_database_that_is_not_empty_is_refused(committed_app, tmp_path):
    result = committed_app.test_cli_runner().invoke(args=["ops", "backup", str(tmp_path / "backup")])
    assert result.exit_code == 0, result.output
    with _write(committed_app) as session:
        load_dataset(session, {"policies": [policy_record("after-backup")]})
    before = _table_rows(committed_app)
    outcome = committed_app.test_cli_runner().invoke(args=["ops", "restore", str(tmp_path / "backup")])
    assert outcome.exit_code == 1
    assert "is not empty" in outcome.output and "restored only into an empty database" in outcome.output
    assert _table_rows(committed_app) == before and "after-backup" in _policy_keys(committed_app)


def test_a_backup_never_writes_into_a_folder_that_is_not_empty(committed_app, tmp_path):
    target = tmp_path / "backup"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    result = committed_app.test_cli_runner().invoke(args=["ops", "backup", str(target)])
    assert result.exit_code == 1 and "is not empty" in result.output
    assert sorted(path.name for path in target.iterdir()) == ["notes.txt"]


# Defined only when the suite runs on PostgreSQL (as CI always also runs it): pg_dump serves no SQLite database.
if os.environ.get("TRACKER_DATABASE_URL", "").startswith("postgresql"):
    def test_a_postgresql_backup_without_pg_dump_names_the_package(committed_app, tmp_path, monkeypatch):
        monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
        result = committed_app.test_cli_runner().invoke(args=["ops", "backup", str(tmp_path / "backup")])
        assert result.exit_code == 1 and "postgresql-client" in result.output


def test_a_missing_manifest_is_refused_with_a_clear_message(committed_app, fresh_instance, tmp_path):
    folder: Path = tmp_path / "not-a-backup"
    folder.mkdir()
    outcome = fresh_instance().test_cli_runner().invoke(args=["ops", "restore", str(folder)])
    assert outcome.exit_code == 1 and "holds no manifest.json" in outcome.output
