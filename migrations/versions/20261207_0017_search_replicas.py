"""Search replicas: the index folders following the change log, and the prunings of that log.

- search_replicas: one row per index folder (stable id kept in the folder), its host, path, position,
  the id through which it applied every row, its open gaps and its last heartbeat.
- search_log_prunes: one row per pruning of search_changes, with the highest id it may have removed.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "search_replicas",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("index_path", sa.String(length=1000), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("complete_through", sa.BigInteger(), nullable=False),
        sa.Column("gaps", sa.Integer(), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_replicas")),
    )
    op.create_table(
        "search_log_prunes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pruned_through", sa.BigInteger(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("pruned_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_log_prunes")),
    )


def downgrade() -> None:
    op.drop_table("search_log_prunes")
    op.drop_table("search_replicas")
