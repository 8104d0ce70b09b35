"""The ASEAN map shared by the home page and the dashboard: outlines, colours, and the figures to draw."""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib.resources import files

from sqlalchemy.orm import Session

from tracker.i18n import format_number, local_name
from tracker.services import country_map as map_service
from tracker.services.country_map import MapCountry, MapFigures, MapMeasure
from tracker.services.dashboard import DashboardFilter, ReferenceLists
from tracker.translation import gettext as _
from tracker.translation import ngettext
from tracker.views.support import query_args

# Fill of each class. The lowest class ("none") is hatched and the classes above it darken in steps, so
# the map reads in grey too; the figure itself is written on every country and in the table.
IN_FORCE_FILLS = {1: "url(#map-none)", 2: "#a9cfe4", 3: "#5fa2cc", 4: "#2a6fa8", 5: "#123f6e"}
TOPIC_FILLS = {1: "url(#map-none)", 2: "#2a6fa8"}
OUTSIDE_FILL = "url(#map-outside)"


@dataclass(frozen=True)
class Outline:
    """One member drawn on the map: its path, where its figure is written, and a marker if it is small."""

    d: str
    label: tuple[int, int]
    marker: tuple[int, int] | None


@dataclass(frozen=True)
class Geometry:
    width: int
    height: int
    outlines: dict[str, Outline]


@functools.cache
def geometry() -> Geometry:
    """The outlines built by script/build-map, read once per process."""
    data = json.loads(files("tracker").joinpath("data/asean-map.json").read_text(encoding="utf-8"))
    return Geometry(
        width=data["width"], height=data["height"],
        outlines={code: Outline(item["d"], tuple(item["label"]), tuple(item["marker"]) if "marker" in item else None)
                  for code, item in data["countries"].items()},
    )


@dataclass(frozen=True)
class DrawnCountry:
    """A member with everything the macro writes: outline, fill, the figure as text, the accessible name."""

    country: MapCountry
    outline: Outline
    fill: str
    name: str
    figure_text: str
    description: str


@dataclass(frozen=True)
class CountryMap:
    figures: MapFigures
    geometry: Geometry
    drawn: list[DrawnCountry]
    legend: list[tuple[str, str]]  # (fill, label), lowest class first
    title: str
    topics: dict[str, str]  # key -> name, for the measure's select
    hidden: dict[str, list[str]]  # query parameters the measure's form keeps (the page's own filters)

    @property
    def measure(self) -> MapMeasure:
        return self.figures.measure


def _describe(country: MapCountry, figures: MapFigures, name: str) -> str:
    if not country.in_filter:
        return _("%(country)s: not in the filter", country=name)
    topic = figures.measure.topic
    if topic is None:
        return ngettext("%(country)s: %(num)s instrument in force", "%(country)s: %(num)s instruments in force",
                        country.figure, country=name)
    return ngettext("%(country)s: %(num)s policy on %(topic)s", "%(country)s: %(num)s policies on %(topic)s",
                    country.figure, country=name, topic=local_name(topic))


def country_map(session: Session, reference: ReferenceLists, flt: DashboardFilter | None = None) -> CountryMap:
    """Read the measure from the request's ``map`` and ``map_topic`` and count it (one query).

    Raises:
        Invalid: for an unknown measure or topic (see parse_map_measure).
    """
    args = query_args()
    measure = map_service.parse_map_measure(args, reference)
    figures = map_service.map_figures(session, measure, reference, flt)
    fills = TOPIC_FILLS if measure.topic is not None else IN_FORCE_FILLS
    shapes = geometry()
    drawn = []
    for country in figures.countries:
        outline = shapes.outlines.get(country.jurisdiction.code)
        if outline is None:  # a member added to the table after the map was built: still in the table
            continue
        name = local_name(country.jurisdiction)
        drawn.append(DrawnCountry(
            country, outline, fills[country.map_class.number] if country.in_filter else OUTSIDE_FILL, name,
            format_number(country.figure) if country.in_filter else "–", _describe(country, figures, name)))
    legend = [(fills[c.number], c.label) for c in figures.classes]
    if flt is not None and flt.countries:
        legend.append((OUTSIDE_FILL, map_service.OUTSIDE_FILTER.label))
    if measure.topic is None:
        title = _("Published instruments in force per ASEAN member")
    else:
        title = _("Published policies on the topic “%(topic)s” per ASEAN member", topic=local_name(measure.topic))
    return CountryMap(figures, shapes, drawn, legend, title,
                      {topic.key: local_name(topic) for topic in reference.topics},
                      flt.to_query() if flt is not None else {})
