"""The staff activity log: every change to every record, newest first, filtered by person, type, country, date."""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tracker.errors import Invalid
from tracker.models import AuditEntry, Event, Organisation, Policy, User
from tracker.models.audit import AUDITED_TYPES
from tracker.pagination import Page, PageRequest, check_page_in_range
from tracker.translation import gettext as _

if TYPE_CHECKING:
    from sqlalchemy import ScalarResult

# Days are Vientiane days: the day a Lao officer remembers having made the change.
LOCAL_ZONE = ZoneInfo("Asia/Vientiane")
MODELS: dict[str, type[Policy] | type[Event] | type[Organisation]] = {
    "policy": Policy, "event": Event, "organisation": Organisation}


@dataclass(frozen=True)
class ActivityFilter:
    """Who, which kind of record, which country, between which days (each optional)."""

    person: int | None = None
    entity_type: str | None = None
    country: str | None = None
    since: dt.date | None = None
    until: dt.date | None = None


def _date(text: str, name: str, errors: dict[str, str]) -> dt.date | None:
    from tracker.models.types import PartialDate, PartialDateError

    try:
        parsed = PartialDate.parse_written(text)
    except PartialDateError:
        errors[name] = _("'%(value)s' is not a date we can read. Write it day first: 15/11/2025 or 2025-11-15.",
                         value=text[:40])
        return None
    return parsed.earliest() if name == "since" else parsed.latest()


def parse_activity_filter(args: Mapping[str, Sequence[str]], countries: Sequence[str]) -> ActivityFilter:
    """The filter asked for by ``person``, ``type``, ``country``, ``since`` and ``until`` (last value wins;
    empty means any). Dates are written as on the forms (day first, partial: ``11/2025`` means the month).

    Raises:
        Invalid: naming each parameter that is wrong.
    """
    def value(name: str) -> str:
        values = args.get(name) or [""]
        return (values[-1] or "").strip()

    errors: dict[str, str] = {}
    person = None
    if value("person"):
        if value("person").isascii() and value("person").isdigit() and len(value("person")) <= 9:
            person = int(value("person"))
        else:
            errors["person"] = _("Choose a person from the list.")
    entity_type = value("type") or None
    if entity_type is not None and entity_type not in AUDITED_TYPES:
        errors["type"] = _("Choose one of: %(values)s.", values=", ".join(AUDITED_TYPES))
    country = value("country").upper() or None
    if country is not None and country not in countries:
        errors["country"] = _("Unknown country '%(value)s'.", value=country[:20])
    since = _date(value("since"), "since", errors) if value("since") else None
    until = _date(value("until"), "until", errors) if value("until") else None
    if since and until and until < since:
        errors["until"] = _("The end is before the start.")
    if errors:
        raise Invalid(_("Some filters are not valid"), errors)
    return ActivityFilter(person, entity_type, country, since, until)


@dataclass
class ActivityItem:
    """One change: one save, status change, editorial move or proposal, with its field entries."""

    entity_type: str
    entity_id: int
    entity_key: str
    action: str
    actor_id: int | None
    actor_label: str
    created_at: dt.datetime
    jurisdiction_code: str | None
    entries: list[AuditEntry] = field(default_factory=list)
    record: Policy | Event | Organisation | None = None


def _local_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=LOCAL_ZONE).astimezone(dt.UTC)


def activity(session: Session, flt: ActivityFilter, request: PageRequest) -> Page[ActivityItem]:
    """A page of changes, newest first, each with its entries and its record (seven queries whatever the
    page's size: count, page of changes, their entries, the records of each type, the people).

    Raises:
        NotFound: when the page is past the last one.
    """
    conditions = []
    if flt.person is not None:
        conditions.append(AuditEntry.actor_id == flt.person)
    if flt.entity_type is not None:
        conditions.append(AuditEntry.entity_type == flt.entity_type)
    if flt.country is not None:
        conditions.append(AuditEntry.jurisdiction_code == flt.country)
    if flt.since is not None:
        conditions.append(AuditEntry.created_at >= _local_midnight(flt.since))
    if flt.until is not None:
        conditions.append(AuditEntry.created_at < _local_midnight(flt.until + dt.timedelta(days=1)))
    # One change is the entries written together: same record, version, action, person and moment.
    key = (AuditEntry.entity_type, AuditEntry.entity_id, AuditEntry.version, AuditEntry.action,
           AuditEntry.actor_label, AuditEntry.created_at)
    groups = (select(*key, func.min(AuditEntry.id).label("first_id"), func.max(AuditEntry.id).label("last_id"))
              .where(*conditions).group_by(*key))
    total = session.scalar(select(func.count()).select_from(groups.subquery())) or 0
    check_page_in_range(request, total)
    rows = session.execute(groups.order_by(func.max(AuditEntry.id).desc())
                           .limit(request.per_page).offset(request.offset)).all()
    if not rows:
        return Page([], total, request.page, request.per_page)
    by_key: dict[tuple[str, int, int | None, str, str, dt.datetime], ActivityItem] = {}
    for row in rows:
        by_key[row[:6]] = ActivityItem(row.entity_type, row.entity_id, "", row.action, None,
                                       row.actor_label, row.created_at, None)
    low, high = min(row.first_id for row in rows), max(row.last_id for row in rows)
    for entry in session.scalars(select(AuditEntry).where(AuditEntry.id.between(low, high), *conditions)
                                 .order_by(AuditEntry.id)):
        item = by_key.get((entry.entity_type, entry.entity_id, entry.version, entry.action, entry.actor_label,
                           entry.created_at))
        if item is not None:
            item.entries.append(entry)
            item.entity_key, item.actor_id, item.jurisdiction_code = (entry.entity_key, entry.actor_id,
                                                                      entry.jurisdiction_code)
    for entity_type, model in MODELS.items():
        ids = {item.entity_id for item in by_key.values() if item.entity_type == entity_type}
        if ids:
            # ``model`` is one of MODELS, so are its rows (mypy joins the union to Base in select()).
            found = cast("ScalarResult[Policy | Event | Organisation]",
                         session.scalars(select(model).where(model.id.in_(ids))))
            records = {record.id: record for record in found}
            for item in by_key.values():
                if item.entity_type == entity_type:
                    item.record = records.get(item.entity_id)
    return Page(list(by_key.values()), total, request.page, request.per_page)


def people(session: Session) -> list[User]:
    """Everyone who has changed something, for the person filter (one query)."""
    ids = select(AuditEntry.actor_id).where(AuditEntry.actor_id.is_not(None)).distinct()
    return sorted(session.scalars(select(User).where(User.id.in_(ids))), key=lambda user: user.label.casefold())
