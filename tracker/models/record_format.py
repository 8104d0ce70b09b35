"""The record format, declared once as JSON Schema: the fields of policies, events, organisations, topics,
sources and targets with their limits. The write API checks bodies against it and publishes it in the OpenAPI
document; the dataset loader and the editing services check every record against it."""
from __future__ import annotations

import re
from typing import Any

from tracker.models.vocab import (
    BODY_ROLES,
    CONFIDENCE_LEVELS,
    EDITORIAL_STATES,
    EVENT_KINDS,
    FORUM_ROLES,
    INSTRUMENTS,
    LEGAL_STATUSES,
    ORGANISATION_KINDS,
    RELATION_TYPES,
    SOURCE_KINDS,
    TARGET_METRICS,
    TARGET_UNITS,
    VEHICLE_CLASSES,
)

KEY_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9_-]{0,118}[a-z0-9])?$")
KEY_TEXT = ("Lower-case letters, digits, '-' or '_' (at most 120), starting and ending with a letter or "
            "digit.")
# Keys that would collide with page addresses such as /policies/new.
RESERVED_KEYS = frozenset({"new"})
DATE_PATTERN = r"^[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?$"
DATE_TEXT = "A date known to the year, month or day: 2023, 2023-07 or 2023-07-14."
DAY_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
# ASCII host names only: the address parser raises on bracketed or NFKC-ambiguous hosts.
URL_PATTERN = r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?([/?#][^\x00-\x20\x7f]*)?$"
COUNTRY_CODE_PATTERN = r"^([A-Z]{2}|ASEAN|INTL)$"
MAX_VERSION = 999_999_999

# Limits, in characters (text) and items (lists).
TITLE_LENGTH = 500
REFERENCE_LENGTH = 300
NOTE_LENGTH = 5000
SUMMARY_LENGTH = 20000
URL_LENGTH = 2000
SOURCE_TITLE_LENGTH = 1000
ORGANISATION_NAME_LENGTH = 300
ACRONYM_LENGTH = 40
TOPIC_NAME_LENGTH = 200
KEY_LENGTH = 120
MAX_TARGETS = 50
MAX_TARGET_VALUE = 1_000_000_000_000

# Text fields whose line breaks are kept (as \n); in every other text field a line break becomes a space.
MULTILINE_FIELDS = frozenset({"summary_en", "summary_lo", "date_note", "note", "note_lo", "evidence",
                              "evidence_lo", "status_note", "status_note_lo", "reason",
                              "how_to_comment_en", "how_to_comment_lo"})


# ---------------------------------------------------------------------------------------------------
# Building blocks


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def closed_object(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    """An object of exactly these properties: an unknown field is refused and named, never ignored."""
    return {"type": "object", "properties": properties, "required": list(required),
            "additionalProperties": False}


def open_object(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    """An object with these properties; other fields are let through (and ignored by the reader)."""
    return {"type": "object", "properties": properties, "required": list(required)}


def string_schema(max_length: int, *, nullable: bool = True, min_length: int | None = None,
                  pattern: str | None = None, description: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": ["string", "null"] if nullable else "string", "maxLength": max_length}
    if min_length is not None:
        schema["minLength"] = min_length
    if pattern is not None:
        schema["pattern"] = pattern
    if description is not None:
        schema["description"] = description
    return schema


def choice_schema(values: list[str], *, nullable: bool = False) -> dict[str, Any]:
    return {"enum": list(values) + [None]} if nullable else {"type": "string", "enum": list(values)}


def list_schema(items: dict[str, Any], max_items: int, *, unique: bool = False) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "array", "items": items, "maxItems": max_items}
    if unique:
        schema["uniqueItems"] = True
    return schema


KEY = string_schema(KEY_LENGTH, nullable=False, pattern=KEY_PATTERN.pattern, description=KEY_TEXT)
NULLABLE_KEY = string_schema(KEY_LENGTH, pattern=KEY_PATTERN.pattern, description=KEY_TEXT)
DATE = string_schema(10, pattern=DATE_PATTERN, description=DATE_TEXT)
URL = string_schema(URL_LENGTH, nullable=False, pattern=URL_PATTERN, description="An http(s) URL.")
NULLABLE_URL = string_schema(URL_LENGTH, pattern=URL_PATTERN, description="An http(s) URL.")
DAY = string_schema(10, pattern=DAY_PATTERN, description="A day: 2026-07-14.")
VERSION = {"type": "integer", "minimum": 1, "maximum": MAX_VERSION,
           "description": "The `version` of the record as you read it; a newer one gives a 409."}
BASE_VERSION = {"type": "integer", "minimum": 1, "maximum": MAX_VERSION,
                "description": "Instead of `version`: the version you read, asking for a merge. The fields you "
                               "send are applied on top of the current version unless someone else changed "
                               "one of them since (then a 409 lists them in `error.conflicts`); send only the "
                               "fields you changed."}


# ---------------------------------------------------------------------------------------------------
# The fields of each kind of record


def source_fields() -> dict[str, Any]:
    return {"url": URL, "title": string_schema(SOURCE_TITLE_LENGTH), "published": DATE,
            "kind": choice_schema(list(SOURCE_KINDS), nullable=True)}


def target_fields() -> dict[str, Any]:
    """One structured target of a policy (tracker.models.target)."""
    from tracker.models.target import FIRST_TARGET_YEAR, LAST_TARGET_YEAR, SCOPE_LENGTH

    return {
        "metric": choice_schema(list(TARGET_METRICS)) | {"description": "What the target measures."},
        "value": {"type": "number", "minimum": 0, "maximum": MAX_TARGET_VALUE,
                  "description": "The value, in `unit` (30 for 30 %); at most four decimals."},
        "unit": choice_schema(list(TARGET_UNITS)),
        "year": {"type": "integer", "minimum": FIRST_TARGET_YEAR, "maximum": LAST_TARGET_YEAR,
                 "description": "The year the target is to be met by."},
        "vehicle_class": choice_schema(list(VEHICLE_CLASSES), nullable=True) | {
            "description": "The vehicles it counts (all when absent)."},
        "scope_en": string_schema(SCOPE_LENGTH, description="What else bounds it, in English (short)."),
        "scope_lo": string_schema(SCOPE_LENGTH, description="The same in Lao."),
        "headline": {"type": "boolean",
                     "description": "The one target that stands for the policy (at most one per policy)."},
        "source_url": NULLABLE_URL | {"description": "Where the target is stated."},
    }


TARGET_REQUIRED = ("metric", "value", "unit", "year")


def policy_fields(countries: list[str], topics: list[str] | None, *, closed: bool = True) -> dict[str, Any]:
    """The fields of a policy an editor sets. ``topics``: the known topic keys, or None to take any key (the
    dataset loader, which knows topics defined in the same file, checks them itself)."""
    make = closed_object if closed else open_object
    sources = list_schema(ref("SourceInput") if closed else make(source_fields(), ("url",)), 100)
    return {
        "country": choice_schema(countries),
        "title_en": string_schema(TITLE_LENGTH, description="The title in English; a record needs it or title_lo."),
        "title_lo": string_schema(TITLE_LENGTH), "title_local": string_schema(TITLE_LENGTH),
        "reference": string_schema(REFERENCE_LENGTH),
        "instrument": choice_schema(list(INSTRUMENTS)),
        "issuer": NULLABLE_KEY,
        "other_bodies": list_schema(make({"org": KEY, "role": choice_schema(list(BODY_ROLES))}, ("org", "role")),
                                    50),
        "topics": list_schema(choice_schema(topics) if topics is not None else KEY, 50, unique=True),
        "vehicle_classes": list_schema(choice_schema(list(VEHICLE_CLASSES)), 20, unique=True),
        "valid_from": DATE, "valid_to": DATE,
        "summary_en": string_schema(SUMMARY_LENGTH), "summary_lo": string_schema(SUMMARY_LENGTH),
        "relations": list_schema(make({
            "type": choice_schema(list(RELATION_TYPES)), "target": NULLABLE_KEY,
            "target_reference": string_schema(500, description="The instrument, when it is not recorded here.")},
            ("type",)), 100),
        "forum_links": list_schema(make({
            "event": KEY, "role": choice_schema(list(FORUM_ROLES)), "evidence": string_schema(NOTE_LENGTH),
            "evidence_lo": string_schema(NOTE_LENGTH),
            "source_url": NULLABLE_URL}, ("event", "role")), 100),
        "sources": sources,
        "confidence": choice_schema(list(CONFIDENCE_LEVELS), nullable=True),
        "conflicts": list_schema(string_schema(NOTE_LENGTH, nullable=False, min_length=1), 50),
        "targets": list_schema(ref("TargetInput") if closed else make(target_fields(), TARGET_REQUIRED),
                               MAX_TARGETS),
    }


def event_fields(countries: list[str], topics: list[str] | None, *, closed: bool = True) -> dict[str, Any]:
    """The fields of an event an editor sets (``topics`` as for policy_fields)."""
    sources = list_schema(ref("SourceInput") if closed else open_object(source_fields(), ("url",)), 100)
    return {
        "name_en": string_schema(TITLE_LENGTH, description="The name in English; a record needs it or name_lo."),
        "name_lo": string_schema(TITLE_LENGTH),
        "kind": choice_schema(list(EVENT_KINDS)), "country": choice_schema(countries, nullable=True),
        "starts_on": DATE, "ends_on": DATE, "date_note": string_schema(NOTE_LENGTH),
        "venue": string_schema(TITLE_LENGTH),
        "organisers": list_schema(KEY, 50, unique=True), "funders": list_schema(KEY, 50, unique=True),
        "partners": list_schema(KEY, 50, unique=True),
        "topics": list_schema(choice_schema(topics) if topics is not None else KEY, 50, unique=True),
        "summary_en": string_schema(SUMMARY_LENGTH), "summary_lo": string_schema(SUMMARY_LENGTH),
        "sources": sources,
    }


def organisation_fields() -> dict[str, Any]:
    return {
        "name_en": string_schema(ORGANISATION_NAME_LENGTH), "name_lo": string_schema(ORGANISATION_NAME_LENGTH),
        "acronym": string_schema(ACRONYM_LENGTH),
        "country": string_schema(8, pattern=COUNTRY_CODE_PATTERN),
        "kind": choice_schema(list(ORGANISATION_KINDS)),
        "parent": NULLABLE_KEY,
    }


def comment_window_fields(*, with_document: bool) -> dict[str, Any]:
    """The comment period of a step into consultation. ``draft_document`` (the id of a text attached to the
    policy) is known to the write API only: attached files are not part of the dataset."""
    fields: dict[str, Any] = {
        "opens_on": DAY | {"description": "The first day comments are taken (Vientiane)."},
        "closes_on": DAY | {"description": "The last day comments are taken (Vientiane); not before opens_on."},
        "how_to_comment_en": string_schema(NOTE_LENGTH), "how_to_comment_lo": string_schema(NOTE_LENGTH),
        "comment_address": string_schema(URL_LENGTH, description="Where comments go: an email address or an "
                                                                 "https URL."),
        "draft_url": NULLABLE_URL | {"description": "The draft put to comment."},
    }
    if with_document:
        fields["draft_document"] = {"type": ["integer", "null"], "minimum": 1, "maximum": 2_147_483_647,
                                    "description": "Instead of draft_url: the id of a text attached to the "
                                                   "policy."}
    return fields


def comment_window_schema(*, closed: bool) -> dict[str, Any]:
    schema = (closed_object if closed else open_object)(comment_window_fields(with_document=closed))
    return schema | {"type": ["object", "null"]}


def status_step_fields() -> dict[str, Any]:
    """One step of a policy's status history in the dataset format."""
    return {"status": choice_schema(list(LEGAL_STATUSES)), "date": DATE, "note": string_schema(NOTE_LENGTH),
            "note_lo": string_schema(NOTE_LENGTH), "source_url": NULLABLE_URL,
            "gazetted_on": DAY | {"description": "The day the text was published in the Official Gazette."},
            "consultation": comment_window_schema(closed=False)}


# ---------------------------------------------------------------------------------------------------
# The schemas


def input_schemas(countries: list[str], topics: list[str]) -> dict[str, Any]:
    """The bodies of the write API, as components of its OpenAPI document."""
    policy = policy_fields(countries, topics)
    event = event_fields(countries, topics)
    return {
        "SourceInput": closed_object(source_fields(), ("url",)),
        "TargetInput": closed_object(target_fields(), TARGET_REQUIRED),
        "PolicyInput": closed_object(policy | {
            "key": KEY | {"description": KEY_TEXT + " Made from the country and title when absent."},
            "status": choice_schema(list(LEGAL_STATUSES)) | {"description": "The first legal status (proposed "
                                                                            "when absent)."},
            "status_effective_on": DATE, "status_note": string_schema(NOTE_LENGTH),
            "status_note_lo": string_schema(NOTE_LENGTH), "status_evidence_url": NULLABLE_URL,
        }, ("country", "instrument")),
        "PolicyPatch": closed_object(policy | {"version": VERSION, "base_version": BASE_VERSION}),
        "StatusChangeInput": closed_object({
            "status": choice_schema(list(LEGAL_STATUSES)), "effective_on": DATE,
            "note": string_schema(NOTE_LENGTH), "note_lo": string_schema(NOTE_LENGTH),
            "evidence_url": NULLABLE_URL,
            "reason": string_schema(NOTE_LENGTH, description="Needed (from a reviewer) outside the transition "
                                                             "table."),
            "gazetted_on": DAY | {"description": "The day the text was published in the Official Gazette."},
            "consultation": comment_window_schema(closed=True) | {
                "description": "The comment period, for a step into consultation."},
            "version": VERSION}, ("status",)),
        "StatusStepPatch": closed_object({
            "gazetted_on": DAY | {"description": "The day the text was published in the Official Gazette."},
            "consultation": comment_window_schema(closed=True) | {
                "description": "The comment period (a step into consultation only); null removes it."},
            "version": VERSION}),
        "EventInput": closed_object(event | {
            "key": KEY | {"description": KEY_TEXT + " Made from the name when absent."}},
            ("kind",)),
        "EventPatch": closed_object(event | {"version": VERSION, "base_version": BASE_VERSION}),
        "EditorialInput": closed_object({"state": choice_schema(list(EDITORIAL_STATES)), "version": VERSION,
                                         "reason": string_schema(NOTE_LENGTH)}, ("state",)),
        "KeyInput": closed_object({
            "key": KEY | {"description": KEY_TEXT + " The new key; the old one keeps leading to the record."},
            "version": VERSION}, ("key",)),
    }


def record_schemas(countries: list[str]) -> dict[str, dict[str, Any]]:
    """A record of each kind in the dataset format (what the loader reads and the editing services check):
    the fields an editor sets and, for a policy, its status history. The record's own key is checked by the reader
    (check_key); keys of other records are checked for their form here and for their existence by the reader.
    Fields not declared are let through."""
    editorial_state = choice_schema(list(EDITORIAL_STATES), nullable=True)
    return {
        "policy": open_object(policy_fields(countries, None, closed=False) | {
            "status": choice_schema(list(LEGAL_STATUSES), nullable=True),
            "status_history": {"type": "array", "items": open_object(status_step_fields(), ("status",))},
            "editorial_state": editorial_state}, ("country", "instrument")),
        "event": open_object(event_fields(countries, None, closed=False) | {"editorial_state": editorial_state},
                             ("kind",)),
        "organisation": open_object(organisation_fields(), ("kind",)),
        "topic": open_object({"name_en": string_schema(TOPIC_NAME_LENGTH, nullable=False),
                              "name_lo": string_schema(TOPIC_NAME_LENGTH)}, ("name_en",)),
    }
