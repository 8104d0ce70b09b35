"""The data page (/data): the dataset's releases to download and cite, older releases, and the other ways to take
the data; the release files themselves; an administrator's "build a release now"."""
from __future__ import annotations

from contextlib import closing

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for

from tracker.forms.notify import ActionForm
from tracker.services import releases as release_service
from tracker.services.permissions import has_permission
from tracker.services.release_runtime import runtime_of
from tracker.translation import gettext as _
from tracker.views.security import request_user, role_required
from tracker.views.support import close_db_session, db_session

bp = Blueprint("data", __name__)

# A release file never changes at its address (a new release has a new id): caches may keep it.
RELEASE_FILE_CACHE = "public, max-age=31536000, immutable"


@bp.get("/data")
def index():
    # Not in the page cache: releases do not move the content version (they change no record), and the
    # page lists them. It is one small query.
    found = release_service.list_releases(db_session())
    config = current_app.config
    licence = config["DATA_LICENCE"]
    newest = found[0] if found else None
    citation = None
    if newest is not None:
        # The address the release's own files name (the site's public address when it is set).
        base = str(config.get("PUBLIC_URL") or request.host_url).rstrip("/")
        citation = release_service.citation_text(newest.version, newest.built_at, newest.licence,
                                                 base + url_for("data.index"))
    return render_template(
        "data/index.html", newest=newest, older=found[1:], citation=citation, licence=licence,
        licence_url=release_service.licence_url(licence),
        licence_title=release_service.LICENCE_TITLES.get(licence),
        schedule=config["RELEASE_SCHEDULE"], kept=int(config["RELEASES_KEPT"]),
        can_build=has_permission(request_user(), "build_releases"), build_form=ActionForm())


@bp.post("/data/releases")
@role_required("build_releases")
def build_release():
    if not ActionForm().validate_on_submit():
        return render_template("errors/error.html", status=400, title=_("The form expired"),
                               message=_("The form expired or was sent twice (CSRF token missing or invalid). "
                                         "Please go back, reload the page and try again."), errors={}), 400
    # The build is a job with transactions of its own (a claim, a read-only snapshot, the storing): the
    # request's session is let go first, so that it holds no lock the build would wait for.
    close_db_session()
    outcome = runtime_of(current_app).build("page")
    assert outcome.release is not None  # a build that is not "only if changed" always stores one
    flash(_("Release %(version)s was built and is listed below.", version=outcome.release.version), "success")
    return redirect(url_for("data.index"))


@bp.get("/data/releases/<int:release_id>/<filename>")
def download(release_id: int, filename: str):
    """A release file: its SHA-256 as the entity tag and the build time as its date, so that a client that has
    it is answered 304."""
    session = db_session()
    release, file = release_service.release_file(session, release_id, filename)
    etag_matches = request.if_none_match.contains(file.sha256)
    not_modified = etag_matches or (
        not request.if_none_match and request.if_modified_since is not None
        and request.if_modified_since >= release.built_at.replace(microsecond=0))
    if not_modified:
        response = Response(status=304)
    else:
        database = current_app.extensions["tracker.db"]
        chunks = release_service.file_chunks(lambda: closing(database.session()), session, file)
        response = Response(chunks, mimetype=file.media_type, direct_passthrough=True)
        response.headers["Content-Length"] = str(file.size)
        response.headers["Content-Disposition"] = f'attachment; filename="{file.name}"'
    response.set_etag(file.sha256)
    response.last_modified = release.built_at
    response.headers["Cache-Control"] = RELEASE_FILE_CACHE
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
