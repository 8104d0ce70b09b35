"""Reading events: the list of forums and meetings and the full record of one."""
from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload, selectinload

from tracker.errors import Invalid, NotFound
from tracker.models import Event, EventOrganisation, EventTopic, Jurisdiction
from tracker.pagination import Page, PageRequest, check_page_in_range
from tracker.services.policies import PUBLIC_STATES, visible_states
from tracker.translation import gettext as _


def parse_event_filter(args: Mapping[str, Sequence[str]], countries: Mapping[str, str], *,
                       allow_empty: bool = True) -> tuple[str, ...]:
    """Country codes asked for by ``country`` parameters (empty values mean "any" when allowed).

    Raises:
        Invalid: naming the parameter when a code is unknown.
    """
    raw_codes = [raw.strip() for raw in args.get("country", ())]
    if not allow_empty and any(not code for code in raw_codes):
        raise Invalid(_("Some filters are not valid"), {"country": _("%(name)s must not be empty",
                                                                     name="country")})
    codes = [code for code in raw_codes if code]
    unknown = [code for code in codes if code not in countries]
    if unknown:
        raise Invalid(_("Some filters are not valid"), {
            "country": _("Unknown %(name)s '%(value)s'. Accepted values: %(values)s", name="country",
                         value=unknown[0][:40], values=", ".join(countries))})
    return tuple(dict.fromkeys(codes))


def list_events(session: Session, request: PageRequest, *, countries: tuple[str, ...] = (),
                include_unpublished: bool = False, expand: frozenset[str] = frozenset()) -> Page[Event]:
    """Events newest first, with jurisdiction, organisations and topics loaded (four queries), and their
    sources when ``expand`` names them (one query more, whatever the page size).

    Raises:
        NotFound: when the page is past the last one.
    """
    condition = [Event.editorial_state.in_(visible_states(include_unpublished))]
    if countries:
        condition.append(Event.jurisdiction_code.in_(countries))
    total = session.scalar(select(func.count(Event.id)).where(*condition)) or 0
    check_page_in_range(request, total)
    options = [joinedload(Event.jurisdiction),
               selectinload(Event.organisation_links).joinedload(EventOrganisation.organisation),
               selectinload(Event.topic_links)]
    if "sources" in expand:
        options.append(selectinload(Event.sources))
    statement = (
        select(Event).where(*condition).options(*options)
        .order_by(Event.starts_on.desc().nulls_last(), Event.key)
        .limit(request.per_page).offset(request.offset)
    )
    return Page(session.scalars(statement).unique().all(), total, request.page, request.per_page)


# Everything the full record of an event shows, loaded with it.
_FULL_RECORD = (
    joinedload(Event.jurisdiction),
    selectinload(Event.organisation_links).joinedload(EventOrganisation.organisation),
    selectinload(Event.topic_links).joinedload(EventTopic.topic),
    selectinload(Event.sources),
)


def published_events(session: Session, ids: Collection[int]) -> dict[int, Event]:
    """The full records of those of ``ids`` that are published, by id, in a fixed number of queries."""
    if not ids:
        return {}
    statement = select(Event).where(Event.id.in_(sorted(ids)), Event.editorial_state.in_(PUBLIC_STATES)) \
        .options(*_FULL_RECORD)
    return {event.id: event for event in session.scalars(statement).unique()}


def get_event(session: Session, key: str, *, include_unpublished: bool = False) -> Event:
    """One event with organisations, topics and sources.

    Raises:
        NotFound: when no visible event has this key.
    """
    statement = (
        select(Event)
        .where(Event.key == key, Event.editorial_state.in_(visible_states(include_unpublished)))
        .options(*_FULL_RECORD)
    )
    event = session.scalars(statement).unique().one_or_none()
    if event is None:
        raise NotFound(_("There is no event with the key '%(key)s'.", key=key[:120]))
    return event


def jurisdiction_names(session: Session) -> dict[str, Jurisdiction]:
    """Every jurisdiction by code, in display order (Lao PDR first)."""
    return {j.code: j for j in session.scalars(select(Jurisdiction).order_by(Jurisdiction.position))}
