"""The schema comes from the migrations: one head, no drift from the models, and a clean way down and up."""
from __future__ import annotations

import pytest
from sqlalchemy import inspect, select

from tracker import migrate
from tracker.db import Database
from tracker.models import Jurisdiction


def test_there_is_exactly_one_head():
    assert len(migrate.heads()) == 1


def test_models_and_migrations_do_not_drift(database):
    assert migrate.drift(database.engine) == []


def test_the_database_is_at_head(database):
    assert migrate.current_revision(database.engine) == migrate.heads()[0]


def test_jurisdictions_are_seeded_with_the_eleven_members(session):
    codes = session.scalars(select(Jurisdiction.code).order_by(Jurisdiction.position)).all()
    assert codes[0] == "LA"
    assert set(codes) == {"LA", "BN", "KH", "ID", "MY", "MM", "PH", "SG", "TH", "TL", "VN", "ASEAN", "INTL"}


@pytest.mark.slow
def test_downgrade_to_base_and_upgrade_again(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'roundtrip.db'}")
    migrate.upgrade(database.engine)
    assert "policies" in inspect(database.engine).get_table_names()
    migrate.downgrade(database.engine, "base")
    assert set(inspect(database.engine).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(database.engine)
    assert migrate.drift(database.engine) == []
    database.dispose()


@pytest.mark.slow
def test_the_newest_migration_goes_down_and_up_again_over_the_demo_data(tmp_path, demo_data):
    """SQLite rebuilds a table to change it; with rows referring to that table (policies issued by an
    organisation) this only works when the migration manages foreign keys, and must lose nothing."""
    from sqlalchemy import func, text

    from tracker.db import unit_of_work
    from tracker.models import Organisation, Policy
    from tracker.services.dataset import load_dataset

    database = Database(f"sqlite:///{tmp_path / 'data-roundtrip.db'}")
    try:
        migrate.upgrade(database.engine)
        with unit_of_work(database.session(write=True)) as session:
            load_dataset(session, demo_data)
        migrate.downgrade(database.engine, "0005")
        migrate.upgrade(database.engine)
        with database.session() as session:
            assert session.scalar(select(func.count(Policy.id))) == len(demo_data["policies"])
            assert session.scalar(select(func.count(Organisation.id))) == len(demo_data["organisations"])
            assert session.execute(text("PRAGMA foreign_key_check")).all() == []
            assert session.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert migrate.drift(database.engine) == []
    finally:
        database.dispose()


@pytest.mark.slow
def test_the_targets_migration_goes_down_and_up_again(tmp_path, demo_data):
    """Down to 0010 the targets table goes and every policy stays; up again, it is back, empty and ready."""
    from sqlalchemy import func

    from tracker.db import unit_of_work
    from tracker.models import Policy, PolicyTarget
    from tracker.services.dataset import load_dataset

    database = Database(f"sqlite:///{tmp_path / 'targets-roundtrip.db'}")
    try:
        migrate.upgrade(database.engine)
        with unit_of_work(database.session(write=True)) as session:
            load_dataset(session, demo_data)
        with database.session() as session:
            assert session.scalar(select(func.count(PolicyTarget.id))) == sum(
                len(policy.get("targets") or []) for policy in demo_data["policies"]) > 0
        migrate.downgrade(database.engine, "0010")
        assert "policy_targets" not in inspect(database.engine).get_table_names()
        migrate.upgrade(database.engine)
        assert "policy_targets" in inspect(database.engine).get_table_names()
        with database.session() as session:
            assert session.scalar(select(func.count(Policy.id))) == len(demo_data["policies"])
            assert session.scalar(select(func.count(PolicyTarget.id))) == 0
        # Loading the file again puts the targets back.
        with unit_of_work(database.session(write=True)) as session:
            load_dataset(session, demo_data)
        with database.session() as session:
            assert session.scalar(select(func.count(PolicyTarget.id))) > 0
        assert migrate.drift(database.engine) == []
    finally:
        database.dispose()
