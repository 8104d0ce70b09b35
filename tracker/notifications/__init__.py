"""Notifications: an outbox written with each change, and a worker that sends email and signed webhooks."""
from __future__ import annotations

import logging
import weakref

from flask import Flask
from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)
_runtimes: weakref.WeakSet = weakref.WeakSet()


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    from tracker.notifications.outbox import events_added, forget_added

    if not events_added(session):
        return
    forget_added(session)
    for runtime in list(_runtimes):
        runtime.on_commit(session)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    from tracker.notifications.outbox import forget_added

    forget_added(session)


def init_notifications(app: Flask):
    """Set notifications up for ``app``: configuration, the worker, the after-commit wake-up."""
    from tracker.notifications.worker import DEFAULTS, EXTENSION, NotifyRuntime

    for name, value in DEFAULTS.items():
        app.config.setdefault(name, value)
    if "babel" not in app.extensions:
        # Emails are rendered in the subscriber's language, also outside any request.
        from flask_babel import Babel

        Babel(app)
    runtime = NotifyRuntime(app)
    app.extensions[EXTENSION] = runtime
    _runtimes.add(runtime)

    if not app.testing:
        started: list[bool] = []

        @app.before_request
        def _start_notify_worker() -> None:
            # Threads do not survive gunicorn's fork: each web process starts its own on first use.
            if not started:
                started.append(True)
                runtime.nudge()

    return runtime
