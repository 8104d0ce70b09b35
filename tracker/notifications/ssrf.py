"""Webhook targets must be public: refuse URLs that resolve to loopback, private or other internal addresses.

``ipaddress`` alone is not enough: CGNAT (100.64/10) is not "private", and NAT64/6to4 addresses that
wrap a private IPv4 address count as global, so those ranges are listed here too (the rules of
requests-hardened). The check runs when an endpoint is created and again at every send, on the
addresses the send then connects to, so a name re-pointed at an internal address (DNS rebinding)
gets nowhere.
"""
from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask_babel import gettext as _

from tracker.errors import Invalid

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Ranges refused on top of what ipaddress calls private, loopback, link-local, multicast, reserved
# or unspecified.
BLOCKED_NETWORKS = tuple(ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "192.88.99.0/24", "198.18.0.0/15", "240.0.0.0/4",
    "64:ff9b::/96", "64:ff9b:1::/48", "2002::/16", "2001::/32", "2001:20::/28", "5f00::/16", "3fff::/20",
    "fc00::/7", "fe80::/10", "fec0::/10", "::/128", "::1/128",
))
MAX_URL_LENGTH = 2000


@dataclass(frozen=True)
class Target:
    """A checked webhook URL: where to connect (the checked addresses) and what to ask for."""

    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[str, ...]


def address_is_public(address: IPAddress, *, allow_loopback: bool = False) -> bool:
    """Whether ``address`` is a public unicast address (or loopback, when allowed)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address_is_public(address.ipv4_mapped, allow_loopback=allow_loopback)
        if address.sixtofour is not None or address.teredo is not None:
            return False
    if address.is_loopback:
        return allow_loopback
    if (address.is_private or address.is_link_local or address.is_multicast or address.is_reserved
            or address.is_unspecified):
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return False
    if any(address in network for network in BLOCKED_NETWORKS if network.version == address.version):
        return False
    return address.is_global


class Unresolvable(Invalid):
    """The host name did not resolve (perhaps only for now: a send retries later)."""


def _refuse(message: str) -> Invalid:
    return Invalid(message, {"url": message})


def parse_url(url: str, *, require_https: bool) -> tuple[str, str, int, str]:
    """Scheme, host, port and request path of a webhook URL, or Invalid naming what is wrong."""
    if not isinstance(url, str) or not url.strip():
        raise _refuse(_("Give the URL of your webhook receiver."))
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise _refuse(_("The URL is longer than %(n)s characters.", n=MAX_URL_LENGTH))
    if any(ord(ch) < 33 or ord(ch) == 127 for ch in url):
        raise _refuse(_("The URL must not contain spaces or control characters."))
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _refuse(_("This is not a valid URL.")) from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise _refuse(_("Give a full URL starting with https://."))
    if require_https and scheme != "https":
        raise _refuse(_("Webhook URLs must use https://."))
    if parts.username is not None or parts.password is not None:
        raise _refuse(_("The URL must not contain a user name or password."))
    if parts.fragment:
        raise _refuse(_("The URL must not contain a #fragment."))
    host = parts.hostname.rstrip(".").lower()
    try:
        host.encode("idna")
    except UnicodeError:
        raise _refuse(_("This is not a valid host name.")) from None
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return scheme, host, port or (443 if scheme == "https" else 80), path


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (an IP literal resolves to itself)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError):
        message = _("The host name %(host)s could not be resolved.", host=host[:100])
        raise Unresolvable(message, {"url": message}) from None
    addresses: list[IPAddress] = []
    for info in infos:
        raw = str(info[4][0]).split("%", 1)[0]  # drop an IPv6 zone index
        address = ipaddress.ip_address(raw)
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise _refuse(_("The host name %(host)s could not be resolved.", host=host[:100]))
    return addresses


def check_target(url: str, *, allow_loopback: bool, require_https: bool) -> Target:
    """Parse ``url``, resolve its host once and check every address; the send connects to these.

    Raises:
        Invalid: malformed, not https when required, or resolving to a non-public address.
    """
    scheme, host, port, path = parse_url(url, require_https=require_https)
    addresses = resolve(host, port)
    for address in addresses:
        if not address_is_public(address, allow_loopback=allow_loopback):
            raise _refuse(_("The URL points to a private or internal address (%(address)s); webhooks "
                            "can only be sent to public addresses.", address=str(address)))
    return Target(scheme, host, port, path, tuple(str(a) for a in addresses))


def check_url(url: str, *, allow_loopback: bool, require_https: bool) -> None:
    """Refuse (Invalid with a 'url' message) a malformed, non-https or non-public webhook URL."""
    check_target(url, allow_loopback=allow_loopback, require_https=require_https)
