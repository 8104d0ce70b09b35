"""Limits on requests per client or address over a day, counted in the database so every process and host agrees."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tracker.models import RequestCount
from tracker.models.types import utcnow
from tracker.translation import gettext

# flask_babel has no type information: its gettext returns the translated text.
_: Callable[..., str] = gettext

DAY = dt.timedelta(days=1)
# Longest client address kept in a key (IPv6 with a zone fits).
MAX_KEY_LENGTH = 64


def count_request(session: Session, scope: str, key: str, limit: int, window: dt.timedelta = DAY,
                  now: dt.datetime | None = None) -> int:
    """Count one request of ``scope`` from ``key`` against ``limit`` per ``window`` (from the first request of
    the window). Returns 0 when it is taken (and counted), else the seconds until the window ends (and
    counts nothing). The counter row is locked until the transaction ends, so concurrent requests count one
    after another (PostgreSQL; SQLite runs one writer at a time anyway)."""
    now = now or utcnow()
    key = key[:MAX_KEY_LENGTH]
    # Bounded by the window's end, so the index finds the few finished counters without a full scan.
    session.execute(delete(RequestCount).where(RequestCount.window_ends_at <= now),
                    execution_options={"synchronize_session": False})
    row = _locked_row(session, scope, key)
    if row is None:
        row = RequestCount(scope=scope, key=key, count=0, window_ends_at=now + window)
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:  # a concurrent request created it first
            row = _locked_row(session, scope, key)
            assert row is not None
    if row.window_ends_at <= now:
        row.count, row.window_ends_at = 0, now + window
    if row.count >= limit:
        return int((row.window_ends_at - now).total_seconds()) + 1
    row.count += 1
    session.flush()
    return 0


def _locked_row(session: Session, scope: str, key: str) -> RequestCount | None:
    return session.scalar(select(RequestCount).where(RequestCount.scope == scope, RequestCount.key == key)
                          .with_for_update().execution_options(populate_existing=True))


def wait_in_words(seconds: int) -> str:
    """How long to wait, as a reader says it: in hours from an hour, else in minutes (rounded up)."""
    if seconds >= 3600:
        return _("%(num)s hour(s)", num=-(-seconds // 3600))
    return _("%(num)s minute(s)", num=max(1, -(-seconds // 60)))
