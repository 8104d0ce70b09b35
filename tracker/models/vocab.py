"""Controlled vocabularies of the domain: codes stored in the database and their translatable labels."""
from __future__ import annotations

from typing import TYPE_CHECKING

from flask_babel import LazyString

from tracker.translation import lazy_gettext as _l

if TYPE_CHECKING:
    from collections.abc import Mapping

# Legal status of an instrument, in the order an instrument usually moves through them.
LEGAL_STATUSES: dict[str, LazyString] = {
    "proposed": _l("Proposed"),
    "drafting": _l("Drafting"),
    "consultation": _l("Consultation"),
    "adopted": _l("Adopted"),
    "in_force": _l("In force"),
    "suspended": _l("Suspended"),
    "expired": _l("Expired"),
    "superseded": _l("Superseded"),
    "repealed": _l("Repealed"),
    "withdrawn": _l("Withdrawn"),
    "unknown": _l("Unknown"),
}

# Statuses in which an instrument has legal effect or has had it (used for "adopted on").
ADOPTED_STATUSES = frozenset({"adopted", "in_force"})

EDITORIAL_STATES: dict[str, LazyString] = {
    "draft": _l("Draft"),
    "in_review": _l("In review"),
    "published": _l("Published"),
    "archived": _l("Archived"),
}

INSTRUMENTS: dict[str, LazyString] = {
    "law": _l("Law"),
    "decree": _l("Decree"),
    "decision": _l("Decision"),
    "regulation": _l("Regulation"),
    "notification": _l("Notification"),
    "standard": _l("Standard"),
    "strategy": _l("Strategy"),
    "roadmap": _l("Roadmap"),
    "incentive": _l("Incentive"),
    "budget_measure": _l("Budget measure"),
    "declaration": _l("Declaration"),
    "agreement": _l("Agreement"),
    "programme": _l("Programme"),
    "target": _l("Target"),
}

# Kinds of instrument, as the IEA's policy explorer groups them: what an instrument does, whatever its legal form.
INSTRUMENT_KINDS: dict[str, LazyString] = {
    "legislation": _l("Legislation"),
    "incentive": _l("Incentive"),
    "standard": _l("Standard"),
    "target": _l("Target"),
    "strategy": _l("Strategy"),
}

# The kind of each instrument type. Binding acts (laws down to ministerial notifications, and agreements between
# parties) are legislation; fiscal measures are incentives; plans, roadmaps, programmes of action and political
# declarations are strategies.
KIND_OF_INSTRUMENT: dict[str, str] = {
    "law": "legislation",
    "decree": "legislation",
    "decision": "legislation",
    "regulation": "legislation",
    "notification": "legislation",
    "agreement": "legislation",
    "standard": "standard",
    "incentive": "incentive",
    "budget_measure": "incentive",
    "strategy": "strategy",
    "roadmap": "strategy",
    "programme": "strategy",
    "declaration": "strategy",
    "target": "target",
}

# Legal statuses from the strongest to the weakest: how far an instrument has gone towards having effect.
# In force beats adopted (adopted, not yet in force), which beats any stage of preparation; a suspended
# instrument exists but has no effect now; the statuses of an instrument that has ended come last, and
# "unknown" after all of them.
STATUS_STRENGTH: tuple[str, ...] = ("in_force", "adopted", "consultation", "drafting", "proposed", "suspended",
                                    "expired", "superseded", "repealed", "withdrawn", "unknown")

VEHICLE_CLASSES: dict[str, LazyString] = {
    "all": _l("All vehicles"),
    "car": _l("Cars"),
    "two_wheeler": _l("Two-wheelers"),
    "three_wheeler": _l("Three-wheelers"),
    "bus": _l("Buses"),
    "truck": _l("Trucks"),
}

# What a structured target measures (tracker.models.target). A share is a percentage; the others count
# vehicles, charging, capacity or emissions in the unit the target states.
TARGET_METRICS: dict[str, LazyString] = {
    "share_of_sales": _l("Share of new sales"),
    "share_of_stock": _l("Share of vehicles in use"),
    "share_of_production": _l("Share of vehicle production"),
    "vehicles": _l("Number of electric vehicles"),
    "charging_points": _l("Public charging points"),
    "charging_stations": _l("Public charging stations"),
    "manufacturing_capacity": _l("Manufacturing capacity"),
    "emissions_reduction": _l("Emissions reduction"),
    "other": _l("Other measure"),
}
# Metrics that are shares of a whole: stated in percent, at most 100.
SHARE_METRICS = frozenset({"share_of_sales", "share_of_stock", "share_of_production"})

# The unit a target's value is stated in.
TARGET_UNITS: dict[str, LazyString] = {
    "percent": _l("per cent"),
    "vehicles": _l("vehicles"),
    "points": _l("charging points"),
    "stations": _l("charging stations"),
    "units_per_year": _l("units a year"),
    "tonnes_co2e": _l("tonnes of CO2e"),
}
# How the compact text form of exports writes each unit (tracker.services.policy_targets).
TARGET_UNIT_SYMBOLS: dict[str, str] = {
    "percent": "%", "vehicles": " vehicles", "points": " points", "stations": " stations",
    "units_per_year": " units/year", "tonnes_co2e": " tCO2e",
}

# Each relation type read from the other end, so a page can show both directions.
RELATION_TYPES: dict[str, tuple[LazyString, LazyString]] = {
    "amends": (_l("Amends"), _l("Amended by")),
    "supersedes": (_l("Supersedes"), _l("Superseded by")),
    "implements": (_l("Implements"), _l("Implemented by")),
    "cancels": (_l("Cancels"), _l("Cancelled by")),
    "pursuant_to": (_l("Issued pursuant to"), _l("Basis for")),
    "related": (_l("Related to"), _l("Related to")),
}

FORUM_ROLES: dict[str, LazyString] = {
    "originated": _l("Originated at"),
    "discussed": _l("Discussed at"),
    "announced": _l("Announced at"),
    "recommended": _l("Recommended at"),
}

SOURCE_KINDS: dict[str, LazyString] = {
    "official": _l("Official text"),
    "law_firm": _l("Law firm note"),
    "news": _l("News"),
    "ngo": _l("NGO / development partner"),
    "other": _l("Other"),
}

BODY_ROLES: dict[str, LazyString] = {
    "implementing": _l("Implementing"),
    "partner": _l("Partner"),
    "funder": _l("Funder"),
}

EVENT_ROLES: dict[str, LazyString] = {
    "organiser": _l("Organisers"),
    "funder": _l("Funders"),
    "partner": _l("Partners"),
}

ORGANISATION_KINDS: dict[str, LazyString] = {
    "ministry": _l("Ministry"),
    "agency": _l("Agency"),
    "legislature": _l("Legislature"),
    "utility": _l("Utility"),
    "association": _l("Association"),
    "company": _l("Company"),
    "development_partner": _l("Development partner"),
    "intergovernmental": _l("Intergovernmental body"),
    "standards_body": _l("Standards body"),
    "other": _l("Other"),
}

EVENT_KINDS: dict[str, LazyString] = {
    "forum": _l("Forum"),
    "workshop": _l("Workshop"),
    "summit": _l("Summit"),
    "meeting": _l("Meeting"),
    "conference": _l("Conference"),
}

CONFIDENCE_LEVELS: dict[str, LazyString] = {
    "high": _l("High"),
    "medium": _l("Medium"),
    "low": _l("Low"),
}

# What an attached file is to its instrument (tracker.models.document).
DOCUMENT_ROLES: dict[str, LazyString] = {
    "original": _l("Original text"),
    "official_translation": _l("Official translation"),
    "unofficial_translation": _l("Unofficial translation"),
    "annex": _l("Annex"),
    "draft": _l("Draft text"),
    "consolidated": _l("Consolidated version"),
}

# Languages a document may be in, by their ISO 639 code; each named in the reader's language by CLDR (through
# Babel), not by the catalogue: the interface's own language switch names languages in themselves instead.
DOCUMENT_LANGUAGE_CODES = ("lo", "en", "th", "vi", "km", "my", "id", "ms", "fil", "zh", "fr")


def _language_name(code: str) -> str:
    from babel import Locale

    from tracker.translation import current_locale as get_locale

    locale = get_locale() or Locale("en")
    return str(locale.languages.get(code) or Locale("en").languages.get(code) or code)


DOCUMENT_LANGUAGES: dict[str, LazyString] = {code: LazyString(_language_name, code) for code in DOCUMENT_LANGUAGE_CODES}

EXTRACTION_STATUSES: dict[str, LazyString] = {
    "pending": _l("Waiting for extraction"),
    "extracting": _l("Extracting text"),
    "done": _l("Text extracted"),
    "partial": _l("Text partly extracted"),
    "failed": _l("Extraction failed"),
}


def check_in(column: str, values: Mapping[str, object] | tuple[str, ...]) -> str:
    """SQL text of a CHECK that ``column`` holds one of ``values``."""
    quoted = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({quoted})"
