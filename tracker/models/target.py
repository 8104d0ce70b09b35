"""Structured targets of a policy: a measure, a value in a unit, a target year, a vehicle class and a scope."""
from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.db import Base
from tracker.models.vocab import TARGET_METRICS, TARGET_UNITS, VEHICLE_CLASSES, check_in

if TYPE_CHECKING:
    from tracker.models.policy import Policy

# The years a target may name: the first EV targets in the region date from the 2010s; none looks past 2100.
FIRST_TARGET_YEAR = 2000
LAST_TARGET_YEAR = 2100
# Values are kept exactly (a share of 2.5 % stays 2.5) up to a trillion with four decimals.
VALUE_DIGITS = 18
VALUE_DECIMALS = 4
SCOPE_LENGTH = 300


class PolicyTarget(Base):
    """One target a policy states ("30 % of new car sales by 2030"), in the order the record lists them.

    Part of the Policy aggregate: written, audited and versioned with the policy. ``headline`` marks the
    one target that stands for the policy (and, through tracker.services.policy_targets, for its country).
    """

    __tablename__ = "policy_targets"
    __table_args__ = (
        CheckConstraint(check_in("metric", TARGET_METRICS), name="metric"),
        CheckConstraint(check_in("unit", TARGET_UNITS), name="unit"),
        CheckConstraint(check_in("vehicle_class", VEHICLE_CLASSES), name="vehicle_class"),
        CheckConstraint(f"target_year BETWEEN {FIRST_TARGET_YEAR} AND {LAST_TARGET_YEAR}", name="target_year"),
        CheckConstraint("value >= 0", name="value"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("policies.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    metric: Mapped[str] = mapped_column(String(30))
    value: Mapped[Decimal] = mapped_column(Numeric(VALUE_DIGITS, VALUE_DECIMALS))
    unit: Mapped[str] = mapped_column(String(20))
    target_year: Mapped[int] = mapped_column(Integer)
    vehicle_class: Mapped[str] = mapped_column(String(20), default="all")
    scope_en: Mapped[str | None] = mapped_column(String(SCOPE_LENGTH))
    scope_lo: Mapped[str | None] = mapped_column(String(SCOPE_LENGTH))
    headline: Mapped[bool] = mapped_column(Boolean, default=False)
    # Where the target is stated (usually one of the policy's sources).
    source_url: Mapped[str | None] = mapped_column(String(2000))

    policy: Mapped[Policy] = relationship(back_populates="targets", lazy="raise")
