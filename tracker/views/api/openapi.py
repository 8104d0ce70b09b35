"""The OpenAPI 3.1 description of /api/v1, written as data and kept true by a schemathesis test."""
from __future__ import annotations

from typing import Any

from tracker.models.vocab import (BODY_ROLES, CONFIDENCE_LEVELS, EDITORIAL_STATES, EVENT_KINDS, FORUM_ROLES,
                                  INSTRUMENTS, LEGAL_STATUSES, ORGANISATION_KINDS, RELATION_TYPES, SOURCE_KINDS,
                                  VEHICLE_CLASSES)
from tracker.services.policies import SORTS

PARTIAL_DATE = {"type": "string", "pattern": r"^\d{4}(-\d{2}(-\d{2})?)?$",
                "description": "A date known to the year, month or day: 2023, 2023-07 or 2023-07-14."}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _object(properties: dict[str, Any], *, required: list[str] | None = None) -> dict[str, Any]:
    return {"type": "object", "properties": properties,
            "required": list(properties) if required is None else required}


TEXT = {"type": "string"}
NULLABLE_TEXT = {"type": ["string", "null"]}
URL = {"type": "string", "format": "uri"}
NULLABLE_URL = _nullable(URL)


def _array_param(name: str, values: list[str] | None, description: str,
                 item: dict[str, Any] | None = None) -> dict[str, Any]:
    items = item or {"type": "string", "enum": values}
    return {"name": name, "in": "query", "required": False, "style": "form", "explode": True,
            "description": description, "schema": {"type": "array", "items": items}}


PAGE_PARAMS = [
    {"name": "page", "in": "query", "required": False, "description": "Page number, from 1.",
     "schema": {"type": "integer", "minimum": 1, "maximum": 999999999, "default": 1}},
    {"name": "per_page", "in": "query", "required": False, "description": "Items per page.",
     "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}},
]


def _error_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref("Error")}}}


def _ok(schema_name: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema_name)}}}


def _schemas() -> dict[str, Any]:
    policy_ref = _object({
        "key": TEXT, "title_en": TEXT, "title_lo": NULLABLE_TEXT, "country": TEXT,
        "legal_status": {"enum": list(LEGAL_STATUSES)}, "url": URL, "html_url": URL})
    event_ref = _object({
        "key": TEXT, "name_en": TEXT, "name_lo": NULLABLE_TEXT, "kind": {"enum": list(EVENT_KINDS)},
        "starts_on": _nullable(PARTIAL_DATE), "url": URL, "html_url": URL})
    organisation = _object({
        "key": TEXT, "name_en": TEXT, "name_lo": NULLABLE_TEXT, "country": NULLABLE_TEXT,
        "kind": {"enum": list(ORGANISATION_KINDS)}})
    source = _object({"url": TEXT, "title": NULLABLE_TEXT, "published": _nullable(PARTIAL_DATE),
                      "kind": _nullable({"enum": list(SOURCE_KINDS)})})
    policy_summary_properties = {
        "key": TEXT, "url": URL, "html_url": URL, "country": TEXT, "country_name": TEXT,
        "instrument": {"enum": list(INSTRUMENTS)}, "title_en": TEXT, "title_lo": NULLABLE_TEXT,
        "title_local": NULLABLE_TEXT, "reference": NULLABLE_TEXT, "legal_status": {"enum": list(LEGAL_STATUSES)},
        "status_changed_on": _nullable(PARTIAL_DATE), "adopted_on": _nullable(PARTIAL_DATE),
        "year": {"type": ["integer", "null"]}, "valid_from": _nullable(PARTIAL_DATE),
        "valid_to": _nullable(PARTIAL_DATE), "topics": {"type": "array", "items": TEXT},
        "editorial_state": {"enum": list(EDITORIAL_STATES)},
    }
    status_change = _object({
        "from_status": _nullable({"enum": list(LEGAL_STATUSES)}), "status": {"enum": list(LEGAL_STATUSES)},
        "effective_on": _nullable(PARTIAL_DATE), "note": NULLABLE_TEXT, "evidence_url": NULLABLE_TEXT,
        "recorded_at": {"type": "string", "format": "date-time"}})
    relation = _object({
        "type": {"enum": list(RELATION_TYPES)}, "direction": {"enum": ["outgoing", "incoming"]}, "label": TEXT,
        "policy": _nullable(_ref("PolicyRef")), "target_reference": NULLABLE_TEXT})
    event_summary_properties = event_ref["properties"] | {
        "country": NULLABLE_TEXT, "ends_on": _nullable(PARTIAL_DATE), "venue": NULLABLE_TEXT,
        "organisers": {"type": "array", "items": TEXT}, "funders": {"type": "array", "items": TEXT},
        "partners": {"type": "array", "items": TEXT}, "topics": {"type": "array", "items": TEXT},
        "editorial_state": {"enum": list(EDITORIAL_STATES)}}
    organisations = {"type": "array", "items": _ref("Organisation")}
    return {
        "Error": _object({"error": _object({
            "status": {"type": "integer"}, "title": TEXT, "message": TEXT,
            "errors": {"type": "object", "additionalProperties": TEXT,
                       "description": "Message per offending parameter or field."}},
            required=["status", "title", "message"])}),
        "PolicyRef": policy_ref,
        "EventRef": event_ref,
        "Organisation": organisation,
        "Source": source,
        "StatusChange": status_change,
        "Relation": relation,
        "PolicySummary": _object(policy_summary_properties),
        "Policy": _object(policy_summary_properties | {
            "summary_en": NULLABLE_TEXT, "summary_lo": NULLABLE_TEXT, "issuer": _nullable(_ref("Organisation")),
            "other_bodies": {"type": "array", "items": _object({
                "organisation": _ref("Organisation"), "role": {"enum": list(BODY_ROLES)}})},
            "vehicle_classes": {"type": "array", "items": {"enum": list(VEHICLE_CLASSES)}},
            "confidence": _nullable({"enum": list(CONFIDENCE_LEVELS)}),
            "conflicts": {"type": "array", "items": TEXT},
            "status_history": {"type": "array", "items": _ref("StatusChange")},
            "relations": {"type": "array", "items": _ref("Relation")},
            "forum_links": {"type": "array", "items": _object({
                "role": {"enum": list(FORUM_ROLES)}, "evidence": NULLABLE_TEXT, "source_url": NULLABLE_TEXT,
                "event": _ref("EventRef")})},
            "sources": {"type": "array", "items": _ref("Source")},
            "version": {"type": "integer"},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
        }),
        "PolicyPage": _page("PolicySummary"),
        "EventSummary": _object(event_summary_properties),
        "Event": _object(event_summary_properties | {
            "organisers": organisations, "funders": organisations, "partners": organisations,
            "date_note": NULLABLE_TEXT, "summary_en": NULLABLE_TEXT, "summary_lo": NULLABLE_TEXT,
            "sources": {"type": "array", "items": _ref("Source")},
            "policies": {"type": "array", "items": _object({
                "role": {"enum": list(FORUM_ROLES)}, "evidence": NULLABLE_TEXT, "source_url": NULLABLE_TEXT,
                "policy": _ref("PolicyRef")})},
            "version": {"type": "integer"},
        }),
        "EventPage": _page("EventSummary"),
        "JurisdictionList": _object({"items": {"type": "array", "items": _object({
            "code": TEXT, "name_en": TEXT, "name_lo": NULLABLE_TEXT,
            "kind": {"enum": ["member", "regional", "international"]},
            "asean_member_since": _nullable({"type": "string", "format": "date"}),
            "policy_count": {"type": "integer", "minimum": 0}, "event_count": {"type": "integer", "minimum": 0},
            "html_url": URL})}}),
        "TopicList": _object({"items": {"type": "array", "items": _object({
            "key": TEXT, "name_en": TEXT, "name_lo": NULLABLE_TEXT,
            "policy_count": {"type": "integer", "minimum": 0}})}}),
    }


def _page(item: str) -> dict[str, Any]:
    return _object({"items": {"type": "array", "items": _ref(item)},
                    "total": {"type": "integer", "minimum": 0}, "page": {"type": "integer", "minimum": 1},
                    "per_page": {"type": "integer", "minimum": 1}, "pages": {"type": "integer", "minimum": 1}})


KEY_PARAM = {"in": "path", "required": True, "schema": {"type": "string", "minLength": 1, "maxLength": 200}}


def openapi_document(countries: list[str], topics: list[str]) -> dict[str, Any]:
    """The document, with the country codes and topic keys the database holds now."""
    bad_request = _error_response("A parameter is not valid; `error.errors` names each one.")
    not_found = _error_response("No such record, or the page is past the last one.")
    policy_filters = [
        _array_param("country", countries, "ISO 3166-1 code, ASEAN or INTL; repeat for several."),
        _array_param("status", list(LEGAL_STATUSES), "Current legal status; repeat for several."),
        _array_param("instrument", list(INSTRUMENTS), "Kind of instrument; repeat for several."),
        _array_param("topic", topics, "Topic key; repeat for several."),
        _array_param("vehicle_class", list(VEHICLE_CLASSES), "Vehicle class; repeat for several."),
        _array_param("year", None, "Year of adoption (else of the first dated status step).",
                     {"type": "integer", "minimum": 1000, "maximum": 9999}),
        {"name": "sort", "in": "query", "required": False, "description": "Order of the results.",
         "schema": {"type": "string", "enum": list(SORTS), "default": "latest"}},
    ]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "EV policy tracker API",
            "version": "1.0.0",
            "description": ("Electric-vehicle policies, laws and standards of Lao PDR and the ASEAN members, "
                            "with their legal status over time and the forums they came from. Dates of legal "
                            "acts are partial ISO dates given to the precision the sources give."),
        },
        "servers": [{"url": "/api/v1"}],
        "paths": {
            "/policies": {"get": {
                "operationId": "listPolicies", "summary": "Policies matching the filters, one page at a time.",
                "parameters": policy_filters + PAGE_PARAMS,
                "responses": {"200": _ok("PolicyPage", "A page of policies."), "400": bad_request,
                              "404": not_found}}},
            "/policies/{key}": {"get": {
                "operationId": "getPolicy", "summary": "The full record of one policy.",
                "parameters": [{"name": "key", **KEY_PARAM}],
                "responses": {"200": _ok("Policy", "The policy with its history, relations and sources."),
                              "404": not_found}}},
            "/events": {"get": {
                "operationId": "listEvents", "summary": "Forums, workshops, summits and meetings, newest first.",
                "parameters": [_array_param("country", countries, "Country code; repeat for several.")]
                + PAGE_PARAMS,
                "responses": {"200": _ok("EventPage", "A page of events."), "400": bad_request,
                              "404": not_found}}},
            "/events/{key}": {"get": {
                "operationId": "getEvent", "summary": "One event with the policies linked to it.",
                "parameters": [{"name": "key", **KEY_PARAM}],
                "responses": {"200": _ok("Event", "The event."), "404": not_found}}},
            "/jurisdictions": {"get": {
                "operationId": "listJurisdictions", "summary": "The ASEAN members and regional pseudo-codes.",
                "responses": {"200": _ok("JurisdictionList", "Every jurisdiction, Lao PDR first.")}}},
            "/topics": {"get": {
                "operationId": "listTopics", "summary": "Policy topics with their number of policies.",
                "responses": {"200": _ok("TopicList", "Every topic.")}}},
            "/openapi.json": {"get": {
                "operationId": "getOpenAPI", "summary": "This document.",
                "responses": {"200": {"description": "The OpenAPI 3.1 document.",
                                      "content": {"application/json": {"schema": {"type": "object"}}}}}}},
        },
        "components": {"schemas": _schemas()},
    }
