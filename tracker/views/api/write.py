"""The write API under /api/v1: create and edit records, status changes and publication, by bearer token."""
from __future__ import annotations

import contextlib
import json
import math
import re
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request, url_for
from sqlalchemy.orm import Session
from werkzeug.exceptions import PreconditionRequired, UnsupportedMediaType

from tracker.db import unit_of_work
from tracker.errors import TYPE_WORDS, Invalid, MergeConflict, StaleEdit
from tracker.models import AuditEntry
from tracker.services import editing, schema_check
from tracker.services import events as event_service
from tracker.services import policies as policy_service
from tracker.translation import gettext as _
from tracker.views.api import serializers
from tracker.views.api.openapi import IF_MATCH_PATTERN, input_schemas
from tracker.views.errors import error_response
from tracker.views.security import api_user, include_unpublished, role_required
from tracker.views.support import db_session

# NUL cannot be stored by PostgreSQL, and an unpaired UTF-16 surrogate (which JSON's \\u escapes can
# spell) cannot be encoded as UTF-8 at all; both are refused before anything reaches a column.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

def register(bp: Blueprint) -> None:
    """Add the write routes to the API blueprint (called once, where the blueprint is made)."""
    bp.add_url_rule("/policies", "create_policy", create_policy, methods=["POST"])
    bp.add_url_rule("/policies/<key>", "update_policy", update_policy, methods=["PATCH"])
    bp.add_url_rule("/policies/<key>/status", "change_policy_status", change_policy_status, methods=["POST"])
    bp.add_url_rule("/policies/<key>/status/<int:position>", "update_policy_status_step",
                    update_policy_status_step, methods=["PATCH"])
    bp.add_url_rule("/policies/<key>/editorial", "set_policy_editorial_state", set_policy_editorial_state,
                    methods=["POST"])
    bp.add_url_rule("/policies/<key>/key", "change_policy_key", change_policy_key, methods=["POST"])
    bp.add_url_rule("/events", "create_event", create_event, methods=["POST"])
    bp.add_url_rule("/events/<key>", "update_event", update_event, methods=["PATCH"])
    bp.add_url_rule("/events/<key>/editorial", "set_event_editorial_state", set_event_editorial_state,
                    methods=["POST"])
    bp.add_url_rule("/events/<key>/key", "change_event_key", change_event_key, methods=["POST"])
    bp.register_error_handler(StaleEdit, _stale_edit)
    bp.after_request(_bearer_challenge)


# ---------------------------------------------------------------------------------------------------
# Reading the body


class _BadJSON(ValueError):
    """JSON that the standard parser would take but that is not interoperable JSON."""


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            raise _BadJSON(f"the field '{name[:60]}' appears twice in one object")
        result[name] = value
    return result


def _reject_constant(name: str) -> None:
    raise _BadJSON(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _BadJSON(f"the number {text[:40]} is out of range")
    return value


def _unstorable_text(value: Any) -> str | None:
    """The path of the first string (or field name) holding a character no database column can store."""
    # Iterative: a body may nest as deep as the JSON parser allows, deeper than a recursive walk.
    stack: list[tuple[str, Any]] = [("body", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if _UNSTORABLE.search(item):
                return path
        elif isinstance(item, list):
            stack.extend((f"{path}[{index}]", element) for index, element in enumerate(item))
        elif isinstance(item, dict):
            for name, element in item.items():
                if _UNSTORABLE.search(name):
                    return path
                stack.append((name[:60] if path == "body" else f"{path}.{name[:60]}", element))
    return None


def json_body() -> dict[str, Any]:
    """The request's body as a JSON object.

    Raises:
        UnsupportedMediaType (415): not sent as application/json in UTF-8.
        RequestEntityTooLarge (413): above MAX_CONTENT_LENGTH.
        Invalid (400): empty, not UTF-8, not JSON, not an object (``errors["body"]`` says which), or
            holding text no column can store (``errors`` names the field).
    """
    charset = request.mimetype_params.get("charset", "utf-8").lower()
    if request.mimetype != "application/json" or charset not in ("utf-8", "utf8"):
        raise UnsupportedMediaType(_("Send the body as JSON in UTF-8, with "
                                     "'Content-Type: application/json'."))
    # Cached: a request run again after a lost deadlock reads its body a second time.
    raw = request.get_data()
    if not raw.strip():
        raise Invalid(_("The body is empty."), {"body": _("Send a JSON object.")})
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise Invalid(_("The body is not UTF-8."), {"body": _("Byte %(position)s is not valid UTF-8.",
                                                              position=error.start)}) from error
    try:
        data = json.loads(text, object_pairs_hook=_object_without_duplicates, parse_constant=_reject_constant,
                          parse_float=_finite_float)
    except json.JSONDecodeError as error:
        raise Invalid(_("The body is not valid JSON."),
                      {"body": _("%(problem)s at line %(line)s, column %(column)s.", problem=error.msg,
                                 line=error.lineno, column=error.colno)}) from error
    except RecursionError:
        raise Invalid(_("The body is not valid JSON."), {"body": _("It is nested too deeply.")}) from None
    except ValueError as error:  # _BadJSON, or an integer with more digits than Python converts
        raise Invalid(_("The body is not valid JSON."), {"body": str(error)[:200]}) from error
    if not isinstance(data, dict):
        raise Invalid(_("The body must be a JSON object."),
                      {"body": _("Send a JSON object, not %(kind)s.",
                                 kind=_(TYPE_WORDS[schema_check.json_type(data)]))})
    unstorable = _unstorable_text(data)
    if unstorable is not None:
        raise Invalid(_("The body holds text that cannot be stored."),
                      {unstorable: _("Text may not hold U+0000 (NUL) or an unpaired surrogate "
                                     "such as \\ud800.")})
    return data


# ---------------------------------------------------------------------------------------------------
# Checking the body against its schema in the OpenAPI document


def checked_body(session: Session, schema_name: str) -> dict[str, Any]:
    """The request's JSON object, checked against ``schema_name`` of the OpenAPI document.

    Raises:
        Invalid: naming each field that is unknown, missing, of the wrong type or out of bounds.
    """
    body = json_body()
    choices = policy_service.filter_choices(session)
    components = input_schemas(list(choices.countries), list(choices.topics))
    found = schema_check.check(body, components[schema_name], components)
    if found:
        message = _("Some fields are not valid.")
        if found.truncated:
            message = _("Some fields are not valid. Only the first %(num)s problems are listed.",
                        num=schema_check.MAX_ERRORS)
        raise Invalid(message, found.errors)
    return body


def expected_version(body: dict[str, Any], *, required: bool) -> int | None:
    """The version the edit is based on: ``version`` popped from the body, or the If-Match header.

    Raises:
        Invalid: If-Match is not a quoted version, or disagrees with ``version``.
        PreconditionRequired (428): ``required`` and neither was sent.
    """
    from_body = body.pop("version", None)
    from_header = None
    header = request.headers.get("If-Match")
    if header is not None:
        if not schema_check.matches(IF_MATCH_PATTERN, header):
            raise Invalid(_("If-Match is not a version."),
                          {"If-Match": _('Send the version you read as a quoted number, '
                                         'e.g. If-Match: "7".')})
        from_header = int(header.strip('"'))
    if from_body is not None and from_header is not None and from_body != from_header:
        raise Invalid(_("Two different versions were sent."),
                      {"version": _("Is %(body)s but If-Match says %(header)s; send one of them.",
                                    body=from_body,
                                    header=from_header)})
    version = from_body if from_body is not None else from_header
    if version is None and required:
        raise PreconditionRequired(_("Send the version of the record you edited, as 'version' in the body or "
                                     "as 'If-Match: \"<version>\"', so that nobody's change is overwritten "
                                     "unseen."))
    return version


# ---------------------------------------------------------------------------------------------------
# Transactions and answers


def _change_json(entry: AuditEntry | dict[str, Any]) -> dict[str, Any]:
    if isinstance(entry, dict):
        return entry
    return {"field": entry.field, "old": entry.old_value, "new": entry.new_value, "by": entry.actor_label,
            "at": entry.created_at.isoformat(), "version": entry.version, "action": entry.action}


@contextlib.contextmanager
def _writing(session: Session) -> Iterator[Session]:
    """The request's one transaction: committed when the block succeeds, rolled back when it raises."""
    with unit_of_work(session):
        try:
            yield session
        except StaleEdit as error:
            # Read the audit entries now: the rollback that follows expires them.
            error.changes = [_change_json(entry) for entry in error.changes]
            raise


def _stale_edit(error: StaleEdit) -> Response:
    response = error_response(409, error.message)
    body = response.get_json()
    body["error"]["current_version"] = error.current_version
    body["error"]["changes"] = [_change_json(entry) for entry in error.changes]
    if isinstance(error, MergeConflict):
        body["error"]["conflicts"] = [{"field": conflict.field, "base": conflict.base, "yours": conflict.mine,
                                       "current": conflict.theirs} for conflict in error.plan.conflicts]
    response.set_data(current_app.json.dumps(body))
    return response


def _bearer_challenge(response: Response) -> Response:
    # RFC 6750: a 401 names the scheme to use, and says when the token that was sent is the problem.
    if response.status_code == 401 and "WWW-Authenticate" not in response.headers:
        challenge = 'Bearer realm="tracker"'
        if request.headers.get("Authorization"):
            challenge += ', error="invalid_token"'
        response.headers["WWW-Authenticate"] = challenge
    return response


def _policy_json(session: Session, key: str, staff: bool) -> dict[str, Any]:
    # The service loaded only what the edit needed; reload so the record reads as GET shows it.
    session.expire_all()
    record = policy_service.get_policy(session, key, include_unpublished=staff)
    outgoing, incoming = policy_service.visible_relations(record, staff)
    links = policy_service.visible_forum_links(record.forum_links, staff, side="event")
    return serializers.policy_json(record, outgoing, incoming, links)


def _event_json(session: Session, key: str, staff: bool) -> dict[str, Any]:
    session.expire_all()
    record = event_service.get_event(session, key, include_unpublished=staff)
    links = policy_service.policies_of_event(session, record, include_unpublished=staff)
    return serializers.event_json(record, links)


def _answer(payload: dict[str, Any], status: int, location: str | None = None) -> Response:
    response = jsonify(payload)
    response.status_code = status
    if location is not None:
        response.headers["Location"] = location
    return response


# ---------------------------------------------------------------------------------------------------
# Policies


@role_required("edit")
def create_policy():
    session = db_session()
    body = checked_body(session, "PolicyInput")
    staff = include_unpublished()
    with _writing(session):
        key = editing.create_policy(session, body, api_user()).key
        payload = _policy_json(session, key, staff)
    return _answer(payload, 201, url_for("api.policy", key=key, _external=True))


def _versions(body: dict[str, Any]) -> tuple[int | None, int | None]:
    """(version, base_version) of an edit: one of them is needed; ``base_version`` asks for a merge.

    Raises:
        Invalid: both were sent. PreconditionRequired (428): neither was sent.
    """
    base = body.pop("base_version", None)
    version = expected_version(body, required=base is None)
    if base is not None and version is not None:
        raise Invalid(_("Send either a version or a base version."),
                      {"base_version": _("Send 'version' (or If-Match) for an edit that must be based on the "
                                         "current version, or 'base_version' to merge; not both.")})
    return version, base


@role_required("edit")
def update_policy(key: str):
    session = db_session()
    body = checked_body(session, "PolicyPatch")
    version, base = _versions(body)
    staff = include_unpublished()
    with _writing(session):
        editing.update_policy(session, key, body, api_user(), version, base_version=base)
        payload = _policy_json(session, key, staff)
    return _answer(payload, 200)


@role_required("edit")
def change_policy_status(key: str):
    session = db_session()
    body = checked_body(session, "StatusChangeInput")
    version = expected_version(body, required=False)
    staff = include_unpublished()
    with _writing(session):
        editing.change_status(session, key, body, api_user(), version)
        payload = _policy_json(session, key, staff)
    return _answer(payload, 201)


@role_required("edit")
def update_policy_status_step(key: str, position: int):
    session = db_session()
    body = checked_body(session, "StatusStepPatch")
    version = expected_version(body, required=True)
    staff = include_unpublished()
    with _writing(session):
        editing.update_status_step(session, key, position, body, api_user(), version)
        payload = _policy_json(session, key, staff)
    return _answer(payload, 200)


@role_required("submit_for_review")
def set_policy_editorial_state(key: str):
    session = db_session()
    body = checked_body(session, "EditorialInput")
    version = expected_version(body, required=True)
    staff = include_unpublished()
    with _writing(session):
        editing.set_editorial_state(session, "policy", key, body["state"], api_user(), version,
                                    body.get("reason"))
        payload = _policy_json(session, key, staff)
    return _answer(payload, 200)


@role_required("edit")
def change_policy_key(key: str):
    return _change_key("policy", key)


def _change_key(entity_type: str, key: str) -> Response:
    """A new key for a policy or event; answered with the record at its new address (``Location``)."""
    session = db_session()
    body = checked_body(session, "KeyInput")
    version = expected_version(body, required=True)
    staff = include_unpublished()
    with _writing(session):
        new_key = editing.change_key(session, entity_type, key, body["key"], api_user(), version).key
        payload = (_policy_json if entity_type == "policy" else _event_json)(session, new_key, staff)
    endpoint = "api.policy" if entity_type == "policy" else "api.event"
    return _answer(payload, 200, url_for(endpoint, key=new_key, _external=True))


# ---------------------------------------------------------------------------------------------------
# Events


@role_required("edit")
def create_event():
    session = db_session()
    body = checked_body(session, "EventInput")
    staff = include_unpublished()
    with _writing(session):
        key = editing.create_event(session, body, api_user()).key
        payload = _event_json(session, key, staff)
    return _answer(payload, 201, url_for("api.event", key=key, _external=True))


@role_required("edit")
def update_event(key: str):
    session = db_session()
    body = checked_body(session, "EventPatch")
    version, base = _versions(body)
    staff = include_unpublished()
    with _writing(session):
        editing.update_event(session, key, body, api_user(), version, base_version=base)
        payload = _event_json(session, key, staff)
    return _answer(payload, 200)


@role_required("submit_for_review")
def set_event_editorial_state(key: str):
    session = db_session()
    body = checked_body(session, "EditorialInput")
    version = expected_version(body, required=True)
    staff = include_unpublished()
    with _writing(session):
        editing.set_editorial_state(session, "event", key, body["state"], api_user(), version,
                                    body.get("reason"))
        payload = _event_json(session, key, staff)
    return _answer(payload, 200)


@role_required("edit")
def change_event_key(key: str):
    return _change_key("event", key)
