"""Managing every subscription of an address without an account: the link asked for and received through a real
SMTP sink, settings changed and subscriptions ended from its page (and what is sent afterwards), refused links,
the daily limits, and the page in Lao."""
from __future__ import annotations

import re
import time
from html import unescape

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import select

from tests.i18n.test_i18n_pages import ENGLISH, visible_texts
from tests.notifications.conftest import POLICY
from tracker.lao import LAO_RUN, words
from tracker.models import Delivery, StaffMail, Subscription, SubscriptionChange
from tracker.notifications.digests import send_digests
from tracker.notifications.tokens import make_manage_token, make_token

# Every test here starts a real SMTP sink (a server: slow).
pytestmark = pytest.mark.slow

READER = "reader@example.org"
SECOND_POLICY = POLICY | {"key": "la-charging-standard", "title_en": "Charging station standard",
                          "title_lo": "ມາດຕະຖານສະຖານີສາກໄຟ", "instrument": "standard"}


def body_text(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def manage_url(app, address: str = READER) -> str:
    with app.test_request_context():
        return f"/subscriptions/manage/{make_manage_token(address)}"


def post(client, url: str, **fields):
    page = client.get(url)
    return client.post(url, data={"csrf_token": csrf_of(page.get_data(as_text=True)), **fields})


def subscription(notify, public_id: str) -> Subscription:
    with notify.session() as session:
        return session.scalars(select(Subscription).where(Subscription.public_id == public_id)).one()


def trail(notify) -> list[tuple[str, str, str | None, str | None, str | None]]:
    with notify.session() as session:
        return [(change.subscription_public_id, change.action, change.field, change.old_value, change.new_value)
                for change in session.scalars(select(SubscriptionChange).order_by(SubscriptionChange.id))]


def assert_private_page(response) -> None:
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Robots-Tag"] == "noindex"
    assert '<meta name="robots" content="noindex, nofollow">' in response.get_data(as_text=True)


def test_a_link_asked_for_arrives_by_mail_and_lists_every_subscription_of_the_address(notify, smtp_sink):
    confirmed = notify.subscribe(email_address="Reader@Example.org", cadence="weekly", language="lo")
    waiting = notify.subscribe(email_address=READER, kind="country", value="LA", confirmed=False)
    # The account with that address: its email subscriptions go to the same mailbox, its webhooks do not.
    notify.subscribe(kind="topic", value="fiscal_incentives", user=notify.partner)
    notify.subscribe(email_address="someone.else@example.org", kind="all", value=None)
    client = notify.app.test_client()

    form = client.get("/subscriptions/manage")
    assert form.status_code == 200
    assert_private_page(form)
    answer = client.post("/subscriptions/manage", data={"csrf_token": csrf_of(form.get_data(as_text=True)),
                                                        "email": " READER@example.org "})
    assert answer.status_code == 200 and "Check your inbox" in answer.get_data(as_text=True)
    # An address that follows nothing gets the very same answer, and no email.
    nobody = client.post("/subscriptions/manage", data={"csrf_token": csrf_of(form.get_data(as_text=True)),
                                                        "email": "nobody@example.org"})
    assert nobody.get_data(as_text=True).replace("nobody@example.org", READER) == \
        answer.get_data(as_text=True).replace("READER@example.org", READER)
    notify.work()
    [message] = smtp_sink.wait_for(1)
    time.sleep(0.2)
    assert len(smtp_sink.messages) == 1
    assert message["To"] == READER
    assert message["Subject"] == "Manage your subscriptions to the EV Policy Tracker"
    link = re.search(r"https://tracker\.example(/subscriptions/manage/\S+)", body_text(message)).group(1)
    with notify.session() as session:
        assert [mail.state for mail in session.scalars(select(StaffMail))] == ["sent"]

    page = client.get(link)
    assert page.status_code == 200
    assert_private_page(page)
    html = unescape(page.get_data(as_text=True))
    assert f"Email subscriptions of {READER}" in html
    assert f'id="subscription-{confirmed.public_id}"' in html and f'id="subscription-{waiting.public_id}"' in html
    assert "EV import duty exemption" in html and "Lao PDR" in html
    assert "Weekly digest" in html and "ພາສາລາວ" in html and "30 days before a time-bound measure ends" in html
    assert "14 days before a comment period closes" in html
    assert "Awaiting confirmation" in html and "Active since" in html
    assert html.count('class="panel manage-subscription"') == 2
    assert "someone.else" not in html and "every policy change" not in html.lower()


def test_the_account_of_the_address_has_its_email_subscriptions_listed_and_is_told_where_webhooks_are(notify):
    own = notify.subscribe(kind="topic", value="fiscal_incentives", user=notify.partner)
    html = notify.app.test_client().get(manage_url(notify.app, "partner@example.org")).get_data(as_text=True)
    assert f'id="subscription-{own.public_id}"' in html
    assert "While signed in to the account of this address" in html
    assert "its webhooks, and its subscriptions by webhook, are managed after" in html


def test_switching_to_a_daily_digest_holds_waiting_and_later_changes_for_it_and_back_to_at_once(notify, smtp_sink):
    sub = notify.subscribe(email_address=READER)
    url = manage_url(notify.app)
    client = notify.app.test_client()
    # A change whose email is made but not yet sent when the reader switches to a digest.
    notify.change_status("in_force")
    notify.worker.fan_out()

    response = post(client, url, action="change", subscription=sub.public_id, cadence="daily", language="lo")
    assert response.status_code == 303 and response.headers["Location"].endswith(url)
    assert "Your changes are saved and apply from now on." in client.get(url).get_data(as_text=True)
    assert subscription(notify, sub.public_id).cadence == "daily"
    assert trail(notify) == [(sub.public_id, "update", "cadence", "immediate", "daily"),
                             (sub.public_id, "update", "language", "en", "lo")]
    notify.change_status("suspended")
    notify.work()
    time.sleep(0.2)
    assert smtp_sink.messages == []  # both changes wait for the digest

    with notify.app.app_context():
        counts = send_digests(notify.worker, "daily")
    assert counts["emails"] == 1 and counts["items"] == 2
    [digest] = smtp_sink.wait_for(1)
    assert digest["To"] == READER
    # Sent in Lao, the new language: the subject is not the English one.
    assert not digest["Subject"].startswith("Your daily digest")

    post(client, url, action="change", subscription=sub.public_id, cadence="immediate", language="en")
    notify.change_status("in_force")
    notify.work()
    [_, immediate] = smtp_sink.wait_for(2)
    assert immediate["Subject"] == "EV import duty exemption is now In force"
    with notify.session() as session:
        assert {d.state for d in session.scalars(select(Delivery))} == {"delivered"}


def test_saving_the_same_settings_changes_nothing_and_a_bad_value_is_refused_with_a_message(notify):
    sub = notify.subscribe(email_address=READER, cadence="weekly")
    url = manage_url(notify.app)
    client = notify.app.test_client()
    assert post(client, url, action="change", subscription=sub.public_id, cadence="weekly",
                language="en").status_code == 303
    assert "Nothing was changed." in client.get(url).get_data(as_text=True)
    refused = post(client, url, action="change", subscription=sub.public_id, cadence="hourly", language="en")
    assert refused.status_code == 400
    assert "Choose one of: immediate, daily, weekly." in unescape(refused.get_data(as_text=True))
    assert post(client, url, action="explode", subscription=sub.public_id).status_code == 400
    assert subscription(notify, sub.public_id).cadence == "weekly" and trail(notify) == []


def test_unsubscribing_one_then_all_stops_their_email_and_is_kept_in_the_trail(notify, smtp_sink):
    notify.create_policy(SECOND_POLICY)
    first = notify.subscribe(email_address=READER)
    second = notify.subscribe(email_address=READER, value=SECOND_POLICY["key"])
    other = notify.subscribe(email_address="other@example.org")
    url = manage_url(notify.app)
    client = notify.app.test_client()

    assert post(client, url, action="unsubscribe", subscription=first.public_id).status_code == 303
    page = client.get(url).get_data(as_text=True)
    assert "You are unsubscribed from: Policy: EV import duty exemption." in unescape(page) or \
        "You are unsubscribed from:" in page
    assert f'id="subscription-{first.public_id}"' not in page and f'id="subscription-{second.public_id}"' in page
    # Ended already: a second press says so instead of failing.
    again = post(client, url, action="unsubscribe", subscription=first.public_id)
    assert again.status_code == 404 and "it may have ended already" in again.get_data(as_text=True)
    # Another address's subscription cannot be reached from this link.
    assert post(client, url, action="unsubscribe", subscription=other.public_id).status_code == 404

    notify.change_status("in_force")
    notify.change_status("in_force", key=SECOND_POLICY["key"])
    notify.work()
    messages = smtp_sink.wait_for(2)
    time.sleep(0.2)
    assert sorted(m["Subject"] for m in smtp_sink.messages if m["To"] == READER) == [
        "Charging station standard is now In force"]
    assert len(messages) == 2  # the other address still hears of the first policy

    assert post(client, url, action="unsubscribe_all").status_code == 303
    page = client.get(url).get_data(as_text=True)
    assert "1 subscription ended: no more email will be sent to this address." in page
    assert "This address has no subscription now" in page
    assert subscription(notify, other.public_id).unsubscribed_at is None
    assert trail(notify) == [(first.public_id, "unsubscribe", None, None, None),
                             (second.public_id, "unsubscribe", None, None, None)]
    notify.change_status("suspended", key=SECOND_POLICY["key"])
    notify.work()
    time.sleep(0.2)
    assert len(smtp_sink.messages) == 2


def test_a_form_without_its_csrf_token_changes_nothing(notify):
    sub = notify.subscribe(email_address=READER)
    client = notify.app.test_client()
    url = manage_url(notify.app)
    client.get(url)
    response = client.post(url, data={"action": "unsubscribe_all"})
    assert response.status_code == 400 and "CSRF" in response.get_data(as_text=True)
    response = client.post("/subscriptions/manage", data={"email": READER})
    assert response.status_code == 400
    assert subscription(notify, sub.public_id).unsubscribed_at is None


def test_links_of_another_purpose_forged_or_expired_are_refused_with_a_form_for_a_new_one(notify):
    sub = notify.subscribe(email_address=READER)
    client = notify.app.test_client()
    app = notify.app
    with app.test_request_context():
        unsubscribe = make_token("unsubscribe", sub.public_id)
        confirm = make_token("confirm", sub.public_id)
        good = make_manage_token(READER)

    class MonthAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 31 * 24 * 3600

    expired = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="tracker.notify.manage",
                                     signer=MonthAgo).dumps(READER)
    for token, message in ((unsubscribe, "This link is not valid"), (confirm, "This link is not valid"),
                           (good[:-3] + "AAA", "This link is not valid"), ("x" * 2000, "This link is not valid"),
                           (expired, "This link has expired; ask for a new one.")):
        response = client.get(f"/subscriptions/manage/{token}")
        assert response.status_code == 400, token
        assert_private_page(response)
        html = response.get_data(as_text=True)
        assert message in html and 'action="/subscriptions/manage"' in html and 'name="email"' in html
    csrf = csrf_of(client.get("/subscriptions/manage").get_data(as_text=True))
    refused = client.post(f"/subscriptions/manage/{expired}", data={"csrf_token": csrf, "action": "unsubscribe_all"})
    assert refused.status_code == 400
    assert subscription(notify, sub.public_id).unsubscribed_at is None
    assert client.get(f"/subscriptions/manage/{good}").status_code == 200


def ask(client, email: str, *, client_address: str = "192.0.2.10", language: str = "en"):
    client.set_cookie("lang", language)
    environ = {"REMOTE_ADDR": client_address}
    csrf = csrf_of(client.get("/subscriptions/manage", environ_base=environ).get_data(as_text=True))
    return client.post("/subscriptions/manage", data={"csrf_token": csrf, "email": email}, environ_base=environ)


def test_links_are_limited_per_address_and_per_client_with_a_429_in_the_readers_language(notify, smtp_sink):
    notify.app.config.update(MANAGE_LINKS_PER_ADDRESS_PER_DAY=2, MANAGE_LINKS_PER_CLIENT_PER_DAY=4)
    notify.subscribe(email_address=READER)
    client = notify.app.test_client()
    assert [ask(client, READER).status_code for _ in range(2)] == [200, 200]
    limited = ask(client, READER.upper())
    assert limited.status_code == 429
    assert 86000 < int(limited.headers["Retry-After"]) <= 86401
    assert "Too many links were asked for this address today." in limited.get_data(as_text=True)
    # Another network is refused for that address too: the limit protects the mailbox.
    assert ask(client, READER, client_address="198.51.100.7").status_code == 429
    # An address that follows nothing counts the same way, so the limit tells nothing about it.
    assert [ask(client, "nobody@example.org").status_code for _ in range(3)] == [200, 200, 429]
    # This client has now made four accepted requests: the fifth is refused whatever the address, in Lao.
    lao = ask(client, "third@example.org", language="lo")
    assert lao.status_code == 429 and int(lao.headers["Retry-After"]) > 86000
    html = unescape(lao.get_data(as_text=True))
    assert '<html lang="lo">' in html and "Too many links" not in html
    assert [text for text in visible_texts(html) if text in ENGLISH] == []
    notify.work()
    time.sleep(0.2)
    assert [m["To"] for m in smtp_sink.wait_for(2)] == [READER, READER]


def test_a_link_asked_for_in_lao_comes_in_lao(notify, smtp_sink):
    notify.subscribe(email_address=READER)
    assert ask(notify.app.test_client(), READER, language="lo").status_code == 200
    notify.work()
    [message] = smtp_sink.wait_for(1)
    assert message["Subject"] != "Manage your subscriptions to the EV Policy Tracker"
    assert LAO_RUN.search(message["Subject"]) and LAO_RUN.search(body_text(message))
    assert "https://tracker.example/subscriptions/manage/" in body_text(message)


def bare_lao_runs(html: str) -> list[str]:
    """Runs of Lao text of more than one word that a browser could break inside a word: those neither kept
    whole in a <span class="lw"> nor a single word, in the page's main part (option labels do not wrap)."""
    main = html.split('<main id="main"', 1)[1].split("</main>", 1)[0]
    main = re.sub(r"<option[^>]*>.*?</option>", "", main, flags=re.S)
    main = re.sub(r'<span class="lw">[^<]*</span>', "", main)
    return [run for run in LAO_RUN.findall(re.sub(r"<[^>]+>", " ", main)) if len(words(run)) > 1]


def test_the_page_in_lao_has_no_english_left_and_no_word_cut(notify):
    notify.subscribe(email_address=READER, cadence="daily", language="lo")
    notify.subscribe(email_address=READER, kind="country", value="LA", confirmed=False)
    client = notify.app.test_client()
    client.set_cookie("lang", "lo")
    url = manage_url(notify.app)
    sub = subscription(notify, re.search(r'id="subscription-([0-9a-f]{32})"',
                                         client.get(url).get_data(as_text=True)).group(1))
    post(client, url, action="change", subscription=sub.public_id, cadence="weekly", language="lo")
    for page in (client.get(url), client.get("/subscriptions/manage"), client.get("/subscriptions/manage/forged")):
        html = unescape(page.get_data(as_text=True))
        assert '<html lang="lo">' in html
        assert [text for text in visible_texts(html) if text in ENGLISH] == []
        assert bare_lao_runs(page.get_data(as_text=True)) == []
    html = client.get(url).get_data(as_text=True)
    assert '<span class="lw">' in html.split("<h1>", 1)[1].split("</h1>", 1)[0]  # the heading is in Lao


def test_requests_older_than_a_day_count_no_more_and_are_forgotten(notify):
    import datetime as dt

    from tracker.models import ManageLinkRequest

    notify.app.config.update(MANAGE_LINKS_PER_ADDRESS_PER_DAY=1)
    client = notify.app.test_client()
    assert ask(client, READER).status_code == 200
    assert ask(client, READER).status_code == 429
    with notify.session() as session:
        request = session.scalars(select(ManageLinkRequest)).one()
        request.requested_at -= dt.timedelta(days=1, seconds=1)
        session.commit()
    assert ask(client, READER).status_code == 200
    with notify.session() as session:
        assert len(session.scalars(select(ManageLinkRequest)).all()) == 1
