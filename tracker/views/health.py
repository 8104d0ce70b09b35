"""Probes for load balancers and monitoring: /healthz (the process answers), /readyz (it may take readers)."""
from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from tracker.search.runtime import runtime_of
from tracker.services.readiness import ReadinessLimits, check_readiness, embedded_workers
from tracker.views.support import db_session

bp = Blueprint("health", __name__)


def _machine_answer(payload: dict, status: int) -> Response:
    response = jsonify(payload)
    response.status_code = status
    # A stale "ok" kept by a proxy would hide a failing host.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/healthz")
def healthz() -> Response:
    """Liveness: the process serves requests. Touches neither the database nor the session, so a restart is
    only ever asked for a process that is stuck, never for one whose database is down."""
    return _machine_answer({"status": "ok"}, 200)


@bp.get("/readyz")
def readyz() -> Response:
    """Readiness: 200 when this process may take readers, else 503, with each check's figures."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    readiness = check_readiness(db_session(), runtime_of(app).indexers, ReadinessLimits.from_config(app.config),
                                embedded=embedded_workers(app))
    return _machine_answer(readiness.as_json(), 200 if readiness.ready else 503)
