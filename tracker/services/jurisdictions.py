"""Reading jurisdictions and topics: the reference lists and a country's overview."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tracker.errors import NotFound
from tracker.models import Event, Jurisdiction, Organisation, Policy, Topic
from tracker.services.policies import visible_states
from tracker.translation import gettext as _


@dataclass(frozen=True)
class JurisdictionSummary:
    """A jurisdiction with the number of visible policies and events it has."""

    jurisdiction: Jurisdiction
    policy_count: int
    event_count: int


def list_jurisdictions(session: Session, *, include_unpublished: bool = False) -> list[JurisdictionSummary]:
    """All jurisdictions in display order with their counts (three queries)."""
    states = visible_states(include_unpublished)
    policy_counts = dict(session.execute(
        select(Policy.jurisdiction_code, func.count(Policy.id))
        .where(Policy.editorial_state.in_(states)).group_by(Policy.jurisdiction_code)).all())
    event_counts = dict(session.execute(
        select(Event.jurisdiction_code, func.count(Event.id))
        .where(Event.editorial_state.in_(states)).group_by(Event.jurisdiction_code)).all())
    return [JurisdictionSummary(j, policy_counts.get(j.code, 0), event_counts.get(j.code, 0))
            for j in session.scalars(select(Jurisdiction).order_by(Jurisdiction.position))]


def get_jurisdiction(session: Session, code: str) -> Jurisdiction:
    """One jurisdiction by its code, in any case.

    Raises:
        NotFound: for an unknown code.
    """
    jurisdiction = session.get(Jurisdiction, code.upper()[:8]) if code.isascii() else None
    if jurisdiction is None:
        raise NotFound(_("There is no country or region with the code '%(code)s'.", code=code[:20]))
    return jurisdiction


def organisations_of(session: Session, code: str) -> list[Organisation]:
    """Organisations based in a jurisdiction, by name (one query)."""
    return list(session.scalars(
        select(Organisation).where(Organisation.country == code).order_by(Organisation.name_en)))


def list_topics(session: Session, *, include_unpublished: bool = False) -> list[tuple[Topic, int]]:
    """Every topic with its number of visible policies (one query)."""
    from tracker.models import PolicyTopic

    counts = (
        select(PolicyTopic.topic_key, func.count(PolicyTopic.policy_id).label("n"))
        .join(Policy, Policy.id == PolicyTopic.policy_id)
        .where(Policy.editorial_state.in_(visible_states(include_unpublished)))
        .group_by(PolicyTopic.topic_key).subquery()
    )
    statement = (select(Topic, func.coalesce(counts.c.n, 0))
                 .outerjoin(counts, counts.c.topic_key == Topic.key).order_by(Topic.position))
    return [(topic, count) for topic, count in session.execute(statement).all()]
