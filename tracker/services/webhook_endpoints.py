"""Partners' webhook endpoints: creating one (with its signing secret), rotating and re-enabling it,
deleting it, and sending it a test message."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tracker.errors import Conflict, Invalid, NotFound
from tracker.models import User
from tracker.models.notification import NotificationEvent, WebhookEndpoint
from tracker.models.types import utcnow
from tracker.services.permissions import require
from tracker.translation import gettext as _

MAX_ENDPOINTS_PER_USER = 20
# Test messages an endpoint may be sent per hour: enough to debug a receiver, too few to make the
# tracker a tool for flooding a URL that someone else owns.
MAX_TESTS_PER_ENDPOINT_PER_HOUR = 10
# During a rotation the old secret keeps signing (beside the new one) for this long.
ROTATION_OVERLAP = dt.timedelta(hours=24)
# A second rotation this soon after the first is a double click or a reloaded form: it would drop the
# secret the receiver still uses, so it is refused.
ROTATION_PAUSE = dt.timedelta(minutes=10)
# Ids in URLs beyond what an INTEGER column holds cannot name a row (and would overflow the driver).
MAX_ID = 2**31 - 1


def _check_url(url: object, *, allow_loopback: bool, require_https: bool) -> str:
    """The URL as it will be stored, shown and sent (host in IDNA form, path and query percent-encoded)."""
    from tracker.notifications.ssrf import check_url

    if not isinstance(url, str) or not url.strip():
        raise Invalid(_("A URL is needed."), {"url": _("Give the https URL that receives the webhooks.")})
    return check_url(url, allow_loopback=allow_loopback, require_https=require_https)


def _check_description(description: Any) -> str | None:
    if description is None:
        return None
    if not isinstance(description, str) or len(description.strip()) > 200:
        raise Invalid(_("The description is too long."), {"description": _("Use at most 200 characters.")})
    return description.strip() or None


def create_endpoint(session: Session, user: User, url: Any, description: Any = None, *, allow_loopback: bool,
                    require_https: bool) -> tuple[WebhookEndpoint, str]:
    """A new webhook endpoint of ``user``, with its signing secret (returned here, shown once).

    The URL is stored normalised, as it is sent: an internationalised host in its ``xn--`` form, a
    non-ASCII path or query percent-encoded as UTF-8, the default port left out.

    Raises:
        Invalid: naming ``url`` (malformed, with a user name, a fragment, spaces or a bad port, too long
            once encoded, not https in production, or resolving to a non-public address) or
            ``description``; too many endpoints.
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
    event = record_event(session, "webhook.test", endpoint=endpoint, payload={
        "message": "A test message from the EV policy tracker.", "endpoint_id": endpoint.id,
        "url": endpoint.url})
    assert event is not None  # record_event returns None only for a repeated dedupe_key, and none is given
    return event
