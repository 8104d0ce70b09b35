"""Dashboard figures over published policies: per country and status, per quarter, per topic, expiries, and
headline targets by year."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVarTuple, cast

from sqlalchemy import Select, String, func, literal_column, select
from sqlalchemy.orm import Session, aliased

from tracker.errors import Invalid
from tracker.models import Jurisdiction, Policy, PolicyTopic, StatusChange, Topic
from tracker.models.types import PartialDate
from tracker.models.vocab import LEGAL_STATUSES
from tracker.services.as_of import AsOf, end_key, parse_as_of, status_on

# A measure in one of ENDED_STATUSES no longer runs out: it has already ended another way.
from tracker.services.policy_targets import ENDED_STATUSES, TargetView, headline_targets_by_year
from tracker.translation import gettext as _

if TYPE_CHECKING:
    from sqlalchemy import Result

_Ts = TypeVarTuple("_Ts")

# The dashboard is the public picture: only published records, whoever is reading.
PUBLISHED = "published"

# Jurisdiction kinds that always get a row in the country chart, even with no policy, so the
# ASEAN picture is complete; other jurisdictions (international bodies) appear only when they count.
ALWAYS_SHOWN_KINDS = ("member", "regional")


@dataclass(frozen=True)
class DashboardFilter:
    """Countries and topics the dashboard is narrowed to (empty means all); every chart applies both."""

    countries: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    # The figures as of that day (tracker.services.as_of): the records that existed then, their statuses then.
    as_of: AsOf | None = None

    @property
    def is_empty(self) -> bool:
        return not (self.countries or self.topics)

    def to_query(self) -> dict[str, list[str]]:
        """The filter as query parameters, for links (CSV downloads) that keep it."""
        query = {"country": list(self.countries), "topic": list(self.topics),
                 "as_of": [self.as_of.text] if self.as_of else []}
        return {name: values for name, values in query.items() if values}


@dataclass(frozen=True)
class ReferenceLists:
    """Jurisdictions and topics in display order (Lao PDR first), read once per request."""

    jurisdictions: list[Jurisdiction]
    topics: list[Topic]

    @property
    def jurisdiction_codes(self) -> list[str]:
        return [j.code for j in self.jurisdictions]

    @property
    def topic_keys(self) -> list[str]:
        return [t.key for t in self.topics]


def reference_lists(session: Session) -> ReferenceLists:
    """Every jurisdiction and topic in display order (two queries)."""
    return ReferenceLists(
        jurisdictions=list(session.scalars(select(Jurisdiction).order_by(Jurisdiction.position))),
        topics=list(session.scalars(select(Topic).order_by(Topic.position))),
    )


def parse_dashboard_filter(args: Mapping[str, Sequence[str]], reference: ReferenceLists,
                           today: dt.date | None = None) -> DashboardFilter:
    """Build the filter from ``country`` and ``topic`` query parameters (each may repeat; "" means any) and
    ``as_of`` (as tracker.services.as_of.parse_as_of reads it).

    Raises:
        Invalid: naming each parameter whose value is not a known country code or topic key, or not a day.
    """
    errors: dict[str, str] = {}

    def pick(name: str, allowed: list[str], normalise: Callable[[str], str] = lambda value: value) -> tuple[str, ...]:
        values = [normalise(raw.strip()) for raw in args.get(name, ()) if raw.strip()]
        unknown = [value for value in values if value not in allowed]
        if unknown:
            errors[name] = _("Unknown %(name)s '%(value)s'. Accepted values: %(accepted)s",
                             name=name, value=unknown[0][:40], accepted=", ".join(allowed))
        return tuple(dict.fromkeys(values))

    countries = pick("country", reference.jurisdiction_codes, str.upper)
    topics = pick("topic", reference.topic_keys)
    as_of = None
    try:
        as_of = parse_as_of(args, today or dt.date.today())
    except Invalid as error:
        errors["as_of"] = str(error.errors["as_of"])
    if errors:
        raise Invalid(_("Some filters are not valid"), errors)
    return DashboardFilter(countries, topics, as_of)


def published_matching(statement: Select[*_Ts], flt: DashboardFilter) -> Select[*_Ts]:
    """Narrow a statement that reads ``Policy`` to published policies matching the filter."""
    statement = statement.where(Policy.editorial_state == PUBLISHED)
    if flt.as_of is not None:
        statement = statement.where(status_on(flt.as_of).is_not(None))
    if flt.countries:
        statement = statement.where(Policy.jurisdiction_code.in_(flt.countries))
    if flt.topics:
        # An alias of its own: the topic chart joins policy_topics too, and a shared name would be
        # correlated into this subquery and change its meaning.
        tagged = aliased(PolicyTopic)
        statement = statement.where(Policy.id.in_(
            select(tagged.policy_id).where(tagged.topic_key.in_(flt.topics)).correlate(None)))
    return statement


# --- Chart 1: policies per country by legal status ---------------------------------------------------

@dataclass(frozen=True)
class CountryRow:
    jurisdiction: Jurisdiction
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class CountriesByStatus:
    """One row per jurisdiction; ``statuses`` are the legal statuses that occur, in vocabulary order."""

    statuses: list[str]
    rows: list[CountryRow]

    @property
    def status_totals(self) -> dict[str, int]:
        return {status: sum(row.counts.get(status, 0) for row in self.rows) for status in self.statuses}

    @property
    def total(self) -> int:
        return sum(row.total for row in self.rows)


def countries_by_status(session: Session, flt: DashboardFilter,
                        reference: ReferenceLists) -> CountriesByStatus:
    """Published policies per jurisdiction and current legal status, or status on ``flt.as_of`` (one query)."""
    if flt.as_of is None:
        statement = published_matching(
            select(Policy.jurisdiction_code, Policy.legal_status, func.count(Policy.id)), flt,
        ).group_by(Policy.jurisdiction_code, Policy.legal_status)
    else:
        # Grouped outside: PostgreSQL would not see the subquery's bound day as the same expression twice.
        dated = published_matching(select(Policy.jurisdiction_code.label("code"), status_on(flt.as_of).label("status")),
                           flt).subquery()
        statement = select(dated.c.code, dated.c.status, func.count()).group_by(dated.c.code, dated.c.status)
    counts: dict[str, dict[str, int]] = {}
    for code, status, count in session.execute(statement):
        counts.setdefault(code, {})[status] = count
    if flt.countries:
        shown = [j for j in reference.jurisdictions if j.code in flt.countries]
    else:
        shown = [j for j in reference.jurisdictions if j.kind in ALWAYS_SHOWN_KINDS or counts.get(j.code)]
    occurring = {status for row in counts.values() for status in row}
    return CountriesByStatus(
        statuses=[status for status in LEGAL_STATUSES if status in occurring],
        rows=[CountryRow(j, counts.get(j.code, {})) for j in shown],
    )


# --- Chart 2: status changes per quarter --------------------------------------------------------------

@dataclass(frozen=True)
class YearOfChanges:
    """Status changes dated within one year: per quarter, and those known only to the year."""

    year: int
    quarters: tuple[int, ...]  # Q1 to Q4
    year_only: int

    @property
    def total(self) -> int:
        return sum(self.quarters) + self.year_only


@dataclass(frozen=True)
class StatusChangesByQuarter:
    """Dated status changes of published policies by year and quarter.

    A change dated to the year only ("2023") belongs to that year but to no quarter: it is counted in
    ``year_only`` of its year (table and CSV) and left out of the quarterly series (the chart), which
    says how many it leaves out. Changes with no date at all are counted in ``undated``.
    """

    years: list[YearOfChanges]
    undated: int

    @property
    def quarters(self) -> list[tuple[int, int, int]]:
        """(year, quarter, count) for every quarter from the first dated one to the last, gaps as 0."""
        series: list[tuple[int, int, int]] = []
        by_year = {row.year: row for row in self.years}
        placed = [row.year for row in self.years if any(row.quarters)]
        if not placed:
            return series
        for year in range(min(placed), max(placed) + 1):
            row = by_year.get(year)
            for quarter in range(4):
                series.append((year, quarter + 1, row.quarters[quarter] if row else 0))
        # Trim empty quarters before the first and after the last change.
        while series and series[0][2] == 0:
            series.pop(0)
        while series and series[-1][2] == 0:
            series.pop()
        return series

    @property
    def year_only_total(self) -> int:
        return sum(row.year_only for row in self.years)

    @property
    def total(self) -> int:
        return sum(row.total for row in self.years) + self.undated


def status_changes_by_quarter(session: Session, flt: DashboardFilter) -> StatusChangesByQuarter:
    """Status changes of published policies counted per year and quarter (one query).

    Dates are stored as their ISO text, so the first seven characters ("2023-07", or "2023" for a
    year-only date, or NULL) group them by month in SQL on any backend; months fold into quarters here.
    """
    # Literal arguments (no bind parameters): PostgreSQL must see the GROUP BY expression as the same one.
    month = func.substr(StatusChange.effective_on, literal_column("1"), literal_column("7"), type_=String)
    statement = published_matching(
        select(month, func.count(StatusChange.id)).join(Policy, Policy.id == StatusChange.policy_id), flt,
    ).group_by(month)
    if flt.as_of is not None:
        # The steps that count on that day: undated ones never do (tracker.services.as_of).
        statement = statement.where(end_key(StatusChange.effective_on) <= flt.as_of.key)
    quarters: dict[int, list[int]] = {}
    year_only: dict[int, int] = {}
    undated = 0
    for text, count in session.execute(statement):
        if not text:
            undated += count
            continue
        date = PartialDate.parse(text)
        if date.month is None:
            year_only[date.year] = year_only.get(date.year, 0) + count
        else:
            quarters.setdefault(date.year, [0, 0, 0, 0])[(date.month - 1) // 3] += count
    years = sorted(set(quarters) | set(year_only))
    return StatusChangesByQuarter(
        years=[YearOfChanges(year, tuple(quarters.get(year, [0, 0, 0, 0])), year_only.get(year, 0))
               for year in years],
        undated=undated,
    )


# --- Chart 3: instruments by topic --------------------------------------------------------------------

@dataclass(frozen=True)
class TopicCount:
    topic: Topic
    count: int


def policies_by_topic(session: Session, flt: DashboardFilter, reference: ReferenceLists) -> list[TopicCount]:
    """Published policies per topic, most frequent first (one query).

    A policy counts once under each of its topics. With a topic filter, the chart shows the topics of
    the policies that have it: the filter picks the policies, the chart counts what they cover.
    """
    statement = published_matching(
        select(PolicyTopic.topic_key, func.count(PolicyTopic.policy_id))
        .join(Policy, Policy.id == PolicyTopic.policy_id), flt,
    ).group_by(PolicyTopic.topic_key)
    counts: dict[str, int] = dict(session.execute(statement).all())
    rows = [TopicCount(topic, counts[topic.key]) for topic in reference.topics if counts.get(topic.key)]
    # Stable sort: equal counts keep the topics' own order.
    return sorted(rows, key=lambda row: -row.count)


# --- Chart 4: upcoming expiries -----------------------------------------------------------------------

@dataclass(frozen=True)
class Expiry:
    """A published time-bound measure that is still running and whose validity ends on or after today."""

    key: str
    title_en: str | None
    title_lo: str | None
    jurisdiction: Jurisdiction
    instrument: str
    legal_status: str
    valid_to: PartialDate
    ends_on: dt.date
    days_left: int


def upcoming_expiries(session: Session, flt: DashboardFilter, reference: ReferenceLists,
                      today: dt.date) -> list[Expiry]:
    """Every published measure whose validity ends today or later, soonest first (one query).

    A partial end date ("2030") runs to the last day it may stand for (31 December 2030).
    """
    statement = published_matching(
        select(Policy.key, Policy.title_en, Policy.title_lo, Policy.jurisdiction_code, Policy.instrument,
               Policy.legal_status, Policy.valid_to, Policy.valid_to_end)
        .where(Policy.valid_to_end >= today, Policy.legal_status.not_in(ENDED_STATUSES)), flt,
    ).order_by(Policy.valid_to_end, Policy.key)
    jurisdictions = {j.code: j for j in reference.jurisdictions}
    # valid_to_end >= today leaves out a NULL end, and valid_to_end is set exactly when valid_to is
    # (refresh_derived): neither is None in these rows.
    rows = cast("Result[str, str | None, str | None, str, str, str, PartialDate, dt.date]",
                session.execute(statement))
    return [
        Expiry(key, title_en, title_lo, jurisdictions[code], instrument, status, valid_to, ends_on,
               (ends_on - today).days)
        for key, title_en, title_lo, code, instrument, status, valid_to, ends_on in rows
    ]


# --- Chart 5: headline targets by year ----------------------------------------------------------------

@dataclass(frozen=True)
class TargetsByYear:
    """The headline targets of published policies, by the year they are to be met (one per policy at most)."""

    targets: list[TargetView]

    @property
    def years(self) -> list[int]:
        return sorted({target.year for target in self.targets})

    @property
    def countries(self) -> list[str]:
        """The jurisdiction codes that have a headline target, in the order targets list them."""
        return list(dict.fromkeys(target.jurisdiction_code for target in self.targets))

    def count(self, year: int, code: str) -> int:
        return sum(1 for target in self.targets if target.year == year and target.jurisdiction_code == code)


def targets_by_year(session: Session, flt: DashboardFilter, reference: ReferenceLists) -> TargetsByYear:
    """Headline targets of the published policies the filter selects, by target year, then country in display
    order (one query)."""
    targets = headline_targets_by_year(session, lambda statement: published_matching(statement, flt))
    position = {code: index for index, code in enumerate(reference.jurisdiction_codes)}
    return TargetsByYear(sorted(targets, key=lambda target: (target.year, position.get(target.jurisdiction_code, 99),
                                                             target.policy_key)))


# --- All five -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Dashboard:
    countries: CountriesByStatus
    status_changes: StatusChangesByQuarter
    topics: list[TopicCount]
    expiries: list[Expiry]
    today: dt.date
    targets: TargetsByYear

    @property
    def policy_count(self) -> int:
        return self.countries.total


def build_dashboard(session: Session, flt: DashboardFilter, reference: ReferenceLists,
                    today: dt.date) -> Dashboard:
    """The five charts for one filter (five GROUP BY or list queries, whatever the number of records)."""
    return Dashboard(
        countries=countries_by_status(session, flt, reference),
        status_changes=status_changes_by_quarter(session, flt),
        topics=policies_by_topic(session, flt, reference),
        expiries=upcoming_expiries(session, flt, reference, today),
        today=today,
        targets=targets_by_year(session, flt, reference),
    )
