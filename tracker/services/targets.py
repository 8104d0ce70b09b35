"""What a subscription follows: the target kinds (a policy, a country, a topic, an instrument, an event,
a saved search or everything), read from request arguments, checked against the database and described
in words."""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.errors import Invalid
from tracker.i18n import current_language
from tracker.models import Event, Jurisdiction, Policy, Topic
from tracker.models.notification import Subscription
from tracker.models.vocab import INSTRUMENTS, LEGAL_STATUSES
from tracker.search.query import QueryError, parse
from tracker.search.request import parse_search_args

# The headline target of each country is a policy's target, not a subscription's: it lives in
# tracker.services.policy_targets and is offered here too, where a comparison of countries looks for it.
from tracker.services.policy_targets import TargetView, headline_targets
from tracker.translation import gettext
from tracker.translation import lazy_gettext as _l

# flask_babel has no type information: its gettext returns the translated text.
_: Callable[..., str] = gettext

# Filters a saved search may carry: the query parameters of /search that narrow it.
SEARCH_FILTERS = ("country", "status", "instrument", "topic", "vehicle_class", "year", "event")
# Single-valued targets, by the query parameter that names them (the same names as the feed's).
SINGLE_TARGETS = ("policy", "country", "topic", "instrument", "event")
FILTER_LABELS = {"country": _l("country"), "status": _l("status"), "instrument": _l("instrument"),
                 "topic": _l("topic"), "vehicle_class": _l("vehicle class"), "year": _l("year"),
                 "event": _l("event")}


@dataclass(frozen=True)
class Target:
    """What a subscription follows: ``kind`` and, but for 'all', a ``value`` (a key, code, name or the
    query of a saved search) and, for a saved search, ``filters`` (name -> values, as /search takes)."""

    kind: str
    value: str | None = None
    filters: dict[str, list[str]] | None = None

    def query_args(self) -> dict[str, list[str]]:
        """The target as the query parameters of /subscribe and of the change feed."""
        if self.kind == "all":
            return {}
        if self.kind == "search":
            args = {name: list(values) for name, values in (self.filters or {}).items() if values}
            if self.value:
                args["q"] = [self.value]
            return args
        return {self.kind: [self.value or ""]}


def target_from_args(args: Mapping[str, Sequence[str]]) -> Target:
    """The target named by query parameters: one of ``policy``, ``country``, ``topic``, ``instrument``,
    ``event`` alone; a saved search (``q`` and/or several filters); or nothing at all (every change).

    Raises:
        Invalid: parameters that name no target (a policy together with other filters, unknown names).
    """
    given = {name: [v.strip() for v in args.get(name, ()) if v and v.strip()] for name in args}
    given = {name: values for name, values in given.items() if values}
    unknown = sorted(set(given) - set(SINGLE_TARGETS) - set(SEARCH_FILTERS) - {"q"})
    if unknown:
        raise Invalid(_("There is nothing to follow called '%(name)s'.", name=unknown[0][:40]),
                      {unknown[0][:40]: _("Follow a policy, country, topic, instrument, event or a search.")})
    if not given:
        return Target("all")
    if len(given) == 1:
        (name, values), = given.items()
        if name in SINGLE_TARGETS and len(values) == 1:
            return Target(name, values[0])
    if "policy" in given:
        raise Invalid(_("A policy is followed by itself."),
                      {"policy": _("Follow one policy at a time, without other filters.")})
    query = given.pop("q", [""])[0]
    return Target("search", query, {name: values for name, values in given.items()})


def check_target(session: Session, kind: str, value: str | None, filters: Any = None) -> Target:
    """The target, checked: the policy or event exists and is published, the country, topic or
    instrument is known, a saved search can be read.

    Raises:
        Invalid: naming ``target_kind``, ``target_value`` or ``target_filters`` with what is wrong.
    """
    from tracker.models.notification import TARGET_KINDS

    if kind not in TARGET_KINDS:
        raise Invalid(_("Choose what to follow."),
                      {"target_kind": _("Choose one of: %(kinds)s.", kinds=", ".join(TARGET_KINDS))})
    if kind != "search" and filters:
        raise Invalid(_("Only a saved search has filters."),
                      {"target_filters": _("Leave the filters out, or follow a search.")})
    value = value.strip() if isinstance(value, str) else value
    if kind == "all":
        if value:
            raise Invalid(_("Following everything takes no value."),
                          {"target_value": _("Leave the value out to follow every change.")})
        return Target("all")
    if kind == "search":
        return _check_search(session, value, filters)
    if not value:
        raise Invalid(_("Say what to follow."), {"target_value": _("Give the key, code or name to follow.")})
    if kind == "policy":
        found = session.scalar(select(Policy.key).where(Policy.key == value, Policy.editorial_state == "published"))
        message = _("There is no published policy with the key '%(key)s'.", key=value[:120])
    elif kind == "event":
        found = session.scalar(select(Event.key).where(Event.key == value, Event.editorial_state == "published"))
        message = _("There is no published event with the key '%(key)s'.", key=value[:120])
    elif kind == "country":
        value = value.upper()
        found = session.scalar(select(Jurisdiction.code).where(Jurisdiction.code == value))
        message = _("There is no country with the code '%(code)s'.", code=value[:20])
    elif kind == "topic":
        value = value.lower()
        found = session.scalar(select(Topic.key).where(Topic.key == value))
        message = _("There is no topic '%(key)s'.", key=value[:60])
    else:
        value = value.lower()
        found = value if value in INSTRUMENTS else None
        message = _("Unknown instrument '%(name)s'. Accepted values: %(values)s", name=value[:40],
                    values=", ".join(INSTRUMENTS))
    if found is None:
        raise Invalid(message, {"target_value": message})
    return Target(kind, found)


def _check_search(session: Session, query: Any, filters: Any) -> Target:
    if query is not None and not isinstance(query, str):
        raise Invalid(_("The search is not valid."), {"target_value": _("Give the search words as text.")})
    query = (query or "").strip()
    if filters is None:
        filters = {}
    if not isinstance(filters, Mapping):
        raise Invalid(_("The search filters are not valid."),
                      {"target_filters": _("Give the filters as an object of lists, e.g. {\"country\": [\"LA\"]}.")})
    clean: dict[str, list[str]] = {}
    for name, values in filters.items():
        if name not in SEARCH_FILTERS:
            raise Invalid(_("The search filters are not valid."),
                          {f"target_filters.{str(name)[:40]}": _("A search is narrowed by: %(names)s.",
                                                                 names=", ".join(SEARCH_FILTERS))})
        if isinstance(values, str):
            values = [values]
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values) or len(values) > 50:
            raise Invalid(_("The search filters are not valid."),
                          {f"target_filters.{name}": _("Give a list of at most 50 values as text.")})
        kept = list(dict.fromkeys(v.strip() for v in values if v.strip()))
        if kept:
            clean[name] = kept
    try:
        request = parse_search_args({"q": [query], **clean}, allow_empty=False)
    except Invalid as error:
        raise Invalid(_("The search is not valid."),
                      {("target_value" if name == "q" else f"target_filters.{name}"): message
                       for name, message in error.errors.items()}) from error
    # Stored as the search reads it (country codes upper-case, keys lower-case), so that matching
    # compares like with like.
    normal = {"country": request.countries, "status": request.statuses, "instrument": request.instruments,
              "topic": request.topics, "vehicle_class": request.vehicle_classes,
              "year": tuple(str(year) for year in request.years), "event": request.events}
    stored = {name: list(normal[name]) for name in SEARCH_FILTERS if normal[name]}
    _check_filter_records(session, request.countries, request.topics, request.events)
    if request.q:
        try:
            parse(request.q)
        except QueryError as error:
            raise Invalid(_("The search is not valid."), {"target_value": str(error)}) from error
    if not request.q and not stored:
        return Target("all")
    return Target("search", request.q, stored or None)


def _check_filter_records(session: Session, countries: Sequence[str], topics: Sequence[str],
                          events: Sequence[str]) -> None:
    """The countries, topics and forums that narrow a saved search exist (forums: are published, so that
    a draft's key never becomes a subscription, nor its name part of one's description).

    Raises:
        Invalid: naming ``target_filters.<name>`` of the first unknown value of each.
    """
    errors: dict[str, str] = {}
    if countries:
        known = set(session.scalars(select(Jurisdiction.code).where(Jurisdiction.code.in_(countries))))
        missing = [code for code in countries if code not in known]
        if missing:
            errors["target_filters.country"] = _("There is no country with the code '%(code)s'.",
                                                 code=missing[0][:20])
    if topics:
        known = set(session.scalars(select(Topic.key).where(Topic.key.in_(topics))))
        missing = [key for key in topics if key not in known]
        if missing:
            errors["target_filters.topic"] = _("There is no topic '%(key)s'.", key=missing[0][:60])
    if events:
        known = set(session.scalars(select(Event.key).where(Event.key.in_(events),
                                                            Event.editorial_state == "published")))
        missing = [key for key in events if key not in known]
        if missing:
            errors["target_filters.event"] = _("There is no published event with the key '%(key)s'.",
                                               key=missing[0][:120])
    if errors:
        raise Invalid(next(iter(errors.values())), errors)


def target_labels(session: Session, subscriptions: Sequence[Subscription]) -> dict[int, str]:
    """A readable name of each subscription's target, by subscription id (a fixed number of queries)."""
    targets = [Target(sub.target_kind, sub.target_value, sub.target_filters) for sub in subscriptions]
    return dict(zip([sub.id for sub in subscriptions], describe_targets(session, targets)))


def describe_targets(session: Session, targets: Sequence[Target]) -> list[str]:
    """Each target in words, naming the records it refers to (at most four queries in all). Policies and
    events are named only while published; otherwise by their key."""
    wanted: dict[str, set[str]] = {"policy": set(), "event": set(), "country": set(), "topic": set()}
    for target in targets:
        if target.kind in wanted and target.value:
            wanted[target.kind].add(target.value)
        if target.kind == "search":
            for name in ("country", "topic", "event"):
                wanted[name].update((target.filters or {}).get(name, []))
    names: dict[str, dict[str, str]] = {kind: {} for kind in wanted}
    # Named in the reader's language where the record has that name, else in the other one.
    lao = current_language() == "lo"

    def named(rows: Any) -> dict[str, str]:
        return {key: ((name_lo or name_en) if lao else (name_en or name_lo)) or key
                for key, name_en, name_lo in rows}

    if wanted["policy"]:
        names["policy"] = named(session.execute(select(Policy.key, Policy.title_en, Policy.title_lo).where(
            Policy.key.in_(wanted["policy"]), Policy.editorial_state == "published")))
    if wanted["event"]:
        names["event"] = named(session.execute(select(Event.key, Event.name_en, Event.name_lo).where(
            Event.key.in_(wanted["event"]), Event.editorial_state == "published")))
    if wanted["country"]:
        names["country"] = named(session.execute(select(
            Jurisdiction.code, Jurisdiction.name_en, Jurisdiction.name_lo).where(
            Jurisdiction.code.in_(wanted["country"]))))
    if wanted["topic"]:
        names["topic"] = named(session.execute(select(Topic.key, Topic.name_en, Topic.name_lo).where(
            Topic.key.in_(wanted["topic"]))))
    return [describe_target(target, names) for target in targets]


def describe_target(target: Target, names: Mapping[str, Mapping[str, str]]) -> str:
    """The target in words, naming records by ``names`` (kind -> key -> name)."""
    value = target.value or ""
    if target.kind == "all":
        return _("Every status change")
    if target.kind == "policy":
        return _("Policy: %(name)s", name=names.get("policy", {}).get(value, value))
    if target.kind == "event":
        return _("Forum or event: %(name)s", name=names.get("event", {}).get(value, value))
    if target.kind == "country":
        return _("Country: %(name)s", name=names.get("country", {}).get(value, value))
    if target.kind == "topic":
        return _("Topic: %(name)s", name=names.get("topic", {}).get(value, value))
    if target.kind == "instrument":
        return _("Instrument: %(name)s", name=str(INSTRUMENTS.get(value, value)))
    parts = [f"“{value}”"] if value else []
    for name, values in (target.filters or {}).items():
        labels = names.get(name, {})
        if name == "status":
            labels = {code: str(label) for code, label in LEGAL_STATUSES.items()}
        elif name == "instrument":
            labels = {code: str(label) for code, label in INSTRUMENTS.items()}
        parts.append(f"{FILTER_LABELS.get(name, name)}: "
                     f"{', '.join(labels.get(v, v) for v in values)}")
    return _("Search: %(what)s", what="; ".join(parts))


__all__ = ["SEARCH_FILTERS", "SINGLE_TARGETS", "Target", "TargetView", "check_target", "describe_target",
           "describe_targets", "headline_targets", "target_from_args", "target_labels"]
