"""Documents: files attached to policies, their bytes in chunks, and the passages extracted from them.

- stored_files / stored_file_chunks: bytes identified by SHA-256, stored once however often attached;
- documents: one attached file of a policy (role, language, version, date, source), grouped into
  series of versions, with its text extraction job (status, lease, run number);
- document_passages: the extracted text, paragraph by paragraph, with page, heading and method;
- the audit trail, the search change log and the notification outbox learn the new actions and types.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

ROLES = ("original", "official_translation", "unofficial_translation", "annex", "draft", "consolidated")
STATUSES = ("pending", "extracting", "done", "partial", "failed")
OLD_ACTIONS = ("create", "update", "status_change", "editorial", "forum_link_add", "forum_link_remove", "import",
               "proposal_submitted", "proposal_approved", "proposal_rejected")
NEW_ACTIONS = OLD_ACTIONS + ("document_add", "document_replace", "document_update", "document_remove",
                             "document_extract")
OLD_EVENT_TYPES = ("policy.status_changed", "policy.published", "policy.validity_changed", "policy.sunset_upcoming",
                   "subscription.confirm", "webhook.test")
NEW_EVENT_TYPES = OLD_EVENT_TYPES[:4] + ("policy.document_added",) + OLD_EVENT_TYPES[4:]


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


def _checks(actions: tuple[str, ...], entity_types: tuple[str, ...], event_types: tuple[str, ...]) -> None:
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_audit_entries_action"), type_="check")
        batch_op.create_check_constraint("action", _in("action", actions))
    with op.batch_alter_table("search_changes", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_search_changes_entity_type"), type_="check")
        batch_op.create_check_constraint("entity_type", _in("entity_type", entity_types))
    with op.batch_alter_table("notification_events", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_notification_events_type"), type_="check")
        batch_op.create_check_constraint("type", _in("type", event_types))


def upgrade() -> None:
    op.create_table(
        "stored_files",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("storage", sa.String(length=20), nullable=False),
        sa.Column("chunk_size", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_stored_files")),
    )
    op.create_table(
        "stored_file_chunks",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["sha256"], ["stored_files.sha256"], ondelete="CASCADE",
                                name=op.f("fk_stored_file_chunks_sha256_stored_files")),
        sa.PrimaryKeyConstraint("sha256", "seq", name=op.f("pk_stored_file_chunks")),
    )
    op.create_table(
        "documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("policy_id", sa.Integer(), nullable=False),
        sa.Column("series_id", sa.Integer(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("role", sa.String(length=30), nullable=False),
        sa.Column("language", sa.String(length=12), nullable=False),
        sa.Column("version_label", sa.String(length=120), nullable=True),
        sa.Column("issued_on", sa.String(length=10), nullable=True),
        sa.Column("source_url", sa.String(length=2000), nullable=True),
        sa.Column("added_by_id", sa.Integer(), nullable=True),
        sa.Column("added_by_label", sa.String(length=320), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("pages", sa.Integer(), nullable=True),
        sa.Column("pages_ocr", sa.Integer(), nullable=False),
        sa.Column("characters", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("run", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("extracted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(_in("role", ROLES), name=op.f("ck_documents_role")),
        sa.CheckConstraint(_in("status", STATUSES), name=op.f("ck_documents_status")),
        sa.ForeignKeyConstraint(["policy_id"], ["policies.id"], ondelete="CASCADE",
                                name=op.f("fk_documents_policy_id_policies")),
        sa.ForeignKeyConstraint(["sha256"], ["stored_files.sha256"], name=op.f("fk_documents_sha256_stored_files")),
        sa.ForeignKeyConstraint(["added_by_id"], ["users.id"], ondelete="SET NULL",
                                name=op.f("fk_documents_added_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_documents")),
    )
    op.create_index("ix_documents_policy", "documents", ["policy_id", "id"])
    op.create_index("ix_documents_series", "documents", ["series_id"])
    op.create_index("ix_documents_status", "documents", ["status", "next_attempt_at"])
    op.create_index(op.f("ix_documents_sha256"), "documents", ["sha256"])
    op.create_table(
        "document_passages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("page", sa.Integer(), nullable=False),
        sa.Column("heading", sa.String(length=500), nullable=True),
        sa.Column("language", sa.String(length=12), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("method", sa.String(length=4), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("toc", sa.Boolean(), nullable=False),
        sa.CheckConstraint(_in("method", ("text", "ocr")), name=op.f("ck_document_passages_method")),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"], ondelete="CASCADE",
                                name=op.f("fk_document_passages_document_id_documents")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document_passages")),
        sa.UniqueConstraint("document_id", "seq", name="uq_document_passages_seq"),
    )
    _checks(NEW_ACTIONS, ("policy", "event", "document"), NEW_EVENT_TYPES)


def downgrade() -> None:
    op.execute("DELETE FROM search_changes WHERE entity_type = 'document'")
    op.execute("DELETE FROM notification_events WHERE type = 'policy.document_added'")
    op.execute("DELETE FROM audit_entries WHERE action LIKE 'document_%'")
    _checks(OLD_ACTIONS, ("policy", "event"), OLD_EVENT_TYPES)
    op.drop_table("document_passages")
    op.drop_index(op.f("ix_documents_sha256"), table_name="documents")
    op.drop_index("ix_documents_status", table_name="documents")
    op.drop_index("ix_documents_series", table_name="documents")
    op.drop_index("ix_documents_policy", table_name="documents")
    op.drop_table("documents")
    op.drop_table("stored_file_chunks")
    op.drop_table("stored_files")
