"""The English and Lao interface: locale choice, the language switch, dates, numbers and bilingual fields."""
from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any

from flask import Flask, has_request_context, request
from flask_babel import Babel, format_datetime, format_decimal
from markupsafe import Markup

from tracker.lao import keep_words_whole
from tracker.models.types import PartialDate
from tracker.translation import current_locale, current_translations, install_in_templates
from tracker.translation import gettext as _

# The interface languages, each named in its own language (the switch shows them so).
LANGUAGES: dict[str, str] = {"en": "English", "lo": "ພາສາລາວ"}
DEFAULT_LOCALE = "en"
TIMEZONE = "Asia/Vientiane"
LANGUAGE_COOKIE = "lang"
LANGUAGE_COOKIE_MAX_AGE = 365 * 24 * 3600

# The mark after a field shown in the other language than the reader's: it names, in that language, the
# language of the text shown, as the switch does.
FALLBACK_MARKS = {"en": "(English)", "lo": "(ພາສາລາວ)"}

def N_(message: str) -> str:
    """Marks a message for extraction that is translated later, where it is shown."""
    return message


# Messages of WTForms and Flask-WTF that our forms can show. WTForms has no Lao catalogue, so they are kept
# in ours; tracker.forms hands WTForms translations that read them from here.
LIBRARY_MESSAGES = (
    N_("This field is required."),
    N_("Not a valid choice."),
    N_("Not a valid integer value."),
    N_("Invalid email address."),
    N_("Field must be equal to %(other_name)s."),
    N_("Field must be at least %(min)d character long."),
    N_("Field cannot be longer than %(max)d character."),
    N_("Field must be exactly %(max)d character long."),
    N_("Field must be between %(min)d and %(max)d characters long."),
    N_("'%(value)s' is not a valid choice for this field."),
    N_("'%(value)s' are not valid choices for this field."),
    N_("Invalid Choice: could not coerce."),
    N_("Choices cannot be None."),
    N_("Invalid choice(s): one or more data inputs could not be coerced."),
    N_("The CSRF token is missing."),
    N_("The CSRF token is invalid."),
    N_("The CSRF token has expired."),
    N_("The CSRF tokens do not match."),
    N_("The CSRF session token is missing."),
    N_("The referrer header is missing."),
    N_("The referrer does not match the host."),
)
# WTForms asks for plurals of a few of the messages above with their plural form as the second argument.
_LIBRARY_PLURALS = {
    "Field must be at least %(min)d character long.": "Field must be at least %(min)d characters long.",
    "Field cannot be longer than %(max)d character.": "Field cannot be longer than %(max)d characters.",
    "Field must be exactly %(max)d character long.": "Field must be exactly %(max)d characters long.",
}


def init_i18n(app: Flask) -> None:
    """Flask-Babel with the locale chosen per request, and the template helpers (the language switch is a
    view: tracker.views.language)."""
    Babel(app, locale_selector=select_locale)
    install_in_templates(app.jinja_env)
    app.jinja_env.globals.update(
        LANGUAGES=LANGUAGES, current_language=current_language,
        localized=localized, other_language=other_language_text, local_name=local_name,
        translate_known=translate_known,
    )
    app.jinja_env.filters.update(pdate=format_partial_date, dtime=format_timestamp, num=format_number,
                                 local_name=local_name, filesize=format_file_size)


def select_locale() -> str | None:
    """The reader's explicit choice (cookie), else the best of Accept-Language, else English.

    API clients state their language with Accept-Language only: a browser's cookie must not change what a
    program reads.
    """
    if not has_request_context():
        return None
    if not request.path.startswith("/api/"):
        chosen = request.cookies.get(LANGUAGE_COOKIE)
        if chosen in LANGUAGES:
            return chosen
    return request.accept_languages.best_match(list(LANGUAGES), default=DEFAULT_LOCALE)


def current_language() -> str:
    """'en' or 'lo': the language of the page being made."""
    locale = current_locale()
    return locale.language if locale is not None and locale.language in LANGUAGES else DEFAULT_LOCALE


# ---------------------------------------------------------------------------------------------------
# Dates, times and numbers


def format_partial_date(value: PartialDate | dt.date | None, empty: str = "", language: str | None = None) -> str:
    """A partial date in the reader's language (or ``language``), as precise as it is known ('2023', 'July
    2023', ...)."""
    if value is None:
        return empty
    if not isinstance(value, PartialDate):
        value = PartialDate(value.year, value.month, value.day)
    # English keeps the tracker's '14 July 2023'; Lao follows CLDR: '14 ກໍລະກົດ 2023'.
    return _date_display(value, language or current_language())


# Babel works out a Lao date from CLDR's patterns each time; a page shows the same few dozen dates over and over.
@functools.lru_cache(maxsize=4096)
def _date_display(value: PartialDate, language: str) -> str:
    return value.display(language)


def format_timestamp(value: dt.datetime | None, empty: str = "", *, seconds: bool = False) -> str:
    """A moment in Vientiane time with the zone named: '1 March 2026, 09:30 Indochina Time' (with the
    seconds for logs: '09:30:05')."""
    if value is None:
        return empty
    return format_datetime(value, "d MMMM y, HH:mm:ss zzzz" if seconds else "d MMMM y, HH:mm zzzz")


def format_number(value: Any) -> str:
    """A count or amount with the reader's digit grouping (1,234 in English, 1.234 in Lao)."""
    if value is None:
        return ""
    return format_decimal(value)


def format_file_size(size: int | None) -> str:
    """A file's size in kB or MB, in the reader's number format (1,5 MB in Lao)."""
    if size is None:
        return ""
    if size < 1024 * 1024:
        return _("%(size)s kB", size=format_decimal(max(1, round(size / 1024))))
    return _("%(size)s MB", size=format_decimal(round(size / 1024 / 1024, 1)))


# ---------------------------------------------------------------------------------------------------
# Fields kept in both languages


@dataclass(frozen=True)
class LocalizedText:
    """A bilingual field as shown to the reader: the text, its language, and whether it is the fallback."""

    text: str
    language: str
    fallback: bool

    def __str__(self) -> str:
        return self.text

    def __html__(self) -> Markup:
        """The text, marked with its language and, when it is the other language, a visible mark."""
        # Lao words are kept whole across line ends (browsers' dictionaries cut some of them).
        if not self.fallback:
            return keep_words_whole(self.text)
        return Markup('<span lang="{lang}">{text}</span> <span class="fallback-mark">{mark}</span>').format(
            lang=self.language, text=keep_words_whole(self.text), mark=FALLBACK_MARKS[self.language])

    def __bool__(self) -> bool:
        return bool(self.text)


def localized(record: Any, field: str, language: str | None = None) -> LocalizedText:
    """``record.<field>_en`` or ``_lo`` in the reader's language (or ``language``), else the other one (marked as
    fallback)."""
    language = language or current_language()
    other = "en" if language == "lo" else "lo"
    text = getattr(record, f"{field}_{language}", None)
    if text:
        return LocalizedText(text, language, False)
    text = getattr(record, f"{field}_{other}", None)
    return LocalizedText(text or "", other, bool(text))


def other_language_text(record: Any, field: str, language: str | None = None) -> LocalizedText | None:
    """The field in the language not shown first, when the record has it (for a subtitle)."""
    shown = localized(record, field, language)
    if shown.fallback:
        return None
    other = "en" if shown.language == "lo" else "lo"
    text = getattr(record, f"{field}_{other}", None)
    return LocalizedText(text, other, False) if text and text != shown.text else None


def local_name(thing: Any, language: str | None = None) -> str:
    """A country's, topic's or organisation's name in the reader's language (or ``language``), else in English."""
    if thing is None:
        return ""
    if (language or current_language()) == "lo" and getattr(thing, "name_lo", None):
        return thing.name_lo
    # An organisation recorded with a Lao name only has no English one to fall back to.
    return thing.name_en or getattr(thing, "name_lo", "") or getattr(thing, "key", "")


def translate_known(message: str) -> str:
    """A message that arrives as text from a library (e.g. a CSRF error) in the reader's language."""
    return current_translations().ugettext(message)


class FormTranslations:
    """What WTForms asks for to translate its built-in messages: our catalogue (see LIBRARY_MESSAGES)."""

    def gettext(self, string: str) -> str:
        return current_translations().ugettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        if singular in _LIBRARY_PLURALS:
            # Lao has one plural form: the catalogue keeps each message once, by its singular.
            text = current_translations().ugettext(singular)
            return text if text != singular or n == 1 else plural
        return current_translations().ungettext(singular, plural, n)


form_translations = FormTranslations()


def english(label: Any) -> str | None:
    """The English text of a vocabulary label, whatever the reader's language (for the search index and data
    that must not depend on who triggered them)."""
    if label is None:
        return None
    args = getattr(label, "_args", None)
    return str(args[0]) if args else str(label)
