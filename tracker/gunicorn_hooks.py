"""Gunicorn hooks (``--config python:tracker.gunicorn_hooks``): each web process starts its embedded search
indexer and notification worker as soon as it boots, not at its first request or commit."""
from __future__ import annotations


def post_worker_init(worker: object) -> None:
    from tracker import start_background_work

    app = getattr(worker, "wsgi", None)
    if app is not None and hasattr(app, "extensions"):
        start_background_work(app)
