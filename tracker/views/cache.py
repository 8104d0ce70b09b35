"""Rendered pages kept per process and keyed on the content version, with ETags for cheap revalidation.

Readers far outnumber writers, and a page changes only when a transaction changes content (which
moves the content version, see tracker.models.content_version). So a GET for an anonymous reader is
answered from memory after one small query, and a browser that sends the page's ETag back gets a 304.
"""
from __future__ import annotations

import functools
import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from flask import Response, current_app, make_response, request, session

from tracker.config import local_today
from tracker.i18n import current_language
from tracker.models.content_version import current_content_version
from tracker.views.assets import asset_version
from tracker.views.security import request_user
from tracker.views.support import db_session


@dataclass(frozen=True)
class CachedPage:
    body: bytes
    mimetype: str


class PageCache:
    """A small thread-safe LRU of rendered pages."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._pages: OrderedDict[str, CachedPage] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> CachedPage | None:
        with self._lock:
            page = self._pages.get(key)
            if page is not None:
                self._pages.move_to_end(key)
            return page

    def put(self, key: str, page: CachedPage) -> None:
        with self._lock:
            self._pages[key] = page
            self._pages.move_to_end(key)
            while len(self._pages) > self.max_entries:
                self._pages.popitem(last=False)


def _cache() -> PageCache:
    cache = current_app.extensions.get("tracker.page_cache")
    if cache is None:
        cache = current_app.extensions["tracker.page_cache"] = PageCache(current_app.config["PAGE_CACHE_SIZE"])
    return cache


def cached_page(view: Callable) -> Callable:
    """Serve a GET view from the page cache and answer conditional requests.

    Anonymous readers share cached pages. A signed-in reader's page is never shared (it carries the
    user's name, role-dependent controls and CSRF tokens) but gets an ETag of its own, so a repeat visit
    is still answered with a 304 while nothing it shows has changed."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        # A pending flash message belongs to one response.
        if request.method not in ("GET", "HEAD") or session.get("_flashes"):
            return view(*args, **kwargs)
        user = request_user()
        token, changed_at = current_content_version(db_session())
        # "today" is part of the key: pages list the measures that have not expired yet. So is the
        # language: the same address is an English page for one reader and a Lao page for another. The
        # static files' version too: a page names their fingerprints.
        parts = [token, local_today().isoformat(), current_language(), request.full_path, request.host_url,
                 asset_version()]
        if user is not None:
            parts += _signed_in_parts(user)
        key = "\x1f".join(parts)
        etag = hashlib.sha256(key.encode()).hexdigest()[:20]
        if request.if_none_match.contains(etag):
            response = Response(status=304)
        elif user is not None:
            response = make_response(view(*args, **kwargs))
        else:
            use_cache = current_app.config["PAGE_CACHE_SIZE"] > 0
            page = _cache().get(key) if use_cache else None
            if page is not None:
                response = Response(page.body, mimetype=page.mimetype)
            else:
                response = make_response(view(*args, **kwargs))
                if use_cache and response.status_code == 200 and not response.direct_passthrough:
                    _cache().put(key, CachedPage(response.get_data(), response.mimetype or "text/html"))
        response.set_etag(etag)
        response.last_modified = changed_at
        # Revalidate every time: the ETag makes that a 304 when nothing changed.
        response.headers["Cache-Control"] = "private, no-cache" if user is not None else "no-cache"
        response.vary.update(("Accept-Language", "Cookie"))
        return response

    return wrapper


# What a signed-in page shows of its user beyond the content: who they are and their role. A page that
# comes to show more of the user's own state (say, whether they follow a record) must add it here, or a
# 304 would bring back the old state. A signed-in page also embeds CSRF tokens, which expire
# (WTF_CSRF_TIME_LIMIT): a page is reused for at most half of that, so its forms still work.
def _signed_in_parts(user) -> list[str]:
    limit = current_app.config.get("WTF_CSRF_TIME_LIMIT", 3600) or 0
    period = str(int(time.time() // max(limit // 2, 1))) if limit else "0"
    return ["user", user.get_id(), user.role, user.email, period]
