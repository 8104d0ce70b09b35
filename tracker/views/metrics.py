"""/metrics for Prometheus, open to the addresses of METRICS_ALLOW or the bearer token METRICS_TOKEN, and the
timing of every request by route."""
from __future__ import annotations

import hmac
import ipaddress
import time

from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST

from tracker.metrics import REQUEST_SECONDS, REQUESTS, Network, allowed_networks, exposition
from tracker.search.runtime import runtime_of
from tracker.services.monitoring import DatabaseCollector
from tracker.services.readiness import ReadinessLimits, embedded_workers

bp = Blueprint("metrics", __name__)

_NETWORKS = "tracker.metrics_allow"
# Label of requests no route matched (a 404 for an unknown path, a 405): never the path itself.
UNMATCHED = "none"
# Any word is a method to HTTP: others are counted together, so that made-up ones add no series.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def init_metrics(app: Flask) -> None:
    """Read the access settings (a wrong address stops the app at start) and time every request."""
    app.extensions[_NETWORKS] = allowed_networks(app.config["METRICS_ALLOW"])
    app.before_request(_start_timer)
    app.after_request(_count_request)


def _start_timer() -> None:
    g.metrics_started = time.perf_counter()


def _count_request(response: Response) -> Response:
    started = g.pop("metrics_started", None)
    if started is None:
        return response
    route = request.url_rule.endpoint if request.url_rule is not None else UNMATCHED
    method = request.method if request.method in KNOWN_METHODS else "other"
    labels = (route, method, str(response.status_code))
    REQUESTS.labels(*labels).inc()
    REQUEST_SECONDS.labels(*labels).observe(time.perf_counter() - started)
    return response


def _client_allowed() -> bool:
    networks: tuple[Network, ...] = current_app.extensions[_NETWORKS]
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in networks)


def _token_given() -> bool:
    expected = current_app.config["METRICS_TOKEN"]
    if not expected:
        return False
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected.encode())


@bp.get("/metrics")
def metrics() -> Response:
    """The metrics in Prometheus's text format; 403 without a word to a client neither allowed nor with the token."""
    if not (_client_allowed() or _token_given()):
        response = Response(b"", status=403, content_type="text/plain; charset=utf-8")
    else:
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        collector = DatabaseCollector(app.extensions["tracker.db"].session, runtime_of(app).indexers,
                                      ReadinessLimits.from_config(app.config), embedded=embedded_workers(app))
        response = Response(exposition(collector), content_type=CONTENT_TYPE_LATEST)
    # Figures of one moment, for one scraper: never kept by a proxy.
    response.headers["Cache-Control"] = "no-store"
    return response
