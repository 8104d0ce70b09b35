"""The notification worker: turns outbox events into deliveries, claims due ones with a lease, sends them.

Every step is its own short transaction, so a worker killed at any point loses nothing:
- fan-out inserts the deliveries of one event and marks it fanned out in one commit; the deliveries
  are unique per (event, subscription, channel) and inserted "on conflict do nothing", so a re-run
  never duplicates;
- a claim sets a lease (``lease_until``) on a batch of due deliveries; on PostgreSQL the rows are
  picked with ``FOR UPDATE SKIP LOCKED`` so several workers share the work, on SQLite the claim runs
  in a ``BEGIN IMMEDIATE`` transaction (one writer at a time). The lease is sized from what was
  claimed: its rounds of parallel sends, each at most WEBHOOK_TIMEOUT, plus one timeout of margin;
  a claim takes no more than fits in NOTIFY_LEASE_SECONDS, so a killed worker's deliveries are taken
  over within that bound (default settings: claims of 1–20 deliveries, leased 30–90 s);
- each outcome (with its DeliveryAttempt row) is committed on its own. A worker killed between a
  send and that commit leaves the lease to expire; the delivery is then sent again with the same
  ``webhook-id`` (at least once; receivers drop repeats by id).

Email is one delivery per matching subscription, but one message per group: the immediate deliveries
about one policy to one address in one language share a ``group_key`` and become due
NOTIFY_COALESCE_SECONDS after their change. Only a group's oldest open delivery (its leader) is ever
claimed; the claim then takes the rest of the group with it, due or not, and one message tells the net
change of all their events, naming every subscription it answers. So one event never makes two messages
to one address in one language, and a burst of edits makes one.
"""
from __future__ import annotations

import concurrent.futures
import datetime as dt
import hashlib
import logging
import math
import queue
import random
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, cast

from flask import Flask
from sqlalchemy import bindparam, exists, func, insert, or_, select, update
from sqlalchemy.orm import Session, aliased

from tracker.db import WRITE_OPTION, Database
from tracker.models import (
    Delivery,
    DeliveryAttempt,
    Jurisdiction,
    NotificationEvent,
    Subscription,
    User,
    WebhookEndpoint,
)
from tracker.models.notification import new_delivery_id
from tracker.models.types import utcnow
from tracker.models.worker_heartbeat import HeartbeatReporter
from tracker.notifications import coalescing, messages, staff
from tracker.notifications.channels import SendResult
from tracker.notifications.channels import webhook as webhook_channel
from tracker.notifications.channels.email import Mailer
from tracker.notifications.describe import describe_subscription
from tracker.notifications.matching import recipients
from tracker.notifications.payloads import absolute_urls

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement, Table

log = logging.getLogger(__name__)

# The Standard Webhooks schedule after the first try: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h
# (about 28 hours in all); then the message is dead.
RETRY_DELAYS = (5, 300, 1800, 7200, 18000, 36000, 36000)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
FINAL_STATES = ("delivered", "failed", "dead")
OPEN_STATES = ("pending", "retrying")
# What a group of deliveries records when its events cancel out (a date moved and moved back): nothing was
# sent, and the admin and status pages say so.
NO_NET_CHANGE = "Coalesced: no net change, nothing was sent"

# What sending a delivery needs: the delivery, its event, subscription, endpoint and the subscriber's address.
Loaded = tuple[Delivery, NotificationEvent, Subscription | None, WebhookEndpoint | None, str | None]
# An endpoint owner to tell: (address, endpoint URL, reason, disabled).
Notice = tuple[str, str, str, bool]
_Model = TypeVar("_Model", NotificationEvent, Subscription, WebhookEndpoint)


def backoff(attempts: int, scale: float = 1.0, retry_after: float | None = None) -> float:
    """Seconds to wait after the ``attempts``-th failed try: the schedule with ±20 % jitter (so
    receivers coming back are not hit by every retry at once), at least the receiver's Retry-After."""
    base = RETRY_DELAYS[min(max(attempts, 1), len(RETRY_DELAYS)) - 1]
    delay = base * random.uniform(0.8, 1.2)
    if retry_after is not None:
        delay = max(delay, min(retry_after, 86400.0))
    return delay * scale


@dataclass
class Report:
    """What one pass of the worker did."""

    fanned_out: int = 0
    created: int = 0
    claimed: int = 0
    staff_mail: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)

    def add(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    @property
    def idle(self) -> bool:
        return not (self.fanned_out or self.claimed or self.staff_mail)


class Worker:
    """One worker over one app's database (a thread in a web process, or `flask notify work`)."""

    def __init__(self, app: Flask) -> None:
        # Settings and their defaults: tracker.config.SETTINGS.
        self.app = app
        self.config = app.config
        self.database: Database = app.extensions["tracker.db"]
        self.mailer = Mailer(app.config, app.instance_path)
        # Registered by the loops that run until stopped (the embedded thread, `flask notify work`), not by
        # one-off passes (digests, tests): see start/stop of tracker.models.worker_heartbeat.
        self.heartbeat = HeartbeatReporter("notify", self.database.engine,
                                           interval=lambda: float(self.config["WORKER_HEARTBEAT_SECONDS"]))

    # -- sessions on the database itself (never a test's bound connection) --------------------------

    @property
    def postgresql(self) -> bool:
        return self.database.engine.dialect.name == "postgresql"

    def read_session(self) -> Session:
        return Session(bind=self.database.engine, expire_on_commit=False, autoflush=False)

    def write_session(self) -> Session:
        return Session(bind=self.database.engine.execution_options(**{WRITE_OPTION: True}),
                       expire_on_commit=False, autoflush=False)

    # -- fan-out ------------------------------------------------------------------------------------

    def fan_out(self, limit: int = 50) -> tuple[int, int]:
        """Create the deliveries of up to ``limit`` events; returns (events, deliveries created)."""
        events = created = 0
        with self.read_session() as session:
            if session.scalar(select(NotificationEvent.id).where(NotificationEvent.fanned_out_at.is_(None))
                              .limit(1)) is None:
                return 0, 0
        while events < limit:
            with self.write_session() as session:
                statement = (select(NotificationEvent).where(NotificationEvent.fanned_out_at.is_(None))
                             .order_by(NotificationEvent.id).limit(1))
                if self.postgresql:
                    statement = statement.with_for_update(skip_locked=True)
                event = session.scalars(statement).first()
                if event is None:
                    break
                created += self._create_deliveries(session, event)
                event.fanned_out_at = utcnow()
                session.commit()
            events += 1
        return events, created

    def _create_deliveries(self, session: Session, event: NotificationEvent) -> int:
        now = utcnow()
        window = dt.timedelta(seconds=max(0.0, float(self.config["NOTIFY_COALESCE_SECONDS"])))
        rows = []
        for recipient in recipients(session, event):
            digest = recipient.channel == "email" and recipient.cadence != "immediate"
            grouped = (recipient.channel == "email" and not digest and event.policy_id is not None
                       and recipient.address is not None)
            due: dt.datetime | None = now
            if digest:
                due = None  # digest rows wait (no due time) for the daily/weekly run
            elif grouped:
                due = max(now, event.occurred_at + window)  # later edits of the policy join this message
            rows.append({
                "public_id": new_delivery_id(), "event_id": event.id,
                "subscription_id": recipient.subscription_id or None,
                "webhook_endpoint_id": recipient.webhook_endpoint_id, "channel": recipient.channel,
                "group_key": group_key(recipient.address, recipient.language, event.policy_id) if grouped else None,
                "state": "pending", "attempts": 0, "next_attempt_at": due, "created_at": now,
            })
        if not rows:
            return 0
        if self.postgresql:
            from sqlalchemy.dialects.postgresql import insert as upsert
        else:
            from sqlalchemy.dialects.sqlite import insert as upsert  # type: ignore[assignment]
        table = cast("Table", Delivery.__table__)  # mapped with __tablename__: a Table
        keyed = [row for row in rows if row["subscription_id"] is not None]
        if keyed:
            statement = upsert(table).on_conflict_do_nothing(
                index_elements=["event_id", "subscription_id", "channel"])
            for start in range(0, len(keyed), 1000):
                session.execute(statement, keyed[start:start + 1000])
        for row in rows:
            if row["subscription_id"] is None:  # a test message to an endpoint
                session.execute(upsert(table).values(**row))
        return len(rows)

    # -- claims -------------------------------------------------------------------------------------

    def _due(self, now: dt.datetime) -> tuple[ColumnElement[bool], ...]:
        earlier = aliased(Delivery)
        # Of a group, only its oldest open delivery is claimed; it takes the others along (_gather).
        leader = or_(Delivery.group_key.is_(None),
                     ~exists().where(earlier.group_key == Delivery.group_key, earlier.state.in_(OPEN_STATES),
                                     earlier.id < Delivery.id))
        return (Delivery.state.in_(OPEN_STATES), Delivery.next_attempt_at <= now,
                or_(Delivery.lease_until.is_(None), Delivery.lease_until < now), leader)

    def lease_seconds(self, claimed: int) -> float:
        """How long a claim of ``claimed`` deliveries is leased: the sends of the claim, in rounds of
        NOTIFY_SEND_THREADS, each of at most WEBHOOK_TIMEOUT, plus one more timeout as a margin (for
        loading the batch, name resolution, recording the outcomes)."""
        threads = max(1, int(self.config["NOTIFY_SEND_THREADS"]))
        timeout = float(self.config["WEBHOOK_TIMEOUT"])
        return (math.ceil(max(claimed, 1) / threads) + 1) * timeout

    def claim_limit(self, batch: int) -> int:
        """At most ``batch``, and no more than can be sent within NOTIFY_LEASE_SECONDS: a killed worker's
        claim is then taken over by another worker within that time (90 s by default: claims of up to
        20 deliveries, leased 30–90 s). A single round of sends is always allowed."""
        threads = max(1, int(self.config["NOTIFY_SEND_THREADS"]))
        timeout = float(self.config["WEBHOOK_TIMEOUT"])
        rounds = max(1, math.floor(float(self.config["NOTIFY_LEASE_SECONDS"]) / timeout + 1e-9) - 1)
        return max(1, min(batch, rounds * threads))

    def claim(self, limit: int) -> list[tuple[int, str]]:
        """Lease up to ``limit`` due deliveries (fewer when their sends would outlast NOTIFY_LEASE_SECONDS)
        to this worker, for as long as sending the ones claimed can take: (id, channel) pairs."""
        limit = self.claim_limit(limit)
        now = utcnow()
        with self.read_session() as session:
            if session.scalar(select(Delivery.id).where(*self._due(now)).limit(1)) is None:
                return []
        with self.write_session() as session:
            statement = (select(Delivery.id, Delivery.channel).where(*self._due(now))
                         .order_by(Delivery.next_attempt_at, Delivery.id).limit(limit))
            if self.postgresql:
                statement = statement.with_for_update(skip_locked=True)
            claimed = [(row.id, row.channel) for row in session.execute(statement)]
            if claimed:
                session.execute(update(Delivery).where(Delivery.id.in_([i for i, _ in claimed]))
                                .values(lease_until=now + dt.timedelta(seconds=self.lease_seconds(len(claimed))),
                                        attempts=Delivery.attempts + 1)
                                .execution_options(synchronize_session=False))
            session.commit()
        return claimed

    def _gather(self, leaders: list[int]) -> dict[int, list[int]]:
        """Lease the rest of each claimed leader's group to this worker (under the leader's lease, due or
        not); returns each grouped leader's deliveries, the leader first. No other worker claims those
        rows meanwhile: they are not leaders while the leader is open."""
        if not leaders:
            return {}
        with self.write_session() as session:
            heads = session.execute(select(Delivery.id, Delivery.group_key, Delivery.lease_until).where(
                Delivery.id.in_(leaders), Delivery.group_key.is_not(None))).all()
            if not heads:
                session.commit()
                return {}
            by_key = {head.group_key: head for head in heads}
            statement = (select(Delivery.id, Delivery.group_key)
                         .where(Delivery.group_key.in_(list(by_key)), Delivery.state.in_(OPEN_STATES),
                                Delivery.id.not_in(leaders)).order_by(Delivery.id))
            if self.postgresql:
                statement = statement.with_for_update()
            members: dict[int, list[int]] = {head.id: [head.id] for head in heads}
            for row in session.execute(statement).all():
                members[by_key[row.group_key].id].append(row.id)
            for head in heads:
                others = members[head.id][1:]
                if others:
                    session.execute(update(Delivery).where(Delivery.id.in_(others))
                                    .values(lease_until=head.lease_until, attempts=Delivery.attempts + 1)
                                    .execution_options(synchronize_session=False))
            session.commit()
        return members

    def _country_names(self) -> dict[str, tuple[str, str | None]]:
        with self.read_session() as session:
            return {code: (english, lao) for code, english, lao in session.execute(
                select(Jurisdiction.code, Jurisdiction.name_en, Jurisdiction.name_lo))}

    # -- sending ------------------------------------------------------------------------------------

    def run_once(self, batch: int | None = None) -> Report:
        """Fan out waiting events, then claim and send one batch of due deliveries.

        Sends run in parallel threads (each email thread with its own SMTP connection); outcomes are
        committed as they come in, each as soon as it is known, several in one commit when several
        finished at once (group commit: one disk sync for all of them, none waiting for a send).
        """
        batch = batch or int(self.config["NOTIFY_BATCH_SIZE"])
        report = Report()
        report.fanned_out, report.created = self.fan_out()
        report.staff_mail = staff.send_due(self)
        claimed = self.claim(batch)
        report.claimed = len(claimed)
        if not claimed:
            return report
        groups = self._gather([delivery_id for delivery_id, channel in claimed if channel == "email"])
        units = [groups.get(delivery_id, [delivery_id]) for delivery_id, _ in claimed]
        contexts = self._load_many([delivery_id for unit in units for delivery_id in unit])
        countries = self._country_names() if groups else {}
        threads = max(1, min(int(self.config["NOTIFY_SEND_THREADS"]), len(units)))
        results: queue.Queue[tuple[int, SendResult | None]] = queue.Queue()
        mailers: list[Mailer] = []
        local = threading.local()

        def send(unit: list[int]) -> None:
            try:
                with self.app.app_context():
                    mailer = getattr(local, "mailer", None)
                    if mailer is None:
                        mailer = local.mailer = Mailer(self.config, self.app.instance_path)
                        mailers.append(mailer)
                    if len(unit) == 1 and unit[0] not in groups:
                        results.put((unit[0], self.attempt(unit[0], mailer, contexts.get(unit[0]))))
                    else:
                        for outcome in self.attempt_group(unit, mailer, contexts, countries):
                            results.put(outcome)
            except BaseException as error:  # never leave the collector waiting
                message = f"{error.__class__.__name__}: {error}"[:500]
                for delivery_id in unit:
                    results.put((delivery_id, SendResult("error", None, message)))

        expected = sum(len(unit) for unit in units)
        with concurrent.futures.ThreadPoolExecutor(threads, thread_name_prefix="notify-send") as pool:
            for unit in units:
                pool.submit(send, unit)
            received = 0
            while received < expected:
                done = [results.get()]
                while len(done) < 200:
                    try:
                        done.append(results.get_nowait())
                    except queue.Empty:
                        break
                received += len(done)
                for state in self.record_many(done):
                    report.add(state)
        for mailer in mailers:
            mailer.close()
        return report

    def run_until_idle(self, batch: int | None = None, *, stop: threading.Event | None = None) -> Report:
        """Repeat passes until nothing is due (retries scheduled later are left for later)."""
        total = Report()
        while stop is None or not stop.is_set():
            report = self.run_once(batch)
            self.heartbeat.worked(report.claimed)
            self.heartbeat.beat()
            total.fanned_out += report.fanned_out
            total.created += report.created
            total.claimed += report.claimed
            total.staff_mail += report.staff_mail
            for outcome, count in report.outcomes.items():
                total.outcomes[outcome] = total.outcomes.get(outcome, 0) + count
            if report.idle:
                break
        return total

    def process(self, delivery_id: int) -> str:
        """Send one claimed delivery and record the outcome; returns the state it ended in."""
        try:
            return self.record_many([(delivery_id, self.attempt(delivery_id, self.mailer))])[0]
        finally:
            self.mailer.close()

    def attempt(self, delivery_id: int, mailer: Mailer, loaded: Loaded | None = None) -> SendResult | None:
        """Send one claimed delivery (None: there is nothing to send any more)."""
        try:
            if loaded is None:
                with self.read_session() as session:
                    loaded = self._load(session, delivery_id)
            if loaded is None:
                return None
            delivery, event, subscription, endpoint, user_email = loaded
            return self._send(delivery, event, subscription, endpoint, user_email, mailer)
        except Exception as error:  # a bug must not stop the other deliveries; retried later
            log.exception("Sending delivery %s failed", delivery_id)
            return SendResult("error", None, f"{error.__class__.__name__}: {error}"[:500])

    def attempt_group(self, ids: list[int], mailer: Mailer, contexts: dict[int, Loaded],
                      countries: messages.CountryNames) -> list[tuple[int, SendResult | None]]:
        """Send a group of claimed email deliveries (one address, language, policy) as one message about
        the net change of their events; every delivery of the group gets the outcome of that message."""
        try:
            return self._send_group([contexts[i] for i in ids if i in contexts], mailer, countries) + \
                [(i, None) for i in ids if i not in contexts]
        except Exception as error:  # a bug must not stop the other deliveries; retried later
            log.exception("Sending deliveries %s failed", ids)
            return [(i, SendResult("error", None, f"{error.__class__.__name__}: {error}"[:500])) for i in ids]

    def _send_group(self, group: list[Loaded], mailer: Mailer,
                    countries: messages.CountryNames) -> list[tuple[int, SendResult | None]]:
        outcomes: list[tuple[int, SendResult | None]] = []
        live: list[Loaded] = []
        for loaded in group:
            delivery, _event, subscription, _endpoint, user_email = loaded
            if subscription is None or subscription.unsubscribed_at is not None:
                cancelled = SendResult("failed", None, "The subscription was cancelled before sending")
                outcomes.append((delivery.id, cancelled))
            elif subscription.confirmed_at is None:
                outcomes.append((delivery.id, SendResult("failed", None, "The subscription is not confirmed")))
            elif not (subscription.email or user_email):
                outcomes.append((delivery.id, SendResult("failed", None, "No email address to send to")))
            else:
                live.append(loaded)
        if not live:
            return outcomes
        leader, _, leader_subscription, _, leader_email = live[0]
        assert leader_subscription is not None
        address = leader_subscription.email or leader_email or ""
        events = sorted({event.id: event for _, event, _, _, _ in live}.values(), key=lambda e: (e.occurred_at, e.id))
        items = [{"type": event.type, "data": absolute_urls(dict(event.payload or {})),
                  "occurred_at": event.occurred_at} for event in events]
        told = coalescing.net_changes(items)
        if not told:
            result = SendResult("delivered", None, NO_NET_CHANGE)
        else:
            subscriptions = sorted({s.id: s for _, _, s, _, _ in live if s is not None}.values(), key=lambda s: s.id)
            language = leader_subscription.language
            with messages.language(language):
                answered = [messages.Answered(s.public_id, describe_subscription(s)) for s in subscriptions]
            message = messages.update_email(to=address, lang=language, items=told, answered=answered,
                                            message_public_id=leader.public_id, countries=countries)
            result = mailer.send(message, leader.public_id)
        return outcomes + [(delivery.id, result) for delivery, _, _, _, _ in live]

    def _load_many(self, ids: list[int]) -> dict[int, Loaded]:
        """What sending each delivery needs, read in a few queries for the whole batch."""
        with self.read_session() as session:
            deliveries = [d for d in session.scalars(select(Delivery).where(Delivery.id.in_(ids)))
                          if d.state not in FINAL_STATES]

            # Looked up by nullable foreign keys: None is never a key, so it finds nothing.
            def by_id(model: type[_Model], wanted: Iterable[int | None]) -> dict[int | None, _Model]:
                wanted = {i for i in wanted if i is not None}
                if not wanted:
                    return {}
                return {o.id: o for o in session.scalars(select(model).where(model.id.in_(wanted)))}

            events = by_id(NotificationEvent, (d.event_id for d in deliveries))
            subscriptions = by_id(Subscription, (d.subscription_id for d in deliveries))
            endpoints = by_id(WebhookEndpoint, (d.webhook_endpoint_id for d in deliveries))
            user_ids = {s.user_id for s in subscriptions.values() if s.user_id is not None}
            emails: dict[int | None, str]
            emails = dict(session.execute(select(User.id, User.email).where(User.id.in_(user_ids))).all()) \
                if user_ids else {}
        def user_email(d: Delivery) -> str | None:
            subscription = subscriptions.get(d.subscription_id)
            return emails.get(subscription.user_id) if subscription is not None else None

        return {d.id: (d, events[d.event_id], subscriptions.get(d.subscription_id),
                       endpoints.get(d.webhook_endpoint_id), user_email(d))
                for d in deliveries if d.event_id in events}

    def _load(self, session: Session, delivery_id: int) -> Loaded | None:
        delivery = session.get(Delivery, delivery_id)
        if delivery is None or delivery.state in FINAL_STATES:
            return None
        event = session.get(NotificationEvent, delivery.event_id)
        assert event is not None  # event_id is a foreign key, and deleting the event deletes its deliveries
        subscription = (session.get(Subscription, delivery.subscription_id)
                        if delivery.subscription_id else None)
        endpoint = (session.get(WebhookEndpoint, delivery.webhook_endpoint_id)
                    if delivery.webhook_endpoint_id else None)
        user_email = None
        if subscription is not None and subscription.user_id is not None:
            user_email = session.scalar(select(User.email).where(User.id == subscription.user_id))
        return delivery, event, subscription, endpoint, user_email

    def _send(self, delivery: Delivery, event: NotificationEvent, subscription: Subscription | None,
              endpoint: WebhookEndpoint | None, user_email: str | None, mailer: Mailer) -> SendResult:
        if subscription is not None and subscription.unsubscribed_at is not None:
            return SendResult("failed", None, "The subscription was cancelled before sending")
        unconfirmed = subscription is not None and subscription.confirmed_at is None
        if unconfirmed and event.type != "subscription.confirm":
            return SendResult("failed", None, "The subscription is not confirmed")
        if delivery.channel == "webhook":
            if endpoint is None:
                return SendResult("failed", None, "The webhook endpoint no longer exists")
            if endpoint.disabled_at is not None and event.type != "webhook.test":
                return SendResult("failed", None, "The webhook endpoint is disabled")
            secrets = [endpoint.secret]
            if endpoint.previous_secret and endpoint.previous_secret_expires_at and \
                    endpoint.previous_secret_expires_at > utcnow():
                secrets.append(endpoint.previous_secret)
            body = webhook_channel.message_body(event.type, _iso(event.occurred_at),
                                                absolute_urls(event.payload or {}))
            return webhook_channel.send(
                endpoint.url, secrets, delivery.public_id, body,
                timeout=float(self.config["WEBHOOK_TIMEOUT"]),
                allow_loopback=bool(self.config["NOTIFY_ALLOW_LOOPBACK"]),
                require_https=bool(self.config["NOTIFY_REQUIRE_HTTPS"]))
        address = (subscription.email if subscription is not None else None) or user_email
        if subscription is None or not address:
            return SendResult("failed", None, "No email address to send to")
        if event.type == "subscription.confirm":
            message = messages.confirmation_email(
                to=address, lang=subscription.language, subscription_public_id=subscription.public_id,
                delivery_public_id=delivery.public_id, description=describe_subscription(subscription))
        else:
            with messages.language(subscription.language):
                description = describe_subscription(subscription)
            message = messages.notification_email(
                to=address, lang=subscription.language, event_type=event.type,
                data=absolute_urls(event.payload or {}), delivery_public_id=delivery.public_id,
                subscription_public_id=subscription.public_id, description=description)
        return mailer.send(message, delivery.public_id)

    def record(self, delivery_id: int, result: SendResult) -> str:
        """Commit the outcome of one try (and its attempt row)."""
        return self.record_many([(delivery_id, result)])[0]

    def record_many(self, outcomes: list[tuple[int, SendResult | None]]) -> list[str]:
        """Commit the outcomes of tries that have finished (with their attempt rows), in one commit.

        Plain UPDATE/INSERT statements run for many rows at once: recording must cost far less than
        sending, or it becomes the bottleneck of a large fan-out."""
        now = utcnow()
        scale = float(self.config["NOTIFY_BACKOFF_SCALE"])
        notices: list[Notice] = []
        states: list[str] = []
        table = cast("Table", Delivery.__table__)  # mapped with __tablename__: a Table
        with self.write_session() as session:
            ids = [delivery_id for delivery_id, _ in outcomes]
            current = {row.id: row for row in session.execute(
                select(table.c.id, table.c.state, table.c.attempts, table.c.webhook_endpoint_id,
                       table.c.next_attempt_at, table.c.delivered_at).where(table.c.id.in_(ids)))}
            changes: list[dict[str, Any]] = []
            attempts: list[dict[str, Any]] = []
            healthy: set[int] = set()
            failing: set[int] = set()
            gone: set[int] = set()
            dead: set[int] = set()
            for delivery_id, result in outcomes:
                row = current.get(delivery_id)
                if row is None or result is None:
                    states.append("gone")
                    continue
                if row.state in FINAL_STATES:  # another worker finished it after our lease ran out
                    states.append(row.state)
                    continue
                state, next_attempt_at, delivered_at = row.state, row.next_attempt_at, row.delivered_at
                if result.outcome == "delivered":
                    state, delivered_at, attempt_outcome = "delivered", now, "delivered"
                    if row.webhook_endpoint_id:
                        healthy.add(row.webhook_endpoint_id)
                elif result.outcome in ("retry", "error"):
                    if row.attempts >= MAX_ATTEMPTS:
                        state = attempt_outcome = "dead"
                        if row.webhook_endpoint_id:
                            dead.add(row.webhook_endpoint_id)
                    else:
                        state = "retrying"
                        attempt_outcome = "retry" if result.outcome == "retry" else "error"
                        delay = backoff(row.attempts, scale, result.retry_after)
                        next_attempt_at = now + dt.timedelta(seconds=delay)
                    if row.webhook_endpoint_id:
                        failing.add(row.webhook_endpoint_id)
                else:  # failed, or gone (410: the receiver asks to be disabled)
                    state = attempt_outcome = "failed"
                    if result.outcome == "gone" and row.webhook_endpoint_id:
                        gone.add(row.webhook_endpoint_id)
                changes.append({"b_id": delivery_id, "b_state": state, "b_next": next_attempt_at,
                                "b_delivered": delivered_at, "b_code": result.status_code,
                                "b_error": result.error})
                attempts.append({"delivery_id": delivery_id, "attempted_at": now, "outcome": attempt_outcome,
                                 "status_code": result.status_code, "error": result.error,
                                 "duration_ms": result.duration_ms})
                states.append(state)
            if changes:
                session.execute(
                    update(table).where(table.c.id == bindparam("b_id")).values(
                        state=bindparam("b_state"), next_attempt_at=bindparam("b_next"),
                        delivered_at=bindparam("b_delivered"), lease_until=None,
                        last_status_code=bindparam("b_code"), last_error=bindparam("b_error")),
                    changes, execution_options={"synchronize_session": False})
                session.execute(insert(cast("Table", DeliveryAttempt.__table__)), attempts)
            endpoints = cast("Table", WebhookEndpoint.__table__)
            if healthy - failing:
                session.execute(update(endpoints).where(endpoints.c.id.in_(healthy - failing),
                                                        endpoints.c.failing_since.is_not(None))
                                .values(failing_since=None))
            if failing:
                session.execute(update(endpoints).where(endpoints.c.id.in_(failing),
                                                        endpoints.c.failing_since.is_(None))
                                .values(failing_since=now))
            for endpoint_id in gone | dead:
                endpoint = session.get(WebhookEndpoint, endpoint_id)
                if endpoint is None or endpoint.disabled_at is not None:
                    continue
                if endpoint_id in gone:
                    endpoint.disabled_at, endpoint.disabled_reason = now, "The receiver answered 410 Gone"
                    notice = self._owner_notice(session, endpoint, True)
                else:
                    notice = self._maybe_disable(session, endpoint, now)
                if notice is not None:
                    notices.append(notice)
            session.commit()
        for notice in notices:
            self._send_notice(*notice)
        return states

    def _maybe_disable(self, session: Session, endpoint: WebhookEndpoint, now: dt.datetime) -> Notice | None:
        limit = dt.timedelta(days=float(self.config["NOTIFY_DISABLE_AFTER_DAYS"]))
        failing_since = endpoint.failing_since
        if endpoint.disabled_at is None and failing_since is not None and now - failing_since >= limit:
            endpoint.disabled_at = now
            endpoint.disabled_reason = f"Every delivery failed for {limit.days} days"
            return self._owner_notice(session, endpoint, True)
        return None

    def _owner_notice(self, session: Session, endpoint: WebhookEndpoint, disabled: bool) -> Notice | None:
        email = session.scalar(select(User.email).where(User.id == endpoint.user_id))
        return (email, endpoint.url, endpoint.disabled_reason or "", disabled) if email else None

    def _send_notice(self, to: str, url: str, reason: str, disabled: bool) -> None:
        """Best effort: the endpoint's state is already committed and shown in the account pages."""
        try:
            with self.app.app_context():
                message = messages.endpoint_notice_email(to=to, url=url, reason=reason, disabled=disabled)
                self.mailer.send(message, f"endpoint-{int(time.time() * 1000)}")
        except Exception:
            log.exception("Could not email the owner of webhook endpoint %s", url)
        finally:
            self.mailer.close()

    # -- status -------------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """Counts of deliveries by state, events waiting for fan-out, disabled and failing endpoints."""
        with self.read_session() as session:
            states = dict(session.execute(select(Delivery.state, func.count())
                                          .group_by(Delivery.state)).all())
            waiting_digest = session.scalar(select(func.count()).select_from(Delivery).where(
                Delivery.state == "pending", Delivery.next_attempt_at.is_(None)))
            events = session.scalar(select(func.count()).select_from(NotificationEvent).where(
                NotificationEvent.fanned_out_at.is_(None)))
            failing = session.scalar(select(func.count()).select_from(WebhookEndpoint).where(
                WebhookEndpoint.failing_since.is_not(None), WebhookEndpoint.disabled_at.is_(None)))
            disabled = session.scalar(select(func.count()).select_from(WebhookEndpoint).where(
                WebhookEndpoint.disabled_at.is_not(None)))
        return {"states": {state: states.get(state, 0) for state in
                           ("pending", "retrying", "delivered", "failed", "dead")},
                "waiting_for_digest": waiting_digest, "events_waiting": events,
                "endpoints_failing": failing, "endpoints_disabled": disabled}


def group_key(address: str | None, language: str, policy_id: int | None) -> str:
    """The key shared by the immediate email deliveries sent as one message: one address (whatever its
    case), one language, one policy."""
    material = f"{(address or '').strip().lower()}|{language}|immediate|{policy_id}"
    return hashlib.sha256(material.encode()).hexdigest()[:40]


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")

