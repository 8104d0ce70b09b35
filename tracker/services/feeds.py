"""The change feed: recent legal status changes of published policies, narrowed by country, topic, policy,
event, instrument or a saved search."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from tracker.errors import Invalid, NotFound
from tracker.models import Event, ForumLink, Jurisdiction, Policy, PolicyTopic, StatusChange, Topic
from tracker.models.vocab import INSTRUMENTS
from tracker.search.request import SearchRequest, parse_search_args
from tracker.services import permalinks
from tracker.services.search import search
from tracker.translation import gettext as _

if TYPE_CHECKING:
    from tracker.errors import FieldError

FEED_LIMIT = 50
# A saved search narrows the feed to the policies it finds, the most recently changed first; beyond
# this many matches the older ones drop out, which a feed of the latest 50 changes never misses.
SEARCH_MATCH_LIMIT = 500
# Parameters the feed reads; the search filters ride along with ``q`` (see parse_feed_args).
FEED_PARAMS = ("country", "topic", "policy", "event", "instrument", "q", "status", "vehicle_class", "year",
               "lang")
LANGUAGES = ("en", "lo")


@dataclass(frozen=True)
class FeedFilter:
    """What a feed is narrowed to; every part empty means every published policy."""

    countries: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    policies: tuple[str, ...] = ()
    events: tuple[str, ...] = ()
    instruments: tuple[str, ...] = ()
    search: SearchRequest | None = None
    language: str = "en"

    @property
    def is_empty(self) -> bool:
        return not (self.countries or self.topics or self.policies or self.events or self.instruments
                    or self.search)


@dataclass(frozen=True)
class FeedNames:
    """Display names, in the feed's language, of what the feed is narrowed to (for its title)."""

    countries: dict[str, str]
    topics: dict[str, str]
    policies: dict[str, str]
    events: dict[str, str]


def _values(args: Mapping[str, Sequence[str]], name: str) -> list[str]:
    return list(dict.fromkeys(value.strip() for value in args.get(name, ()) if value and value.strip()))


def parse_feed_args(session: Session, args: Mapping[str, Sequence[str]]) -> tuple[FeedFilter, FeedNames]:
    """The feed filter of query parameters ``country``, ``topic``, ``policy``, ``event``, ``instrument``,
    ``q``, ``status``, ``vehicle_class``, ``year`` (the last four make it a saved search) and ``lang``.

    Raises:
        Invalid: an unknown country, topic, instrument or language, or a query that cannot be read.
        NotFound: a policy or event that does not exist or is not published.
    """
    errors: dict[str, str | FieldError] = {}
    unknown = sorted(set(args) - set(FEED_PARAMS))
    if unknown:
        errors[unknown[0][:60]] = _("The feed has no parameter '%(name)s'. It takes: %(names)s.",
                                    name=unknown[0][:60], names=", ".join(FEED_PARAMS))
    countries = tuple(value.upper() for value in _values(args, "country"))
    topics = tuple(value.lower() for value in _values(args, "topic"))
    instruments = tuple(value.lower() for value in _values(args, "instrument"))
    policies = tuple(_values(args, "policy"))
    events = tuple(_values(args, "event"))
    languages = _values(args, "lang")
    language = languages[-1] if languages else "en"
    if language not in LANGUAGES:
        errors["lang"] = _("Choose the language en or lo.")
    country_names = {code: _in_language(language, name_en, name_lo) for code, name_en, name_lo in session.execute(
        select(Jurisdiction.code, Jurisdiction.name_en, Jurisdiction.name_lo).where(Jurisdiction.code.in_(countries)))
    } if countries else {}
    missing = [code for code in countries if code not in country_names]
    if missing:
        errors["country"] = _("There is no country with the code '%(code)s'.", code=missing[0][:20])
    topic_names = {key: _in_language(language, name_en, name_lo) for key, name_en, name_lo in session.execute(
        select(Topic.key, Topic.name_en, Topic.name_lo).where(Topic.key.in_(topics)))} if topics else {}
    missing = [key for key in topics if key not in topic_names]
    if missing:
        errors["topic"] = _("There is no topic '%(key)s'.", key=missing[0][:60])
    wrong = [name for name in instruments if name not in INSTRUMENTS]
    if wrong:
        errors["instrument"] = _("Unknown instrument '%(name)s'. Accepted values: %(values)s",
                                 name=wrong[0][:40], values=", ".join(INSTRUMENTS))
    search_request = None
    # Words, or a filter only the search knows (the current status, vehicle class, year), make the feed
    # a saved search: the feed of the search page's "Alert me".
    if any(_values(args, name) for name in ("q", "status", "vehicle_class", "year")):
        search_args = {name: list(args.get(name, ())) for name in
                       ("q", "country", "status", "instrument", "topic", "vehicle_class", "year", "event")}
        try:
            search_request = parse_search_args(search_args)
        except Invalid as error:
            errors.update(error.errors)
    if errors:
        raise Invalid(_("Some feed parameters are not valid."), errors)
    policies, policy_names = _published_names(session, "policy", policies, language)
    missing = [key for key in policies if key not in policy_names]
    if missing:
        raise NotFound(_("There is no published policy with the key '%(key)s'.", key=missing[0][:120]))
    events, event_names = _published_names(session, "event", events, language)
    missing = [key for key in events if key not in event_names]
    if missing:
        raise NotFound(_("There is no published event with the key '%(key)s'.", key=missing[0][:120]))
    flt = FeedFilter(countries, topics, policies, events, instruments, search_request, language)
    return flt, FeedNames(country_names, topic_names, policy_names, event_names)


def _in_language(language: str, english: str | None, lao: str | None) -> str:
    """A name in the feed's language, else in the other one (a record may be named in one language only)."""
    return ((lao or english) if language == "lo" else (english or lao)) or ""


def _published_names(session: Session, kind: str, keys: tuple[str, ...],
                     language: str = "en") -> tuple[tuple[str, ...], dict[str, str]]:
    """The keys, each old key of a record replaced by its current one (a feed's address outlives a change of
    key), and the names in ``language`` of the published records among them (one query, and one per key not
    found)."""
    model: type[Policy] | type[Event] = Policy if kind == "policy" else Event
    english, lao = (Policy.title_en, Policy.title_lo) if kind == "policy" else (Event.name_en, Event.name_lo)

    def names(wanted: Sequence[str]) -> dict[str, str]:
        return {key: _in_language(language, name_en, name_lo) or key for key, name_en, name_lo in session.execute(
            select(model.key, english, lao).where(model.key.in_(wanted), model.editorial_state == "published"))}

    found = names(keys) if keys else {}
    renamed = {key: permalinks.current_key(session, kind, key) for key in keys if key not in found}
    if any(renamed.values()):
        keys = tuple(dict.fromkeys(renamed.get(key) or key for key in keys))
        found |= names([key for key in renamed.values() if key])
    return keys, found


def _matching_policy_ids(session: Session, search_request: SearchRequest) -> list[int]:
    """Ids of the published policies a saved search finds now, the most recently changed first (its
    words as written: a saved search is never corrected)."""
    wanted = SearchRequest(q=search_request.q, countries=search_request.countries,
                           statuses=search_request.statuses, instruments=search_request.instruments,
                           topics=search_request.topics, vehicle_classes=search_request.vehicle_classes,
                           years=search_request.years, events=search_request.events, types=("policy",),
                           sort="latest", page=1, per_page=SEARCH_MATCH_LIMIT, verbatim=True)
    try:
        results = search(session, wanted, include_unpublished=False)
    except NotFound:  # no match at all: the search says "page 1 does not exist" only when empty
        return []
    return [hit.record.id for hit in results.hits]


def feed_entries(session: Session, flt: FeedFilter, limit: int = FEED_LIMIT) -> list[StatusChange]:
    """The latest status changes of published policies that pass ``flt``, newest recorded first, each
    with its policy, the policy's jurisdiction and topics loaded (one query, plus the search for ``q``).

    Raises:
        Invalid: the saved search cannot be run; SearchUnavailable: no index to search.
    """
    statement = (
        select(StatusChange).join(StatusChange.policy)
        .where(Policy.editorial_state == "published")
        .options(joinedload(StatusChange.policy).joinedload(Policy.jurisdiction),
                 joinedload(StatusChange.policy).selectinload(Policy.topic_links).joinedload(PolicyTopic.topic))
        .order_by(StatusChange.recorded_at.desc(), StatusChange.effective_on.desc().nulls_last(),
                  StatusChange.id.desc())
        .limit(limit)
    )
    if flt.countries:
        statement = statement.where(Policy.jurisdiction_code.in_(flt.countries))
    if flt.instruments:
        statement = statement.where(Policy.instrument.in_(flt.instruments))
    if flt.policies:
        statement = statement.where(Policy.key.in_(flt.policies))
    if flt.topics:
        statement = statement.where(Policy.id.in_(
            select(PolicyTopic.policy_id).where(PolicyTopic.topic_key.in_(flt.topics))))
    if flt.events:
        statement = statement.where(Policy.id.in_(
            select(ForumLink.policy_id).join(ForumLink.event).where(Event.key.in_(flt.events))))
    if flt.search is not None:
        ids = _matching_policy_ids(session, flt.search)
        if not ids:
            return []
        statement = statement.where(Policy.id.in_(ids))
    return list(session.scalars(statement).unique())

