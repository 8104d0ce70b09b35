"""Managing an address's subscriptions without an account.

- staff_mail: may go to an email address with no account (``email``, ``user_id`` now nullable, one of them
  set), for the new kind 'subscriptions_link' (a fresh link to the management page);
- subscription_changes: the trail of settings changed and subscriptions ended from that page;
- manage_link_requests: requests for the link, counted against the daily limits per client and per address.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

OLD_KINDS = ("password_reset", "review_requested", "record_published", "record_sent_back",
             "proposal_submitted", "proposal_approved", "proposal_rejected")
NEW_KINDS = (*OLD_KINDS, "subscriptions_link")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


def upgrade() -> None:
    with op.batch_alter_table("staff_mail", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email", sa.String(length=320), nullable=True))
        batch_op.alter_column("user_id", existing_type=sa.Integer(), nullable=True)
        batch_op.drop_constraint(batch_op.f("ck_staff_mail_kind"), type_="check")
        batch_op.create_check_constraint("kind", _in("kind", NEW_KINDS))
        batch_op.create_check_constraint("recipient", "user_id IS NOT NULL OR email IS NOT NULL")

    op.create_table(
        "subscription_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=True),
        sa.Column("subscription_public_id", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("field", sa.String(length=30), nullable=True),
        sa.Column("old_value", sa.String(length=30), nullable=True),
        sa.Column("new_value", sa.String(length=30), nullable=True),
        sa.Column("via", sa.String(length=20), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("action IN ('update', 'unsubscribe')", name=op.f("ck_subscription_changes_action")),
        sa.ForeignKeyConstraint(["subscription_id"], ["subscriptions.id"], ondelete="SET NULL",
                                name=op.f("fk_subscription_changes_subscription_id_subscriptions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscription_changes")),
    )
    with op.batch_alter_table("subscription_changes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_subscription_changes_subscription_id"), ["subscription_id"], unique=False)
        batch_op.create_index("ix_subscription_changes_created_at", ["created_at"], unique=False)

    op.create_table(
        "manage_link_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("address_digest", sa.String(length=64), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_manage_link_requests")),
    )
    with op.batch_alter_table("manage_link_requests", schema=None) as batch_op:
        batch_op.create_index("ix_manage_link_requests_client", ["client", "requested_at"], unique=False)
        batch_op.create_index("ix_manage_link_requests_address_digest", ["address_digest", "requested_at"],
                              unique=False)
        batch_op.create_index("ix_manage_link_requests_requested_at", ["requested_at"], unique=False)


def downgrade() -> None:
    op.drop_table("manage_link_requests")
    op.drop_table("subscription_changes")
    # Mail to addresses without an account cannot stay in a table whose rows all name an account.
    op.execute("DELETE FROM staff_mail WHERE user_id IS NULL OR kind = 'subscriptions_link'")
    with op.batch_alter_table("staff_mail", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_staff_mail_recipient"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_staff_mail_kind"), type_="check")
        batch_op.create_check_constraint("kind", _in("kind", OLD_KINDS))
        batch_op.alter_column("user_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("email")
