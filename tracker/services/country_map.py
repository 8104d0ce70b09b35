"""Figures of the ASEAN map: per member, published instruments in force or those on a chosen topic."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session, aliased

from tracker.errors import Invalid
from tracker.i18n import format_number
from tracker.models import Jurisdiction, Policy, PolicyTopic, Topic
from tracker.services.as_of import status_on

# The dashboard's own narrowing: the map counts exactly the policies its charts count, whatever the
# dashboard's filter comes to hold.
from tracker.services.dashboard import DashboardFilter, ReferenceLists, published_matching
from tracker.translation import gettext as _

IN_FORCE = "in_force"
TOPIC = "topic"
MEASURES = (IN_FORCE, TOPIC)

# Classes of the "in force" measure: fixed bounds, so a colour means the same count on every visit and
# in every filter. (lowest count, highest count or None for "and more").
IN_FORCE_CLASSES: tuple[tuple[int, int | None], ...] = ((0, 0), (1, 1), (2, 3), (4, 6), (7, None))


@dataclass(frozen=True)
class MapMeasure:
    """What colours the map: ``in_force`` (count of instruments in force) or ``topic`` (one topic's presence)."""

    kind: str = IN_FORCE
    topic: Topic | None = None

    def to_query(self) -> dict[str, str]:
        """The measure as query parameters, for forms and links that keep it."""
        return {"map_topic": self.topic.key} if self.topic is not None else {}


def parse_map_measure(args: Mapping[str, Sequence[str]], reference: ReferenceLists) -> MapMeasure:
    """Read ``map`` (``in_force`` or ``topic``) and ``map_topic`` (a topic key) from the query string.

    ``map_topic`` alone chooses the topic measure; an empty ``map_topic`` (the select's first option)
    means instruments in force.

    Raises:
        Invalid: for an unknown measure or topic, ``map=topic`` without a topic, or ``map=in_force``
            together with a topic.
    """
    kind = (args.get("map") or [""])[0].strip()
    topic_key = (args.get("map_topic") or [""])[0].strip()
    if kind and kind not in MEASURES:
        raise Invalid(_("Some filters are not valid"), {"map": _(
            "Unknown map '%(value)s'. Accepted values: %(accepted)s",
            value=kind[:40], accepted=", ".join(MEASURES))})
    if topic_key:
        topics = {topic.key: topic for topic in reference.topics}
        if topic_key not in topics:
            raise Invalid(_("Some filters are not valid"), {"map_topic": _(
                "Unknown map topic '%(value)s'. Accepted values: %(accepted)s",
                value=topic_key[:40], accepted=", ".join(topics))})
        if kind == IN_FORCE:
            raise Invalid(_("Some filters are not valid"), {"map": _(
                "Choose either map=in_force or a map topic, not both.")})
        return MapMeasure(TOPIC, topics[topic_key])
    if kind == TOPIC:
        raise Invalid(_("Some filters are not valid"), {"map_topic": _(
            "Choose a topic for map=topic (map_topic=…). Accepted values: %(accepted)s",
            accepted=", ".join(reference.topic_keys))})
    return MapMeasure()


@dataclass(frozen=True)
class MapClass:
    """One class of the legend: its number (1 = lowest, 0 = outside the filter) and its range."""

    number: int
    low: int
    high: int | None

    @property
    def label(self) -> str:
        if self.number == 0:
            return str(_("Not in the filter"))
        if self.high is None:
            return str(_("%(low)s or more", low=format_number(self.low)))
        if self.low == self.high:
            return format_number(self.low)
        return str(_("%(low)s–%(high)s", low=format_number(self.low), high=format_number(self.high)))


@dataclass(frozen=True)
class MapCountry:
    """A member on the map: the figure that colours it, all its published policies, and its class."""

    jurisdiction: Jurisdiction
    figure: int
    published: int
    map_class: MapClass
    in_filter: bool


@dataclass(frozen=True)
class MapFigures:
    measure: MapMeasure
    countries: list[MapCountry]
    classes: list[MapClass]
    filtered: bool

    @property
    def total(self) -> int:
        return sum(country.figure for country in self.countries)

    @property
    def figure_label(self) -> str:
        """The column heading of the figure, in the reader's language."""
        if self.measure.topic is None:
            return str(_("Instruments in force"))
        return str(_("Policies on this topic"))


OUTSIDE_FILTER = MapClass(0, 0, 0)


def reference_with_topics(session: Session, jurisdictions: list[Jurisdiction]) -> ReferenceLists:
    """The reference lists for a page that has read the jurisdictions already: the topics (one query)."""
    return ReferenceLists(jurisdictions, list(session.scalars(select(Topic).order_by(Topic.position))))


def _classes(measure: MapMeasure) -> list[MapClass]:
    if measure.kind == TOPIC:
        # Presence: none, or at least one.
        return [MapClass(1, 0, 0), MapClass(2, 1, None)]
    return [MapClass(number, low, high) for number, (low, high) in enumerate(IN_FORCE_CLASSES, start=1)]


def _class_of(figure: int, classes: list[MapClass]) -> MapClass:
    for map_class in classes:
        if figure >= map_class.low and (map_class.high is None or figure <= map_class.high):
            return map_class
    raise AssertionError(f"no class for {figure}")  # the classes cover every count from 0 up


def map_figures(session: Session, measure: MapMeasure, reference: ReferenceLists,
                flt: DashboardFilter | None = None) -> MapFigures:
    """Per ASEAN member, published policies that count for the measure and all published ones (one query).

    ``flt`` narrows the policies as the dashboard does (countries, topics); members outside its
    countries are shown as outside the filter. Members with nothing published count 0.
    """
    flt = flt or DashboardFilter()
    counts_for_measure: ColumnElement[bool]
    if measure.topic is not None:
        tagged = aliased(PolicyTopic)
        counts_for_measure = Policy.id.in_(
            select(tagged.policy_id).where(tagged.topic_key == measure.topic.key).correlate(None))
    elif flt.as_of is not None:
        counts_for_measure = status_on(flt.as_of) == IN_FORCE
    else:
        counts_for_measure = Policy.legal_status == IN_FORCE
    statement = published_matching(
        select(Policy.jurisdiction_code, func.count(case((counts_for_measure, Policy.id))), func.count(Policy.id)),
        flt,
    ).group_by(Policy.jurisdiction_code)
    counts = {code: (figure, published) for code, figure, published in session.execute(statement)}
    classes = _classes(measure)
    countries = []
    for jurisdiction in reference.jurisdictions:
        if jurisdiction.kind != "member":
            continue
        in_filter = not flt.countries or jurisdiction.code in flt.countries
        figure, published = counts.get(jurisdiction.code, (0, 0))
        countries.append(MapCountry(jurisdiction, figure, published,
                                    _class_of(figure, classes) if in_filter else OUTSIDE_FILTER, in_filter))
    return MapFigures(measure, countries, classes, filtered=not flt.is_empty)
