"""Record key aliases: the old keys of policies and events, so that links made before a key changed still work.

- record_key_aliases: (kind, old key) -> the policy or event that had it, unique per kind; a key held
  by a live record of the kind is that record's, whatever an alias says.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "record_key_aliases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("old_key", sa.String(length=120), nullable=False),
        sa.Column("policy_id", sa.Integer(), nullable=True),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("(kind = 'policy' AND policy_id IS NOT NULL AND event_id IS NULL) OR "
                           "(kind = 'event' AND event_id IS NOT NULL AND policy_id IS NULL)",
                           name=op.f("ck_record_key_aliases_one_record")),
        sa.ForeignKeyConstraint(["policy_id"], ["policies.id"], ondelete="CASCADE",
                                name=op.f("fk_record_key_aliases_policy_id_policies")),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], ondelete="CASCADE",
                                name=op.f("fk_record_key_aliases_event_id_events")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_key_aliases")),
        sa.UniqueConstraint("kind", "old_key", name=op.f("uq_record_key_aliases_kind_old_key")),
    )
    with op.batch_alter_table("record_key_aliases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_record_key_aliases_policy_id"), ["policy_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_record_key_aliases_event_id"), ["event_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("record_key_aliases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_record_key_aliases_event_id"))
        batch_op.drop_index(batch_op.f("ix_record_key_aliases_policy_id"))
    op.drop_table("record_key_aliases")
