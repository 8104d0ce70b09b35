"""Running Alembic from the application: upgrade, current revision, heads and drift."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

ALEMBIC_INI = Path(__file__).resolve().parent.parent / "alembic.ini"


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration, optionally bound to an open connection."""
    config = Config(str(ALEMBIC_INI))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database behind ``engine`` to ``revision`` and commit."""
    _migrate(engine, command.upgrade, revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Migrate the database behind ``engine`` down to ``revision`` and commit."""
    _migrate(engine, command.downgrade, revision)


def _migrate(engine: Engine, step, revision: str) -> None:
    """Run ``step`` in one transaction. On SQLite, a batch migration copies a table and drops the old one,
    which fails while other rows refer to it and foreign keys are enforced; so they are off during the
    migration (SQLite changes that setting only outside a transaction) and checked whole before the
    commit: a migration that would leave a dangling reference is rolled back."""
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # On the driver's own connection: going through SQLAlchemy would begin a transaction first.
            driver_connection = connection.connection.driver_connection
            assert driver_connection is not None  # a connection in use holds the driver's
            driver_connection.execute("PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                step(alembic_config(connection), revision)
                if sqlite:
                    dangling = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if dangling:
                        raise RuntimeError(f"the migration would leave rows referring to missing ones: "
                                           f"{dangling[:5]}")
        finally:
            if sqlite:
                driver_connection = connection.connection.driver_connection
                assert driver_connection is not None
                driver_connection.execute("PRAGMA foreign_keys=ON")


def heads() -> list[str]:
    """The head revisions of the migration scripts (one, in a healthy tree)."""
    return list(ScriptDirectory.from_config(alembic_config()).get_heads())


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def drift(engine: Engine) -> list:
    """Differences between the models and the migrated schema (empty when they agree)."""
    import tracker.models  # noqa: F401
    from tracker.db import Base

    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)
