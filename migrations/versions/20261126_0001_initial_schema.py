"""Initial schema: jurisdictions, organisations, topics, policies with their history, events, forum links.

Revision ID: 0001
Revises:
Create Date: 2026-11-26

Also seeds the jurisdictions, which are reference data fixed by ASEAN membership, not by any dataset.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None

# Lao PDR first everywhere; then the other members in alphabetical order of their English names.
JURISDICTIONS = [
    ("LA", "Lao PDR", "ສປປ ລາວ", "member", dt.date(1997, 7, 23)),
    ("BN", "Brunei Darussalam", "ບຣູໄນ", "member", dt.date(1984, 1, 7)),
    ("KH", "Cambodia", "ກຳປູເຈຍ", "member", dt.date(1999, 4, 30)),
    ("ID", "Indonesia", "ອິນໂດເນເຊຍ", "member", dt.date(1967, 8, 8)),
    ("MY", "Malaysia", "ມາເລເຊຍ", "member", dt.date(1967, 8, 8)),
    ("MM", "Myanmar", "ມຽນມາ", "member", dt.date(1997, 7, 23)),
    ("PH", "Philippines", "ຟິລິບປິນ", "member", dt.date(1967, 8, 8)),
    ("SG", "Singapore", "ສິງກະໂປ", "member", dt.date(1967, 8, 8)),
    ("TH", "Thailand", "ໄທ", "member", dt.date(1967, 8, 8)),
    ("TL", "Timor-Leste", "ທິມໍ-ເລສເຕ", "member", dt.date(2025, 10, 26)),
    ("VN", "Viet Nam", "ຫວຽດນາມ", "member", dt.date(1995, 7, 28)),
    ("ASEAN", "ASEAN (regional)", "ອາຊຽນ", "regional", None),
    ("INTL", "International", "ສາກົນ", "international", None),
]


def upgrade() -> None:
    op.create_table('jurisdictions',
    sa.Column('code', sa.String(length=8), nullable=False),
    sa.Column('name_en', sa.String(length=100), nullable=False),
    sa.Column('name_lo', sa.String(length=100), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('asean_member_since', sa.Date(), nullable=True),
    sa.CheckConstraint("kind IN ('member', 'regional', 'international')", name=op.f('ck_jurisdictions_kind')),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_jurisdictions'))
    )
    jurisdictions = sa.table(
        "jurisdictions", sa.column("code", sa.String), sa.column("name_en", sa.String),
        sa.column("name_lo", sa.String), sa.column("kind", sa.String), sa.column("position", sa.Integer),
        sa.column("asean_member_since", sa.Date))
    op.bulk_insert(jurisdictions, [
        {"code": code, "name_en": name_en, "name_lo": name_lo, "kind": kind, "position": position,
         "asean_member_since": since}
        for position, (code, name_en, name_lo, kind, since) in enumerate(JURISDICTIONS)])
    op.create_table('organisations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=120), nullable=False),
    sa.Column('name_en', sa.String(length=300), nullable=False),
    sa.Column('name_lo', sa.String(length=300), nullable=True),
    sa.Column('country', sa.String(length=8), nullable=True),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.CheckConstraint("kind IN ('ministry', 'agency', 'legislature', 'utility', 'association', 'company', 'development_partner', 'intergovernmental', 'standards_body', 'other')", name=op.f('ck_organisations_kind')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_organisations')),
    sa.UniqueConstraint('key', name=op.f('uq_organisations_key'))
    )
    op.create_table('topics',
    sa.Column('key', sa.String(length=60), nullable=False),
    sa.Column('name_en', sa.String(length=200), nullable=False),
    sa.Column('name_lo', sa.String(length=200), nullable=True),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_topics'))
    )
    op.create_table('events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=120), nullable=False),
    sa.Column('jurisdiction_code', sa.String(length=8), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('name_en', sa.String(length=500), nullable=False),
    sa.Column('name_lo', sa.String(length=500), nullable=True),
    sa.Column('starts_on', sa.String(length=10), nullable=True),
    sa.Column('ends_on', sa.String(length=10), nullable=True),
    sa.Column('date_note', sa.Text(), nullable=True),
    sa.Column('venue', sa.String(length=500), nullable=True),
    sa.Column('summary_en', sa.Text(), nullable=True),
    sa.Column('summary_lo', sa.Text(), nullable=True),
    sa.Column('editorial_state', sa.String(length=12), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("editorial_state IN ('draft', 'in_review', 'published', 'archived')", name=op.f('ck_events_editorial_state')),
    sa.CheckConstraint("kind IN ('forum', 'workshop', 'summit', 'meeting', 'conference')", name=op.f('ck_events_kind')),
    sa.ForeignKeyConstraint(['jurisdiction_code'], ['jurisdictions.code'], name=op.f('fk_events_jurisdiction_code_jurisdictions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_events')),
    sa.UniqueConstraint('key', name=op.f('uq_events_key'))
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_events_jurisdiction_code'), ['jurisdiction_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_events_starts_on'), ['starts_on'], unique=False)

    op.create_table('policies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=120), nullable=False),
    sa.Column('jurisdiction_code', sa.String(length=8), nullable=False),
    sa.Column('instrument', sa.String(length=20), nullable=False),
    sa.Column('title_en', sa.String(length=500), nullable=False),
    sa.Column('title_lo', sa.String(length=500), nullable=True),
    sa.Column('title_local', sa.String(length=500), nullable=True),
    sa.Column('summary_en', sa.Text(), nullable=True),
    sa.Column('summary_lo', sa.Text(), nullable=True),
    sa.Column('reference', sa.String(length=300), nullable=True),
    sa.Column('issuer_id', sa.Integer(), nullable=True),
    sa.Column('valid_from', sa.String(length=10), nullable=True),
    sa.Column('valid_to', sa.String(length=10), nullable=True),
    sa.Column('valid_to_end', sa.Date(), nullable=True),
    sa.Column('confidence', sa.String(length=10), nullable=True),
    sa.Column('conflicts', sa.JSON(), nullable=False),
    sa.Column('legal_status', sa.String(length=20), nullable=False),
    sa.Column('status_changed_on', sa.String(length=10), nullable=True),
    sa.Column('adopted_on', sa.String(length=10), nullable=True),
    sa.Column('year', sa.Integer(), nullable=True),
    sa.Column('editorial_state', sa.String(length=12), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("confidence IS NULL OR confidence IN ('high', 'medium', 'low')", name=op.f('ck_policies_confidence')),
    sa.CheckConstraint("editorial_state IN ('draft', 'in_review', 'published', 'archived')", name=op.f('ck_policies_editorial_state')),
    sa.CheckConstraint("instrument IN ('law', 'decree', 'decision', 'regulation', 'notification', 'standard', 'strategy', 'roadmap', 'incentive', 'budget_measure', 'declaration', 'agreement', 'programme', 'target')", name=op.f('ck_policies_instrument')),
    sa.CheckConstraint("legal_status IN ('proposed', 'drafting', 'consultation', 'adopted', 'in_force', 'suspended', 'expired', 'superseded', 'repealed', 'withdrawn', 'unknown')", name=op.f('ck_policies_legal_status')),
    sa.ForeignKeyConstraint(['issuer_id'], ['organisations.id'], name=op.f('fk_policies_issuer_id_organisations')),
    sa.ForeignKeyConstraint(['jurisdiction_code'], ['jurisdictions.code'], name=op.f('fk_policies_jurisdiction_code_jurisdictions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_policies')),
    sa.UniqueConstraint('key', name=op.f('uq_policies_key'))
    )
    with op.batch_alter_table('policies', schema=None) as batch_op:
        batch_op.create_index('ix_policies_state_jurisdiction', ['editorial_state', 'jurisdiction_code'], unique=False)
        batch_op.create_index('ix_policies_state_status_changed', ['editorial_state', 'status_changed_on'], unique=False)
        batch_op.create_index('ix_policies_valid_to_end', ['valid_to_end'], unique=False)
        batch_op.create_index(batch_op.f('ix_policies_year'), ['year'], unique=False)

    op.create_table('event_organisations',
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.CheckConstraint("role IN ('organiser', 'funder', 'partner')", name=op.f('ck_event_organisations_role')),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_event_organisations_event_id_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_event_organisations_organisation_id_organisations')),
    sa.PrimaryKeyConstraint('event_id', 'organisation_id', 'role', name=op.f('pk_event_organisations'))
    )
    with op.batch_alter_table('event_organisations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_event_organisations_organisation_id'), ['organisation_id'], unique=False)

    op.create_table('event_topics',
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('topic_key', sa.String(length=60), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_event_topics_event_id_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['topic_key'], ['topics.key'], name=op.f('fk_event_topics_topic_key_topics')),
    sa.PrimaryKeyConstraint('event_id', 'topic_key', name=op.f('pk_event_topics'))
    )
    with op.batch_alter_table('event_topics', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_event_topics_topic_key'), ['topic_key'], unique=False)

    op.create_table('forum_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('policy_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('evidence', sa.Text(), nullable=True),
    sa.Column('source_url', sa.String(length=2000), nullable=True),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.CheckConstraint("role IN ('originated', 'discussed', 'announced', 'recommended')", name=op.f('ck_forum_links_role')),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_forum_links_event_id_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['policy_id'], ['policies.id'], name=op.f('fk_forum_links_policy_id_policies'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_forum_links')),
    sa.UniqueConstraint('event_id', 'policy_id', 'role', name=op.f('uq_forum_links_event_id_policy_id_role'))
    )
    with op.batch_alter_table('forum_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_forum_links_event_id'), ['event_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_forum_links_policy_id'), ['policy_id'], unique=False)

    op.create_table('policy_bodies',
    sa.Column('policy_id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.CheckConstraint("role IN ('implementing', 'partner', 'funder')", name=op.f('ck_policy_bodies_role')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_policy_bodies_organisation_id_organisations')),
    sa.ForeignKeyConstraint(['policy_id'], ['policies.id'], name=op.f('fk_policy_bodies_policy_id_policies'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('policy_id', 'organisation_id', 'role', name=op.f('pk_policy_bodies'))
    )
    with op.batch_alter_table('policy_bodies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_policy_bodies_organisation_id'), ['organisation_id'], unique=False)

    op.create_table('policy_relations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('policy_id', sa.Integer(), nullable=False),
    sa.Column('relation_type', sa.String(length=20), nullable=False),
    sa.Column('target_id', sa.Integer(), nullable=True),
    sa.Column('target_reference', sa.String(length=500), nullable=True),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.CheckConstraint("relation_type IN ('amends', 'supersedes', 'implements', 'cancels', 'pursuant_to', 'related')", name=op.f('ck_policy_relations_relation_type')),
    sa.CheckConstraint('target_id IS NOT NULL OR target_reference IS NOT NULL', name=op.f('ck_policy_relations_has_target')),
    sa.ForeignKeyConstraint(['policy_id'], ['policies.id'], name=op.f('fk_policy_relations_policy_id_policies'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['target_id'], ['policies.id'], name=op.f('fk_policy_relations_target_id_policies'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_policy_relations'))
    )
    with op.batch_alter_table('policy_relations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_policy_relations_policy_id'), ['policy_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_policy_relations_target_id'), ['target_id'], unique=False)

    op.create_table('policy_topics',
    sa.Column('policy_id', sa.Integer(), nullable=False),
    sa.Column('topic_key', sa.String(length=60), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['policy_id'], ['policies.id'], name=op.f('fk_policy_topics_policy_id_policies'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['topic_key'], ['topics.key'], name=op.f('fk_policy_topics_topic_key_topics')),
    sa.PrimaryKeyConstraint('policy_id', 'topic_key', name=op.f('pk_policy_topics'))
    )
    with op.batch_alter_table('policy_topics', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_policy_topics_topic_key'), ['topic_key'], unique=False)

    op.create_table('policy_vehicle_classes',
    sa.Column('policy_id', sa.Integer(), nullable=False),
    sa.Column('vehicle_class', sa.String(length=20), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.CheckConstraint("vehicle_class IN ('all', 'car', 'two_wheeler', 'three_wheeler', 'bus', 'truck')", name=op.f('ck_policy_vehicle_classes_vehicle_class')),
    sa.ForeignKeyConstraint(['policy_id'], ['policies.id'], name=op.f('fk_policy_vehicle_classes_policy_id_policies'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('policy_id', 'vehicle_class', name=op.f('pk_policy_vehicle_classes'))
    )
    with op.batch_alter_table('policy_vehicle_classes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_policy_vehicle_classes_vehicle_class'), ['vehicle_class'], unique=False)

    op.create_table('sources',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('policy_id', sa.Integer(), nullable=True),
    sa.Column('event_id', sa.Integer(), nullable=True),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('url', sa.String(length=2000), nullable=False),
    sa.Column('title', sa.String(length=1000), nullable=True),
    sa.Column('published', sa.String(length=10), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=True),
    sa.CheckConstraint("kind IS NULL OR kind IN ('official', 'law_firm', 'news', 'ngo', 'other')", name=op.f('ck_sources_kind')),
    sa.CheckConstraint('(policy_id IS NULL) <> (event_id IS NULL)', name=op.f('ck_sources_one_owner')),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_sources_event_id_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['policy_id'], ['policies.id'], name=op.f('fk_sources_policy_id_policies'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sources'))
    )
    with op.batch_alter_table('sources', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sources_event_id'), ['event_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sources_policy_id'), ['policy_id'], unique=False)

    op.create_table('status_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('policy_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('from_status', sa.String(length=20), nullable=True),
    sa.Column('to_status', sa.String(length=20), nullable=False),
    sa.Column('effective_on', sa.String(length=10), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('evidence_url', sa.String(length=2000), nullable=True),
    sa.Column('recorded_by', sa.String(length=200), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("from_status IS NULL OR from_status IN ('proposed', 'drafting', 'consultation', 'adopted', 'in_force', 'suspended', 'expired', 'superseded', 'repealed', 'withdrawn', 'unknown')", name=op.f('ck_status_changes_from_status')),
    sa.CheckConstraint("to_status IN ('proposed', 'drafting', 'consultation', 'adopted', 'in_force', 'suspended', 'expired', 'superseded', 'repealed', 'withdrawn', 'unknown')", name=op.f('ck_status_changes_to_status')),
    sa.ForeignKeyConstraint(['policy_id'], ['policies.id'], name=op.f('fk_status_changes_policy_id_policies'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_status_changes')),
    sa.UniqueConstraint('policy_id', 'position', name=op.f('uq_status_changes_policy_id_position'))
    )
    with op.batch_alter_table('status_changes', schema=None) as batch_op:
        batch_op.create_index('ix_status_changes_effective_on', ['effective_on'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('status_changes', schema=None) as batch_op:
        batch_op.drop_index('ix_status_changes_effective_on')

    op.drop_table('status_changes')
    with op.batch_alter_table('sources', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sources_policy_id'))
        batch_op.drop_index(batch_op.f('ix_sources_event_id'))

    op.drop_table('sources')
    with op.batch_alter_table('policy_vehicle_classes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_policy_vehicle_classes_vehicle_class'))

    op.drop_table('policy_vehicle_classes')
    with op.batch_alter_table('policy_topics', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_policy_topics_topic_key'))

    op.drop_table('policy_topics')
    with op.batch_alter_table('policy_relations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_policy_relations_target_id'))
        batch_op.drop_index(batch_op.f('ix_policy_relations_policy_id'))

    op.drop_table('policy_relations')
    with op.batch_alter_table('policy_bodies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_policy_bodies_organisation_id'))

    op.drop_table('policy_bodies')
    with op.batch_alter_table('forum_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_forum_links_policy_id'))
        batch_op.drop_index(batch_op.f('ix_forum_links_event_id'))

    op.drop_table('forum_links')
    with op.batch_alter_table('event_topics', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_event_topics_topic_key'))

    op.drop_table('event_topics')
    with op.batch_alter_table('event_organisations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_event_organisations_organisation_id'))

    op.drop_table('event_organisations')
    with op.batch_alter_table('policies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_policies_year'))
        batch_op.drop_index('ix_policies_valid_to_end')
        batch_op.drop_index('ix_policies_state_status_changed')
        batch_op.drop_index('ix_policies_state_jurisdiction')

    op.drop_table('policies')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_events_starts_on'))
        batch_op.drop_index(batch_op.f('ix_events_jurisdiction_code'))

    op.drop_table('events')
    op.drop_table('topics')
    op.drop_table('organisations')
    op.drop_table('jurisdictions')
