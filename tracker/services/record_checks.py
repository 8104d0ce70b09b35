"""Checking one record in the dataset format: text cleaned, the shape checked against the declared record
format (tracker.models.record_format) with jsonschema, then the rules a schema cannot state (keys that must
exist, a title in one language at least, an end after its start, real calendar days)."""
from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from tracker.errors import FieldError, Invalid, clip, field_path
from tracker.models.record_format import (
    KEY_PATTERN,
    MULTILINE_FIELDS,
    RESERVED_KEYS,
    URL_PATTERN,
    input_schemas,
    record_schemas,
    string_schema,
)
from tracker.models.target import VALUE_DECIMALS
from tracker.models.types import PartialDate, PartialDateError
from tracker.models.vocab import SHARE_METRICS
from tracker.services import schema_check

# Line breaks: kept in multi-line fields (as \n), each turned into a space in single-line ones, as are tabs.
_LINE_BREAKS = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
_SPACING = re.compile("[\t\v\f]")
# Other C0 and C1 control characters (and DEL): invisible, never meant (pasted from PDFs and terminals).
# NUL is left for the checker, which refuses it: it marks binary data, not text.
_CONTROL = re.compile("[\x01-\x08\x0e-\x1f\x7f-\x9f]")
# Any character clean_text changes, or NUL: text without one is kept as it is, without three substitutions.
_NEEDS_CLEANING = re.compile("[\x00-\x08\t-\x1f\x7f-\x9f\u2028\u2029]")
_DATE_CODES = {"format": "date_format", "year": "date_year", "month": "date_month", "day": "date_day"}


def clean_text(text: str, *, multiline: bool) -> str:
    """Text as the tracker stores it: in a single-line field (a title, a name, a reference) every line break
    and tab becomes a space, since one line break in a title breaks every mail header and feed title it
    reaches; in a multi-line field line breaks become ``\n`` and tabs stay; other control characters are
    dropped everywhere."""
    if multiline:
        text = _LINE_BREAKS.sub("\n", text).replace("\v", " ").replace("\f", " ")
    else:
        text = _SPACING.sub(" ", _LINE_BREAKS.sub(" ", text))
    return _CONTROL.sub("", text)


def date_error(error: PartialDateError, value: str) -> FieldError:
    """A PartialDate's refusal as a FieldError."""
    text = clip(value, 80)
    if error.reason == "month":
        match = re.match(r"^\s*\d{4}-(\d+)", value)
        return FieldError("date_month", value=text, month=int(match.group(1)) if match else 0)
    return FieldError(_DATE_CODES.get(error.reason, "date_format"), value=text)


def check_key(key: Any) -> FieldError | None:
    """What is wrong with a record's own key, if anything."""
    if not isinstance(key, str) or not KEY_PATTERN.fullmatch(key):
        return FieldError("key_format")
    if key in RESERVED_KEYS:
        return FieldError("key_reserved", value=key)
    return None


@dataclass
class RecordProblem:
    """One thing wrong with a record: which record, which field, what is wrong."""

    record: str
    field: str
    error: FieldError

    def __str__(self) -> str:
        return f"{self.record}: {self.field}: {self.error}"


def problems_to_invalid(problems: Iterable[RecordProblem], message: str) -> Invalid:
    """The problems of one record as an Invalid naming each field (the first problem of each)."""
    errors: dict[str, FieldError] = {}
    for problem in problems:
        errors.setdefault(problem.field, problem.error)
    return Invalid(message, errors)


class RecordCheck:
    """One record being checked: its text cleaned, its shape checked against the record format, and what the
    rules below find. ``value(path)`` is the cleaned value at a path, or None where a problem was found."""

    def __init__(self, problems: list[RecordProblem], record: str, data: Any, kind: str,
                 countries: Iterable[str]) -> None:
        self.problems = problems
        self.record = record
        self.failed: set[str] = set()
        if not isinstance(data, Mapping):
            self.fail("(record)", FieldError("type", expected="object", actual=schema_check.json_type(data)))
            self.data: dict[str, Any] = {}
            return
        nul: list[str] = []
        self.data = _cleaned(dict(data), (), nul)
        found = schema_check.check(self.data, _schemas(tuple(sorted(countries)))[kind], blank_is_missing=True)
        for path, error in found.errors.items():
            self.fail(path, error)
        for path in nul:
            if not self._failed_at(path):
                self.fail(path, FieldError("nul"))

    def fail(self, path: str, error: FieldError) -> None:
        self.failed.add(path)
        self.problems.append(RecordProblem(self.record, path, error))

    def _failed_at(self, path: str) -> bool:
        return any(path == failed or path.startswith((failed + ".", failed + "[")) for failed in self.failed)

    def ok(self, path: str) -> bool:
        """No problem was found at ``path`` or in what contains it."""
        return not self.failed or not self._failed_at(path)

    def value(self, *parts: str | int) -> Any:
        """The cleaned value at a path (``"sources", 2, "url"``), or None when absent or refused."""
        # Most records have no problem: their paths need not be spelt out (a large import reads millions).
        if self.failed and not self.ok(field_path(parts)):
            return None
        value: Any = self.data
        for part in parts:
            if isinstance(part, int):
                value = value[part] if isinstance(value, list) and part < len(value) else None
            else:
                value = value.get(part) if isinstance(value, dict) else None
        return value

    def items(self, name: str) -> list[Any]:
        value = self.value(name)
        return value if isinstance(value, list) else []

    def date(self, *parts: str | int) -> PartialDate | None:
        raw = self.value(*parts)
        if raw is None:
            return None
        try:
            return PartialDate.parse(raw)
        except PartialDateError as error:
            self.fail(field_path(parts), date_error(error, raw))
            return None

    def keys_in(self, name: str, known: Iterable[str], code: str) -> list[str]:
        """The keys listed in ``name``, each of which must be in ``known`` (else ``code``, an unknown_* error)."""
        known = known if isinstance(known, (set, frozenset, dict)) else set(known)
        keys = []
        for index, key in enumerate(self.items(name)):
            if not self.ok(field_path((name, index))) or not isinstance(key, str):
                continue
            if key not in known:
                self.fail(field_path((name, index)), FieldError(code, value=clip(key)))
            else:
                keys.append(key)
        return keys

    def require_one(self, record: Mapping[str, Any], first: str, second: str, code: str) -> None:
        """A record needs ``first`` or ``second`` (a title in English or in Lao): named on ``first``."""
        if record[first] is None and record[second] is None and self.ok(first) and self.ok(second):
            self.fail(first, FieldError(code))


def checked_text(value: Any, *, max_length: int, required: bool = False,
                 multiline: bool = True) -> tuple[str | None, FieldError | None]:
    """Text from a form or a body, cleaned (clean_text, outer spaces trimmed, blank as None) and checked
    against its limit: (text, None), or (None, what is wrong)."""
    nul: list[str] = []
    cleaned = _cleaned(value, ("note" if multiline else "title",), nul)
    if nul:
        return None, FieldError("nul")
    found = schema_check.check(cleaned, string_schema(max_length, nullable=not required), blank_is_missing=True)
    if found:
        return None, next(iter(found.errors.values()))
    return (cleaned.strip() if isinstance(cleaned, str) else None), None


def checked_input(data: Mapping[str, Any], schema_name: str) -> tuple[dict[str, Any], dict[str, FieldError]]:
    """A body of the write API (``schema_name`` of tracker.models.record_format.input_schemas), its text
    cleaned and trimmed (blank as None): (the values, what is wrong with each field)."""
    nul: list[str] = []
    cleaned = {name: _cleaned(value, (name,), nul) for name, value in data.items()}
    found = schema_check.check(cleaned, input_schemas([], [])[schema_name], blank_is_missing=True)
    errors = dict(found.errors)
    for path in nul:
        errors.setdefault(path, FieldError("nul"))
    values = {name: value.strip() if isinstance(value, str) else value for name, value in cleaned.items()
              if name not in errors}
    return values, errors


_EMAIL = re.compile(r"^[^@\s<>()\[\],;:\"]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*"
                    r"[A-Za-z0-9])?)+$")
_HTTPS = re.compile(URL_PATTERN.replace("^https?", "^https"))
WINDOW_TEXTS = ("how_to_comment_en", "how_to_comment_lo", "comment_address", "draft_url")


def parse_day(value: Any) -> tuple[dt.date | None, FieldError | None]:
    """A day written YYYY-MM-DD (a comment period is counted in days, so a month or a year is not enough)."""
    if value is None:
        return None, None
    try:
        if not isinstance(value, str) or len(value) != 10:
            raise ValueError(value)
        return dt.date.fromisoformat(value), None
    except ValueError:
        return None, FieldError("full_date", value=clip(str(value), 80))


def check_comment_window(raw: Mapping[str, Any], documents: Set[int] | None = None
                         ) -> tuple[dict[str, Any], dict[str, FieldError]]:
    """A comment period whose shape was checked (cleaned text, patterns): (its values, what is wrong with each
    part). The days are real days and the period closes on or after it opens; the address is an email
    address or an https URL; ``draft_document``, when ``documents`` is given, is one of them."""
    errors: dict[str, FieldError] = {}
    values: dict[str, Any] = {name: raw.get(name) for name in WINDOW_TEXTS}
    for name in ("opens_on", "closes_on"):
        values[name], error = parse_day(raw.get(name))
        if error is not None:
            errors[name] = error
    if values["opens_on"] and values["closes_on"] and values["closes_on"] < values["opens_on"]:
        errors["closes_on"] = FieldError("closes_before_opens")
    address = values["comment_address"]
    if address is not None and not (_EMAIL.fullmatch(address) or _HTTPS.fullmatch(address)):
        errors["comment_address"] = FieldError("comment_address", value=clip(address, 80))
    values["draft_document"] = None
    if documents is not None:
        document = raw.get("draft_document")
        if document is not None and document not in documents:
            errors["draft_document"] = FieldError("unknown_document", value=clip(str(document)))
        elif document is not None:
            values["draft_document"] = document
    return values, errors


@functools.lru_cache(maxsize=8)
def _schemas(countries: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    return record_schemas(list(countries))


def _cleaned(value: Any, path: tuple[str | int, ...], nul: list[str]) -> Any:
    """``value`` with every text cleaned (clean_text; blank text becomes null), noting where NUL is."""
    if isinstance(value, dict):
        return {name: _cleaned(item, (*path, name), nul) for name, item in value.items()}
    if isinstance(value, list):
        return [_cleaned(item, (*path, index), nul) for index, item in enumerate(value)]
    if isinstance(value, str):
        if not _NEEDS_CLEANING.search(value):
            return value if value.strip() else None
        names = [part for part in path if isinstance(part, str)]
        text = clean_text(value, multiline=bool(names) and names[-1] in MULTILINE_FIELDS)
        if "\x00" in text:
            nul.append(field_path(path))
        return text if text.strip() else None
    return value


# ---------------------------------------------------------------------------------------------------
# The records


def check_organisation(check: RecordCheck, key: str, organisation_keys: Iterable[str]) -> dict[str, Any]:
    """An organisation record: a name in English or Lao (or both), an acronym, a country, a kind and
    optionally the key of the body it belongs to."""
    record = {"key": key, "name_en": check.value("name_en"), "name_lo": check.value("name_lo"),
              "acronym": check.value("acronym"), "country": check.value("country"), "kind": check.value("kind"),
              "parent": None}
    check.require_one(record, "name_en", "name_lo", "name_needed")
    parent = check.value("parent")
    if parent is not None:
        if parent not in set(organisation_keys):
            check.fail("parent", FieldError("unknown_organisation", value=clip(parent)))
        elif parent == key:
            check.fail("parent", FieldError("own_parent"))
        else:
            record["parent"] = parent
    return record


def check_topic(check: RecordCheck, key: str) -> dict[str, Any]:
    return {"key": key, "name_en": check.value("name_en"), "name_lo": check.value("name_lo")}


def _sources(check: RecordCheck, with_kind: bool) -> list[dict[str, Any]]:
    sources = []
    for index, raw in enumerate(check.items("sources")):
        if not isinstance(raw, dict):
            continue
        source = {"url": check.value("sources", index, "url"), "title": check.value("sources", index, "title"),
                  "published": check.date("sources", index, "published")}
        if with_kind or raw.get("kind") is not None:
            source["kind"] = check.value("sources", index, "kind")
        sources.append(source)
    return sources


def _as_set(keys: Iterable[str]) -> Set[str]:
    # A set passed in is used as it is: copying the keys of every policy for each record checked made a
    # dataset's check quadratic.
    return keys if isinstance(keys, (set, frozenset)) else set(keys)


def check_event(check: RecordCheck, key: str, known: Mapping[str, Iterable[str]]) -> dict[str, Any]:
    """An event record, its links to organisations and topics resolved against ``known`` keys."""
    event: dict[str, Any] = {
        "key": key, "name_en": check.value("name_en"), "name_lo": check.value("name_lo"),
        "kind": check.value("kind"), "country": check.value("country"),
        "starts_on": check.date("starts_on"), "ends_on": check.date("ends_on"),
        "date_note": check.value("date_note"), "venue": check.value("venue"),
    }
    check.require_one(event, "name_en", "name_lo", "name_needed")
    if event["starts_on"] and event["ends_on"] and event["ends_on"].latest() < event["starts_on"].earliest():
        check.fail("ends_on", FieldError("ends_before_start"))
    organisations = _as_set(known["organisations"])
    for role in ("organisers", "funders", "partners"):
        event[role] = check.keys_in(role, organisations, "unknown_organisation")
    event["topics"] = check.keys_in("topics", known["topics"], "unknown_topic")
    event["summary_en"] = check.value("summary_en")
    event["summary_lo"] = check.value("summary_lo")
    event["sources"] = _sources(check, with_kind=False)
    event["editorial_state"] = check.value("editorial_state") or "published"
    return event


def check_policy(check: RecordCheck, key: str, known: Mapping[str, Iterable[str]]) -> dict[str, Any]:
    """A policy record with its history, links and sources, other records resolved against ``known`` keys."""
    organisations = _as_set(known["organisations"])
    policy: dict[str, Any] = {
        "key": key, "country": check.value("country"), "title_en": check.value("title_en"),
        "title_lo": check.value("title_lo"), "title_local": check.value("title_local"),
        "reference": check.value("reference"), "instrument": check.value("instrument"),
        "issuer": None, "other_bodies": [],
    }
    check.require_one(policy, "title_en", "title_lo", "title_needed")
    issuer = check.value("issuer")
    if issuer is not None and issuer not in organisations:
        check.fail("issuer", FieldError("unknown_organisation", value=clip(issuer)))
    else:
        policy["issuer"] = issuer
    seen_bodies = set()
    for index, raw in enumerate(check.items("other_bodies")):
        org, role = check.value("other_bodies", index, "org"), check.value("other_bodies", index, "role")
        if not isinstance(raw, dict) or org is None:
            continue
        if org not in organisations:
            check.fail(field_path(("other_bodies", index, "org")), FieldError("unknown_organisation", value=clip(org)))
        elif role and (org, role) in seen_bodies:
            check.fail(field_path(("other_bodies", index)), FieldError("row_twice"))
        elif role:
            seen_bodies.add((org, role))
            policy["other_bodies"].append({"org": org, "role": role})
    policy["topics"] = check.keys_in("topics", known["topics"], "unknown_topic")
    policy["vehicle_classes"] = [value for index, value in enumerate(check.items("vehicle_classes"))
                                 if check.ok(field_path(("vehicle_classes", index))) and value is not None]

    history = []
    for index, raw in enumerate(check.items("status_history")):
        if not isinstance(raw, dict):
            continue
        step = {
            "status": check.value("status_history", index, "status"),
            "date": check.date("status_history", index, "date"),
            "note": check.value("status_history", index, "note"),
            "note_lo": check.value("status_history", index, "note_lo"),
            "source_url": check.value("status_history", index, "source_url"),
            "gazetted_on": None, "consultation": None,
        }
        path = field_path(("status_history", index))
        step["gazetted_on"], error = parse_day(check.value("status_history", index, "gazetted_on"))
        if error is not None:
            check.fail(path + ".gazetted_on", error)
        window = check.value("status_history", index, "consultation")
        if isinstance(window, dict):
            if step["status"] != "consultation":
                check.fail(path + ".consultation", FieldError("window_not_consultation"))
            else:
                step["consultation"], window_errors = check_comment_window(window)
                for name, error in window_errors.items():
                    check.fail(f"{path}.consultation.{name}", error)
        history.append(step)
    status = check.value("status")
    if not history and status and check.ok("status_history"):
        check.fail("status_history", FieldError("history_needed"))
    elif history and status and history[-1]["status"] and history[-1]["status"] != status:
        check.fail("status", FieldError("status_not_last_step", value=status, last=history[-1]["status"]))
    policy["status"] = status
    policy["status_history"] = history
    policy["valid_from"] = check.date("valid_from")
    policy["valid_to"] = check.date("valid_to")
    if policy["valid_from"] and policy["valid_to"] and policy["valid_to"].latest() < policy["valid_from"].earliest():
        check.fail("valid_to", FieldError("valid_to_before_from"))
    policy["summary_en"] = check.value("summary_en")
    policy["summary_lo"] = check.value("summary_lo")

    relations = []
    for index, raw in enumerate(check.items("relations")):
        if not isinstance(raw, dict):
            continue
        path = field_path(("relations", index))
        target = check.value("relations", index, "target")
        reference = check.value("relations", index, "target_reference")
        if target is not None and target not in _as_set(known["policies"]):
            check.fail(path + ".target", FieldError("unknown_policy", value=clip(target)))
        elif target is not None and target == key:
            check.fail(path + ".target", FieldError("self_relation"))
        elif target is None and reference is None and check.ok(path + ".target") and check.ok(
                path + ".target_reference"):
            check.fail(path, FieldError("relation_target_needed"))
        relations.append({"type": check.value("relations", index, "type"), "target": target,
                          "target_reference": reference})

    links = []
    seen_links = set()
    events = _as_set(known["events"])
    for index, raw in enumerate(check.items("forum_links")):
        if not isinstance(raw, dict):
            continue
        path = field_path(("forum_links", index))
        event_key = check.value("forum_links", index, "event")
        role = check.value("forum_links", index, "role")
        if event_key is not None and event_key not in events:
            check.fail(path + ".event", FieldError("unknown_event", value=clip(event_key)))
        if event_key is not None and role is not None and (event_key, role) in seen_links:
            check.fail(path, FieldError("forum_link_twice"))
        seen_links.add((event_key, role))
        links.append({"event": event_key, "role": role,
                      "evidence": check.value("forum_links", index, "evidence"),
                      "evidence_lo": check.value("forum_links", index, "evidence_lo"),
                      "source_url": check.value("forum_links", index, "source_url")})
    policy["relations"] = relations
    policy["forum_links"] = links
    policy["sources"] = _sources(check, with_kind=True)
    policy["confidence"] = check.value("confidence")
    policy["conflicts"] = [text for index, text in enumerate(check.items("conflicts"))
                           if check.ok(field_path(("conflicts", index))) and text is not None]
    # A record that says nothing of targets (a file written before they existed) leaves them as they are.
    policy["targets"] = _targets(check) if "targets" in check.data else None
    policy["editorial_state"] = check.value("editorial_state") or "published"
    return policy


def target_value(value: Any) -> int | float | None:
    """A target's value as the record format writes it: a whole number as an integer (30, not 30.0), else
    the shortest decimal; None when it is not a number."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    if not number.is_finite():
        return None
    return int(number) if number == number.to_integral_value() else float(number)


def _targets(check: RecordCheck) -> list[dict[str, Any]]:
    """The structured targets of a policy: each with its measure, value, unit and year; a share in percent of
    at most 100; values exact to four decimals; one headline target at most."""
    targets = []
    headline_seen = False
    for index, raw in enumerate(check.items("targets")):
        if not isinstance(raw, dict):
            continue
        path = field_path(("targets", index))
        target = {name: check.value("targets", index, name) for name in (
            "metric", "value", "unit", "year", "vehicle_class", "scope_en", "scope_lo", "headline", "source_url")}
        value = target_value(target["value"])
        if value is not None:
            if -Decimal(str(value)).normalize().as_tuple().exponent > VALUE_DECIMALS:  # type: ignore[operator]
                check.fail(path + ".value", FieldError("target_decimals"))
            elif target["unit"] == "percent" and value > 100:
                check.fail(path + ".value", FieldError("target_percent_over_100", value=clip(value)))
        if target["metric"] in SHARE_METRICS and target["unit"] not in (None, "percent") and check.ok(path + ".unit"):
            check.fail(path + ".unit", FieldError("target_share_unit"))
        headline = target["headline"] is True
        if headline and headline_seen:
            check.fail(path + ".headline", FieldError("target_headline_twice"))
        headline_seen = headline_seen or headline
        targets.append(target | {"value": value, "vehicle_class": target["vehicle_class"] or "all",
                                 "headline": headline})
    return targets
