"""Static files under fingerprinted names, cached for a year and sent compressed; plain names still work.

``static_url("css/app.css")`` gives ``/static/css/app.3f2a9c1b04e2.css``: the name carries a hash of the
content, so a browser may keep the file for a year without asking again, and a changed file gets a new
name. Stylesheets are served with their ``url(...)`` references (fonts, images) rewritten to the
fingerprinted names too, and their own hash covers those names, so a new font also renames the CSS.
Text files (CSS, JavaScript, SVG) are compressed once, and sent gzipped to browsers that accept it.
"""
from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import mimetypes
import os
import posixpath
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISREG
from typing import TYPE_CHECKING

from flask import Flask, Response, abort, current_app, request, send_from_directory, url_for
from werkzeug.security import safe_join

if TYPE_CHECKING:
    from werkzeug.wrappers import Response as BaseResponse

IMMUTABLE = "public, max-age=31536000, immutable"
# Plain names may change content under the same URL: a browser reuses them for a few minutes only.
SHORT_MAX_AGE = 300
DIGEST_LENGTH = 12
FINGERPRINTED = re.compile(
    rf"^(?P<stem>.+)\.(?P<digest>[0-9a-f]{{{DIGEST_LENGTH}}})(?P<suffix>\.[A-Za-z0-9]+)$")
CSS_URL = re.compile(r"""url\(\s*(?P<quote>['"]?)(?P<target>[^'")\s]+)(?P=quote)\s*\)""")


# Text formats are worth compressing once and keeping compressed; fonts and images are compressed already.
COMPRESSIBLE = ("text/", "application/javascript", "application/json", "image/svg+xml")


@dataclass(frozen=True)
class Asset:
    body: bytes
    digest: str
    mimetype: str
    mtime: float
    gzipped: bytes | None = None


class StaticAssets:
    """Fingerprints of the files in the static folder, computed once per file (again whenever a file
    changes, in debug mode)."""

    def __init__(self, folder: Path, *, reload: bool = False) -> None:
        self.folder = folder
        self.reload = reload
        self._assets: dict[str, tuple[tuple[int, int], Asset]] = {}
        self._version: str | None = None
        self._lock = threading.Lock()

    def asset(self, filename: str) -> Asset | None:
        """The file as served under its fingerprinted name, or None when there is no such file."""
        with self._lock:
            cached = self._assets.get(filename)
        if cached is not None and not self.reload:
            return cached[1]
        path = safe_join(str(self.folder), filename)
        try:
            stat = os.stat(path) if path is not None else None
        except OSError:
            stat = None
        if path is None or stat is None or not S_ISREG(stat.st_mode):
            return None
        signature = (stat.st_mtime_ns, stat.st_size)
        if cached is not None and cached[0] == signature:
            return cached[1]
        body = Path(path).read_bytes()
        mimetype = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        if filename.endswith(".css"):
            body = self._rewrite_css(filename, body)
            mimetype = "text/css"
        packed = gzip.compress(body, compresslevel=9, mtime=0) if mimetype.startswith(COMPRESSIBLE) else None
        found = Asset(body, hashlib.sha256(body).hexdigest()[:DIGEST_LENGTH], mimetype, stat.st_mtime,
                      packed if packed is not None and len(packed) < 0.9 * len(body) else None)
        with self._lock:
            self._assets[filename] = (signature, found)
        return found

    def fingerprinted(self, filename: str) -> str:
        """``css/app.css`` -> ``css/app.<digest>.css`` (the plain name when the file does not exist)."""
        found = self.asset(filename)
        if found is None:
            return filename
        stem, dot, suffix = filename.rpartition(".")
        if not dot or "/" in suffix:
            return f"{filename}.{found.digest}"
        return f"{stem}.{found.digest}.{suffix}"

    def resolve(self, requested: str) -> tuple[str, Asset] | None:
        """The plain name and asset behind a fingerprinted name whose digest is the current one."""
        match = FINGERPRINTED.match(requested)
        if match is None:
            return None
        filename = match["stem"] + match["suffix"]
        found = self.asset(filename)
        if found is None or found.digest != match["digest"]:
            return None
        return filename, found

    def version(self) -> str:
        """A digest over every file's fingerprint: it changes whenever any static file does."""
        with self._lock:
            known = None if self.reload else self._version
        if known is not None:
            return known
        names = sorted(path.relative_to(self.folder).as_posix() for path in self.folder.rglob("*")
                       if path.is_file())
        summary = "\n".join(f"{name} {self.fingerprinted(name)}" for name in names)
        known = hashlib.sha256(summary.encode()).hexdigest()[:DIGEST_LENGTH]
        with self._lock:
            self._version = known
        return known

    def _rewrite_css(self, filename: str, body: bytes) -> bytes:
        base = posixpath.dirname(filename)

        def replace(match: re.Match[str]) -> str:
            target = match["target"]
            if re.match(r"^([a-z][a-z0-9+.-]*:|/|#)", target, re.IGNORECASE):
                return match[0]  # data:, absolute and external URLs stay as they are
            path, sep, rest = target, "", ""
            cut = re.search(r"[?#]", target)
            if cut is not None:
                path, sep, rest = target[:cut.start()], cut[0], target[cut.end():]
            referenced = posixpath.normpath(posixpath.join(base, path))
            if referenced.startswith("..") or self.asset(referenced) is None:
                return match[0]
            fingerprinted_name = posixpath.basename(self.fingerprinted(referenced))
            renamed = posixpath.join(posixpath.dirname(path), fingerprinted_name)
            return f"url({match['quote']}{renamed}{sep}{rest}{match['quote']})"

        return CSS_URL.sub(replace, body.decode("utf-8")).encode("utf-8")


def init_assets(app: Flask) -> StaticAssets:
    """Serve /static/ through the fingerprint-aware view and return the registry ``static_url`` uses."""
    assets = StaticAssets(Path(app.static_folder or ""), reload=app.debug)
    app.extensions["tracker.assets"] = assets

    def static(filename: str) -> BaseResponse:
        if safe_join(str(assets.folder), filename) is None:
            abort(404)
        resolved = assets.resolve(filename)
        if resolved is None:
            # A plain name (or an old fingerprint of a file that has changed since: 404 then).
            response = send_from_directory(assets.folder, filename, max_age=SHORT_MAX_AGE)
            response.headers["Cache-Control"] = f"public, max-age={SHORT_MAX_AGE}"
            return response
        _, found = resolved
        if found.gzipped is not None and request.accept_encodings["gzip"]:
            response = Response(found.gzipped, mimetype=found.mimetype)
            response.content_encoding = "gzip"
            response.set_etag(f"{found.digest}-gzip")
        else:
            response = Response(found.body, mimetype=found.mimetype)
            response.set_etag(found.digest)
        if found.gzipped is not None:
            response.vary.add("Accept-Encoding")
        response.last_modified = dt.datetime.fromtimestamp(found.mtime, dt.UTC)
        response.headers["Cache-Control"] = IMMUTABLE
        return response.make_conditional(request)

    app.view_functions["static"] = static
    return assets


def static_url(filename: str) -> str:
    """The fingerprinted URL of a file in the static folder."""
    return url_for("static", filename=current_app.extensions["tracker.assets"].fingerprinted(filename))


def asset_version() -> str:
    """Changes whenever a static file does: part of every page's ETag, so that a page kept by a browser
    from before a deployment is fetched again instead of pointing at fingerprints that no longer exist."""
    return current_app.extensions["tracker.assets"].version()
