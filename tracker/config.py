"""Configuration: defaults, then instance/config.py, then TRACKER_* environment, then a test mapping."""
from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

DEFAULTS: dict[str, Any] = {
    # None means "instance/tracker.db", resolved once the instance folder is known.
    "DATABASE_URL": None,
    # None means "instance/search-index".
    "SEARCH_INDEX_PATH": None,
    "SQL_ECHO": False,
    "PER_PAGE": 20,
    # Rendered pages kept per process (0 turns the page cache off; ETags still work).
    "PAGE_CACHE_SIZE": 512,
    "MAX_PER_PAGE": 100,
    # Behind a reverse proxy, the number of proxies whose X-Forwarded-For/-Proto to trust, so that
    # login throttling sees the client's address and cookies know the request came over HTTPS.
    "TRUSTED_PROXIES": 0,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "MAX_CONTENT_LENGTH": 2 * 1024 * 1024,
    "JSON_SORT_KEYS": False,
    # Files sent under plain names are reused briefly; fingerprinted static files get a year
    # (tracker.views.assets).
    "SEND_FILE_MAX_AGE_DEFAULT": 300,
    # Notifications. Outgoing mail: with no MAIL_HOST, messages are written as .eml files under
    # instance/outbox-mail/ instead of being sent. MAIL_TLS is "starttls", "ssl" or "none".
    "MAIL_HOST": None,
    "MAIL_PORT": 587,
    "MAIL_TLS": "starttls",
    "MAIL_USER": None,
    "MAIL_PASSWORD": None,
    "MAIL_FROM": "EV Policy Tracker <no-reply@localhost>",
    # The site's public address (https://tracker.example): links in emails and webhook payloads.
    "PUBLIC_URL": None,
    # "embedded": a worker thread in each web process sends notifications; "external": only
    # `flask --app tracker notify work` processes do.
    "NOTIFY_WORKER": "embedded",
    # Loopback webhook targets are for tests and local use only; production requires https.
    "NOTIFY_ALLOW_LOOPBACK": False,
    "NOTIFY_REQUIRE_HTTPS": True,
    "NOTIFY_POLL_INTERVAL": 5.0,
    # Seconds a webhook send may take (connect + response).
    "WEBHOOK_TIMEOUT": 15,
}


def instance_path_from_environment() -> str | None:
    """``TRACKER_INSTANCE_PATH`` must be known before the Flask object exists."""
    path = os.environ.get("TRACKER_INSTANCE_PATH")
    return str(Path(path).resolve()) if path else None


def load_config(app: Flask, overrides: Mapping[str, Any] | None) -> None:
    """Fill ``app.config`` in the documented order and resolve paths that depend on the instance folder."""
    app.config.from_mapping(DEFAULTS)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("TRACKER")
    if overrides:
        app.config.from_mapping(overrides)

    instance = Path(app.instance_path)
    if not app.config["DATABASE_URL"]:
        instance.mkdir(parents=True, exist_ok=True)
        app.config["DATABASE_URL"] = f"sqlite:///{instance / 'tracker.db'}"
    if not app.config["SEARCH_INDEX_PATH"]:
        app.config["SEARCH_INDEX_PATH"] = str(instance / "search-index")
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret_key(instance)


def _instance_secret_key(instance: Path) -> str:
    """Read, or create once with mode 0600, a random key kept in the instance folder, never in the repo."""
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        key = secrets.token_hex(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(key)
        return key
    except OSError:
        return secrets.token_hex(32)
