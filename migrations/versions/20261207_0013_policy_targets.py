"""Policy targets: the structured targets a policy states (measure, value, unit, year, vehicle class, scope).

- policy_targets: one row per target of a policy, in the record's order, with the one headline target
  flagged; deleted with its policy.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# The vocabularies as they were when the table was made (tracker.models.vocab may grow later, with a
# migration of its own).
METRICS = ("share_of_sales", "share_of_stock", "share_of_production", "vehicles", "charging_points",
           "charging_stations", "manufacturing_capacity", "emissions_reduction", "other")
UNITS = ("percent", "vehicles", "points", "stations", "units_per_year", "tonnes_co2e")
VEHICLE_CLASSES = ("all", "car", "two_wheeler", "three_wheeler", "bus", "truck")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


def upgrade() -> None:
    op.create_table(
        "policy_targets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("policy_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("metric", sa.String(length=30), nullable=False),
        sa.Column("value", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("unit", sa.String(length=20), nullable=False),
        sa.Column("target_year", sa.Integer(), nullable=False),
        sa.Column("vehicle_class", sa.String(length=20), nullable=False),
        sa.Column("scope_en", sa.String(length=300), nullable=True),
        sa.Column("scope_lo", sa.String(length=300), nullable=True),
        sa.Column("headline", sa.Boolean(), nullable=False),
        sa.Column("source_url", sa.String(length=2000), nullable=True),
        sa.CheckConstraint(_one_of("metric", METRICS), name=op.f("ck_policy_targets_metric")),
        sa.CheckConstraint(_one_of("unit", UNITS), name=op.f("ck_policy_targets_unit")),
        sa.CheckConstraint(_one_of("vehicle_class", VEHICLE_CLASSES), name=op.f("ck_policy_targets_vehicle_class")),
        sa.CheckConstraint("target_year BETWEEN 2000 AND 2100", name=op.f("ck_policy_targets_target_year")),
        sa.CheckConstraint("value >= 0", name=op.f("ck_policy_targets_value")),
        sa.ForeignKeyConstraint(["policy_id"], ["policies.id"], ondelete="CASCADE",
                                name=op.f("fk_policy_targets_policy_id_policies")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_targets")),
    )
    with op.batch_alter_table("policy_targets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_policy_targets_policy_id"), ["policy_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("policy_targets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_policy_targets_policy_id"))
    op.drop_table("policy_targets")
