"""Gunicorn hooks (``--config python:tracker.gunicorn_hooks``): each web process starts its embedded search
indexer and notification worker as soon as it boots, not at its first request or commit; a worker that exits
leaves the metrics it counted to the others (tracker.metrics)."""
from __future__ import annotations


def post_worker_init(worker: object) -> None:
    from tracker import start_background_work

    app = getattr(worker, "wsgi", None)
    if app is not None and hasattr(app, "extensions"):
        start_background_work(app)


def child_exit(server: object, worker: object) -> None:
    from tracker.metrics import forget_process

    forget_process(worker.pid)  # type: ignore[attr-defined]
