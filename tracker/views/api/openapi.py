"""The OpenAPI 3.1 description of /api/v1, written as data and kept true by a schemathesis test."""
from __future__ import annotations

from typing import Any

from tracker.i18n import N_
from tracker.models.record_format import choice_schema as _choice
from tracker.models.record_format import closed_object as _closed
from tracker.models.record_format import input_schemas as record_input_schemas
from tracker.models.record_format import list_schema as _list
from tracker.models.record_format import string_schema as _string
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
from tracker.search.request import MAX_QUERY_LENGTH, TYPES
from tracker.search.request import SORTS as SEARCH_SORTS
from tracker.services.calendar import KINDS as CALENDAR_KINDS
from tracker.services.changes import DEFAULT_LIMIT, MAX_LIMIT
from tracker.services.policies import EVENT_EXPANSIONS, POLICY_EXPANSIONS, SORTS

PARTIAL_DATE = {"type": "string", "pattern": r"^\d{4}(-\d{2}(-\d{2})?)?$",
                "description": "A date known to the year, month or day: 2023, 2023-07 or 2023-07-14."}

IF_MATCH_PATTERN = r'^"[1-9][0-9]{0,8}"$'
# Facets of GET /search, each counting the results per value.
SEARCH_FACETS = {
    "country": "Country code.", "status": "Legal status.", "instrument": "Kind of instrument.",
    "topic": "Topic key.", "vehicle_class": "Vehicle class.",
    "year": "Year of adoption (of the start, for events).",
    "event": "Key of a forum or event the record is linked to.",
}


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


def _error_response(description: str, *, example: dict[str, Any] | None = None) -> dict[str, Any]:
    media: dict[str, Any] = {"schema": _ref("Error")}
    if example is not None:
        media["example"] = example
    return {"description": description, "content": {"application/json": media}}


# Answers as the API gives them (tests check them against the schema and the API).
BAD_FILTER_EXAMPLE = {"error": {
    "status": 400, "title": "The request could not be understood", "message": "Some filters are not valid",
    "errors": {"country": "Unknown country 'XX'. Accepted values: LA, BN, KH, ID, MY, MM, PH, SG, TH, TL, VN, "
                          "ASEAN, INTL"}}}
UNAUTHORIZED_EXAMPLE = {"error": {
    "status": 401, "title": "Sign-in needed", "message": "This needs an API token: 'Authorization: Bearer <token>'."}}


def _ok(schema_name: str, description: str, *, example: Any = None) -> dict[str, Any]:
    media: dict[str, Any] = {"schema": _ref(schema_name)}
    if example is not None:
        media["example"] = example
    return {"description": description, "content": {"application/json": media}}


def _moved() -> dict[str, Any]:
    """The answer to a key a policy or event had before its key changed: its current address."""
    return {"description": "The record's key has changed since: `Location` is the same request at its current "
                           "key (a chain of changes is followed in one step). Only for records the reader may "
                           "see, and only while no other record holds the old key.",
            "headers": {"Location": {"required": True, "description": "The URL at the record's current key.",
                                     "schema": {"type": "string", "format": "uri-reference"}}}}


def _change_key(operation_id: str, summary: str, noun: str, schema: str, key: dict[str, Any]) -> dict[str, Any]:
    operation = _write(operation_id, summary, "KeyInput", "200", schema, f"The {noun} at its new key.", key=key,
                       version="required", example={"key": f"{key['example']}-renamed", "version": 1})
    operation["description"] = (f"The old key answers every `GET` of the {noun} (and of its parts) with a 301 "
                                "to the new key, for as long as no other record takes it.")
    operation["responses"]["200"]["headers"] = {"Location": {
        "required": True, "description": f"The {noun}'s URL at its new key.",
        "schema": {"type": "string", "format": "uri"}}}
    return operation


def _schemas(countries: list[str], topics: list[str]) -> dict[str, Any]:
    policy_ref = _object({
        "key": TEXT, "title_en": NULLABLE_TEXT, "title_lo": NULLABLE_TEXT, "country": TEXT,
        "legal_status": {"enum": list(LEGAL_STATUSES)}, "url": URL, "html_url": URL})
    event_ref = _object({
        "key": TEXT, "name_en": NULLABLE_TEXT, "name_lo": NULLABLE_TEXT, "kind": {"enum": list(EVENT_KINDS)},
        "starts_on": _nullable(PARTIAL_DATE), "url": URL, "html_url": URL})
    organisation = _object({
        "key": TEXT, "name_en": NULLABLE_TEXT, "name_lo": NULLABLE_TEXT, "acronym": NULLABLE_TEXT,
        "country": NULLABLE_TEXT, "kind": {"enum": list(ORGANISATION_KINDS)}})
    source = _object({"url": TEXT, "title": NULLABLE_TEXT, "published": _nullable(PARTIAL_DATE),
                      "kind": _nullable({"enum": list(SOURCE_KINDS)})})
    policy_summary_properties = {
        "key": TEXT, "url": URL, "html_url": URL, "country": TEXT, "country_name": TEXT,
        "instrument": {"enum": list(INSTRUMENTS)}, "title_en": NULLABLE_TEXT, "title_lo": NULLABLE_TEXT,
        "title_local": NULLABLE_TEXT, "reference": NULLABLE_TEXT, "legal_status": {"enum": list(LEGAL_STATUSES)},
        "status_changed_on": _nullable(PARTIAL_DATE),
        "status_since": _nullable(PARTIAL_DATE) | {"description": "When the current status began."},
        "adopted_on": _nullable(PARTIAL_DATE),
        "year": {"type": ["integer", "null"]}, "valid_from": _nullable(PARTIAL_DATE),
        "valid_to": _nullable(PARTIAL_DATE), "topics": {"type": "array", "items": TEXT},
        "editorial_state": {"enum": list(EDITORIAL_STATES)},
    }
    day = {"type": "string", "format": "date"}
    status_change = _object({
        "position": {"type": "integer", "description": "The step's place in the timeline (1 first); "
                                                       "`PATCH /policies/{key}/status/{position}` edits it."},
        "from_status": _nullable({"enum": list(LEGAL_STATUSES)}), "status": {"enum": list(LEGAL_STATUSES)},
        "effective_on": _nullable(PARTIAL_DATE), "note": NULLABLE_TEXT, "note_lo": NULLABLE_TEXT,
        "evidence_url": NULLABLE_TEXT,
        "recorded_at": {"type": "string", "format": "date-time"},
        "gazetted_on": _nullable(day) | {"description": "The day the text was published in the Official "
                                                         "Gazette."},
        "consultation": _nullable(_object({
            "opens_on": _nullable(day), "closes_on": _nullable(day), "how_to_comment_en": NULLABLE_TEXT,
            "how_to_comment_lo": NULLABLE_TEXT, "comment_address": NULLABLE_TEXT, "draft_url": NULLABLE_TEXT,
            "draft_document": {"type": ["integer", "null"]}})) | {
                "description": "The comment period of a step into consultation."}})
    calendar_item = _object({
        "kind": {"enum": list(CALENDAR_KINDS)}, "record_type": {"enum": ["policy", "event"]}, "key": TEXT,
        "fact": TEXT | {"description": "Which fact of the record: `expiry`, `valid-from`, `in-force-<position>`, "
                                       "`comment-<position>` or `event`."},
        "date": PARTIAL_DATE | {"description": "As precise as it is known: a day, or a month."},
        "ends": _nullable(PARTIAL_DATE), "first_day": day, "last_day": day,
        "title_en": NULLABLE_TEXT, "title_lo": NULLABLE_TEXT, "country": NULLABLE_TEXT,
        "topics": {"type": "array", "items": TEXT}, "summary": TEXT, "url": TEXT,
        "sequence": {"type": "integer", "minimum": 0,
                     "description": "Rises whenever the record changes (the iCalendar SEQUENCE)."},
        "details": {"type": "object", "additionalProperties": NULLABLE_TEXT}})
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
                       "description": "Message per offending parameter or field, e.g. `sources[1].url`."},
            "current_version": {"type": "integer",
                                "description": "On a 409: the version the record is at now."},
            "changes": {"type": "array", "items": _ref("Change"),
                        "description": "On a 409: what others changed since the version you sent (empty "
                                       "when two edits were saved at the same instant)."},
            "conflicts": {"type": "array", "items": _ref("FieldConflict"),
                          "description": "On a 409 to an edit sent with `base_version`: the fields you and "
                                         "someone else both changed, differently, since that version."}},
            required=["status", "title", "message"])}) | {"examples": [BAD_FILTER_EXAMPLE, UNAUTHORIZED_EXAMPLE]},
        "Change": _object({
            "field": NULLABLE_TEXT, "old": {"description": "The value before, as in the dataset format."},
            "new": {"description": "The value after."}, "by": TEXT,
            "at": {"type": "string", "format": "date-time"}, "version": {"type": ["integer", "null"]},
            "action": TEXT}),
        "FieldConflict": _object({
            "field": TEXT, "base": {"description": "The value at `base_version`."},
            "yours": {"description": "The value you sent."},
            "current": {"description": "The value saved now."}}),
        "PolicyRef": policy_ref,
        "EventRef": event_ref,
        "Organisation": organisation,
        "Source": source,
        "StatusChange": status_change,
        "Target": _object({
            "metric": {"enum": list(TARGET_METRICS)}, "value": {"type": "number", "minimum": 0},
            "unit": {"enum": list(TARGET_UNITS)}, "year": {"type": "integer"},
            "vehicle_class": {"enum": list(VEHICLE_CLASSES)}, "scope_en": NULLABLE_TEXT, "scope_lo": NULLABLE_TEXT,
            "headline": {"type": "boolean"}, "source_url": NULLABLE_TEXT}),
        "CalendarItem": calendar_item,
        "Calendar": _object({"from": day, "to": _nullable(day),
                             "items": {"type": "array", "items": _ref("CalendarItem")}}),
        "Relation": relation,
        "PolicySummary": _object(policy_summary_properties | {
            "status_as_of": {"enum": list(LEGAL_STATUSES), "description": (
                "With `as_of`: the legal status on that day (`unknown` for a record valid by then whose "
                "timeline shows no step certain by then)."), "example": "adopted"},
            "summary_en": NULLABLE_TEXT | {"description": "With `expand=summary`."},
            "summary_lo": NULLABLE_TEXT | {"description": "With `expand=summary`."},
            "status_history": {"type": "array", "items": _ref("StatusChange"),
                               "description": "With `expand=status_history`: as `GET /policies/{key}` gives it."},
            "sources": {"type": "array", "items": _ref("Source"), "description": "With `expand=sources`."},
        }, required=list(policy_summary_properties)),
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
                "role": {"enum": list(FORUM_ROLES)}, "evidence": NULLABLE_TEXT, "evidence_lo": NULLABLE_TEXT,
                "source_url": NULLABLE_TEXT,
                "event": _ref("EventRef")})},
            "sources": {"type": "array", "items": _ref("Source")},
            "targets": {"type": "array", "items": _ref("Target"),
                        "description": "The targets the policy states, in its order; one may be the headline."},
            "version": {"type": "integer"},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
        }),
        "PolicyPage": _page("PolicySummary") | {"properties": _page("PolicySummary")["properties"] | {
            "as_of": {"type": "string", "format": "date",
                      "description": "With `as_of`: the day the statuses are those of."}}},
        "EventSummary": _object(event_summary_properties | {
            "summary_en": NULLABLE_TEXT | {"description": "With `expand=summary`."},
            "summary_lo": NULLABLE_TEXT | {"description": "With `expand=summary`."},
            "sources": {"type": "array", "items": _ref("Source"), "description": "With `expand=sources`."},
        }, required=list(event_summary_properties)),
        "Event": _object(event_summary_properties | {
            "organisers": organisations, "funders": organisations, "partners": organisations,
            "date_note": NULLABLE_TEXT, "summary_en": NULLABLE_TEXT, "summary_lo": NULLABLE_TEXT,
            "sources": {"type": "array", "items": _ref("Source")},
            "policies": {"type": "array", "items": _object({
                "role": {"enum": list(FORUM_ROLES)}, "evidence": NULLABLE_TEXT, "evidence_lo": NULLABLE_TEXT,
                "source_url": NULLABLE_TEXT,
                "policy": _ref("PolicyRef")})},
            "version": {"type": "integer"},
        }),
        "EventPage": _page("EventSummary"),
        "Jurisdiction": _object({
            "code": TEXT, "name_en": TEXT, "name_lo": NULLABLE_TEXT,
            "kind": {"enum": ["member", "regional", "international"]},
            "asean_member_since": _nullable({"type": "string", "format": "date"}),
            "policy_count": {"type": "integer", "minimum": 0}, "event_count": {"type": "integer", "minimum": 0},
            "html_url": URL}),
        "JurisdictionList": _object({"items": {"type": "array", "items": _ref("Jurisdiction")}}),
        "SearchHit": _object({
            "key": TEXT, "type": {"enum": list(TYPES)},
            "title_en": {"type": "string",
                         "description": "The English title of a policy, or name of an event."},
            "title_lo": NULLABLE_TEXT, "country": NULLABLE_TEXT,
            "status": _nullable({"enum": list(LEGAL_STATUSES)}) | {
                "description": "The legal status of a policy; null for an event."},
            "score": {"type": "number", "description": "Relevance; comparable within one search only."},
            "highlights": {"type": "object", "additionalProperties": TEXT,
                           "description": "Field -> HTML excerpt: the text escaped, the matched words in "
                                          "`<mark>`. Safe to insert into a page as HTML."},
            "url": URL, "html_url": URL,
            "matched_in": {"enum": ["record", "text", "both"], "description": (
                "Where a policy matched: its record, the text of its attached documents only, or both.")},
            "passages": {"type": "array", "description": "Up to three matching passages of the policy's texts.",
                         "items": _object({"document_id": {"type": "integer"}, "page": {"type": "integer"},
                                           "heading": NULLABLE_TEXT, "language": TEXT,
                                           "highlight": {"type": "string", "description": (
                                               "HTML: the passage's fragment, escaped, matches in `<mark>`.")}})}}),
        "SearchResults": _object({
            "total": {"type": "integer", "minimum": 0}, "page": {"type": "integer", "minimum": 1},
            "pages": {"type": "integer", "minimum": 1},
            "hits": {"type": "array", "items": _ref("SearchHit")},
            "facets": {"type": "object", "properties": {
                name: {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0},
                       "description": description} for name, description in SEARCH_FACETS.items()},
                "additionalProperties": False,
                "description": "For each facet, the number of results per value (this query and filters)."},
            "suggestion": NULLABLE_TEXT | {
                "description": "With `verbatim`, when nothing was found: the query with its unknown words "
                               "spelled as the records the reader may see spell them."},
            "corrected": NULLABLE_TEXT | {
                "description": "The query searched instead of `q` when some of its words are found in no "
                               "record the reader may see (\"Showing results for …\"); null when `q` was "
                               "searched as typed. Repeat the search with `verbatim=1` to search `q` itself."},
            "corrections": {"type": "array", "description": "Each corrected word: as typed, as searched.",
                            "items": _object({"typed": TEXT, "searched": TEXT})},
            "notice": NULLABLE_TEXT | {
                "description": "Why nothing was searched for, when the query has no searchable word."}}),
        "Topic": _object({"key": TEXT, "name_en": TEXT, "name_lo": NULLABLE_TEXT,
                          "policy_count": {"type": "integer", "minimum": 0}}),
        "TopicList": _object({"items": {"type": "array", "items": _ref("Topic")}}),
    } | record_input_schemas(countries, topics) | _notify_schemas() | _document_schemas() | _import_schemas() \
        | _changes_schemas() | _release_schemas() | _matrix_schemas()


def _page(item: str) -> dict[str, Any]:
    return _object({"items": {"type": "array", "items": _ref(item)},
                    "total": {"type": "integer", "minimum": 0}, "page": {"type": "integer", "minimum": 1},
                    "per_page": {"type": "integer", "minimum": 1}, "pages": {"type": "integer", "minimum": 1}})


def input_schemas(countries: list[str], topics: list[str]) -> dict[str, Any]:
    """The components the write bodies are checked against (every schema, so references resolve)."""
    return _schemas(countries, topics)


def _search_params(countries: list[str], policy_filters: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The parameters of GET /search: the query, the filters of the policy list, events and types."""
    by_name = {parameter["name"]: parameter for parameter in policy_filters}
    # Countries, topics and events are checked for their form only: an unknown one finds nothing.
    code = {"type": "string", "pattern": "^[A-Za-z]{1,120}$"}
    key = {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,120}$"}
    return [
        {"name": "q", "in": "query", "required": False,
         "description": "Words in English or Lao: all of one or two words must match, then three quarters "
                        "of them, records matching more ranking first; synonyms, acronyms and the other "
                        "language's terms of the search vocabulary also match, ranked below the words "
                        "typed; unknown words are corrected (see `verbatim`). `\"phrases\"`, `AND`, `OR`, "
                        "`NOT`, `+word` (required), `-word` (excluded), parentheses, a prefix (`charg*`) "
                        "and fields (`country:LA status:in_force instrument:standard "
                        "topic:charging_infrastructure year:2023`) keep their strict meaning. Empty or "
                        "absent: every record that passes the filters. A query with nothing to search for "
                        "(only punctuation or very common words) finds nothing and says why in `notice`; "
                        "one that cannot be read, or names a field that cannot be searched, gives a 400 "
                        "naming `q`.",
         "schema": {"type": "string", "maxLength": MAX_QUERY_LENGTH, "pattern": "^[^\\u0000]*$"},
         "example": "charging"},
        _array_param("country", None, f"Country code ({', '.join(countries)}); repeat for several.", code),
        by_name["status"], by_name["instrument"],
        _array_param("topic", None, "Topic key; repeat for several.", key),
        by_name["vehicle_class"], by_name["year"],
        _array_param("event", None, "Key of a forum or event: the policies linked to it; repeat for several.",
                     key),
        _array_param("type", list(TYPES), "`policy` or `event`; both when absent."),
        {"name": "sort", "in": "query", "required": False,
         "description": "Order of the results; without words to rank by, relevance means latest change.",
         "schema": {"type": "string", "enum": list(SEARCH_SORTS), "default": "relevance"}},
        {"name": "verbatim", "in": "query", "required": False,
         "description": "`1` (or `true`): search the words as typed. By default a word found in no record "
                        "the reader may see is replaced by the closest word that is (`corrected`).",
         "schema": {"type": "string", "enum": ["0", "1", "true", "false", "yes", "no", "on", "off"]}},
    ]


# Statuses as of a day (tracker.services.as_of): the pattern states the form; an impossible day (2023-02-30) or
# a day after today is a 400 naming as_of.
AS_OF_PARAM = {
    "name": "as_of", "in": "query", "required": False,
    "description": ("Statuses on that day instead of today: `YYYY`, `YYYY-MM` or `YYYY-MM-DD`, a year or month "
                    "meaning its last day (or today, while it is not over); not after today. A step counts once "
                    "the whole period its date names has ended; records that did not exist yet are left out, "
                    "and `status` filters on the status of that day."),
    "schema": {"type": "string", "pattern": "^[1-9][0-9]{3}(-(0[1-9]|1[0-2])(-(0[1-9]|[12][0-9]|3[01]))?)?$"}}

KEY_PARAM = {"in": "path", "required": True, "schema": {"type": "string", "minLength": 1, "maxLength": 200}}
# The key parameters with a real record of the bundled dataset as their example (the reference page's curl
# commands use it).
POLICY_KEY = {"name": "key", **KEY_PARAM, "example": "la-gov-resolution-08-2021-ev-policy"}
EVENT_KEY = {"name": "key", **KEY_PARAM, "example": "lao-ev-forum-2023"}
STEP_POSITION = {"name": "position", "in": "path", "required": True, "example": 2,
                 "description": "The step's `position` in `status_history` (1 first).",
                 "schema": {"type": "integer", "minimum": 1, "maximum": 1000000}}


def _with_position(operation: dict[str, Any]) -> dict[str, Any]:
    operation["parameters"].insert(1, STEP_POSITION)
    return operation

# Groups of operations, in the order the reference page (/api) shows them. Names, descriptions and the
# operations' summaries are marked N_: the page translates them; the JSON keeps the English.
TAGS = [
    {"name": N_("Policies"),
     "description": N_("Laws, decrees, standards and other instruments, with their legal status over time.")},
    {"name": N_("Events"),
     "description": N_("Forums, workshops, summits and meetings, and the policies linked to them.")},
    {"name": N_("Search"), "description": N_("Full-text search of the records and of the texts attached to them.")},
    {"name": N_("Documents"),
     "description": N_("The texts attached to policies: their files, extracted text and versions compared.")},
    {"name": N_("Reference lists"), "description": N_("Countries, topics and this description of the API.")},
    {"name": N_("Changes feed"),
     "description": N_("What changed in the published records, in commit order, for systems that keep a copy.")},
    {"name": N_("Subscriptions"),
     "description": N_("Following changes by email or webhook; any account, its own subscriptions only.")},
    {"name": N_("Webhooks"),
     "description": N_("Your webhook endpoints, their signing secrets and what was sent to them.")},
    {"name": N_("Imports"),
     "description": N_("Spreadsheets, CSV and dataset files turned into records: a dry run first, then applied.")},
    {"name": N_("Open data"),
     "description": N_("Releases of the whole published dataset: a data package of CSV tables, a workbook, JSON.")},
]


def _tagged(tag: str, paths: dict[str, Any]) -> dict[str, Any]:
    """``paths`` with every operation in the group ``tag``."""
    for item in paths.values():
        for operation in item.values():
            operation["tags"] = [tag]
    return paths


# Read answers served through the page cache carry validators: a client that sends the ETag back gets a
# 304 without a body while nothing it could see has changed.
VALIDATORS = {
    "ETag": {"required": True, "schema": {"type": "string"},
             "description": "Send it back as `If-None-Match` to be answered 304 while nothing changed."},
    "Last-Modified": {"required": True, "schema": {"type": "string"},
                      "description": "When the data last changed."},
}
NOT_MODIFIED = {"description": "Not modified: the `If-None-Match` sent is the current ETag (no body)."}


def _conditional(operation: dict[str, Any]) -> dict[str, Any]:
    """``operation`` answered through the page cache: validators on its 200, a 304 for a matching ETag."""
    operation["responses"]["200"]["headers"] = VALIDATORS
    operation["responses"] = dict(sorted((operation["responses"] | {"304": NOT_MODIFIED}).items()))
    return operation


# Security requirements: each maps a security scheme to the scopes it needs.
OPTIONAL_AUTH: list[dict[str, list[str]]] = [{}, {"bearerAuth": []}]
REQUIRED_AUTH: list[dict[str, list[str]]] = [{"bearerAuth": []}]
IF_MATCH_PARAM = {
    "name": "If-Match", "in": "header", "required": False,
    "description": 'The version you read, as an entity tag: `"7"`. May replace `version` in the body; '
                   "when both are sent they must agree.",
    "schema": {"type": "string", "pattern": IF_MATCH_PATTERN}}


def _unauthorized() -> dict[str, Any]:
    return _error_response("No token was sent, or it is unknown, revoked or its account disabled.") | {
        "headers": {"WWW-Authenticate": {"required": True, "description": "`Bearer realm=\"tracker\"`.",
                                         "schema": {"type": "string"}}}}


def _write(operation_id: str, summary: str, body: str, ok_status: str, ok_schema: str, ok_text: str, *,
           key: dict[str, Any] | None, version: str | None, example: dict[str, Any],
           created: bool = False) -> dict[str, Any]:
    """A write operation: bearer token, a JSON body checked against ``body``, every answer documented.

    ``key``: the path parameter naming the record, if any. ``version``: "required" (428 without one),
    "mergeable" (required, or ``base_version`` to merge), "optional", or None (the operation takes none).
    ``example``: a body the reference page shows in its curl command.
    """
    ok = _ok(ok_schema, ok_text)
    if created:
        ok["headers"] = {"Location": {"required": True, "description": "URL of the new record in this API.",
                                      "schema": {"type": "string", "format": "uri"}}}
    responses = {
        ok_status: ok,
        "400": _error_response("The body is not a JSON object, has unknown fields, or breaks a rule; "
                               "`error.errors` names each field (e.g. `sources[1].url`) with its problem."),
        "401": _unauthorized(),
        "403": _error_response("The token's role may not do this (partners never write; editors edit drafts "
                               "and records in review, reviewers publish and edit published records)."),
        "413": _error_response("The body is larger than 2 MiB."),
        "415": _error_response("The body is not sent as `Content-Type: application/json` (UTF-8)."),
    }
    parameters = []
    if key is not None:
        parameters.append(key)
        responses["404"] = _error_response("No record has this key.")
    if version is not None:
        parameters.append(IF_MATCH_PARAM)
        responses["409"] = _error_response("The record changed since the version you sent: "
                                           "`error.current_version` and `error.changes` say how.")
    if version == "mergeable":
        responses["409"] = _error_response(
            "The record changed since the `version` you sent (`error.current_version` and `error.changes` "
            "say how); or, with `base_version`, someone else changed some of the same fields differently "
            "(`error.conflicts` names them with the three values). Nothing was saved.")
        responses["428"] = _error_response("No version was sent: `version` or `base_version` in the body, "
                                           "or `If-Match`.")
    if version == "required":
        responses["428"] = _error_response("No version was sent, in the body (`version`) or as `If-Match`.")
    operation: dict[str, Any] = {
        "operationId": operation_id, "summary": summary, "security": REQUIRED_AUTH,
        "requestBody": {"required": True, "content": {"application/json": {"schema": _ref(body),
                                                                            "example": example}}},
        "responses": dict(sorted(responses.items())),
    }
    if parameters:
        operation["parameters"] = parameters
    return operation


def openapi_document(countries: list[str], topics: list[str]) -> dict[str, Any]:
    """The document, with the country codes and topic keys the database holds now."""
    bad_request = _error_response("A parameter is not valid; `error.errors` names each one.",
                                  example=BAD_FILTER_EXAMPLE)
    not_found = _error_response("No such record, or the page is past the last one.")
    unauthorized = _unauthorized()
    policy_filters = [
        _array_param("country", countries, "ISO 3166-1 code, ASEAN or INTL; repeat for several.") | {
            "example": ["LA"]},
        _array_param("status", list(LEGAL_STATUSES), "Current legal status; repeat for several."),
        _array_param("instrument", list(INSTRUMENTS), "Kind of instrument; repeat for several."),
        _array_param("topic", topics, "Topic key; repeat for several."),
        _array_param("vehicle_class", list(VEHICLE_CLASSES), "Vehicle class; repeat for several."),
        _array_param("year", None, "Year of adoption (else of the first dated status step).",
                     {"type": "integer", "minimum": 1000, "maximum": 9999}),
        {"name": "sort", "in": "query", "required": False, "description": "Order of the results.",
         "schema": {"type": "string", "enum": list(SORTS), "default": "latest"}},
        AS_OF_PARAM,
    ]
    def expand(accepted: tuple[str, ...]) -> dict[str, Any]:
        word = f"({'|'.join(accepted)})"
        return {"name": "expand", "in": "query", "required": False, "style": "form", "explode": False,
                "description": f"What to embed in each item, comma-separated: {', '.join(accepted)}; as the "
                               "record's own endpoint gives them, at no extra request per record.",
                "schema": {"type": "string", "pattern": f"^{word}(,{word})*$"},
                "example": ",".join(accepted)}

    policy_paths = {
        "/policies": {
            "get": _conditional({
                "operationId": "listPolicies",
                "summary": N_("Policies matching the filters, one page at a time."),
                "security": OPTIONAL_AUTH,
                "parameters": policy_filters + PAGE_PARAMS + [expand(POLICY_EXPANSIONS)],
                "responses": {"200": _ok("PolicyPage", "A page of policies."), "400": bad_request,
                              "401": unauthorized, "404": not_found}}),
            "post": _write("createPolicy", N_("Create a draft policy."), "PolicyInput", "201", "Policy",
                           "The new policy, as `GET /policies/{key}` returns it.", key=None,
                           version=None, created=True, example={
                               "country": "LA", "instrument": "decree",
                               "title_en": "Decree on charging stations for electric vehicles",
                               "title_lo": "ດຳລັດວ່າດ້ວຍສະຖານີສາກໄຟຟ້າ", "issuer": "la-mem",
                               "topics": ["charging_infrastructure"], "status": "drafting",
                               "status_effective_on": "2026-03",
                               "sources": [{"url": "https://example.org/draft-decree",
                                            "title": "Draft sent for consultation"}]})},
        "/policies/{key}": {
            "get": _conditional({
                "operationId": "getPolicy", "summary": N_("The full record of one policy."),
                "security": OPTIONAL_AUTH, "parameters": [POLICY_KEY],
                "responses": {"200": _ok("Policy", "The policy with its history, relations and sources."),
                              "301": _moved(), "401": unauthorized, "404": not_found}}),
            "patch": _write("updatePolicy",
                            N_("Change some fields of a policy; absent fields keep their value."),
                            "PolicyPatch", "200", "Policy", "The policy after the change.", key=POLICY_KEY,
                            version="mergeable", example={"version": 2, "valid_from": "2021-10-04"})},
        "/policies/{key}/status": {"post": _write(
            "recordStatusChange", N_("Record a dated change of the policy's legal status."),
            "StatusChangeInput", "201", "Policy",
            "The policy with the new step in `status_history` and its `legal_status`.", key=POLICY_KEY,
            version="optional", example={"status": "in_force", "effective_on": "2022-01",
                                         "note": "Implementing rules issued.",
                                         "evidence_url": "https://example.org/gazette"})},
        "/policies/{key}/status/{position}": {"patch": _with_position(_write(
            "updateStatusStep", N_("Set the gazette day or the comment period of a step of the timeline."),
            "StatusStepPatch", "200", "Policy",
            "The policy with the step changed in `status_history`. Moving the closing day of a published "
            "policy's comment period notifies its followers (extended or shortened).", key=POLICY_KEY,
            version="required", example={"version": 3, "consultation": {
                "opens_on": "2026-06-01", "closes_on": "2026-07-31",
                "comment_address": "comments@example.gov.la"}}))},
        "/policies/{key}/editorial": {"post": _write(
            "setPolicyEditorialState", N_("Submit, publish, unpublish or archive a policy."),
            "EditorialInput", "200", "Policy", "The policy in its new editorial state.", key=POLICY_KEY,
            version="required", example={"state": "in_review", "version": 1})},
        "/policies/{key}/key": {"post": _change_key(
            "changePolicyKey", N_("Give the policy a new key; the old one keeps leading to it."), "policy", "Policy",
            POLICY_KEY)},
    }
    event_paths = {
        "/events": {
            "get": _conditional({
                "operationId": "listEvents",
                "summary": N_("Forums, workshops, summits and meetings, newest first."),
                "security": OPTIONAL_AUTH,
                "parameters": [_array_param("country", countries, "Country code; repeat for several.")]
                + PAGE_PARAMS + [expand(EVENT_EXPANSIONS)],
                "responses": {"200": _ok("EventPage", "A page of events."), "400": bad_request,
                              "401": unauthorized, "404": not_found}}),
            "post": _write("createEvent", N_("Create a draft event."), "EventInput", "201", "Event",
                           "The new event, as `GET /events/{key}` returns it.", key=None, version=None,
                           created=True, example={
                               "kind": "forum", "name_en": "3rd Lao EV Forum",
                               "name_lo": "ກອງປະຊຸມລົດໄຟຟ້າລາວ ຄັ້ງທີ 3", "country": "LA",
                               "starts_on": "2026-11", "organisers": ["la-mem"]})},
        "/events/{key}": {
            "get": _conditional({
                "operationId": "getEvent", "summary": N_("One event with the policies linked to it."),
                "security": OPTIONAL_AUTH, "parameters": [EVENT_KEY],
                "responses": {"200": _ok("Event", "The event."), "301": _moved(), "401": unauthorized,
                              "404": not_found}}),
            "patch": _write("updateEvent",
                            N_("Change some fields of an event; absent fields keep their value."),
                            "EventPatch", "200", "Event", "The event after the change.", key=EVENT_KEY,
                            version="mergeable", example={"version": 1, "venue": "Vientiane"})},
        "/events/{key}/editorial": {"post": _write(
            "setEventEditorialState", N_("Submit, publish, unpublish or archive an event."), "EditorialInput",
            "200", "Event", "The event in its new editorial state.", key=EVENT_KEY, version="required",
            example={"state": "in_review", "version": 1})},
        "/events/{key}/key": {"post": _change_key(
            "changeEventKey", N_("Give the event a new key; the old one keeps leading to it."), "event", "Event",
            EVENT_KEY)},
    }
    search_paths = {
        "/search": {"get": {
            "operationId": "search",
            "summary": N_("Full-text search of policies and events, in English and Lao."),
            "description": ("Policies and events matching `q` and the filters, best match first (or "
                            "as `sort` says), with the number of results per facet value. Published "
                            "records only, unless the token is a staff member's."),
            "security": OPTIONAL_AUTH,
            "parameters": _search_params(countries, policy_filters) + PAGE_PARAMS,
            "responses": {
                "200": _ok("SearchResults", "One page of results with facet counts."),
                "400": bad_request, "401": unauthorized, "404": not_found,
                "503": _error_response("The search index is missing, or being rebuilt after a change of "
                                       "its format; try again in a few minutes.")}}},
    }
    reference_paths = {
        "/jurisdictions": {"get": _conditional({
            "operationId": "listJurisdictions", "summary": N_("The ASEAN members and regional pseudo-codes."),
            "security": OPTIONAL_AUTH,
            "responses": {"200": _ok("JurisdictionList", "Every jurisdiction, Lao PDR first."),
                          "401": unauthorized}})},
        "/calendar": {"get": _conditional({
            "operationId": "getCalendar",
            "summary": N_("Comment deadlines, entries into force, expiries and events, by date."),
            "description": ("Dated facts of published records from `from` (default: today in Vientiane) to "
                            "`to`, first day first. A date known to the month only is given with its month; "
                            "one known to the year only is left out. The same facts as the `/calendar` page "
                            "and its iCalendar feed `/calendar.ics`."),
            "security": OPTIONAL_AUTH,
            "parameters": [
                {"name": "from", "in": "query", "required": False, "description": "First day (YYYY-MM-DD).",
                 "schema": {"type": "string", "format": "date"}},
                {"name": "to", "in": "query", "required": False,
                 "description": "Last day (YYYY-MM-DD); a day more than 30 years after `from` is "
                                "read as 30 years after it.",
                 "schema": {"type": "string", "format": "date"}},
                _array_param("country", countries, "Country code; repeat for several."),
                _array_param("topic", topics, "Topic key; repeat for several."),
                _array_param("kind", list(CALENDAR_KINDS), "Kind of fact; repeat for several.")],
            "responses": {"200": _ok("Calendar", "The facts, first day first."), "400": bad_request,
                          "401": unauthorized}})},
        "/topics": {"get": _conditional({
            "operationId": "listTopics", "summary": N_("Policy topics with their number of policies."),
            "security": OPTIONAL_AUTH,
            "responses": {"200": _ok("TopicList", "Every topic.", example={"items": [
                {"key": "charging_infrastructure", "name_en": "Charging infrastructure",
                 "name_lo": "ພື້ນຖານໂຄງລ່າງການສາກໄຟ", "policy_count": 27},
                {"key": "fiscal_incentives", "name_en": "Fiscal incentives",
                 "name_lo": "ມາດຕະການຈູງໃຈດ້ານພາສີອາກອນ", "policy_count": 29}]}),
                "401": unauthorized}})},
        "/openapi.json": {"get": _conditional({
            "operationId": "getOpenAPI", "summary": N_("The OpenAPI description of the API: this document."),
            "security": OPTIONAL_AUTH,
            "responses": {"200": {"description": "The OpenAPI 3.1 document.",
                                  "content": {"application/json": {"schema": {"type": "object"}}}},
                          "401": unauthorized}})},
    }
    notify_paths = _notify_paths()
    document_paths = _document_paths()
    passage_search = {"/search/passages": document_paths.pop("/search/passages")}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "EV policy tracker API",
            "version": "1.0.0",
            "description": ("Electric-vehicle policies, laws and standards of Lao PDR and the ASEAN members, "
                            "with their legal status over time and the forums they came from. Dates of legal "
                            "acts are partial ISO dates given to the precision the sources give.\n\n"
                            "Reading is public; a bearer token of an editor or above also shows drafts and "
                            "records in review. Writing needs a token: editors create records and edit "
                            "drafts and records in review, reviewers also publish and edit published "
                            "records, partner tokens only read. Write bodies are JSON objects in the format "
                            "of the dataset dump; every edit carries the `version` it was based on (or sends "
                            "it as `If-Match`), and an edit based on an older version is refused with a 409 "
                            "that says what changed meanwhile. A `PATCH` may send `base_version` instead: "
                            "only the fields it sends are applied, on top of whatever others saved since, "
                            "unless someone changed one of those fields too (a 409 then lists them)."),
        },
        "externalDocs": {"description": "This description as a page for people, in English and Lao.",
                         "url": "/api"},
        "servers": [{"url": "/api/v1"}],
        "tags": TAGS,
        "paths": _tagged("Policies", policy_paths) | _tagged("Events", event_paths)
        | _tagged("Search", search_paths | passage_search) | _tagged("Documents", document_paths)
        | _tagged("Reference lists", reference_paths) | _tagged("Changes feed", _changes_paths())
        | _tagged("Imports", _import_paths()) | _tagged("Open data", _release_paths())
        | _tagged("Policies", _matrix_paths(bad_request))
        | _tagged("Subscriptions", {path: item for path, item in notify_paths.items()
                                    if path.startswith("/subscriptions")})
        | _tagged("Webhooks", {path: item for path, item in notify_paths.items() if path.startswith("/webhooks")}),
        "components": {
            "schemas": _schemas(countries, topics),
            "securitySchemes": {"bearerAuth": {
                "type": "http", "scheme": "bearer",
                "description": "An API token made on the account page: `Authorization: Bearer <token>`."}},
        },
    }


# ---------------------------------------------------------------------------------------------------
# Notifications: a partner's subscriptions and webhook endpoints (tracker.views.api.notify)

MAX_ID = 2**31 - 1
SEARCH_FILTER_NAMES = ("country", "status", "instrument", "topic", "vehicle_class", "year", "event")
DATE_TIME = {"type": "string", "format": "date-time"}
NULLABLE_DATE_TIME = {"type": ["string", "null"], "format": "date-time"}


def _notify_schemas() -> dict[str, Any]:
    from tracker.models.notification import (
        ATTEMPT_OUTCOMES,
        CADENCES,
        CHANNELS,
        DELIVERY_STATES,
        EVENT_TYPES,
        LANGUAGES,
        TARGET_KINDS,
    )

    filters_text = ("A saved search only: filters as `/search` takes them, name -> values, e.g. "
                    "`{\"country\": [\"LA\"], \"status\": [\"in_force\"]}`.")
    subscription = _object({
        "id": TEXT, "target_kind": {"enum": list(TARGET_KINDS)}, "target_value": NULLABLE_TEXT,
        "target_filters": {"type": ["object", "null"], "additionalProperties": {"type": "array", "items": TEXT}},
        "target_label": TEXT, "channel": {"enum": list(CHANNELS)}, "webhook_id": {"type": ["integer", "null"]},
        "email": NULLABLE_TEXT | {"description": "Where the emails go (the account's address); null for webhooks."},
        "cadence": {"enum": list(CADENCES)}, "sunset_days": {"type": "integer", "minimum": 1, "maximum": 365},
        "comment_days": {"type": "integer", "minimum": 0, "maximum": 365},
        "language": {"enum": list(LANGUAGES)},
        "state": {"enum": ["active", "awaiting_confirmation", "unsubscribed"],
                  "description": "`unsubscribed` when an email's unsubscribe link was used."},
        "confirmed_at": NULLABLE_DATE_TIME, "unsubscribed_at": NULLABLE_DATE_TIME, "created_at": DATE_TIME,
        "url": URL, "feed_url": URL | {"description": "The Atom feed of the same changes."}})
    webhook_properties = {
        "id": {"type": "integer"}, "url": TEXT | {"description": "The receiver's URL."},
        "description": NULLABLE_TEXT, "state": {"enum": ["active", "failing", "disabled"]},
        "created_at": DATE_TIME, "disabled_at": NULLABLE_DATE_TIME, "disabled_reason": NULLABLE_TEXT,
        "failing_since": NULLABLE_DATE_TIME,
        "previous_secret_expires_at": NULLABLE_DATE_TIME | {
            "description": "After a rotation, until when the previous secret also signs messages."},
        "deliveries_url": URL}
    attempt = _object({"attempted_at": DATE_TIME, "outcome": {"enum": list(ATTEMPT_OUTCOMES)},
                       "status_code": {"type": ["integer", "null"]}, "error": NULLABLE_TEXT,
                       "duration_ms": {"type": "integer"}})
    return {
        "Subscription": subscription,
        "SubscriptionList": _object({"items": {"type": "array", "items": _ref("Subscription")},
                                     "total": {"type": "integer", "minimum": 0}}),
        "Webhook": _object(webhook_properties),
        "WebhookWithSecret": _object(webhook_properties | {"secret": TEXT | {
            "description": "The signing secret (`whsec_...`): shown in this answer only."}}),
        "WebhookList": _object({"items": {"type": "array", "items": _ref("Webhook")},
                                "total": {"type": "integer", "minimum": 0}}),
        "Delivery": _object({
            "id": TEXT | {"description": "The message id: the `webhook-id` header, the same on every retry."},
            "event_id": TEXT, "event_type": {"enum": list(EVENT_TYPES)},
            "subscription_id": NULLABLE_TEXT | {"description": "Null for a test message."},
            "channel": {"enum": list(CHANNELS)}, "state": {"enum": list(DELIVERY_STATES)},
            "attempts": {"type": "integer", "minimum": 0}, "next_attempt_at": NULLABLE_DATE_TIME,
            "last_status_code": {"type": ["integer", "null"]}, "last_error": NULLABLE_TEXT,
            "delivered_at": NULLABLE_DATE_TIME, "created_at": DATE_TIME,
            "attempt_log": {"type": "array", "items": attempt}}),
        "DeliveryPage": _page("Delivery"),
        "NotificationEvent": _object({"id": TEXT, "type": {"enum": list(EVENT_TYPES)}, "occurred_at": DATE_TIME,
                                      "data": {"type": "object"}}),
        "SubscriptionInput": _closed({
            "target_kind": _choice(list(TARGET_KINDS)) | {
                "description": "What to follow: a `policy` (key), `country` (code), `topic` (key), "
                               "`instrument`, `event` (key), a saved `search`, or `all` changes."},
            "target_value": _string(500, description="The key, code or instrument name; for a search, its "
                                                     "words (may be empty when filters are given); none for "
                                                     "`all`."),
            "target_filters": {"type": ["object", "null"], "description": filters_text,
                               "properties": {name: _list(_string(120, nullable=False), 50)
                                              for name in SEARCH_FILTER_NAMES},
                               "additionalProperties": False},
            "channel": _choice(list(CHANNELS)) | {"description": "`email` (to the account's address, the "
                                                                 "default) or `webhook`."},
            "webhook_id": {"type": ["integer", "null"], "minimum": 1, "maximum": MAX_ID,
                           "description": "One of your webhook endpoints, for the `webhook` channel."},
            "cadence": _choice(list(CADENCES)) | {"description": "For email; webhooks are always `immediate`."},
            "sunset_days": {"type": "integer", "minimum": 1, "maximum": 365,
                            "description": "Days of warning before a time-bound measure ends (default 30)."},
            "comment_days": {"type": "integer", "minimum": 0, "maximum": 365,
                             "description": "Days before a comment period closes at which to be reminded "
                                            "(default 14; 0: no reminder)."},
            "language": _choice(list(LANGUAGES)) | {"description": "Language of the emails (default en)."},
        }, ("target_kind",)),
        "WebhookInput": _closed({
            "url": _string(2000, nullable=False, min_length=1,
                           description="The receiver: https, on a public address."),
            "description": _string(200)}, ("url",)),
    }


def _notify_paths() -> dict[str, Any]:
    unauthorized = _unauthorized()
    not_yours = _error_response("You have no such record (records of other accounts are never shown).")
    subscription_id = {"name": "public_id", "in": "path", "required": True, "description": "The subscription's id.",
                       "schema": {"type": "string", "minLength": 1, "maxLength": 100},
                       "example": "9f86d081884c7d659a2feaa0c55ad015"}
    webhook_id = {"name": "endpoint_id", "in": "path", "required": True, "description": "The endpoint's id.",
                  "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID}, "example": 1}
    created_at = {"Location": {"required": True, "description": "URL of the new resource in this API.",
                               "schema": {"type": "string", "format": "uri"}}}

    def read(operation_id: str, summary: str, schema: str, text: str, parameters: list | None = None,
             extra: dict | None = None) -> dict[str, Any]:
        responses = {"200": _ok(schema, text), "401": unauthorized, **(extra or {})}
        operation: dict[str, Any] = {"operationId": operation_id, "summary": summary, "security": REQUIRED_AUTH,
                                     "responses": dict(sorted(responses.items()))}
        if parameters:
            operation["parameters"] = parameters
        return operation

    def write(operation_id: str, summary: str, status: str, schema: str, text: str, *, body: str | None = None,
              example: dict | None = None, parameters: list | None = None, extra: dict | None = None,
              location: bool = False) -> dict[str, Any]:
        ok = _ok(schema, text)
        if location:
            ok["headers"] = created_at
        responses = {status: ok, "401": unauthorized, **(extra or {})}
        if body is not None:
            responses |= {
                "400": _error_response("The body is not a JSON object, has unknown fields, or breaks a rule; "
                                       "`error.errors` names each field with its problem."),
                "413": _error_response("The body is larger than 2 MiB."),
                "415": _error_response("The body is not sent as `Content-Type: application/json` (UTF-8)."),
            }
        operation: dict[str, Any] = {"operationId": operation_id, "summary": summary, "security": REQUIRED_AUTH,
                                     "responses": dict(sorted(responses.items()))}
        if body is not None:
            operation["requestBody"] = {"required": True, "content": {"application/json": {
                "schema": _ref(body), "example": example}}}
        if parameters:
            operation["parameters"] = parameters
        return operation

    return {
        "/subscriptions": {
            "get": read("listSubscriptions", N_("Your subscriptions, newest first."), "SubscriptionList",
                        "Every subscription of the token's account."),
            "post": write("createSubscription",
                          N_("Follow a policy, country, topic, instrument, event, saved search or everything."),
                          "201", "Subscription", "The new subscription, active at once.",
                          body="SubscriptionInput", location=True, example={
                              "target_kind": "policy", "target_value": "la-gov-resolution-08-2021-ev-policy",
                              "channel": "email", "cadence": "daily", "language": "lo"},
                          extra={"409": _error_response("You already follow this through this channel.")})},
        "/subscriptions/{public_id}": {
            "get": read("getSubscription", N_("One of your subscriptions."), "Subscription", "The subscription.",
                        [subscription_id], {"404": not_yours}),
            "delete": write("deleteSubscription", N_("Stop and delete one of your subscriptions."), "200",
                            "Subscription", "The subscription as it was.", parameters=[subscription_id],
                            extra={"404": not_yours})},
        "/webhooks": {
            "get": read("listWebhooks", N_("Your webhook endpoints."), "WebhookList", "Every endpoint of the account."),
            "post": write("createWebhook", N_("Add a webhook endpoint; its signing secret is in this answer only."),
                          "201", "WebhookWithSecret", "The new endpoint with its secret.", body="WebhookInput",
                          location=True, example={"url": "https://partner.example/hooks/ev",
                                                  "description": "Policy desk"})},
        "/webhooks/{endpoint_id}": {
            "get": read("getWebhook", N_("One of your webhook endpoints."), "Webhook", "The endpoint.", [webhook_id],
                        {"404": not_yours}),
            "delete": write("deleteWebhook", N_("Delete an endpoint, with the subscriptions that use it."), "200",
                            "Webhook", "The endpoint as it was.", parameters=[webhook_id],
                            extra={"404": not_yours})},
        "/webhooks/{endpoint_id}/rotate-secret": {"post": write(
            "rotateWebhookSecret", N_("Make a new signing secret; the previous one also signs for 24 hours."), "200",
            "WebhookWithSecret", "The endpoint with its new secret.", parameters=[webhook_id],
            extra={"404": not_yours, "409": _error_response(
                "The secret was changed less than 10 minutes ago (a repeated request); use that secret.")})},
        "/webhooks/{endpoint_id}/test": {"post": write(
            "testWebhook", N_("Send a signed `webhook.test` message to the endpoint."), "201", "NotificationEvent",
            "The test event; its delivery appears under the endpoint's deliveries.", parameters=[webhook_id],
            location=True, extra={"400": _error_response("The endpoint is disabled; `error.errors` says so."),
                                  "404": not_yours})},
        "/webhooks/{endpoint_id}/deliveries": {"get": read(
            "listWebhookDeliveries", N_("Messages to one of your endpoints, newest first, with every attempt."),
            "DeliveryPage", "A page of deliveries.", [webhook_id] + PAGE_PARAMS,
            {"400": _error_response("A parameter is not valid; `error.errors` names each one."),
             "404": _error_response("You have no such endpoint, or the page is past the last one.")})},
    }


# ---------------------------------------------------------------------------------------------------
# Attached documents (tracker.views.api.documents)

UPLOAD_TYPES = ("application/pdf", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                "text/html", "text/plain")
DOCUMENT_ID = {"name": "document_id", "in": "path", "required": True, "description": "The document's id.",
               "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID}, "example": 1}
NULLABLE_INTEGER = {"type": ["integer", "null"]}


def _document_schemas() -> dict[str, Any]:
    from tracker.models.vocab import DOCUMENT_LANGUAGES, DOCUMENT_ROLES, EXTRACTION_STATUSES

    document = {
        "id": {"type": "integer"}, "series_id": NULLABLE_INTEGER | {
            "description": "The id shared by the versions of one text (draft 1, draft 2, adopted ...)."},
        "filename": TEXT, "media_type": {"enum": ["application/pdf", "text/html", "text/plain",
                                                  "application/vnd.openxmlformats-officedocument."
                                                  "wordprocessingml.document"]},
        "size": {"type": "integer", "minimum": 1}, "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        "role": {"enum": list(DOCUMENT_ROLES)}, "language": {"enum": list(DOCUMENT_LANGUAGES)},
        "version_label": NULLABLE_TEXT, "date": _nullable(PARTIAL_DATE), "source_url": NULLABLE_TEXT,
        "added_at": DATE_TIME, "status": {"enum": list(EXTRACTION_STATUSES), "description": (
            "Where the text extraction stands: pending, extracting, done, partial (some pages gave no text) "
            "or failed.")},
        "pages": NULLABLE_INTEGER, "pages_ocr": {"type": "integer", "minimum": 0},
        "characters": {"type": "integer", "minimum": 0},
        "official": {"type": "boolean", "description": "False for an unofficial translation or a draft."},
        "urls": _object({"html": URL, "api": URL, "text": URL, "file": URL}),
        "status_reason": NULLABLE_TEXT | {"description": "Staff only: why extraction failed or is partial."},
        "added_by": TEXT | {"description": "Staff only: who attached it."},
    }
    required = [name for name in document if name not in ("status_reason", "added_by")]
    detail = dict(document) | {
        "policy": _object({"key": TEXT, "url": URL}),
        "versions": {"type": "array", "items": _object({"id": {"type": "integer"}, "version_label": NULLABLE_TEXT,
                                                        "date": _nullable(PARTIAL_DATE)})}}
    passage = _object({"seq": {"type": "integer"}, "page": {"type": "integer"}, "heading": NULLABLE_TEXT,
                       "language": TEXT, "text": TEXT, "method": {"enum": ["text", "ocr"]},
                       "confidence": {"type": ["number", "null"]}, "toc": {"type": "boolean"}})
    paragraph = _nullable(_object({"text": TEXT, "page": NULLABLE_INTEGER, "heading": NULLABLE_TEXT}))
    return {
        "Document": _object(document, required=required),
        "DocumentDetail": _object(detail, required=required + ["policy", "versions"]),
        "DocumentList": _object({"policy": TEXT, "documents": {"type": "array", "items": _ref("Document")}}),
        "DocumentText": _object({"document_id": {"type": "integer"}, "status": {"enum": list(EXTRACTION_STATUSES)},
                                 "pages": NULLABLE_INTEGER, "passages": {"type": "array", "items": passage}}),
        "DocumentUpload": {"type": "object", "required": ["file", "role", "language"], "properties": {
            "file": {"type": "string", "format": "binary",
                     "description": "PDF, DOCX, HTML or UTF-8 text; the type is read from the bytes."},
            "role": {"enum": list(DOCUMENT_ROLES)}, "language": {"enum": list(DOCUMENT_LANGUAGES)},
            "version_label": {"type": "string", "maxLength": 120}, "date": PARTIAL_DATE,
            "source_url": {"type": "string", "maxLength": 2000},
            "replaces": {"type": "string", "pattern": "^[0-9]{1,9}$",
                         "description": "The id of a document of the same policy this file is a new version of."},
            "reason": {"type": "string", "maxLength": 5000}}},
        "PassageHit": _object({
            "document_id": {"type": "integer"}, "policy": TEXT, "page": {"type": "integer"}, "heading": NULLABLE_TEXT,
            "language": TEXT, "score": {"type": "number"}, "method": {"enum": ["text", "ocr"]},
            "toc": {"type": "boolean", "description": "Reads as a table of contents (ranked after provisions)."},
            "highlight": {"type": "string", "description": "HTML: the passage or a fragment of it, escaped, the "
                                                           "matched words in `<mark>`."},
            "url": URL}),
        "PassageResults": _object({
            "total": {"type": "integer", "minimum": 0}, "page": {"type": "integer", "minimum": 1},
            "pages": {"type": "integer", "minimum": 1}, "notice": NULLABLE_TEXT,
            "hits": {"type": "array", "items": _ref("PassageHit")}}),
        "Comparison": _object({
            "policy": TEXT, "from": {"type": "integer"}, "to": {"type": "integer"},
            "complete": {"type": "boolean", "description": "False when the comparison ran out of time: what it "
                                                           "holds is right as far as it goes."},
            "summary": _object({name: {"type": "integer", "minimum": 0}
                                for name in ("added", "removed", "changed", "unchanged")}),
            "blocks": {"type": "array", "items": _object({
                "op": {"enum": ["equal", "insert", "delete", "change"]}, "old": paragraph, "new": paragraph,
                "words": {"type": "array", "items": _object({"op": {"enum": ["equal", "insert", "delete"]},
                                                              "text": TEXT})}})}}),
    }


def _document_paths() -> dict[str, Any]:
    bad_request = _error_response("A parameter is not valid; `error.errors` names each one.")
    not_found = _error_response("No such policy or document, or not one this reader may see.")
    unauthorized = _unauthorized()
    key = POLICY_KEY

    def read(operation_id: str, summary: str, schema: str, text: str, parameters: list[Any]) -> dict[str, Any]:
        # A policy's parts answer an old key of the policy with a 301, as the policy itself does.
        moved = {"301": _moved()} if key in parameters else {}
        return {"get": {"operationId": operation_id, "summary": summary, "security": OPTIONAL_AUTH,
                        "parameters": parameters,
                        "responses": {"200": _ok(schema, text), **moved, "400": bad_request,
                                      "401": unauthorized, "404": not_found}}}

    return {
        "/policies/{key}/documents": read(
            "listPolicyDocuments", N_("The texts attached to a policy (each version of each text)."), "DocumentList",
            "The documents, by text, newest version first.", [key]) | {"post": {
                "operationId": "attachDocument",
                "summary": N_("Attach a file to a policy (a new version of another with `replaces`)."),
                "description": ("Editors and above. The file is checked before anything is stored: its type from "
                                "its bytes, a DOCX for zip bombs, a PDF for encryption, damage and its page "
                                "count. Its text is then extracted in the background (`status`)."),
                "security": REQUIRED_AUTH, "parameters": [key],
                "requestBody": {"required": True, "content": {"multipart/form-data": {
                    "schema": _ref("DocumentUpload"), "encoding": {"file": {"contentType": ", ".join(UPLOAD_TYPES)}}}}},
                "responses": {
                    "201": _ok("Document", "The document, its text waiting for extraction.") | {"headers": {
                        "Location": {"required": True, "description": "URL of the document in this API.",
                                     "schema": {"type": "string", "format": "uri"}}}},
                    "400": _error_response("The file is refused (empty, of an unknown type, damaged, encrypted, "
                                           "too many pages, already attached) or a field is wrong; "
                                           "`error.errors` names it."),
                    "401": unauthorized, "403": _error_response("Only editors and above attach documents."),
                    "404": not_found, "413": _error_response("The file is larger than the limit (25 MiB by "
                                                            "default).")}}},
        "/documents/{document_id}": read(
            "getDocument", N_("A document's facts, extraction status and versions."), "DocumentDetail",
            "The document.", [DOCUMENT_ID]) | {"delete": {
                "operationId": "removeDocument", "summary": N_("Remove a document and its text (editors and above)."),
                "security": REQUIRED_AUTH, "parameters": [DOCUMENT_ID, {
                    "name": "reason", "in": "query", "required": False, "description": "Why, for the history.",
                    "schema": {"type": "string", "maxLength": 5000}}],
                "responses": {"204": {"description": "Removed."}, "400": bad_request, "401": unauthorized,
                              "403": _error_response("Only editors and above remove documents."),
                              "404": not_found}}},
        "/documents/{document_id}/text": read(
            "getDocumentText", N_("A document's extracted text, passage by passage, with pages."), "DocumentText",
            "The passages in order (none until extraction is done).", [DOCUMENT_ID]),
        "/documents/{document_id}/file": {"get": {
            "operationId": "getDocumentFile", "summary": N_("The file itself, as attached."),
            "security": OPTIONAL_AUTH, "parameters": [DOCUMENT_ID],
            "responses": {"200": {"description": "The bytes, with the type read from them.", "content": {
                media: {"schema": {"type": "string", "format": "binary"}} for media in (
                    "application/pdf", "text/html", "text/plain",
                    "application/vnd.openxmlformats-officedocument.wordprocessingml.document")}},
                "400": bad_request, "401": unauthorized, "404": not_found}}},
        "/search/passages": {"get": {
            "operationId": "searchPassages",
            "summary": N_("Passages of attached texts matching a query (the clause, not just the record)."),
            "description": ("Same analysis as `/search` (English stems, Lao words, synonyms, English-Lao "
                            "bridging); `\"…\"` is an exact phrase within a passage. By relevance, passages that "
                            "read as a table of contents come after provisions; `sort=page` lists them in text "
                            "order."),
            "security": OPTIONAL_AUTH,
            "parameters": [
                {"name": "q", "in": "query", "required": True, "description": "Words or \"an exact phrase\".",
                 "schema": {"type": "string", "minLength": 1, "maxLength": MAX_QUERY_LENGTH},
                 "example": "\"charging stations\""},
                {"name": "policy", "in": "query", "required": False, "description": "Policy keys, comma-separated.",
                 "schema": {"type": "string", "maxLength": 2000}},
                {"name": "document", "in": "query", "required": False,
                 "description": "Document ids, comma-separated.",
                 "schema": {"type": "string", "pattern": "^[0-9]{1,9}(,[0-9]{1,9})*$"}},
                {"name": "lang", "in": "query", "required": False, "description": "Language codes, comma-separated.",
                 "schema": {"type": "string", "maxLength": 200}},
                {"name": "sort", "in": "query", "required": False, "description": "relevance or page (text order).",
                 "schema": {"type": "string", "enum": ["relevance", "page"], "default": "relevance"}},
            ] + PAGE_PARAMS,
            "responses": {"200": _ok("PassageResults", "One page of passages."), "400": bad_request,
                          "401": unauthorized, "404": not_found,
                          "503": _error_response("The search index is missing or being rebuilt.")}}},
        "/policies/{key}/compare": read(
            "compareDocuments", N_("What changed between two versions of a text, paragraph by paragraph."),
            "Comparison", "The aligned paragraphs, with word-level changes inside changed ones.",
            [key, {"name": "from", "in": "query", "required": True, "description": "The older document's id.",
                   "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID}, "example": 1},
             {"name": "to", "in": "query", "required": True, "description": "The newer document's id.",
              "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID}, "example": 2}]),
    }


# What the file part of an upload may be (the type is read from the bytes; these say what is accepted).
IMPORT_TYPES = ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "text/csv", "application/json")
IMPORT_ID = {"name": "import_id", "in": "path", "required": True, "description": "The import's id.",
             "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID}, "example": 1}


def _import_schemas() -> dict[str, Any]:
    from tracker.models.data_import import IMPORT_FORMATS, IMPORT_STATES

    counts = {"type": "object", "additionalProperties": {"type": "integer"}}
    return {
        "ImportUpload": {"type": "object", "required": ["file"], "additionalProperties": False, "properties": {
            "file": {"type": "string", "format": "binary", "description": (
                "An XLSX workbook (the template from /imports/template.xlsx, or a list downloaded from "
                "/policies.xlsx), a CSV in the format of /policies.csv, or a dataset JSON file.")},
            "dry_run": {"type": "string", "enum": ["true", "false", "1", "0"], "default": "true",
                        "description": "`false`: apply at once when the file has no problem."}}},
        "Import": {"type": "object", "required": ["id", "filename", "format", "state", "counts", "problems",
                                                 "changes"], "properties": {
            "id": {"type": "integer"}, "filename": TEXT, "format": {"enum": list(IMPORT_FORMATS)},
            "state": {"enum": list(IMPORT_STATES), "description": (
                "dry_run: nothing written yet; applied; stale: content changed since, run again; refused: "
                "the file has problems, listed in `problems`.")},
            "created_at": DATE_TIME, "applied_at": _nullable(DATE_TIME), "rows": {"type": "integer"},
            "counts": {"type": "object", "additionalProperties": counts, "description": (
                "Per kind of record (policies, organisations, events, topics): how many created, updated, "
                "unchanged.")},
            "problems": {"type": "array", "items": {"type": "object", "properties": {
                "row": TEXT, "column": TEXT, "message": TEXT}}},
            "total_problems": {"type": "integer"},
            "changes": {"type": "array", "description": "Rows created or updated, with each field changed.",
                        "items": {"type": "object", "properties": {
                            "kind": TEXT, "key": TEXT, "row": TEXT, "outcome": {"enum": ["created", "updated"]},
                            "changes": {"type": "array", "items": {"type": "object", "properties": {
                                "field": TEXT, "old": {}, "new": {}}}},
                            "notes": {"type": "array", "description": (
                                "What else the row does: an organisation created with the import for it."),
                                "items": {"type": "object", "properties": {
                                    "create_organisation": TEXT, "name_en": _nullable(TEXT),
                                    "name_lo": _nullable(TEXT)}}}}}},
            "changes_truncated": {"type": "boolean"},
            "unknown_organisations": {"type": "array", "description": (
                "Organisations the rows name that neither the tracker nor the file has, as typed; choose to "
                "create them with POST organisations_url."), "items": {"type": "object", "properties": {
                    "typed": TEXT, "row": TEXT, "column": TEXT, "country": _nullable(TEXT),
                    "rows": {"type": "integer"}}}},
            "new_organisations": {"type": "array", "description": (
                "Organisations chosen to be created with the import (when it is applied), with the key each gets."),
                "items": _ref("ImportOrganisation")},
            "url": {"type": "string", "format": "uri"}, "apply_url": {"type": "string", "format": "uri"},
            "organisations_url": {"type": "string", "format": "uri"}}},
        "ImportOrganisation": {"type": "object", "properties": {
            "typed": TEXT, "key": TEXT, "name_en": _nullable(TEXT), "name_lo": _nullable(TEXT),
            "country": _nullable(TEXT), "kind": TEXT}},
        "ImportOrganisationChoices": {"type": "object", "required": ["organisations"], "additionalProperties": False,
                                      "properties": {"organisations": {"type": "array", "maxItems": 1000, "items": {
                                          "type": "object", "required": ["typed"], "additionalProperties": False,
                                          "properties": {
                                              "typed": {"type": "string", "description": (
                                                  "The organisation as the rows write it (one of "
                                                  "unknown_organisations).")},
                                              "name_en": _nullable(TEXT), "name_lo": _nullable(TEXT),
                                              "country": _nullable(TEXT),
                                              "kind": {"enum": list(ORGANISATION_KINDS)}}}}},
                                      "example": {"organisations": [{
                                          "typed": "la-mopwt", "name_en": "Ministry of Public Works and Transport",
                                          "name_lo": None, "country": "LA", "kind": "ministry"}]}},
    }


def _import_paths() -> dict[str, Any]:
    unauthorized = _unauthorized()
    forbidden = _error_response("Only editors and above import.")
    not_found = _error_response("No such import.")
    return {
        "/imports": {"post": {
            "operationId": "startImport",
            "summary": N_("Upload a file: its dry run (or apply it with `dry_run=false`)."),
            "description": ("Editors and above (changes to published records: reviewers). The report lists each "
                            "row created, updated (field by field) or wrong; nothing is written by a dry run."),
            "security": REQUIRED_AUTH,
            "requestBody": {"required": True, "content": {"multipart/form-data": {
                "schema": _ref("ImportUpload"), "encoding": {"file": {"contentType": ", ".join(IMPORT_TYPES)}}}}},
            "responses": {
                "201": _ok("Import", "The dry run (state dry_run, or refused with its problems).") | {"headers": {
                    "Location": {"required": True, "description": "URL of the import in this API.",
                                 "schema": {"type": "string", "format": "uri"}}}},
                "200": _ok("Import", "Applied at once (dry_run=false)."),
                "400": _error_response("No file, a file of no known format, or a field is wrong."),
                "401": unauthorized, "403": forbidden,
                "409": _error_response("dry_run=false and content changed meanwhile: the dry run is in `import`."),
                "413": _error_response("The file is larger than the limit (50 MiB by default).")}}},
        "/imports/{import_id}": {"get": {
            "operationId": "getImport", "summary": N_("An import's report and state."), "security": REQUIRED_AUTH,
            "parameters": [IMPORT_ID],
            "responses": {"200": _ok("Import", "The import."), "401": unauthorized, "403": forbidden,
                          "404": not_found}}},
        "/imports/{import_id}/organisations": {"post": {
            "operationId": "chooseImportOrganisations",
            "summary": N_("Choose the unknown organisations to create with an import, and run its dry run again."),
            "description": ("Editors and above. Nothing is written until the import is applied; the organisations "
                            "are then created in the same transaction, audited in the name of who applies it. An "
                            "empty list takes every choice back. Countries cannot be created."),
            "security": REQUIRED_AUTH, "parameters": [IMPORT_ID],
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": _ref("ImportOrganisationChoices")}}},
            "responses": {"200": _ok("Import", "The dry run run again with the organisations chosen."),
                          "400": _error_response("A choice names no unknown organisation of the import, or an "
                                                 "organisation is not valid (each field named), or the import "
                                                 "was applied already."),
                          "401": unauthorized, "403": forbidden, "404": not_found,
                          "413": _error_response("The body is larger than 2 MiB."),
                          "415": _error_response("The body is not sent as `Content-Type: application/json` "
                                                 "(UTF-8).")}}},
        "/imports/{import_id}/apply": {"post": {
            "operationId": "applyImport", "summary": N_("Apply a dry run that is still current, in one transaction."),
            "security": REQUIRED_AUTH, "parameters": [IMPORT_ID],
            "responses": {"200": _ok("Import", "Applied."),
                          "400": _error_response("Refused (the file has problems) or applied already."),
                          "401": unauthorized, "403": forbidden, "404": not_found,
                          "409": _error_response("Content changed since the dry run: nothing was applied; the dry "
                                                 "run was run again and is in `import`.")}}},
    }


# ---------------------------------------------------------------------------------------------------
# The changes feed (tracker.views.api.changes)

CHANGE_RECORDS = {"policy": "Policy", "event": "Event", "document": "DocumentDetail", "jurisdiction": "Jurisdiction",
                  "topic": "Topic"}
CHANGES_EXAMPLE = {
    "changes": [
        {"type": "policy", "id": "12", "kind": "status_changed", "key": "la-gov-resolution-08-2021-ev-policy",
         "old_key": None, "changed_at": "2026-12-07T03:12:45.120000+00:00",
         "record": {"key": "la-gov-resolution-08-2021-ev-policy", "legal_status": "in_force", "...": "..."}},
        {"type": "jurisdiction", "id": "LA", "kind": "updated", "key": "LA", "old_key": None,
         "changed_at": "2026-12-07T03:12:45.120000+00:00",
         "record": {"code": "LA", "policy_count": 31, "...": "..."}},
        {"type": "event", "id": "4", "kind": "unpublished", "key": "lao-ev-forum-2024", "old_key": None,
         "changed_at": "2026-12-07T03:20:02.004000+00:00", "record": None},
    ],
    "next": "MTg0LjI",
    "more": False,
}


def _changes_schemas() -> dict[str, Any]:
    from tracker.models.change_feed import FEED_ENTITY_TYPES, FEED_KINDS

    return {
        "FeedChange": _object({
            "type": {"enum": list(FEED_ENTITY_TYPES), "description": (
                "What the record is. Policies, events and attached documents have their own endpoints; "
                "jurisdictions and topics are the items of `/jurisdictions` and `/topics` (their counts move "
                "as records are published).")},
            "id": {"type": "string", "description": (
                "The record's identity within its type, for ever: a key can change, this never does. Keep "
                "your copy by `type` and `id`.")},
            "kind": {"enum": list(FEED_KINDS), "description": (
                "What this commit did to the record as the public sees it: `created` (published, or published "
                "again), `updated` (it, or a record it shows, changed), `status_changed` (a legal status step "
                "was recorded), `unpublished` or `deleted` (a tombstone: remove it).")},
            "key": {"type": "string", "description": (
                "Where the record is published now (a document's id, a jurisdiction's code); when `record` "
                "is null, the key it was published under.")},
            "old_key": NULLABLE_TEXT | {"description": (
                "The key the record was published under before this change, when this change moved it: "
                "remove it from a copy kept by key.")},
            "changed_at": DATE_TIME,
            "record": {"anyOf": [_ref(name) for name in CHANGE_RECORDS.values()] + [{"type": "null"}],
                       "description": (
                           "The record as its own public endpoint serves it now (not as it was at this change), "
                           "or null when it is not published now: remove it. Apply changes in order.")}}),
        "ChangesPage": _object({
            "changes": {"type": "array", "items": _ref("FeedChange"),
                        "description": "In commit order, at most `limit`."},
            "next": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,48}$", "description": (
                "The cursor to send as `since` for the changes after these (the same one when there are "
                "none yet: poll with it). Opaque: do not build one.")},
            "more": {"type": "boolean", "description": "Whether more changes follow now: ask again at once."}}),
    }


def _changes_paths() -> dict[str, Any]:
    return {"/changes": {"get": {
        "operationId": "listChanges",
        "summary": N_("What changed in the published records since a cursor, in commit order."),
        "description": (
            "For systems that keep a copy of the published records. Start without `since`: the first changes "
            "create every published record. Follow `next` while `more` is true, then poll with the last "
            "`next`. Apply each change in order: when `record` is null remove the record, else store it "
            "(by `type` and `id`; a copy kept by key removes `old_key`, then stores `record` under `key`, or "
            "removes `key` when `record` is null). A client that applies every change ends with exactly the "
            "published records as the API lists them. Every reader gets the public view, a staff token "
            "included. See docs/api.md, \"Changes feed\"."),
        "security": OPTIONAL_AUTH,
        "parameters": [
            {"name": "since", "in": "query", "required": False,
             "description": "A `next` from an earlier answer; the beginning of the feed when absent.",
             "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,48}$"}},
            {"name": "limit", "in": "query", "required": False, "description": "Changes per answer.",
             "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}},
        ],
        "responses": {
            "200": _ok("ChangesPage", "The next changes.") | {"content": {"application/json": {
                "schema": _ref("ChangesPage"), "example": CHANGES_EXAMPLE}}},
            "400": _error_response("`since` is not a cursor of this API (or is ahead of this database's "
                                   "changes), `limit` is not between 1 and 1000, or a parameter is unknown; "
                                   "`error.errors` names each one."),
            "401": _unauthorized()}}}}


# ---------------------------------------------------------------------------------------------------
# Releases of the published dataset (tracker.views.api.releases)


def _release_schemas() -> dict[str, Any]:
    from tracker.models.release import RELEASE_FORMATS
    from tracker.services.release_tables import TABLES
    from tracker.services.releases import MEDIA_TYPES

    release_file = _object({
        "name": TEXT | {"description": "The file's name, e.g. `ev-policies-2026-12-07-csv.zip`."},
        "format": {"enum": list(RELEASE_FORMATS), "description": (
            "`csv_zip`: the Frictionless data package (CSV tables, `datapackage.json`, README, CITATION.cff); "
            "`xlsx`: the workbook, a sheet per table; `json`: the records in the dataset format.")},
        "media_type": {"enum": sorted(set(MEDIA_TYPES.values()))},
        "size": {"type": "integer", "minimum": 0, "description": "Bytes."},
        "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$", "description": (
            "SHA-256 of the file's bytes; also its `ETag` when downloaded.")},
        "url": URL | {"description": "Where to download it (answers 304 to `If-None-Match` with the SHA-256)."}})
    release = _object({
        "id": {"type": "integer"},
        "version": TEXT | {"description": "The UTC day it was built and the data version: `2026.12.7+data.1234`."},
        "built_at": DATE_TIME, "date": {"type": "string", "format": "date"},
        "content_version": {"type": "integer", "minimum": 0, "description": (
            "The tracker's content version the release was built from (one snapshot).")},
        "licence": TEXT | {"description": "SPDX identifier of the licence the data is offered under."},
        "counts": {"type": "object", "description": "Rows per table of the data package.",
                   "properties": {table.name: {"type": "integer", "minimum": 0} for table in TABLES},
                   "additionalProperties": {"type": "integer", "minimum": 0}},
        "files": {"type": "array", "items": _ref("ReleaseFile")}})
    return {
        "ReleaseFile": release_file,
        "Release": release,
        "ReleaseList": _object({"items": {"type": "array", "items": _ref("Release")},
                                "total": {"type": "integer", "minimum": 0},
                                "html_url": URL | {"description": "The data page that lists them."}}),
    }


def _release_paths() -> dict[str, Any]:
    return {"/releases": {"get": {
        "operationId": "listReleases",
        "summary": N_("Releases of the whole published dataset, newest first, with their files."),
        "description": ("Each release is the published data at one moment, as a Frictionless data package (a zip "
                        "of CSV tables), an XLSX workbook and a JSON file in the dataset format, with the size "
                        "and SHA-256 of each. Only the newest releases are kept (12 by default)."),
        "security": OPTIONAL_AUTH,
        "responses": {"200": _ok("ReleaseList", "Every kept release."), "401": _unauthorized()}}}}


# ---------------------------------------------------------------------------------------------------
# The comparison matrix (tracker.views.api.matrix)


def _matrix_schemas() -> dict[str, Any]:
    from tracker.services.matrix import CELL_STATES, DIMENSIONS

    return {"Matrix": _object({
        "rows": {"type": "array", "description": "The ASEAN members, then ASEAN (regional instruments).",
                 "items": _object({"code": TEXT, "name_en": TEXT, "name_lo": NULLABLE_TEXT,
                                   "kind": {"enum": ["member", "regional"]},
                                   "researched": {"type": "boolean", "description": (
                                       "Whether any published instrument of the jurisdiction is tagged on the "
                                       "dimension of the columns.")}})},
        "columns": {"type": "array", "description": "The values of the dimension, in their order.",
                    "items": _object({"key": TEXT, "label": TEXT | {"description": "In the reader's language."},
                                      "instruments": {"type": "array", "items": {"enum": list(INSTRUMENTS)},
                                                      "description": "The instrument types a column stands "
                                                                     "for (types and kinds only)."}})},
        "cells": {"type": "array", "description": "One per row and column, row by row.", "items": _object({
            "row": TEXT, "column": TEXT,
            "count": {"type": "integer", "minimum": 0,
                      "description": "Published instruments with this value that pass the filters."},
            "strongest_status": _nullable({"enum": list(LEGAL_STATUSES)}) | {
                "description": "The strongest status among them (see `status_strength`); null when none."},
            "state": {"enum": list(CELL_STATES), "description": (
                "`some`; `none`: the jurisdiction has instruments on this dimension, none with this value; "
                "`not_researched`: it has no instrument tagged on this dimension at all.")},
            "url": NULLABLE_URL | {"description": "These instruments from `GET /policies`; null when none."},
            "html_url": NULLABLE_URL | {"description": "The same list as a page."}})},
        "extra_columns": {"type": "array", "description": "Columns other parts of the tracker add, after the "
                          "dimension's (each with a cell per row code).", "items": _object({
                              "key": TEXT, "label": TEXT, "cells": {"type": "object", "additionalProperties": _object({
                                  "text": TEXT, "value": NULLABLE_TEXT, "url": NULLABLE_TEXT})}})},
        "rows_dimension": {"enum": ["country"]},
        "cols": {"enum": list(DIMENSIONS)},
        "statuses": {"type": "array", "items": {"enum": list(LEGAL_STATUSES)}},
        "years": {"type": "array", "items": {"type": "integer"}},
        "as_of": _nullable({"type": "string", "format": "date"}) | {
            "description": "The day the statuses are those of; null for today."},
        "status_strength": {"type": "array", "items": {"enum": list(LEGAL_STATUSES)},
                            "description": "Legal statuses from the strongest to the weakest."},
        "html_url": URL,
    })}


def _matrix_paths(bad_request: dict[str, Any]) -> dict[str, Any]:
    from tracker.services.matrix import DIMENSIONS, ROW_DIMENSIONS

    return {"/matrix": {"get": _conditional({
        "operationId": "getMatrix",
        "summary": N_("Countries compared: published instruments per country and topic, type, vehicle class or kind."),
        "description": ("The table of `/compare`: a row per ASEAN member and one for regional instruments, a column "
                        "per value of `cols`, and in each cell the number of published instruments and the "
                        "strongest status among them; a cell with none says whether the jurisdiction has "
                        "nothing with this value (`none`) or nothing on this dimension at all (`not_researched`)."),
        "security": OPTIONAL_AUTH,
        "parameters": [
            {"name": "rows", "in": "query", "required": False, "description": "What the rows are: `country`.",
             "schema": {"type": "string", "enum": list(ROW_DIMENSIONS), "default": "country"}},
            {"name": "cols", "in": "query", "required": False, "description": (
                "What the columns are: `topic`, `instrument` (type), `vehicle_class` or `kind` (legislation, "
                "incentive, standard, target, strategy)."),
             "schema": {"type": "string", "enum": list(DIMENSIONS), "default": "topic"}, "example": "kind"},
            _array_param("status", list(LEGAL_STATUSES), "Count only instruments in these statuses (on `as_of` "
                         "when given); repeat for several."),
            _array_param("year", None, "Count only instruments of these years (of adoption, else of the first "
                         "dated status step).", {"type": "integer", "minimum": 1000, "maximum": 9999}),
            AS_OF_PARAM | {"example": "2024-12-31"},
        ],
        "responses": {"200": _ok("Matrix", "The matrix."), "400": bad_request, "401": _unauthorized()}})}}
