"""Shared fixtures: a migrated database (SQLite, or PostgreSQL from TRACKER_DATABASE_URL), per-test rollback."""
from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import Connection

from tracker import create_app, migrate
from tracker.db import Database, unit_of_work
from tracker.services.dataset import load_dataset

DEMO_PATH = Path(__file__).resolve().parent.parent / "tracker" / "data" / "asean-ev-policies.json"


def _reset_postgresql(url: str) -> None:
    database = Database(url)
    with database.engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    database.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The suite's database: PostgreSQL when TRACKER_DATABASE_URL names one, else a temporary SQLite file."""
    url = os.environ.get("TRACKER_DATABASE_URL", "")
    if url.startswith("postgresql"):
        _reset_postgresql(url)
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'tracker.db'}"


@pytest.fixture(scope="session")
def demo_data() -> dict:
    """The bundled dataset, parsed."""
    return json.loads(DEMO_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def app(database_url: str, demo_data: dict, tmp_path_factory: pytest.TempPathFactory):
    """The application over a database built by `alembic upgrade head` and holding the demo data."""
    instance = tmp_path_factory.mktemp("instance")
    application = create_app({
        "TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test-secret-key-not-for-production",
        "SEARCH_INDEX_PATH": str(instance / "search-index"),
    })
    database: Database = application.extensions["tracker.db"]
    migrate.upgrade(database.engine)
    with unit_of_work(database.session(write=True)) as session:
        load_dataset(session, demo_data)
    yield application
    database.dispose()


@pytest.fixture
def database(app) -> Database:
    return app.extensions["tracker.db"]


@pytest.fixture
def connection(database: Database) -> Iterator[Connection]:
    """Wrap the test in one transaction that is rolled back, so every test sees the demo data as loaded."""
    conn = database.engine.connect()
    outer = conn.begin()
    database.bind_to(conn)
    try:
        yield conn
    finally:
        database.bind_to(None)
        outer.rollback()
        conn.close()


@pytest.fixture
def session(database: Database, connection: Connection):
    """A session inside the test's transaction."""
    with database.session(write=True) as sess:
        yield sess


@pytest.fixture
def client(app, connection):
    return app.test_client()


@pytest.fixture
def runner(app, connection):
    return app.test_cli_runner()


class QueryCounter:
    """Counts the SQL statements an engine runs (transaction control statements aside)."""

    _IGNORED = re.compile(r"^\s*(SAVEPOINT|RELEASE|ROLLBACK|BEGIN|COMMIT|PRAGMA)", re.IGNORECASE)

    def __init__(self) -> None:
        self.statements: list[str] = []

    def __call__(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if not self._IGNORED.match(statement):
            self.statements.append(statement)

    @property
    def count(self) -> int:
        return len(self.statements)

    def reset(self) -> None:
        self.statements.clear()


@pytest.fixture
def count_queries(database: Database, connection) -> Iterator[QueryCounter]:
    counter = QueryCounter()
    event.listen(database.engine, "before_cursor_execute", counter)
    try:
        yield counter
    finally:
        event.remove(database.engine, "before_cursor_execute", counter)
