"""The calendar page and its iCalendar feeds: comment deadlines, entries into force, expiries and events."""
from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Response, current_app, render_template, url_for
from flask_babel import force_locale
from icalendar import Calendar
from icalendar import Event as CalendarEvent

from tracker.config import local_today
from tracker.errors import Invalid
from tracker.i18n import current_language, format_partial_date
from tracker.services import calendar as calendar_service
from tracker.services import policies as policy_service
from tracker.services.calendar import KINDS, CalendarFilter, CalendarItem
from tracker.translation import gettext as _
from tracker.views.cache import cached_page
from tracker.views.support import db_session, query_args

bp = Blueprint("calendar", __name__)

ICS_MIMETYPE = "text/calendar"
# The UID host when TRACKER_PUBLIC_URL is not set: ids must not follow whichever name a reader used.
DEFAULT_UID_HOST = "localhost"


def _filter(args: dict[str, list[str]]) -> CalendarFilter:
    return calendar_service.parse_filter(args, policy_service.filter_choices(db_session()), local_today())


@bp.get("/calendar")
@cached_page
def index():
    args = query_args()
    session = db_session()
    choices = policy_service.filter_choices(session)
    flt = calendar_service.parse_filter(args, choices, local_today())
    found = calendar_service.items(session, flt)
    query = urlencode([(name, value) for name, values in flt.query().items() for value in values])
    https_feed = url_for("calendar.feed", _external=True) + (f"?{query}" if query else "")
    return render_template("calendar/index.html", flt=flt, choices=choices, kinds=KINDS,
                           months=calendar_service.by_month(found), https_feed=https_feed,
                           webcal_feed="webcal://" + https_feed.split("://", 1)[1])


# ---------------------------------------------------------------------------------------------------
# iCalendar


def _language(args: dict[str, list[str]]) -> str:
    values = [value for value in args.get("lang", []) if value]
    if not values:
        return current_language()
    if values[-1] not in ("en", "lo"):
        raise Invalid(_("Some filters are not valid"), {"lang": _("lang must be en or lo.")})
    return values[-1]


def _uid_host() -> str:
    return urlsplit(current_app.config.get("PUBLIC_URL") or "").hostname or DEFAULT_UID_HOST


def _record_url(item: CalendarItem) -> str:
    endpoint = "policies.detail" if item.record_type == "policy" else "events.detail"
    path = url_for(endpoint, key=item.key)
    public = current_app.config.get("PUBLIC_URL")
    return str(public).rstrip("/") + path if public else url_for(endpoint, key=item.key, _external=True)


def _title(item: CalendarItem, language: str) -> str:
    return ((item.title_lo or item.title_en) if language == "lo" else (item.title_en or item.title_lo)) or item.key


def summary(item: CalendarItem, language: str) -> str:
    """What a calendar entry is called: 'Comment deadline: <title>'."""
    title = _title(item, language)
    if item.kind == "comment_deadline":
        return _("Comment deadline: %(title)s", title=title)
    if item.kind == "entry_into_force":
        return _("Enters into force: %(title)s", title=title)
    if item.kind == "expiry":
        return _("Ends: %(title)s", title=title)
    return title


def _description(item: CalendarItem, language: str) -> str:
    lines = [summary(item, language)]
    other = item.title_en if language == "lo" else item.title_lo
    if other and other != _title(item, language):
        lines.append(other)
    if item.date.precision == "month":
        lines.append(_("Known to the month only: %(month)s.", month=format_partial_date(item.date)))
    if item.kind == "comment_deadline":
        if item.detail.get("opens_on"):
            lines.append(_("Open for comment from %(date)s.",
                           date=format_partial_date(dt.date.fromisoformat(str(item.detail["opens_on"])))))
        if item.detail.get("comment_address"):
            lines.append(_("Send comments to: %(address)s", address=item.detail["comment_address"]))
    if item.kind == "event" and item.detail.get("venue"):
        lines.append(_("Venue: %(venue)s", venue=item.detail["venue"]))
    lines.append(_record_url(item))
    return "\n".join(lines)


def ics_document(found: list[CalendarItem], language: str, name: str) -> bytes:
    """The items as an iCalendar (RFC 5545) document: one all-day event each (``VALUE=DATE``), its UID the
    record's key and fact at the tracker's host, its SEQUENCE the record's version."""
    calendar = Calendar()
    calendar.add("prodid", "-//EV Policy Tracker//Calendar//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", name)
    calendar.add("x-wr-timezone", "Asia/Vientiane")
    host = _uid_host()
    for item in found:
        entry = CalendarEvent()
        entry.add("uid", f"{item.record_type}-{item.key}-{item.fact}@{host}")
        entry.add("dtstamp", item.updated_at.astimezone(dt.UTC))
        entry.add("last-modified", item.updated_at.astimezone(dt.UTC))
        entry.add("sequence", item.sequence)
        entry.add("dtstart", item.first_day)
        # DTEND of an all-day event is the day after the last (RFC 5545 3.6.1).
        entry.add("dtend", item.last_day + dt.timedelta(days=1))
        entry.add("summary", summary(item, language))
        entry.add("description", _description(item, language))
        entry.add("url", _record_url(item))
        entry.add("categories", [str(KINDS[item.kind])])
        entry.add("transp", "TRANSPARENT")
        calendar.add_component(entry)
    return calendar.to_ical()


def _feed(flt: CalendarFilter, language: str, name: str) -> Response:
    found = calendar_service.items(db_session(), flt)
    with force_locale(language):
        body = ics_document(found, language, name)
    response = Response(body, mimetype=ICS_MIMETYPE)
    response.headers["Content-Disposition"] = "inline; filename=calendar.ics"
    return response


@bp.get("/calendar.ics")
@cached_page
def feed():
    args = query_args()
    flt = _filter(args)
    language = _language(args)
    with force_locale(language):
        name = _("EV Policy Tracker: calendar")
    return _feed(flt, language, name)


@bp.get("/policies/<key>/calendar.ics")
@cached_page
def policy_feed(key: str):
    args = query_args()
    language = _language(args)
    policy = policy_service.get_policy(db_session(), key, include_unpublished=False)
    # A policy's calendar holds what is still ahead and what passed: a subscriber sees its whole schedule.
    flt = CalendarFilter(start=dt.date(1900, 1, 1), kinds=(), policy_key=policy.key)
    with force_locale(language):
        name = _("EV Policy Tracker: %(title)s", title=(policy.title_lo or policy.title_en) if language == "lo"
                 else (policy.title_en or policy.title_lo) or policy.key)
    return _feed(flt, language, name)


def calendar_json(item: CalendarItem, language: str) -> dict[str, Any]:
    """One item as the API serves it."""
    return {"kind": item.kind, "record_type": item.record_type, "key": item.key, "fact": item.fact,
            "date": item.date.isoformat(), "ends": item.ends.isoformat() if item.ends else None,
            "first_day": item.first_day.isoformat(), "last_day": item.last_day.isoformat(),
            "title_en": item.title_en, "title_lo": item.title_lo, "country": item.country,
            "topics": list(item.topics), "summary": summary(item, language), "url": _record_url(item),
            "sequence": item.sequence, "details": dict(item.detail)}


