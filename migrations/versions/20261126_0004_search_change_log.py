"""Search change log: the append-only feed of changes that keeps every search index replica true.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "search_changes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("entity_type", sa.String(length=10), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("entity_type IN ('policy', 'event')", name=op.f("ck_search_changes_entity_type")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_changes")),
    )
    with op.batch_alter_table("search_changes", schema=None) as batch_op:
        batch_op.create_index("ix_search_changes_changed_at", ["changed_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("search_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_search_changes_changed_at")
    op.drop_table("search_changes")
