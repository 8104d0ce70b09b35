"""Test data built through the same dataset service that loads real data."""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from tracker.services.dataset import load_dataset


def policy_record(key: str, **overrides: Any) -> dict[str, Any]:
    """A valid policy record in the dataset format."""
    record: dict[str, Any] = {
        "key": key, "country": "TL", "title_en": f"Test policy {key}", "title_lo": "ນະໂຍບາຍລົດໄຟຟ້າ ທົດລອງ",
        "title_local": None, "reference": f"No. {key}", "instrument": "decree", "issuer": "la-mem",
        "other_bodies": [{"org": "la-edl", "role": "implementing"}],
        "topics": ["charging_infrastructure", "fiscal_incentives"], "vehicle_classes": ["car", "bus"],
        "status": "in_force",
        "status_history": [
            {"status": "drafting", "date": "2023", "note": "Drafting began.", "source_url": None},
            {"status": "adopted", "date": "2023-07", "note": None, "source_url": "https://example.org/adopted"},
            {"status": "in_force", "date": "2023-08-01", "note": "In force.", "source_url": None},
        ],
        "valid_from": "2023-08-01", "valid_to": None, "summary_en": "A policy made for tests.",
        "relations": [], "forum_links": [],
        "sources": [{"url": "https://example.org/source", "title": "A source", "published": "2023-07-14",
                     "kind": "official"}],
        "confidence": "medium", "conflicts": [],
    }
    record.update(overrides)
    return record


def event_record(key: str, **overrides: Any) -> dict[str, Any]:
    """A valid event record in the dataset format."""
    record: dict[str, Any] = {
        "key": key, "name_en": f"Test forum {key}", "name_lo": "ກອງປະຊຸມ", "kind": "forum", "country": "TL",
        "starts_on": "2024-05", "date_note": None, "venue": "Dili", "organisers": ["la-mem"],
        "funders": ["la-edl"], "partners": [], "topics": ["charging_infrastructure"],
        "summary_en": "An event made for tests.",
        "sources": [{"url": "https://example.org/event", "title": "Event page", "published": None}],
    }
    record.update(overrides)
    return record


def load(session: Session, *, policies: list[dict] = (), events: list[dict] = ()) -> None:
    """Load records through the dataset service and flush them."""
    load_dataset(session, {"policies": list(policies), "events": list(events)})
    session.flush()
