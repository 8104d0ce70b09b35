"""The calendar of published records: comment deadlines, entries into force, expiries and events, filtered and
grouped by month, for the /calendar page, its iCalendar feeds and the API.

Dates known to the day are placed on their day. A date known to the month only is placed in its month (an
all-day event spanning the month in a feed); a date known to the year only cannot be placed and is left out.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, String, and_, exists, or_, select, type_coerce
from sqlalchemy.orm import Session, selectinload

from tracker.errors import Invalid
from tracker.models import Event, Policy, PolicyTopic, StatusChange
from tracker.models.event import EventTopic
from tracker.models.types import PartialDate
from tracker.services.policies import FilterChoices
from tracker.translation import gettext as _
from tracker.translation import lazy_gettext as _l

KINDS = {
    "comment_deadline": _l("Comment deadline"),
    "entry_into_force": _l("Entry into force"),
    "expiry": _l("Expiry or sunset"),
    "event": _l("Event or forum"),
}
# The farthest a request may reach: enough for any sunset clause, bounded so a feed stays small.
MAX_SPAN_DAYS = 366 * 30


@dataclass(frozen=True)
class CalendarFilter:
    """What the calendar shows: facts from ``start`` to ``end`` (both included), of these countries, topics
    and kinds (empty: all)."""

    start: dt.date
    end: dt.date | None = None
    countries: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    policy_key: str | None = None

    def query(self) -> dict[str, list[str]]:
        """The filters as query parameters (for links to the feeds of the same selection)."""
        args: dict[str, list[str]] = {"country": list(self.countries), "topic": list(self.topics),
                                      "kind": list(self.kinds)}
        return {name: values for name, values in args.items() if values}


@dataclass(frozen=True)
class CalendarItem:
    """One dated fact of one record."""

    kind: str
    record_type: str  # "policy" or "event"
    key: str
    fact: str  # what the fact is within its record: "expiry", "comment-3" (the step's position)...
    title_en: str | None
    title_lo: str | None
    country: str | None
    topics: tuple[str, ...]
    date: PartialDate
    ends: PartialDate | None  # the last day of an event lasting several days
    version: int
    updated_at: dt.datetime
    detail: dict[str, str | None] = field(default_factory=dict)

    @property
    def first_day(self) -> dt.date:
        return self.date.earliest()

    @property
    def last_day(self) -> dt.date:
        return (self.ends or self.date).latest()

    @property
    def month(self) -> tuple[int, int]:
        return (self.first_day.year, self.first_day.month)

    @property
    def sequence(self) -> int:
        """The iCalendar SEQUENCE: the record's version counts every committed change, so it only rises."""
        return max(self.version - 1, 0)


@dataclass
class Month:
    year: int
    month: int
    items: list[CalendarItem]

    @property
    def first_day(self) -> dt.date:
        return dt.date(self.year, self.month, 1)

    @property
    def as_date(self) -> PartialDate:
        """The month as a date known to the month (written 'July 2026' or 'ກໍລະກົດ 2026')."""
        return PartialDate(self.year, self.month)


def parse_filter(args: Mapping[str, Sequence[str]], choices: FilterChoices, today: dt.date, *,
                 allow_empty: bool = True) -> CalendarFilter:
    """The calendar asked for by ``from``, ``to``, ``country``, ``topic`` and ``kind`` (each may repeat; empty
    values mean any when ``allow_empty``, as HTML forms send them, and are refused otherwise). ``from``
    defaults to today.

    Raises:
        Invalid: naming every parameter whose value is not accepted.
    """
    errors: dict[str, str] = {}

    def values(name: str) -> list[str]:
        if not allow_empty and any(not value.strip() for value in args.get(name, ())):
            errors[name] = _("%(name)s must not be empty", name=name)
        picked = [value.strip() for value in args.get(name, ()) if value.strip()]
        return [value.upper() for value in picked] if name == "country" else picked

    def pick(name: str, allowed: Mapping[str, object]) -> tuple[str, ...]:
        picked = values(name)
        unknown = [value for value in picked if value not in allowed]
        if unknown:
            errors[name] = _("Unknown %(name)s '%(value)s'. Accepted values: %(values)s", name=name,
                             value=unknown[0][:40], values=", ".join(allowed))
        return tuple(dict.fromkeys(picked))

    def day(name: str) -> dt.date | None:
        picked = values(name)
        if not picked:
            return None
        try:
            if len(picked[-1]) != 10:
                raise ValueError(picked[-1])
            return dt.date.fromisoformat(picked[-1])
        except ValueError:
            errors[name] = _("%(name)s must be a day written YYYY-MM-DD, not '%(value)s'.", name=name,
                             value=picked[-1][:40])
            return None

    countries = pick("country", choices.countries)
    topics = pick("topic", choices.topics)
    kinds = pick("kind", KINDS)
    start = day("from") or today
    end = day("to")
    if end is not None and end - start > dt.timedelta(days=MAX_SPAN_DAYS):
        # A longer span is read as the longest one (a 'to' before 'from' selects nothing).
        end = start + dt.timedelta(days=MAX_SPAN_DAYS)
    if errors:
        raise Invalid(_("Some filters are not valid"), errors)
    return CalendarFilter(start, end, countries, topics, kinds)


def _placeable(date: PartialDate | None) -> bool:
    return date is not None and date.precision != "year"


def _within(flt: CalendarFilter, first: dt.date, last: dt.date) -> bool:
    return last >= flt.start and (flt.end is None or first <= flt.end)


def items(session: Session, flt: CalendarFilter) -> list[CalendarItem]:
    """The published facts the filter selects, by first day, then kind and key (five queries whatever their
    number)."""
    wanted = set(flt.kinds or KINDS)
    # Partial dates are stored as ISO text, so a month-only date ('2026-07') sorts before the days of its
    # month: compare from the first of the month and sort the rest out below.
    since = flt.start.replace(day=1).isoformat()
    found: list[CalendarItem] = []
    if wanted & {"comment_deadline", "entry_into_force", "expiry"}:
        found += _policy_items(session, flt, wanted, since)
    if "event" in wanted and flt.policy_key is None:
        found += _event_items(session, flt, since)
    kinds = list(KINDS)
    return sorted(found, key=lambda item: (item.first_day, kinds.index(item.kind), item.key, item.fact))


def _text(column: Any) -> ColumnElement[str]:
    """A partial-date column compared as the ISO text it is stored as (any year may be asked for)."""
    return type_coerce(column, String(10))


def _policy_items(session: Session, flt: CalendarFilter, wanted: set[str], since: str) -> list[CalendarItem]:
    S = StatusChange
    reasons: list[ColumnElement[bool]] = []
    if "comment_deadline" in wanted:
        reasons.append(exists().where(S.policy_id == Policy.id, S.comment_closes_on >= flt.start))
    if "entry_into_force" in wanted:
        reasons.append(exists().where(S.policy_id == Policy.id, S.to_status == "in_force",
                                _text(S.effective_on) >= since))
        reasons.append(_text(Policy.valid_from) >= since)
    if "expiry" in wanted:
        reasons.append(Policy.valid_to_end >= flt.start)
    statement = select(Policy).where(Policy.editorial_state == "published", or_(*reasons))
    if flt.policy_key is not None:
        statement = statement.where(Policy.key == flt.policy_key)
    if flt.countries:
        statement = statement.where(Policy.jurisdiction_code.in_(flt.countries))
    if flt.topics:
        statement = statement.where(exists().where(PolicyTopic.policy_id == Policy.id,
                                                   PolicyTopic.topic_key.in_(flt.topics)))
    policies = session.scalars(statement.order_by(Policy.id).options(
        selectinload(Policy.status_changes), selectinload(Policy.topic_links))).all()
    found = []
    for policy in policies:
        def item(kind: str, fact: str, date: PartialDate, policy: Policy = policy,
                 **detail: str | None) -> CalendarItem:
            return CalendarItem(kind, "policy", policy.key, fact, policy.title_en, policy.title_lo,
                                policy.jurisdiction_code, tuple(policy.topic_keys), date, None, policy.version,
                                policy.updated_at, detail)
        in_force_days = set()
        for step in policy.status_changes:
            closes = step.comment_closes_on
            if "comment_deadline" in wanted and closes is not None and _within(flt, closes, closes):
                found.append(item("comment_deadline", f"comment-{step.position}",
                                  PartialDate(closes.year, closes.month, closes.day),
                                  opens_on=step.comment_opens_on.isoformat() if step.comment_opens_on else None,
                                  comment_address=step.comment_address))
            effective = step.effective_on
            if ("entry_into_force" in wanted and step.to_status == "in_force" and _placeable(effective)
                    and effective is not None and _within(flt, effective.earliest(), effective.latest())):
                in_force_days.add(effective)
                found.append(item("entry_into_force", f"in-force-{step.position}", effective))
        start = policy.valid_from
        if ("entry_into_force" in wanted and _placeable(start) and start is not None and start not in in_force_days
                and _within(flt, start.earliest(), start.latest())):
            found.append(item("entry_into_force", "valid-from", start))
        end = policy.valid_to
        if "expiry" in wanted and _placeable(end) and end is not None and _within(flt, end.earliest(), end.latest()):
            found.append(item("expiry", "expiry", end))
    return found


def _event_items(session: Session, flt: CalendarFilter, since: str) -> list[CalendarItem]:
    statement = select(Event).where(Event.editorial_state == "published",
                                    or_(_text(Event.starts_on) >= since,
                                        and_(Event.ends_on.is_not(None), _text(Event.ends_on) >= since)))
    if flt.countries:
        statement = statement.where(Event.jurisdiction_code.in_(flt.countries))
    if flt.topics:
        statement = statement.where(exists().where(EventTopic.event_id == Event.id,
                                                   EventTopic.topic_key.in_(flt.topics)))
    events = session.scalars(statement.order_by(Event.id).options(selectinload(Event.topic_links))).all()
    found = []
    for event in events:
        starts, ends = event.starts_on, event.ends_on
        if not _placeable(starts) or starts is None:
            continue
        last = ends if _placeable(ends) and ends is not None and ends >= starts else None
        if not _within(flt, starts.earliest(), (last or starts).latest()):
            continue
        found.append(CalendarItem("event", "event", event.key, "event", event.name_en, event.name_lo,
                                  event.jurisdiction_code, tuple(link.topic_key for link in event.topic_links),
                                  starts, last, event.version, event.updated_at,
                                  {"venue": event.venue, "kind": event.kind}))
    return found


def by_month(found: list[CalendarItem]) -> list[Month]:
    """The items grouped by the month of their first day, in order."""
    months: dict[tuple[int, int], Month] = {}
    for item in found:
        months.setdefault(item.month, Month(item.month[0], item.month[1], [])).items.append(item)
    return list(months.values())


def last_change(found: list[CalendarItem]) -> dt.datetime | None:
    return max((item.updated_at for item in found), default=None)
