"""The write API: tokens and roles, JSON bodies, field errors, optimistic locking, and generated junk."""
from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from tests.conftest import PASSWORD, email_of
from tests.factories import event_record, load, policy_record
from tracker import create_app, migrate
from tracker import db as tracker_db
from tracker.db import unit_of_work
from tracker.models import AuditEntry, Event, Policy, Source, StatusChange
from tracker.models.vocab import (
    BODY_ROLES,
    CONFIDENCE_LEVELS,
    FORUM_ROLES,
    INSTRUMENTS,
    LEGAL_STATUSES,
    RELATION_TYPES,
    SOURCE_KINDS,
    VEHICLE_CLASSES,
)
from tracker.services import accounts, editing
from tracker.services.dataset import load_dataset
from tracker.services.record_checks import clean_text

API = "/api/v1"
PUBLISHED_POLICY = "la-gov-resolution-08-2021-ev-policy"
PUBLISHED_EVENT = "lao-ev-forum-2022"
LAO = "ດຳລັດ ວ່າດ້ວຍ ສະຖານີສາກໄຟ ລົດໄຟຟ້າ"
EMOJI = "🔌🚗⚡🇱🇦👩🏽‍🔬"
MAX_BODY = 2 * 1024 * 1024

# Every write endpoint with a body that is valid for it (keys filled in by ``write_targets``).
WRITES = [
    ("POST", "/policies", {"country": "LA", "title_en": "Role check", "instrument": "decree"}),
    ("PATCH", "/policies/{policy}", {"version": 1, "title_en": "Role check"}),
    ("POST", "/policies/{policy}/status", {"status": "consultation"}),
    ("POST", "/policies/{policy}/editorial", {"state": "in_review", "version": 1}),
    ("POST", "/events", {"name_en": "Role check", "kind": "forum"}),
    ("PATCH", "/events/{event}", {"version": 1, "name_en": "Role check"}),
    ("POST", "/events/{event}/editorial", {"state": "in_review", "version": 1}),
]
WRITE_IDS = [f"{method} {path}" for method, path, _ in WRITES]


# ---------------------------------------------------------------------------------------------------
# Helpers


def send(client, method: str, path: str, body: Any = None, headers: dict | None = None, **kwargs):
    """One request to the API; ``body`` is sent as JSON unless raw ``data`` is given."""
    if body is not None:
        kwargs["json"] = body
    return client.open(API + path, method=method, headers=headers or {}, **kwargs)


def counts(session) -> dict[str, int]:
    """Rows of every table a write touches, read from the database."""
    session.expire_all()
    return {model.__tablename__: session.scalar(select(func.count()).select_from(model))
            for model in (Policy, Source, StatusChange, AuditEntry, Event)}


def stored_policy(session, key: str) -> dict[str, Any]:
    """The policy as stored, in the dataset format of the write bodies."""
    session.expire_all()
    policy = session.scalars(select(Policy).where(Policy.key == key).options(
        selectinload(Policy.topic_links), selectinload(Policy.vehicle_class_links),
        selectinload(Policy.bodies), selectinload(Policy.sources), selectinload(Policy.relations),
        selectinload(Policy.status_changes), selectinload(Policy.forum_links), selectinload(Policy.targets))).one()
    return editing.policy_record(session, policy) | {"version": policy.version}


def current_version(session, key: str, model=Policy) -> int:
    session.expire_all()
    return session.scalar(select(model.version).where(model.key == key))


def assert_json_error(response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert error["status"] == status and error["message"]
    return error


@pytest.fixture
def drafts(session):
    """A draft policy and a draft event, the records editors may change."""
    load(session, events=[event_record("write-forum", editorial_state="draft")],
         policies=[policy_record("write-draft", editorial_state="draft")])
    session.commit()
    return {"policy": "write-draft", "event": "write-forum"}


def write_targets(path: str, body: dict, session, drafts) -> tuple[str, dict]:
    """Fill a WRITES path with the draft keys and a body with the records' current versions."""
    body = dict(body)
    if "version" in body:
        model = Event if path.startswith("/events") else Policy
        body["version"] = current_version(session, drafts["event" if model is Event else "policy"], model)
    return path.format(**drafts), body


# ---------------------------------------------------------------------------------------------------
# Happy paths


def test_created_policy_is_a_draft_shown_to_editors_only(client, session, api_token):
    editor = api_token("editor")
    body = {"country": "LA", "title_en": "Charging station decree", "title_lo": LAO + " " + EMOJI,
            "instrument": "decree", "issuer": "la-mem", "topics": ["charging_infrastructure"],
            "vehicle_classes": ["car", "two_wheeler"], "status": "drafting", "status_effective_on": "2024-03",
            "sources": [{"url": "https://example.org/gazette", "title": "Gazette", "published": "2024-03-01",
                         "kind": "official"}]}
    response = send(client, "POST", "/policies", body, editor)

    assert response.status_code == 201
    created = response.get_json()
    location = f"http://localhost{API}/policies/{created['key']}"
    assert response.headers["Location"] == created["url"] == location
    assert created["key"] == "la-charging-station-decree"
    assert created["editorial_state"] == "draft" and isinstance(created["version"], int)
    assert created["title_lo"] == LAO + " " + EMOJI
    assert created["legal_status"] == "drafting"
    assert [(s["status"], s["effective_on"]) for s in created["status_history"]] == [("drafting", "2024-03")]
    # The 201 body is the record exactly as GET returns it to the same reader.
    assert send(client, "GET", f"/policies/{created['key']}", headers=editor).get_json() == created

    assert client.get(f"{API}/policies/{created['key']}").status_code == 404
    assert send(client, "GET", f"/policies/{created['key']}", headers=api_token("partner")).status_code == 404
    listed = send(client, "GET", "/policies?country=LA&per_page=100", headers=editor).get_json()["items"]
    assert created["key"] in {item["key"] for item in listed}
    public = client.get(f"{API}/policies?country=LA&per_page=100").get_json()["items"]
    assert created["key"] not in {item["key"] for item in public}


def test_records_in_review_stay_hidden_from_anonymous_readers_and_partners(client, session, api_token,
                                                                           drafts):
    editor = api_token("editor")
    for kind, key in (("policies", drafts["policy"]), ("events", drafts["event"])):
        model = Policy if kind == "policies" else Event
        response = send(client, "POST", f"/{kind}/{key}/editorial",
                        {"state": "in_review", "version": current_version(session, key, model)}, editor)
        assert response.status_code == 200 and response.get_json()["editorial_state"] == "in_review"
        for headers in ({}, api_token("partner")):
            assert send(client, "GET", f"/{kind}/{key}", headers=headers).status_code == 404
            items = send(client, "GET", f"/{kind}?per_page=100", headers=headers).get_json()["items"]
            assert key not in {item["key"] for item in items}
        for role in ("editor", "reviewer", "admin"):
            assert send(client, "GET", f"/{kind}/{key}", headers=api_token(role)).status_code == 200


def test_patch_changes_the_fields_sent_keeps_the_others_and_writes_the_audit_trail(client, session, api_token,
                                                                                  drafts, users):
    key = drafts["policy"]
    before = stored_policy(session, key)
    response = send(client, "PATCH", f"/policies/{key}",
                    {"version": before["version"], "title_en": "Renamed " + EMOJI, "summary_lo": LAO},
                    api_token("editor"))

    assert response.status_code == 200
    body = response.get_json()
    assert body["title_en"] == "Renamed " + EMOJI and body["summary_lo"] == LAO
    assert body["version"] == before["version"] + 1
    after = stored_policy(session, key)
    assert {name for name in after if after[name] != before[name]} == {"title_en", "summary_lo", "version"}
    entries = session.scalars(select(AuditEntry).where(
        AuditEntry.entity_key == key, AuditEntry.action == "update").order_by(AuditEntry.id)).all()
    assert [(e.field, e.old_value, e.new_value, e.actor_id, e.version) for e in entries] == [
        ("title_en", before["title_en"], "Renamed " + EMOJI, users["editor"].id, after["version"]),
        ("summary_lo", None, LAO, users["editor"].id, after["version"])]


def test_if_match_may_carry_the_version(client, session, api_token, drafts):
    key, editor = drafts["policy"], api_token("editor")
    version = current_version(session, key)
    response = send(client, "PATCH", f"/policies/{key}", {"reference": "No. 1"},
                    editor | {"If-Match": f'"{version}"'})
    assert response.status_code == 200 and response.get_json()["reference"] == "No. 1"

    stale = send(client, "PATCH", f"/policies/{key}", {"reference": "No. 2"},
                 editor | {"If-Match": f'"{version}"'})
    assert assert_json_error(stale, 409)["current_version"] == version + 1
    disagree = send(client, "PATCH", f"/policies/{key}", {"version": version + 1, "reference": "No. 3"},
                    editor | {"If-Match": f'"{version}"'})
    assert "version" in assert_json_error(disagree, 400)["errors"]
    for header in ("*", 'W/"3"', "abc", '"0"', '"1", "2"'):
        malformed = send(client, "PATCH", f"/policies/{key}", {"reference": "No. 4"},
                         editor | {"If-Match": header})
        assert "If-Match" in assert_json_error(malformed, 400)["errors"]
    assert stored_policy(session, key)["reference"] == "No. 1"


@pytest.mark.parametrize("path, model", [("/policies/write-draft", Policy), ("/events/write-forum", Event),
                                         ("/policies/write-draft/editorial", Policy),
                                         ("/events/write-forum/editorial", Event)])
def test_an_edit_without_a_version_is_refused_with_428(client, session, api_token, drafts, path, model):
    before = counts(session)
    body = {"state": "in_review"} if path.endswith("editorial") else {"summary_en": "No version"}
    method = "POST" if path.endswith("editorial") else "PATCH"
    error = assert_json_error(send(client, method, path, body, api_token("editor")), 428)
    assert "version" in error["message"]
    assert counts(session) == before


def test_two_patches_of_the_same_version_one_succeeds_one_gets_409_with_what_changed(
        client, session, api_token, drafts):
    key = drafts["policy"]
    version = current_version(session, key)
    title = stored_policy(session, key)["title_en"]
    first = send(client, "PATCH", f"/policies/{key}", {"version": version, "title_en": "First " + LAO},
                 api_token("editor"))
    before = counts(session)
    second = send(client, "PATCH", f"/policies/{key}", {"version": version, "title_en": "Second"},
                  api_token("reviewer"))

    assert first.status_code == 200
    error = assert_json_error(second, 409)
    assert error["current_version"] == version + 1
    assert len(error["changes"]) == 1
    change = error["changes"][0]
    assert (change["field"], change["old"], change["new"], change["by"], change["version"]) == (
        "title_en", title, "First " + LAO, email_of("editor"), version + 1)
    assert change["at"].endswith("+00:00")
    assert counts(session) == before
    assert stored_policy(session, key)["title_en"] == "First " + LAO


def test_a_patch_of_lists_only_also_moves_the_version(client, session, api_token, drafts):
    key = drafts["policy"]
    version = current_version(session, key)
    first = send(client, "PATCH", f"/policies/{key}", {"version": version, "topics": ["import_rules"]},
                 api_token("editor"))
    second = send(client, "PATCH", f"/policies/{key}", {"version": version, "topics": ["fiscal_incentives"]},
                  api_token("editor"))
    assert (first.status_code, second.status_code) == (200, 409)


def test_status_change_is_added_to_the_history_and_sets_the_legal_status(client, session, api_token, users):
    before = stored_policy(session, PUBLISHED_POLICY)
    evidence = "https://example.org/still-in-force"
    response = send(client, "POST", f"/policies/{PUBLISHED_POLICY}/status",
                    {"status": before["status"], "effective_on": "2030-01-15", "evidence_url": evidence,
                     "note": "  ຍັງມີຜົນສັກສິດ " + EMOJI, "version": before["version"]}, api_token("editor"))

    assert response.status_code == 201
    body = response.get_json()
    assert body["legal_status"] == before["status"]
    assert body["status_history"][-1] | {"recorded_at": None} == {
        "from_status": before["status"], "status": before["status"], "effective_on": "2030-01-15",
        "note": "ຍັງມີຜົນສັກສິດ " + EMOJI, "note_lo": None, "evidence_url": evidence, "recorded_at": None,
        "position": len(before["status_history"]) + 1, "gazetted_on": None, "consultation": None}
    assert len(body["status_history"]) == len(before["status_history"]) + 1
    entry = session.scalars(select(AuditEntry).where(AuditEntry.entity_key == PUBLISHED_POLICY,
                                                     AuditEntry.action == "status_change")).one()
    assert (entry.field, entry.actor_id) == ("legal_status", users["editor"].id)


def test_status_change_outside_the_transition_table_needs_a_reviewer_and_a_reason(client, session, api_token,
                                                                                 drafts):
    key = drafts["policy"]  # in force: going back to drafting is outside the table
    change = {"status": "drafting", "effective_on": "2030"}
    before = counts(session)
    assert_json_error(send(client, "POST", f"/policies/{key}/status", change, api_token("editor")), 403)
    without_reason = send(client, "POST", f"/policies/{key}/status", change, api_token("reviewer"))
    error = assert_json_error(without_reason, 400)
    assert "reason" in error["errors"]
    assert counts(session) == before
    response = send(client, "POST", f"/policies/{key}/status",
                    change | {"reason": "The decree was sent back."}, api_token("reviewer"))
    assert response.status_code == 201 and response.get_json()["legal_status"] == "drafting"


def test_a_stale_status_change_is_refused(client, session, api_token, drafts):
    key = drafts["policy"]
    version = current_version(session, key)
    assert send(client, "PATCH", f"/policies/{key}", {"version": version, "reference": "New"},
                api_token("editor")).status_code == 200
    error = assert_json_error(send(client, "POST", f"/policies/{key}/status",
                                   {"status": "suspended", "version": version}, api_token("editor")), 409)
    assert error["current_version"] == version + 1
    assert [c["field"] for c in error["changes"]] == ["reference"]


def test_publication_editors_submit_reviewers_publish(client, session, api_token, drafts):
    key = drafts["policy"]
    submit = send(client, "POST", f"/policies/{key}/editorial",
                  {"state": "in_review", "version": current_version(session, key)}, api_token("editor"))
    assert submit.status_code == 200 and submit.get_json()["editorial_state"] == "in_review"
    publish = {"state": "published", "version": current_version(session, key)}
    assert_json_error(send(client, "POST", f"/policies/{key}/editorial", publish, api_token("editor")), 403)
    impossible = send(client, "POST", f"/policies/{key}/editorial",
                      {"state": "archived", "version": publish["version"]}, api_token("reviewer"))
    assert "state" in assert_json_error(impossible, 400)["errors"]
    published = send(client, "POST", f"/policies/{key}/editorial", publish, api_token("reviewer"))
    assert published.status_code == 200 and published.get_json()["editorial_state"] == "published"
    assert client.get(f"{API}/policies/{key}").status_code == 200
    # A published record is a reviewer's to edit.
    edit = {"version": current_version(session, key), "summary_en": "Edited after publication."}
    assert_json_error(send(client, "PATCH", f"/policies/{key}", edit, api_token("editor")), 403)
    assert send(client, "PATCH", f"/policies/{key}", edit, api_token("reviewer")).status_code == 200


def test_events_are_created_edited_and_published(client, session, api_token):
    editor = api_token("editor")
    response = send(client, "POST", "/events", {
        "name_en": "3rd Lao EV Forum", "name_lo": "ກອງປະຊຸມ ລົດໄຟຟ້າ ຄັ້ງທີ 3 " + EMOJI, "kind": "forum",
        "country": "LA", "starts_on": "2026-05", "organisers": ["la-mem"],
        "topics": ["charging_infrastructure"],
        "sources": [{"url": "https://example.org/forum", "title": None, "published": None}]}, editor)
    assert response.status_code == 201
    event = response.get_json()
    assert response.headers["Location"] == event["url"]
    assert (event["key"], event["editorial_state"], event["starts_on"]) == (
        "3rd-lao-ev-forum", "draft", "2026-05")
    assert event["name_lo"] == "ກອງປະຊຸມ ລົດໄຟຟ້າ ຄັ້ງທີ 3 " + EMOJI
    assert send(client, "GET", f"/events/{event['key']}", headers=editor).get_json() == event
    assert client.get(f"{API}/events/{event['key']}").status_code == 404

    patched = send(client, "PATCH", f"/events/{event['key']}",
                   {"version": event["version"], "venue": "ວຽງຈັນ", "ends_on": "2026-05-20"}, editor)
    assert patched.status_code == 200
    assert (patched.get_json()["venue"], patched.get_json()["ends_on"]) == ("ວຽງຈັນ", "2026-05-20")
    stale = send(client, "PATCH", f"/events/{event['key']}", {"version": event["version"], "venue": "Pakse"},
                 editor)
    assert {c["field"] for c in assert_json_error(stale, 409)["changes"]} == {"venue", "ends_on"}

    published = send(client, "POST", f"/events/{event['key']}/editorial",
                     {"state": "published", "version": patched.get_json()["version"]}, api_token("reviewer"))
    assert published.status_code == 200 and published.get_json()["editorial_state"] == "published"
    assert client.get(f"{API}/events/{event['key']}").status_code == 200


# ---------------------------------------------------------------------------------------------------
# Tokens and roles


@pytest.mark.parametrize("method, path, body", WRITES, ids=WRITE_IDS)
def test_writes_need_a_token_of_a_role_that_may_write(client, session, api_token, users, drafts, method, path,
                                                      body):
    path, body = write_targets(path, body, session, drafts)
    before = counts(session)

    anonymous = send(client, method, path, body)
    assert_json_error(anonymous, 401)
    assert anonymous.headers["WWW-Authenticate"] == 'Bearer realm="tracker"'
    assert_json_error(send(client, method, path, body, api_token("partner")), 403)
    for header in ("Bearer not-a-token", "Basic ZWRpdG9yOnB3", "Bearer "):
        wrong = send(client, method, path, body, {"Authorization": header})
        assert_json_error(wrong, 401)
        assert wrong.headers["WWW-Authenticate"].startswith("Bearer ")
    # The API never takes the session cookie, even of a signed-in editor.
    with client.session_transaction() as cookie:
        cookie["_user_id"] = users["editor"].session_token
        cookie["_fresh"] = True
    assert_json_error(send(client, method, path, body), 401)
    assert counts(session) == before


def test_a_revoked_token_is_refused(client, session, api_token, users, drafts):
    editor = api_token("editor")
    assert send(client, "GET", f"/policies/{drafts['policy']}", headers=editor).status_code == 200
    token = accounts.list_api_tokens(session, users["editor"])[0]
    accounts.revoke_api_token(session, users["editor"], token.id)
    session.commit()

    response = send(client, "POST", "/policies",
                    {"country": "LA", "title_en": "Revoked", "instrument": "law"}, editor)
    assert_json_error(response, 401)
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="tracker", error="invalid_token"'
    assert_json_error(send(client, "GET", f"/policies/{drafts['policy']}", headers=editor), 401)


def test_an_unknown_key_is_a_404(client, api_token):
    reviewer = api_token("reviewer")
    for method, path, body in (("PATCH", "/policies/no-such-policy", {"version": 1, "title_en": "X"}),
                               ("POST", "/policies/no-such-policy/status", {"status": "adopted"}),
                               ("POST", "/policies/no-such-policy/editorial",
                                {"state": "published", "version": 1}),
                               ("PATCH", "/events/no-such-event", {"version": 1, "name_en": "X"}),
                               ("POST", "/events/no-such-event/editorial",
                                {"state": "published", "version": 1})):
        assert_json_error(send(client, method, path, body, reviewer), 404)


# ---------------------------------------------------------------------------------------------------
# Bodies


BAD_BODIES = [
    pytest.param(415, b'{"title_en": "x"}', "text/plain", id="text"),
    pytest.param(415, b"title_en=x", "application/x-www-form-urlencoded", id="form"),
    pytest.param(415, b'{"title_en": "x"}', None, id="no-content-type"),
    pytest.param(415, b'{"title_en": "x"}', "application/json; charset=latin-1", id="latin-1"),
    pytest.param(400, b"", "application/json", id="empty"),
    pytest.param(400, b'{"title_en": "x",}', "application/json", id="malformed"),
    pytest.param(400, b"[]", "application/json", id="array"),
    pytest.param(400, b'"a policy"', "application/json", id="string"),
    pytest.param(400, b"null", "application/json", id="null"),
    pytest.param(400, b'{"title_en": "a", "title_en": "b"}', "application/json", id="duplicate-field"),
    pytest.param(400, b'{"title_en": NaN}', "application/json", id="nan"),
    pytest.param(400, b'{"version": 1e400}', "application/json", id="huge-number"),
    pytest.param(400, b'{"version": ' + b"9" * 5000 + b"}", "application/json", id="endless-digits"),
    pytest.param(400, b'{"title_en": "\xff\xfe"}', "application/json", id="not-utf-8"),
    pytest.param(400, b'{"title_en": "\\ud800"}', "application/json", id="lone-surrogate"),
    pytest.param(400, b'{"title_en": "a\\u0000b"}', "application/json", id="nul"),
    pytest.param(400, b"[" * 100_000 + b"]" * 100_000, "application/json", id="deep-nesting"),
    pytest.param(413, b'{"title_en": "' + b"x" * MAX_BODY + b'"}', "application/json", id="too-large"),
]


@pytest.mark.parametrize("method, path, body", WRITES, ids=WRITE_IDS)
@pytest.mark.parametrize("status, data, content_type", BAD_BODIES)
def test_bodies_that_are_not_a_json_object_are_refused_and_nothing_is_written(
        client, session, api_token, drafts, method, path, body, status, data, content_type):
    path, _ = write_targets(path, body, session, drafts)
    before = counts(session)
    headers = api_token("reviewer") | ({"Content-Type": content_type} if content_type else {})
    error = assert_json_error(client.open(API + path, method=method, data=data, headers=headers), status)
    if status == 400:
        assert error["errors"]
    assert counts(session) == before


@pytest.mark.parametrize("method, path, body", WRITES, ids=WRITE_IDS)
def test_unknown_fields_are_each_named(client, session, api_token, drafts, method, path, body):
    path, body = write_targets(path, body, session, drafts)
    before = counts(session)
    unknown = {"colour": "red", "editorial_state": "published", "ລະຫັດ": 1}
    response = send(client, method, path, body | unknown, api_token("reviewer"))
    errors = assert_json_error(response, 400)["errors"]
    assert {"colour", "editorial_state", "ລະຫັດ"} <= set(errors)
    assert counts(session) == before


def test_field_errors_are_written_in_the_language_the_client_asks_for(client, session, api_token):
    headers = api_token("editor") | {"Accept-Language": "lo"}
    response = send(client, "POST", "/policies", {
        "country": "LA", "instrument": "decree", "summary_en": "x" * 20001, "topics": [5],
        "sources": [{"title": "ບໍ່ມີທີ່ຢູ່"}]}, headers)
    errors = assert_json_error(response, 400)["errors"]
    assert errors["sources[0].url"] == "ຕ້ອງປ້ອນຂໍ້ມູນໃນຊ່ອງນີ້."
    assert errors["summary_en"] == "ຊ່ອງນີ້ຍາວ 20001 ຕົວອັກສອນ; ຂີດຈຳກັດແມ່ນ 20000."
    assert "ຂໍ້ຄວາມ" in errors["topics[0]"] and "ຈຳນວນເຕັມ" in errors["topics[0]"]
    untitled = send(client, "POST", "/policies", {"country": "LA", "instrument": "decree"}, headers)
    assert assert_json_error(untitled, 400)["errors"] == {
        "title_en": "ໃສ່ຊື່ເອກະສານເປັນພາສາອັງກິດ ຫຼື ພາສາລາວ (ຫຼື ທັງສອງ)."}


def test_field_errors_name_each_field_down_to_list_items(client, session, api_token):
    before = counts(session)
    response = send(client, "POST", "/policies", {
        "country": "XX", "title_en": "", "instrument": "decree", "topics": ["import_rules", "import_rules"],
        "valid_from": "2023-7", "summary_en": "x" * 20001, "confidence": "sure",
        "other_bodies": [{"org": "la-mem", "role": "boss"}],
        "sources": [{"url": "https://example.org/ok"}, {"url": "ftp://example.org/gazette", "kind": 3},
                    {"title": "No address"}],
        "relations": [{"type": "amends", "target": 42}], "conflicts": [""], "key": "Not A Key"},
        api_token("editor"))
    errors = assert_json_error(response, 400)["errors"]
    # The body's shape is checked first: the missing title is named once the shape is right (below).
    assert set(errors) == {"country", "topics[1]", "valid_from", "summary_en", "confidence",
                           "other_bodies[0].role", "sources[1].url", "sources[1].kind", "sources[2].url",
                           "relations[0].target", "conflicts[0]", "key"}
    assert errors["sources[1].url"].startswith("'ftp://example.org/gazette' is not an http(s) URL")
    assert errors["summary_en"] == "This field is 20001 characters long; the limit is 20000."
    assert errors["sources[2].url"] == "This field is required."
    assert errors["topics[1]"] == "'import_rules' is listed twice."
    assert errors["sources[1].kind"].startswith("'3' is not one of: ")
    untitled = send(client, "POST", "/policies", {"country": "LA", "title_en": "", "title_lo": " ",
                                                   "instrument": "decree"}, api_token("editor"))
    assert assert_json_error(untitled, 400)["errors"] == {"title_en": "Give the title in English or in Lao (or both)."}
    assert counts(session) == before


def test_rules_the_schema_cannot_state_are_named_by_the_service(client, session, api_token, drafts):
    editor = api_token("editor")
    before = counts(session)
    response = send(client, "POST", "/policies", {
        "key": drafts["policy"], "country": "LA", "title_en": "Taken", "instrument": "decree"}, editor)
    assert "key" in assert_json_error(response, 400)["errors"]
    response = send(client, "POST", "/policies", {
        "country": "LA", "title_en": "Rules", "instrument": "decree", "issuer": "no-such-org",
        "valid_from": "2024", "valid_to": "2023", "sources": [{"url": "https://example.org/a",
                                                               "published": "2023-02-30"}],
        "forum_links": [{"event": "no-such-event", "role": "discussed"}]}, editor)
    errors = assert_json_error(response, 400)["errors"]
    assert {"issuer", "valid_to", "sources[0].published", "forum_links[0].event"} <= set(errors)
    assert counts(session) == before


def test_a_body_just_under_the_size_limit_is_stored_whole(client, session, api_token):
    """Every list at its longest, in Lao, emoji and markup: about 1.9 MiB, taken and kept exactly."""
    lao = (LAO + " " + EMOJI + " <b>")[:40]
    body = {
        "country": "LA", "title_en": "<script>alert('x')</script>" + EMOJI, "instrument": "strategy",
        "title_lo": (lao * 13)[:500], "summary_lo": (lao * 500)[:20000], "summary_en": (lao * 500)[:20000],
        "conflicts": [(lao * 125)[:5000] for _ in range(50)],
        "sources": [{"url": f"https://example.org/{number}/" + "ກ" * 1900, "title": (lao * 25)[:1000],
                     "published": "2023-07-14", "kind": "official"} for number in range(100)],
        "relations": [{"type": "related", "target": None, "target_reference": f"{number} " + (lao * 13)[:490]}
                      for number in range(100)],
    }
    size = len(json.dumps(body, ensure_ascii=False).encode())
    assert 1.5 * 1024 * 1024 < size < MAX_BODY
    response = client.post(f"{API}/policies", data=json.dumps(body, ensure_ascii=False).encode(),
                           content_type="application/json", headers=api_token("editor"))
    assert response.status_code == 201, response.get_data(as_text=True)[:300]
    stored = stored_policy(session, response.get_json()["key"])
    for name in ("title_en", "title_lo", "summary_lo", "summary_en", "conflicts", "relations"):
        assert stored[name] == body[name], name
    assert stored["sources"] == body["sources"]


# ---------------------------------------------------------------------------------------------------
# The OpenAPI document


def test_every_write_route_and_method_is_documented_with_its_answers(app, client):
    document = client.get(f"{API}/openapi.json").get_json()
    # Flask's "<int:endpoint_id>" is OpenAPI's "{endpoint_id}".
    routes = {(re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix(API)), method.lower())
              for rule in app.url_map.iter_rules() if rule.rule.startswith(API)
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    assert routes == documented
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "description": document["components"]["securitySchemes"][
            "bearerAuth"]["description"]}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method == "get":
                continue
            assert operation["security"] == [{"bearerAuth": []}]
            # Any account may manage its own subscriptions and endpoints; records need a staff role.
            own = path.startswith(("/subscriptions", "/webhooks"))
            if "requestBody" in operation and "multipart/form-data" in operation["requestBody"]["content"]:
                # A file upload (an attached document, an import): staff only, size-limited, no JSON; to a
                # record that may not exist when the path names one.
                required = {"400", "401", "403", "413"} | ({"404"} if "{" in path else set())
                assert operation["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"]
            elif "requestBody" in operation:
                required = {"400", "401", "413", "415"} | (set() if own else {"403"})
                assert operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            elif path.startswith("/documents/"):
                # Removing an attached document: staff only.
                required = {"401", "403", "404"}
            elif path.startswith("/imports/"):
                # Applying an import's dry run: staff only, refused when content changed since.
                required = {"401", "403", "404", "409"}
            else:
                # Only a partner's own actions without a body (delete, rotate a secret, send a test).
                assert own, (method, path)
                required = {"401", "404"}
            assert required <= set(operation["responses"]), (method, path)
    error = document["components"]["schemas"]["Error"]["properties"]["error"]["properties"]
    assert {"current_version", "changes", "errors"} <= set(error)


# ---------------------------------------------------------------------------------------------------
# Generated input: whatever arrives, never a 5xx; a refusal writes nothing; what is taken is kept exactly.

# Text that is valid but easy to mangle: two scripts, emoji sequences, markup, controls, padding.
TEXT_PIECES = [LAO, EMOJI, "<script>alert('x')</script>", "'; DROP TABLE policies; --", "\u202etxet\u202c",
               "e\u0301", "\u200b", "\ufeff", "\r\n", "\t", "  padded  ", "ຸ", "🏳️‍🌈", "\\u0000", "&amp;"]
storable = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
                    st.text(max_size=20), st.sampled_from(TEXT_PIECES + ["a\x00b", "ກ" * 600]))
junk = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)), max_leaves=12)


def texts(max_size: int, *, blank: bool = True) -> st.SearchStrategy[str]:
    """Valid text up to ``max_size`` characters (blank only when ``blank``), sometimes exactly that long."""
    short = st.lists(st.one_of(st.sampled_from(TEXT_PIECES), st.text(storable, max_size=12)), max_size=5)
    strategy = st.one_of(short.map("".join).filter(lambda text: len(text) <= max_size),
                         st.sampled_from(["ກ" * max_size, (EMOJI * max_size)[:max_size]]))
    return strategy if blank else strategy.filter(str.strip)


def maybe(strategy: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(st.none(), strategy)


def bad(*values: Any) -> st.SearchStrategy:
    return st.one_of(st.sampled_from(list(values)), junk)


dates = st.one_of(st.sampled_from(["2023", "2023-07", "2023-07-14", "2024-02-29", "1000-01-01"]),
                  st.dates(min_value=dt.date(1000, 1, 1)).map(dt.date.isoformat).flatmap(
                      lambda day: st.sampled_from([day, day[:7], day[:4]])))
BAD_DATES = ["2023-02-29", "2023-13", "23", " 2023", "2023-7", "2023\n", "໒໐໒໓", 2023, "", "0999"]
urls = st.sampled_from(["https://example.org/a", "http://example.org:8080/ກະຊວງ?q=ລົດ#x", "https://a.b",
                        "https://example.org/" + "x" * 1970, "http://127.0.0.1/path;params?a=1&b=2"])
BAD_URLS = ["ftp://example.org", "https://[::1", "https://ex\uff03ample.org", "javascript:alert(1)",
            " https://example.org", "https://", "", "HTTPS://EXAMPLE.ORG", "https://example.org/a b",
            "https://example.org/" + "x" * 2000]
ORGS = ["la-mem", "la-edl", "la-mpwt"]
EVENTS = [PUBLISHED_EVENT, "lao-ev-summit-2019"]


def policy_fields(countries: list[str], topic_keys: list[str]) -> dict[str, tuple[st.SearchStrategy, ...]]:
    """Each field of a policy body: (a valid value, a value that must be refused)."""
    org = st.sampled_from(ORGS)
    relation_types = st.sampled_from(list(RELATION_TYPES))
    return {
        "country": (st.sampled_from(countries), bad("XX", "la", "", None)),
        "title_en": (texts(500, blank=False), bad("ກ" * 501, "", "   ", None, "a\x00b")),
        "title_lo": (maybe(texts(500)), bad("ກ" * 501)),
        "title_local": (maybe(texts(500)), bad(EMOJI * 100)),
        "reference": (maybe(texts(300)), bad("x" * 301)),
        "instrument": (st.sampled_from(list(INSTRUMENTS)), bad("bogus", None)),
        "issuer": (maybe(org), bad("no-such-org", "LA-MEM", "")),
        "other_bodies": (st.lists(st.fixed_dictionaries({"org": org,
                                                         "role": st.sampled_from(list(BODY_ROLES))}),
                                  max_size=3, unique_by=lambda body: (body["org"], body["role"])),
                         bad([{"org": "la-mem", "role": "boss"}], [{"org": "nobody", "role": "partner"}],
                             [{"org": "la-mem", "role": "partner"}] * 2, [{"org": "la-mem"}], ["la-mem"])),
        "topics": (st.lists(st.sampled_from(topic_keys), unique=True, max_size=4),
                   bad(["nope"], [topic_keys[0]] * 2, topic_keys[0], None)),
        "vehicle_classes": (st.lists(st.sampled_from(list(VEHICLE_CLASSES)), unique=True, max_size=3),
                            bad(["boat"], ["car", "car"])),
        "valid_from": (maybe(st.sampled_from(["2019", "2020-06"])), bad(*BAD_DATES)),
        "valid_to": (maybe(st.sampled_from(["2030", "2031-12-31"])), bad(*BAD_DATES, "2001")),
        "summary_en": (maybe(texts(20000)), bad("x" * 20001)),
        "summary_lo": (maybe(texts(20000)), bad("ກ" * 20001)),
        "relations": (st.lists(st.one_of(
            st.fixed_dictionaries({"type": relation_types, "target": st.just(PUBLISHED_POLICY)},
                                  optional={"target_reference": maybe(texts(500))}),
            st.fixed_dictionaries({"type": relation_types, "target_reference": texts(500, blank=False)},
                                  optional={"target": st.none()})),
            max_size=2),
            bad([{"type": "likes", "target": PUBLISHED_POLICY}], [{"type": "amends"}],
                [{"type": "amends", "target": "no-such-policy"}],
                [{"type": "amends", "target_reference": " "}])),
        "forum_links": (st.lists(st.fixed_dictionaries(
            {"event": st.sampled_from(EVENTS), "role": st.sampled_from(list(FORUM_ROLES))},
            optional={"evidence": maybe(texts(5000)), "source_url": maybe(urls)}),
            max_size=2, unique_by=lambda link: (link["event"], link["role"])),
            bad([{"event": "no-such-event", "role": "discussed"}],
                [{"event": PUBLISHED_EVENT, "role": "heard"}],
                [{"event": PUBLISHED_EVENT, "role": "discussed"}] * 2)),
        "sources": (st.lists(st.fixed_dictionaries(
            {"url": urls}, optional={"title": maybe(texts(1000)), "published": maybe(dates),
                                     "kind": st.sampled_from([None, *SOURCE_KINDS])}), max_size=3),
            bad(*[[{"url": url}] for url in BAD_URLS], [{"url": "https://a.b", "published": "2023-02-30"}],
                [{"url": "https://a.b", "kind": "rumour"}], [{"title": "no url"}])),
        "confidence": (st.sampled_from([None, *CONFIDENCE_LEVELS]), bad("sure", "HIGH")),
        "conflicts": (st.lists(texts(5000, blank=False), max_size=2), bad([""], [" "], ["x" * 5001], "text")),
    }


def bodies(fields: dict[str, tuple[st.SearchStrategy, ...]], required: tuple[str, ...] = ()):
    """Valid objects of some fields; the same with one field made wrong or unknown; or plain junk."""
    optional = {name: pair[0] for name, pair in fields.items() if name not in required}
    valid = st.fixed_dictionaries({name: fields[name][0] for name in required}, optional=optional)
    wrongs = {name: pair[1] for name, pair in fields.items()} | {"colour": junk,
                                                                  "editorial_state": st.just("published")}
    broken = st.tuples(valid, st.sampled_from(sorted(wrongs))).flatmap(
        lambda pair: wrongs[pair[1]].map(lambda value: pair[0] | {pair[1]: value}))
    return st.one_of(valid, valid, broken, broken, junk)


def blank_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def cleaned(value: Any, *, multiline: bool = False) -> Any:
    """Text as the service stores it (line breaks of single-line fields made spaces, control characters
    dropped; see record_checks.clean_text), blank as None."""
    if isinstance(value, str):
        value = clean_text(value, multiline=multiline)
    return blank_to_none(value)


def as_stored(name: str, value: Any) -> Any:
    """What the dataset format holds after a field was accepted with ``value``."""
    if name in ("title_en", "title_lo", "title_local", "reference"):
        return cleaned(value)
    if name in ("summary_en", "summary_lo"):
        return cleaned(value, multiline=True)
    if name == "sources":
        return [{"url": s["url"], "title": cleaned(s.get("title")), "published": s.get("published"),
                 "kind": s.get("kind")} for s in value]
    if name == "relations":
        return [{"type": r["type"], "target": r.get("target"),
                 "target_reference": cleaned(r.get("target_reference"))} for r in value]
    if name == "forum_links":
        return [{"event": f["event"], "role": f["role"], "evidence": cleaned(f.get("evidence"), multiline=True),
                 "evidence_lo": cleaned(f.get("evidence_lo"), multiline=True),
                 "source_url": f.get("source_url")} for f in value]
    if name == "conflicts":
        return [cleaned(note) for note in value]
    return value


@pytest.fixture
def choices(session) -> tuple[list[str], list[str]]:
    """The country codes and topic keys the database holds."""
    from tracker.models import Jurisdiction, Topic

    return (list(session.scalars(select(Jurisdiction.code))),
            list(session.scalars(select(Topic.key).order_by(Topic.position))))


# Derandomized: the same generated bodies on every run, so a run on CI checks what a run here checked.
FUZZ = settings(max_examples=150, deadline=None, database=None, derandomize=True,
                suppress_health_check=list(HealthCheck))


def assert_refused_cleanly(response, before: dict, after: dict) -> None:
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
    if response.status_code >= 400:
        assert_json_error(response, response.status_code)
        assert after == before, "a refused request wrote something"


@pytest.mark.slow
def test_generated_policies_are_stored_exactly_or_refused_without_a_trace(client, session, api_token,
                                                                          choices):
    editor = api_token("editor")
    fields = policy_fields(*choices) | {
        "status": (st.sampled_from(list(LEGAL_STATUSES)), bad("nope", "IN_FORCE")),
        "status_effective_on": (maybe(dates), bad(*BAD_DATES)),
        "status_note": (maybe(texts(5000)), bad("x" * 5001)),
        "status_evidence_url": (maybe(urls), bad(*BAD_URLS)),
        "key": (st.from_regex(r"[a-z0-9][a-z0-9_-]{0,30}[a-z0-9]", fullmatch=True),
                bad("Bad Key", PUBLISHED_POLICY, "-x", "x" * 121, "key\n")),
    }
    record_fields = [name for name in fields if not name.startswith("status") and name != "key"]
    outcomes = Counter()

    @given(body=bodies(fields, ("country", "title_en", "instrument")))
    @example(body={"country": "LA", "title_en": LAO + " " + EMOJI, "instrument": "decree", "topics": []})
    @example(body={"country": "LA", "title_en": "  ", "instrument": "decree"})
    @FUZZ
    def run(body):
        before = counts(session)
        response = send(client, "POST", "/policies", body, editor)
        assert_refused_cleanly(response, before, counts(session))
        outcomes[response.status_code] += 1
        if response.status_code == 201:
            stored = stored_policy(session, response.get_json()["key"])
            assert stored["key"] == body.get("key", stored["key"])
            for name in record_fields:
                expected = as_stored(name, body[name]) if name in body else (
                    [] if isinstance(stored[name], list) else None)
                assert stored[name] == expected, name
            assert stored["status_history"] == [{
                "status": body.get("status", "proposed"), "date": body.get("status_effective_on"),
                "note": cleaned(body.get("status_note"), multiline=True),
                "note_lo": cleaned(body.get("status_note_lo"), multiline=True),
                "source_url": body.get("status_evidence_url")}]
            assert stored["editorial_state"] == "draft"

    run()
    assert outcomes[201] >= 5 and outcomes[400] >= 5, outcomes


@pytest.mark.slow
def test_generated_merges_keep_the_others_changes_and_apply_only_what_they_send(client, session, api_token,
                                                                                drafts, choices):
    """A PATCH with ``base_version`` after someone else saved: every field it does not send keeps the other
    person's value; every field it sends that the other left alone takes its value; a field both changed
    differently is a 409 naming it; anything refused writes nothing."""
    key = drafts["policy"]
    fields = policy_fields(*choices)
    theirs_fields = {name: fields[name][0] for name in ("summary_en", "valid_to", "reference", "topics",
                                                         "title_lo", "sources")}
    outcomes = Counter()

    @given(theirs=st.fixed_dictionaries({}, optional=theirs_fields), mine=bodies(fields),
           role=st.sampled_from(["editor", "reviewer"]))
    @example(theirs={"valid_to": "2031-12-31"}, mine={"summary_en": "Mine."}, role="editor")
    @example(theirs={"summary_en": "Theirs."}, mine={"summary_en": "Mine.", "reference": "No. 1"}, role="editor")
    @example(theirs={"topics": [choices[1][0]]}, mine={"topics": [choices[1][1]]}, role="reviewer")
    @FUZZ
    def run(theirs, mine, role):
        base = stored_policy(session, key)
        first = send(client, "PATCH", f"/policies/{key}", theirs | {"version": base["version"]}, api_token("reviewer"))
        assert first.status_code in (200, 400), first.get_data(as_text=True)[:300]
        middle = stored_policy(session, key)
        body = mine | {"base_version": base["version"]} if isinstance(mine, dict) else mine
        before = counts(session)
        response = send(client, "PATCH", f"/policies/{key}", body, api_token(role))
        assert_refused_cleanly(response, before, counts(session))
        outcomes[response.status_code] += 1
        after = stored_policy(session, key)
        if response.status_code != 200:
            assert after == middle
            if response.status_code == 409 and middle["version"] > base["version"]:
                conflicts = response.get_json()["error"].get("conflicts", [])
                assert all(c["field"] in mine and middle[c["field"]] != base[c["field"]] for c in conflicts)
            return
        for name in fields:
            mine_value = as_stored(name, mine[name]) if name in mine else None
            if name not in mine or mine_value == base[name]:
                assert after[name] == middle[name], name  # the other person's value stands
            elif middle[name] == base[name]:
                assert after[name] == mine_value, name  # only I changed it
        assert after["version"] in (middle["version"], middle["version"] + 1)

    run()
    assert outcomes[200] >= 5 and outcomes[400] >= 5, outcomes


@pytest.mark.slow
def test_generated_patches_change_exactly_what_they_send_or_nothing(client, session, api_token, drafts,
                                                                    choices):
    key = drafts["policy"]
    fields = policy_fields(*choices)
    outcomes = Counter()

    @given(body=bodies(fields), version=st.sampled_from(["current", "current", "old", "none"]),
           role=st.sampled_from(["editor", "reviewer"]))
    @example(body={"title_lo": EMOJI}, version="current", role="editor")
    @example(body={"title_lo": LAO}, version="old", role="editor")
    @example(body={"title_lo": LAO}, version="none", role="reviewer")
    @FUZZ
    def run(body, version, role):
        before_record = stored_policy(session, key)
        if isinstance(body, dict) and version != "none":
            body = body | {"version": before_record["version"] - (version == "old")}
        before = counts(session)
        response = send(client, "PATCH", f"/policies/{key}", body, api_token(role))
        assert_refused_cleanly(response, before, counts(session))
        outcomes[response.status_code] += 1
        after_record = stored_policy(session, key)
        if response.status_code == 200:
            for name in fields:
                expected = as_stored(name, body[name]) if name in body else before_record[name]
                assert after_record[name] == expected, name
            assert response.get_json()["version"] == after_record["version"]
        else:
            assert after_record == before_record

    run()
    assert outcomes[200] >= 5 and outcomes[400] and outcomes[409] and outcomes[428], outcomes


@pytest.mark.slow
def test_generated_status_changes_add_one_step_or_nothing(client, session, api_token, drafts):
    key = drafts["policy"]
    fields = {"status": (st.sampled_from(list(LEGAL_STATUSES)), bad("nope", "", None)),
              "effective_on": (maybe(dates), bad(*BAD_DATES)),
              "note": (maybe(texts(5000)), bad("x" * 5001)),
              "evidence_url": (maybe(urls), bad(*BAD_URLS)),
              "reason": (st.one_of(st.just("Confirmed by the gazette."), texts(5000, blank=False)),
                         bad("x" * 5001, None, " "))}
    outcomes = Counter()

    def steps(record: dict) -> Counter:
        return Counter((s["status"], s["date"], s["note"], s["source_url"]) for s in record["status_history"])

    # Mostly a reviewer giving a reason, who may record any move; editors are refused moves outside the
    # transition table, and a missing reason is among the wrong values.
    @given(body=bodies(fields, ("status", "reason")),
           role=st.sampled_from(["reviewer", "reviewer", "editor"]),
           stale=st.sampled_from([False, False, False, True]))
    @example(body={"status": "suspended", "reason": LAO}, role="reviewer", stale=False)
    @example(body={"status": "repealed", "reason": LAO}, role="reviewer", stale=True)
    @FUZZ
    def run(body, role, stale):
        before_record = stored_policy(session, key)
        if isinstance(body, dict) and stale:
            body = body | {"version": before_record["version"] - 1}
        before = counts(session)
        response = send(client, "POST", f"/policies/{key}/status", body, api_token(role))
        assert_refused_cleanly(response, before, counts(session))
        outcomes[response.status_code] += 1
        after_record = stored_policy(session, key)
        if response.status_code == 201:
            note = body.get("note")
            added = steps(after_record) - steps(before_record)
            # Stored as the service cleans notes (see record_checks.clean_text), trimmed; blank as None.
            stored_note = clean_text(note, multiline=True).strip() or None if isinstance(note, str) else None
            assert added == Counter({(body["status"], body.get("effective_on"), stored_note,
                                      body.get("evidence_url")): 1})
            assert after_record["status"] == after_record["status_history"][-1]["status"]
            assert response.get_json()["legal_status"] == after_record["status"]
        else:
            assert after_record == before_record

    run()
    assert outcomes[201] >= 5 and outcomes[400] and outcomes[409], outcomes


@pytest.mark.slow
@pytest.mark.parametrize("method, path, body", WRITES, ids=WRITE_IDS)
def test_raw_junk_never_breaks_a_write_endpoint(client, session, api_token, drafts, method, path, body):
    path, _ = write_targets(path, body, session, drafts)
    reviewer = api_token("reviewer")
    content_types = st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain",
                                     "application/x-www-form-urlencoded", "application/json; charset=latin-1",
                                     "multipart/form-data; boundary=x"])
    payloads = st.one_of(st.binary(max_size=300), junk.map(lambda value: json.dumps(value).encode()),
                         st.text(max_size=50).map(lambda text: text.encode("utf-8", "surrogatepass")))

    @given(data=payloads, content_type=content_types)
    @settings(max_examples=40, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    def run(data, content_type):
        before = counts(session)
        response = client.open(API + path, method=method, data=data,
                               headers=reviewer | {"Content-Type": content_type})
        assert_refused_cleanly(response, before, counts(session))

    run()


# ---------------------------------------------------------------------------------------------------
# Real concurrency through the API: two threads, one SQLite file


def _app_over_file(path: Path, key: str, names: tuple[str, ...]):
    """An application over its own SQLite file holding one draft policy ``key``, and an editor's API token
    for each of ``names``."""
    application = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{path}",
                              "SECRET_KEY": "test-secret-key-not-for-production",
                              "SEARCH_INDEX_PATH": str(path.parent / f"{path.stem}-search-index")})
    database = application.extensions["tracker.db"]
    migrate.upgrade(database.engine)
    tokens = {}
    with unit_of_work(database.session(write=True)) as session:
        load_dataset(session, {
            "organisations": [{"key": "la-mem", "name_en": "Ministry of Energy and Mines", "name_lo": None,
                               "country": "LA", "kind": "ministry"},
                              {"key": "la-edl", "name_en": "EDL", "name_lo": None, "country": "LA",
                               "kind": "utility"}],
            "topics": [{"key": "charging_infrastructure", "name_en": "Charging", "name_lo": None},
                       {"key": "fiscal_incentives", "name_en": "Fiscal", "name_lo": None}],
            "policies": [policy_record(key, editorial_state="draft")]})
        for name in names:
            user = accounts.create_user(session, f"{name}@example.org", PASSWORD, "editor")
            tokens[name] = {"Authorization": f"Bearer {accounts.create_api_token(session, user, key)[1]}"}
    return application, tokens


@pytest.fixture
def file_app(tmp_path: Path):
    """A second application over its own SQLite file, for requests that really run at the same time."""
    application, tokens = _app_over_file(tmp_path / "race.db", "raced", ("ana", "bounmy"))
    yield application, tokens
    application.extensions["tracker.db"].dispose()


def test_two_requests_patching_the_same_version_at_once_give_one_200_and_one_409(file_app):
    application, tokens = file_app
    reader = application.test_client()
    for round_number in range(5):
        version = reader.get(f"{API}/policies/raced", headers=tokens["ana"]).get_json()["version"]
        start = threading.Barrier(len(tokens), timeout=30)
        responses: dict[str, Any] = {}

        def editor(name: str, start=start, version=version, round_number=round_number,
                   responses=responses) -> None:
            client = application.test_client()
            start.wait()
            try:
                body = {"version": version, "title_en": f"{name} {round_number}"}
                responses[name] = client.patch(f"{API}/policies/raced", headers=tokens[name], json=body)
            except BaseException as error:  # asserted below
                responses[name] = error

        threads = [threading.Thread(target=editor, args=(name,)) for name in tokens]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in threads)
        statuses = {name: getattr(response, "status_code", response) for name, response in responses.items()}
        assert sorted(statuses.values()) == [200, 409], statuses
        winner = next(name for name, status in statuses.items() if status == 200)
        conflict = next(r for r in responses.values() if r.status_code == 409).get_json()["error"]
        assert conflict["current_version"] == version + 1
        assert [(c["field"], c["new"], c["by"]) for c in conflict["changes"]] == [
            ("title_en", f"{winner} {round_number}", f"{winner}@example.org")]
        stored = reader.get(f"{API}/policies/raced", headers=tokens["ana"]).get_json()
        assert (stored["title_en"], stored["version"]) == (f"{winner} {round_number}", version + 1)


def test_a_write_that_waits_out_the_busy_timeout_answers_503_and_saves_nothing(tmp_path, monkeypatch):
    # A short wait, so that the test does not sit out the real fifteen seconds; the lock itself is real.
    monkeypatch.setattr(tracker_db, "SQLITE_BUSY_TIMEOUT_MS", 200)
    application, tokens = _app_over_file(tmp_path / "busy.db", "busy", ("ana",))
    database, token = application.extensions["tracker.db"], tokens["ana"]
    client = application.test_client()
    version = client.get(f"{API}/policies/busy", headers=token).get_json()["version"]
    # Another writer (a long import, say) holds the write lock for longer than the wait.
    holder = sqlite3.connect(tmp_path / "busy.db", isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        busy = client.patch(f"{API}/policies/busy", headers=token | {"Accept-Language": "lo"},
                            json={"version": version, "title_en": "Saved while busy"})
        assert busy.status_code == 503
        assert busy.headers["Retry-After"] == "5"
        message = busy.get_json()["error"]["message"]
        assert "ບໍ່ຖືກບັນທຶກ" in message, message  # the reader's language: "nothing was saved"
    finally:
        holder.rollback()
        holder.close()
    stored = client.get(f"{API}/policies/busy", headers=token).get_json()
    assert (stored["title_en"], stored["version"]) == ("Test policy busy", version)
    again = client.patch(f"{API}/policies/busy", headers=token,
                         json={"version": version, "title_en": "Saved a moment later"})
    assert again.status_code == 200
    database.dispose()
