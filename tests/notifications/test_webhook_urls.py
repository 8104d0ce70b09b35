"""Webhook URLs are written at creation as they will be sent (IDNA host, percent-encoded path and query), so
every URL accepted can be sent; what cannot be is refused with a message by the field, in the reader's
language, on the page and in the API."""
from __future__ import annotations

from urllib.parse import unquote

import pytest
from sqlalchemy import select

from tests.integration.test_subscriptions import csrf
from tracker.db import unit_of_work
from tracker.errors import Invalid
from tracker.models import WebhookEndpoint
from tracker.notifications.ssrf import normalise_url
from tracker.services import webhook_endpoints

LAO_PATH = "/ຮັບ/ລົດໄຟຟ້າ"
LAO_PATH_SENT = "/%E0%BA%AE%E0%BA%B1%E0%BA%9A/%E0%BA%A5%E0%BA%BB%E0%BA%94%E0%BB%84%E0%BA%9F%E0%BA%9F%E0%BB%89%E0%BA%B2"
EMOJI = "🔌🚗⚡👩🏽‍🔬"


@pytest.mark.parametrize("url, normalised", [
    (f"https://hooks.example.org{LAO_PATH}", f"https://hooks.example.org{LAO_PATH_SENT}"),
    (f"https://hooks.example.org/in?ປະເທດ=ລາວ&q={EMOJI}",
     "https://hooks.example.org/in?%E0%BA%9B%E0%BA%B0%E0%BB%80%E0%BA%97%E0%BA%94=%E0%BA%A5%E0%BA%B2%E0%BA%A7"
     "&q=%F0%9F%94%8C%F0%9F%9A%97%E2%9A%A1%F0%9F%91%A9%F0%9F%8F%BD%E2%80%8D%F0%9F%94%AC"),
    ("https://ຕົວຢ່າງ.ລາວ/hook", "https://xn--v6c1a1bt0d9b7e.xn--q7ce6a/hook"),
    ("https://Bücher.Example/hook", "https://xn--bcher-kva.example/hook"),
    ("https://例え.テスト/", "https://xn--r8jz45g.xn--zckzah/"),
    ("  HTTPS://Hooks.Example.ORG:443  ", "https://hooks.example.org/"),
    ("https://hooks.example.org.:8443/in", "https://hooks.example.org:8443/in"),
    ("https://hooks.example.org/a%20b/%E0%BA%A5?x=%41", "https://hooks.example.org/a%20b/%E0%BA%A5?x=%41"),
    ("https://hooks.example.org/100%/done", "https://hooks.example.org/100%25/done"),
    ("https://[2001:DB8:0:0::1]:8443/x", "https://[2001:db8::1]:8443/x"),
])
def test_accepted_urls_are_written_as_they_are_sent(app, url, normalised):
    with app.test_request_context():
        assert normalise_url(url, require_https=True) == normalised
        assert normalise_url(normalised, require_https=True) == normalised  # already in its final form
        assert normalised.isascii()


@pytest.mark.parametrize("url, message", [
    ("https://partner:secret@hooks.example.org/in", "user name or password"),
    ("https://@hooks.example.org/in", "user name or password"),
    ("https://hooks.example.org/in#section", "#fragment"),
    ("https://hooks.example.org/in#", "#fragment"),
    ("https://hooks.example.org:0/in", "port must be a number from 1 to 65535"),
    ("https://hooks.example.org:70000/in", "port must be a number from 1 to 65535"),
    ("https://hooks.example.org:https/in", "port must be a number from 1 to 65535"),
    ("https://hooks.example.org/my hook", "spaces or control characters"),
    ("https://hooks.example.org/my\u00a0hook", "spaces or control characters"),
    ("https://hooks.example.org/in\u3000put", "spaces or control characters"),
    ("https://hooks.example.org/in\x07", "spaces or control characters"),
    ("https://☃.example/in", "is not a valid host name"),
    (f"https://{EMOJI}.la/in", "is not a valid host name"),
    ("https://exa..mple.org/in", "is not a valid host name"),
    ("https://-hooks.example.org/in", "is not a valid host name"),
    ("https://" + "a" * 64 + ".example.org/", "is not a valid host name"),
    ("https://hooks%2eexample.org/", "is not a valid host name"),
    ("https://hooks.example.org/" + "ລ" * 300, "encoded, the URL is longer than 2000 characters"),
    ("https://hooks.example.org/" + "a" * 2000, "longer than 2000 characters"),
    ("ftp://hooks.example.org/in", "starting with https://"),
    ("https:///in", "starting with https://"),
    ("http://hooks.example.org/in", "must use https://"),
])
def test_urls_that_cannot_be_sent_are_refused_with_a_clear_message(app, url, message):
    with app.test_request_context(), pytest.raises(Invalid) as refused:
        normalise_url(url, require_https=True)
    assert message in refused.value.errors["url"]


def test_the_api_refuses_a_bad_url_with_400_in_the_readers_language(client, api_token):
    headers = {**api_token("partner"), "Accept-Language": "lo"}
    for url in ("https://partner:secret@hooks.example.org/in", "https://hooks.example.org/in#top"):
        response = client.post("/api/v1/webhooks", json={"url": url}, headers=headers)
        assert response.status_code == 400
        error = response.get_json()["error"]
        assert set(error["errors"]) == {"url"}
        assert not error["errors"]["url"].isascii()  # Lao
    for url in ("https://hooks.example.org:0/in", "https://hooks.example.org:70000/in"):
        response = client.post("/api/v1/webhooks", json={"url": url}, headers=api_token("partner"))
        assert response.status_code == 400
        assert "port" in response.get_json()["error"]["errors"]["url"]


def test_the_api_resolves_an_internationalised_host_by_its_idna_name(client, api_token):
    response = client.post("/api/v1/webhooks", json={"url": "https://ຕົວຢ່າງ.invalid/ຮັບ"},
                           headers=api_token("partner"))
    assert response.status_code == 400
    assert "xn--" in response.get_json()["error"]["errors"]["url"]  # looked up in the form DNS knows


def test_the_page_stores_and_shows_the_normalised_url(app, client, session, login_as, monkeypatch):
    monkeypatch.setitem(app.config, "NOTIFY_ALLOW_LOOPBACK", True)
    monkeypatch.setitem(app.config, "NOTIFY_REQUIRE_HTTPS", False)
    partner = login_as("partner")
    written = f"http://127.0.0.1:9{LAO_PATH}?ປະເທດ=ລາວ"
    response = client.post("/account/webhooks", data={"url": written, "csrf_token": csrf(app, client)})
    assert response.status_code == 201
    stored = session.scalar(select(WebhookEndpoint.url).where(WebhookEndpoint.user_id == partner.id))
    assert stored == f"http://127.0.0.1:9{LAO_PATH_SENT}?%E0%BA%9B%E0%BA%B0%E0%BB%80%E0%BA%97%E0%BA%94=%E0%BA%A5%E0%BA%B2%E0%BA%A7"
    assert unquote(stored) == written
    assert stored in client.get("/account/webhooks").get_data(as_text=True)


@pytest.mark.parametrize("stored_raw", [False, True], ids=["created", "stored-before-normalising"])
def test_a_lao_and_emoji_path_is_delivered_encoded_to_the_real_receiver(notify, receiver, stored_raw):
    written = f"{receiver.base_url}{LAO_PATH}/{EMOJI}?ປະເທດ=ລາວ"
    if stored_raw:  # an endpoint saved as typed by an earlier version: normalised at every send
        endpoint = notify.endpoint(written)
    else:
        with notify.app.test_request_context(), unit_of_work(notify.session()) as session:
            endpoint, _ = webhook_endpoints.create_endpoint(session, notify.partner, written,
                                                            allow_loopback=True, require_https=False)
        assert endpoint.url.isascii()
    notify.subscribe(channel="webhook", kind="country", value="LA", endpoint=endpoint)
    notify.change_status("in_force")
    assert notify.wait_until_done()["delivered"] == 1

    [request] = receiver.requests
    assert request.path.isascii() and request.path.startswith(LAO_PATH_SENT + "/%F0%9F%94%8C")
    assert unquote(request.path) == written.removeprefix(receiver.base_url)
