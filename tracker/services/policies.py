"""Reading policies: filters, lists, the full record, and the derived status fields."""
from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVarTuple

from sqlalchemy import (
    BindParameter,
    Integer,
    Select,
    String,
    bindparam,
    cast,
    func,
    inspect,
    literal,
    select,
    text,
    union_all,
)
from sqlalchemy.orm import Session, aliased, joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from tracker.errors import Invalid, NotFound
from tracker.i18n import current_language, local_name
from tracker.models import (
    Event,
    ForumLink,
    Jurisdiction,
    Policy,
    PolicyBody,
    PolicyRelation,
    PolicyTarget,
    PolicyTopic,
    PolicyVehicleClass,
    Source,
    StatusChange,
    Topic,
)
from tracker.models.types import PartialDate
from tracker.models.vocab import ADOPTED_STATUSES, INSTRUMENTS, LEGAL_STATUSES, VEHICLE_CLASSES
from tracker.pagination import Page, PageRequest, check_page_in_range
from tracker.services.as_of import AsOf, end_key, parse_as_of, status_on
from tracker.translation import gettext as _
from tracker.translation import lazy_gettext as _l

_Ts = TypeVarTuple("_Ts")

PUBLIC_STATES = ("published",)
STAFF_STATES = ("draft", "in_review", "published", "archived")

# Sort name -> (label, ORDER BY clauses). Ties always break on the key so pages never overlap.
SORTS = {
    "latest": _l("Latest status change"),
    "adopted": _l("Date adopted"),
    "title": _l("Title"),
    "country": _l("Country"),
    "expiry": _l("Ending soonest"),
}


def visible_states(include_unpublished: bool) -> tuple[str, ...]:
    """Editorial states a reader may see."""
    return STAFF_STATES if include_unpublished else PUBLIC_STATES


@dataclass(frozen=True)
class PolicyFilter:
    """Filters shared by the policy list page, the country page and the API."""

    countries: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    instruments: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    vehicle_classes: tuple[str, ...] = ()
    years: tuple[int, ...] = ()
    sort: str = "latest"
    # Statuses on that day instead of today's (tracker.services.as_of): who existed then, in which status.
    as_of: AsOf | None = None

    @property
    def is_empty(self) -> bool:
        return not (self.countries or self.statuses or self.instruments or self.topics
                    or self.vehicle_classes or self.years)

    def to_query(self) -> dict[str, list[str]]:
        """The filter as query parameters (for links that keep it)."""
        query: dict[str, list[str]] = {
            "country": list(self.countries), "status": list(self.statuses),
            "instrument": list(self.instruments), "topic": list(self.topics),
            "vehicle_class": list(self.vehicle_classes), "year": [str(y) for y in self.years],
        }
        if self.sort != "latest":
            query["sort"] = [self.sort]
        if self.as_of is not None:
            query["as_of"] = [self.as_of.text]
        return {name: values for name, values in query.items() if values}


@dataclass(frozen=True)
class FilterChoices:
    """The values each filter accepts, read from the database where they live there."""

    countries: Mapping[str, str]
    topics: Mapping[str, str]
    statuses: Mapping[str, str] = field(default_factory=lambda: LEGAL_STATUSES)
    instruments: Mapping[str, str] = field(default_factory=lambda: INSTRUMENTS)
    vehicle_classes: Mapping[str, str] = field(default_factory=lambda: VEHICLE_CLASSES)


# Both lists in one query: countries (kind 0) then topics (kind 1), each in its order.
_FILTER_NAMES = union_all(
    select(literal(0).label("kind"), Jurisdiction.code.label("key"), Jurisdiction.name_en.label("name_en"),
           Jurisdiction.name_lo.label("name_lo"), Jurisdiction.position.label("position")),
    select(literal(1), Topic.key, Topic.name_en, Topic.name_lo, Topic.position),
).order_by(text("kind"), text("position"))


def filter_choices(session: Session) -> FilterChoices:
    """Countries and topics as they stand in the database (one small query)."""
    # Names in the reader's language: these are the labels of the filter lists. Read as plain rows: every
    # list page asks for them, and mapped records would cost more than the rest of the query.
    language = current_language()
    lists: tuple[dict[str, str], dict[str, str]] = ({}, {})
    for row in session.execute(_FILTER_NAMES):
        lists[row.kind][row.key] = local_name(row, language)
    return FilterChoices(countries=lists[0], topics=lists[1])


def _values(args: Mapping[str, Sequence[str]], name: str, allow_empty: bool = True) -> list[str]:
    # HTML forms send "" for "any"; API clients get told that an empty value is no value.
    values = [raw.strip() for raw in args.get(name, ())]
    if not allow_empty and any(not value for value in values):
        raise Invalid(_("Some filters are not valid"), {name: _("%(name)s must not be empty", name=name)})
    return [value for value in values if value]


def parse_policy_filter(args: Mapping[str, Sequence[str]], choices: FilterChoices, *,
                        allow_empty: bool = True, today: dt.date | None = None) -> PolicyFilter:
    """Build a PolicyFilter from query parameters (each may repeat to select several values), with
    ``as_of`` read as tracker.services.as_of.parse_as_of reads it (``today`` is the latest day it takes).

    Empty values mean "any" when ``allow_empty`` (HTML forms send them) and are refused otherwise.

    Raises:
        Invalid: naming every parameter whose value is not accepted.
    """
    errors: dict[str, str] = {}

    def pick(name: str, allowed: Mapping[str, str], normalise: Callable[[str], str] = lambda v: v) -> tuple[str, ...]:
        values = [normalise(v) for v in _values(args, name, allow_empty)]
        unknown = [v for v in values if v not in allowed]
        if unknown:
            errors[name] = _("Unknown %(name)s '%(value)s'. Accepted values: %(values)s",
                             name=name.replace('_', ' '), value=unknown[0][:40], values=", ".join(allowed))
        return tuple(dict.fromkeys(values))

    countries = pick("country", choices.countries)
    statuses = pick("status", choices.statuses)
    instruments = pick("instrument", choices.instruments)
    topics = pick("topic", choices.topics)
    vehicle_classes = pick("vehicle_class", choices.vehicle_classes)
    years: list[int] = []
    for raw in _values(args, "year", allow_empty):
        if raw.isascii() and raw.isdigit() and len(raw) == 4 and raw[0] != "0":
            years.append(int(raw))
        else:
            errors["year"] = _("year must be a four-digit year such as 2023, not '%(value)s'", value=raw[:40])
    sort_values = _values(args, "sort", allow_empty)
    sort = sort_values[-1] if sort_values else "latest"
    if sort not in SORTS:
        errors["sort"] = _("Unknown sort '%(value)s'. Accepted values: %(values)s", value=sort[:40],
                           values=", ".join(SORTS))
    as_of = None
    try:
        as_of = parse_as_of(args, today or dt.date.today(), allow_empty=allow_empty)
    except Invalid as error:
        errors["as_of"] = str(error.errors["as_of"])
    if errors:
        raise Invalid(_("Some filters are not valid"), errors)
    return PolicyFilter(countries, statuses, instruments, topics, vehicle_classes,
                        tuple(dict.fromkeys(years)), sort, as_of)


# What a list item can embed with ``expand=`` (policies: summary, status history, sources).
POLICY_EXPANSIONS = ("summary", "status_history", "sources")
EVENT_EXPANSIONS = ("summary", "sources")


def parse_expand(args: Mapping[str, Sequence[str]], accepted: tuple[str, ...]) -> frozenset[str]:
    """What a list should embed in each item: ``expand`` values, comma-separated (and repeatable).

    Raises:
        Invalid: naming ``expand`` when a value is empty or not one of ``accepted``.
    """
    values = [part.strip() for raw in args.get("expand", ()) for part in raw.split(",")]
    if any(not value for value in values):
        raise Invalid(_("Some parameters are not valid"), {"expand": _("%(name)s must not be empty", name="expand")})
    unknown = [value for value in values if value not in accepted]
    if unknown:
        raise Invalid(_("Some parameters are not valid"), {
            "expand": _("Unknown %(name)s '%(value)s'. Accepted values: %(values)s", name="expand",
                        value=unknown[0][:40], values=", ".join(accepted))})
    return frozenset(values)


def _filtered(statement: Select[*_Ts], flt: PolicyFilter, states: tuple[str, ...]) -> Select[*_Ts]:
    statement = statement.where(Policy.editorial_state.in_(states))
    if flt.countries:
        statement = statement.where(Policy.jurisdiction_code.in_(flt.countries))
    if flt.as_of is not None:
        # Records that did not exist yet on that day are left out; statuses are those of that day.
        status = status_on(flt.as_of)
        statement = statement.where(status.is_not(None))
        if flt.statuses:
            statement = statement.where(status.in_(flt.statuses))
    elif flt.statuses:
        statement = statement.where(Policy.legal_status.in_(flt.statuses))
    if flt.instruments:
        statement = statement.where(Policy.instrument.in_(flt.instruments))
    if flt.years:
        statement = statement.where(Policy.year.in_(flt.years))
    if flt.topics:
        statement = statement.where(Policy.id.in_(
            select(PolicyTopic.policy_id).where(PolicyTopic.topic_key.in_(flt.topics))))
    if flt.vehicle_classes:
        statement = statement.where(Policy.id.in_(
            select(PolicyVehicleClass.policy_id).where(PolicyVehicleClass.vehicle_class.in_(flt.vehicle_classes))))
    return statement


def _ordered(statement: Select[*_Ts], sort: str) -> Select[*_Ts]:
    if sort == "title":
        return statement.order_by(func.lower(Policy.title_en), Policy.key)
    if sort == "country":
        return statement.join(Jurisdiction, Jurisdiction.code == Policy.jurisdiction_code).order_by(
            Jurisdiction.position, Policy.status_changed_on.desc().nulls_last(), Policy.key)
    if sort == "adopted":
        return statement.order_by(Policy.adopted_on.desc().nulls_last(), Policy.key)
    if sort == "expiry":
        return statement.order_by(Policy.valid_to_end.asc().nulls_last(), Policy.key)
    return statement.order_by(Policy.status_changed_on.desc().nulls_last(), Policy.key)


@dataclass(frozen=True)
class PolicyPage(Page[Any]):
    """A page of policies; with ``as_of``, each one's status on that day by policy id (``status_of``)."""

    statuses_on: Mapping[int, str] = field(default_factory=dict)

    def status_of(self, policy: Policy | PolicySummary) -> str:
        """The status a list shows: on the ``as_of`` day when one was asked for, else the current one."""
        return self.statuses_on.get(policy.id, policy.legal_status)


def list_policies(session: Session, flt: PolicyFilter, request: PageRequest, *,
                  include_unpublished: bool = False, expand: frozenset[str] = frozenset()) -> PolicyPage:
    """One page of policies matching ``flt``, with jurisdiction and topics loaded (three queries), and
    the status history and sources when ``expand`` names them (one query more each, whatever the page size).
    With ``flt.as_of``, the statuses on that day come with the page (in the same query).

    Raises:
        NotFound: when the page is past the last one.
    """
    states = visible_states(include_unpublished)
    total = session.scalar(_filtered(select(func.count(Policy.id)), flt, states)) or 0
    check_page_in_range(request, total)
    options = [joinedload(Policy.jurisdiction), selectinload(Policy.topic_links)]
    if "status_history" in expand:
        options.append(selectinload(Policy.status_changes))
    if "sources" in expand:
        options.append(selectinload(Policy.sources))
    if flt.as_of is None:
        statement = _ordered(_filtered(select(Policy), flt, states), flt.sort)
        items = session.scalars(statement.options(*options).limit(request.per_page).offset(request.offset)) \
            .unique().all()
        return PolicyPage(items, total, request.page, request.per_page)
    dated = _ordered(_filtered(select(Policy, status_on(flt.as_of)), flt, states), flt.sort)
    rows = session.execute(dated.options(*options).limit(request.per_page).offset(request.offset)).unique().all()
    return PolicyPage([policy for policy, _status in rows], total, request.page, request.per_page,
                      {policy.id: status or "unknown" for policy, status in rows})


@dataclass(frozen=True, slots=True)
class CountryName:
    """A country as a list row names it (what ``local_name`` reads)."""

    code: str
    name_en: str
    name_lo: str | None


@dataclass(frozen=True, slots=True)
class PolicySummary:
    """What a row of a policy list shows, read as plain rows rather than as mapped records.

    A list page shows a handful of columns of each of its policies; loading them as full records (every
    column, an identity map, change tracking, a second query for the topics through the ORM) cost more
    than rendering the page. The attributes carry the names of the record's, so templates take either.
    """

    id: int
    key: str
    title_en: str | None
    title_lo: str | None
    instrument: str
    legal_status: str
    status_changed_on: PartialDate | None
    editorial_state: str
    jurisdiction: CountryName
    topic_keys: tuple[str, ...]

    @property
    def topic_links(self) -> tuple[str, ...]:
        """As the record's: empty when the policy has no topic."""
        return self.topic_keys


# Made once: an alias built per call costs more than the query it joins (its columns adapted anew).
_ROW_COUNTRY = aliased(Jurisdiction, name="row_country")
_ROW_TOPIC = aliased(PolicyTopic, name="row_topic")


# The statements of a list, made once per filter (and kept for the most recent ones): building one cost more
# than running it, and most requests ask for one of a few lists (all policies, one country, one status...).
# Filter values are all checked against closed lists or are four-digit years, and the page is a parameter.
@functools.lru_cache(maxsize=256)
def _count_statement(flt: PolicyFilter, states: tuple[str, ...]) -> Select[int]:
    return _filtered(select(func.count(Policy.id)), flt, states)


@functools.lru_cache(maxsize=256)
def _summary_statement(flt: PolicyFilter, states: tuple[str, ...]) -> Select[*tuple[Any, ...]]:
    country = _ROW_COUNTRY
    # The topics of each row in the same query, as "position:key" items (string aggregates keep no order
    # on SQLite before 3.44).
    link = _ROW_TOPIC
    topics = select(func.aggregate_strings(cast(link.position, String) + ":" + link.topic_key, ",")) \
        .where(link.policy_id == Policy.id).scalar_subquery()
    columns: tuple[Any, ...] = (
        Policy.id, Policy.key, Policy.title_en, Policy.title_lo, Policy.instrument, Policy.legal_status,
        Policy.status_changed_on, Policy.editorial_state, country.code, country.name_en, country.name_lo, topics)
    if flt.as_of is not None:
        columns += (status_on(flt.as_of),)
    joined = select(*columns).join_from(Policy, country, country.code == Policy.jurisdiction_code)
    return _ordered(_filtered(joined, flt, states), flt.sort) \
        .limit(bindparam("row_limit", type_=Integer)).offset(bindparam("row_offset", type_=Integer))


def list_policy_summaries(session: Session, flt: PolicyFilter, request: PageRequest, *,
                          include_unpublished: bool = False) -> PolicyPage:
    """One page of policies matching ``flt`` as list rows (PolicySummary), in two queries: the number of all
    matches, and the rows with their country and topics. With ``flt.as_of``, the statuses on that day come with
    the page (in the same query).

    Raises:
        NotFound: when the page is past the last one.
    """
    states = visible_states(include_unpublished)
    total = session.scalar(_count_statement(flt, states)) or 0
    check_page_in_range(request, total)
    rows = session.execute(_summary_statement(flt, states),
                           {"row_limit": request.per_page, "row_offset": request.offset}).all()
    countries: dict[str, CountryName] = {}
    items = []
    for row in rows:
        code = row[8]
        name = countries.get(code)
        if name is None:
            name = countries[code] = CountryName(code, row[9], row[10])
        items.append(PolicySummary(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], name,
                                   _topic_keys(row[11])))
    statuses = {row[0]: row[12] or "unknown" for row in rows} if flt.as_of is not None else {}
    return PolicyPage(items, total, request.page, request.per_page, statuses)


def _topic_keys(aggregated: str | None) -> tuple[str, ...]:
    """The topic keys of a list row in their order, from "position:key" items joined by commas in any order."""
    if not aggregated:
        return ()
    items = (item.partition(":") for item in aggregated.split(","))
    return tuple(key for _position, key in sorted((int(position), key) for position, _, key in items))


# Everything the full record of a policy shows, loaded with it.
_FULL_RECORD = (
    joinedload(Policy.jurisdiction),
    joinedload(Policy.issuer),
    selectinload(Policy.topic_links).joinedload(PolicyTopic.topic),
    selectinload(Policy.vehicle_class_links),
    selectinload(Policy.bodies).joinedload(PolicyBody.organisation),
    selectinload(Policy.sources),
    selectinload(Policy.relations).joinedload(PolicyRelation.target).joinedload(Policy.jurisdiction),
    selectinload(Policy.inverse_relations).joinedload(PolicyRelation.policy).joinedload(Policy.jurisdiction),
    selectinload(Policy.status_changes),
    selectinload(Policy.forum_links).joinedload(ForumLink.event),
    selectinload(Policy.targets),
)


def published_policies(session: Session, ids: Collection[int]) -> dict[int, Policy]:
    """The full records of those of ``ids`` that are published, by id, in a fixed number of queries."""
    if not ids:
        return {}
    statement = select(Policy).where(Policy.id.in_(sorted(ids)), Policy.editorial_state.in_(PUBLIC_STATES)) \
        .options(*_FULL_RECORD)
    return {policy.id: policy for policy in session.scalars(statement).unique()}


# The collections of a full record, each read by a statement of its own built once: (the relationship, the
# children's side pointing back at the policy, the statement, taking the policy's id as ``policy_id``).
_POLICY_ID: BindParameter[int] = bindparam("policy_id", type_=Integer)
# What a record shows of the policies it relates to (a link with its title, country and status): their other
# columns, long summaries among them, are left unread (and read on first use, should anything ask).
_RELATED_COLUMNS = (Policy.key, Policy.title_en, Policy.title_lo, Policy.jurisdiction_code, Policy.legal_status,
                    Policy.editorial_state, Policy.version)
_RECORD_COLLECTIONS = (
    ("topic_links", "policy", select(PolicyTopic).where(PolicyTopic.policy_id == _POLICY_ID)
     .order_by(PolicyTopic.position).options(joinedload(PolicyTopic.topic))),
    ("vehicle_class_links", "policy", select(PolicyVehicleClass).where(PolicyVehicleClass.policy_id == _POLICY_ID)
     .order_by(PolicyVehicleClass.position)),
    ("bodies", "policy", select(PolicyBody).where(PolicyBody.policy_id == _POLICY_ID)
     .order_by(PolicyBody.position).options(joinedload(PolicyBody.organisation))),
    ("sources", "policy", select(Source).where(Source.policy_id == _POLICY_ID).order_by(Source.position)),
    ("relations", "policy", select(PolicyRelation).where(PolicyRelation.policy_id == _POLICY_ID)
     .order_by(PolicyRelation.position)
     .options(joinedload(PolicyRelation.target).load_only(*_RELATED_COLUMNS).joinedload(Policy.jurisdiction))),
    ("inverse_relations", "target", select(PolicyRelation).where(PolicyRelation.target_id == _POLICY_ID)
     .order_by(PolicyRelation.policy_id, PolicyRelation.position)
     .options(joinedload(PolicyRelation.policy).load_only(*_RELATED_COLUMNS).joinedload(Policy.jurisdiction))),
    ("status_changes", "policy", select(StatusChange).where(StatusChange.policy_id == _POLICY_ID)
     .order_by(StatusChange.position)),
    ("forum_links", "policy", select(ForumLink).where(ForumLink.policy_id == _POLICY_ID)
     .order_by(ForumLink.position).options(joinedload(ForumLink.event))),
    ("targets", "policy", select(PolicyTarget).where(PolicyTarget.policy_id == _POLICY_ID)
     .order_by(PolicyTarget.position)),
)
_RECORD_BY_KEY = select(Policy).where(Policy.key == bindparam("key"),
                                      Policy.editorial_state.in_(bindparam("states", expanding=True))) \
    .options(joinedload(Policy.jurisdiction), joinedload(Policy.issuer))


def get_policy(session: Session, key: str, *, include_unpublished: bool = False) -> Policy:
    """The full record of one policy with everything its page shows, in a fixed number of queries.

    The same as loading it with ``_FULL_RECORD``, in as many queries, at half the cost: each collection is
    read by a statement made once (eager-loading options are rebuilt, and their cache keys computed, on
    every query), and put in place as loaded.

    Raises:
        NotFound: when no visible policy has this key.
    """
    if "\x00" in key:
        # No key holds NUL, and PostgreSQL refuses it in any string parameter.
        raise NotFound(_("There is no policy with the key '%(key)s'.", key=key[:120].replace("\x00", "")))
    policy = session.scalars(_RECORD_BY_KEY, {"key": key, "states": visible_states(include_unpublished)}) \
        .unique().one_or_none()
    if policy is None:
        raise NotFound(_("There is no policy with the key '%(key)s'.", key=key[:120]))
    loaded = inspect(policy).dict
    for collection, back, statement in _RECORD_COLLECTIONS:
        if collection in loaded:
            # Already in this session (read or changed earlier in the transaction): left as it stands.
            continue
        children = list(session.scalars(statement, {"policy_id": policy.id}).unique())
        for child in children:
            if back not in inspect(child).dict:
                set_committed_value(child, back, policy)
        set_committed_value(policy, collection, children)
    return policy


def visible_relations(policy: Policy,
                      include_unpublished: bool = False) -> tuple[list[PolicyRelation], list[PolicyRelation]]:
    """Outgoing and incoming relations whose other end the reader may see."""
    states = visible_states(include_unpublished)
    outgoing = [r for r in policy.relations if r.target is None or r.target.editorial_state in states]
    # "related" is symmetric: when both records say so, show the link once.
    related_targets = {r.target_id for r in outgoing if r.relation_type == "related"}
    incoming = [r for r in policy.inverse_relations if r.policy.editorial_state in states
                and not (r.relation_type == "related" and r.policy_id in related_targets)]
    return outgoing, incoming


def visible_forum_links(links: Sequence[ForumLink], include_unpublished: bool = False,
                        *, side: str = "event") -> list[ForumLink]:
    """Forum links whose other end (``side``) the reader may see."""
    states = visible_states(include_unpublished)
    return [link for link in links if getattr(link, side).editorial_state in states]


def latest_status_changes(session: Session, limit: int = 8, *, country: str | None = None,
                          include_unpublished: bool = False, as_of: AsOf | None = None) -> list[StatusChange]:
    """The most recent dated status changes of visible policies, newest first; with ``as_of``, those that
    count on that day (one query)."""
    statement = (
        select(StatusChange)
        .join(StatusChange.policy)
        .where(Policy.editorial_state.in_(visible_states(include_unpublished)),
               StatusChange.effective_on.is_not(None))
        .options(joinedload(StatusChange.policy).joinedload(Policy.jurisdiction))
        .order_by(StatusChange.effective_on.desc(), StatusChange.id.desc())
        .limit(limit)
    )
    if country:
        statement = statement.where(Policy.jurisdiction_code == country)
    if as_of is not None:
        statement = statement.where(end_key(StatusChange.effective_on) <= as_of.key)
    return list(session.scalars(statement).unique())


def recently_recorded_changes(session: Session, limit: int = 8) -> list[StatusChange]:
    """The status changes most recently recorded in the tracker, whatever their effective date, newest
    first, on records of any editorial state (for staff: a back-dated change recorded today shows here
    though it sits years back in the timeline). One query."""
    statement = (
        select(StatusChange).join(StatusChange.policy)
        .options(joinedload(StatusChange.policy).joinedload(Policy.jurisdiction))
        .order_by(StatusChange.recorded_at.desc(), StatusChange.id.desc()).limit(limit))
    return list(session.scalars(statement).unique())


def upcoming_expiries(session: Session, today: dt.date, limit: int = 8, *, country: str | None = None,
                      include_unpublished: bool = False) -> list[Policy]:
    """Time-bound measures whose validity ends today or later, soonest first (one query)."""
    statement = (
        select(Policy)
        .where(Policy.editorial_state.in_(visible_states(include_unpublished)),
               Policy.valid_to_end >= today,
               Policy.legal_status.not_in(("repealed", "withdrawn", "superseded", "expired")))
        .options(joinedload(Policy.jurisdiction))
        .order_by(Policy.valid_to_end, Policy.key)
        .limit(limit)
    )
    if country:
        statement = statement.where(Policy.jurisdiction_code == country)
    return list(session.scalars(statement).unique())


def status_counts(session: Session, *, include_unpublished: bool = False,
                  as_of: AsOf | None = None) -> dict[str, dict[str, int]]:
    """Number of visible policies per jurisdiction and legal status, or status on ``as_of``'s day (one query)."""
    states = visible_states(include_unpublished)
    if as_of is None:
        statement = (
            select(Policy.jurisdiction_code, Policy.legal_status, func.count(Policy.id))
            .where(Policy.editorial_state.in_(states))
            .group_by(Policy.jurisdiction_code, Policy.legal_status)
        )
    else:
        # Grouped outside: PostgreSQL would not see the subquery's bound day as the same expression twice.
        dated = select(Policy.jurisdiction_code.label("code"), status_on(as_of).label("status")) \
            .where(Policy.editorial_state.in_(states)).subquery()
        statement = select(dated.c.code, dated.c.status, func.count()).where(dated.c.status.is_not(None)) \
            .group_by(dated.c.code, dated.c.status)
    counts: dict[str, dict[str, int]] = {}
    for code, status, count in session.execute(statement):
        counts.setdefault(code, {})[status] = count
    return counts


def policies_of_event(session: Session, event: Event, *, include_unpublished: bool = False) -> list[ForumLink]:
    """Forum links of an event to visible policies, with each policy's jurisdiction (one query)."""
    return policies_of_events(session, [event.id], include_unpublished=include_unpublished).get(event.id, [])


def policies_of_events(session: Session, event_ids: Collection[int], *,
                       include_unpublished: bool = False) -> dict[int, list[ForumLink]]:
    """Forum links of each event to visible policies, by event id, each list in the order an event shows
    them (one query)."""
    if not event_ids:
        return {}
    statement = (
        select(ForumLink).join(ForumLink.policy)
        .where(ForumLink.event_id.in_(sorted(event_ids)),
               Policy.editorial_state.in_(visible_states(include_unpublished)))
        .options(joinedload(ForumLink.policy).joinedload(Policy.jurisdiction))
        .order_by(ForumLink.role, Policy.title_en, Policy.key)
    )
    links: dict[int, list[ForumLink]] = {}
    for link in session.scalars(statement).unique():
        links.setdefault(link.event_id, []).append(link)
    return links


def refresh_derived(policy: Policy) -> None:
    """Recompute the fields derived from the status history and the validity window.

    The current legal status is the last step of the timeline; ``status_since`` is when the current
    status began (the first dated step of the last run of steps into it); ``adopted_on`` is the first dated step
    into adoption or force; ``year`` is the year of adoption, else of the first dated step, else of
    the start of validity.
    """
    changes = sorted(policy.status_changes, key=lambda change: change.position)
    policy.legal_status = changes[-1].to_status if changes else "unknown"
    dated = [change for change in changes if change.effective_on is not None]
    policy.status_changed_on = dated[-1].effective_on if dated else None
    # "In force since": a later step into the same status (new evidence, a confirmation) does not
    # restart it; the run of steps into the current status began with its first dated step.
    run = []
    for change in reversed(changes):
        if change.to_status != policy.legal_status:
            break
        run.append(change)
    run_dated = [change.effective_on for change in reversed(run) if change.effective_on is not None]
    policy.status_since = run_dated[0] if run_dated else None
    adopted = next((c.effective_on for c in dated if c.to_status in ADOPTED_STATUSES), None)
    policy.adopted_on = adopted
    first: PartialDate | None = adopted or (dated[0].effective_on if dated else None) or policy.valid_from
    policy.year = first.year if first else None
    policy.valid_to_end = policy.valid_to.latest() if policy.valid_to else None
