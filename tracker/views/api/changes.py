"""GET /api/v1/changes: what changed in the published records since a cursor, for clients that keep a copy."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from tracker.services import changes as change_service
from tracker.services import policies as policy_service
from tracker.views.api import serializers
from tracker.views.api.documents import document_detail_json
from tracker.views.cache import cached_page
from tracker.views.support import db_session, query_args


def register(bp: Blueprint) -> None:
    """Add the changes feed to the API blueprint."""
    bp.add_url_rule("/changes", "changes", cached_page(changes), methods=["GET"])


def changes():
    session = db_session()
    page = change_service.read_changes(session, change_service.parse_changes_request(query_args()))
    return jsonify({"changes": [change_json(entry) for entry in page.entries], "next": page.next.encode(),
                    "more": page.more})


def record_json(entry: change_service.FeedEntry) -> dict[str, Any] | None:
    """The record as the public detail endpoint (or list, for countries and topics) serves it now."""
    record = entry.record
    if record is None:
        return None
    if entry.entity_type == "policy":
        # The public's view, whoever reads the feed: the relations and forum links it may see.
        outgoing, incoming = policy_service.visible_relations(record, False)
        links = policy_service.visible_forum_links(record.forum_links, False, side="event")
        return serializers.policy_json(record, outgoing, incoming, links)
    if entry.entity_type == "event":
        return serializers.event_json(record, entry.links)
    if entry.entity_type == "document":
        assert entry.policy is not None
        return document_detail_json(record, entry.policy, entry.versions, staff=False)
    if entry.entity_type == "jurisdiction":
        return serializers.jurisdiction_json(record.jurisdiction, record.policy_count, record.event_count)
    return serializers.topic_json(record.topic, record.policy_count)


def change_json(entry: change_service.FeedEntry) -> dict[str, Any]:
    return {"type": entry.entity_type, "id": entry.entity_id, "kind": entry.kind, "key": entry.key,
            "old_key": entry.old_key, "changed_at": entry.changed_at.isoformat(), "record": record_json(entry)}
