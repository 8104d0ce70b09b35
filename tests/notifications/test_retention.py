"""Retention: delivered deliveries older than NOTIFY_KEEP_DAYS go (with their attempts), daily in the
embedded worker or by `flask notify prune`; dead and failed ones stay until an admin clears them (command
or page); email subscriptions never confirmed go once their confirmation link has expired."""
from __future__ import annotations

import datetime as dt
import time

from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import func, select, update

from tests.integration.test_subscriptions import csrf
from tests.integration.test_subscriptions_webhooks import make_deliveries, make_endpoint
from tracker.db import unit_of_work
from tracker.models import Delivery, DeliveryAttempt, NotificationEvent, Subscription
from tracker.models.types import utcnow
from tracker.notifications.runtime import runtime_of

DAY = dt.timedelta(days=1)


def _deliveries(notify, state: str, age_days: float, count: int = 1) -> list[int]:
    """``count`` deliveries in ``state`` (two attempts each), created and finished ``age_days`` ago."""
    when = utcnow() - age_days * DAY
    with unit_of_work(notify.session()) as session:
        endpoint = make_endpoint(session, notify.partner)
        ids = [d.id for d in make_deliveries(session, endpoint, count, state)]
        session.execute(update(Delivery).where(Delivery.id.in_(ids)).values(
            created_at=when, delivered_at=when if state == "delivered" else None))
    return ids


def _left(notify) -> dict[int, str]:
    with notify.session() as session:
        return dict(session.execute(select(Delivery.id, Delivery.state)).all())


def _attempts(notify, ids: list[int]) -> int:
    with notify.session() as session:
        return session.scalar(select(func.count()).select_from(DeliveryAttempt)
                              .where(DeliveryAttempt.delivery_id.in_(ids)))


def _cli(notify, *args: str):
    return notify.app.test_cli_runner().invoke(args=["notify", *args], catch_exceptions=False)


def test_prune_removes_old_delivered_deliveries_and_keeps_dead_failed_and_recent_ones(notify):
    old = _deliveries(notify, "delivered", 91, 3)
    recent = _deliveries(notify, "delivered", 89)
    dead = _deliveries(notify, "dead", 200)
    failed = _deliveries(notify, "failed", 200)
    pending = _deliveries(notify, "pending", 200)

    dry = _cli(notify, "prune", "--dry-run")
    assert dry.exit_code == 0
    assert "Would remove 3 deliveries with 6 attempts, and 0 unconfirmed email subscriptions." in dry.output
    assert len(_left(notify)) == 7, "a dry run removes nothing"

    done = _cli(notify, "prune")
    assert "Removed 3 deliveries with 6 attempts" in done.output
    assert set(_left(notify)) == set(recent + dead + failed + pending)
    assert _attempts(notify, old) == 0 and _attempts(notify, dead) == 2

    notify.app.config["NOTIFY_KEEP_DAYS"] = 30
    assert "Removed 1 deliveries" in _cli(notify, "prune").output
    assert set(_left(notify)) == set(dead + failed + pending)


def test_clear_removes_dead_or_failed_deliveries_before_a_day(notify):
    old_dead = _deliveries(notify, "dead", 40, 2)
    new_dead = _deliveries(notify, "dead", 2)
    failed = _deliveries(notify, "failed", 40)
    before = (utcnow() - 10 * DAY).date().isoformat()

    dry = _cli(notify, "clear", "--state", "dead", "--before", before, "--dry-run")
    assert "Would remove 2 dead deliveries with 4 attempts." in dry.output
    assert len(_left(notify)) == 4

    assert "Removed 2 dead deliveries" in _cli(notify, "clear", "--state", "dead", "--before", before).output
    assert set(_left(notify)) == set(new_dead + failed)
    assert _attempts(notify, old_dead) == 0
    assert "Removed 1 failed deliveries" in _cli(notify, "clear", "--state", "failed").output
    assert set(_left(notify)) == set(new_dead)


def test_clear_refuses_other_states_and_bad_days_and_removes_nothing(notify):
    _deliveries(notify, "delivered", 200)
    _deliveries(notify, "dead", 200)
    refused = notify.app.test_cli_runner().invoke(args=["notify", "clear", "--state", "delivered"])
    assert refused.exit_code == 2 and "'delivered' is not one of 'dead', 'failed'" in refused.output
    bad_day = notify.app.test_cli_runner().invoke(args=["notify", "clear", "--state", "dead", "--before",
                                                        "31/12/2026"])
    assert bad_day.exit_code == 2 and "is not a date such as 2026-12-31" in bad_day.output
    assert len(_left(notify)) == 2


def _unconfirmed(notify, email: str, age_days: float, last_request_days: float) -> Subscription:
    """An email subscription (no account) never confirmed, with its confirmation request event."""
    with unit_of_work(notify.session()) as session:
        subscription = Subscription(email=email, channel="email", target_kind="country", target_value="LA",
                                    created_at=utcnow() - age_days * DAY)
        session.add(subscription)
        session.flush()
        session.add(NotificationEvent(type="subscription.confirm", subscription_id=subscription.id,
                                      payload={"email": email}, fanned_out_at=utcnow(),
                                      occurred_at=utcnow() - last_request_days * DAY))
    return subscription


def _confirm_token(notify, public_id: str, age_days: float) -> str:
    """A confirmation link's token signed ``age_days`` ago, as the email sent then carried it."""
    class Then(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time() - age_days * 86400)

    return URLSafeTimedSerializer(notify.app.config["SECRET_KEY"], salt="tracker.notify.confirm",
                                  signer=Then).dumps(public_id)


def test_unconfirmed_email_subscriptions_expire_after_seven_days_and_their_link_says_so(notify):
    expired = _unconfirmed(notify, "late@example.org", 8, 8)
    asked_again = _unconfirmed(notify, "again@example.org", 20, 1)  # a fresh link was sent yesterday
    fresh = _unconfirmed(notify, "fresh@example.org", 2, 2)
    confirmed = notify.subscribe(email_address="yes@example.org", kind="country", value="LA")
    with unit_of_work(notify.session()) as session:
        session.execute(update(Subscription).where(Subscription.id == confirmed.id)
                        .values(created_at=utcnow() - 30 * DAY))
    client = notify.app.test_client()
    old_link = f"/subscriptions/confirm/{_confirm_token(notify, expired.public_id, 8)}"
    expired_page = client.get(old_link, headers={"Accept-Language": "en"})
    assert expired_page.status_code == 400 and "This link has expired" in expired_page.get_data(as_text=True)

    assert "and 1 unconfirmed email subscriptions" in _cli(notify, "prune", "--dry-run").output
    assert "and 1 unconfirmed email subscriptions" in _cli(notify, "prune").output
    with notify.session() as session:
        left = set(session.scalars(select(Subscription.email)))
        events = session.scalar(select(func.count()).select_from(NotificationEvent)
                                .where(NotificationEvent.subscription_id == expired.id))
    assert left == {"again@example.org", "fresh@example.org", "yes@example.org"}
    assert events == 0
    assert client.get(old_link).status_code == 400  # still says it has expired (the token is read first)
    assert "This link has expired" in client.get(old_link).get_data(as_text=True)
    live_link = f"/subscriptions/confirm/{_confirm_token(notify, asked_again.public_id, 1)}"
    assert client.get(live_link).status_code == 200
    assert fresh.public_id


def test_the_embedded_worker_prunes_once_a_day(notify):
    runtime = runtime_of(notify.app)
    first = _deliveries(notify, "delivered", 100)
    with notify.app.app_context():
        runtime._scheduled()
    assert not set(first) & set(_left(notify))
    second = _deliveries(notify, "delivered", 100)
    with notify.app.app_context():
        runtime._scheduled()  # the same day: pruned already
    assert set(second) <= set(_left(notify))


def test_an_admin_clears_dead_deliveries_from_the_page(app, client, session, login_as, users):
    endpoint = make_endpoint(session, users["partner"])
    dead = [d.id for d in make_deliveries(session, endpoint, 2, "dead")]
    failed = [d.id for d in make_deliveries(session, endpoint, 1, "failed")]
    session.commit()
    login_as("admin")
    page = client.get("/admin/deliveries?state=dead").get_data(as_text=True)
    assert 'id="clear-deliveries"' in page and 'name="csrf_token"' in page
    assert 'id="clear-deliveries"' not in client.get("/admin/deliveries?state=delivered").get_data(as_text=True)

    assert client.post("/admin/deliveries/clear", data={"state": "dead"}).status_code == 400  # no CSRF token
    refused = client.post("/admin/deliveries/clear", data={"state": "delivered", "csrf_token": csrf(app, client)})
    assert refused.status_code == 400 and "Choose dead or failed deliveries." in refused.get_data(as_text=True)
    bad_day = client.post("/admin/deliveries/clear", data={"state": "dead", "before": "yesterday",
                                                           "csrf_token": csrf(app, client)})
    assert bad_day.status_code == 400 and "2026-12-31" in bad_day.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(Delivery).where(Delivery.id.in_(dead))) == 2

    cleared = client.post("/admin/deliveries/clear", data={"state": "dead", "csrf_token": csrf(app, client)})
    assert cleared.status_code == 302
    assert "2 deliveries were cleared." in client.get(cleared.headers["Location"]).get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(Delivery).where(Delivery.id.in_(dead))) == 0
    assert session.scalar(select(func.count()).select_from(Delivery).where(Delivery.id.in_(failed))) == 1
