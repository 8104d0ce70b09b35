"""Notifications: an outbox written with each change, and a worker that sends email and signed webhooks."""
from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask

if TYPE_CHECKING:
    from tracker.notifications.runtime import NotifyRuntime


def init_notifications(app: Flask) -> NotifyRuntime:
    """Set notifications up for ``app``: configuration, the worker, the after-commit wake-up."""
    from tracker.notifications.runtime import EXTENSION, NotifyRuntime

    if "babel" not in app.extensions:
        # Emails are rendered in the subscriber's language, also outside any request.
        from flask_babel import Babel

        Babel(app)
    runtime = NotifyRuntime(app)
    app.extensions[EXTENSION] = runtime
    app.extensions["tracker.db"].on_commit(runtime.on_commit)

    if not app.testing:
        started: list[bool] = []

        @app.before_request
        def _start_notify_worker() -> None:
            # Threads do not survive gunicorn's fork: each web process starts its own on first use.
            if not started:
                started.append(True)
                runtime.nudge()

    return runtime
