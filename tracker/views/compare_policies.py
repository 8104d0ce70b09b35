"""Policies side by side (/compare/policies?keys=a,b,c), its CSV download, and the tray of policies a reader is
choosing on the list, search and policy pages.

The choice travels in the address, never in a session: ``compare=a,b`` on the list, search and policy pages,
``keys=a,b`` on the comparison. Adding a policy is a plain link to the same page with one key more, so it
works without JavaScript; the pages stay cacheable and shareable (anonymous readers share cached pages by
address, and a session basket would make every page with a tray personal and need a cookie and a CSRF-checked
POST to change it); the back button undoes a choice.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, quote_plus, urlencode

from flask import Blueprint, Flask, Response, g, redirect, render_template, request, url_for

from tracker.errors import Invalid, NotFound
from tracker.models import Policy
from tracker.services import policy_comparison as comparison_service
from tracker.services.policy_comparison import KEY_SEPARATOR, MAX_POLICIES, MIN_POLICIES, keys_param
from tracker.services.tabular import csv_text
from tracker.translation import gettext as _
from tracker.views.cache import cached_page
from tracker.views.support import db_session

bp = Blueprint("compare_policies", __name__)

# The query parameter that carries the policies being chosen on the list, search and policy pages.
TRAY_PARAM = "compare"
# The characters Werkzeug leaves unescaped in the query strings url_for builds (the WHATWG URL standard's).
URL_SAFE = "!$'()*,/:;?@"


def init_comparison(app: Flask) -> None:
    """The comparison's routes and what templates need to show the tray and its links."""
    app.register_blueprint(bp)
    app.jinja_env.globals.update(comparison_tray=comparison_tray, with_tray=with_tray,
                                 comparison_url=comparison_url, MAX_COMPARED=MAX_POLICIES)


def comparison_url(keys: list[str] | tuple[str, ...], **values: Any) -> str:
    """The address of the comparison of ``keys`` (the whole of its state)."""
    return url_for("compare_policies.compare", keys=keys_param(keys), **values)


@bp.get("/compare/policies")
@cached_page
def compare():
    session = db_session()
    asked = comparison_service.parse_keys(request.args.getlist("keys"))
    try:
        selection = comparison_service.select_policies(session, asked)
    except Invalid as error:
        # Too many: the page itself says so, with a link that removes each of them.
        return render_template("compare/policies.html", state="too_many", asked=asked, message=error.message,
                               comparison=None, policies=()), 400
    if selection.unknown:
        return render_template("compare/policies.html", state="unknown", asked=asked, unknown=selection.unknown,
                               found=selection.keys, comparison=None, policies=selection.policies), 404
    if selection.keys and request.args.getlist("keys") != [keys_param(selection.keys)]:
        # Old keys, the same key twice, spaces or repeated parameters: the address of record names the
        # current keys once each, so that one comparison has one address to share.
        return redirect(comparison_url(selection.keys), code=302)
    if len(selection.policies) < MIN_POLICIES:
        return render_template("compare/policies.html", state="choose", asked=asked, comparison=None,
                               policies=selection.policies)
    comparison = comparison_service.compare(selection.policies)
    return render_template("compare/policies.html", state="compare", asked=asked, comparison=comparison,
                           policies=selection.policies)


@bp.get("/compare/policies.csv")
def download():
    session = db_session()
    selection = comparison_service.select_policies(session, comparison_service.parse_keys(request.args.getlist("keys")))
    if selection.unknown:
        raise NotFound(_("No published policy has the key '%(key)s'.", key=selection.unknown[0][:120]))
    if len(selection.policies) < MIN_POLICIES:
        raise Invalid(_("Name %(min)s to %(max)s policies to compare, as in %(example)s.", min=MIN_POLICIES,
                        max=MAX_POLICIES, example="keys=th-ev35-incentives-2024-2027,id-permenperin-6-2023"),
                      {"keys": _("Name %(min)s to %(max)s policies to compare.", min=MIN_POLICIES, max=MAX_POLICIES)})
    pattern = url_for("policies.detail", key="__key__", _external=True)
    before, after = pattern.split("__key__")
    header, rows = comparison_service.csv_table(comparison_service.compare(selection.policies),
                                                lambda key: f"{before}{key}{after}")
    response = Response(csv_text(header, rows), mimetype="text/csv")
    response.headers["Content-Disposition"] = \
        f'attachment; filename="policy-comparison-{dt.date.today().isoformat()}.csv"'
    return response


# ---------------------------------------------------------------------------------------------------
# The tray


@dataclass(frozen=True)
class Tray:
    """The policies a reader has chosen so far on the page they are on (from ``compare=`` in its address)."""

    policies: tuple[Policy, ...]
    refused: int

    @property
    def keys(self) -> list[str]:
        return [policy.key for policy in self.policies]

    @property
    def full(self) -> bool:
        return len(self.policies) >= MAX_POLICIES

    def __contains__(self, key: object) -> bool:
        return key in self.keys

    def __bool__(self) -> bool:
        return bool(self.policies) or bool(self.refused)

    def add_url(self, key: str) -> str:
        """This page with ``key`` added to the choice."""
        if key in self.keys:
            return _this_page_with(self.keys)
        # A list asks this for each of its rows: the address up to the new key is made once per request.
        # The same as _this_page_with(self.keys + [key]): the separator is among the characters left as they are.
        prefixes = g.setdefault("comparison_add_prefixes", {})
        chosen = tuple(self.keys)
        prefix = prefixes.get(chosen)
        if prefix is None:
            base = _this_page_with([])
            value = quote_plus(keys_param(chosen), safe=URL_SAFE) + KEY_SEPARATOR if chosen else ""
            prefix = prefixes[chosen] = f"{base}{'&' if '?' in base else '?'}{TRAY_PARAM}={value}"
        return prefix + quote_plus(key, safe=URL_SAFE)

    def remove_url(self, key: str) -> str:
        """This page with ``key`` taken out of the choice."""
        return _this_page_with([k for k in self.keys if k != key])

    def clear_url(self) -> str:
        return _this_page_with([])

    def compare_url(self) -> str:
        return comparison_url(self.keys)


def _this_page_with(keys: list[str]) -> str:
    # A list page links every row to "add to the comparison": the page's own address is built once per
    # request, and each link only appends its choice (encoded as url_for would, the choice last).
    base = g.get("comparison_base_url")
    if base is None:
        # Any, as url_for's **values: mypy would check the lists against _anchor, _external and the like.
        args: dict[str, Any] = {name: request.args.getlist(name) for name in request.args if name != TRAY_PARAM}
        base = g.comparison_base_url = url_for(request.endpoint or "policies.index", **(request.view_args or {}),
                                               **args)
    if not keys:
        return base
    return base + ("&" if "?" in base else "?") + urlencode([(TRAY_PARAM, keys_param(keys))], safe=URL_SAFE)


def comparison_tray() -> Tray:
    """The tray of the page being made (one query when the address names policies, none otherwise)."""
    tray = g.get("comparison_tray")
    if tray is None:
        keys = comparison_service.parse_keys(request.args.getlist(TRAY_PARAM))
        found = comparison_service.tray_policies(db_session(), keys) if keys else []
        tray = g.comparison_tray = Tray(tuple(found[:MAX_POLICIES]), max(0, len(found) - MAX_POLICIES))
    return tray


def with_tray(url: str) -> str:
    """``url`` (a page of this site) carrying the reader's choice along, when there is one."""
    tray = comparison_tray()
    if not tray.policies:
        return url
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}{TRAY_PARAM}={quote(keys_param(tray.keys), safe=',')}"
