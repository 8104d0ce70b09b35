"""Notifications: webhook endpoints, subscriptions, the outbox of events, deliveries and their attempts.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('webhook_endpoints',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('url', sa.String(length=2000), nullable=False),
    sa.Column('description', sa.String(length=200), nullable=True),
    sa.Column('secret', sa.String(length=100), nullable=False),
    sa.Column('previous_secret', sa.String(length=100), nullable=True),
    sa.Column('previous_secret_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('disabled_reason', sa.String(length=200), nullable=True),
    sa.Column('failing_since', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_webhook_endpoints_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_endpoints'))
    )
    op.create_index(op.f('ix_webhook_endpoints_user_id'), 'webhook_endpoints', ['user_id'], unique=False)
    op.create_table('subscriptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('webhook_endpoint_id', sa.Integer(), nullable=True),
    sa.Column('target_kind', sa.String(length=12), nullable=False),
    sa.Column('target_value', sa.String(length=500), nullable=True),
    sa.Column('target_filters', sa.JSON(), nullable=True),
    sa.Column('cadence', sa.String(length=10), nullable=False),
    sa.Column('sunset_days', sa.Integer(), nullable=False),
    sa.Column('language', sa.String(length=5), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('unsubscribed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("cadence IN ('immediate', 'daily', 'weekly')", name=op.f('ck_subscriptions_cadence')),
    sa.CheckConstraint("channel IN ('email', 'webhook')", name=op.f('ck_subscriptions_channel')),
    sa.CheckConstraint("language IN ('en', 'lo')", name=op.f('ck_subscriptions_language')),
    sa.CheckConstraint("target_kind IN ('policy', 'country', 'topic', 'instrument', 'event', 'search', 'all')", name=op.f('ck_subscriptions_target_kind')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_subscriptions_user_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['webhook_endpoint_id'], ['webhook_endpoints.id'], name=op.f('fk_subscriptions_webhook_endpoint_id_webhook_endpoints'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscriptions')),
    sa.UniqueConstraint('public_id', name=op.f('uq_subscriptions_public_id'))
    )
    op.create_index('ix_subscriptions_target', 'subscriptions', ['target_kind', 'target_value'], unique=False)
    op.create_index(op.f('ix_subscriptions_user_id'), 'subscriptions', ['user_id'], unique=False)
    op.create_index(op.f('ix_subscriptions_webhook_endpoint_id'), 'subscriptions', ['webhook_endpoint_id'], unique=False)
    op.create_table('notification_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=40), nullable=False),
    sa.Column('type', sa.String(length=40), nullable=False),
    sa.Column('policy_id', sa.Integer(), nullable=True),
    sa.Column('subscription_id', sa.Integer(), nullable=True),
    sa.Column('webhook_endpoint_id', sa.Integer(), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('dedupe_key', sa.String(length=200), nullable=True),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('fanned_out_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("type IN ('policy.status_changed', 'policy.published', 'policy.validity_changed', 'policy.sunset_upcoming', 'subscription.confirm', 'webhook.test')", name=op.f('ck_notification_events_type')),
    sa.ForeignKeyConstraint(['policy_id'], ['policies.id'], name=op.f('fk_notification_events_policy_id_policies'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['subscription_id'], ['subscriptions.id'], name=op.f('fk_notification_events_subscription_id_subscriptions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['webhook_endpoint_id'], ['webhook_endpoints.id'], name=op.f('fk_notification_events_webhook_endpoint_id_webhook_endpoints'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_events')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_notification_events_dedupe_key')),
    sa.UniqueConstraint('public_id', name=op.f('uq_notification_events_public_id'))
    )
    op.create_index('ix_notification_events_fanned_out_at', 'notification_events', ['fanned_out_at'], unique=False)
    op.create_index(op.f('ix_notification_events_policy_id'), 'notification_events', ['policy_id'], unique=False)
    op.create_index(op.f('ix_notification_events_subscription_id'), 'notification_events', ['subscription_id'], unique=False)
    op.create_index(op.f('ix_notification_events_webhook_endpoint_id'), 'notification_events', ['webhook_endpoint_id'], unique=False)
    op.create_table('deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=40), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('subscription_id', sa.Integer(), nullable=True),
    sa.Column('webhook_endpoint_id', sa.Integer(), nullable=True),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_status_code', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("channel IN ('email', 'webhook')", name=op.f('ck_deliveries_channel')),
    sa.CheckConstraint("state IN ('pending', 'retrying', 'delivered', 'failed', 'dead')", name=op.f('ck_deliveries_state')),
    sa.ForeignKeyConstraint(['event_id'], ['notification_events.id'], name=op.f('fk_deliveries_event_id_notification_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subscription_id'], ['subscriptions.id'], name=op.f('fk_deliveries_subscription_id_subscriptions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['webhook_endpoint_id'], ['webhook_endpoints.id'], name=op.f('fk_deliveries_webhook_endpoint_id_webhook_endpoints'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deliveries')),
    sa.UniqueConstraint('event_id', 'subscription_id', 'channel', name=op.f('uq_deliveries_event_id_subscription_id_channel')),
    sa.UniqueConstraint('public_id', name=op.f('uq_deliveries_public_id'))
    )
    op.create_index('ix_deliveries_state_next_attempt_at', 'deliveries', ['state', 'next_attempt_at'], unique=False)
    op.create_index(op.f('ix_deliveries_subscription_id'), 'deliveries', ['subscription_id'], unique=False)
    op.create_index(op.f('ix_deliveries_webhook_endpoint_id'), 'deliveries', ['webhook_endpoint_id'], unique=False)
    op.create_table('delivery_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('delivery_id', sa.Integer(), nullable=False),
    sa.Column('attempted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    sa.CheckConstraint("outcome IN ('delivered', 'retry', 'failed', 'dead', 'error')", name=op.f('ck_delivery_attempts_outcome')),
    sa.ForeignKeyConstraint(['delivery_id'], ['deliveries.id'], name=op.f('fk_delivery_attempts_delivery_id_deliveries'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_delivery_attempts'))
    )
    op.create_index(op.f('ix_delivery_attempts_delivery_id'), 'delivery_attempts', ['delivery_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_delivery_attempts_delivery_id'), table_name='delivery_attempts')
    op.drop_table('delivery_attempts')
    op.drop_index(op.f('ix_deliveries_webhook_endpoint_id'), table_name='deliveries')
    op.drop_index(op.f('ix_deliveries_subscription_id'), table_name='deliveries')
    op.drop_index('ix_deliveries_state_next_attempt_at', table_name='deliveries')
    op.drop_table('deliveries')
    op.drop_index(op.f('ix_notification_events_webhook_endpoint_id'), table_name='notification_events')
    op.drop_index(op.f('ix_notification_events_subscription_id'), table_name='notification_events')
    op.drop_index(op.f('ix_notification_events_policy_id'), table_name='notification_events')
    op.drop_index('ix_notification_events_fanned_out_at', table_name='notification_events')
    op.drop_table('notification_events')
    op.drop_index(op.f('ix_subscriptions_webhook_endpoint_id'), table_name='subscriptions')
    op.drop_index(op.f('ix_subscriptions_user_id'), table_name='subscriptions')
    op.drop_index('ix_subscriptions_target', table_name='subscriptions')
    op.drop_table('subscriptions')
    op.drop_index(op.f('ix_webhook_endpoints_user_id'), table_name='webhook_endpoints')
    op.drop_table('webhook_endpoints')
