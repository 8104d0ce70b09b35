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
from tracker.services import accounts
from tracker.services.dataset import load_dataset

DEMO_PATH = Path(__file__).resolve().parent.parent / "tracker" / "data" / "asean-ev-policies.json"
ROLES = ("admin", "reviewer", "editor", "partner")
PASSWORD = "correct horse battery staple"


def email_of(role: str) -> str:
    """The email of the suite's account with ``role`` (created once per session, see ``app``)."""
    return f"{role}@example.org"


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
        for role in ROLES:
            accounts.create_user(session, email_of(role), PASSWORD, role, display_name=f"Test {role}")
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


@pytest.fixture
def users(session) -> dict:
    """The suite's accounts by role: admin, reviewer, editor, partner (password PASSWORD)."""
    from sqlalchemy import select

    from tracker.models import User

    return {user.role: user for user in session.scalars(select(User).where(User.email.in_(
        [email_of(role) for role in ROLES])))}


@pytest.fixture
def login_as(client, users):
    """Sign ``client`` in as the suite's account with a role, without spending an Argon2 check."""

    def sign_in(role: str | None):
        with client.session_transaction() as cookie_session:
            cookie_session.clear()
            if role is not None:
                cookie_session["_user_id"] = users[role].session_token
                cookie_session["_fresh"] = True
        return users.get(role)

    return sign_in


@pytest.fixture
def api_token(session, users):
    """A bearer token for a role's account: ``api_token("editor")`` -> headers for the test client."""
    tokens: dict[str, dict[str, str]] = {}

    def headers_for(role: str) -> dict[str, str]:
        if role not in tokens:
            _, plain = accounts.create_api_token(session, users[role], f"test {role}")
            session.commit()
            tokens[role] = {"Authorization": f"Bearer {plain}"}
        return tokens[role]

    return headers_for
