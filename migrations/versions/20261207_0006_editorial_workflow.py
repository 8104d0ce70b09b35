"""Editorial workflow: Lao-first records, managed organisations, proposals, staff mail, throttles per place.

- titles and names may be Lao only (title_en, name_en nullable); status notes and forum-link evidence
  get their Lao twin; the start of the current status run is kept (status_since);
- organisations get an acronym, a parent body and a version (edited and audited like records);
- the audit trail names organisations too, proposals' actions, and the record's country;
- change proposals beside published records, staff mail (resets, review requests and decisions);
- users get a language for their mail; login throttles count per (account, address) and remember
  the addresses an account logged in from.

Titles, names and references holding line breaks or tabs (which broke mail headers and feed titles)
are cleaned here once; the services keep them clean from now on.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""
from __future__ import annotations

import datetime as dt
import re

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

OLD_ACTIONS = ("create", "update", "status_change", "editorial", "forum_link_add", "forum_link_remove", "import")
NEW_ACTIONS = OLD_ACTIONS + ("proposal_submitted", "proposal_approved", "proposal_rejected")
LINE_BREAKS = re.compile("\r\n|[\r\n\t\v\f\x85\u2028\u2029]")
SINGLE_LINE = {"policies": ("title_en", "title_lo", "title_local", "reference"),
               "events": ("name_en", "name_lo", "venue"),
               "organisations": ("name_en", "name_lo")}


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


def upgrade() -> None:
    now = dt.datetime.now(dt.UTC)

    with op.batch_alter_table("policies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status_since", sa.String(length=10), nullable=True))
        batch_op.alter_column("title_en", existing_type=sa.String(length=500), nullable=True)
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.alter_column("name_en", existing_type=sa.String(length=500), nullable=True)
    with op.batch_alter_table("status_changes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("note_lo", sa.Text(), nullable=True))
    with op.batch_alter_table("forum_links", schema=None) as batch_op:
        batch_op.add_column(sa.Column("evidence_lo", sa.Text(), nullable=True))

    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("acronym", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("parent_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("version", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("created_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.alter_column("name_en", existing_type=sa.String(length=300), nullable=True)
        batch_op.create_index(batch_op.f("ix_organisations_acronym"), ["acronym"], unique=False)
        batch_op.create_index(batch_op.f("ix_organisations_parent_id"), ["parent_id"], unique=False)
        batch_op.create_foreign_key(batch_op.f("fk_organisations_parent_id_organisations"), "organisations",
                                    ["parent_id"], ["id"], ondelete="SET NULL")
    organisations = sa.table("organisations", sa.column("version", sa.Integer),
                             sa.column("created_at", sa.DateTime(timezone=True)),
                             sa.column("updated_at", sa.DateTime(timezone=True)))
    op.execute(organisations.update().values(version=1, created_at=now, updated_at=now))
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.alter_column("version", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("created_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.alter_column("updated_at", existing_type=sa.DateTime(timezone=True), nullable=False)

    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        # "organisation" is longer than the ten characters "policy" and "event" needed.
        batch_op.alter_column("entity_type", existing_type=sa.String(length=10), type_=sa.String(length=20),
                              existing_nullable=False)
        batch_op.add_column(sa.Column("jurisdiction_code", sa.String(length=8), nullable=True))
        batch_op.create_index("ix_audit_entries_created_at", ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_entries_jurisdiction_code"), ["jurisdiction_code"], unique=False)
        batch_op.drop_constraint(batch_op.f("ck_audit_entries_entity_type"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_audit_entries_action"), type_="check")
        batch_op.create_check_constraint("entity_type", _in("entity_type", ("policy", "event", "organisation")))
        batch_op.create_check_constraint("action", _in("action", NEW_ACTIONS))
    op.execute("UPDATE audit_entries SET jurisdiction_code = (SELECT jurisdiction_code FROM policies "
               "WHERE policies.id = audit_entries.entity_id) WHERE entity_type = 'policy'")
    op.execute("UPDATE audit_entries SET jurisdiction_code = (SELECT jurisdiction_code FROM events "
               "WHERE events.id = audit_entries.entity_id) WHERE entity_type = 'event'")

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=5), nullable=True))

    # Old counters were per account and per address; the new scopes start afresh.
    op.execute("DELETE FROM login_throttles")
    with op.batch_alter_table("login_throttles", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_login_throttles_scope"), type_="check")
        batch_op.create_check_constraint("scope", _in("scope", ("pair", "account", "address", "known")))
        batch_op.create_index("ix_login_throttles_last_failure_at", ["last_failure_at"], unique=False)

    op.create_table(
        "change_proposals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entity_type", sa.String(length=10), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=False),
        sa.Column("entity_key", sa.String(length=120), nullable=False),
        sa.Column("jurisdiction_code", sa.String(length=8), nullable=True),
        sa.Column("base_version", sa.Integer(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("proposed_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_comment", sa.Text(), nullable=True),
        sa.Column("applied_version", sa.Integer(), nullable=True),
        sa.CheckConstraint("entity_type IN ('policy', 'event')", name=op.f("ck_change_proposals_entity_type")),
        sa.CheckConstraint("state IN ('pending', 'approved', 'rejected', 'withdrawn')",
                           name=op.f("ck_change_proposals_state")),
        sa.ForeignKeyConstraint(["decided_by_id"], ["users.id"], name=op.f("fk_change_proposals_decided_by_id_users"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["proposed_by_id"], ["users.id"],
                                name=op.f("fk_change_proposals_proposed_by_id_users"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_proposals")),
    )
    with op.batch_alter_table("change_proposals", schema=None) as batch_op:
        batch_op.create_index("ix_change_proposals_entity", ["entity_type", "entity_id", "state"], unique=False)
        batch_op.create_index(batch_op.f("ix_change_proposals_proposed_by_id"), ["proposed_by_id"], unique=False)
        batch_op.create_index("ix_change_proposals_state_created_at", ["state", "created_at"], unique=False)

    op.create_table(
        "staff_mail",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('password_reset', 'review_requested', 'record_published', 'record_sent_back', "
                           "'proposal_submitted', 'proposal_approved', 'proposal_rejected')",
                           name=op.f("ck_staff_mail_kind")),
        sa.CheckConstraint("state IN ('pending', 'sent', 'failed')", name=op.f("ck_staff_mail_state")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_staff_mail_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_mail")),
    )
    with op.batch_alter_table("staff_mail", schema=None) as batch_op:
        batch_op.create_index("ix_staff_mail_state_next_attempt_at", ["state", "next_attempt_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_staff_mail_user_id"), ["user_id"], unique=False)

    bind = op.get_bind()
    _fill_status_since(bind)
    _clean_single_line_fields(bind, now)


def _fill_status_since(bind) -> None:
    """The start of each policy's current status run: the first dated step of the trailing run of steps
    into the current status (the same rule as tracker.services.policies.refresh_derived)."""
    steps: dict[int, list[tuple[str, str | None]]] = {}
    for policy_id, to_status, effective_on in bind.execute(sa.text(
            "SELECT policy_id, to_status, effective_on FROM status_changes ORDER BY policy_id, position")):
        steps.setdefault(policy_id, []).append((to_status, effective_on))
    for policy_id, timeline in steps.items():
        current = timeline[-1][0]
        run = []
        for to_status, effective_on in reversed(timeline):
            if to_status != current:
                break
            run.append(effective_on)
        dated = [date for date in reversed(run) if date]
        if dated:
            bind.execute(sa.text("UPDATE policies SET status_since = :since WHERE id = :id"),
                         {"since": dated[0], "id": policy_id})


def _clean_single_line_fields(bind, now: dt.datetime) -> None:
    changed: dict[str, set[int]] = {"policy": set(), "event": set()}
    for table, columns in SINGLE_LINE.items():
        rows = bind.execute(sa.text(f"SELECT id, {', '.join(columns)} FROM {table}")).all()
        for row in rows:
            values = {}
            for column, value in zip(columns, row[1:]):
                if isinstance(value, str) and LINE_BREAKS.search(value):
                    values[column] = re.sub(" {2,}", " ", LINE_BREAKS.sub(" ", value)).strip()
            if values:
                assignments = ", ".join(f"{column} = :{column}" for column in values)
                bind.execute(sa.text(f"UPDATE {table} SET {assignments} WHERE id = :id"), values | {"id": row[0]})
                if table == "policies":
                    changed["policy"].add(row[0])
                elif table == "events":
                    changed["event"].add(row[0])
                else:
                    # Organisation names appear in the documents of the policies they issued.
                    changed["policy"].update(policy_id for (policy_id,) in bind.execute(sa.text(
                        "SELECT id FROM policies WHERE issuer_id = :id UNION "
                        "SELECT policy_id FROM policy_bodies WHERE organisation_id = :id"), {"id": row[0]}))
    # The search index replicas follow the change log: tell them which documents to read again.
    for entity_type, ids in changed.items():
        for entity_id in sorted(ids):
            bind.execute(sa.text("INSERT INTO search_changes (entity_type, entity_id, changed_at) "
                                 "VALUES (:type, :id, :at)"), {"type": entity_type, "id": entity_id, "at": now})


def downgrade() -> None:
    with op.batch_alter_table("staff_mail", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_mail_user_id"))
        batch_op.drop_index("ix_staff_mail_state_next_attempt_at")
    op.drop_table("staff_mail")
    with op.batch_alter_table("change_proposals", schema=None) as batch_op:
        batch_op.drop_index("ix_change_proposals_state_created_at")
        batch_op.drop_index(batch_op.f("ix_change_proposals_proposed_by_id"))
        batch_op.drop_index("ix_change_proposals_entity")
    op.drop_table("change_proposals")

    op.execute("DELETE FROM login_throttles")
    with op.batch_alter_table("login_throttles", schema=None) as batch_op:
        batch_op.drop_index("ix_login_throttles_last_failure_at")
        batch_op.drop_constraint(batch_op.f("ck_login_throttles_scope"), type_="check")
        batch_op.create_check_constraint("scope", _in("scope", ("account", "address")))
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("language")

    op.execute("DELETE FROM audit_entries WHERE entity_type = 'organisation' OR "
               + _in("action", NEW_ACTIONS[len(OLD_ACTIONS):]))
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_audit_entries_action"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_audit_entries_entity_type"), type_="check")
        batch_op.create_check_constraint("action", _in("action", OLD_ACTIONS))
        batch_op.create_check_constraint("entity_type", _in("entity_type", ("policy", "event")))
        batch_op.drop_index(batch_op.f("ix_audit_entries_jurisdiction_code"))
        batch_op.drop_index("ix_audit_entries_created_at")
        batch_op.drop_column("jurisdiction_code")
        batch_op.alter_column("entity_type", existing_type=sa.String(length=20), type_=sa.String(length=10),
                              existing_nullable=False)

    # A record with only a Lao title or name keeps it as its English one, so the NOT NULL holds again.
    op.execute("UPDATE organisations SET name_en = COALESCE(name_en, name_lo, key)")
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_organisations_parent_id_organisations"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_organisations_parent_id"))
        batch_op.drop_index(batch_op.f("ix_organisations_acronym"))
        batch_op.alter_column("name_en", existing_type=sa.String(length=300), nullable=False)
        batch_op.drop_column("updated_at")
        batch_op.drop_column("created_at")
        batch_op.drop_column("version")
        batch_op.drop_column("parent_id")
        batch_op.drop_column("acronym")
    with op.batch_alter_table("forum_links", schema=None) as batch_op:
        batch_op.drop_column("evidence_lo")
    with op.batch_alter_table("status_changes", schema=None) as batch_op:
        batch_op.drop_column("note_lo")
    op.execute("UPDATE events SET name_en = COALESCE(name_en, name_lo, key)")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.alter_column("name_en", existing_type=sa.String(length=500), nullable=False)
    op.execute("UPDATE policies SET title_en = COALESCE(title_en, title_lo, key)")
    with op.batch_alter_table("policies", schema=None) as batch_op:
        batch_op.alter_column("title_en", existing_type=sa.String(length=500), nullable=False)
        batch_op.drop_column("status_since")
