"""Following records from the pages: double opt-in by email, confirm and unsubscribe links, My subscriptions."""
from __future__ import annotations

import secrets
import time

import pytest
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import func, select

from tests.factories import event_record, load, policy_record
from tracker.models import NotificationEvent, Subscription
from tracker.notifications.tokens import make_token

POLICY = "la-gov-resolution-08-2021-ev-policy"


def csrf(app, client) -> str:
    """A valid CSRF token for the client's session, made the way Flask-WTF makes them."""
    raw = secrets.token_hex(20)
    with client.session_transaction() as cookie_session:
        cookie_session["csrf_token"] = raw
    return URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token").dumps(raw)


def counts(session) -> tuple[int, int]:
    return (session.scalar(select(func.count(Subscription.id))),
            session.scalar(select(func.count(NotificationEvent.id))))


def token(app, purpose: str, subscription: Subscription) -> str:
    with app.app_context():
        return make_token(purpose, subscription.public_id)


def subscribe(app, client, query: str, **data):
    form = {"email": "partner@gggi.example", "cadence": "immediate", "sunset_days": "30", "language": "en"}
    form.update(data)
    return client.post(f"/subscribe{query}", data={**form, "csrf_token": csrf(app, client)})


# ---------------------------------------------------------------------------------------------------
# Double opt-in


def test_the_follow_page_names_what_is_followed(client):
    page = client.get(f"/subscribe?policy={POLICY}").get_data(as_text=True)
    assert "Policy:" in page and 'name="email"' in page
    assert f"/feeds/changes.atom?policy={POLICY}" in page


def test_double_opt_in_sends_only_a_confirmation_until_confirmed(app, client, session):
    before = counts(session)
    response = subscribe(app, client, f"?policy={POLICY}", email="Partner@GGGI.example", cadence="weekly",
                         language="lo")
    assert response.status_code == 200
    assert "Check your inbox" in response.get_data(as_text=True)
    subscription = session.scalar(select(Subscription).order_by(Subscription.id.desc()))
    assert (subscription.target_kind, subscription.target_value) == ("policy", POLICY)
    assert subscription.email == "Partner@gggi.example"
    assert (subscription.cadence, subscription.language, subscription.user_id) == ("weekly", "lo", None)
    assert subscription.confirmed_at is None and not subscription.is_active
    events = session.scalars(select(NotificationEvent).where(NotificationEvent.id > 0)).all()
    assert counts(session) == (before[0] + 1, before[1] + 1)
    confirm_event = [event for event in events if event.subscription_id == subscription.id]
    assert [event.type for event in confirm_event] == ["subscription.confirm"]

    link = f"/subscriptions/confirm/{token(app, 'confirm', subscription)}"
    page = client.get(link)
    assert page.status_code == 200 and "Confirm" in page.get_data(as_text=True)
    session.refresh(subscription)
    assert subscription.confirmed_at is None, "opening the link (a mail scanner, say) confirms nothing"

    done = client.post(link, data={"csrf_token": csrf(app, client)})
    assert done.status_code == 200
    assert "Subscription confirmed" in done.get_data(as_text=True)
    session.refresh(subscription)
    assert subscription.is_active
    # Confirming twice is harmless.
    assert client.post(link, data={"csrf_token": csrf(app, client)}).status_code == 200


def test_a_forged_or_expired_confirmation_link_is_refused_and_changes_nothing(app, client, session, monkeypatch):
    subscribe(app, client, "?country=LA", email="someone@example.org")
    subscription = session.scalar(select(Subscription).order_by(Subscription.id.desc()))
    genuine = token(app, "confirm", subscription)
    forged = genuine[:-4] + ("AAAA" if not genuine.endswith("AAAA") else "BBBB")
    for link in (f"/subscriptions/confirm/{forged}", "/subscriptions/confirm/not-a-token"):
        assert client.get(link).status_code == 400
        response = client.post(link, data={"csrf_token": csrf(app, client)})
        assert response.status_code == 400
        assert "not valid" in response.get_data(as_text=True)
    # A token for another purpose is not a confirmation.
    assert client.post(f"/subscriptions/confirm/{token(app, 'unsubscribe', subscription)}",
                       data={"csrf_token": csrf(app, client)}).status_code == 400
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() - 8 * 24 * 3600)
    old = token(app, "confirm", subscription)
    monkeypatch.setattr(time, "time", real_time)
    response = client.post(f"/subscriptions/confirm/{old}", data={"csrf_token": csrf(app, client)})
    assert response.status_code == 400 and "expired" in response.get_data(as_text=True)
    session.refresh(subscription)
    assert subscription.confirmed_at is None


def test_unsubscribe_get_asks_and_one_click_post_unsubscribes(app, client, session):
    subscribe(app, client, f"?policy={POLICY}", email="reader@example.org")
    subscription = session.scalar(select(Subscription).order_by(Subscription.id.desc()))
    client.post(f"/subscriptions/confirm/{token(app, 'confirm', subscription)}", data={"csrf_token": csrf(app, client)})
    link = f"/unsubscribe/{token(app, 'unsubscribe', subscription)}"

    page = client.get(link)
    assert page.status_code == 200
    assert "Unsubscribe" in page.get_data(as_text=True) and 'method="post"' in page.get_data(as_text=True)
    session.refresh(subscription)
    assert subscription.unsubscribed_at is None, "a GET never unsubscribes"

    # RFC 8058: the mail client posts this body, with no cookie and no CSRF token.
    fresh = app.test_client()
    response = fresh.post(link, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    session.refresh(subscription)
    assert subscription.unsubscribed_at is not None and not subscription.is_active
    # Again, with the page's own form (which carries its CSRF token): harmless, and the page says it is done.
    again = client.post(link, data={"csrf_token": csrf(app, client)})
    assert again.status_code == 200 and "You are unsubscribed" in again.get_data(as_text=True)


def test_a_confirmation_link_replayed_after_unsubscribing_does_nothing(app, client, session):
    subscribe(app, client, "?country=LA", email="leaver@example.org")
    subscription = session.scalar(select(Subscription).order_by(Subscription.id.desc()))
    confirm_link = f"/subscriptions/confirm/{token(app, 'confirm', subscription)}"
    client.post(confirm_link, data={"csrf_token": csrf(app, client)})
    app.test_client().post(f"/unsubscribe/{token(app, 'unsubscribe', subscription)}",
                           data={"List-Unsubscribe": "One-Click"})
    page = client.get(confirm_link)
    assert page.status_code == 400 and "cancelled" in page.get_data(as_text=True)
    assert "Subscription confirmed" not in page.get_data(as_text=True)
    replayed = client.post(confirm_link, data={"csrf_token": csrf(app, client)})
    assert replayed.status_code == 400 and "cancelled" in replayed.get_data(as_text=True)
    session.refresh(subscription)
    assert subscription.unsubscribed_at is not None and not subscription.is_active


def test_a_forged_unsubscribe_link_is_refused(client, session):
    before = counts(session)
    assert client.get("/unsubscribe/forged").status_code == 400
    assert client.post("/unsubscribe/forged", data={"List-Unsubscribe": "One-Click"}).status_code == 400
    assert counts(session) == before


@pytest.mark.parametrize("query, data, message", [
    ("?policy=" + POLICY, {"email": "not-an-address"}, "not a valid email address"),
    ("?policy=" + POLICY, {"email": ""}, "Give your email address"),
    ("?policy=no-such-policy", {}, "no published policy"),
    ("?policy=subs-draft-policy", {}, "no published policy"),
    ("?event=no-such-forum", {}, "no published event"),
    ("?country=XX", {}, "no country"),
    ("?topic=no_such_topic", {}, "no topic"),
    ("?policy=" + POLICY, {"sunset_days": "0"}, "from 1 to 365"),
    ("?policy=" + POLICY, {"sunset_days": "9" * 400}, "from 1 to 365"),
    ("?policy=" + POLICY, {"sunset_days": "1" * 7}, "from 1 to 365"),
    ("?policy=" + POLICY, {"email": "a" * 5000 + "@example.org"}, "at most 320 characters"),
    ("?policy=" + POLICY, {"cadence": "hourly"}, "valid choice"),
    ("?colour=blue", {}, "nothing to follow"),
    ("?q=charging&country=ZZ", {}, "no country with the code &#39;ZZ&#39;"),
    ("?status=in_force&topic=no_such_topic", {}, "no topic &#39;no_such_topic&#39;"),
])
def test_bad_input_gets_a_clear_message_and_stores_nothing(app, client, session, query, data, message):
    load(session, policies=[policy_record("subs-draft-policy", editorial_state="draft")])
    session.commit()
    before = counts(session)
    response = subscribe(app, client, query, **data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert counts(session) == before


def test_the_same_answer_whether_or_not_the_address_already_follows(app, client, session):
    first = subscribe(app, client, "?country=LA", email="twice@example.org")
    subscription = session.scalar(select(Subscription).order_by(Subscription.id.desc()))
    client.post(f"/subscriptions/confirm/{token(app, 'confirm', subscription)}", data={"csrf_token": csrf(app, client)})
    before = counts(session)
    second = subscribe(app, client, "?country=LA", email="twice@example.org")
    assert second.status_code == first.status_code == 200
    assert "Check your inbox" in second.get_data(as_text=True)
    assert counts(session) == before, "a confirmed address is not asked again"


def test_a_confirmed_saved_search_is_not_doubled_after_following_a_narrower_one(app, client, session):
    subscribe(app, client, "?q=charging", email="searcher@example.org")
    broad = session.scalar(select(Subscription).order_by(Subscription.id.desc()))
    client.post(f"/subscriptions/confirm/{token(app, 'confirm', broad)}", data={"csrf_token": csrf(app, client)})
    subscribe(app, client, "?q=charging&country=LA", email="searcher@example.org")
    before = counts(session)
    again = subscribe(app, client, "?q=charging", email="searcher@example.org")
    assert again.status_code == 200 and "Check your inbox" in again.get_data(as_text=True)
    assert counts(session) == before, "the confirmed search is neither doubled nor asked again"


def test_addresses_in_lao_script_are_stored_so_any_mail_server_takes_them(app, client, session):
    response = subscribe(app, client, "?country=LA", email="reader@ຕົວຢ່າງ.ລາວ")
    assert response.status_code == 200
    subscription = session.scalar(select(Subscription).order_by(Subscription.id.desc()))
    assert subscription.email == "reader@xn--v6c1a1bt0d9b7e.xn--q7ce6a"
    before = counts(session)
    for address in ("ລາວ@example.org", "🚗@example.org"):
        refused = subscribe(app, client, "?country=LA", email=address)
        assert refused.status_code == 400 and "before the @-sign" in refused.get_data(as_text=True)
    assert counts(session) == before


def test_confirmation_requests_to_one_address_are_limited(app, client, session):
    for topic in ("charging_infrastructure", "fiscal_incentives", "import_rules", "vehicle_standards",
                  "grid_and_energy", "targets_and_roadmaps", "public_transport"):
        subscribe(app, client, f"?topic={topic}", email="flooded@example.org")
    sent = session.scalar(select(func.count(NotificationEvent.id)).join(
        Subscription, Subscription.id == NotificationEvent.subscription_id).where(
        Subscription.email == "flooded@example.org"))
    assert sent == 5


def test_a_saved_search_can_be_followed_from_the_search_page(app, client, session):
    response = subscribe(app, client, "?q=charging&country=LA&status=in_force", email="alerts@example.org")
    assert response.status_code == 200
    subscription = session.scalar(select(Subscription).order_by(Subscription.id.desc()))
    assert subscription.target_kind == "search"
    assert subscription.target_value == "charging"
    assert subscription.target_filters == {"country": ["LA"], "status": ["in_force"]}


# ---------------------------------------------------------------------------------------------------
# Signed-in users


def test_a_partner_follows_by_email_and_manages_subscriptions(app, client, session, login_as):
    partner = login_as("partner")
    page = client.get("/subscribe?country=LA").get_data(as_text=True)
    assert "Tell me by" in page and "partner@example.org" in page
    response = client.post("/subscribe?country=LA", data={
        "deliver_to": "email", "cadence": "daily", "sunset_days": "60", "language": "lo",
        "csrf_token": csrf(app, client)})
    assert response.status_code == 302 and response.headers["Location"].endswith("/subscriptions")
    subscription = session.scalar(select(Subscription).where(Subscription.user_id == partner.id))
    assert (subscription.target_kind, subscription.target_value, subscription.cadence, subscription.sunset_days,
            subscription.language) == ("country", "LA", "daily", 60, "lo")
    assert subscription.is_active, "an account's own address needs no confirmation"
    assert session.scalar(select(func.count(NotificationEvent.id)).where(
        NotificationEvent.subscription_id == subscription.id)) == 0

    listing = client.get("/subscriptions").get_data(as_text=True)
    assert "Country: Lao PDR" in listing and "Daily digest" in listing
    # Following the same thing twice through the same channel is refused.
    twice = client.post("/subscribe?country=LA", data={"deliver_to": "email", "csrf_token": csrf(app, client)})
    assert twice.status_code == 409 and "already follow" in twice.get_data(as_text=True)

    deleted = client.post(f"/subscriptions/{subscription.public_id}/delete", data={"csrf_token": csrf(app, client)})
    assert deleted.status_code == 302
    assert session.scalar(select(func.count(Subscription.id)).where(Subscription.user_id == partner.id)) == 0


def test_the_language_defaults_to_the_interface_language(client, login_as):
    login_as("partner")
    client.get("/language/lo?next=/")
    page = client.get(f"/subscribe?policy={POLICY}").get_data(as_text=True)
    assert '<option selected value="lo">' in page or '<option value="lo" selected>' in page


def test_someone_elses_subscription_cannot_be_deleted(app, client, session, login_as, users):
    other = Subscription(user_id=users["editor"].id, channel="email", target_kind="all", confirmed_at=None)
    session.add(other)
    session.commit()
    login_as("partner")
    response = client.post(f"/subscriptions/{other.public_id}/delete", data={"csrf_token": csrf(app, client)})
    assert response.status_code == 404
    assert session.scalar(select(func.count(Subscription.id)).where(Subscription.id == other.id)) == 1


def test_a_search_cannot_be_narrowed_to_an_unpublished_forum(app, client, session):
    load(session, events=[event_record("subs-draft-forum", editorial_state="draft", name_en="Embargoed Forum")])
    session.commit()
    before = counts(session)
    for query in ("?q=charging&event=subs-draft-forum", "?status=in_force&event=subs-draft-forum"):
        page = client.get(f"/subscribe{query}")
        assert page.status_code == 400 and "no published event" in page.get_data(as_text=True)
        assert "Embargoed Forum" not in page.get_data(as_text=True), "a draft's name is not shown"
        response = subscribe(app, client, query, email="curious@example.org")
        assert response.status_code == 400 and "Embargoed Forum" not in response.get_data(as_text=True)
    assert counts(session) == before


@pytest.mark.parametrize("query", ["?q=digest:abc", "?q=meta:x+charging", "?q=adopted:2020"])
def test_a_search_on_an_internal_index_field_is_a_clear_400(app, client, session, query):
    before = counts(session)
    page = client.get(f"/subscribe{query}")
    assert page.status_code == 400 and "cannot be searched" in page.get_data(as_text=True)
    response = subscribe(app, client, query, email="curious@example.org")
    assert response.status_code == 400 and "cannot be searched" in response.get_data(as_text=True)
    assert counts(session) == before
