"""Releases of the published dataset: a data package (CSV tables), a workbook and the JSON dump, built together.

- releases: one build from one snapshot (when, content version, digest of its tables, licence, rows per
  table, what asked for it);
- release_files: its files, their bytes kept as stored_files (by SHA-256, in chunks) like attached texts;
- release_schedule: one row, the claim of the process building now and the schedule's last look.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "releases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("content_version", sa.BigInteger(), nullable=False),
        sa.Column("content_digest", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=60), nullable=False),
        sa.Column("licence", sa.String(length=100), nullable=False),
        sa.Column("trigger", sa.String(length=20), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("build_seconds", sa.Float(), nullable=True),
        sa.CheckConstraint("trigger IN ('command', 'schedule', 'page')", name=op.f("ck_releases_trigger")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_releases")),
    )
    with op.batch_alter_table("releases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_releases_built_at"), ["built_at"], unique=False)
    op.create_table(
        "release_files",
        sa.Column("release_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("format", sa.String(length=10), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.CheckConstraint("format IN ('csv_zip', 'xlsx', 'json')", name=op.f("ck_release_files_format")),
        sa.ForeignKeyConstraint(["release_id"], ["releases.id"], ondelete="CASCADE",
                                name=op.f("fk_release_files_release_id_releases")),
        sa.ForeignKeyConstraint(["sha256"], ["stored_files.sha256"],
                                name=op.f("fk_release_files_sha256_stored_files")),
        sa.PrimaryKeyConstraint("release_id", "name", name=op.f("pk_release_files")),
    )
    with op.batch_alter_table("release_files", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_release_files_sha256"), ["sha256"], unique=False)
    op.create_table(
        "release_schedule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(length=200), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_release_schedule")),
    )
    schedule = sa.table("release_schedule", sa.column("id", sa.Integer))
    op.bulk_insert(schedule, [{"id": 1}])


def downgrade() -> None:
    op.drop_table("release_schedule")
    with op.batch_alter_table("release_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_release_files_sha256"))
    op.drop_table("release_files")
    with op.batch_alter_table("releases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_releases_built_at"))
    op.drop_table("releases")
    # The bytes of release files are stored files no document names: remove them with their chunks.
    op.execute("DELETE FROM stored_file_chunks WHERE sha256 NOT IN (SELECT sha256 FROM documents)")
    op.execute("DELETE FROM stored_files WHERE sha256 NOT IN (SELECT sha256 FROM documents)")
