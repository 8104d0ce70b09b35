"""Subscriptions and their life cycle: following as a signed-in user, subscribing a visitor's address
with double opt-in, confirming, unsubscribing by token, listing and deleting."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from tracker.errors import Conflict, Invalid, NotFound, TooManyRequests
from tracker.models import User
from tracker.models.notification import CADENCES, CHANNELS, LANGUAGES, NotificationEvent, Subscription, WebhookEndpoint
from tracker.models.types import utcnow
from tracker.services.permissions import require
from tracker.services.request_limits import DAY, count_request, wait_in_words
from tracker.services.targets import Target, target_labels

if TYPE_CHECKING:
    from sqlalchemy import Select

DEFAULT_SUNSET_DAYS = 30
MIN_SUNSET_DAYS, MAX_SUNSET_DAYS = 1, 365
# Days before a comment period closes at which to hear of it; 0 turns the reminder off.
DEFAULT_COMMENT_DAYS, MAX_COMMENT_DAYS = 14, 365
MAX_SUBSCRIPTIONS_PER_USER = 500
# Defaults of TRACKER_SUBSCRIBE_PER_ADDRESS_PER_DAY and TRACKER_SUBSCRIBE_PER_CLIENT_PER_DAY. A visitor's
# address gets at most this many confirmation requests a day, so the subscribe form cannot be used to flood
# someone else's mailbox; one client address may ask for this many subscriptions a day, so it cannot make the
# tracker's mail server send confirmations to address after address.
MAX_CONFIRMATIONS_PER_ADDRESS_PER_DAY = 5
MAX_SUBSCRIBE_REQUESTS_PER_CLIENT_PER_DAY = 20
CONFIRM_MAX_AGE = 7 * 24 * 3600


@dataclass(frozen=True)
class SubscribeLimits:
    """How many confirmation requests one address may be sent a day, and how many subscription requests one
    client address may make a day (0: no limit per client)."""

    per_address_per_day: int = MAX_CONFIRMATIONS_PER_ADDRESS_PER_DAY
    per_client_per_day: int = MAX_SUBSCRIBE_REQUESTS_PER_CLIENT_PER_DAY

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SubscribeLimits:
        return cls(int(config.get("SUBSCRIBE_PER_ADDRESS_PER_DAY", MAX_CONFIRMATIONS_PER_ADDRESS_PER_DAY)),
                   int(config.get("SUBSCRIBE_PER_CLIENT_PER_DAY", MAX_SUBSCRIBE_REQUESTS_PER_CLIENT_PER_DAY)))


@dataclass(frozen=True)
class Options:
    """How a subscription is delivered: cadence, days of warning before a measure ends, language."""

    cadence: str = "immediate"
    sunset_days: int = DEFAULT_SUNSET_DAYS
    language: str = "en"
    comment_days: int = DEFAULT_COMMENT_DAYS


def check_options(cadence: Any, sunset_days: Any, language: Any, *, channel: str = "email",
                  comment_days: Any = None) -> Options:
    """Raises Invalid naming ``cadence``, ``sunset_days``, ``language`` or ``comment_days``."""
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
    comment_days = DEFAULT_COMMENT_DAYS if comment_days in (None, "") else comment_days
    if isinstance(comment_days, str) and comment_days.isascii() and comment_days.isdigit() and len(comment_days) < 5:
        comment_days = int(comment_days)
    if isinstance(comment_days, bool) or not isinstance(comment_days, int) or not (
            0 <= comment_days <= MAX_COMMENT_DAYS):
        errors["comment_days"] = _("Give a whole number of days from %(low)d to %(high)d (0: no reminder).",
                                   low=0, high=MAX_COMMENT_DAYS)
    if errors:
        raise Invalid(_("Some settings are not valid."), errors)
    return Options(cadence, sunset_days, language, comment_days)


def check_email(address: Any) -> str:
    """The address in normal form, all ASCII (an internationalised domain in its xn-- form), so that any
    mail server can take it. Raises Invalid naming ``email``, also for letters other than ASCII before
    the @: those need SMTPUTF8, which many servers lack, and the confirmation would never arrive."""
    if not isinstance(address, str) or not address.strip():
        raise Invalid(_("An email address is needed."), {"email": _("Give your email address.")})
    if len(address) > 320:
        raise Invalid(_("The email address is not valid."),
                      {"email": _("An email address has at most 320 characters.")})
    try:
        checked = validate_email(address.strip(), check_deliverability=False, allow_smtputf8=False)
        return checked.ascii_email or checked.normalized
    except EmailNotValidError as error:
        raise Invalid(_("The email address is not valid."),
                      {"email": _("'%(address)s' is not a valid email address: %(reason)s", address=address[:80],
                                  reason=str(error))}) from error


def _loaded(statement: Select[Subscription]) -> Select[Subscription]:
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
        comment_days=options.comment_days, confirmed_at=utcnow())
    session.add(subscription)
    session.flush()
    return subscription


def subscribe_email(session: Session, address: str, target: Target, options: Options, *,
                    client: str | None = None, limits: SubscribeLimits | None = None) -> Subscription | None:
    """A visitor at the client address ``client`` asks for email about ``target``: an unconfirmed
    subscription and a request to confirm it (a 'subscription.confirm' event). Nothing else is sent before
    the address is confirmed.

    The answer to the visitor is the same whether or not the address already follows this, so that the
    form tells nobody which addresses follow what. Returns the subscription waiting for confirmation, or
    None when nothing was sent (the address already follows this).

    Raises:
        Invalid: naming ``email``.
        TooManyRequests: ``client`` made its requests of the day, or the address was sent its confirmation
            requests of the day (whatever it follows); nothing was created. The client's count is part of
            the transaction: commit it on this error too.
    """
    from tracker.notifications.outbox import record_event

    address = check_email(address)
    limits = limits or SubscribeLimits()
    now = utcnow()
    if client and limits.per_client_per_day > 0:
        wait = count_request(session, "subscribe_client", client, limits.per_client_per_day, now=now)
        if wait:
            raise TooManyRequests(_("Too many subscription requests have come from your network today. "
                                    "Try again in %(time)s.", time=wait_in_words(wait)), wait)
    # Before anything that depends on what the address follows, so that the refusal tells nothing of it.
    since = now - DAY
    recent = list(session.scalars(select(NotificationEvent.occurred_at).join(
        Subscription, Subscription.id == NotificationEvent.subscription_id).where(
        NotificationEvent.type == "subscription.confirm", NotificationEvent.occurred_at >= since,
        func.lower(Subscription.email) == address.lower()).order_by(NotificationEvent.occurred_at)))
    if len(recent) >= limits.per_address_per_day:
        # Taken again when the oldest request of the day is a day old.
        opens = recent[-limits.per_address_per_day] if limits.per_address_per_day > 0 else now
        wait = max(1, int((opens + DAY - now).total_seconds()) + 1)
        raise TooManyRequests(_("This address has been sent as many confirmation requests as it may receive "
                                "in a day. Try again in %(time)s.", time=wait_in_words(wait)), wait)
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
    if existing is not None:
        subscription = existing
        subscription.cadence, subscription.sunset_days = options.cadence, options.sunset_days
        subscription.language, subscription.comment_days = options.language, options.comment_days
    else:
        subscription = Subscription(
            email=address, channel="email", target_kind=target.kind, target_value=target.value,
            target_filters=target.filters, cadence=options.cadence, sunset_days=options.sunset_days,
            language=options.language, comment_days=options.comment_days)
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
