"""Sign-in plumbing: Flask-Login sessions that can be ended, CSRF on every form, bearer tokens for the API."""
from __future__ import annotations

import functools
from collections.abc import Callable

from flask import Flask, abort, g, request
from flask.sessions import SecureCookieSessionInterface
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFProtect

from tracker.errors import DomainError
from tracker.services import accounts
from tracker.services.permissions import has_permission
from tracker.translation import gettext as _
from tracker.translation import lazy_gettext as _l
from tracker.views.support import db_session

login_manager = LoginManager()
csrf = CSRFProtect()


class SessionInterface(SecureCookieSessionInterface):
    """Session cookies are Secure whenever the request came over HTTPS (or the config insists)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure


class Unauthorized(DomainError):
    status_code = 401


def init_security(app: Flask) -> None:
    app.session_interface = SessionInterface()
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please log in to see this page.")
    # The flash is kept in the session cookie, which holds plain text: translate when it is flashed.
    login_manager.localize_callback = str
    login_manager.session_protection = "basic"
    csrf.init_app(app)

    @login_manager.user_loader
    def _load_user(session_token: str):
        # The cookie names the user's current session token; a rotated token ends the session.
        return accounts.user_by_session_token(db_session(), session_token)


def api_user():
    """The user of the request's bearer token (the API never uses the session cookie), or None.

    Raises:
        Unauthorized: a token was sent but is unknown, revoked or its user disabled.
    """
    if "api_user" in g:
        return g.api_user
    header = request.headers.get("Authorization", "")
    user = None
    if header:
        scheme, _separator, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized(_("Send the token as 'Authorization: Bearer <token>'."))
        user = accounts.user_for_api_token(db_session(), token.strip())
        if user is None:
            raise Unauthorized(_("The API token is not valid, has been revoked, or its account is disabled."))
    g.api_user = user
    return user


def request_user():
    """Who makes this request: the bearer token's user on the API, the logged-in user elsewhere."""
    if request.path.startswith("/api/"):
        return api_user()
    return current_user if current_user.is_authenticated else None


def role_required(permission: str) -> Callable:
    """Refuse the view unless the user holds ``permission``: 401 (or the login page) when anonymous, 403 else."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            user = request_user()
            if user is None:
                if request.path.startswith("/api/"):
                    raise Unauthorized(_("This needs an API token: 'Authorization: Bearer <token>'."))
                return login_manager.unauthorized()
            if not has_permission(user, permission):
                abort(403, _("Your role does not allow this."))
            return view(*args, **kwargs)

        # A function attribute, read by the access-control table test (set through __dict__, which is what
        # typing allows: a wrapper's type declares no such attribute).
        wrapper.__dict__["required_permission"] = permission
        return wrapper

    return decorator


def include_unpublished() -> bool:
    """Whether the reader may see drafts and records in review (staff only; anonymous readers never)."""
    return has_permission(request_user(), "read_unpublished")
