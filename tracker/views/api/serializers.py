"""Records to JSON: explicit fields, stable names, partial dates as given, timestamps in UTC with offset."""
from __future__ import annotations

import datetime as dt
from typing import Any

from flask import url_for

from tracker.models import Event, ForumLink, Jurisdiction, Organisation, Policy, Source, StatusChange, Topic
from tracker.models.types import PartialDate
from tracker.models.vocab import RELATION_TYPES
from tracker.services.records import comment_window_record, target_to_record


def _date(value: PartialDate | None) -> str | None:
    return value.isoformat() if value else None


def _timestamp(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def organisation_json(organisation: Organisation | None) -> dict[str, Any] | None:
    if organisation is None:
        return None
    return {"key": organisation.key, "name_en": organisation.name_en, "name_lo": organisation.name_lo,
            "acronym": organisation.acronym, "country": organisation.country, "kind": organisation.kind}


def source_json(source: Source) -> dict[str, Any]:
    return {"url": source.url, "title": source.title, "published": _date(source.published), "kind": source.kind}


def policy_ref_json(policy: Policy) -> dict[str, Any]:
    return {"key": policy.key, "title_en": policy.title_en, "title_lo": policy.title_lo,
            "country": policy.jurisdiction_code, "legal_status": policy.legal_status,
            "url": url_for("api.policy", key=policy.key, _external=True),
            "html_url": url_for("policies.detail", key=policy.key, _external=True)}


def policy_summary_json(policy: Policy, expand: frozenset[str] = frozenset()) -> dict[str, Any]:
    """A policy as lists give it, with what ``expand`` names (summary, status_history, sources) embedded."""
    return _policy_summary(policy) | _expanded(policy, expand)


def _expanded(record: Policy | Event, expand: frozenset[str]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if "summary" in expand:
        body |= {"summary_en": record.summary_en, "summary_lo": record.summary_lo}
    if "status_history" in expand and isinstance(record, Policy):
        body["status_history"] = [status_change_json(c) for c in record.status_changes]
    if "sources" in expand:
        body["sources"] = [source_json(s) for s in record.sources]
    return body


def _policy_summary(policy: Policy) -> dict[str, Any]:
    return {
        "key": policy.key,
        "url": url_for("api.policy", key=policy.key, _external=True),
        "html_url": url_for("policies.detail", key=policy.key, _external=True),
        "country": policy.jurisdiction_code,
        "country_name": policy.jurisdiction.name_en,
        "instrument": policy.instrument,
        "title_en": policy.title_en,
        "title_lo": policy.title_lo,
        "title_local": policy.title_local,
        "reference": policy.reference,
        "legal_status": policy.legal_status,
        "status_changed_on": _date(policy.status_changed_on),
        "status_since": _date(policy.status_since),
        "adopted_on": _date(policy.adopted_on),
        "year": policy.year,
        "valid_from": _date(policy.valid_from),
        "valid_to": _date(policy.valid_to),
        "topics": policy.topic_keys,
        "editorial_state": policy.editorial_state,
    }


def status_change_json(change: StatusChange) -> dict[str, Any]:
    window = comment_window_record(change)
    if window is not None:
        window["draft_document"] = change.comment_draft_document_id
    return {"position": change.position, "from_status": change.from_status, "status": change.to_status,
            "effective_on": _date(change.effective_on), "note": change.note, "note_lo": change.note_lo,
            "evidence_url": change.evidence_url, "recorded_at": _timestamp(change.recorded_at),
            "gazetted_on": change.gazetted_on.isoformat() if change.gazetted_on else None,
            "consultation": window}


def forum_link_json(link: ForumLink, *, side: str) -> dict[str, Any]:
    body: dict[str, Any] = {"role": link.role, "evidence": link.evidence, "evidence_lo": link.evidence_lo,
                            "source_url": link.source_url}
    if side == "event":
        body["event"] = event_ref_json(link.event)
    else:
        body["policy"] = policy_ref_json(link.policy)
    return body


def policy_json(policy: Policy, outgoing: list, incoming: list, forum_links: list[ForumLink]) -> dict[str, Any]:
    relations = [{"type": r.relation_type, "direction": "outgoing", "label": RELATION_TYPES[r.relation_type][0],
                  "policy": policy_ref_json(r.target) if r.target else None,
                  "target_reference": r.target_reference} for r in outgoing]
    relations += [{"type": r.relation_type, "direction": "incoming", "label": RELATION_TYPES[r.relation_type][1],
                   "policy": policy_ref_json(r.policy), "target_reference": None} for r in incoming]
    return _policy_summary(policy) | {
        "summary_en": policy.summary_en,
        "summary_lo": policy.summary_lo,
        "issuer": organisation_json(policy.issuer),
        "other_bodies": [{"organisation": organisation_json(b.organisation), "role": b.role}
                         for b in policy.bodies],
        "vehicle_classes": policy.vehicle_classes,
        "confidence": policy.confidence,
        "conflicts": list(policy.conflicts or []),
        "status_history": [status_change_json(c) for c in policy.status_changes],
        "relations": relations,
        "forum_links": [forum_link_json(link, side="event") for link in forum_links],
        "sources": [source_json(s) for s in policy.sources],
        "targets": [target_to_record(target) for target in policy.targets],
        "version": policy.version,
        "created_at": _timestamp(policy.created_at),
        "updated_at": _timestamp(policy.updated_at),
    }


def event_ref_json(event: Event) -> dict[str, Any]:
    return {"key": event.key, "name_en": event.name_en, "name_lo": event.name_lo, "kind": event.kind,
            "starts_on": _date(event.starts_on),
            "url": url_for("api.event", key=event.key, _external=True),
            "html_url": url_for("events.detail", key=event.key, _external=True)}


def event_summary_json(event: Event, expand: frozenset[str] = frozenset()) -> dict[str, Any]:
    """An event as lists give it, with what ``expand`` names (summary, sources) embedded."""
    return _event_summary(event) | _expanded(event, expand)


def _event_summary(event: Event) -> dict[str, Any]:
    return event_ref_json(event) | {
        "country": event.jurisdiction_code,
        "ends_on": _date(event.ends_on),
        "venue": event.venue,
        "organisers": [o.key for o in event.organisations_in("organiser")],
        "funders": [o.key for o in event.organisations_in("funder")],
        "partners": [o.key for o in event.organisations_in("partner")],
        "topics": event.topic_keys,
        "editorial_state": event.editorial_state,
    }


def event_json(event: Event, links: list[ForumLink]) -> dict[str, Any]:
    return _event_summary(event) | {
        "organisers": [organisation_json(o) for o in event.organisations_in("organiser")],
        "funders": [organisation_json(o) for o in event.organisations_in("funder")],
        "partners": [organisation_json(o) for o in event.organisations_in("partner")],
        "date_note": event.date_note,
        "summary_en": event.summary_en,
        "summary_lo": event.summary_lo,
        "sources": [source_json(s) for s in event.sources],
        "policies": [forum_link_json(link, side="policy") for link in links],
        "version": event.version,
    }


def jurisdiction_json(jurisdiction: Jurisdiction, policy_count: int, event_count: int) -> dict[str, Any]:
    return {"code": jurisdiction.code, "name_en": jurisdiction.name_en, "name_lo": jurisdiction.name_lo,
            "kind": jurisdiction.kind,
            "asean_member_since": jurisdiction.asean_member_since.isoformat()
            if jurisdiction.asean_member_since else None,
            "policy_count": policy_count, "event_count": event_count,
            "html_url": url_for("pages.country", code=jurisdiction.code, _external=True)}


def topic_json(topic: Topic, policy_count: int) -> dict[str, Any]:
    return {"key": topic.key, "name_en": topic.name_en, "name_lo": topic.name_lo, "policy_count": policy_count}
