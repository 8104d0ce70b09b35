"""What a subscription follows, in the subscriber's language and the tracker's own names (for its emails)."""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import flask_babel
from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.lao import shorten
from tracker.models import Event, Jurisdiction, Policy, Topic
from tracker.models.notification import Subscription
from tracker.models.vocab import INSTRUMENTS, LEGAL_STATUSES, VEHICLE_CLASSES
from tracker.translation import lazy_gettext as _l

if TYPE_CHECKING:
    # flask_babel has no type information: its gettext, as it is called here.
    def _(string: str, **variables: Any) -> str: ...
else:
    from tracker.translation import gettext as _

# The words of a saved search are chosen by whoever filled the form, and the confirmation goes to any address:
# they are shown quoted, this long at most, with nothing a mail client would turn into a link.
QUERY_LIMIT = 60
# Names of records are the tracker's own, but a title can be long.
NAME_LIMIT = 120
FILTER_LABELS = {"country": _l("country"), "status": _l("status"), "instrument": _l("instrument"),
                 "topic": _l("topic"), "vehicle_class": _l("vehicle class"), "year": _l("year"),
                 "event": _l("event")}
LABELLED_FILTERS = ("country", "topic", "event")
# Schemes mail clients and phones make links of.
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)
_LINK_SCHEMES = frozenset({"http", "https", "ftp", "ftps", "sftp", "file", "mailto", "tel", "sms", "callto",
                           "skype", "sip", "sips", "xmpp", "irc", "news", "data", "javascript", "vbscript",
                           "facetime", "whatsapp", "tg", "line", "viber", "webcal", "geo", "maps", "magnet"})
# Dots a domain may be written with (ideographic and full-width ones are read as dots by some clients).
_DOT = "[.\u3002\uff0e\uff61]"
# Something.tld (a letter label of two or more after a dot), and an IPv4 address.
_DOMAIN = re.compile(rf"[^\W_](?:[\w-]*){_DOT}(?:[\w-]+{_DOT})*[^\W\d_]{{2,}}", re.UNICODE)
_IPV4 = re.compile(rf"\d{{1,3}}(?:{_DOT}\d{{1,3}}){{3}}")
# Characters that change how the rest reads (bidi overrides, zero-width joiners) or end the quotation.
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"})
_QUOTES_AND_BRACKETS = str.maketrans({char: " " for char in "\"“”„‟«»‹›'‘’‚‛`<>[](){}\\|"})


def describe_subscription(subscription: Subscription, session: Session | None = None) -> str:
    """What ``subscription`` follows, in its language, naming records as the tracker names them: "the topic
    Charging infrastructure", "policies of Lao PDR", "a saved search for “charging stations”, narrowed to
    status: In force". Records are looked up in ``session`` (or a short session of the app's database)."""
    with flask_babel.force_locale(subscription.language or "en"), _reading(session) as reading:
        language = subscription.language if subscription.language in ("en", "lo") else "en"
        names = _names(reading, subscription, language)
        return _describe(subscription, names)


@contextmanager
def _reading(session: Session | None) -> Iterator[Session]:
    if session is not None:
        yield session
        return
    with current_app.extensions["tracker.db"].session() as own:
        yield own


def _names(session: Session, subscription: Subscription, language: str) -> dict[str, dict[str, str]]:
    """The names, in ``language`` (else the other one), of the records the subscription refers to:
    kind -> key -> name. Policies and forums are named only while published (at most four queries)."""
    wanted: dict[str, set[str]] = {kind: set() for kind in ("policy", "event", "country", "topic")}
    if subscription.target_kind in wanted and subscription.target_value:
        wanted[subscription.target_kind].add(subscription.target_value)
    if subscription.target_kind == "search":
        for name in LABELLED_FILTERS:
            wanted[name].update(_filter_values(subscription.target_filters, name))
    columns: dict[str, tuple[Any, Any, Any, Any]] = {
        "policy": (Policy.key, Policy.title_en, Policy.title_lo, Policy.editorial_state == "published"),
        "event": (Event.key, Event.name_en, Event.name_lo, Event.editorial_state == "published"),
        "country": (Jurisdiction.code, Jurisdiction.name_en, Jurisdiction.name_lo, None),
        "topic": (Topic.key, Topic.name_en, Topic.name_lo, None),
    }
    names: dict[str, dict[str, str]] = {kind: {} for kind in wanted}
    for kind, keys in wanted.items():
        if not keys:
            continue
        key_column, english, lao, visible = columns[kind]
        statement = select(key_column, english, lao).where(key_column.in_(keys))
        if visible is not None:
            statement = statement.where(visible)
        for key, name_en, name_lo in session.execute(statement):
            name = (name_lo or name_en) if language == "lo" else (name_en or name_lo)
            if name:
                names[kind][key] = shorten(" ".join(str(name).split()), NAME_LIMIT)
    return names


def _filter_values(filters: Any, name: str) -> list[str]:
    values = (filters or {}).get(name) if isinstance(filters, Mapping) else None
    if isinstance(values, str):
        return [values]
    return [str(value) for value in values or ()]


def _describe(subscription: Subscription, names: Mapping[str, Mapping[str, str]]) -> str:
    kind = subscription.target_kind
    value = subscription.target_value or ""
    if kind == "all":
        return _("every policy change")
    if kind == "policy":
        return _("the policy “%(title)s”", title=names["policy"].get(value, value))
    if kind == "country":
        return _("policies of %(country)s", country=names["country"].get(value, value))
    if kind == "topic":
        return _("the topic %(topic)s", topic=names["topic"].get(value, value))
    if kind == "instrument":
        return _("instruments of type %(kind)s", kind=str(INSTRUMENTS.get(value, value)))
    if kind == "event":
        return _("policies linked to the forum or event “%(name)s”", name=names["event"].get(value, value))
    # A saved search: the tracker's words, the visitor's own only quoted, short and without links.
    query = quoted_query(value)
    filters = describe_filters(subscription.target_filters, names)
    if query and filters:
        return _("a saved search for “%(query)s”, narrowed to %(filters)s", query=query, filters=filters)
    if query:
        return _("a saved search for “%(query)s”", query=query)
    if filters:
        return _("a saved search narrowed to %(filters)s", filters=filters)
    return _("a saved search")


def describe_filters(filters: Any, names: Mapping[str, Mapping[str, str]]) -> str:
    """A saved search's filters by their names: "country: Lao PDR, Thailand; status: In force"."""
    labels: dict[str, Mapping[str, Any]] = {"status": LEGAL_STATUSES, "instrument": INSTRUMENTS,
                                            "vehicle_class": VEHICLE_CLASSES}
    parts = []
    for name, label in FILTER_LABELS.items():
        values = _filter_values(filters, name)
        if not values:
            continue
        known = names.get(name, {}) if name in LABELLED_FILTERS else labels.get(name, {})
        # A value the tracker has no name for is a code it checked when the search was saved; shown as text
        # never longer than a key, it cannot carry a sentence or a link.
        shown = [str(known[v]) if v in known else quoted_query(v, 40) for v in values[:10]]
        more = len(values) - len(shown)
        text = ", ".join(item for item in shown if item)
        if more > 0:
            text = _("%(items)s and %(n)s more", items=text, n=more)
        parts.append(f"{label}: {text}")
    return "; ".join(parts)


def quoted_query(text: str | None, limit: int = QUERY_LIMIT) -> str:
    """The words of a search as they may be shown in an email sent to anyone: without anything a mail client
    would make a link of (addresses, URLs, host names such as example.com or www.x, IP addresses), quote
    marks or control characters, and at most ``limit`` characters, cut between words (Lao ones included)."""
    if not text:
        return ""
    text = "".join(" " if unicodedata.category(char) in _DROPPED_CATEGORIES else char for char in str(text))
    kept: list[str] = []
    for word in text.translate(_QUOTES_AND_BRACKETS).split():
        # Checked in compatibility form, where full-width letters read as plain ones (ｅｘａｍｐｌｅ．ｃｏｍ is a
        # link too); shown as typed (the same form would respell Lao's AM).
        if _is_linkish(unicodedata.normalize("NFKC", word)):
            if kept and kept[-1] != "…":
                kept.append("…")
            continue
        kept.append(word)
    quoted = " ".join(kept).strip(" …")
    return shorten(quoted, limit) if quoted else ""


def _is_linkish(word: str) -> bool:
    lowered = word.lower()
    if "://" in word or "@" in word or lowered.startswith("www") or "www." in lowered:
        return True
    scheme = _SCHEME.match(word)
    if scheme and scheme[0][:-1].lower() in _LINK_SCHEMES:
        return True
    return bool(_DOMAIN.search(word) or _IPV4.search(word))


__all__ = ["describe_filters", "describe_subscription", "quoted_query"]
