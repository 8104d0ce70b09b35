"""Gunicorn hooks (``--config python:tracker.notifications.gunicorn_hooks``): start the embedded
notification worker in each web process as soon as it boots, not at its first request."""
from __future__ import annotations


def post_worker_init(worker: object) -> None:
    from tracker.notifications.runtime import nudge

    app = getattr(worker, "wsgi", None)
    if app is not None and hasattr(app, "extensions"):
        nudge(app)
