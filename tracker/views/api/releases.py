"""The releases of the published dataset under /api/v1: every kept release with its files, newest first."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, url_for

from tracker.models import Release
from tracker.services import releases as release_service
from tracker.views.security import request_user
from tracker.views.support import db_session


def register(bp: Blueprint) -> None:
    """Add the release routes to the API blueprint."""
    bp.add_url_rule("/releases", "releases", releases, methods=["GET"])


def release_json(release: Release) -> dict[str, Any]:
    return {
        "id": release.id, "version": release.version,
        "built_at": release.built_at.isoformat(timespec="seconds"), "date": release.built_at.date().isoformat(),
        "content_version": release.content_version, "licence": release.licence, "counts": dict(release.counts),
        "files": [{"name": file.name, "format": file.format, "media_type": file.media_type, "size": file.size,
                   "sha256": file.sha256,
                   "url": url_for("data.download", release_id=release.id, filename=file.name, _external=True)}
                  for file in release.files],
    }


def releases():
    request_user()  # a token that was sent must be valid, as everywhere in the API (401 otherwise)
    found = release_service.list_releases(db_session())
    return jsonify({"items": [release_json(release) for release in found], "total": len(found),
                    "html_url": url_for("data.index", _external=True)})
