"""Delivery groups: immediate email deliveries about one policy to one address in one language share a key.

- deliveries.group_key: the key of the message a delivery is sent in (null for webhooks, digests and
  confirmation requests), with an index on (group_key, state) for the worker's claim.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("group_key", sa.String(length=64), nullable=True))
    op.create_index("ix_deliveries_group_key_state", "deliveries", ["group_key", "state"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_group_key_state", table_name="deliveries")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("group_key")
