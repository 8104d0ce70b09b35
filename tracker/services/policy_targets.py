"""Targets of policies in words and numbers: a target as a sentence in the reader's language, the compact text
the downloads write, the headline target of each country, and the headline targets year by year."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from flask_babel import LazyString
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from tracker.i18n import current_language, format_number
from tracker.models import Policy, PolicyTarget
from tracker.models.vocab import TARGET_METRICS, TARGET_UNIT_SYMBOLS, TARGET_UNITS, VEHICLE_CLASSES
from tracker.translation import gettext as _
from tracker.translation import lazy_gettext as _l

# A policy in one of these statuses no longer pursues its targets.
ENDED_STATUSES = ("repealed", "withdrawn", "superseded", "expired")
# Targets joined with " ; " in one cell of a download, as the other lists are.
SEPARATOR = " ; "

# Each measure as a sentence around its amount and year.
SENTENCES: dict[str, LazyString] = {
    "share_of_sales": _l("%(amount)s of new sales by %(year)s"),
    "share_of_stock": _l("%(amount)s of vehicles in use by %(year)s"),
    "share_of_production": _l("%(amount)s of vehicle production by %(year)s"),
    "vehicles": _l("%(amount)s electric vehicles by %(year)s"),
    "charging_points": _l("%(amount)s public charging points by %(year)s"),
    "charging_stations": _l("%(amount)s public charging stations by %(year)s"),
    "manufacturing_capacity": _l("Capacity to make %(amount)s by %(year)s"),
    "emissions_reduction": _l("Emissions cut by %(amount)s by %(year)s"),
    "other": _l("%(amount)s by %(year)s"),
}
# The unit a measure's sentence already names: its amount is then the number alone.
NAMED_BY_SENTENCE = {"vehicles": "vehicles", "charging_points": "points", "charging_stations": "stations"}


def _parts(target: Any) -> tuple[str, Any, str, int, str]:
    """(metric, value, unit, year, vehicle class) of a row, a TargetView or a target of the record format."""
    if isinstance(target, Mapping):
        return (target["metric"], target["value"], target["unit"], target["year"],
                target.get("vehicle_class") or "all")
    year = target.year if isinstance(target, TargetView) else target.target_year
    return target.metric, target.value, target.unit, year, target.vehicle_class or "all"


def _decimal(value: Any) -> Decimal:
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    normal = number.normalize()
    # normalize() writes 100 as 1E+2: quantize back to a whole number when it is one.
    return normal.quantize(Decimal(1)) if normal == normal.to_integral_value() else normal


def compact_number(value: Any) -> str:
    """A value written plainly, as scripts read it: 550000, 2.5 (never 5.5E+5 nor 30.0000)."""
    return format(_decimal(value), "f")


def amount_text(metric: str, value: Any, unit: str) -> str:
    """The value with its unit in the reader's number format: '30%', '20,000' (Lao '20.000'), '2,5%' in Lao."""
    number = format_number(_decimal(value))
    if unit == "percent":
        return f"{number}%"
    if NAMED_BY_SENTENCE.get(metric) == unit:
        return number
    return f"{number} {TARGET_UNITS.get(unit, unit)}"


def target_text(target: Any, *, with_vehicles: bool = False) -> str:
    """A target as a sentence in the reader's language: '30% of new sales by 2030' (and '(Cars)' with
    ``with_vehicles``, when it counts one class of vehicle)."""
    metric, value, unit, year, vehicle_class = _parts(target)
    sentence = SENTENCES.get(metric, SENTENCES["other"])
    # The year is a name, not an amount: never grouped ('2,030').
    text = str(sentence) % {"amount": amount_text(metric, value, unit), "year": str(year)}
    if with_vehicles and vehicle_class != "all":
        return str(_("%(target)s (%(vehicles)s)", target=text,
                     vehicles=VEHICLE_CLASSES.get(vehicle_class, vehicle_class)))
    return text


def compact_text(targets: Iterable[Any]) -> str:
    """Targets in the compact text of the downloads: ``share_of_sales=30%@2030[car]`` each, the headline
    target marked with a leading ``*``, joined with ' ; '. Numbers are written plainly (550000, 2.5)."""
    written = []
    for target in targets:
        metric, value, unit, year, vehicle_class = _parts(target)
        headline = target["headline"] if isinstance(target, Mapping) else getattr(target, "headline", False)
        number = compact_number(value)
        written.append(f"{'*' if headline else ''}{metric}={number}{TARGET_UNIT_SYMBOLS.get(unit, unit)}"
                       f"@{year}[{vehicle_class}]")
    return SEPARATOR.join(written)


@dataclass(frozen=True)
class TargetView:
    """A target of a published policy as a reader sees it, with the policy it belongs to."""

    jurisdiction_code: str
    policy_key: str
    policy_title_en: str | None
    policy_title_lo: str | None
    metric: str
    value: Decimal
    unit: str
    year: int
    vehicle_class: str
    scope_en: str | None
    scope_lo: str | None
    headline: bool
    source_url: str | None

    @property
    def text(self) -> str:
        """The target as a sentence in the reader's language ('30% of new sales by 2030 (Cars)')."""
        return target_text(self, with_vehicles=True)

    @property
    def metric_label(self) -> str:
        return str(TARGET_METRICS.get(self.metric, self.metric))

    @property
    def scope(self) -> str | None:
        """The scope in the reader's language, else in the other one."""
        if current_language() == "lo":
            return self.scope_lo or self.scope_en
        return self.scope_en or self.scope_lo

    @property
    def policy_title(self) -> str:
        if current_language() == "lo":
            return self.policy_title_lo or self.policy_title_en or self.policy_key
        return self.policy_title_en or self.policy_title_lo or self.policy_key


def _view_statement() -> Select[PolicyTarget, str, str, str | None, str | None]:
    return (select(PolicyTarget, Policy.jurisdiction_code, Policy.key, Policy.title_en, Policy.title_lo)
            .join(Policy, Policy.id == PolicyTarget.policy_id)
            .where(Policy.editorial_state == "published"))


def _view(target: PolicyTarget, code: str, key: str, title_en: str | None, title_lo: str | None) -> TargetView:
    return TargetView(code, key, title_en, title_lo, target.metric, target.value, target.unit, target.target_year,
                      target.vehicle_class, target.scope_en, target.scope_lo, bool(target.headline),
                      target.source_url)


def headline_targets(session: Session, *, as_of: dt.date | None = None) -> dict[str, TargetView]:
    """The headline target of each country (by jurisdiction code), in one query.

    A country's headline is chosen among the headline targets of its published policies that still run
    (not repealed, withdrawn, superseded or expired) and that were made by ``as_of`` (today when None; a
    policy whose year is later does not count): the target whose year comes next on or after ``as_of``'s
    year, else the latest one already past; between equals, the newer policy's, then the first key.
    A country with no such target is absent.
    """
    as_of = as_of or dt.date.today()
    statement = (_view_statement().add_columns(Policy.year)
                 .where(PolicyTarget.headline.is_(True), Policy.legal_status.not_in(ENDED_STATUSES))
                 .where((Policy.year.is_(None)) | (Policy.year <= as_of.year))
                 .order_by(Policy.jurisdiction_code, Policy.key, PolicyTarget.position))
    best: dict[str, tuple[tuple[int, int, int], TargetView]] = {}
    for target, code, key, title_en, title_lo, policy_year in session.execute(statement):
        upcoming = target.target_year >= as_of.year
        # Smaller ranks first: upcoming before past, the nearest year, then the newer policy.
        rank = (0 if upcoming else 1, target.target_year if upcoming else -target.target_year,
                -(policy_year or 0))
        if code not in best or rank < best[code][0]:
            best[code] = (rank, _view(target, code, key, title_en, title_lo))
    return {code: view for code, (_rank, view) in best.items()}


def headline_targets_by_year(session: Session, statement_filter: Any = None) -> list[TargetView]:
    """Every headline target of a published policy, by target year then country and policy (one query).
    ``statement_filter`` narrows the statement (the dashboard's filter of countries and topics)."""
    statement = _view_statement().where(PolicyTarget.headline.is_(True))
    if statement_filter is not None:
        statement = statement_filter(statement)
    statement = statement.order_by(PolicyTarget.target_year, Policy.jurisdiction_code, Policy.key)
    return [_view(*row) for row in session.execute(statement)]
