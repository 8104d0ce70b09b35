"""Comment windows of consultation steps, the day a text was gazetted, and the comment-period trigger.

- status_changes: comment_opens_on, comment_closes_on (closes on or after it opens), how to comment in
  English and Lao, where comments go, the draft (a URL or an attached document), gazetted_on;
- subscriptions: comment_days, the days before a comment period closes at which to hear of it (0: never);
- audit entries may record 'status_step_update'; the outbox knows 'policy.comment_period_changed' and
  'policy.comment_period_closing'.

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-07
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0010"
branch_labels = None
depends_on = None

OLD_ACTIONS = ("create", "update", "status_change", "editorial", "forum_link_add", "forum_link_remove", "import",
               "proposal_submitted", "proposal_approved", "proposal_rejected", "document_add", "document_replace",
               "document_update", "document_remove", "document_extract")
NEW_ACTIONS = OLD_ACTIONS + ("status_step_update",)
OLD_EVENT_TYPES = ("policy.status_changed", "policy.published", "policy.validity_changed", "policy.sunset_upcoming",
                   "policy.document_added", "subscription.confirm", "webhook.test")
NEW_EVENT_TYPES = OLD_EVENT_TYPES[:5] + ("policy.comment_period_changed",
                                         "policy.comment_period_closing") + OLD_EVENT_TYPES[5:]


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


def _checks(actions: tuple[str, ...], event_types: tuple[str, ...]) -> None:
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_audit_entries_action"), type_="check")
        batch_op.create_check_constraint("action", _in("action", actions))
    with op.batch_alter_table("notification_events", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_notification_events_type"), type_="check")
        batch_op.create_check_constraint("type", _in("type", event_types))


def upgrade() -> None:
    with op.batch_alter_table("status_changes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("comment_opens_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("comment_closes_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("comment_how_en", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("comment_how_lo", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("comment_address", sa.String(length=2000), nullable=True))
        batch_op.add_column(sa.Column("comment_draft_url", sa.String(length=2000), nullable=True))
        batch_op.add_column(sa.Column("comment_draft_document_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("gazetted_on", sa.Date(), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_status_changes_comment_draft_document_id_documents"),
                                    "documents", ["comment_draft_document_id"], ["id"], ondelete="SET NULL")
        batch_op.create_check_constraint(
            "comment_window", "comment_closes_on IS NULL OR comment_opens_on IS NULL "
                              "OR comment_closes_on >= comment_opens_on")
        batch_op.create_index("ix_status_changes_comment_closes_on", ["comment_closes_on"], unique=False)
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("comment_days", sa.Integer(), nullable=False, server_default="14"))
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.alter_column("comment_days", server_default=None)
    _checks(NEW_ACTIONS, NEW_EVENT_TYPES)


def downgrade() -> None:
    op.execute("DELETE FROM notification_events WHERE type IN ('policy.comment_period_changed', "
               "'policy.comment_period_closing')")
    op.execute("DELETE FROM audit_entries WHERE action = 'status_step_update'")
    _checks(OLD_ACTIONS, OLD_EVENT_TYPES)
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_column("comment_days")
    with op.batch_alter_table("status_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_status_changes_comment_closes_on")
        batch_op.drop_constraint(batch_op.f("ck_status_changes_comment_window"), type_="check")
        batch_op.drop_constraint(batch_op.f("fk_status_changes_comment_draft_document_id_documents"),
                                 type_="foreignkey")
        for column in ("gazetted_on", "comment_draft_document_id", "comment_draft_url", "comment_address",
                       "comment_how_lo", "comment_how_en", "comment_closes_on", "comment_opens_on"):
            batch_op.drop_column(column)
