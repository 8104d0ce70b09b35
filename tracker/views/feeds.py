"""Atom feeds of legal status changes, for partners who follow the tracker without an account."""
from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode, urlsplit

from feedgen.feed import FeedGenerator
from flask import Blueprint, Response, current_app, request, url_for
from flask_babel import force_locale

from tracker.i18n import format_partial_date, local_name
from tracker.models import StatusChange
from tracker.models.content_version import current_content_version
from tracker.models.vocab import INSTRUMENTS, LEGAL_STATUSES
from tracker.services.feeds import FeedFilter, FeedNames, feed_entries, parse_feed_args
from tracker.translation import gettext as _
from tracker.views.cache import cached_page
from tracker.views.support import db_session, query_args

bp = Blueprint("feeds", __name__, url_prefix="/feeds")

ATOM_MIMETYPE = "application/atom+xml"
# Parameters that make the feed a saved search, answered from the search index.
SEARCHED = ("q", "status", "vehicle_class", "year")
# The year in the entry ids (RFC 4151 tag URIs): fixed, so that ids never change.
TAG_YEAR = "2026"
# Characters XML 1.0 cannot carry at all (C0 controls but tab and newlines, lone surrogates, U+FFFE/FFFF).
# A note pasted from a PDF can hold a form feed; one such character must not break every feed.
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(value: object) -> str:
    """``value`` as text an XML document can hold: characters XML forbids are replaced by a space."""
    return _NOT_XML.sub(" ", str(value))


def feed_url(_external: bool = False, **args) -> str:
    """The change feed narrowed by ``args`` (country, topic, policy, event, q and the search filters)."""
    return url_for("feeds.changes", _external=_external, **{k: v for k, v in args.items() if v not in (None, "", [])})


def _tag_authority() -> str:
    # The public host when one is configured, so entry ids stay the same whichever name a reader used.
    public = current_app.config.get("PUBLIC_URL") or ""
    return urlsplit(public).hostname or request.host.split(":")[0] or "localhost"


def _status(code: str | None) -> str:
    return str(LEGAL_STATUSES.get(code or "", code or ""))


def _entry_title(change: StatusChange, language: str) -> str:
    policy = change.policy
    # A title in the feed's language, else the other one (a record may be titled in Lao only).
    title = (policy.title_lo or policy.title_en) if language == "lo" else (policy.title_en or policy.title_lo)
    if change.from_status and change.from_status != change.to_status:
        return _("%(title)s: %(old)s → %(new)s", title=title, old=_status(change.from_status),
                 new=_status(change.to_status))
    return _("%(title)s: %(new)s", title=title, new=_status(change.to_status))


def _entry_summary(change: StatusChange) -> str:
    policy = change.policy
    lines = [title for title in (policy.title_en, policy.title_lo) if title]
    lines.append(_("Country: %(country)s", country=local_name(policy.jurisdiction)))
    if change.from_status and change.from_status != change.to_status:
        step = _("Legal status: %(old)s → %(new)s", old=_status(change.from_status), new=_status(change.to_status))
    else:
        step = _("Legal status: %(new)s", new=_status(change.to_status))
    lines.append(step)
    lines.append(_("Effective: %(date)s", date=format_partial_date(change.effective_on)) if change.effective_on
                 else _("Effective: date not known"))
    if change.note:
        lines.append(_("Note: %(note)s", note=change.note))
    if change.evidence_url:
        lines.append(_("Evidence: %(url)s", url=change.evidence_url))
    return "\n".join(lines)


def _feed_title(flt: FeedFilter, names: FeedNames) -> str:
    parts = [*names.countries.values(), *names.topics.values(), *names.policies.values(),
             *names.events.values(), *(str(INSTRUMENTS.get(name, name)) for name in flt.instruments)]
    if flt.search is not None and flt.search.q:
        parts.append(_("search “%(q)s”", q=flt.search.q))
    elif flt.search is not None:
        parts.append(_("search"))
    if not parts:
        return _("EV Policy Tracker: status changes")
    return _("EV Policy Tracker: status changes — %(what)s", what=", ".join(parts))


def _alternate_page(flt: FeedFilter, args: dict[str, list[str]]) -> str:
    """The HTML page that shows what the feed follows."""
    if flt.search is not None:
        # Any, as url_for's **values: mypy would check the lists against _anchor, _external and the like.
        search_args: dict[str, Any] = {k: v for k, v in args.items() if k not in ("lang", "policy")}
        return url_for("search.index", _external=True, **search_args)
    if len(flt.policies) == 1 and not (flt.countries or flt.topics or flt.events):
        return url_for("policies.detail", key=flt.policies[0], _external=True)
    if len(flt.events) == 1 and not (flt.countries or flt.topics or flt.policies):
        return url_for("events.detail", key=flt.events[0], _external=True)
    if len(flt.countries) == 1 and not (flt.topics or flt.policies or flt.events):
        return url_for("pages.country", code=flt.countries[0], _external=True)
    return url_for("pages.home", _external=True)


def _canonical_query(args: dict[str, list[str]]) -> str:
    return urlencode(sorted((name, value) for name, values in args.items() for value in values if value))


def _render(flt: FeedFilter, names: FeedNames, entries: list[StatusChange], args: dict[str, list[str]]) -> bytes:
    authority = _tag_authority()
    generator = FeedGenerator()
    query = _canonical_query(args)
    generator.id(f"tag:{authority},{TAG_YEAR}:changes" + (f"?{query}" if query else ""))
    generator.title(xml_text(_feed_title(flt, names)))
    generator.subtitle(_("Legal status changes of published electric-vehicle policies of Lao PDR and ASEAN."))
    generator.author({"name": _("EV Policy Tracker")})
    generator.link(href=feed_url(_external=True, **args), rel="self", type=ATOM_MIMETYPE)
    generator.link(href=_alternate_page(flt, args), rel="alternate", type="text/html")
    generator.language(flt.language)
    generator.generator("EV Policy Tracker")
    if entries:
        generator.updated(max(change.recorded_at for change in entries))
    else:
        generator.updated(current_content_version(db_session())[1])
    for change in entries:
        policy = change.policy
        entry = generator.add_entry(order="append")
        entry.id(f"tag:{authority},{TAG_YEAR}:status-change/{change.id}")
        entry.title(xml_text(_entry_title(change, flt.language)))
        entry.link(href=url_for("policies.detail", key=policy.key, _external=True), rel="alternate",
                   type="text/html")
        entry.published(change.recorded_at)
        entry.updated(change.recorded_at)
        entry.summary(xml_text(_entry_summary(change)), type="text")
        entry.category(term=policy.jurisdiction_code, label=xml_text(local_name(policy.jurisdiction)))
        for link in policy.topic_links:
            entry.category(term=link.topic_key, label=xml_text(local_name(link.topic)))
    return generator.atom_str(pretty=True)


def _changes() -> Response:
    session = db_session()
    args = query_args()
    flt, names = parse_feed_args(session, args)
    with force_locale(flt.language):
        body = _render(flt, names, feed_entries(session, flt), args)
    return Response(body, mimetype=ATOM_MIMETYPE)


# A feed follows the content version like any page, so it is cached and answers If-None-Match; a saved
# search is not, for the reason given at tracker.views.search.index.
_cached_changes = cached_page(_changes)


@bp.get("/changes.atom")
def changes():
    if any(value.strip() for name in SEARCHED for value in request.args.getlist(name)):
        return _changes()
    return _cached_changes()
