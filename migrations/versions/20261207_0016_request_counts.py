"""Request counts: anonymous subscription requests counted per client address over a day.

- request_counts: one counter per scope and key (a client address), with the end of its window.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "request_counts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=20), nullable=False),
        sa.Column("key", sa.String(length=320), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("window_ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("scope IN ('subscribe_client')", name=op.f("ck_request_counts_scope")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_counts")),
        sa.UniqueConstraint("scope", "key", name=op.f("uq_request_counts_scope_key")),
    )
    with op.batch_alter_table("request_counts", schema=None) as batch_op:
        batch_op.create_index("ix_request_counts_window_ends_at", ["window_ends_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("request_counts", schema=None) as batch_op:
        batch_op.drop_index("ix_request_counts_window_ends_at")
    op.drop_table("request_counts")
