"""Webhooks per Standard Webhooks: signed JSON POSTed to the checked address, no redirects, a timeout."""
from __future__ import annotations

import http.client
import json
import socket
import ssl
import time
from typing import Any

from tracker.errors import Invalid
from tracker.notifications import signing, ssrf
from tracker.notifications.channels import SendResult

USER_AGENT = "ev-policy-tracker-webhooks/1"
MAX_RESPONSE_BYTES = 64 * 1024
# Answers that say "try again later"; other 4xx mean the message itself is refused.
RETRY_STATUSES = frozenset({408, 429})


def message_body(event_type: str, timestamp: str, data: dict[str, Any]) -> bytes:
    """The JSON body of a message: the same bytes on every retry."""
    return json.dumps({"type": event_type, "timestamp": timestamp, "data": data}, ensure_ascii=False,
                      separators=(",", ":"), sort_keys=False).encode("utf-8")


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """HTTP to an address checked beforehand; ``host`` stays the URL's name (for the Host header)."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to an address checked beforehand, with SNI and certificate checks for the URL's name."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        context = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=context)
        self._address = address
        self._ssl_context = context  # HTTPSConnection keeps it as _context, which typeshed does not declare

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._ssl_context.wrap_socket(sock, server_hostname=self.host)


def _retry_after(value: str | None) -> float | None:
    if value and value.strip().isdigit():
        return float(value.strip())
    return None


def send(url: str, secrets: list[str], msg_id: str, body: bytes, *, timeout: float, allow_loopback: bool,
         require_https: bool) -> SendResult:
    """POST one message. The URL is checked again now (its name may point elsewhere than at creation)
    and the connection goes to the address that was checked."""
    started = time.monotonic()

    def result(outcome: str, code: int | None = None, error: str | None = None,
               retry_after: float | None = None) -> SendResult:
        return SendResult(outcome, code, error[:500] if error else None, retry_after,
                          int((time.monotonic() - started) * 1000))

    try:
        target = ssrf.check_target(url, allow_loopback=allow_loopback, require_https=require_https)
    except ssrf.Unresolvable as error:
        return result("retry", error=error.message)
    except Invalid as error:
        return result("failed", error=error.message)
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signing.signature_header(secrets, msg_id, timestamp, body),
    }
    connection_class = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(target.host, target.port, target.addresses[0], timeout)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(MAX_RESPONSE_BYTES)
        status = response.status
        retry_after = _retry_after(response.getheader("Retry-After"))
    except TimeoutError:
        return result("retry", error=f"No answer within {timeout:g} s")
    except (OSError, http.client.HTTPException) as error:
        return result("retry", error=f"{error.__class__.__name__}: {error}")
    finally:
        connection.close()
    if 200 <= status < 300:
        return result("delivered", status)
    if status == 410:
        return result("gone", status, "The receiver answered 410 Gone")
    if status >= 500 or status in RETRY_STATUSES:
        return result("retry", status, f"The receiver answered {status}", retry_after)
    if 300 <= status < 400:
        return result("failed", status, f"The receiver answered {status}; redirects are not followed")
    return result("failed", status, f"The receiver answered {status}")
