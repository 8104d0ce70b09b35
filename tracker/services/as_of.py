"""Statuses "as of a date": the ``as_of`` parameter and the status of a policy on that day, in SQL and in Python.

The rule (docs/as-of.md): a status step counts on day D once the whole period its date names has ended
by D -- a step dated to the day counts from that day, one dated to the month from the last day of that
month, one dated to the year only from 31 December of that year -- so the tracker never claims a status
before its record shows it certain. Steps without a date never count on their own: an undated step that
the timeline places before a counted step is already behind that step (it cannot change the answer), and
one placed after the last counted step may have happened on either side of D, so it is left out. The
status on D is the ``to_status`` of the last counted step by ``position``. A policy with no counted step
existed on D only if its ``valid_from`` counts by the same rule; its status on D is then ``unknown``.
Otherwise it did not exist yet (as far as the record shows) and every list as of D leaves it out.
"""
from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import String, case, func, literal, select, type_coerce
from sqlalchemy.orm import InstrumentedAttribute, aliased
from sqlalchemy.sql.elements import ColumnElement

from tracker.errors import Invalid
from tracker.models import Policy, StatusChange
from tracker.models.types import PartialDate, PartialDateError
from tracker.translation import gettext as _


@dataclass(frozen=True)
class AsOf:
    """The day a reader asked about: ``text`` as given (``2023``, ``2023-05``, ``2023-05-01``) and ``day``,
    the day it stands for (the last day of a year or month, or today when that period is not over)."""

    text: str
    day: dt.date

    @property
    def key(self) -> str:
        """The day as the text SQL compares step dates with: ISO, but the last day of a month written as
        day 31, so that a step dated to that month ("2023-02" -> "2023-02-31") counts on it."""
        last = calendar.monthrange(self.day.year, self.day.month)[1]
        day = 31 if self.day.day == last else self.day.day
        return f"{self.day.year:04d}-{self.day.month:02d}-{day:02d}"

    @property
    def date(self) -> PartialDate:
        """The day as a PartialDate, for display with the date helpers of tracker.i18n."""
        return PartialDate(self.day.year, self.day.month, self.day.day)


def parse_as_of(args: Mapping[str, Sequence[str]], today: dt.date, *, allow_empty: bool = True) -> AsOf | None:
    """The ``as_of`` query parameter (last value wins): ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``.

    A partial date means the end of that year or month; when that end is still to come (the current year
    or month), it means today. A day after today is refused: the tracker records what has happened, and a
    step dated in the future is not yet a status. An empty value means today (no ``as_of``) when
    ``allow_empty`` (HTML forms send it), and is refused otherwise.

    Raises:
        Invalid: naming ``as_of`` when its value is not such a date or is after today.
    """
    values = [raw.strip() for raw in args.get("as_of", ())]
    if not values:
        return None
    text = values[-1]
    if not text:
        if allow_empty:
            return None
        raise Invalid(_("Some filters are not valid"), {"as_of": _("%(name)s must not be empty", name="as_of")})
    try:
        date = PartialDate.parse(text)
    except PartialDateError as error:
        if error.reason in ("month", "day"):
            message = _("as_of: '%(value)s' is not a day of the calendar", value=text[:40])
        else:
            message = _("as_of must be a date written YYYY, YYYY-MM or YYYY-MM-DD (such as 2023-01-01), "
                        "not '%(value)s'", value=text[:40])
        raise Invalid(_("Some filters are not valid"), {"as_of": message}) from None
    if date.earliest() > today:
        raise Invalid(_("Some filters are not valid"), {
            "as_of": _("as_of must not be after today (%(today)s): the tracker records what has happened",
                       today=today.isoformat())})
    return AsOf(date.isoformat(), min(date.latest(), today))


def end_key(column: InstrumentedAttribute[PartialDate | None]) -> ColumnElement[str]:
    """SQL: the text of the last day a partial ISO date column may stand for, with a month's last day
    written as 31 ("2023" -> "2023-12-31", "2023-05" -> "2023-05-31", a full date as it is)."""
    text = type_coerce(column, String)
    return case((func.length(text) == 4, text + "-12-31"), (func.length(text) == 7, text + "-31"), else_=text)


def status_on(as_of: AsOf) -> ColumnElement[str | None]:
    """SQL: the status of the ``Policy`` row in scope on ``as_of``'s day, NULL when it did not exist yet."""
    step = aliased(StatusChange)
    counted = (
        select(step.to_status)
        .where(step.policy_id == Policy.id, step.effective_on.is_not(None), end_key(step.effective_on) <= as_of.key)
        .order_by(step.position.desc())
        .limit(1)
        .correlate(Policy)
        .scalar_subquery()
    )
    began = case((end_key(Policy.valid_from) <= as_of.key, literal("unknown", String)), else_=None)
    return func.coalesce(counted, began, type_=String)


def status_on_day(steps: Sequence[StatusChange], valid_from: PartialDate | None, day: dt.date) -> str | None:
    """The same rule in Python, for one loaded policy: its status on ``day``, None when it did not exist."""
    counted = [step for step in sorted(steps, key=lambda s: s.position)
               if step.effective_on is not None and step.effective_on.latest() <= day]
    if counted:
        return counted[-1].to_status
    if valid_from is not None and valid_from.latest() <= day:
        return "unknown"
    return None
