"""Column types of the domain: partial dates ("2023", "2023-07", "2023-07-14") stored as given."""
from __future__ import annotations

import calendar
import functools
import datetime as dt
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
    """Raised for text that is not a partial ISO date or names an impossible day."""


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
        match = _PARTIAL_DATE.match(text.strip()) if isinstance(text, str) else None
        if not match:
            raise PartialDateError(f"'{text}' is not a date of the form YYYY, YYYY-MM or YYYY-MM-DD")
        year, month, day = (int(part) if part else None for part in match.groups())
        if not 1000 <= year <= 9999:
            raise PartialDateError(f"'{text}' has a year out of range")
        if month is not None and not 1 <= month <= 12:
            raise PartialDateError(f"'{text}' has no month {month}")
        if day is not None:
            assert month is not None
            if not 1 <= day <= calendar.monthrange(year, month)[1]:
                raise PartialDateError(f"'{text}' is not a day of the calendar")
        return cls(year, month, day)

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
        value = value.astimezone(dt.timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


def utcnow() -> dt.datetime:
    """The current time, aware, in UTC."""
    return dt.datetime.now(dt.timezone.utc)
