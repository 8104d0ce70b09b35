"""Content version: the row whose token moves with every change readers can see (page caches, ETags).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""
from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "content_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("counter", sa.BigInteger(), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_content_versions")),
    )
    versions = sa.table("content_versions", sa.column("id", sa.Integer), sa.column("counter", sa.BigInteger),
                        sa.column("token", sa.String), sa.column("changed_at", sa.DateTime(timezone=True)))
    op.bulk_insert(versions, [{"id": 1, "counter": 0, "token": uuid.uuid4().hex,
                               "changed_at": dt.datetime.now(dt.UTC)}])


def downgrade() -> None:
    op.drop_table("content_versions")
