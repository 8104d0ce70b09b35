"""Following records: subscriptions (email, with double opt-in for visitors; webhook), the partner's
webhook endpoints, and the delivery records partners and admins look at."""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload, selectinload

from tracker.models import Event, Jurisdiction, Policy, Topic, User
from tracker.models.notification import (CADENCES, CHANNELS, DELIVERY_STATES, LANGUAGES, Delivery,
                                         NotificationEvent, Subscription, WebhookEndpoint)
from tracker.models.types import utcnow
from tracker.models.vocab import INSTRUMENTS, LEGAL_STATUSES
from tracker.search.request import parse_search_args
from tracker.search.query import QueryError, parse
from tracker.errors import Conflict, Invalid, NotFound
from tracker.pagination import Page, PageRequest, check_page_in_range
from tracker.services.permissions import require

DEFAULT_SUNSET_DAYS = 30
MIN_SUNSET_DAYS, MAX_SUNSET_DAYS = 1, 365
MAX_SUBSCRIPTIONS_PER_USER = 500
MAX_ENDPOINTS_PER_USER = 20
# A visitor's address gets at most this many confirmation requests a day, so the subscribe form cannot
# be used to flood someone else's mailbox; further requests are answered the same way but send nothing.
MAX_CONFIRMATIONS_PER_ADDRESS_PER_DAY = 5
# Test messages an endpoint may be sent per hour: enough to debug a receiver, too few to make the
# tracker a tool for flooding a URL that someone else owns.
MAX_TESTS_PER_ENDPOINT_PER_HOUR = 10
CONFIRM_MAX_AGE = 7 * 24 * 3600
# During a rotation the old secret keeps signing (beside the new one) for this long.
ROTATION_OVERLAP = dt.timedelta(hours=24)
# A second rotation this soon after the first is a double click or a reloaded form: it would drop the
# secret the receiver still uses, so it is refused.
ROTATION_PAUSE = dt.timedelta(minutes=10)
# Filters a saved search may carry: the query parameters of /search that narrow it.
SEARCH_FILTERS = ("country", "status", "instrument", "topic", "vehicle_class", "year", "event")
# Single-valued targets, by the query parameter that names them (the same names as the feed's).
SINGLE_TARGETS = ("policy", "country", "topic", "instrument", "event")
FILTER_LABELS = {"country": _l("country"), "status": _l("status"), "instrument": _l("instrument"),
                 "topic": _l("topic"), "vehicle_class": _l("vehicle class"), "year": _l("year"),
                 "event": _l("event")}
RETRYABLE_STATES = ("pending", "retrying", "failed", "dead")
# Ids in URLs beyond what an INTEGER column holds cannot name a row (and would overflow the driver).
MAX_ID = 2**31 - 1


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


# ---------------------------------------------------------------------------------------------------
# Targets


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
    if wanted["policy"]:
        names["policy"] = dict(session.execute(select(Policy.key, Policy.title_en).where(
            Policy.key.in_(wanted["policy"]), Policy.editorial_state == "published")).all())
    if wanted["event"]:
        names["event"] = dict(session.execute(select(Event.key, Event.name_en).where(
            Event.key.in_(wanted["event"]), Event.editorial_state == "published")).all())
    if wanted["country"]:
        names["country"] = dict(session.execute(select(Jurisdiction.code, Jurisdiction.name_en).where(
            Jurisdiction.code.in_(wanted["country"]))).all())
    if wanted["topic"]:
        names["topic"] = dict(session.execute(select(Topic.key, Topic.name_en).where(
            Topic.key.in_(wanted["topic"]))).all())
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
        parts.append(f"{FILTER_LABELS.get(name, name)}: {', '.join(labels.get(v, v) for v in values)}")
    return _("Search: %(what)s", what="; ".join(parts))


# ---------------------------------------------------------------------------------------------------
# Subscriptions


@dataclass(frozen=True)
class Options:
    """How a subscription is delivered: cadence, days of warning before a measure ends, language."""

    cadence: str = "immediate"
    sunset_days: int = DEFAULT_SUNSET_DAYS
    language: str = "en"


def check_options(cadence: Any, sunset_days: Any, language: Any, *, channel: str = "email") -> Options:
    """Raises Invalid naming ``cadence``, ``sunset_days`` or ``language``."""
    errors: dict[str, str] = {}
    cadence = "immediate" if cadence in (None, "") else cadence
    if cadence not in CADENCES:
        errors["cadence"] = _("Choose one of: %(values)s.", values=", ".join(CADENCES))
    elif channel == "webhook" and cadence != "immediate":
        errors["cadence"] = _("Webhooks are sent immediately: choose 'immediate'.")
    sunset_days = DEFAULT_SUNSET_DAYS if sunset_days in (None, "") else sunset_days
    if isinstance(sunset_days, str) and sunset_days.isascii() and sunset_days.isdigit() and len(sunset_days) < 5:
        sunset_days = int(sunset_days)
    if isinstance(sunset_days, bool) or not isinstance(sunset_days, int) or not (
            MIN_SUNSET_DAYS <= sunset_days <= MAX_SUNSET_DAYS):
        errors["sunset_days"] = _("Give a whole number of days from %(low)d to %(high)d.", low=MIN_SUNSET_DAYS,
                                  high=MAX_SUNSET_DAYS)
    language = "en" if language in (None, "") else language
    if language not in LANGUAGES:
        errors["language"] = _("Choose one of: %(values)s.", values=", ".join(LANGUAGES))
    if errors:
        raise Invalid(_("Some settings are not valid."), errors)
    return Options(cadence, sunset_days, language)


def check_email(address: Any) -> str:
    """The address in normal form, all ASCII (an internationalised domain in its xn-- form), so that any
    mail server can take it. Raises Invalid naming ``email``, also for letters other than ASCII before
    the @: those need SMTPUTF8, which many servers lack, and the confirmation would never arrive."""
    if not isinstance(address, str) or not address.strip():
        raise Invalid(_("An email address is needed."), {"email": _("Give your email address.")})
    if len(address) > 320:
        raise Invalid(_("The email address is not valid."), {"email": _("An email address has at most 320 characters.")})
    try:
        checked = validate_email(address.strip(), check_deliverability=False, allow_smtputf8=False)
        return checked.ascii_email or checked.normalized
    except EmailNotValidError as error:
        raise Invalid(_("The email address is not valid."),
                      {"email": _("'%(address)s' is not a valid email address: %(reason)s", address=address[:80],
                                  reason=str(error))}) from error


def _loaded(statement):
    return statement.options(joinedload(Subscription.webhook_endpoint))


def follow(session: Session, user: User, target: Target, options: Options, *, channel: str = "email",
           endpoint_id: int | None = None) -> Subscription:
    """``user`` follows ``target`` by email (to the account's address) or through one of their own webhook
    endpoints. Confirmed at once: the account's address is known.

    Raises:
        Invalid: an unknown channel, someone else's or a disabled endpoint, too many subscriptions.
        Conflict: the user already follows this target through this channel.
    """
    require(user, "account")
    if channel not in CHANNELS:
        raise Invalid(_("Choose how to be told."), {"channel": _("Choose one of: %(values)s.",
                                                                 values=", ".join(CHANNELS))})
    endpoint = None
    if channel == "webhook":
        if endpoint_id is None:
            raise Invalid(_("Choose a webhook endpoint."),
                          {"webhook_id": _("Choose one of your webhook endpoints, or add one first.")})
        endpoint = session.scalar(select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id,
                                                                WebhookEndpoint.user_id == user.id))
        if endpoint is None:
            raise Invalid(_("There is no such webhook endpoint."),
                          {"webhook_id": _("Choose one of your own webhook endpoints.")})
        if not endpoint.is_active:
            raise Invalid(_("This webhook endpoint is disabled."),
                          {"webhook_id": _("Enable the endpoint again, or choose another.")})
    elif endpoint_id is not None:
        raise Invalid(_("Email subscriptions have no webhook endpoint."),
                      {"webhook_id": _("Leave the endpoint out, or choose the webhook channel.")})
    count = session.scalar(select(func.count(Subscription.id)).where(Subscription.user_id == user.id)) or 0
    if count >= MAX_SUBSCRIPTIONS_PER_USER:
        raise Invalid(_("You follow too many things."),
                      {"target_kind": _("Delete some subscriptions first (the limit is %(n)d).",
                                        n=MAX_SUBSCRIPTIONS_PER_USER)})
    same = session.scalars(select(Subscription.target_filters).where(
        Subscription.user_id == user.id, Subscription.channel == channel,
        Subscription.webhook_endpoint_id.is_(None) if endpoint is None
        else Subscription.webhook_endpoint_id == endpoint.id,
        Subscription.target_kind == target.kind,
        Subscription.target_value.is_(None) if target.value is None else Subscription.target_value == target.value,
        Subscription.unsubscribed_at.is_(None)))
    if any((filters or None) == target.filters for filters in same):
        raise Conflict(_("You already follow this through this channel."))
    subscription = Subscription(
        user_id=user.id, channel=channel, webhook_endpoint_id=endpoint.id if endpoint else None,
        target_kind=target.kind, target_value=target.value, target_filters=target.filters,
        cadence=options.cadence, sunset_days=options.sunset_days, language=options.language,
        confirmed_at=utcnow())
    session.add(subscription)
    session.flush()
    return subscription


def subscribe_email(session: Session, address: str, target: Target, options: Options) -> Subscription | None:
    """A visitor asks for email about ``target``: an unconfirmed subscription and a request to confirm
    it (a 'subscription.confirm' event). Nothing else is sent before the address is confirmed.

    The answer to the visitor is the same whatever happens here, so that the form tells nobody which
    addresses already follow what. Returns the subscription waiting for confirmation, or None when
    nothing was sent (the address already follows this, or has had enough requests today).

    Raises:
        Invalid: naming ``email``.
    """
    from tracker.notifications.outbox import record_event

    address = check_email(address)
    # Saved searches with the same words differ by their filters: compare those too (a confirmed one
    # first, so that a confirmed subscription is never doubled by a newer unconfirmed one).
    candidates = session.scalars(select(Subscription).where(
        Subscription.user_id.is_(None), func.lower(Subscription.email) == address.lower(),
        Subscription.channel == "email", Subscription.target_kind == target.kind,
        Subscription.target_value.is_(None) if target.value is None else Subscription.target_value == target.value,
        Subscription.unsubscribed_at.is_(None)).order_by(Subscription.confirmed_at.is_(None),
                                                         Subscription.id.desc()))
    existing = next((sub for sub in candidates if (sub.target_filters or None) == target.filters), None)
    if existing is not None and existing.confirmed_at is not None:
        return None
    since = utcnow() - dt.timedelta(days=1)
    recent = session.scalar(select(func.count(NotificationEvent.id)).join(
        Subscription, Subscription.id == NotificationEvent.subscription_id).where(
        NotificationEvent.type == "subscription.confirm", NotificationEvent.occurred_at >= since,
        func.lower(Subscription.email) == address.lower())) or 0
    if recent >= MAX_CONFIRMATIONS_PER_ADDRESS_PER_DAY:
        return None
    if existing is not None:
        subscription = existing
        subscription.cadence, subscription.sunset_days = options.cadence, options.sunset_days
        subscription.language = options.language
    else:
        subscription = Subscription(
            email=address, channel="email", target_kind=target.kind, target_value=target.value,
            target_filters=target.filters, cadence=options.cadence, sunset_days=options.sunset_days,
            language=options.language)
        session.add(subscription)
    session.flush()
    label = target_labels(session, [subscription])[subscription.id]
    record_event(session, "subscription.confirm", subscription=subscription, payload={
        "subscription": subscription.public_id, "email": address, "target_kind": target.kind,
        "target_value": target.value, "target_filters": target.filters, "target_label": label,
        "cadence": options.cadence, "language": options.language})
    return subscription


def _by_token(session: Session, purpose: str, token: str, max_age: int | None) -> Subscription:
    from tracker.notifications.tokens import read_token

    public_id = read_token(purpose, token, max_age=max_age)
    subscription = session.scalar(select(Subscription).where(Subscription.public_id == public_id))
    if subscription is None:
        # A genuine token of a subscription deleted since: as useless as a forged one.
        raise Invalid(_("This link is no longer valid: the subscription does not exist any more."),
                      {"token": _("The subscription was deleted.")})
    return subscription


def confirm(session: Session, token: str) -> Subscription:
    """Confirm the subscription the link was made for (following it twice does no harm).

    Raises:
        Invalid: a forged or expired token, or a subscription that no longer exists or was unsubscribed.
    """
    subscription = subscription_for_confirm(session, token)
    if subscription.confirmed_at is None:
        subscription.confirmed_at = utcnow()
        session.flush()
    return subscription


def subscription_for_confirm(session: Session, token: str) -> Subscription:
    """The subscription a confirmation link is for, unchanged (the page asks before it acts).

    Raises:
        Invalid: a forged or expired token, or a subscription that no longer exists or was unsubscribed
            (an old confirmation link never brings back what the unsubscribe link stopped).
    """
    subscription = _by_token(session, "confirm", token, CONFIRM_MAX_AGE)
    if subscription.unsubscribed_at is not None:
        raise Invalid(_("This subscription was cancelled; subscribe again to receive email."),
                      {"token": _("The subscription was cancelled.")})
    return subscription


def subscription_for_unsubscribe(session: Session, token: str) -> Subscription:
    """The subscription an unsubscribe link is for, unchanged (the page asks before it acts).

    Raises:
        Invalid: a forged token, or a subscription that no longer exists.
    """
    return _by_token(session, "unsubscribe", token, None)


def unsubscribe(session: Session, token: str) -> Subscription:
    """Stop the subscription the link was made for; doing it twice does no harm.

    Raises:
        Invalid: a forged token, or a subscription that no longer exists.
    """
    subscription = _by_token(session, "unsubscribe", token, None)
    if subscription.unsubscribed_at is None:
        subscription.unsubscribed_at = utcnow()
        session.flush()
    return subscription


def list_subscriptions(session: Session, user: User) -> list[Subscription]:
    """The user's subscriptions, newest first, with their webhook endpoints (one query)."""
    statement = select(Subscription).where(Subscription.user_id == user.id).order_by(Subscription.id.desc())
    return list(session.scalars(_loaded(statement)))


def get_subscription(session: Session, user: User, public_id: str) -> Subscription:
    """One of the user's own subscriptions. Raises NotFound for anyone else's (never saying it exists)."""
    subscription = session.scalar(_loaded(select(Subscription).where(
        Subscription.public_id == public_id, Subscription.user_id == user.id)))
    if subscription is None:
        raise NotFound(_("You have no subscription with this id."))
    return subscription


def delete_subscription(session: Session, user: User, public_id: str) -> Subscription:
    """Delete one of the user's subscriptions (its pending deliveries go with it). Raises NotFound."""
    subscription = get_subscription(session, user, public_id)
    session.delete(subscription)
    session.flush()
    return subscription


# ---------------------------------------------------------------------------------------------------
# Webhook endpoints


def _check_url(url: Any, *, allow_loopback: bool, require_https: bool) -> str:
    from tracker.notifications.ssrf import check_url

    if not isinstance(url, str) or not url.strip():
        raise Invalid(_("A URL is needed."), {"url": _("Give the https URL that receives the webhooks.")})
    url = url.strip()
    if len(url) > 2000:
        raise Invalid(_("The URL is too long."), {"url": _("A URL has at most 2000 characters.")})
    check_url(url, allow_loopback=allow_loopback, require_https=require_https)
    return url


def _check_description(description: Any) -> str | None:
    if description is None:
        return None
    if not isinstance(description, str) or len(description.strip()) > 200:
        raise Invalid(_("The description is too long."), {"description": _("Use at most 200 characters.")})
    return description.strip() or None


def create_endpoint(session: Session, user: User, url: Any, description: Any = None, *, allow_loopback: bool,
                    require_https: bool) -> tuple[WebhookEndpoint, str]:
    """A new webhook endpoint of ``user``, with its signing secret (returned here, shown once).

    Raises:
        Invalid: naming ``url`` (malformed, not https in production, or resolving to a non-public
            address) or ``description``; too many endpoints.
    """
    from tracker.notifications.signing import new_secret

    require(user, "account")
    description = _check_description(description)
    url = _check_url(url, allow_loopback=allow_loopback, require_https=require_https)
    count = session.scalar(select(func.count(WebhookEndpoint.id)).where(WebhookEndpoint.user_id == user.id)) or 0
    if count >= MAX_ENDPOINTS_PER_USER:
        raise Invalid(_("You have too many webhook endpoints."),
                      {"url": _("Delete one first (the limit is %(n)d).", n=MAX_ENDPOINTS_PER_USER)})
    secret = new_secret()
    endpoint = WebhookEndpoint(user_id=user.id, url=url, description=description, secret=secret)
    session.add(endpoint)
    session.flush()
    return endpoint, secret


def list_endpoints(session: Session, user: User) -> list[WebhookEndpoint]:
    return list(session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.user_id == user.id)
                                .order_by(WebhookEndpoint.id.desc())))


def get_endpoint(session: Session, user: User, endpoint_id: int) -> WebhookEndpoint:
    """One of the user's own endpoints. Raises NotFound for anyone else's (never saying it exists)."""
    if not 0 < endpoint_id <= MAX_ID:
        raise NotFound(_("You have no webhook endpoint with this id."))
    endpoint = session.scalar(select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id,
                                                            WebhookEndpoint.user_id == user.id))
    if endpoint is None:
        raise NotFound(_("You have no webhook endpoint with this id."))
    return endpoint


def delete_endpoint(session: Session, user: User, endpoint_id: int) -> WebhookEndpoint:
    """Delete an endpoint with its subscriptions and their deliveries. Raises NotFound."""
    endpoint = get_endpoint(session, user, endpoint_id)
    session.delete(endpoint)
    session.flush()
    return endpoint


def rotate_secret(session: Session, user: User, endpoint_id: int) -> tuple[WebhookEndpoint, str]:
    """A new secret for the endpoint (returned, shown once). Messages are signed with both the new and
    the old secret for a day, so a receiver can switch without losing any. Raises NotFound, and Conflict
    within ROTATION_PAUSE of the previous rotation."""
    from tracker.notifications.signing import new_secret

    endpoint = get_endpoint(session, user, endpoint_id)
    expires = endpoint.previous_secret_expires_at
    if expires is not None and utcnow() < expires - ROTATION_OVERLAP + ROTATION_PAUSE:
        raise Conflict(_("This endpoint's secret was changed less than %(minutes)d minutes ago. Use the "
                         "secret shown then; you can make another one after that.",
                         minutes=int(ROTATION_PAUSE.total_seconds() // 60)))
    secret = new_secret()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = utcnow() + ROTATION_OVERLAP
    endpoint.secret = secret
    session.flush()
    return endpoint, secret


def enable_endpoint(session: Session, user: User, endpoint_id: int) -> WebhookEndpoint:
    """Turn a disabled endpoint back on (after a 410 or repeated failures were fixed). Raises NotFound."""
    endpoint = get_endpoint(session, user, endpoint_id)
    endpoint.disabled_at = None
    endpoint.disabled_reason = None
    endpoint.failing_since = None
    session.flush()
    return endpoint


def send_test(session: Session, user: User, endpoint_id: int) -> NotificationEvent:
    """Queue a signed 'webhook.test' message to the endpoint. Raises NotFound; Invalid when disabled or
    when the endpoint had its hourly share of tests."""
    from tracker.notifications.outbox import record_event

    endpoint = get_endpoint(session, user, endpoint_id)
    if not endpoint.is_active:
        raise Invalid(_("This webhook endpoint is disabled."),
                      {"webhook": _("Enable the endpoint again before sending a test.")})
    since = utcnow() - dt.timedelta(hours=1)
    recent = session.scalar(select(func.count(NotificationEvent.id)).where(
        NotificationEvent.type == "webhook.test", NotificationEvent.webhook_endpoint_id == endpoint.id,
        NotificationEvent.occurred_at >= since)) or 0
    if recent >= MAX_TESTS_PER_ENDPOINT_PER_HOUR:
        raise Invalid(_("Enough test messages for now."),
                      {"webhook": _("An endpoint gets at most %(n)d test messages an hour; try again later.",
                                    n=MAX_TESTS_PER_ENDPOINT_PER_HOUR)})
    return record_event(session, "webhook.test", endpoint=endpoint, payload={
        "message": "A test message from the EV policy tracker.", "endpoint_id": endpoint.id,
        "url": endpoint.url})


def _deliveries_statement():
    return select(Delivery).options(
        joinedload(Delivery.event), joinedload(Delivery.subscription).joinedload(Subscription.user),
        joinedload(Delivery.webhook_endpoint),
        selectinload(Delivery.attempt_log))


def endpoint_deliveries(session: Session, user: User, endpoint_id: int, request: PageRequest) -> Page[Delivery]:
    """The messages sent (or to be sent) to one of the user's endpoints, newest first, with their
    attempts (three queries). Raises NotFound: not the user's endpoint, or a page past the last."""
    endpoint = get_endpoint(session, user, endpoint_id)
    # Test messages have no subscription: the endpoint is on every webhook delivery.
    of_endpoint = Delivery.webhook_endpoint_id == endpoint.id
    total = session.scalar(select(func.count(Delivery.id)).where(of_endpoint)) or 0
    check_page_in_range(request, total)
    statement = (_deliveries_statement().where(of_endpoint).order_by(Delivery.id.desc())
                 .limit(request.per_page).offset(request.offset))
    return Page(session.scalars(statement).unique().all(), total, request.page, request.per_page)


# ---------------------------------------------------------------------------------------------------
# Administration


def delivery_counts(session: Session) -> dict[str, int]:
    """Number of deliveries per state, every state listed (one query)."""
    counts = dict.fromkeys(DELIVERY_STATES, 0)
    for state, count in session.execute(select(Delivery.state, func.count(Delivery.id)).group_by(Delivery.state)):
        counts[state] = count
    return counts


def admin_deliveries(session: Session, state: str | None, request: PageRequest) -> Page[Delivery]:
    """Deliveries in ``state`` (all when None), newest first, with event, subscription, endpoint and
    attempts (three queries).

    Raises:
        Invalid: an unknown state; NotFound: a page past the last one.
    """
    if state is not None and state not in DELIVERY_STATES:
        raise Invalid(_("Unknown state."), {"state": _("Choose one of: %(values)s.",
                                                       values=", ".join(DELIVERY_STATES))})
    condition = Delivery.state == state if state else Delivery.id.is_not(None)
    total = session.scalar(select(func.count(Delivery.id)).where(condition)) or 0
    check_page_in_range(request, total)
    statement = (_deliveries_statement().where(condition).order_by(Delivery.id.desc())
                 .limit(request.per_page).offset(request.offset))
    return Page(session.scalars(statement).unique().all(), total, request.page, request.per_page)


def retry_delivery(session: Session, delivery_id: int) -> Delivery:
    """Send a delivery again at once (the next worker pass claims it).

    Raises:
        NotFound: no such delivery; Invalid: it was delivered already; Conflict: a worker is sending it
            right now (clearing its lease would let a second worker send it too).
    """
    delivery = session.get(Delivery, delivery_id) if 0 < delivery_id <= MAX_ID else None
    if delivery is None:
        raise NotFound(_("There is no delivery with this id."))
    if delivery.state not in RETRYABLE_STATES:
        raise Invalid(_("This delivery has been delivered; there is nothing to retry."),
                      {"delivery": _("Only pending, retrying, failed or dead deliveries are retried.")})
    if delivery.lease_until is not None and delivery.lease_until > utcnow():
        raise Conflict(_("This delivery is being sent right now; look again in a minute."))
    delivery.state = "pending"
    delivery.next_attempt_at = utcnow()
    delivery.lease_until = None
    session.flush()
    return delivery


@dataclass(frozen=True)
class FailingEndpoint:
    endpoint: WebhookEndpoint
    undelivered: int


def failing_endpoints(session: Session, limit: int = 100) -> list[FailingEndpoint]:
    """Endpoints that are failing or disabled, longest failing first, with their owner and the number of
    their deliveries that are retrying, failed or dead (two queries)."""
    endpoints = list(session.scalars(
        select(WebhookEndpoint).options(joinedload(WebhookEndpoint.user))
        .where((WebhookEndpoint.failing_since.is_not(None)) | (WebhookEndpoint.disabled_at.is_not(None)))
        .order_by(WebhookEndpoint.failing_since.asc().nulls_last(), WebhookEndpoint.id).limit(limit)))
    counts: dict[int, int] = {}
    if endpoints:
        counts = dict(session.execute(
            select(Delivery.webhook_endpoint_id, func.count(Delivery.id))
            .where(Delivery.webhook_endpoint_id.in_([e.id for e in endpoints]),
                   Delivery.state.in_(("retrying", "failed", "dead")))
            .group_by(Delivery.webhook_endpoint_id)).all())
    return [FailingEndpoint(endpoint, counts.get(endpoint.id, 0)) for endpoint in endpoints]
