"""Subscriptions and their life cycle: following as a signed-in user, subscribing a visitor's address
with double opt-in, confirming, unsubscribing by token, listing and deleting."""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.orm import Session, joinedload

from tracker.errors import Conflict, Invalid, NotFound, TooManyRequests
from tracker.models import Delivery, ManageLinkRequest, SubscriptionChange, User
from tracker.models.notification import CADENCES, CHANNELS, LANGUAGES, NotificationEvent, Subscription, WebhookEndpoint
from tracker.models.types import utcnow
from tracker.services.permissions import require
from tracker.services.request_limits import DAY, count_request, wait_in_words
from tracker.services.targets import Target, target_labels
from tracker.translation import gettext as _

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement, Select

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


def subscriptions_for_unsubscribe(session: Session, token: str) -> list[Subscription]:
    """The subscriptions an unsubscribe link names (every one an email answered), unchanged: the page
    asks before it acts. Those deleted since are left out.

    Raises:
        Invalid: a forged token, or none of its subscriptions exists any more.
    """
    from tracker.notifications.tokens import read_unsubscribe_token

    public_ids = read_unsubscribe_token(token)
    found = list(session.scalars(select(Subscription).where(Subscription.public_id.in_(public_ids))
                                 .order_by(Subscription.id)))
    if not found:
        # A genuine token of subscriptions deleted since: as useless as a forged one.
        raise Invalid(_("This link is no longer valid: the subscription does not exist any more."),
                      {"token": _("The subscription was deleted.")})
    return found


def unsubscribe_all(session: Session, token: str) -> list[Subscription]:
    """Stop exactly the subscriptions the link names; doing it twice does no harm.

    Raises:
        Invalid: a forged token, or none of its subscriptions exists any more.
    """
    found = subscriptions_for_unsubscribe(session, token)
    now = utcnow()
    for subscription in found:
        if subscription.unsubscribed_at is None:
            subscription.unsubscribed_at = now
    session.flush()
    return found


def subscription_for_unsubscribe(session: Session, token: str) -> Subscription:
    """The (first) subscription an unsubscribe link is for, unchanged. Raises Invalid."""
    return subscriptions_for_unsubscribe(session, token)[0]


def unsubscribe(session: Session, token: str) -> Subscription:
    """Stop the subscriptions the link was made for; returns the first. Raises Invalid."""
    return unsubscribe_all(session, token)[0]


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
# Managing every subscription of an address, from the link each email carries (no account needed)

# What the trail says a change was made through.
MANAGE_VIA = "manage link"
MANAGE_WINDOW = dt.timedelta(days=1)


def manage_address(token: str) -> str:
    """The (lower-cased) email address a management link was made for.

    Raises:
        Invalid: naming ``token``: forged, damaged, made for another purpose (a confirmation or
            unsubscribe link), or older than 30 days.
    """
    from tracker.notifications.tokens import read_manage_token

    if len(token) > 1000:  # no link the tracker makes is this long
        raise Invalid(_("This link is not valid."), {"token": _("This link is not valid; check that it was "
                                                                "copied whole.")})
    return read_manage_token(token)


def _of_address(address: str) -> ColumnElement[bool]:
    """Live email subscriptions delivered to ``address``: a visitor's own, and those of the account
    with that address (its email subscriptions go to that mailbox; its webhooks do not)."""
    accounts = select(User.id).where(func.lower(User.email) == address)
    return and_(Subscription.channel == "email", Subscription.unsubscribed_at.is_(None),
                or_(and_(Subscription.user_id.is_(None), func.lower(Subscription.email) == address),
                    Subscription.user_id.in_(accounts)))


def address_subscriptions(session: Session, address: str) -> list[Subscription]:
    """Every live email subscription of ``address`` (confirmed or waiting for confirmation), oldest first."""
    statement = select(Subscription).where(_of_address(address.lower())).order_by(Subscription.created_at,
                                                                                  Subscription.id)
    return list(session.scalars(statement))


def address_has_account(session: Session, address: str) -> bool:
    """Whether an account has ``address`` (its webhooks and settings are managed after signing in)."""
    return session.scalar(select(User.id).where(func.lower(User.email) == address.lower()).limit(1)) is not None


def _address_subscription(session: Session, address: str, public_id: str) -> Subscription:
    subscription = session.scalar(select(Subscription).where(
        _of_address(address.lower()), Subscription.public_id == public_id).with_for_update())
    if subscription is None:
        raise NotFound(_("This address has no such subscription; it may have ended already."))
    return subscription


def _trail(session: Session, subscription: Subscription, address: str, action: str,
           field: str | None = None, old: str | None = None, new: str | None = None) -> None:
    session.add(SubscriptionChange(subscription_id=subscription.id, subscription_public_id=subscription.public_id,
                                   action=action, field=field, old_value=old, new_value=new, via=MANAGE_VIA,
                                   address=address.lower(), created_at=utcnow()))


def _move_waiting_deliveries(session: Session, subscription: Subscription, old: str, new: str) -> int:
    """Rows of an immediate subscription not yet tried join the next digest when it switches to one.

    The other way round needs nothing here: rows already waiting for a digest go out in the next daily
    digest (tracker.notifications.digests takes those of subscriptions switched to immediate), and every
    later change is sent at once. Between daily and weekly, waiting rows simply wait for the new run.
    Returns how many rows moved."""
    if old != "immediate" or new == "immediate":
        return 0
    now = utcnow()
    # A confirmation request is never held for a digest (a digest is only sent once confirmed).
    requests = select(NotificationEvent.id).where(NotificationEvent.subscription_id == subscription.id,
                                                  NotificationEvent.type == "subscription.confirm")
    result = session.execute(
        update(Delivery).where(
            Delivery.subscription_id == subscription.id, Delivery.channel == "email",
            Delivery.state == "pending", Delivery.attempts == 0, Delivery.next_attempt_at.is_not(None),
            or_(Delivery.lease_until.is_(None), Delivery.lease_until < now),
            Delivery.event_id.not_in(requests))
        .values(next_attempt_at=None).execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


def change_delivery(session: Session, address: str, public_id: str, cadence: Any,
                    language: Any) -> list[tuple[str, str, str]]:
    """Set how often and in which language one subscription of ``address`` is sent; effective at once
    (see _move_waiting_deliveries). Each changed setting is kept in the trail. Returns the (setting,
    old, new) changes, none when nothing changed.

    Raises:
        NotFound: ``address`` has no live subscription ``public_id``.
        Invalid: naming ``cadence`` or ``language``.
    """
    subscription = _address_subscription(session, address, public_id)
    options = check_options(cadence, subscription.sunset_days, language, channel=subscription.channel,
                            comment_days=subscription.comment_days)
    changes = [(name, old, new) for name, old, new in (
        ("cadence", subscription.cadence, options.cadence), ("language", subscription.language, options.language))
        if old != new]
    for name, old, new in changes:
        setattr(subscription, name, new)
        _trail(session, subscription, address, "update", name, old, new)
        if name == "cadence":
            _move_waiting_deliveries(session, subscription, old, new)
    session.flush()
    return changes


def _end(session: Session, subscription: Subscription, address: str) -> None:
    subscription.unsubscribed_at = utcnow()
    _trail(session, subscription, address, "unsubscribe")


def unsubscribe_one(session: Session, address: str, public_id: str) -> Subscription:
    """End one subscription of ``address`` (nothing more is sent for it, digests included).

    Raises:
        NotFound: ``address`` has no live subscription ``public_id`` (ended already, or another's).
    """
    subscription = _address_subscription(session, address, public_id)
    _end(session, subscription, address)
    session.flush()
    return subscription


def unsubscribe_address(session: Session, address: str) -> int:
    """End every live email subscription of ``address``; returns how many ended (0 when none was left)."""
    subscriptions = list(session.scalars(select(Subscription).where(_of_address(address.lower()))
                                         .order_by(Subscription.id).with_for_update()))
    for subscription in subscriptions:
        _end(session, subscription, address)
    session.flush()
    return len(subscriptions)


def _address_digest(address: str, secret_key: str | bytes) -> str:
    key = secret_key if isinstance(secret_key, bytes) else secret_key.encode()
    return hmac.new(key, f"manage-link|{address}".encode(), hashlib.sha256).hexdigest()


def _check_limit(session: Session, column: Any, value: str, limit: int, now: dt.datetime, message: str) -> None:
    count, oldest = session.execute(select(func.count(ManageLinkRequest.id), func.min(ManageLinkRequest.requested_at))
                                    .where(column == value, ManageLinkRequest.requested_at > now - MANAGE_WINDOW)).one()
    if count >= limit:
        # Refused requests are not counted, so one more is accepted once the oldest counted one is a day old.
        retry_after = (oldest + MANAGE_WINDOW - now).total_seconds() if oldest is not None else 3600
        raise TooManyRequests(message, max(1, int(retry_after) + 1))


def request_manage_link(session: Session, address: Any, client: str, language: str, *, secret_key: str | bytes,
                        per_client: int, per_address: int) -> None:
    """Queue an email with a fresh management link to ``address`` when it has live subscriptions;
    nothing otherwise. The caller gives one answer either way, and every accepted request counts against
    the limits whatever the address has, so neither the answer nor the limits tell what it follows.

    Raises:
        Invalid: naming ``email``.
        TooManyRequests: ``per_client`` requests from ``client`` or ``per_address`` for ``address`` in the
            last day already.
    """
    from tracker.services import staff_mail

    checked = check_email(address).lower()
    client = (client or "unknown")[:64]
    digest = _address_digest(checked, secret_key)
    now = utcnow()
    # Requests older than the window count for nothing any more: forgotten, so the table stays a day long.
    session.execute(delete(ManageLinkRequest).where(ManageLinkRequest.requested_at <= now - MANAGE_WINDOW)
                    .execution_options(synchronize_session=False))
    _check_limit(session, ManageLinkRequest.client, client, per_client, now,
                 _("Too many links were asked for from your network today."))
    _check_limit(session, ManageLinkRequest.address_digest, digest, per_address, now,
                 _("Too many links were asked for this address today."))
    session.add(ManageLinkRequest(client=client, address_digest=digest, requested_at=now))
    if session.scalar(select(Subscription.id).where(_of_address(checked)).limit(1)) is not None:
        staff_mail.queue_to_address(session, "subscriptions_link", checked,
                                    {"language": language if language in LANGUAGES else "en"})
    session.flush()
