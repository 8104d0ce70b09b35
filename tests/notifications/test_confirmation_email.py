"""The confirmation email a visitor's subscription sends, received by a real SMTP server: what is followed in
the subscriber's language and the tracker's own names, a saved search's words short and link-free, and links
to the configured public address whatever Host the request named."""
from __future__ import annotations

import json
import re
import secrets
from email.message import EmailMessage

import pytest
from itsdangerous import URLSafeTimedSerializer
from lxml import html as lxml_html

from tests.factories import event_record, load
from tests.notifications.conftest import POLICY
from tracker.db import unit_of_work
from tracker.lao import words
from tracker.notifications.describe import QUERY_LIMIT

EVENT = "conf-test-forum"
EVENT_NAMES = {"en": "Second Lao EV Forum test", "lo": "ເວທີລົດໄຟຟ້າລາວ ຄັ້ງທີ 2 ທົດລອງ"}
# Every raw code a target below refers to, none of which may reach the reader.
RAW_KEYS = (POLICY["key"], EVENT, "charging_infrastructure", "fiscal_incentives", "budget_measure", "in_force",
            "two_wheeler", "vehicle_class")
ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")

# (query string of /subscribe, what the English and the Lao email must name)
TARGETS = {
    "policy": (f"?policy={POLICY['key']}", ["EV import duty exemption"], ["ການຍົກເວັ້ນພາສີນຳເຂົ້າລົດໄຟຟ້າ"]),
    "country": ("?country=LA", ["policies of Lao PDR"], ["ສປປ ລາວ"]),
    "topic": ("?topic=charging_infrastructure", ["the topic Charging infrastructure"],
              ["ພື້ນຖານໂຄງລ່າງການສາກໄຟ"]),
    "instrument": ("?instrument=budget_measure", ["instruments of type Budget measure"], ["ນິຕິກຳປະເພດ"]),
    "event": (f"?event={EVENT}", [EVENT_NAMES["en"]], [EVENT_NAMES["lo"]]),
    "search": ("?q=charging&country=LA&country=TH&status=in_force&topic=fiscal_incentives"
               "&vehicle_class=two_wheeler&year=2030",
               ["a saved search for “charging”", "country: Lao PDR, Thailand", "status: In force",
                "topic: Fiscal incentives", "vehicle class: Two-wheeler", "year: 2030"],
               ["ການຄົ້ນຫາທີ່ບັນທຶກໄວ້", "ສປປ ລາວ", "ມາດຕະການຈູງໃຈດ້ານພາສີອາກອນ"]),
    "all": ("", ["every policy change"], ["ທຸກການປ່ຽນແປງນະໂຍບາຍ"]),
}


def csrf(app, client, base_url: str = "http://localhost") -> str:
    """A valid CSRF token for the client's session (on the site named ``base_url``), made the way Flask-WTF
    makes them."""
    raw = secrets.token_hex(20)
    with client.session_transaction(base_url=base_url) as cookie_session:
        cookie_session["csrf_token"] = raw
    return URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token").dumps(raw)


def subscribe(notify, query: str, *, address: str = "reader@partner.example", language: str = "en",
              host: str = "localhost", client_address: str = "198.51.100.20"):
    """Post the subscribe form as a visitor at ``client_address`` would, to the site named ``host`` (the
    request's Host header)."""
    client = notify.app.test_client()
    form = {"email": address, "cadence": "immediate", "sunset_days": "30", "language": language,
            "csrf_token": csrf(notify.app, client, f"http://{host}")}
    return client.post(f"/subscribe{query}", data=form, base_url=f"http://{host}",
                       environ_base={"REMOTE_ADDR": client_address})


def received(notify, smtp_sink, count: int = 1) -> EmailMessage:
    notify.wait_until_done()
    messages = smtp_sink.wait_for(count)
    assert len(messages) == count
    return messages[-1]


def parts(message: EmailMessage) -> tuple[str, str, str]:
    return (str(message["Subject"]), message.get_body(("plain",)).get_content(),
            message.get_body(("html",)).get_content())


def html_text(html: str) -> str:
    return lxml_html.fromstring(html).text_content()


@pytest.fixture
def forum(notify):
    with unit_of_work(notify.session()) as session:
        load(session, events=[event_record(EVENT, name_en=EVENT_NAMES["en"], name_lo=EVENT_NAMES["lo"],
                                           editorial_state="published")])


@pytest.mark.parametrize("language", ["en", "lo"])
@pytest.mark.parametrize("kind", list(TARGETS))
def test_the_confirmation_names_what_is_followed_in_the_subscribers_language(notify, smtp_sink, forum, kind,
                                                                              language):
    query, english, lao = TARGETS[kind]
    response = subscribe(notify, query, language=language)
    assert response.status_code == 200, response.get_data(as_text=True)[:400]
    subject, text, html = parts(received(notify, smtp_sink))
    shown = html_text(html)
    for expected in (english if language == "en" else lao):
        assert expected in text and expected in shown, (expected, text)
    if language == "lo":
        assert subject == "ກະລຸນາຢືນຢັນການຕິດຕາມຂອງທ່ານ"
        assert "Someone" not in text and "asked to receive" not in shown
    for body in (subject, text, shown):
        for key in RAW_KEYS:
            assert key not in body, (key, body)
        assert not re.search(r"\bLA\b|\bTH\b", body), body
        assert not ISO_DATE.search(body), body


def quoted(text: str) -> str:
    """The saved search's words as the email quotes them."""
    found = re.search("“([^”]*)”", text)
    assert found, text
    return found[1]


@pytest.mark.parametrize("language", ["en", "lo"])
def test_a_long_query_with_links_is_quoted_short_and_without_anything_a_mail_client_links(notify, smtp_sink,
                                                                                        language):
    bait = ("URGENT your EV subsidy account is suspended verify now at http://evil.example/login or "
            "www.evil-bank.example or write to support@evil.example or secure-login.example.com ")
    query = (bait * 5)[:500]
    client = notify.app.test_client()
    response = client.post("/subscribe", query_string={"q": query},
                           data={"email": "victim@partner.example", "language": language,
                                 "csrf_token": csrf(notify.app, client)},
                           environ_base={"REMOTE_ADDR": "198.51.100.21"})
    assert response.status_code == 200, response.get_data(as_text=True)[:400]
    subject, text, html = parts(received(notify, smtp_sink))
    words_shown = quoted(text)
    assert words_shown == quoted(html_text(html))
    assert 0 < len(words_shown) <= QUERY_LIMIT
    assert words_shown.startswith("URGENT your EV subsidy")
    for body in (subject, text, html):
        for linkish in ("http", "evil", "www", "@evil", ".example", "support@"):
            assert linkish not in body.replace("https://tracker.example", ""), (linkish, body)
    # The only links are the tracker's own.
    hrefs = lxml_html.fromstring(html).xpath("//a/@href")
    assert hrefs and all(href.startswith("https://tracker.example/") for href in hrefs)
    assert all(word.startswith("https://tracker.example/") for word in text.split() if "://" in word)


def test_lao_words_are_quoted_whole(notify, smtp_sink):
    query = ("ສະຖານີສາກໄຟຟ້າສາທາລະນະ ສຳລັບລົດໂດຍສານໄຟຟ້າ ແລະ ລົດຈັກໄຟຟ້າ ໃນນະຄອນຫຼວງວຽງຈັນ "
             "ແລະ ແຂວງຫຼວງພະບາງ ຕາມແຜນຍຸດທະສາດ")
    client = notify.app.test_client()
    response = client.post("/subscribe", query_string={"q": query},
                           data={"email": "lao.reader@partner.example", "language": "lo",
                                 "csrf_token": csrf(notify.app, client)},
                           environ_base={"REMOTE_ADDR": "198.51.100.22"})
    assert response.status_code == 200, response.get_data(as_text=True)[:400]
    _, text, html = parts(received(notify, smtp_sink))
    shown = quoted(text)
    assert shown.endswith("…") and len(shown) <= QUERY_LIMIT
    kept = shown.removesuffix("…")
    assert query.startswith(kept)
    # The cut falls between two of the segmenter's words: what follows starts a word of the query.
    boundaries = {0}
    for run in re.finditer(r"\S+", query):
        position = run.start()
        for word in words(run[0]):
            position += len(word)
            boundaries.add(position)
    assert len(kept) in boundaries, (kept, query[len(kept):len(kept) + 10])
    assert quoted(html_text(html)) == shown


@pytest.mark.parametrize("public_url", ["https://tracker.example", None])
def test_a_forged_host_never_reaches_the_email(notify, smtp_sink, public_url):
    notify.app.config["PUBLIC_URL"] = public_url
    response = subscribe(notify, "?country=LA", host="evil.example")
    assert response.status_code == 200, response.get_data(as_text=True)[:400]
    message = received(notify, smtp_sink)
    subject, text, html = parts(message)
    base = public_url or "http://localhost:5000"
    link = next(word for word in text.split() if "/subscriptions/confirm/" in word)
    assert link.startswith(base + "/subscriptions/confirm/")
    assert lxml_html.fromstring(html).xpath("//a/@href")[0].startswith(base + "/subscriptions/confirm/")
    assert "evil.example" not in message.as_string()


@pytest.mark.parametrize("public_url", ["https://tracker.example", None])
def test_a_forged_host_never_reaches_a_webhook_payload(notify, receiver, public_url):
    """The links of a change are stored with its outbox event, inside the request that made the change."""
    from tracker.services import accounts

    notify.app.config["PUBLIC_URL"] = public_url
    endpoint = notify.endpoint(receiver.base_url + "/hook")
    notify.subscribe(channel="webhook", endpoint=endpoint, kind="all", value=None)
    with unit_of_work(notify.session()) as session:
        _, token = accounts.create_api_token(session, notify.reviewer, "forged host test")
    client = notify.app.test_client()
    response = client.post(f"/api/v1/policies/{POLICY['key']}/status", json={"status": "in_force"},
                           headers={"Authorization": f"Bearer {token}"}, base_url="http://evil.example")
    assert response.status_code in (200, 201), response.get_data(as_text=True)[:400]
    notify.wait_until_done()
    [delivery] = receiver.requests
    urls = json.loads(delivery.body)["data"]["urls"]
    base = public_url or "http://localhost:5000"
    assert urls["html"] == f"{base}/policies/{POLICY['key']}"
    assert b"evil.example" not in delivery.body
