"""The emails of notifications, rendered from tracker/templates/email/ in the subscriber's language."""
from __future__ import annotations

import contextlib
import datetime as dt
import functools
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import flask_babel
from flask import current_app
from jinja2 import Environment, FileSystemLoader, select_autoescape

from tracker import lao
from tracker.i18n import format_partial_date, format_timestamp
from tracker.models.types import PartialDate, PartialDateError
from tracker.models.vocab import DOCUMENT_LANGUAGES, DOCUMENT_ROLES, INSTRUMENTS, LEGAL_STATUSES
from tracker.notifications.channels.email import build_message
from tracker.notifications.payloads import external_url, public_base_url
from tracker.notifications.tokens import make_manage_token, make_token, make_unsubscribe_token

if TYPE_CHECKING:
    # flask_babel has no type information: its gettext, as it is called here.
    def _(string: str, **variables: Any) -> str: ...
else:
    from tracker.translation import gettext as _

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "email"

# Country names by code: (English, Lao or None), read from the jurisdictions table by the sender.
CountryNames = Mapping[str, tuple[str, str | None]]


@dataclass(frozen=True)
class Answered:
    """One of the recipient's subscriptions an email answers, described in the email's language."""

    public_id: str
    description: str

    @property
    def unsubscribe_url(self) -> str:
        return unsubscribe_url(self.public_id)


@functools.cache
def _environment() -> Environment:
    autoescape = select_autoescape(enabled_extensions=("html",), default_for_string=False)
    environment = Environment(loader=FileSystemLoader(str(TEMPLATES)), extensions=["jinja2.ext.i18n"],
                              autoescape=autoescape, trim_blocks=True, lstrip_blocks=True,
                              keep_trailing_newline=True)
    environment.install_gettext_callables(  # type: ignore[attr-defined]
        lambda text, **values: flask_babel.gettext(text, **values),
        lambda singular, plural, n, **values: flask_babel.ngettext(singular, plural, n, **values),
        newstyle=True)
    return environment


@contextlib.contextmanager
def language(code: str) -> Iterator[None]:
    """Render (and translate) in ``code`` whatever the current request's language is."""
    with flask_babel.force_locale(code or "en"):
        yield


def render(name: str, **context: Any) -> tuple[str, str]:
    """The plain-text and HTML bodies of email template ``name``."""
    environment = _environment()
    countries: CountryNames = context.pop("countries", None) or {}
    context.setdefault("country", lambda code: country_name(code, countries))
    context.setdefault("instrument_label", instrument_label)
    context.setdefault("moment", moment)
    context.setdefault("status_label", status_label)
    context.setdefault("site_url", public_base_url())
    context.setdefault("DOCUMENT_ROLES", DOCUMENT_ROLES)
    context.setdefault("DOCUMENT_LANGUAGES", DOCUMENT_LANGUAGES)
    context.setdefault("day", day)
    return (environment.get_template(f"{name}.txt").render(**context),
            environment.get_template(f"{name}.html").render(**context))


def day(value: Any) -> str:
    """A date of a payload ('2026-07-14') as the reader writes it ('14 July 2026', '14 ກໍລະກົດ 2026')."""
    try:
        return format_partial_date(PartialDate.parse(str(value)))
    except PartialDateError:
        return str(value or "")


def moment(value: dt.datetime | None) -> str:
    """When something happened, in Vientiane time and the reader's language."""
    return format_timestamp(value)


def country_name(code: str | None, countries: CountryNames) -> str:
    """A country's (or ASEAN's) name in the current language, its code when the name is unknown."""
    if not code:
        return ""
    english, lao = countries.get(code) or countries.get(code.upper()) or (code, None)
    return lao if lao and flask_babel.get_locale() is not None and \
        str(flask_babel.get_locale().language) == "lo" else english


def instrument_label(code: str | None) -> str:
    if not code:
        return ""
    label = INSTRUMENTS.get(code)
    return str(label) if label is not None else code


def status_label(code: str | None) -> str:
    if not code:
        return ""
    return _(LEGAL_STATUSES.get(code, code))


def list_id() -> str:
    host = urlsplit(public_base_url()).hostname or "localhost"
    return f"EV policy tracker notifications <notifications.{host}>"


def message_id(public_id: str) -> str:
    host = urlsplit(public_base_url()).hostname or "localhost"
    return f"<{public_id}@{host}>"


def unsubscribe_url(subscription_public_id: str) -> str:
    return external_url(f"/unsubscribe/{make_token('unsubscribe', subscription_public_id)}")


def manage_url(address: str) -> str:
    """The link, in every email, to the page managing all of ``address``'s subscriptions without an account."""
    return external_url(f"/subscriptions/manage/{make_manage_token(address)}")


def confirm_url(subscription_public_id: str) -> str:
    return external_url(f"/subscriptions/confirm/{make_token('confirm', subscription_public_id)}")


def policy_title(data: dict[str, Any], lang: str) -> str:
    if lang == "lo" and data.get("title_lo"):
        return str(data["title_lo"])
    return str(data.get("title_en") or data.get("title_lo") or data.get("policy_key") or "")


def _short(title: str, limit: int = 120) -> str:
    """``title`` cut to about ``limit`` characters after a whole word (Lao words found by the
    segmenter, since Lao writes no spaces between them)."""
    if len(title) <= limit:
        return title
    kept = ""
    for run in re.split(r"(\s+)", title):
        for word in (lao.words(run) if lao.LAO_RUN.search(run) else [run]):
            if len(kept) + len(word) > limit - 1:
                return (kept.rstrip() or word[:limit - 1]) + "…"
            kept += word
    return kept


def subject_for(event_type: str, data: dict[str, Any], lang: str) -> str:
    title = _short(policy_title(data, lang))
    if event_type == "policy.status_changed":
        return _("%(title)s is now %(status)s", title=title, status=status_label(data.get("new_status")))
    if event_type == "policy.published":
        return _("New policy: %(title)s", title=title)
    if event_type == "policy.validity_changed":
        return _("Validity dates changed: %(title)s", title=title)
    if event_type == "policy.document_added":
        return _("New text attached: %(title)s", title=title)
    if event_type == "policy.sunset_upcoming":
        ends = data.get("valid_to_end") or data.get("valid_to")
        return _("%(title)s ends on %(date)s", title=title, date=day(ends))
    if event_type == "policy.comment_period_changed":
        if data.get("change") == "shortened":
            return _("Comment period shortened: %(title)s", title=title)
        return _("Comment period extended: %(title)s", title=title)
    if event_type == "policy.comment_period_closing":
        return _("Comment period closes on %(date)s: %(title)s", title=title, date=day(data.get("closes_on")))
    if event_type == "webhook.test":
        return _("Test notification")
    return _("Policy update: %(title)s", title=title)


def _sender() -> str:
    return str(current_app.config.get("MAIL_FROM") or "EV Policy Tracker <no-reply@localhost>")


def _mailto() -> str | None:
    address = current_app.config.get("MAIL_UNSUBSCRIBE_MAILTO")
    return f"mailto:{address}?subject=unsubscribe" if address else None


def update_email(*, to: str, lang: str, items: Sequence[dict[str, Any]], answered: Sequence[Answered],
                 message_public_id: str, countries: CountryNames | None = None) -> EmailMessage:
    """One immediate email about one policy: the net change of the events in ``items`` (``type``,
    ``data``, ``occurred_at``; oldest first), naming every subscription of the recipient it answers, each
    with its own unsubscribe link; the one-click link stops exactly those."""
    public_ids = [answer.public_id for answer in answered]
    with language(lang):
        unsubscribe = external_url(f"/unsubscribe/{make_unsubscribe_token(public_ids)}")
        rendered = [dict(item, subject=subject_for(item["type"], item["data"], lang)) for item in items]
        latest = rendered[-1]["data"]
        text, html = render("notification", items=rendered, data=latest, lang=lang, title=policy_title(latest, lang),
                            answered=answered, unsubscribe_url=unsubscribe, manage_url=manage_url(to),
                            countries=countries)
        if len(rendered) == 1:
            subject = rendered[0]["subject"]
        else:
            subject = _("%(count)s updates: %(title)s", count=len(rendered), title=_short(policy_title(latest, lang)))
    return build_message(sender=_sender(), to=to, subject=subject, text=text, html=html,
                         message_id=message_id(message_public_id), list_id=list_id(),
                         unsubscribe_url=unsubscribe, unsubscribe_mailto=_mailto())


def notification_email(*, to: str, lang: str, event_type: str, data: dict[str, Any], delivery_public_id: str,
                       subscription_public_id: str, description: str = "",
                       countries: CountryNames | None = None) -> EmailMessage:
    """One immediate notification about one change, answering one subscription."""
    return update_email(to=to, lang=lang, items=[{"type": event_type, "data": data, "occurred_at": None}],
                        answered=[Answered(subscription_public_id, description)],
                        message_public_id=delivery_public_id, countries=countries)


def digest_email(*, to: str, lang: str, cadence: str, items: list[dict[str, Any]], digest_id: str,
                 answered: Sequence[Answered], countries: CountryNames | None = None) -> EmailMessage:
    """A daily or weekly digest listing each change once, oldest first, naming the subscriptions it
    answers; its one-click link stops exactly those."""
    public_ids = [answer.public_id for answer in answered]
    with language(lang):
        unsubscribe = external_url(f"/unsubscribe/{make_unsubscribe_token(public_ids)}")
        for item in items:
            item["title"] = policy_title(item["data"], lang)
            item["subject"] = subject_for(item["type"], item["data"], lang)
        text, html = render("digest", cadence=cadence, items=items, lang=lang, unsubscribe_url=unsubscribe,
                            answered=answered, manage_url=manage_url(to), countries=countries)
        subject = (_("Your daily digest: %(n)s policy updates", n=len(items)) if cadence == "daily"
                   else _("Your weekly digest: %(n)s policy updates", n=len(items)))
    return build_message(sender=_sender(), to=to, subject=subject, text=text, html=html,
                         message_id=message_id(digest_id), list_id=list_id(), unsubscribe_url=unsubscribe,
                         unsubscribe_mailto=_mailto())


def confirmation_email(*, to: str, lang: str, subscription_public_id: str, delivery_public_id: str,
                       description: str) -> EmailMessage:
    """The double opt-in request: nothing else is sent before its link is followed."""
    with language(lang):
        text, html = render("confirm", confirm_url=confirm_url(subscription_public_id),
                            description=description)
        subject = _("Please confirm your subscription")
    return build_message(sender=_sender(), to=to, subject=subject, text=text, html=html,
                         message_id=message_id(delivery_public_id), list_id=list_id())


def endpoint_notice_email(*, to: str, url: str, reason: str, disabled: bool) -> EmailMessage:
    """Tell an endpoint's owner that it is failing or was disabled."""
    with language("en"):
        text, html = render("endpoint_disabled", url=url, reason=reason, disabled=disabled,
                            manage_url=external_url("/account/webhooks"))
        subject = (_("Your webhook endpoint was disabled") if disabled
                   else _("Your webhook endpoint is failing"))
    return build_message(sender=_sender(), to=to, subject=subject, text=text, html=html, list_id=list_id())
