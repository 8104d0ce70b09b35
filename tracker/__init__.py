"""The EV policy tracker: Lao and ASEAN electric-vehicle policies, their legal status and their forums."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application: configuration, database, blueprints, error handlers and CLI commands."""
    from tracker.config import instance_path_from_environment, load_config
    from tracker.db import Database

    app = Flask(__name__, instance_path=instance_path_from_environment(), instance_relative_config=True)
    load_config(app, config)
    from tracker.logs import configure_logging, init_request_logging

    configure_logging(app.config["LOG_FORMAT"])
    app.extensions["tracker.db"] = Database(app.config["DATABASE_URL"], echo=app.config["SQL_ECHO"])

    from tracker.cli import register_cli
    from tracker.i18n import init_i18n
    from tracker.views import register_views

    init_i18n(app)
    # First of the request hooks: its line of each request comes after the others have run.
    init_request_logging(app)
    register_views(app)
    register_cli(app)
    from tracker.search import init_search

    init_search(app)
    from tracker.notifications import init_notifications

    init_notifications(app)
    from tracker.documents.runtime import init_documents

    init_documents(app)
    from tracker.services.release_runtime import init_releases

    init_releases(app)
    proxies = int(app.config["TRUSTED_PROXIES"])
    if proxies > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)  # type: ignore[method-assign]
    # Whatever serves the app, its first request starts the embedded workers if the server did not
    # (gunicorn does at boot: tracker.gunicorn_hooks); command-line processes never start them. Tests
    # start them where they test them.
    if not app.testing:
        app.before_request(lambda: start_background_work(app))
    return app


def start_background_work(app: Flask) -> None:
    """Start this process's embedded search indexer, notification worker, text extraction worker and release
    scheduler (each only if embedded, or scheduled, and not yet running): a server process does so as it boots,
    so that it applies other processes' and other hosts' changes even before it commits anything itself."""
    from tracker.documents.runtime import start as start_documents
    from tracker.notifications.payloads import public_url_warning
    from tracker.notifications.runtime import start as start_notifications
    from tracker.search.runtime import runtime_of
    from tracker.services.release_runtime import start as start_releases

    warning = public_url_warning(app)
    if warning and not app.extensions.get("tracker.public_url_warned"):
        app.extensions["tracker.public_url_warned"] = True
        app.logger.warning(warning)
    runtime_of(app).runner.start()
    start_notifications(app)
    start_documents(app)
    start_releases(app)


def stop_background_work(app: Flask) -> None:
    """Stop this process's embedded notification and text extraction workers (a server process stopping cleanly):
    each finishes its current job and removes its heartbeat."""
    from tracker.documents.runtime import EXTENSION as DOCUMENTS
    from tracker.notifications.runtime import EXTENSION as NOTIFY

    for name in (NOTIFY, DOCUMENTS):
        runtime = app.extensions.get(name)
        if runtime is not None:
            runtime.stop()
