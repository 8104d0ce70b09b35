"""Gunicorn settings and hooks (``--config python:tracker.gunicorn_hooks``): threaded workers with bounded
requests, each web process starting its embedded search indexer and notification worker as it boots and
stopping its workers (their heartbeats removed) as it stops cleanly, and a worker that exits leaving the metrics
it counted to the others (tracker.metrics)."""
from __future__ import annotations

import os


def _whole_number(variable: str, default: int) -> int:
    """A positive whole number from the environment, or a start refused with the variable named."""
    raw = os.environ.get(variable, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"Configuration error: {variable}={raw!r} is not a whole number.") from None
    if value < 1:
        raise SystemExit(f"Configuration error: {variable}={raw!r} must be 1 or more.")
    return value


# Threaded workers: a client that connects and sends nothing, or sends its request slowly, holds one thread
# of a worker (an idle connection for at most 5 s, a slow request until it is complete), not the whole
# worker as a sync worker would; the others keep answering. Behind nginx (deploy/nginx/ev-tracker.conf),
# which reads whole requests before passing them on, gunicorn never sees slow clients at all.
worker_class = "gthread"
workers = _whole_number("TRACKER_WORKERS", 2)
# Requests served at once per worker; each may hold one database connection (the pool holds 15).
threads = _whole_number("TRACKER_THREADS", 8)
# A worker that stops reporting to the master (a stuck main loop) this many seconds is killed and replaced.
# With threads it does not bound a request's duration: nginx's proxy_read_timeout does.
timeout = 30
# On restart or stop, requests under way have this long to finish (systemd's TimeoutStopSec is 45).
graceful_timeout = 30
# Seconds an idle kept-alive connection is kept before it is closed.
keepalive = 5
# Largest request line (method, address with its query, version) in bytes; longer: 414. 8190 is gunicorn's
# maximum and nginx's default large_client_header_buffers of 8k.
limit_request_line = 8190
# Most header fields in a request, and the largest one in bytes; beyond: 431.
limit_request_fields = 100
limit_request_field_size = 8190


def post_worker_init(worker: object) -> None:
    from tracker import start_background_work
    from tracker.lao import load_segmenter

    app = getattr(worker, "wsgi", None)
    if app is not None and hasattr(app, "extensions"):
        start_background_work(app)
        load_segmenter()


def worker_exit(server: object, worker: object) -> None:
    # In the worker process, as it stops cleanly: its embedded workers finish and remove their heartbeats.
    from tracker import stop_background_work

    app = getattr(worker, "wsgi", None)
    if app is not None and hasattr(app, "extensions"):
        stop_background_work(app)


def child_exit(server: object, worker: object) -> None:
    from tracker.metrics import forget_process

    forget_process(worker.pid)  # type: ignore[attr-defined]
