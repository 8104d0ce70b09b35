"""Webhook targets must be public (at creation and at every send); tokens and signatures cannot be forged."""
from __future__ import annotations

import socket
import time

import pytest
from standardwebhooks.webhooks import Webhook

from tracker.errors import Invalid
from tracker.notifications import signing, ssrf
from tracker.notifications.channels import webhook

BLOCKED = ["127.0.0.1", "10.1.2.3", "172.16.5.4", "192.168.0.10", "169.254.169.254", "100.64.0.1",
           "100.127.255.254", "0.0.0.0", "::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::a00:1",
           "64:ff9b::7f00:1", "2002:a00:1::", "fe80::1", "fc00::5", "224.0.0.1", "192.0.0.8", "198.18.0.1",
           "255.255.255.255", "::"]


@pytest.fixture
def resolve_to(monkeypatch):
    """Make every host name resolve to the given addresses, and fail the test on any connection."""
    def set_addresses(*addresses: str) -> None:
        def getaddrinfo(host, port, *args, **kwargs):
            return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                    for a in addresses]
        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)

    def no_connection(*args, **kwargs):
        raise AssertionError(f"a connection was attempted: {args}")
    monkeypatch.setattr(socket, "create_connection", no_connection)
    return set_addresses


@pytest.mark.parametrize("address", BLOCKED)
def test_non_public_addresses_are_refused(address, resolve_to):
    host = f"[{address}]" if ":" in address else address
    with pytest.raises(Invalid) as refused:
        ssrf.check_url(f"https://{host}/hook", allow_loopback=False, require_https=True)
    assert "url" in refused.value.errors


@pytest.mark.parametrize("address", ["10.0.0.7", "::ffff:127.0.0.1", "100.64.1.1", "169.254.169.254"])
def test_host_names_resolving_to_internal_addresses_are_refused(address, resolve_to):
    resolve_to(address)
    with pytest.raises(Invalid, match="private or internal"):
        ssrf.check_url("https://hooks.partner.example/in", allow_loopback=False, require_https=True)


def test_one_internal_address_among_public_ones_is_enough_to_refuse(resolve_to):
    resolve_to("93.184.216.34", "10.0.0.1")
    with pytest.raises(Invalid):
        ssrf.check_url("https://hooks.partner.example/in", allow_loopback=False, require_https=True)


def test_a_public_host_is_accepted(resolve_to):
    resolve_to("93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946")
    target = ssrf.check_target("https://hooks.partner.example:8443/in?x=1", allow_loopback=False,
                               require_https=True)
    assert (target.host, target.port, target.path) == ("hooks.partner.example", 8443, "/in?x=1")
    assert target.addresses[0] == "93.184.216.34"


def test_loopback_is_allowed_only_when_configured():
    with pytest.raises(Invalid):
        ssrf.check_url("http://127.0.0.1:9/h", allow_loopback=False, require_https=False)
    ssrf.check_url("http://127.0.0.1:9/h", allow_loopback=True, require_https=False)
    with pytest.raises(Invalid):  # private ranges stay refused even then
        ssrf.check_url("http://10.0.0.1/h", allow_loopback=True, require_https=False)


@pytest.mark.parametrize("url, message", [
    ("", "Give the URL"), ("not a url", "spaces"), ("ftp://example.org/x", "https://"),
    ("http://example.org/x", "must use https"), ("https://user:pw@example.org/x", "user name"),
    ("https:///nohost", "full URL"), ("https://example.org:99999/", "port must be a number"),
    ("https://example.org/" + "a" * 2000, "longer than"),
])
def test_malformed_urls_get_a_clear_message(url, message):
    with pytest.raises(Invalid, match=message):
        ssrf.check_url(url, allow_loopback=False, require_https=True)


def test_the_send_checks_again_and_never_connects_to_an_internal_address(resolve_to):
    # The name was public when the endpoint was created; now it points inside (DNS rebinding).
    resolve_to("192.168.1.1")
    result = webhook.send("https://hooks.partner.example/in", [signing.new_secret()], "msg_x", b"{}", timeout=1,
                          allow_loopback=False, require_https=True)
    assert result.outcome == "failed" and "private or internal" in result.error


def test_our_signatures_verify_with_the_reference_library():
    secret = signing.new_secret()
    assert secret.startswith("whsec_")
    body = '{"type":"policy.status_changed","data":{"title":"ລົດໄຟຟ້າ"}}'.encode()
    timestamp = int(time.time())
    header = signing.signature_header([secret, signing.new_secret()], "msg_abc", timestamp, body)
    assert header.count("v1,") == 2
    verified = Webhook(secret).verify(body, {"webhook-id": "msg_abc", "webhook-timestamp": str(timestamp),
                                             "webhook-signature": header})
    assert verified["data"]["title"] == "ລົດໄຟຟ້າ"


def test_tokens_name_their_subscription_and_refuse_forgery(committed_app):
    from tracker.notifications.tokens import make_token, read_token

    with committed_app.app_context():
        token = make_token("unsubscribe", "abc123")
        assert read_token("unsubscribe", token) == "abc123"
        for bad in (token[:-2] + "xx", "garbage", make_token("confirm", "abc123")):
            with pytest.raises(Invalid):
                read_token("unsubscribe", bad)
        confirm = make_token("confirm", "abc123")
        time.sleep(1.1)
        with pytest.raises(Invalid, match="expired"):
            read_token("confirm", confirm, max_age=0)
        assert read_token("confirm", confirm) == "abc123"
