"""Limits on subscribing by email without an account: per client address and per target address a day,
answered with a 429 and Retry-After in the reader's language, counted in the database every process shares."""
from __future__ import annotations

import secrets

import pytest
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import func, select

from tracker import create_app
from tracker.db import unit_of_work
from tracker.models import NotificationEvent, RequestCount, Subscription

TOPICS = ("charging_infrastructure", "fiscal_incentives", "import_rules", "vehicle_standards", "grid_and_energy",
          "targets_and_roadmaps", "public_transport")


def csrf(app, client) -> str:
    """A valid CSRF token for the client's session, made the way Flask-WTF makes them."""
    raw = secrets.token_hex(20)
    with client.session_transaction() as cookie_session:
        cookie_session["csrf_token"] = raw
    return URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token").dumps(raw)


def subscribe(app, client, query: str, email: str, *, client_address: str = "203.0.113.7",
              headers: dict | None = None):
    form = {"email": email, "cadence": "immediate", "sunset_days": "30", "language": "en",
            "csrf_token": csrf(app, client)}
    return client.post(f"/subscribe{query}", data=form, headers=headers or {},
                       environ_base={"REMOTE_ADDR": client_address})


def counts(session) -> tuple[int, int]:
    return (session.scalar(select(func.count(Subscription.id))),
            session.scalar(select(func.count(NotificationEvent.id))))


def assert_refused(response, *, within: int = 86400) -> int:
    assert response.status_code == 429, response.get_data(as_text=True)[:300]
    wait = int(response.headers["Retry-After"])
    assert 0 < wait <= within
    return wait


def test_one_client_address_may_ask_so_many_times_a_day(app, client, session, monkeypatch):
    monkeypatch.setitem(app.config, "SUBSCRIBE_PER_CLIENT_PER_DAY", 3)
    for number in range(3):
        assert subscribe(app, client, "?country=LA", f"reader{number}@example.org").status_code == 200
    before = counts(session)
    refused = subscribe(app, client, "?country=LA", "reader9@example.org")
    wait = assert_refused(refused)
    assert wait > 86400 - 600, "the window runs a day from the first request"
    page = refused.get_data(as_text=True)
    assert "Too many subscription requests have come from your network today" in page
    assert "24 hour(s)" in page
    assert counts(session) == before, "nothing is created over the limit"
    # A forged X-Forwarded-For is not believed without a trusted proxy: still the same client.
    assert_refused(subscribe(app, client, "?country=TH", "other@example.org",
                             headers={"X-Forwarded-For": "192.0.2.99"}))
    # Another client address has its own count.
    assert subscribe(app, client, "?country=LA", "reader9@example.org", client_address="203.0.113.8").status_code == 200
    assert session.scalars(select(RequestCount.count).where(RequestCount.key == "203.0.113.7")).one() == 3


def test_the_refusal_is_json_for_clients_asking_for_json_and_lao_for_lao_readers(app, client, session, monkeypatch):
    monkeypatch.setitem(app.config, "SUBSCRIBE_PER_CLIENT_PER_DAY", 1)
    assert subscribe(app, client, "?country=LA", "first@example.org").status_code == 200
    as_json = subscribe(app, client, "?country=LA", "second@example.org", headers={"Accept": "application/json"})
    assert_refused(as_json)
    error = as_json.get_json()["error"]
    assert error["status"] == 429 and "Try again in" in error["message"]
    lao = subscribe(app, client, "?country=LA", "second@example.org", headers={"Accept-Language": "lo"})
    assert_refused(lao)
    page = lao.get_data(as_text=True)
    assert "ມື້ນີ້ມີຄຳຮ້ອງຂໍຕິດຕາມຈາກເຄືອຂ່າຍຂອງທ່ານຫຼາຍເກີນໄປ" in page and "24 ຊົ່ວໂມງ" in page
    assert "Too many" not in page and "Try again" not in page


def test_one_address_is_sent_so_many_confirmation_requests_a_day(app, client, session):
    for topic in TOPICS[:5]:
        assert subscribe(app, client, f"?topic={topic}", "flooded@example.org").status_code == 200
    before = counts(session)
    for topic in TOPICS[5:]:
        refused = subscribe(app, client, f"?topic={topic}", "Flooded@Example.org", client_address="203.0.113.50")
        assert_refused(refused)
        assert "as many confirmation requests as it may receive in a day" in refused.get_data(as_text=True)
    assert counts(session) == before
    # The refusal does not depend on what the address follows: asking again for a topic it asked for today
    # gets the same answer.
    assert_refused(subscribe(app, client, f"?topic={TOPICS[0]}", "flooded@example.org"))
    assert subscribe(app, client, f"?topic={TOPICS[0]}", "someone.else@example.org").status_code == 200


def test_the_limit_per_address_is_a_setting(app, client, session, monkeypatch):
    monkeypatch.setitem(app.config, "SUBSCRIBE_PER_ADDRESS_PER_DAY", 2)
    for topic in TOPICS[:2]:
        assert subscribe(app, client, f"?topic={topic}", "two@example.org").status_code == 200
    assert_refused(subscribe(app, client, f"?topic={TOPICS[2]}", "two@example.org"))


@pytest.mark.slow
def test_every_process_over_the_same_database_shares_the_count(committed_app, tmp_path):
    """Two apps (two processes, or two hosts) over one database: the limit holds across them."""
    committed_app.config["SUBSCRIBE_PER_CLIENT_PER_DAY"] = 4
    other = create_app({"TESTING": True, "DATABASE_URL": committed_app.config["DATABASE_URL"],
                        "SECRET_KEY": committed_app.config["SECRET_KEY"],
                        "SEARCH_INDEX_PATH": str(tmp_path / "other-index"), "SEARCH_INDEXER": "external",
                        "NOTIFY_WORKER": "external", "SUBSCRIBE_PER_CLIENT_PER_DAY": 4})
    try:
        apps = [committed_app, other]
        answers = []
        for number in range(6):
            app = apps[number % 2]
            client = app.test_client()
            answers.append(subscribe(app, client, "?country=LA", f"shared{number}@example.org").status_code)
        assert answers == [200, 200, 200, 200, 429, 429]
        database = committed_app.extensions["tracker.db"]
        with unit_of_work(database.session()) as session:
            assert session.scalar(select(func.count(Subscription.id)).where(
                Subscription.email.like("shared%"))) == 4
    finally:
        other.extensions["tracker.db"].dispose()
