"""Changes feed: the published records each commit changed, in commit order, for clients that sync.

The records already published are written as created, at the content version the database stands at,
so a client that starts from the beginning of the feed gets the whole published dataset.

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-07
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0011"
branch_labels = None
depends_on = None

ENTITY_TYPES = ("policy", "event", "document", "jurisdiction", "topic")
KINDS = ("created", "updated", "status_changed", "unpublished", "deleted")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


def upgrade() -> None:
    op.create_table(
        "feed_changes",
        sa.Column("position", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("ordinal", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("entity_type", sa.String(length=12), nullable=False),
        sa.Column("entity_id", sa.String(length=120), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("old_key", sa.String(length=120), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(_in("entity_type", ENTITY_TYPES), name=op.f("ck_feed_changes_entity_type")),
        sa.CheckConstraint(_in("kind", KINDS), name=op.f("ck_feed_changes_kind")),
        sa.PrimaryKeyConstraint("position", "ordinal", name=op.f("pk_feed_changes")),
    )
    with op.batch_alter_table("feed_changes", schema=None) as batch_op:
        batch_op.create_index("ix_feed_changes_entity", ["entity_type", "entity_id", "position", "ordinal"],
                              unique=False)

    connection = op.get_bind()
    position = connection.execute(sa.text("SELECT counter FROM content_versions WHERE id = 1")).scalar() or 0
    published: list[tuple[str, str, str]] = []
    published += [("jurisdiction", code, code) for (code,) in connection.execute(
        sa.text("SELECT code FROM jurisdictions ORDER BY position, code"))]
    published += [("topic", key, key) for (key,) in connection.execute(
        sa.text("SELECT key FROM topics ORDER BY position, key"))]
    published += [("policy", str(i), key) for i, key in connection.execute(
        sa.text("SELECT id, key FROM policies WHERE editorial_state = 'published' ORDER BY id"))]
    published += [("event", str(i), key) for i, key in connection.execute(
        sa.text("SELECT id, key FROM events WHERE editorial_state = 'published' ORDER BY id"))]
    published += [("document", str(i), str(i)) for (i,) in connection.execute(sa.text(
        "SELECT documents.id FROM documents JOIN policies ON policies.id = documents.policy_id "
        "WHERE policies.editorial_state = 'published' ORDER BY documents.id"))]
    if published:
        feed = sa.table("feed_changes", sa.column("position", sa.BigInteger), sa.column("ordinal", sa.Integer),
                        sa.column("entity_type", sa.String), sa.column("entity_id", sa.String),
                        sa.column("key", sa.String), sa.column("kind", sa.String),
                        sa.column("changed_at", sa.DateTime(timezone=True)))
        now = dt.datetime.now(dt.UTC)
        op.bulk_insert(feed, [
            {"position": position, "ordinal": number, "entity_type": entity_type, "entity_id": entity_id,
             "key": key, "kind": "created", "changed_at": now}
            for number, (entity_type, entity_id, key) in enumerate(published)])


def downgrade() -> None:
    with op.batch_alter_table("feed_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_feed_changes_entity")
    op.drop_table("feed_changes")
