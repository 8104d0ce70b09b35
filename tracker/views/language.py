"""The language switch: the reader's choice of interface language, remembered in a cookie for a year."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, current_app, redirect, request, url_for

from tracker.errors import NotFound
from tracker.i18n import LANGUAGE_COOKIE, LANGUAGE_COOKIE_MAX_AGE, LANGUAGES
from tracker.translation import gettext as _

bp = Blueprint("i18n", __name__)


def init_language_switch(app: Flask) -> None:
    """The switch's route, its link helper for templates, and the Vary headers every page needs."""
    app.register_blueprint(bp)
    app.after_request(_vary_on_language)
    app.jinja_env.globals.update(language_url=language_url)


def _vary_on_language(response: Response) -> Response:
    # A page's language follows these headers: shared caches and browsers must not mix the two.
    if request.endpoint != "static":
        response.vary.add("Accept-Language")
        if not request.path.startswith("/api/"):
            response.vary.add("Cookie")
    return response


def _safe_next(target: str | None) -> str:
    """Only a path of this site is followed after switching, never another host."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("pages.home")


def language_url(code: str) -> str:
    """The switch link to ``code`` that comes back to the current page."""
    here = request.full_path if request.query_string else request.path
    return url_for("i18n.switch", code=code, next=here)


@bp.get("/language/<code>")
def switch(code: str):
    """Remember the reader's language for a year and go back to the page they were reading."""
    if code not in LANGUAGES:
        raise NotFound(_("There is no interface language with the code '%(code)s'.", code=code[:10]))
    response = redirect(_safe_next(request.args.get("next")), code=303)
    response.set_cookie(LANGUAGE_COOKIE, code, max_age=LANGUAGE_COOKIE_MAX_AGE, samesite="Lax",
                        secure=request.is_secure or bool(current_app.config.get("SESSION_COOKIE_SECURE")),
                        httponly=True)
    return response
