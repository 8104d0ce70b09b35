"""The delivery records partners and administrators look at: an endpoint's messages, counts and lists by
state, retrying one, clearing dead or failed ones, and the endpoints that are failing."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload, selectinload

from tracker.errors import Conflict, Invalid, NotFound
from tracker.models import User
from tracker.models.notification import DELIVERY_STATES, Delivery, Subscription, WebhookEndpoint
from tracker.models.types import utcnow
from tracker.notifications import retention
from tracker.pagination import Page, PageRequest, check_page_in_range
from tracker.services.webhook_endpoints import MAX_ID, get_endpoint
from tracker.translation import gettext as _

if TYPE_CHECKING:
    from sqlalchemy import Select

RETRYABLE_STATES = ("pending", "retrying", "failed", "dead")
CLEARABLE_STATES = retention.CLEARABLE_STATES  # kept by the daily prune until an admin clears them


def _deliveries_statement() -> Select[Delivery]:
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
    # Keyed by int | None as the column is (never NULL here: IN (the endpoints' ids)).
    counts: dict[int | None, int] = {}
    if endpoints:
        counts = dict(session.execute(
            select(Delivery.webhook_endpoint_id, func.count(Delivery.id))
            .where(Delivery.webhook_endpoint_id.in_([e.id for e in endpoints]),
                   Delivery.state.in_(("retrying", "failed", "dead")))
            .group_by(Delivery.webhook_endpoint_id)).all())
    return [FailingEndpoint(endpoint, counts.get(endpoint.id, 0)) for endpoint in endpoints]


def clear_deliveries(session: Session, state: object, before: object = None) -> retention.Removed:
    """Delete the dead or failed deliveries (with their attempts), those created before the day
    ``before`` (YYYY-MM-DD, UTC) when it is given.

    Raises:
        Invalid: naming ``state`` (not dead or failed) or ``before`` (not a day).
    """
    if state not in retention.CLEARABLE_STATES:
        raise Invalid(_("Only dead or failed deliveries can be cleared."),
                      {"state": _("Choose dead or failed deliveries.")})
    cutoff = None
    if before not in (None, ""):
        try:
            day = dt.date.fromisoformat(str(before))
        except ValueError:
            raise Invalid(_("The day is not valid."), {"before": _("Give a day such as 2026-12-31.")}) from None
        cutoff = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    return retention.clear(session, str(state), before=cutoff)
