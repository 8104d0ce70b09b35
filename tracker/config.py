"""Configuration: defaults, then instance/config.py, then TRACKER_* environment, then a test mapping."""
from __future__ import annotations

import datetime as dt
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, current_app, has_app_context


class ConfigError(SystemExit):
    """A setting is unknown or has a value of the wrong kind: the app does not start, and says which."""

    def __init__(self, message: str) -> None:
        super().__init__(f"Configuration error: {message}")


@dataclass(frozen=True)
class Setting:
    """One setting: its default, and the kind of value it takes (``bool``, ``int``, ``float``, ``str``, or a
    tuple of the words it accepts); ``optional`` settings may also be unset (None)."""

    default: Any
    kind: Any
    optional: bool = False


# Every setting of the tracker, with its default. They are read, in order, from here, instance/config.py,
# TRACKER_* environment variables (the prefix dropped), and a mapping given to create_app (tests).
SETTINGS: dict[str, Setting] = {
    # None means "instance/tracker.db", resolved once the instance folder is known.
    "DATABASE_URL": Setting(None, str, optional=True),
    # None means "instance/search-index".
    "SEARCH_INDEX_PATH": Setting(None, str, optional=True),
    "SECRET_KEY": Setting(None, str, optional=True),
    "SQL_ECHO": Setting(False, bool),
    "PER_PAGE": Setting(20, int),
    "MAX_PER_PAGE": Setting(100, int),
    # Rendered pages kept per process (0 turns the page cache off; ETags still work).
    "PAGE_CACHE_SIZE": Setting(512, int),
    # Behind a reverse proxy, the number of proxies whose X-Forwarded-For/-Proto to trust, so that
    # login throttling sees the client's address and cookies know the request came over HTTPS.
    "TRUSTED_PROXIES": Setting(0, int),
    "SESSION_COOKIE_HTTPONLY": Setting(True, bool),
    "SESSION_COOKIE_SAMESITE": Setting("Lax", ("Lax", "Strict", "None")),
    "SESSION_COOKIE_SECURE": Setting(False, bool),
    "MAX_CONTENT_LENGTH": Setting(2 * 1024 * 1024, int),
    "JSON_SORT_KEYS": Setting(False, bool),
    # Files sent under plain names are reused briefly; fingerprinted static files get a year
    # (tracker.views.assets).
    "SEND_FILE_MAX_AGE_DEFAULT": Setting(300, int),
    "BABEL_DEFAULT_LOCALE": Setting("en", ("en", "lo")),
    "BABEL_DEFAULT_TIMEZONE": Setting("Asia/Vientiane", str),
    # Search (tracker.search.runtime): "embedded", each web process applies the change log after its own
    # commits and polls for others'; "external", only `flask search follow` writes the index.
    "SEARCH_INDEXER": Setting("embedded", ("embedded", "external")),
    "SEARCH_POLL_INTERVAL": Setting(2.0, float),     # seconds between looks at the log when nothing wakes it
    "SEARCH_BATCH_SIZE": Setting(200, int),          # log rows applied per Whoosh commit
    "SEARCH_GAP_TIMEOUT": Setting(600.0, float),     # seconds after which a missing log id is taken as rolled back
    # Readiness (/readyz, tracker.services.readiness): this process's search index may be this many change-log
    # rows, or this many seconds (age of the oldest change it has not applied), behind the database before the
    # host answers 503 and a load balancer stops sending it readers (0: no bound).
    "READY_MAX_SEARCH_LAG_CHANGES": Setting(1000, int),
    "READY_MAX_SEARCH_LAG_SECONDS": Setting(120.0, float),
    # Outgoing mail: with no MAIL_HOST, messages are written as .eml files under instance/outbox-mail/
    # (or MAIL_OUTBOX_PATH) instead of being sent.
    "MAIL_HOST": Setting(None, str, optional=True),
    "MAIL_PORT": Setting(587, int),
    "MAIL_TLS": Setting("starttls", ("starttls", "ssl", "none")),
    "MAIL_USER": Setting(None, str, optional=True),
    "MAIL_PASSWORD": Setting(None, str, optional=True),
    "MAIL_FROM": Setting("EV Policy Tracker <no-reply@localhost>", str),
    "MAIL_TIMEOUT": Setting(30.0, float),
    "MAIL_UNSUBSCRIBE_MAILTO": Setting(None, str, optional=True),   # an address for mailto: unsubscribe links
    "MAIL_OUTBOX_PATH": Setting(None, str, optional=True),
    # The site's public address (https://tracker.example): links in emails and webhook payloads. Unset, they
    # point to http://localhost:5000 (never to the Host a request named); script/server sets it to the
    # address it serves, and a production server warns at start when it is unset.
    "PUBLIC_URL": Setting(None, str, optional=True),
    # Anonymous subscriptions by email: confirmation requests one address may be sent a day, and requests one
    # client address (as TRUSTED_PROXIES lets the app see it) may make a day (0: no limit per client).
    "SUBSCRIBE_PER_ADDRESS_PER_DAY": Setting(5, int),
    "SUBSCRIBE_PER_CLIENT_PER_DAY": Setting(20, int),
    # Notifications (tracker.notifications.runtime): "embedded", a worker thread in each web process;
    # "external", only `flask --app tracker notify work` processes send.
    "NOTIFY_WORKER": Setting("embedded", ("embedded", "external")),
    # Loopback webhook targets are for tests and local use only; production requires https.
    "NOTIFY_ALLOW_LOOPBACK": Setting(False, bool),
    "NOTIFY_REQUIRE_HTTPS": Setting(True, bool),
    "NOTIFY_POLL_INTERVAL": Setting(5.0, float),
    "NOTIFY_BATCH_SIZE": Setting(50, int),           # deliveries claimed at a time
    "NOTIFY_SEND_THREADS": Setting(4, int),          # sends in parallel per worker (more only adds GIL contention)
    # The longest lease of a claim: claims hold no more deliveries than can be sent within it, so a killed
    # worker's deliveries are taken over by another worker within this many seconds.
    "NOTIFY_LEASE_SECONDS": Setting(90.0, float),
    "NOTIFY_BACKOFF_SCALE": Setting(1.0, float),     # multiplies the retry schedule (tests shrink it)
    "NOTIFY_DISABLE_AFTER_DAYS": Setting(5, int),    # an endpoint failing this long is disabled when a message dies
    "NOTIFY_DIGEST_HOUR": Setting(7, int),           # UTC hour at which the embedded worker sends digests
    "NOTIFY_DIGEST_WEEKDAY": Setting(0, int),        # weekly digests on this day (0 = Monday)
    "NOTIFY_SUNSET_INTERVAL": Setting(3600.0, float),   # seconds between sunset scans of the embedded worker
    # Links to the page managing an address's subscriptions, asked for at /subscriptions/manage: at most this
    # many requests a day from one client address, and for one email address (beyond them: 429).
    "MANAGE_LINKS_PER_CLIENT_PER_DAY": Setting(20, int),
    "MANAGE_LINKS_PER_ADDRESS_PER_DAY": Setting(3, int),
    # Immediate emails wait this long after a change, so that a burst of edits to one policy makes one
    # message describing the net change (webhooks are never held back).
    "NOTIFY_COALESCE_SECONDS": Setting(120.0, float),
    "NOTIFY_KEEP_DAYS": Setting(90, int),            # delivered deliveries (and their attempts) kept this long
    # Seconds a webhook send may take (connect + response).
    "WEBHOOK_TIMEOUT": Setting(15.0, float),
    # Attached documents (tracker.documents): the largest file accepted, in bytes (a larger one gets a 413);
    # the most pages a PDF may have; limits of the subprocess that parses a file (seconds of CPU, bytes of
    # address space, seconds of wall-clock time for a whole text, OCR included).
    "DOCUMENT_MAX_BYTES": Setting(25 * 1024 * 1024, int),
    "DOCUMENT_MAX_PAGES": Setting(2000, int),
    "DOCUMENT_CPU_SECONDS": Setting(600, int),
    "DOCUMENT_MEMORY_BYTES": Setting(2 * 1024 * 1024 * 1024, int),
    "DOCUMENT_WALL_SECONDS": Setting(900.0, float),
    # OCR of pages without a usable text layer (Tesseract with these languages); off: such pages stay empty.
    "DOCUMENT_OCR": Setting(True, bool),
    # "embedded": each web process runs an extraction thread (woken by uploads, polling otherwise);
    # "external": only `flask documents work` extracts.
    "DOCUMENT_WORKER": Setting("embedded", ("embedded", "external")),
    "DOCUMENT_POLL_INTERVAL": Setting(10.0, float),
    "DOCUMENT_ATTEMPTS": Setting(3, int),            # tries before a text is marked failed
    # Seconds a claim on a document lasts before another worker may take it over (0: the wall-clock limit
    # plus a minute, so that a slow parse is never taken over while it runs).
    "DOCUMENT_LEASE_SECONDS": Setting(0.0, float),
    # Seconds a comparison of two versions may take before it is cut short (and says so).
    "DOCUMENT_COMPARE_SECONDS": Setting(3.0, float),
    # Downloads: the licence the published data is offered under (an SPDX identifier, named in every
    # export and release), and the most rows a search download holds (the whole list is never cut).
    "DATA_LICENCE": Setting("CC-BY-4.0", str),
    "EXPORT_SEARCH_ROWS": Setting(5000, int),
    # The largest file staff may import (a workbook of 50,000 rows is about 10 MB).
    "IMPORT_MAX_BYTES": Setting(50 * 1024 * 1024, int),
    # Releases of the whole published dataset (tracker.services.release_runtime): built on this schedule at
    # RELEASE_HOUR UTC (weekly ones on RELEASE_WEEKDAY, 0 = Monday; monthly ones on the 1st) when the published
    # data changed, by a thread in each server process; "off" leaves releases to `flask data release`.
    "RELEASE_SCHEDULE": Setting("weekly", ("off", "daily", "weekly", "monthly")),
    "RELEASE_HOUR": Setting(2, int),
    "RELEASE_WEEKDAY": Setting(0, int),
    # The newest releases kept; older ones are deleted with their files.
    "RELEASES_KEPT": Setting(12, int),
    # Checks of Lao records, shown to staff as warnings (never refusals): a comment period shorter than this
    # many days; an entry into force fewer days than this after publication in the Official Gazette.
    "CONSULTATION_MIN_DAYS": Setting(60, int),
    "GAZETTE_MIN_DAYS": Setting(15, int),
    # The day taken as today (YYYY-MM-DD) instead of the day in Vientiane: for demonstrations and tests of
    # what pages say about deadlines. Unset in production.
    "TODAY": Setting(None, str, optional=True),
    # Read by script/server only (gunicorn workers); known here so that setting it is not an error.
    "WORKERS": Setting(2, int),
    # Search replicas (tracker.search.replicas) and pruning of the change log (`flask ops prune`): an index folder
    # reports its position at most this often when idle; one silent for longer is forgotten (its index must then
    # be rebuilt); log rows newer than SEARCH_CHANGES_KEEP_DAYS days are never pruned.
    "SEARCH_REPLICA_HEARTBEAT_SECONDS": Setting(60.0, float),
    "SEARCH_REPLICA_FORGET_SECONDS": Setting(7 * 24 * 3600.0, float),
    "SEARCH_CHANGES_KEEP_DAYS": Setting(7, int),
    # Requests each gunicorn worker serves at once (threads), read by tracker/gunicorn_hooks.py only.
    "THREADS": Setting(8, int),
    # Rate limits per client address (as TRUSTED_PROXIES lets the app see it; on the API, per token's user when
    # one is sent), counted in memory: a first, cheap line before the limits kept in the database. Beyond one:
    # 429 with Retry-After. The limits are texts like "10 per minute" or "100 per hour; 10 per minute".
    "RATELIMIT_ENABLED": Setting(True, bool),
    # Where the counts are kept: "memory://", each process apart (with N processes a client may make up to N
    # times the limit); a store every process shares makes them exact: redis://HOST:6379 (needs the redis
    # package installed) or memcached://HOST:11211 (needs pymemcache).
    "RATELIMIT_STORAGE_URI": Setting("memory://", str),
    # "moving-window" counts exactly the last minute (or hour); "fixed-window" resets on the minute, cheaper
    # but lets a burst of twice the limit through across the boundary; "sliding-window-counter" is between.
    "RATELIMIT_STRATEGY": Setting("moving-window", ("moving-window", "fixed-window", "sliding-window-counter")),
    "RATELIMIT_LOGIN": Setting("10 per minute", str),        # sign-in and password-reset forms sent
    "RATELIMIT_SUBSCRIBE": Setting("10 per minute", str),    # subscriptions without an account, manage links
    "RATELIMIT_API": Setting("300 per minute", str),         # every /api/v1 request
    # Prometheus metrics at /metrics (tracker.views.metrics): open to clients whose address (as TRUSTED_PROXIES
    # lets the app see it) is in METRICS_ALLOW, addresses or CIDR networks separated by commas (empty: none),
    # and to any client sending "Authorization: Bearer METRICS_TOKEN" when a token is set.
    "METRICS_ALLOW": Setting("127.0.0.1,::1", str),
    "METRICS_TOKEN": Setting(None, str, optional=True),
    # Log lines on standard error (tracker.logs): "text" for people, "json" (one object a line) for collectors.
    "LOG_FORMAT": Setting("text", ("text", "json")),
    # Background workers (notifications, text extraction; embedded or commands of their own) report in
    # worker_heartbeats at most every WORKER_HEARTBEAT_SECONDS, busy or idle; /readyz and /metrics count a worker
    # live for three intervals after its last report. `flask ops prune` removes the rows of workers silent for
    # longer than WORKER_FORGET_SECONDS (killed processes: a clean stop removes its own row). 0 turns heartbeats
    # off (no row is written; readiness and metrics then count no live worker).
    "WORKER_HEARTBEAT_SECONDS": Setting(30.0, float),
    "WORKER_FORGET_SECONDS": Setting(24 * 3600.0, float),
}
# Read before the app exists (tracker.__init__), so not a setting of app.config.
ENVIRONMENT_ONLY = frozenset({"INSTANCE_PATH"})
TRUE_WORDS = frozenset({"true", "1", "yes", "on"})
FALSE_WORDS = frozenset({"false", "0", "no", "off"})


def _parse(name: str, setting: Setting, raw: str) -> Any:
    """A setting's value from the text of an environment variable."""
    text = raw.strip()
    if setting.optional and text == "":
        return None
    kind = setting.kind
    if kind is bool:
        if text.lower() in TRUE_WORDS:
            return True
        if text.lower() in FALSE_WORDS:
            return False
        raise ConfigError(f"TRACKER_{name}={raw!r} is not true or false (write one of: true, false, 1, 0, yes, "
                          f"no, on, off).")
    if kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            raise ConfigError(f"TRACKER_{name}={raw!r} is not {'a whole number' if kind is int else 'a number'}.") \
                from None
    return text


def _check(name: str, setting: Setting, value: Any, source: str) -> None:
    """Refuse a value of the wrong kind, wherever it came from."""
    if value is None and setting.optional:
        return
    kind = setting.kind
    if isinstance(kind, tuple):
        ok = value in kind
        expected = "one of: " + ", ".join(kind)
    elif kind is bool:
        ok, expected = isinstance(value, bool), "true or false"
    elif kind is int:
        ok, expected = isinstance(value, int) and not isinstance(value, bool), "a whole number"
    elif kind is float:
        ok, expected = isinstance(value, (int, float)) and not isinstance(value, bool), "a number"
    else:
        ok, expected = isinstance(value, kind), "text"
    if not ok:
        raise ConfigError(f"{name}={value!r} (from {source}) must be {expected}.")


def instance_path_from_environment() -> str | None:
    """``TRACKER_INSTANCE_PATH`` must be known before the Flask object exists."""
    path = os.environ.get("TRACKER_INSTANCE_PATH")
    return str(Path(path).resolve()) if path else None


def load_config(app: Flask, overrides: Mapping[str, Any] | None) -> None:
    """Fill ``app.config`` in the documented order, check every setting, and resolve the paths that depend
    on the instance folder.

    Raises:
        ConfigError: a TRACKER_* variable names no setting, or a setting has a value of the wrong kind.
    """
    app.config.from_mapping({name: setting.default for name, setting in SETTINGS.items()})
    sources = dict.fromkeys(SETTINGS, "the defaults")
    if app.config.from_pyfile("config.py", silent=True):
        sources.update(dict.fromkeys(SETTINGS, "instance/config.py or the defaults"))
    for variable, raw in sorted(os.environ.items()):
        if not variable.startswith("TRACKER_"):
            continue
        name = variable[len("TRACKER_"):]
        if name in ENVIRONMENT_ONLY:
            continue
        if name not in SETTINGS:
            known = sorted(SETTINGS | dict.fromkeys(ENVIRONMENT_ONLY))
            raise ConfigError(f"{variable} is not a setting of the tracker. Known settings: "
                              f"{', '.join('TRACKER_' + setting for setting in known)}.")
        app.config[name] = _parse(name, SETTINGS[name], raw)
        sources[name] = variable
    if overrides:
        app.config.from_mapping(overrides)
        sources.update(dict.fromkeys(overrides, "the mapping given to create_app"))
    for name, setting in SETTINGS.items():
        _check(name, setting, app.config.get(name), sources[name])

    if app.config["TODAY"] is not None:
        try:
            dt.date.fromisoformat(app.config["TODAY"])
        except ValueError:
            raise ConfigError(f"TODAY={app.config['TODAY']!r} (from {sources['TODAY']}) must be a date written "
                              f"YYYY-MM-DD.") from None

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


LOCAL_ZONE = ZoneInfo("Asia/Vientiane")


def local_today() -> dt.date:
    """Today in Vientiane: the day deadlines are counted from (``TODAY`` when it is set)."""
    if has_app_context():
        fixed = current_app.config.get("TODAY")
        if fixed:
            return dt.date.fromisoformat(fixed)
    return dt.datetime.now(LOCAL_ZONE).date()
