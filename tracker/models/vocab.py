"""Controlled vocabularies of the domain: codes stored in the database and their English labels."""
from __future__ import annotations

# Legal status of an instrument, in the order an instrument usually moves through them.
LEGAL_STATUSES: dict[str, str] = {
    "proposed": "Proposed",
    "drafting": "Drafting",
    "consultation": "Consultation",
    "adopted": "Adopted",
    "in_force": "In force",
    "suspended": "Suspended",
    "expired": "Expired",
    "superseded": "Superseded",
    "repealed": "Repealed",
    "withdrawn": "Withdrawn",
    "unknown": "Unknown",
}

# Statuses in which an instrument has legal effect or has had it (used for "adopted on").
ADOPTED_STATUSES = frozenset({"adopted", "in_force"})

EDITORIAL_STATES: dict[str, str] = {
    "draft": "Draft",
    "in_review": "In review",
    "published": "Published",
    "archived": "Archived",
}

INSTRUMENTS: dict[str, str] = {
    "law": "Law",
    "decree": "Decree",
    "decision": "Decision",
    "regulation": "Regulation",
    "notification": "Notification",
    "standard": "Standard",
    "strategy": "Strategy",
    "roadmap": "Roadmap",
    "incentive": "Incentive",
    "budget_measure": "Budget measure",
    "declaration": "Declaration",
    "agreement": "Agreement",
    "programme": "Programme",
    "target": "Target",
}

VEHICLE_CLASSES: dict[str, str] = {
    "all": "All vehicles",
    "car": "Cars",
    "two_wheeler": "Two-wheelers",
    "three_wheeler": "Three-wheelers",
    "bus": "Buses",
    "truck": "Trucks",
}

# Each relation type read from the other end, so a page can show both directions.
RELATION_TYPES: dict[str, tuple[str, str]] = {
    "amends": ("Amends", "Amended by"),
    "supersedes": ("Supersedes", "Superseded by"),
    "implements": ("Implements", "Implemented by"),
    "cancels": ("Cancels", "Cancelled by"),
    "pursuant_to": ("Issued pursuant to", "Basis for"),
    "related": ("Related to", "Related to"),
}

FORUM_ROLES: dict[str, str] = {
    "originated": "Originated at",
    "discussed": "Discussed at",
    "announced": "Announced at",
    "recommended": "Recommended at",
}

SOURCE_KINDS: dict[str, str] = {
    "official": "Official text",
    "law_firm": "Law firm note",
    "news": "News",
    "ngo": "NGO / development partner",
    "other": "Other",
}

BODY_ROLES: dict[str, str] = {
    "implementing": "Implementing",
    "partner": "Partner",
    "funder": "Funder",
}

EVENT_ROLES: dict[str, str] = {
    "organiser": "Organisers",
    "funder": "Funders",
    "partner": "Partners",
}

ORGANISATION_KINDS: dict[str, str] = {
    "ministry": "Ministry",
    "agency": "Agency",
    "legislature": "Legislature",
    "utility": "Utility",
    "association": "Association",
    "company": "Company",
    "development_partner": "Development partner",
    "intergovernmental": "Intergovernmental body",
    "standards_body": "Standards body",
    "other": "Other",
}

EVENT_KINDS: dict[str, str] = {
    "forum": "Forum",
    "workshop": "Workshop",
    "summit": "Summit",
    "meeting": "Meeting",
    "conference": "Conference",
}

CONFIDENCE_LEVELS: dict[str, str] = {
    "high": "High",
    "medium": "Medium",
    "low": "Low",
}


def check_in(column: str, values: dict[str, object] | tuple[str, ...]) -> str:
    """SQL text of a CHECK that ``column`` holds one of ``values``."""
    quoted = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({quoted})"
