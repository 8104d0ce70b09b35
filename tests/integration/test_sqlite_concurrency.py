"""SQLite is set up for a web server: WAL, foreign keys, and writers that wait instead of failing."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select, text

from tests.factories import policy_record
from tracker import migrate
from tracker.db import Database, unit_of_work
from tracker.models import Policy
from tracker.services.dataset import load_dataset


def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'pragmas.db'}")
    with database.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() >= 5000
    database.dispose()


@pytest.mark.slow
def test_concurrent_read_then_write_transactions_never_fail_with_database_locked(tmp_path):
    """Each writer reads (the loader looks up existing keys) and then writes, the pattern that fails
    at once under SQLite's default deferred transactions when two of them overlap."""
    database = Database(f"sqlite:///{tmp_path / 'concurrent.db'}")
    migrate.upgrade(database.engine)
    with unit_of_work(database.session(write=True)) as session:
        load_dataset(session, {"organisations": [
            {"key": "la-mem", "name_en": "Ministry of Energy and Mines", "name_lo": None, "country": "LA",
             "kind": "ministry"},
            {"key": "la-edl", "name_en": "EDL", "name_lo": None, "country": "LA", "kind": "utility"}],
            "topics": [{"key": "charging_infrastructure", "name_en": "Charging", "name_lo": None},
                       {"key": "fiscal_incentives", "name_en": "Fiscal", "name_lo": None}]})

    writers, loads_each = 6, 8
    errors: list[BaseException] = []
    start = threading.Barrier(writers)

    def writer(number: int) -> None:
        start.wait()
        for round_number in range(loads_each):
            try:
                with unit_of_work(database.session(write=True)) as session:
                    load_dataset(session, {"policies": [policy_record(f"w{number}-r{round_number}")]})
            except BaseException as error:  # collected and asserted below
                errors.append(error)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    with database.session() as session:
        assert session.scalar(select(func.count(Policy.id))) == writers * loads_each
    database.dispose()
