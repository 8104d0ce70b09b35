"""What a reader asks the index for: the query text, filters, sort and page, parsed from request arguments."""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from flask import current_app, has_app_context

from tracker.errors import FieldError, Invalid
from tracker.models.vocab import INSTRUMENTS, LEGAL_STATUSES, VEHICLE_CLASSES
from tracker.pagination import PageRequest
from tracker.translation import gettext as _
from tracker.translation import lazy_gettext as _l

MAX_QUERY_LENGTH = 500
TYPES = ("policy", "event")
SORTS = {"relevance": _l("Relevance"), "latest": _l("Latest status change"), "adopted": _l("Date adopted")}
_CODE = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_KEY_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_-")


@dataclass(frozen=True)
class SearchRequest:
    """What a reader asked for: the query text, filters, sort and page."""

    q: str = ""
    countries: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    instruments: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    vehicle_classes: tuple[str, ...] = ()
    years: tuple[int, ...] = ()
    events: tuple[str, ...] = ()        # event keys (policies linked to these events)
    types: tuple[str, ...] = ()         # "policy", "event"; empty = both
    sort: str = "relevance"            # "relevance" | "latest" (latest status change) | "adopted"
    page: int = 1
    per_page: int = 20
    verbatim: bool = False              # search the words as typed, without correcting unknown ones


def _page_limits() -> tuple[int, int]:
    if has_app_context():
        return int(current_app.config.get("PER_PAGE", 20)), int(current_app.config.get("MAX_PER_PAGE", 100))
    return 20, 100


def parse_search_args(args: Mapping[str, Sequence[str]], *, allow_empty: bool = True) -> SearchRequest:
    """Build a SearchRequest from query parameters (filters may repeat to select several values).

    Parameters: ``q``, ``country``, ``status``, ``instrument``, ``topic``, ``vehicle_class``, ``year``,
    ``event``, ``type``, ``sort``, ``page``, ``per_page``, ``verbatim`` (1/true: no typo correction).
    Empty values mean "any" when ``allow_empty`` (HTML forms send them) and are refused otherwise; an
    empty ``q`` always lists everything.

    Raises:
        Invalid: naming every parameter whose value is not accepted.
    """
    errors: dict[str, str | FieldError] = {}

    def values(name: str) -> list[str]:
        raw = [value.strip() for value in args.get(name, ())]
        if not allow_empty and any(not value for value in raw):
            errors[name] = _("%(name)s must not be empty", name=name)
        return list(dict.fromkeys(value for value in raw if value))

    def pick(name: str, allowed: Mapping[str, str] | Sequence[str],
             normalise: Callable[[str], str] = str.lower) -> tuple[str, ...]:
        chosen = [normalise(value) for value in values(name)]
        unknown = [value for value in chosen if value not in allowed]
        if unknown:
            errors[name] = _("Unknown %(name)s '%(value)s'. Accepted values: %(values)s",
                             name=name.replace('_', ' '), value=unknown[0][:40], values=", ".join(allowed))
        return tuple(chosen)

    def keys(name: str, *, upper: bool = False) -> tuple[str, ...]:
        chosen = [value.upper() if upper else value.lower() for value in values(name)]
        allowed = _CODE if upper else _KEY_CHARS
        bad = [value for value in chosen if not value or len(value) > 120 or set(value) - allowed]
        if bad:
            errors[name] = (_("'%(value)s' is not a country code such as LA or ASEAN",
                              value=bad[0][:40]) if upper
                            else _("'%(value)s' is not a key of lower-case letters, digits, - and _",
                                   value=bad[0][:40]))
        return tuple(chosen)

    q_values = [value for value in args.get("q", ()) if value is not None]
    q = q_values[0].strip() if q_values else ""
    if len(q) > MAX_QUERY_LENGTH:
        errors["q"] = _("The query is %(length)s characters long; the limit is %(max)s.", length=len(q),
                        max=MAX_QUERY_LENGTH)
    if "\x00" in q:
        errors["q"] = _("The query contains a NUL character.")
    countries = keys("country", upper=True)
    statuses = pick("status", LEGAL_STATUSES)
    instruments = pick("instrument", INSTRUMENTS)
    topics = keys("topic")
    vehicle_classes = pick("vehicle_class", VEHICLE_CLASSES)
    events = keys("event")
    types = pick("type", TYPES)
    years: list[int] = []
    for raw in values("year"):
        if raw.isascii() and raw.isdigit() and len(raw) == 4 and raw[0] != "0":
            years.append(int(raw))
        else:
            errors["year"] = _("year must be a four-digit year such as 2023, not '%(value)s'", value=raw[:40])
    sorts = values("sort")
    sort = sorts[-1] if sorts else "relevance"
    if sort not in SORTS:
        errors["sort"] = _("Unknown sort '%(value)s'. Accepted values: %(values)s", value=sort[:40],
                           values=", ".join(SORTS))
    page_values, per_page_values = args.get("page", ()), args.get("per_page", ())
    default, maximum = _page_limits()
    try:
        paging = PageRequest.parse(page_values[0] if page_values else None,
                                   per_page_values[0] if per_page_values else None,
                                   default=default, maximum=maximum, allow_empty=allow_empty)
    except Invalid as error:
        errors.update(error.errors)
        paging = PageRequest()
    verbatim = False
    for raw in values("verbatim"):
        if raw.lower() in _TRUE:
            verbatim = True
        elif raw.lower() not in _FALSE:
            errors["verbatim"] = _("verbatim must be 1 or 0 (true or false), not '%(value)s'", value=raw[:40])
    if errors:
        raise Invalid(_("Some search parameters are not valid"), errors)
    return SearchRequest(q, countries, statuses, instruments, topics, vehicle_classes, tuple(years), events,
                         types, sort, paging.page, paging.per_page, verbatim)
