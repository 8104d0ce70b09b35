"""The schema comes from the migrations: one head, no drift from the models, and a clean way down and up."""
from __future__ import annotations

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


def test_downgrade_to_base_and_upgrade_again(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'roundtrip.db'}")
    migrate.upgrade(database.engine)
    assert "policies" in inspect(database.engine).get_table_names()
    migrate.downgrade(database.engine, "base")
    assert set(inspect(database.engine).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(database.engine)
    assert migrate.drift(database.engine) == []
    database.dispose()
