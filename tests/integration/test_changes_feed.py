"""The changes feed as a syncing client meets it: every change once, in commit order, ending with the published
dataset; tombstones, moved keys, counts and the records that show a renamed one; cursors and limits refused
with a clear message."""
from __future__ import annotations

import io
import random
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import selectinload

from tests.conftest import email_of
from tests.factories import event_record, load, policy_record
from tracker.db import unit_of_work
from tracker.documents.storage import received
from tracker.documents.worker import ExtractionWorker
from tracker.errors import DomainError
from tracker.models import Document, Event, NotificationEvent, Organisation, Policy, Topic, User
from tracker.models.vocab import LEGAL_STATUSES
from tracker.services import accounts
from tracker.services import documents as document_service
from tracker.services.dataset import load_dataset
from tracker.services.editing import change_key as editing_change_key
from tracker.services.editing import (
    change_status,
    create_policy,
    current_record,
    set_editorial_state,
    update_event,
    update_policy,
)
from tracker.services.organisations import update_organisation

POLICY = "la-gov-resolution-08-2021-ev-policy"
RECORD_KEYS = {"policy": "key", "event": "key", "document": "id", "jurisdiction": "code", "topic": "key"}


def key_of(entity_type: str, record: dict[str, Any]) -> str:
    return str(record[RECORD_KEYS[entity_type]])


class SyncingClient:
    """A client that keeps a copy of the published records from the feed alone: one copy by the records'
    stable ids, one by their keys (the two ways docs/api.md says a change may be applied)."""

    def __init__(self, http) -> None:
        self.http = http
        self.cursor: str | None = None
        self.by_id: dict[tuple[str, str], dict] = {}
        self.by_key: dict[tuple[str, str], dict] = {}
        self.changes: list[dict] = []

    def read(self, limit: int) -> bool:
        """Read and apply one page; whether more follow."""
        query = f"limit={limit}" + (f"&since={self.cursor}" if self.cursor is not None else "")
        response = self.http.get(f"/api/v1/changes?{query}")
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_json()
        assert len(body["changes"]) <= limit
        for change in body["changes"]:
            self.apply(change)
        self.cursor = body["next"]
        return body["more"]

    def apply(self, change: dict) -> None:
        self.changes.append(change)
        kind, record = change["type"], change["record"]
        if record is None:
            self.by_id.pop((kind, change["id"]), None)
        else:
            assert key_of(kind, record) == change["key"]
            self.by_id[(kind, change["id"])] = record
        if change["old_key"] is not None:
            self.by_key.pop((kind, change["old_key"]), None)
        if record is None:
            self.by_key.pop((kind, change["key"]), None)
        else:
            self.by_key[(kind, change["key"])] = record

    def catch_up(self, limit: int = 100) -> None:
        while self.read(limit):
            pass

    def copy_by_id_as_keys(self) -> dict[tuple[str, str], dict]:
        return {(kind, key_of(kind, record)): record for (kind, _id), record in self.by_id.items()}


def published_dataset(http) -> dict[tuple[str, str], dict]:
    """Every published record as the API lists it, each as its own endpoint serves it."""
    data: dict[tuple[str, str], dict] = {}
    for kind, path in (("policy", "/api/v1/policies"), ("event", "/api/v1/events")):
        page = 1
        while True:
            body = http.get(f"{path}?per_page=100&page={page}").get_json()
            for item in body["items"]:
                data[(kind, item["key"])] = http.get(f"{path}/{item['key']}").get_json()
            if page >= body["pages"]:
                break
            page += 1
    for _kind, key in [ref for ref in data if ref[0] == "policy"]:
        for document in http.get(f"/api/v1/policies/{key}/documents").get_json()["documents"]:
            data[("document", str(document["id"]))] = http.get(f"/api/v1/documents/{document['id']}").get_json()
    for item in http.get("/api/v1/jurisdictions").get_json()["items"]:
        data[("jurisdiction", item["code"])] = item
    for item in http.get("/api/v1/topics").get_json()["items"]:
        data[("topic", item["key"])] = item
    return data


class Editor:
    """A reviewer making a seeded random sequence of changes through the services, one commit each."""

    def __init__(self, app, rng: random.Random) -> None:
        self.app = app
        self.database = app.extensions["tracker.db"]
        self.rng = rng
        self.done: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()
        self.number = 0

    def step(self) -> None:
        operations = [self.edit_policy, self.edit_policy, self.change_status, self.change_status, self.publish,
                      self.unpublish, self.create_policy, self.edit_event, self.move_event, self.rename_organisation,
                      self.change_key, self.delete_record, self.attach_document, self.remove_document,
                      self.load_edition]
        operation = self.rng.choice(operations)
        self.number += 1
        with unit_of_work(self.database.session(write=True)) as session:
            actor = session.scalars(select(User).where(User.email == email_of("reviewer"))).one()
            try:
                with session.begin_nested():
                    operation(session, actor)
            except DomainError:
                self.refused[operation.__name__] += 1
                return
        self.done[operation.__name__] += 1

    def pick(self, session, model, *, published: bool | None = None):
        statement = select(model).order_by(model.key)
        if published is not None:
            statement = statement.where((model.editorial_state == "published") == published)
        records = session.scalars(statement).all()
        return self.rng.choice(records) if records else None

    def edit_policy(self, session, actor) -> None:
        policy = self.pick(session, Policy)
        if policy is None:
            return
        others = [key for key in session.scalars(select(Policy.key)) if key != policy.key]
        topics = list(session.scalars(select(Topic.key)))
        choice = self.rng.randrange(5)
        if choice == 0:
            changes: dict[str, Any] = {"title_en": f"Retitled policy {self.number}"}
        elif choice == 1:
            changes = {"summary_en": f"Summary written at step {self.number}."}
        elif choice == 2:
            changes = {"topics": self.rng.sample(topics, self.rng.randint(1, 3))}
        elif choice == 3:
            changes = {"relations": [{"type": "related", "target": self.rng.choice(others), "target_reference": None}]}
        else:
            changes = {"sources": [{"url": f"https://example.org/source/{self.number}", "title": "A source",
                                    "published": "2024", "kind": "news"}]}
        update_policy(session, policy.key, changes, actor, None)

    def change_status(self, session, actor) -> None:
        policy = self.pick(session, Policy)
        if policy is not None:
            change_status(session, policy.key, {"status": self.rng.choice(list(LEGAL_STATUSES)),
                                                "note": f"Step {self.number}.", "reason": "Replayed history."}, actor)

    def publish(self, session, actor) -> None:
        for model, entity_type in ((Policy, "policy"), (Event, "event")):
            record = self.pick(session, model, published=False)
            if record is not None and self.rng.random() < 0.7:
                set_editorial_state(session, entity_type, record.key, "published", actor)

    def unpublish(self, session, actor) -> None:
        model, entity_type = self.rng.choice(((Policy, "policy"), (Event, "event")))
        record = self.pick(session, model, published=True)
        if record is not None:
            set_editorial_state(session, entity_type, record.key, self.rng.choice(("archived", "draft")), actor)

    def create_policy(self, session, actor) -> None:
        record = policy_record(f"new-policy-{self.number}", country=self.rng.choice(("LA", "TH", "VN")))
        data = {name: value for name, value in record.items() if name not in ("status_history", "key")}
        data["key"] = record["key"]
        create_policy(session, data, actor)

    def edit_event(self, session, actor) -> None:
        event = self.pick(session, Event)
        if event is not None:
            update_event(session, event.key, {"name_en": f"Renamed forum {self.number}"}, actor, None)

    def move_event(self, session, actor) -> None:
        event = self.pick(session, Event)
        if event is not None:
            update_event(session, event.key, {"country": self.rng.choice(("LA", "KH", "TH"))}, actor, None)

    def rename_organisation(self, session, actor) -> None:
        organisation = self.rng.choice(session.scalars(select(Organisation).order_by(Organisation.key)).all())
        update_organisation(session, organisation.key, {"name_en": f"Renamed body {self.number}"}, actor, None)

    def change_key(self, session, actor) -> None:
        model, entity_type = self.rng.choice(((Policy, "policy"), (Event, "event")))
        record = self.pick(session, model)
        if record is not None:
            editing_change_key(session, entity_type, record.key, f"{record.key[:90]}-moved-{self.number}", actor)

    # No service deletes a policy or an event yet; this goes through the same session (and so the same
    # session events) that such a service would.

    def delete_record(self, session, actor) -> None:
        if self.rng.random() < 0.5:
            record = self.pick(session, Policy)
            if record is None:
                return
            session.scalars(select(Policy).where(Policy.id == record.id).options(
                selectinload(Policy.topic_links), selectinload(Policy.vehicle_class_links),
                selectinload(Policy.bodies), selectinload(Policy.sources), selectinload(Policy.relations),
                selectinload(Policy.status_changes), selectinload(Policy.forum_links))).one()
            session.execute(delete(NotificationEvent).where(NotificationEvent.policy_id == record.id))
        else:
            record = self.pick(session, Event)
            if record is None:
                return
            session.scalars(select(Event).where(Event.id == record.id).options(
                selectinload(Event.organisation_links), selectinload(Event.topic_links),
                selectinload(Event.sources), selectinload(Event.forum_links))).one()
        session.delete(record)
        session.flush()

    def attach_document(self, session, actor) -> None:
        policy = self.pick(session, Policy)
        if policy is None:
            return
        existing = session.scalars(select(Document.id).where(Document.policy_id == policy.id)).all()
        replaces = self.rng.choice(existing) if existing and self.rng.random() < 0.5 else None
        facts = document_service.check_facts({"role": "original", "language": "en",
                                              "version_label": f"Version {self.number}"})
        with received(io.BytesIO(f"Article {self.number}. Charging stations are licensed.\n".encode()),
                      1024 * 1024) as upload:
            document_service.attach(session, policy.key, upload, f"text-{self.number}.txt", facts, actor,
                                    document_service.DocumentSettings.from_config(self.app.config),
                                    replaces=replaces)

    def remove_document(self, session, actor) -> None:
        ids = session.scalars(select(Document.id).order_by(Document.id)).all()
        if ids:
            document_service.remove(session, self.rng.choice(ids), actor)

    def load_edition(self, session, actor) -> None:
        """A newer edition of the dataset: one existing record with a changed summary, one new published one."""
        keys = session.scalars(select(Policy.key).order_by(Policy.key)).all()
        record = current_record(session, "policy", self.rng.choice(keys))
        record["summary_en"] = f"Edition {self.number}."
        load_dataset(session, {"policies": [record, policy_record(f"edition-{self.number}", country="KH")],
                               "events": [event_record(f"edition-forum-{self.number}")]})


@pytest.mark.slow
def test_a_client_replaying_the_feed_through_random_changes_ends_with_the_published_dataset(committed_app, demo_data):
    app = committed_app
    database = app.extensions["tracker.db"]
    with unit_of_work(database.session(write=True)) as session:
        load_dataset(session, demo_data)
        accounts.create_user(session, email_of("reviewer"), "a long enough password", "reviewer")
    http = app.test_client()
    rng = random.Random(20261207)
    client = SyncingClient(http)
    # One client starts before the changes begin; another only at the end, from the beginning.
    client.read(rng.randint(1, 7))
    editor = Editor(app, rng)
    for step in range(140):
        editor.step()
        for _ in range(rng.choice((0, 0, 1, 2))):
            client.read(rng.randint(1, 7))
        if step == 70:
            # The extraction worker changes the documents' state in transactions of its own.
            ExtractionWorker(app).run_until_idle()
    client.catch_up(limit=rng.randint(1, 7))
    late = SyncingClient(http)
    late.catch_up(limit=1000)

    expected = published_dataset(http)
    assert client.by_key == expected
    assert client.copy_by_id_as_keys() == expected
    assert late.by_key == expected and late.copy_by_id_as_keys() == expected
    # The run did what it set out to do: every kind of change happened and reached the client.
    assert set(editor.done) >= {"edit_policy", "change_status", "publish", "unpublish", "create_policy",
                                "edit_event", "move_event", "rename_organisation", "change_key", "delete_record",
                                "attach_document", "remove_document", "load_edition"}, (editor.done, editor.refused)
    kinds = Counter(change["kind"] for change in client.changes)
    assert set(kinds) == {"created", "updated", "status_changed", "unpublished", "deleted"}, kinds
    assert {change["type"] for change in client.changes} == {"policy", "event", "document", "jurisdiction", "topic"}
    assert any(change["old_key"] for change in client.changes)
    assert {("document", "deleted")} <= {(change["type"], change["kind"]) for change in client.changes}
    # Nothing more follows, and the cursor stays where it is.
    cursor = client.cursor
    assert client.read(5) is False and client.cursor == cursor


# ---------------------------------------------------------------------------------------------------
# What a change says


def changes_since(client, cursor: str | None = None, **params) -> dict:
    query = "&".join(f"{name}={value}" for name, value in ({"since": cursor} | params).items() if value is not None)
    response = client.get(f"/api/v1/changes?{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def head(client) -> str:
    """The cursor after the last change so far."""
    body = changes_since(client, limit=1000)
    while body["more"]:
        body = changes_since(client, body["next"], limit=1000)
    return body["next"]


def test_a_status_change_is_one_change_with_the_record_as_its_page_serves_it(client, session, users):
    cursor = head(client)
    change_status(session, POLICY, {"status": "adopted", "note": "Confirmed in the gazette."}, users["reviewer"])
    session.commit()
    body = changes_since(client, cursor)
    # The same status again, with new evidence: no other record shows anything new.
    policy_changes = [change for change in body["changes"] if change["type"] == "policy"]
    assert [(c["kind"], c["key"], c["old_key"]) for c in policy_changes] == [("status_changed", POLICY, None)]
    assert policy_changes[0]["record"] == client.get(f"/api/v1/policies/{POLICY}").get_json()
    assert policy_changes[0]["record"]["status_history"][-1]["note"] == "Confirmed in the gazette."
    assert body["more"] is False
    # Read again from the same cursor: the same answer; from the new one: nothing.
    assert changes_since(client, cursor) == body
    assert changes_since(client, body["next"]) == {"changes": [], "next": body["next"], "more": False}


def test_a_new_status_reaches_the_records_that_show_the_policy(client, session, users):
    record = client.get(f"/api/v1/policies/{POLICY}").get_json()
    related = {relation["policy"]["key"] for relation in record["relations"] if relation["policy"]}
    events = {link["event"]["key"] for link in record["forum_links"]}
    assert related and events
    cursor = head(client)
    change_status(session, POLICY, {"status": "suspended", "note": "Suspended."}, users["reviewer"])
    session.commit()
    changes = changes_since(client, cursor)["changes"]
    assert {(c["type"], c["key"]): c["kind"] for c in changes if c["key"] == POLICY} == {
        ("policy", POLICY): "status_changed"}
    shown = {(c["type"], c["key"]): c["record"] for c in changes if c["key"] != POLICY}
    assert {("policy", key) for key in related} | {("event", key) for key in events} <= set(shown)
    statuses = set()
    for kind, shown_record in ((kind, r) for (kind, _key), r in shown.items() if kind in ("policy", "event")):
        refs = ([r["policy"] for r in shown_record["relations"] if r["policy"]] if kind == "policy"
                else [link["policy"] for link in shown_record["policies"]])
        statuses |= {ref["legal_status"] for ref in refs if ref["key"] == POLICY}
    assert statuses == {"suspended"}


def test_drafts_never_reach_the_feed_and_a_publication_is_a_creation(client, session, users, api_token):
    cursor = head(client)
    load(session, policies=[policy_record("feed-draft", editorial_state="draft")])
    session.commit()
    update_policy(session, "feed-draft", {"summary_en": "Still a draft."}, users["editor"], None)
    session.commit()
    # Not even for a staff token: the feed is the public's view.
    response = client.get(f"/api/v1/changes?since={cursor}", headers=api_token("editor"))
    assert response.get_json()["changes"] == []
    set_editorial_state(session, "policy", "feed-draft", "published", users["reviewer"])
    session.commit()
    body = changes_since(client, cursor)
    by_type = {(c["type"], c["key"]): c for c in body["changes"]}
    assert by_type[("policy", "feed-draft")]["kind"] == "created"
    # The country and the topics count one published policy more.
    assert by_type[("jurisdiction", "TL")]["kind"] == "updated"
    listed = {item["code"]: item for item in client.get("/api/v1/jurisdictions").get_json()["items"]}
    assert by_type[("jurisdiction", "TL")]["record"] == listed["TL"]
    assert {("topic", "charging_infrastructure"), ("topic", "fiscal_incentives")} <= set(by_type)


def test_an_unpublished_record_is_a_tombstone_and_its_earlier_changes_no_longer_show_it(client, session, users):
    cursor = head(client)
    update_policy(session, POLICY, {"summary_en": "A summary the public saw for a while."}, users["reviewer"], None)
    session.commit()
    set_editorial_state(session, "policy", POLICY, "archived", users["reviewer"])
    session.commit()
    changes = [c for c in changes_since(client, cursor)["changes"] if c["type"] == "policy" and c["key"] == POLICY]
    assert [(c["kind"], c["record"]) for c in changes] == [("updated", None), ("unpublished", None)]
    assert client.get(f"/api/v1/policies/{POLICY}").status_code == 404


def test_a_renamed_organisation_reaches_every_record_that_shows_it(client, session, users):
    shown_by = {item["key"] for item in client.get("/api/v1/policies?per_page=100").get_json()["items"]
                if any(body["organisation"]["key"] == "la-edl" for body in client.get(
                    f"/api/v1/policies/{item['key']}").get_json()["other_bodies"])}
    assert shown_by
    cursor = head(client)
    update_organisation(session, "la-edl", {"name_en": "Électricité du Laos (renamed)"}, users["reviewer"], None)
    session.commit()
    changes = changes_since(client, cursor, limit=1000)["changes"]
    updated = {c["key"] for c in changes if c["type"] == "policy"}
    assert shown_by <= updated
    assert all(c["kind"] == "updated" for c in changes)
    record = next(c["record"] for c in changes if c["type"] == "policy" and c["key"] in shown_by)
    assert "Électricité du Laos (renamed)" in {body["organisation"]["name_en"] for body in record["other_bodies"]}


def test_a_moved_key_names_the_old_one_and_a_deletion_is_a_tombstone(client, session):
    cursor = head(client)
    load(session, policies=[policy_record("feed-old-key"), policy_record("feed-doomed")])
    session.commit()
    policy = session.scalars(select(Policy).where(Policy.key == "feed-old-key")).one()
    policy.key = "feed-new-key"
    session.commit()
    doomed = session.scalars(select(Policy).where(Policy.key == "feed-doomed").options(
        selectinload(Policy.topic_links), selectinload(Policy.vehicle_class_links), selectinload(Policy.bodies),
        selectinload(Policy.sources), selectinload(Policy.relations), selectinload(Policy.status_changes),
        selectinload(Policy.forum_links))).one()
    session.delete(doomed)
    session.commit()
    changes = [c for c in changes_since(client, cursor)["changes"] if c["type"] == "policy"]
    moved = [(c["kind"], c["key"], c["old_key"]) for c in changes if c["id"] == str(policy.id)]
    # The first change is read now: the record as it is, under the key it has now.
    assert moved == [("created", "feed-new-key", None), ("updated", "feed-new-key", "feed-old-key")]
    assert [(c["kind"], c["key"], c["record"]) for c in changes if c["id"] == str(doomed.id)] == [
        ("created", "feed-doomed", None), ("deleted", "feed-doomed", None)]


def test_pages_follow_one_another_without_gap_or_overlap(client, session):
    cursor = head(client)
    load(session, policies=[policy_record(f"feed-page-{i}") for i in range(7)])
    session.commit()
    everything = changes_since(client, cursor, limit=1000)["changes"]
    assert len(everything) > 7
    pieces, since = [], cursor
    while True:
        body = changes_since(client, since, limit=3)
        assert len(body["changes"]) <= 3
        pieces += body["changes"]
        since = body["next"]
        if not body["more"]:
            break
    assert pieces == everything


@pytest.mark.parametrize(("query", "field"), [
    ("since=not-a-cursor", "since"), ("since=", "since"), ("since=MS4x%3D", "since"),
    ("since=OTk5OTk5OTk5OS4w", "since"), ("limit=0", "limit"), ("limit=1001", "limit"), ("limit=ten", "limit"),
    ("limit=-1", "limit"), ("cursor=abc", "cursor"),
])
def test_bad_cursors_and_limits_are_refused_naming_the_parameter(client, query, field):
    response = client.get(f"/api/v1/changes?{query}")
    assert response.status_code == 400
    assert list(response.get_json()["error"]["errors"]) == [field]


def test_a_bad_limit_is_explained_in_lao(client):
    response = client.get("/api/v1/changes?limit=5000", headers={"Accept-Language": "lo"})
    assert response.status_code == 400
    message = response.get_json()["error"]["errors"]["limit"]
    assert "1000" in message and any("\u0e80" <= char <= "\u0eff" for char in message)


def test_the_feed_starts_with_the_published_dataset(client):
    body = changes_since(client, limit=1000)
    seen = set()
    while True:
        seen |= {(c["type"], c["key"]) for c in body["changes"] if c["record"] is not None}
        if not body["more"]:
            break
        body = changes_since(client, body["next"], limit=1000)
    assert {("policy", POLICY), ("event", "lao-ev-forum-2023"), ("jurisdiction", "LA")} <= seen
