"""Permanent addresses: after a record's key changes, its old key still leads to it (301) on every page,
download and API read; chains lead to the current key in one step; a key taken by another record is
that record's."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests.factories import event_record, load, policy_record
from tests.integration.test_editing_pages import form_of, submit
from tracker.models import AuditEntry, ChangeProposal, Event, Policy, RecordKeyAlias, Subscription
from tracker.services import editing, permalinks, review, subscriptions
from tracker.services.targets import Target

API = "/api/v1"


def moved(response) -> str:
    assert response.status_code == 301, (response.status_code, response.get_data(as_text=True)[:300])
    assert response.headers["Cache-Control"] == "no-cache"
    return response.headers["Location"]


def rename(session, users, kind: str, old: str, new: str, role: str = "reviewer"):
    record = editing.change_key(session, kind, old, new, users[role])
    session.commit()
    return record


@pytest.fixture
def published(session):
    load(session, policies=[policy_record("perma-a")], events=[event_record("perma-forum")])
    session.commit()


# ---------------------------------------------------------------------------------------------------
# Old keys answer with the current address


def test_a_renamed_policy_answers_its_old_key_on_every_page_download_and_api_read(client, session, users,
                                                                                     login_as, published):
    rename(session, users, "policy", "perma-a", "perma-b")
    assert client.get("/policies/perma-b").status_code == 200
    assert moved(client.get("/policies/perma-a")) == "/policies/perma-b"
    assert moved(client.head("/policies/perma-a")) == "/policies/perma-b"
    for extension in ("bib", "ris", "json"):
        assert moved(client.get(f"/policies/perma-a/cite.{extension}")) == f"/policies/perma-b/cite.{extension}"
    assert moved(client.get(f"{API}/policies/perma-a")) == f"{API}/policies/perma-b"
    assert moved(client.get(f"{API}/policies/perma-a/documents")) == f"{API}/policies/perma-b/documents"
    # The query is kept, repeated parameters included.
    assert moved(client.get("/policies/perma-a/compare?from=1&to=2")) == "/policies/perma-b/compare?from=1&to=2"
    # Staff pages too, for staff.
    login_as("reviewer")
    assert moved(client.get("/policies/perma-a/history")) == "/policies/perma-b/history"
    assert moved(client.get("/policies/perma-a/edit")) == "/policies/perma-b/edit"
    followed = client.get("/policies/perma-a", follow_redirects=True)
    assert followed.status_code == 200 and "perma-b" in followed.get_data(as_text=True)


def test_the_citation_of_a_renamed_record_gives_its_current_address(client, session, users, published):
    rename(session, users, "policy", "perma-a", "perma-b")
    bib = client.get("/policies/perma-a/cite.bib", follow_redirects=True).get_data(as_text=True)
    assert "url = {http://localhost/policies/perma-b}," in bib and "@misc{policy:perma-b," in bib


def test_a_renamed_event_answers_its_old_key(client, session, users, published):
    rename(session, users, "event", "perma-forum", "perma-forum-2024")
    assert moved(client.get("/events/perma-forum")) == "/events/perma-forum-2024"
    assert moved(client.get("/events/perma-forum/cite.ris")) == "/events/perma-forum-2024/cite.ris"
    assert moved(client.get(f"{API}/events/perma-forum")) == f"{API}/events/perma-forum-2024"
    assert client.get(f"{API}/events/perma-forum-2024").get_json()["key"] == "perma-forum-2024"


def test_a_chain_of_changes_leads_from_every_old_key_to_the_current_one_in_one_step(client, session, users,
                                                                                       published):
    rename(session, users, "policy", "perma-a", "perma-b")
    rename(session, users, "policy", "perma-b", "perma-c")
    for old in ("perma-a", "perma-b"):
        assert moved(client.get(f"/policies/{old}")) == "/policies/perma-c"
        assert moved(client.get(f"{API}/policies/{old}")) == f"{API}/policies/perma-c"
    policy_id = session.scalar(select(Policy.id).where(Policy.key == "perma-c"))
    assert permalinks.old_keys(session, "policy", policy_id) == ["perma-a", "perma-b"]
    # Back to a key it had: that key is its own again, and the one it leaves leads to it.
    rename(session, users, "policy", "perma-c", "perma-a")
    assert client.get("/policies/perma-a").status_code == 200
    assert moved(client.get("/policies/perma-c")) == "/policies/perma-a"
    assert permalinks.old_keys(session, "policy", policy_id) == ["perma-b", "perma-c"]


def test_a_key_taken_by_a_new_record_is_that_records_and_the_alias_never_hijacks_it(client, session, users,
                                                                                      login_as, published):
    rename(session, users, "policy", "perma-a", "perma-b")
    # A new record takes the old key: the key is its own, for everyone, draft or published.
    load(session, policies=[policy_record("perma-a", title_en="A new policy", editorial_state="draft")])
    session.commit()
    login_as("editor")
    page = client.get("/policies/perma-a")
    assert page.status_code == 200 and "A new policy" in page.get_data(as_text=True)
    # An anonymous reader may not see the draft: not found, and not sent to the record that had the key.
    login_as(None)
    assert client.get("/policies/perma-a").status_code == 404
    assert client.get(f"{API}/policies/perma-a").status_code == 404
    assert permalinks.current_key(session, "policy", "perma-a", include_unpublished=True) is None
    # When the new record moves on, its old key leads to it, no longer to the first record.
    rename(session, users, "policy", "perma-a", "perma-new", role="editor")
    login_as("editor")
    assert moved(client.get("/policies/perma-a")) == "/policies/perma-new"
    assert client.get("/policies/perma-b").status_code == 200
    aliases = session.scalars(select(RecordKeyAlias).where(RecordKeyAlias.old_key == "perma-a")).all()
    assert len(aliases) == 1


def test_an_old_key_of_an_unpublished_record_leads_staff_only(client, session, users, login_as):
    load(session, policies=[policy_record("perma-draft", editorial_state="draft")])
    session.commit()
    rename(session, users, "policy", "perma-draft", "perma-draft-2", role="editor")
    assert client.get("/policies/perma-draft").status_code == 404
    assert client.get(f"{API}/policies/perma-draft").status_code == 404
    assert "perma-draft-2" not in client.get("/policies/perma-draft").get_data(as_text=True)
    login_as("editor")
    assert moved(client.get("/policies/perma-draft")) == "/policies/perma-draft-2"


def test_a_policy_and_an_event_may_have_had_the_same_key(client, session, users, published):
    load(session, events=[event_record("perma-shared")], policies=[policy_record("perma-shared")])
    session.commit()
    rename(session, users, "policy", "perma-shared", "perma-shared-policy")
    rename(session, users, "event", "perma-shared", "perma-shared-event")
    assert moved(client.get("/policies/perma-shared")) == "/policies/perma-shared-policy"
    assert moved(client.get("/events/perma-shared")) == "/events/perma-shared-event"


def test_an_unknown_key_is_still_not_found_and_odd_keys_are_no_error(client, published):
    assert client.get("/policies/never-was").status_code == 404
    assert client.get(f"{API}/policies/never-was").status_code == 404
    assert client.get("/policies/%00").status_code == 404
    assert client.get(f"/policies/{'x' * 300}").status_code == 404


def test_only_reads_are_sent_on_a_write_to_an_old_key_is_not_found(client, session, users, api_token, published):
    rename(session, users, "policy", "perma-a", "perma-b")
    response = client.post(f"{API}/policies/perma-a/status", json={"status": "in_force"},
                           headers=api_token("reviewer"))
    assert response.status_code == 404
    assert "perma-a" in response.get_json()["error"]["message"]


# ---------------------------------------------------------------------------------------------------
# Changing a key


def test_a_key_change_is_audited_and_moves_subscriptions_and_proposals(client, session, users, published):
    follower = subscriptions.follow(session, users["partner"], Target("policy", "perma-a"),
                                    subscriptions.Options())
    event_follower = subscriptions.follow(session, users["partner"], Target("event", "perma-forum"),
                                          subscriptions.Options())
    search = subscriptions.follow(session, users["partner"], Target("search", "charging",
                                                                    {"event": ["perma-forum"]}),
                                  subscriptions.Options())
    policy = session.scalar(select(Policy).where(Policy.key == "perma-a"))
    proposal = review.propose_change(session, "policy", "perma-a", {"summary_en": "Proposed."}, users["editor"],
                                     policy.version)
    session.commit()
    rename(session, users, "policy", "perma-a", "perma-b")
    rename(session, users, "event", "perma-forum", "perma-forum-2")
    session.expire_all()
    assert session.get(Subscription, follower.id).target_value == "perma-b"
    assert session.get(Subscription, event_follower.id).target_value == "perma-forum-2"
    assert session.get(Subscription, search.id).target_filters == {"event": ["perma-forum-2"]}
    assert session.get(ChangeProposal, proposal.id).entity_key == "perma-b"
    entry = session.scalars(select(AuditEntry).where(AuditEntry.entity_type == "policy",
                                                     AuditEntry.entity_id == policy.id, AuditEntry.field == "key")
                            ).one()
    assert (entry.old_value, entry.new_value, entry.actor_id) == ("perma-a", "perma-b", users["reviewer"].id)


@pytest.mark.parametrize(("new_key", "message"), [
    ("Not A Key", "Use lower-case letters"),
    ("new", "names a page of the tracker"),
    ("perma-a", "is the record's key already"),
    ("la-gov-resolution-08-2021-ev-policy", "already exists"),
    (None, "Use lower-case letters"),
])
def test_a_key_change_is_refused_with_a_message_by_the_field(session, users, published, new_key, message):
    from tracker.errors import Invalid

    with pytest.raises(Invalid) as raised:
        editing.change_key(session, "policy", "perma-a", new_key, users["reviewer"])
    assert message in str(raised.value.errors["key"])


def test_editors_change_keys_of_drafts_and_reviewers_of_published_records(session, users, published):
    from tracker.errors import Forbidden

    with pytest.raises(Forbidden):
        editing.change_key(session, "policy", "perma-a", "perma-z", users["editor"])
    load(session, policies=[policy_record("perma-draft", editorial_state="draft")])
    assert editing.change_key(session, "policy", "perma-draft", "perma-draft-2", users["editor"]).key == \
        "perma-draft-2"


def test_the_key_form_changes_the_key_and_says_the_old_address_still_works(client, session, login_as, published):
    login_as("reviewer")
    page = client.get("/policies/perma-a")
    assert 'href="/policies/perma-a/key"' in page.get_data(as_text=True)
    action, data = form_of(client.get("/policies/perma-a/key"), action="/policies/perma-a/key")
    assert data["key"] == "perma-a"
    refused = submit(client, action, data, key="Bad Key")
    assert refused.status_code == 400
    assert "Use lower-case letters" in refused.get_data(as_text=True)
    taken = submit(client, action, data, key="la-gov-resolution-08-2021-ev-policy")
    assert taken.status_code == 400 and "already exists" in taken.get_data(as_text=True)
    response = submit(client, action, data, key="perma-renamed")
    assert response.status_code == 302 and response.headers["Location"] == "/policies/perma-renamed"
    page = client.get("/policies/perma-renamed").get_data(as_text=True)
    assert "Links to the old address still lead here." in page
    key_page = client.get("/policies/perma-renamed/key").get_data(as_text=True)
    assert re.search(r"Earlier keys that lead here:\s*<code>perma-a</code>", key_page)
    history = client.get("/policies/perma-renamed/history").get_data(as_text=True)
    assert "Key: &#39;perma-a&#39; → &#39;perma-renamed&#39;" in history
    # A form read before the change: its version is stale, the editor is told what changed.
    stale = submit(client, "/policies/perma-renamed/key", data, key="perma-again")
    assert stale.status_code == 409


def test_the_event_key_form_and_who_sees_it(client, session, login_as, published):
    login_as("editor")
    assert client.get("/events/perma-forum/key").status_code == 403
    assert 'href="/events/perma-forum/key"' not in client.get("/events/perma-forum").get_data(as_text=True)
    login_as("reviewer")
    action, data = form_of(client.get("/events/perma-forum/key"), action="/events/perma-forum/key")
    response = submit(client, action, data, key="perma-forum-renamed")
    assert response.headers["Location"] == "/events/perma-forum-renamed"
    assert session.scalar(select(Event.id).where(Event.key == "perma-forum-renamed")) is not None


def test_the_api_changes_a_key_and_answers_with_the_new_address(client, session, api_token, published):
    reviewer = api_token("reviewer")
    version = client.get(f"{API}/policies/perma-a").get_json()["version"]
    missing = client.post(f"{API}/policies/perma-a/key", json={"key": "perma-api"}, headers=reviewer)
    assert missing.status_code == 428
    invalid = client.post(f"{API}/policies/perma-a/key", json={"key": "Bad Key", "version": version},
                          headers=reviewer)
    assert invalid.status_code == 400 and "key" in invalid.get_json()["error"]["errors"]
    unknown = client.post(f"{API}/policies/perma-a/key", json={"key": "perma-api", "version": version,
                                                                "title_en": "x"}, headers=reviewer)
    assert unknown.status_code == 400
    response = client.post(f"{API}/policies/perma-a/key", json={"key": "perma-api", "version": version},
                           headers=reviewer)
    assert response.status_code == 200
    assert response.headers["Location"] == f"http://localhost{API}/policies/perma-api"
    assert response.get_json()["key"] == "perma-api" and response.get_json()["version"] == version + 1
    stale = client.post(f"{API}/policies/perma-api/key", json={"key": "perma-api-2", "version": version},
                        headers=reviewer)
    assert stale.status_code == 409 and stale.get_json()["error"]["current_version"] == version + 1
    assert moved(client.get(f"{API}/policies/perma-a")) == f"{API}/policies/perma-api"
    event_version = client.get(f"{API}/events/perma-forum").get_json()["version"]
    renamed = client.post(f"{API}/events/perma-forum/key", json={"key": "perma-forum-api",
                                                                 "version": event_version}, headers=reviewer)
    assert renamed.status_code == 200 and renamed.get_json()["key"] == "perma-forum-api"


def test_the_search_index_follows_a_key_change(client, session, users, search_index, published):
    rename(session, users, "policy", "perma-a", "perma-searchable")
    search_index.sync()
    assert search_index.check().clean
    hits = client.get(f"{API}/search?q=perma-a").get_json()["hits"]
    keys = {hit["key"] for hit in client.get(f"{API}/search?q=Test+policy+perma").get_json()["hits"]}
    assert "perma-searchable" in keys and "perma-a" not in keys
    assert all(hit["key"] != "perma-a" for hit in hits)


def test_a_feed_of_a_renamed_record_keeps_coming_at_its_old_address(client, session, users, published):
    from tests.integration.test_feeds import entries, fetch, keys

    before = entries(fetch(client, "?policy=perma-a"))
    rename(session, users, "policy", "perma-a", "perma-b")
    rename(session, users, "event", "perma-forum", "perma-forum-b")
    feed = fetch(client, "?policy=perma-a")
    assert keys(feed) == {"perma-b"} and len(entries(feed)) == len(before) == 3
    assert client.get("/feeds/changes.atom?event=perma-forum").status_code == 200
    assert client.get("/feeds/changes.atom?policy=never-was").status_code == 404
