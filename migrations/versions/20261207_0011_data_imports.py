"""Data imports: files staff upload (spreadsheets, CSV, dataset JSON), their dry-run reports and state.

Revision ID: 0011
Revises: 0008
Create Date: 2026-12-07
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "data_imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("format", sa.String(length=10), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content_token", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("rows", sa.JSON(), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("format IN ('xlsx', 'csv', 'json')", name=op.f("ck_data_imports_format")),
        sa.CheckConstraint("state IN ('dry_run', 'applied', 'stale', 'refused')", name=op.f("ck_data_imports_state")),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], name=op.f("fk_data_imports_created_by_id_users"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["sha256"], ["stored_files.sha256"], name=op.f("fk_data_imports_sha256_stored_files")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_imports")),
    )


def downgrade() -> None:
    op.drop_table("data_imports")
