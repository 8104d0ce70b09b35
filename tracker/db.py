"""Database plumbing: the declarative base, one engine per app, sessions and the unit of work."""
from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase, Session
from sqlalchemy.pool import StaticPool

# Deterministic constraint names: Alembic's batch mode on SQLite can only drop what it can name.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

WRITE_OPTION = "tracker_write"


class Base(DeclarativeBase):
    """Base class of every model; its metadata carries the naming convention.

    ``tracks_content``: whether a change to a row of the model changes what readers are shown (and so
    must move the content version that page caches and ETags are keyed on). Models of private state,
    such as accounts or deliveries, set it to False.
    """

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    tracks_content = True


# How long a SQLite writer waits for another writer's lock before giving up (the request then answers 503).
SQLITE_BUSY_TIMEOUT_MS = 15000


def _configure_sqlite(engine: Engine) -> None:
    """Make SQLite fit for a web server: WAL, a busy timeout, foreign keys, immediate write locks."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy (below) emit BEGIN itself instead of pysqlite's implicit, deferred one.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in ("journal_mode=WAL", f"busy_timeout={SQLITE_BUSY_TIMEOUT_MS}", "foreign_keys=ON",
                       "synchronous=FULL"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # A deferred transaction that reads and then writes fails at once with "database is locked"
        # when another writer holds the lock; BEGIN IMMEDIATE takes the write lock up front and so
        # waits for busy_timeout instead. Reads keep a plain BEGIN so they never queue behind writes.
        if connection.get_execution_options().get(WRITE_OPTION):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """Create the engine for ``url``; the only place in the project that creates engines."""
    kwargs: dict[str, Any] = {"echo": echo}
    if url.startswith("sqlite"):
        if url in ("sqlite://", "sqlite:///:memory:"):
            kwargs["poolclass"] = StaticPool
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
    else:
        kwargs["pool_pre_ping"] = True
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    return engine


_DATABASE = "tracker.database"
log = logging.getLogger(__name__)


class Database:
    """The app's database: an engine, sessions that read or write through it, and what runs after their
    commits (an indexer to wake, a worker to nudge)."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.engine = make_engine(url, echo=echo)
        self._bind: Engine | Connection = self.engine
        self._commit_hooks: list[Callable[[Session], None]] = []

    def on_commit(self, hook: Callable[[Session], None]) -> None:
        """Call ``hook(session)`` after every durable commit of a session of this database; the hook looks
        at the session for what its transaction did (search changes logged, events recorded)."""
        if hook not in self._commit_hooks:
            self._commit_hooks.append(hook)

    def remove_commit_hook(self, hook: Callable[[Session], None]) -> None:
        if hook in self._commit_hooks:
            self._commit_hooks.remove(hook)

    def _committed(self, session: Session) -> None:
        for hook in list(self._commit_hooks):
            try:
                hook(session)
            except Exception:  # a hook must never turn a committed request into an error
                log.exception("An after-commit hook failed")

    def bind_to(self, connection: Connection | None) -> None:
        """Route every new session through ``connection`` (tests wrap each test in one transaction)."""
        self._bind = connection if connection is not None else self.engine

    def session(self, *, write: bool = False) -> Session:
        """A new session; ``write=True`` takes the write lock at BEGIN on SQLite."""
        bind = self._bind
        if isinstance(bind, Connection):
            session = Session(bind=bind, join_transaction_mode="create_savepoint", expire_on_commit=False)
        else:
            if write:
                bind = bind.execution_options(**{WRITE_OPTION: True})
            session = Session(bind=bind, expire_on_commit=False, autoflush=False)
        session.info[_DATABASE] = self
        return session

    def dispose(self) -> None:
        """Close pooled connections (after fork, at exit)."""
        self.engine.dispose()


@event.listens_for(Session, "after_commit")
def _run_commit_hooks(session: Session) -> None:
    database = session.info.get(_DATABASE)
    # A session joined to an outer transaction (the tests') only released a savepoint: nothing is durable.
    if database is not None and not isinstance(session.bind, Connection):
        database._committed(session)


# SQLSTATEs of a transaction that lost a race and may simply be run again: deadlock_detected and
# serialization_failure (PostgreSQL). Nothing of it was committed.
TRANSIENT_SQLSTATES = frozenset({"40P01", "40001"})


def is_transient_conflict(error: BaseException) -> bool:
    """Whether ``error`` is a database refusal that running the same transaction again may not meet."""
    orig = getattr(error, "orig", None)
    return getattr(orig, "sqlstate", None) in TRANSIENT_SQLSTATES


def is_busy(error: BaseException) -> bool:
    """Whether ``error`` is SQLite giving up on its write lock after the busy timeout: another writer held
    it all that time. Nothing of the transaction was written; the same work may succeed a moment later."""
    orig = getattr(error, "orig", None)
    return (isinstance(orig, sqlite3.OperationalError)
            and str(orig).startswith(("database is locked", "database is busy")))


@contextlib.contextmanager
def unit_of_work(session: Session, *, commit_on: tuple[type[BaseException], ...] = ()) -> Iterator[Session]:
    """Commit ``session`` once when the block succeeds, roll it back when it raises.

    ``commit_on``: exceptions that are an answer rather than a failure, whose writes must stand (a refused
    login counts the failure): the transaction is committed, then the exception goes on.
    """
    try:
        yield session
    except commit_on:
        session.commit()
        raise
    except BaseException:
        session.rollback()
        raise
    else:
        session.commit()


# A bulk job's page cache on SQLite, in KiB (SQLite's default is 2 MiB).
BULK_CACHE_KIB = 256 * 1024


@contextlib.contextmanager
def bulk_page_cache(session: Session, kibibytes: int = BULK_CACHE_KIB) -> Iterator[None]:
    """On SQLite, give the session's connection a larger page cache while a bulk job runs in it, then
    the one it had. An import or load of many records reads most of the database and writes a long
    transaction: with the default 2 MiB cache, pages are read again and again and dirty ones spilled to
    the write-ahead log before the commit. The cache only grows as pages are used. Other databases keep
    their own settings (nothing is done)."""
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        yield
        return
    before = connection.exec_driver_sql("PRAGMA cache_size").scalar()
    connection.exec_driver_sql(f"PRAGMA cache_size = -{int(kibibytes)}")
    try:
        yield
    finally:
        try:
            connection.exec_driver_sql(f"PRAGMA cache_size = {int(before or -2000)}")
        except Exception:  # the connection is being thrown away after an error: nothing to restore
            pass
