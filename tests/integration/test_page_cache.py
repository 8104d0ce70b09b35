"""Pages are served from memory until content changes, and revalidate with ETags; never stale."""
from __future__ import annotations

from tests.factories import load, policy_record
from tracker.services.dataset import load_dataset


def test_a_change_shows_at_once_on_every_cached_page(client, session):
    load(session, policies=[policy_record("cached-policy", title_en="First title")])
    session.commit()
    urls = ["/policies/cached-policy", "/policies?country=TL", "/api/v1/policies/cached-policy", "/countries/TL"]
    for url in urls:
        assert "First title" in client.get(url).get_data(as_text=True)
        assert "First title" in client.get(url).get_data(as_text=True)  # now from the cache
    load(session, policies=[policy_record("cached-policy", title_en="Second title")])
    session.commit()
    for url in urls:
        page = client.get(url).get_data(as_text=True)
        assert "Second title" in page and "First title" not in page, url


def test_unchanged_pages_revalidate_with_a_304(client, session):
    first = client.get("/policies")
    assert first.status_code == 200 and first.headers["ETag"]
    assert first.headers["Cache-Control"] == "no-cache"
    again = client.get("/policies", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    load(session, policies=[policy_record("etag-policy")])
    session.commit()
    changed = client.get("/policies", headers={"If-None-Match": first.headers["ETag"]})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != first.headers["ETag"]


def test_different_queries_are_different_pages(client):
    laos = client.get("/policies?country=LA").get_data(as_text=True)
    thai = client.get("/policies?country=TH").get_data(as_text=True)
    assert laos != thai


def test_a_rolled_back_change_never_reaches_the_cache(client, database, session):
    before = client.get("/policies/cached-after-rollback")
    assert before.status_code == 404
    with database.session(write=True) as other:
        savepoint = other.begin_nested()
        load_dataset(other, {"policies": [policy_record("rolled-back", title_en="Never committed")]})
        other.flush()
        assert "Never committed" in client.get("/policies?country=TL").get_data(as_text=True)
        savepoint.rollback()
    assert "Never committed" not in client.get("/policies?country=TL").get_data(as_text=True)
