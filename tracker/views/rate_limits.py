"""Rate limits per client (Flask-Limiter) on sign-in, subscribing without an account, manage links and the API."""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, current_app, g, request
from flask_babel import gettext as _
from flask_limiter import Limiter, RateLimitExceeded
from flask_login import current_user
from limits import parse_many

from tracker.config import ConfigError

# Forms whose POST is limited per client address, and the setting holding their limit. Each form has its own
# count. They also have limits kept in the database (login throttling, subscriptions per day): these come first
# and cost no query.
LIMITED_FORMS = {
    "auth.login": "RATELIMIT_LOGIN",
    "auth.request_password_reset": "RATELIMIT_LOGIN",
    "notify.subscribe": "RATELIMIT_SUBSCRIBE",
    "notify.request_manage_link": "RATELIMIT_SUBSCRIBE",
}
LIMIT_SETTINGS = ("RATELIMIT_LOGIN", "RATELIMIT_SUBSCRIBE", "RATELIMIT_API")


def client_address() -> str:
    """The client's address as the app sees it (behind TRUSTED_PROXIES, the one the proxies name)."""
    return request.remote_addr or "unknown"


def api_client() -> str:
    """On the API, the token's user when a valid token is sent, so that a partner's script is not held back by
    others behind the same address; else (no token, or a wrong one) the client address."""
    from tracker.views.security import Unauthorized, api_user

    if request.headers.get("Authorization"):
        try:
            user = api_user()
        except Unauthorized:
            user = None
        if user is not None:
            return f"user:{user.id}"
    return f"address:{client_address()}"


def _signed_in() -> bool:
    # Following with an account is not the anonymous form the subscribe limit is about.
    return bool(current_user.is_authenticated)


def init_rate_limits(app: Flask) -> None:
    """Check the limits' settings and put them on the app's views (Flask-Limiter reads RATELIMIT_ENABLED,
    RATELIMIT_STORAGE_URI and RATELIMIT_STRATEGY from the app's config).

    Raises:
        ConfigError: a limit is not written as Flask-Limiter reads them ("10 per minute").
    """
    for name in LIMIT_SETTINGS:
        try:
            parse_many(app.config[name])
        except ValueError:
            raise ConfigError(f"{name}={app.config[name]!r} is not a rate limit: write e.g. '10 per minute' or "
                              f"'100 per hour; 10 per minute'.") from None
    # Flask-Limiter puts its Retry-After on every answer once a limit is counted, and on one already there
    # truncates it: the app's own value (a 429 or 503 of its own, or the one below) is kept instead.
    app.after_request(_restore_retry_after)
    # A shared store that is down lets requests through (and logs why) rather than refusing every reader.
    limiter = Limiter(client_address, headers_enabled=True, key_prefix="tracker", swallow_errors=True)
    limiter.init_app(app)
    app.after_request(_keep_retry_after)
    app.extensions["tracker.limiter"] = limiter
    for endpoint, setting in LIMITED_FORMS.items():
        view: Callable[..., Any] = app.view_functions[endpoint]
        app.view_functions[endpoint] = limiter.limit(
            app.config[setting], methods=["POST"], exempt_when=_signed_in if endpoint == "notify.subscribe" else None,
        )(view)
    from tracker.views.api import bp as api_bp

    # One count per client for the whole API, not one per address of it.
    limiter.shared_limit(app.config["RATELIMIT_API"], scope="api", key_func=api_client)(api_bp)
    app.register_error_handler(RateLimitExceeded, _too_many_requests)


def _too_many_requests(error: RateLimitExceeded):
    """The project's 429 page or JSON, in the reader's language, saying when to come back."""
    from tracker.views.errors import error_response

    limit = current_app.extensions["tracker.limiter"].current_limit
    wait = math.ceil(limit.reset_at - time.time()) if limit is not None else 60
    return error_response(429, _("Too many requests in a short time. Please wait a little and try again."),
                          headers=[("Retry-After", str(max(1, wait)))])


def _keep_retry_after(response: Response) -> Response:
    g.app_retry_after = response.headers.get("Retry-After")
    return response


def _restore_retry_after(response: Response) -> Response:
    kept = g.pop("app_retry_after", None)
    if kept is not None:
        response.headers["Retry-After"] = kept
    else:
        response.headers.pop("Retry-After", None)
    return response
