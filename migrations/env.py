"""Alembic environment: migrates the tracker's database over a connection the application provides."""
from __future__ import annotations

from alembic import context

import tracker.models  # noqa: F401  (every table must be known to compare and autogenerate)
from tracker.db import Base

config = context.config
target_metadata = Base.metadata


def run_migrations(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies the table instead
        compare_type=True,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_migrations(connection)
        return
    from tracker import create_app

    app = create_app()
    engine = app.extensions["tracker.db"].engine
    with engine.connect() as connection:
        run_migrations(connection)
        connection.commit()


if context.is_offline_mode():
    raise SystemExit("Offline (SQL script) migrations are not supported; run `flask --app tracker db upgrade`.")
run_online()
