"""Column types of the domain: partial dates ("2023", "2023-07", "2023-07-14") stored as given."""
from __future__ import annotations

import calendar
import datetime as dt
import functools
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import DateTime, String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

_PARTIAL_DATE = re.compile(r"^([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?$")
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"]


class PartialDateError(ValueError):
    """Raised for text that is not a partial ISO date or names an impossible day; ``reason`` says which:
    "format", "year" (out of range), "month" (no such month) or "day" (no such day in that month)."""

    def __init__(self, message: str, reason: str = "format") -> None:
        super().__init__(message)
        self.reason = reason


@functools.total_ordering
@dataclass(frozen=True)
class PartialDate:
    """A calendar date known to the year, the month or the day; never invents what is unknown."""

    year: int
    month: int | None = None
    day: int | None = None

    @classmethod
    def parse(cls, text: str) -> PartialDate:
        """Parse ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``; raise PartialDateError otherwise."""
        if cls is PartialDate and isinstance(text, str):
            return _parse_iso(text)
        return cls._parse(text)

    @classmethod
    def _parse(cls, text: str) -> PartialDate:
        match = _PARTIAL_DATE.match(text.strip()) if isinstance(text, str) else None
        if not match:
            raise PartialDateError(f"'{text}' is not a date of the form YYYY, YYYY-MM or YYYY-MM-DD")
        year, month, day = (int(part) if part else None for part in match.groups())
        assert year is not None  # the pattern's first group (four digits) always takes part in a match
        if not 1000 <= year <= 9999:
            raise PartialDateError(f"'{text}' has a year out of range", "year")
        if month is not None and not 1 <= month <= 12:
            raise PartialDateError(f"'{text}' has no month {month}", "month")
        if day is not None:
            assert month is not None
            if not 1 <= day <= calendar.monthrange(year, month)[1]:
                raise PartialDateError(f"'{text}' is not a day of the calendar", "day")
        return cls(year, month, day)

    @classmethod
    def parse_written(cls, text: str) -> PartialDate:
        """A date as people in Lao PDR and ASEAN write it, day first: ``15/11/2025``, ``15.11.2025``,
        ``11/2025``, ``2025``; ISO ``2025-11-15``; month names in English or Lao (``15 November 2025``,
        ``Nov 2025``, ``ວັນທີ 15 ພະຈິກ 2025``, ``ພ.ຈ. 2025``); Lao or Thai digits. A year is written in
        full. Raise PartialDateError (with its ``reason``) for anything else."""
        return _parse_written(text)

    @classmethod
    def coerce(cls, value: Any) -> PartialDate | None:
        """Accept None, a PartialDate, a date or its text."""
        if value is None or value == "":
            return None
        if isinstance(value, PartialDate):
            return value
        if isinstance(value, dt.date):
            return cls(value.year, value.month, value.day)
        return cls.parse(str(value))

    @property
    def precision(self) -> str:
        """'day', 'month' or 'year'."""
        return "day" if self.day else "month" if self.month else "year"

    def earliest(self) -> dt.date:
        """First day the partial date may stand for."""
        return dt.date(self.year, self.month or 1, self.day or 1)

    def latest(self) -> dt.date:
        """Last day the partial date may stand for."""
        month = self.month or 12
        day = self.day or calendar.monthrange(self.year, month)[1]
        return dt.date(self.year, month, day)

    def isoformat(self) -> str:
        """The date as given: 4, 7 or 10 characters."""
        if self.month is None:
            return f"{self.year:04d}"
        if self.day is None:
            return f"{self.year:04d}-{self.month:02d}"
        return f"{self.year:04d}-{self.month:02d}-{self.day:02d}"

    def display(self, language: str = "en") -> str:
        """Human form, no more precise than known: '2023', 'July 2023', '14 July 2023' in English; other
        languages take CLDR's month names and patterns ('ກໍລະກົດ 2023', '14 ກໍລະກົດ 2023' in Lao)."""
        if self.month is None:
            return str(self.year)
        if language != "en":
            from babel.dates import format_date, format_skeleton

            if self.day is None:
                return format_skeleton("yMMMM", self.earliest(), locale=language)
            return format_date(self.earliest(), "long", locale=language)
        if self.day is None:
            return f"{_MONTHS[self.month - 1]} {self.year}"
        return f"{self.day} {_MONTHS[self.month - 1]} {self.year}"

    def __str__(self) -> str:
        return self.isoformat()

    def __lt__(self, other: object) -> bool:
        # "2023" sorts before "2023-01" as its text does: an unknown part counts as zero.
        if not isinstance(other, PartialDate):
            return NotImplemented
        return (self.year, self.month or 0, self.day or 0) < (other.year, other.month or 0, other.day or 0)


@functools.lru_cache(maxsize=16384)
def _parse_iso(text: str) -> PartialDate:
    """PartialDate.parse of a text, remembered: a partial date is immutable, and reading many rows (an
    import compares every stored record) parses the same few thousand dates again and again. Errors
    are raised each time, never remembered."""
    return PartialDate._parse(text)


class PartialDateType(TypeDecorator[PartialDate]):
    """Stores a PartialDate as its ISO text, which sorts chronologically as text."""

    impl = String(10)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        coerced = PartialDate.coerce(value)
        return coerced.isoformat() if coerced else None

    def process_result_value(self, value: Any, dialect: Dialect) -> PartialDate | None:
        return PartialDate.parse(value) if value else None


class UTCDateTime(TypeDecorator[dt.datetime]):
    """An aware UTC timestamp on every backend (SQLite hands back naive values otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an aware UTC timestamp is required")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    """The current time, aware, in UTC."""
    return dt.datetime.now(dt.UTC)


# Month names people write, lower-cased: English (full, 3 letters, "sept") and Lao (CLDR's wide and
# abbreviated forms). Matched longest first, so "ມິຖຸນາ" is not read as a shorter name inside it.
_MONTH_WORDS: dict[str, int] = {}
for _number, _name in enumerate(_MONTHS, start=1):
    _MONTH_WORDS[_name.lower()] = _number
    _MONTH_WORDS[_name[:3].lower()] = _number
_MONTH_WORDS["sept"] = 9
for _number, (_wide, _short) in enumerate(zip(
        ["ມັງກອນ", "ກຸມພາ", "ມີນາ", "ເມສາ", "ພຶດສະພາ", "ມິຖຸນາ", "ກໍລະກົດ", "ສິງຫາ", "ກັນຍາ", "ຕຸລາ", "ພະຈິກ", "ທັນວາ"],
        ["ມ.ກ.", "ກ.ພ.", "ມ.ນ.", "ມ.ສ.", "ພ.ພ.", "ມິ.ຖ.", "ກ.ລ.", "ສ.ຫ.", "ກ.ຍ.", "ຕ.ລ.", "ພ.ຈ.", "ທ.ວ."]), start=1):
    _MONTH_WORDS[_wide] = _number
    _MONTH_WORDS[_short] = _number
_MONTH_PATTERN = re.compile("|".join(re.escape(word) for word in sorted(_MONTH_WORDS, key=len, reverse=True)))
# Words around a date that carry no value: Lao "date", "day", "month", "year", and English fillers.
_FILLERS = re.compile(r"ວັນທີ|ວັນ|ເດືອນ|ປີ|\b(?:the|of|on|in)\b|(?<=\d)(?:st|nd|rd|th)\b")
_DIGITS = str.maketrans("໐໑໒໓໔໕໖໗໘໙๐๑๒๓๔๕๖๗๘๙", "01234567890123456789")


def _parse_written(text: str) -> PartialDate:
    if not isinstance(text, str) or not text.strip():
        raise PartialDateError(f"'{text}' is not a date")
    original = text.strip()
    try:
        return PartialDate.parse(original)
    except PartialDateError as error:
        if error.reason != "format":
            raise
    # The Lao vowel AM has two spellings (ຳ and ໍ + າ); month names use neither, but fold them anyway.
    cleaned = original.translate(_DIGITS).replace("\u0ecd\u0eb2", "\u0eb3").lower()
    month_found = _MONTH_PATTERN.search(cleaned)
    month: int | None = None
    if month_found:
        month = _MONTH_WORDS[month_found.group(0)]
        cleaned = cleaned[:month_found.start()] + " " + cleaned[month_found.end():]
        if _MONTH_PATTERN.search(cleaned):
            raise PartialDateError(f"'{original}' names two months")
    cleaned = _FILLERS.sub(" ", cleaned)
    if re.search(r"[^\d\s/.,\-]", cleaned):
        raise PartialDateError(f"'{original}' is not a date we can read")
    numbers = re.findall(r"\d+", cleaned)
    if month is not None:
        years = [number for number in numbers if len(number) == 4]
        days = [number for number in numbers if len(number) <= 2]
        if len(years) != 1 or len(days) > 1 or len(years) + len(days) != len(numbers):
            raise PartialDateError(f"'{original}' is not a date we can read")
        parts = [years[0], f"{month:02d}"] + ([f"{int(days[0]):02d}"] if days else [])
    else:
        # Numbers only: two or three of them, each pair joined by / . or - (never by a space alone).
        if not re.fullmatch(r"\d+(?:\s*[/.\-]\s*\d+){0,2}", cleaned.strip()):
            raise PartialDateError(f"'{original}' is not a date we can read")
        if len(numbers[0]) == 4:      # ISO order with other separators: 2025/11/15, 2025.11
            year, rest = numbers[0], numbers[1:]
            parts = [year] + [f"{int(part):02d}" for part in rest]
            if any(len(part) > 2 for part in rest):
                raise PartialDateError(f"'{original}' is not a date we can read")
        elif len(numbers[-1]) == 4:   # day first: 15/11/2025, 11/2025
            rest = numbers[:-1]
            if any(len(part) > 2 for part in rest):
                raise PartialDateError(f"'{original}' is not a date we can read")
            parts = [numbers[-1]] + [f"{int(part):02d}" for part in reversed(rest)]
        else:
            raise PartialDateError(f"'{original}' has no year written in full", "short_year")
    try:
        return PartialDate.parse("-".join(parts))
    except PartialDateError as error:
        raise PartialDateError(str(error).replace("-".join(parts), original), error.reason) from None
