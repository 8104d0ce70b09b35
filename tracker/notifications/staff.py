"""Sending staff mail (resets, reviews, decisions) and mail to addresses from its outbox, in each reader's language.

Rows are claimed with a lease like deliveries (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), sent over the
worker's mailer, and retried on temporary failures; each outcome is committed on its own. A row is
rendered only when it is sent, so a password reset link is made then and never stored.
"""
from __future__ import annotations

import datetime as dt
import logging
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

from flask import current_app
from sqlalchemy import or_, select, update

from tracker.models import StaffMail, User
from tracker.models.types import utcnow
from tracker.notifications import messages
from tracker.notifications.channels.email import build_message
from tracker.notifications.payloads import external_url
from tracker.notifications.tokens import make_password_reset_token

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement

    from tracker.notifications.worker import Worker

    # flask_babel has no type information: its gettext, as it is called here.
    def _(string: str, **variables: Any) -> str: ...
else:
    from tracker.translation import gettext as _

log = logging.getLogger(__name__)

# Retries after a temporary failure: 1 min, 5 min, 30 min, 2 h, 6 h; then the message has failed.
RETRY_DELAYS = (60, 300, 1800, 7200, 21600)
LEASE_SECONDS = 120
RECORD_PATHS = {"policy": "/policies/{key}", "event": "/events/{key}", "organisation": "/organisations/{key}"}


def record_title(payload: dict[str, Any], lang: str) -> str:
    """The record's title (or name) in ``lang`` when it has one, else in the other language."""
    first, second = (payload.get("title_lo"), payload.get("title_en")) if lang == "lo" else (
        payload.get("title_en"), payload.get("title_lo"))
    title = str(first or second or payload.get("key") or "")
    return title if len(title) <= 120 else title[:117] + "..."


def _subject(kind: str, payload: dict[str, Any], lang: str) -> str:
    title = record_title(payload, lang)
    return {
        "password_reset": lambda: _("Reset your password"),
        "review_requested": lambda: _("For review: %(title)s", title=title),
        "record_published": lambda: _("Published: %(title)s", title=title),
        "record_sent_back": lambda: _("Sent back to you: %(title)s", title=title),
        "proposal_submitted": lambda: _("Proposed change for review: %(title)s", title=title),
        "proposal_approved": lambda: _("Your proposed change was approved: %(title)s", title=title),
        "proposal_rejected": lambda: _("Your proposed change was not approved: %(title)s", title=title),
    }[kind]()


def staff_email(mail: StaffMail, user: User) -> EmailMessage:
    """The message of ``mail`` to ``user``, rendered in the user's language."""
    lang = user.language or "en"
    payload = dict(mail.payload or {})
    with messages.language(lang):
        links: dict[str, str] = {}
        if mail.kind == "password_reset":
            token = make_password_reset_token(user, current_app.config["SECRET_KEY"])
            links["reset"] = external_url(f"/password-reset/{token}")
            links["request"] = external_url("/password-reset")
        if payload.get("entity_type") in RECORD_PATHS and payload.get("key"):
            links["record"] = external_url(RECORD_PATHS[payload["entity_type"]].format(key=payload["key"]))
        if payload.get("proposal_id"):
            links["proposal"] = external_url(f"/review/proposals/{payload['proposal_id']}")
        links["review"] = external_url("/review")
        links["account"] = external_url("/account")
        text, html = messages.render("staff", kind=mail.kind, payload=payload, links=links, lang=lang,
                                     recipient=user.display_name or user.email,
                                     title=record_title(payload, lang))
        subject = _subject(mail.kind, payload, lang)
    return build_message(sender=messages._sender(), to=user.email, subject=subject, text=text, html=html,
                         message_id=messages.message_id(f"staff-{mail.id}"))


def address_email(mail: StaffMail) -> EmailMessage:
    """A message to an address that may have no account (``mail.email``), in the language it was asked in.

    Only 'subscriptions_link' is sent this way: a fresh link to the page managing every subscription of the
    address, made now (never stored) and valid for 30 days."""
    assert mail.email is not None and mail.kind == "subscriptions_link"
    lang = str((mail.payload or {}).get("language") or "en")
    with messages.language(lang):
        text, html = messages.render("manage_link", lang=lang, manage_url=messages.manage_url(mail.email),
                                     request_url=external_url("/subscriptions/manage"))
        subject = _("Manage your subscriptions to the EV Policy Tracker")
    return build_message(sender=messages._sender(), to=mail.email, subject=subject, text=text, html=html,
                         message_id=messages.message_id(f"staff-{mail.id}"))


def _due(now: dt.datetime) -> tuple[ColumnElement[bool], ...]:
    return (StaffMail.state == "pending", StaffMail.next_attempt_at <= now,
            or_(StaffMail.lease_until.is_(None), StaffMail.lease_until < now))


def send_due(worker: Worker, limit: int = 50) -> int:
    """Claim and send up to ``limit`` due messages; returns how many were claimed."""
    now = utcnow()
    with worker.read_session() as session:
        if session.scalar(select(StaffMail.id).where(*_due(now)).limit(1)) is None:
            return 0
    with worker.write_session() as session:
        statement = select(StaffMail.id).where(*_due(now)).order_by(StaffMail.id).limit(limit)
        if worker.postgresql:
            statement = statement.with_for_update(skip_locked=True)
        claimed = list(session.scalars(statement))
        if claimed:
            session.execute(update(StaffMail).where(StaffMail.id.in_(claimed))
                            .values(lease_until=now + dt.timedelta(seconds=LEASE_SECONDS),
                                    attempts=StaffMail.attempts + 1)
                            .execution_options(synchronize_session=False))
        session.commit()
    try:
        for mail_id in claimed:
            _send_one(worker, mail_id)
    finally:
        worker.mailer.close()
    return len(claimed)


def _send_one(worker: Worker, mail_id: int) -> None:
    with worker.read_session() as session:
        mail = session.get(StaffMail, mail_id)
        user = session.get(User, mail.user_id) if mail is not None and mail.user_id is not None else None
        if mail is None or mail.state != "pending":
            return
        error: str | None
        if mail.user_id is None:
            try:
                result = worker.mailer.send(address_email(mail), f"staff-{mail.id}")
                outcome, error = result.outcome, result.error
            except Exception as failure:  # as below: retried, never stopping the others
                log.exception("Sending mail %s to an address failed", mail_id)
                outcome, error = "retry", f"{failure.__class__.__name__}: {failure}"[:500]
        elif user is None or not user.is_active:
            outcome, error = "failed", "The account is disabled or gone."
        else:
            try:
                result = worker.mailer.send(staff_email(mail, user), f"staff-{mail.id}")
                outcome, error = result.outcome, result.error
            except Exception as failure:  # a bug in one message must not stop the others; retried
                log.exception("Sending staff mail %s failed", mail_id)
                outcome, error = "retry", f"{failure.__class__.__name__}: {failure}"[:500]
        attempts = mail.attempts
    now = utcnow()
    if outcome == "delivered":
        values: dict[str, Any] = {"state": "sent", "sent_at": now, "last_error": None}
    elif outcome == "failed" or attempts > len(RETRY_DELAYS):
        values = {"state": "failed", "last_error": error}
    else:
        values = {"next_attempt_at": now + dt.timedelta(seconds=RETRY_DELAYS[attempts - 1]), "last_error": error}
    with worker.write_session() as session:
        session.execute(update(StaffMail).where(StaffMail.id == mail_id)
                        .values(lease_until=None, **values).execution_options(synchronize_session=False))
        session.commit()
