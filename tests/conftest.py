"""Shared fixtures: a migrated database (SQLite, or PostgreSQL from TRACKER_DATABASE_URL), per-test rollback."""
from __future__ import annotations

import datetime as dt
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
# The suite makes thousands of requests from one address, which the per-client rate limits would refuse: every
# app the tests build, and every server they start, leaves them off. Tests of the limits turn them on.
os.environ["TRACKER_RATELIMIT_ENABLED"] = "false"
# Most tests run in a transaction of their own on one SQLite file, and several build further apps over that file:
# a worker thread of any of them writing its heartbeat would take the write lock between a test's read and its
# write ("database is locked"). Every app and server the tests make has heartbeats off; the heartbeat tests
# turn them on, on databases of their own.
os.environ["TRACKER_WORKER_HEARTBEAT_SECONDS"] = "0"


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
        # The app counts days in Vientiane (UTC+7), the tests with the machine's date: from 17:00 UTC the two
        # differ by a day. The suite's app takes the machine's date; a test that needs another day sets TODAY.
        "TODAY": dt.date.today().isoformat(),
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


def signed_in(app, users: dict, role: str):
    """A browser of its own (its own cookie jar), signed in with ``role``: two people, two sessions."""
    browser = app.test_client()
    with browser.session_transaction() as cookie:
        cookie["_user_id"] = users[role].session_token
        cookie["_fresh"] = True
    return browser


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


# ---------------------------------------------------------------------------------------------------
# Debian's Chromium through Playwright: one browser for the session, started only when a test needs it (the
# browser tests, and the document fixtures it prints); Playwright's sync API cannot run two sessions at once.

@pytest.fixture(scope="session")
def browser():
    import shutil

    from playwright.sync_api import sync_playwright

    from tests.documents.fixtures import CHROMIUM_ARGS

    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.fail("Debian's chromium is not installed: run script/test, which installs it")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


# ---------------------------------------------------------------------------------------------------
# Search: a real Whoosh index per test, and apps over databases of their own with real commits


class SearchIndexHelper:
    """The test's own search index, following the test's transaction."""

    def __init__(self, runtime, session) -> None:
        self.runtime = runtime
        self.session = session

    def sync(self):
        """Commit the test's session (a savepoint: the change-log rows are written, as in a request)
        and apply the pending log to the index through the test's connection."""
        from tracker.search.indexer import borrowed

        self.session.commit()
        self.runtime.passage_indexer.apply_pending(lambda: borrowed(self.session))
        return self.runtime.indexer.apply_pending(lambda: borrowed(self.session))

    def check(self):
        """Drift between the test's database state and the records index (see `flask search check`)."""
        return self.runtime.indexer.check(self.session)

    def check_passages(self):
        """Drift between the test's database state and the passages index."""
        return self.runtime.passage_indexer.check(self.session)


@pytest.fixture(scope="session")
def demo_search_index(app, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index of the committed demo data, built once; tests search copies of it."""
    from tracker.search.documents import PASSAGES
    from tracker.search.index import IndexStore
    from tracker.search.indexer import Indexer
    from tracker.search.runtime import PASSAGES_FOLDER, runtime_of

    runtime = runtime_of(app)
    path = tmp_path_factory.mktemp("demo-search-index")
    Indexer(IndexStore(path)).build(runtime.sessions(), runtime.sessions)
    Indexer(IndexStore(path / PASSAGES_FOLDER), corpus=PASSAGES).build(runtime.sessions(), runtime.sessions)
    return path


@pytest.fixture(scope="session")
def app_search_index(app, demo_search_index: Path) -> Path:
    """The app's own index (at its SEARCH_INDEX_PATH): a copy of the demo index, so that any test
    that reaches the search page or API finds the demo data."""
    import shutil

    from tracker.search.runtime import runtime_of

    # No indexer thread in the suite's app: its queries would land in the query counts of other
    # tests, and its index only needs the demo data (tests that change data use `search_index`).
    runtime = runtime_of(app)
    runtime.config["SEARCH_INDEXER"] = "external"
    runtime.stop()
    path = Path(app.config["SEARCH_INDEX_PATH"])
    if not path.exists():
        shutil.copytree(demo_search_index, path)
    return path


@pytest.fixture(autouse=True)
def _search_index_for_app_tests(request: pytest.FixtureRequest) -> None:
    # Unit tests never create the app; tests that do get its search index built once.
    if "app" in request.fixturenames:
        request.getfixturevalue("app_search_index")


@pytest.fixture
def search_index(app, session, tmp_path: Path, demo_search_index: Path) -> Iterator[SearchIndexHelper]:
    """A fresh index (a copy of the demo index, caught up with the log) that the app searches during
    the test; ``.sync()`` applies the test's changes, ``.check()`` reports drift."""
    import shutil

    from tracker.search.runtime import runtime_of

    runtime = runtime_of(app)
    original = (runtime.config["SEARCH_INDEX_PATH"], runtime.config["SEARCH_INDEXER"])
    copy = tmp_path / "search-index"
    shutil.copytree(demo_search_index, copy)
    # Only the test writes its index: no embedded thread may apply committed data beside it.
    runtime.config["SEARCH_INDEXER"] = "external"
    runtime.set_index_path(copy)
    helper = SearchIndexHelper(runtime, session)
    helper.sync()
    try:
        yield helper
    finally:
        runtime.set_index_path(original[0])
        runtime.config["SEARCH_INDEXER"] = original[1]


def _create_postgresql_database(url: str) -> str:
    import uuid

    from sqlalchemy.engine import make_url

    name = f"tracker_search_{uuid.uuid4().hex[:12]}"
    database = Database(url)
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    database.dispose()
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def _drop_postgresql_database(url: str, own_url: str) -> None:
    from sqlalchemy.engine import make_url

    database = Database(url)
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{make_url(own_url).database}" WITH (FORCE)'))
    database.dispose()


@pytest.fixture
def committed_app(database_url: str, demo_data: dict, tmp_path: Path):
    """An app over a database of its own (a SQLite file, or a new PostgreSQL database when the suite
    runs on PostgreSQL) with the demo organisations and topics, where tests commit for real; its
    search index is at ``app.config["SEARCH_INDEX_PATH"]`` (not built yet), and no indexer thread
    runs unless a test sets ``SEARCH_INDEXER`` to "embedded"."""
    from tracker.search.runtime import runtime_of

    if database_url.startswith("postgresql"):
        url = _create_postgresql_database(database_url)
    else:
        url = f"sqlite:///{tmp_path / 'committed.db'}"
    # The tests drive the indexer themselves unless they turn the embedded one on.
    application = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "test-secret-key-not-for-production",
                              "SEARCH_INDEX_PATH": str(tmp_path / "committed-index"), "SEARCH_INDEXER": "external",
                              "TODAY": dt.date.today().isoformat()})
    database: Database = application.extensions["tracker.db"]
    migrate.upgrade(database.engine)
    with unit_of_work(database.session(write=True)) as session:
        load_dataset(session, {"organisations": demo_data["organisations"], "topics": demo_data["topics"]})
    try:
        yield application
    finally:
        runtime = runtime_of(application)
        runtime.close()
        database.dispose()
        if database_url.startswith("postgresql"):
            _drop_postgresql_database(database_url, url)
