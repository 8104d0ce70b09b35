"""Comment periods of consultation steps: checking what staff send, where a period stands on a given day, what
followers are told when its closing day moves, and the checks of Lao records shown to staff as warnings."""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Set
from dataclasses import dataclass
from typing import Any

from tracker.errors import FieldError
from tracker.i18n import format_partial_date
from tracker.models import Policy, StatusChange
from tracker.services.record_checks import check_comment_window, parse_day
from tracker.services.records import WINDOW_COLUMNS
from tracker.translation import gettext as _
from tracker.translation import ngettext

# Columns an edit of a step may change, by the name the audit trail and the forms give them.
STEP_FIELDS = {"comment_opens_on": "comment_opens_on", "comment_closes_on": "comment_closes_on",
               "how_to_comment_en": "comment_how_en", "how_to_comment_lo": "comment_how_lo",
               "comment_address": "comment_address", "draft_url": "comment_draft_url",
               "draft_document": "comment_draft_document_id", "gazetted_on": "gazetted_on"}
# The same, by the name of the record format's ``consultation`` object.
WINDOW_NAMES = {"opens_on": "comment_opens_on", "closes_on": "comment_closes_on",
                "how_to_comment_en": "how_to_comment_en", "how_to_comment_lo": "how_to_comment_lo",
                "comment_address": "comment_address", "draft_url": "draft_url", "draft_document": "draft_document"}


def step_values(data: Mapping[str, Any], status: str | None, documents: Set[int]
                ) -> tuple[dict[str, Any], dict[str, str | FieldError]]:
    """The columns a body's ``consultation`` and ``gazetted_on`` set on a step into ``status`` (only the parts
    sent), and what is wrong with each, named as the body names it (``consultation.closes_on``).

    ``consultation`` null clears the period."""
    values: dict[str, Any] = {}
    errors: dict[str, str | FieldError] = {}
    if "gazetted_on" in data:
        values["gazetted_on"], error = parse_day(data["gazetted_on"])
        if error is not None:
            errors["gazetted_on"] = error
    if "consultation" in data:
        window = data["consultation"]
        if window is None:
            values |= dict.fromkeys(list(WINDOW_COLUMNS.values()) + ["comment_draft_document_id"])
        elif status != "consultation":
            errors["consultation"] = FieldError("window_not_consultation")
        else:
            checked, window_errors = check_comment_window(window, documents)
            errors |= {f"consultation.{name}": error for name, error in window_errors.items()}
            values |= {column: checked[name] for name, column in WINDOW_COLUMNS.items()}
            values["comment_draft_document_id"] = checked["draft_document"]
    return values, errors


def audit_values(change: StatusChange) -> dict[str, Any]:
    """A step's gazette day and comment period, by their audit names, in JSON terms."""
    values: dict[str, Any] = {}
    for name, column in STEP_FIELDS.items():
        value = getattr(change, column)
        values[name] = value.isoformat() if isinstance(value, dt.date) else value
    return values


# ---------------------------------------------------------------------------------------------------
# Where a comment period stands


@dataclass(frozen=True)
class CommentPeriod:
    """A step's comment period as a reader sees it on ``today``: before it opens, open, or closed."""

    step: StatusChange
    today: dt.date

    @property
    def opens_on(self) -> dt.date | None:
        return self.step.comment_opens_on

    @property
    def closes_on(self) -> dt.date | None:
        return self.step.comment_closes_on

    @property
    def phase(self) -> str:
        """'upcoming', 'open', 'closed', or 'undated' (no closing day known)."""
        if self.opens_on is not None and self.today < self.opens_on:
            return "upcoming"
        if self.closes_on is None:
            return "open" if self.opens_on is not None else "undated"
        return "open" if self.today <= self.closes_on else "closed"

    @property
    def days_left(self) -> int | None:
        """Days after today on which comments are still taken (0 on the last day)."""
        return (self.closes_on - self.today).days if self.closes_on is not None else None

    @property
    def headline(self) -> str:
        return str(self._headline())

    def _headline(self) -> Any:
        """'Open for comment until 14 July 2026: 12 days left', in the reader's language."""
        phase = self.phase
        if phase == "upcoming":
            assert self.opens_on is not None
            return _("Comment period opens on %(date)s", date=format_partial_date(self.opens_on))
        if phase == "closed":
            return _("The comment period closed on %(date)s", date=format_partial_date(self.closes_on))
        if phase == "undated":
            return _("Open for comment")
        if self.closes_on is None:
            return _("Open for comment since %(date)s", date=format_partial_date(self.opens_on))
        days = self.days_left or 0
        if days == 0:
            return _("Open for comment: closes today, %(date)s", date=format_partial_date(self.closes_on))
        if days == 1:
            return _("Open for comment until %(date)s: tomorrow is the last day",
                     date=format_partial_date(self.closes_on))
        return ngettext("Open for comment until %(date)s: %(num)d day left",
                        "Open for comment until %(date)s: %(num)d days left", days,
                        date=format_partial_date(self.closes_on))


def latest_window(policy: Policy) -> StatusChange | None:
    """The last step of the timeline into consultation that has a comment period (status steps loaded)."""
    steps = [change for change in policy.status_changes
             if change.to_status == "consultation" and (change.comment_opens_on or change.comment_closes_on)]
    return max(steps, key=lambda change: change.position) if steps else None


def comment_period(policy: Policy, today: dt.date) -> CommentPeriod | None:
    step = latest_window(policy)
    return CommentPeriod(step, today) if step is not None else None


# ---------------------------------------------------------------------------------------------------
# Telling followers


def moved_closing(old: dt.date | None, new: dt.date | None) -> str | None:
    """'extended' or 'shortened' when a set closing day moved, else None."""
    if old is None or new is None or old == new:
        return None
    return "extended" if new > old else "shortened"


def change_payload(step: StatusChange, old_closes_on: dt.date, kind: str) -> dict[str, Any]:
    """What a notification of a moved closing day carries besides the policy (its ``summary`` is English,
    the language of webhook payloads; emails are written in each reader's language from the same days)."""
    assert step.comment_closes_on is not None
    summary = (f"Comment period {kind} from {old_closes_on.isoformat()} to "
               f"{step.comment_closes_on.isoformat()}")
    return {"change": kind, "old_closes_on": old_closes_on.isoformat(),
            "closes_on": step.comment_closes_on.isoformat(),
            "opens_on": step.comment_opens_on.isoformat() if step.comment_opens_on else None,
            "step_position": step.position, "summary": summary}


# ---------------------------------------------------------------------------------------------------
# Checks of Lao records (warnings to staff, never refusals)


@dataclass(frozen=True)
class StaffWarning:
    """Something in a record that breaks a rule of Lao law-making, for staff to look at."""

    code: str
    message: str


def lao_record_warnings(policy: Policy, *, consultation_min_days: int, gazette_min_days: int) -> list[StaffWarning]:
    """The checks of a Lao record (status steps loaded): a comment period shorter than
    ``consultation_min_days`` days (both days counted), an entry into force fewer than ``gazette_min_days``
    days after publication in the Official Gazette (the last gazette day recorded at or before the step)."""
    if policy.jurisdiction_code != "LA":
        return []
    warnings: list[StaffWarning] = []
    gazetted: dt.date | None = None
    for step in sorted(policy.status_changes, key=lambda change: change.position):
        gazetted = step.gazetted_on or gazetted
        opens, closes = step.comment_opens_on, step.comment_closes_on
        if step.to_status == "consultation" and opens is not None and closes is not None:
            length = (closes - opens).days + 1
            if length < consultation_min_days:
                warnings.append(StaffWarning("short_consultation", ngettext(
                    "The comment period from %(opens)s to %(closes)s lasts %(num)d day; Lao rules ask for at "
                    "least %(min)d.",
                    "The comment period from %(opens)s to %(closes)s lasts %(num)d days; Lao rules ask for at "
                    "least %(min)d.", length, opens=format_partial_date(opens), closes=format_partial_date(closes),
                    min=consultation_min_days)))
        effective = step.effective_on
        if (step.to_status == "in_force" and gazetted is not None and effective is not None
                and effective.precision == "day"):
            gap = (effective.earliest() - gazetted).days
            if gap < gazette_min_days:
                warnings.append(StaffWarning("early_entry_into_force", ngettext(
                    "In force on %(effective)s, %(num)d day after publication in the Official Gazette on "
                    "%(gazetted)s; Lao rules ask for at least %(min)d.",
                    "In force on %(effective)s, %(num)d days after publication in the Official Gazette on "
                    "%(gazetted)s; Lao rules ask for at least %(min)d.", gap,
                    effective=format_partial_date(effective), gazetted=format_partial_date(gazetted),
                    min=gazette_min_days)))
    return warnings
