"""Webhook targets must be public: refuse URLs that resolve to loopback, private or other internal addresses.

``ipaddress`` alone is not enough: CGNAT (100.64/10) is not "private", and NAT64/6to4 addresses that
wrap a private IPv4 address count as global, so those ranges are listed here too (the rules of
requests-hardened). The check runs when an endpoint is created and again at every send, on the
addresses the send then connects to, so a name re-pointed at an internal address (DNS rebinding)
gets nowhere.
"""
from __future__ import annotations

import ipaddress
import re
import socket
import unicodedata
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import idna

from tracker.errors import Invalid
from tracker.translation import gettext as _

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


# Characters kept as they are in a path or a query (RFC 3986 unreserved and sub-delimiters, ':' and '@',
# and '%' of escapes already made); anything else, non-ASCII included, is percent-encoded as UTF-8.
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"
_QUERY_SAFE = _PATH_SAFE + "?"
_LONE_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")


def _ascii_host(host: str) -> str:
    """The host as sent on the wire: an IP literal as written by ``ipaddress``, a name in lower case
    with its internationalised labels in IDNA 2008 (``xn--``) form."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return f"[{address.compressed}]" if address.version == 6 else address.compressed
    invalid = _refuse(_("%(host)s is not a valid host name.", host=host[:100]))
    if "%" in host:
        raise invalid
    if not host.isascii():
        try:
            host = idna.encode(host, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError):
            raise invalid from None
    host = host.lower()
    if len(host) > 253 or not all(_LABEL.match(label) for label in host.split(".")):
        raise invalid
    return host


def normalise_url(url: object, *, require_https: bool) -> str:
    """``url`` written so that it can be sent as it is: the host in ASCII (IDNA), the default port
    dropped, the path and query percent-encoded (UTF-8), no fragment.

    Raises:
        Invalid: naming ``url`` — empty, too long, with spaces or control characters, not http(s) (or
            not https when required), with a user name or password, a fragment, a bad port or host.
    """
    if not isinstance(url, str) or not url.strip():
        raise _refuse(_("Give the URL of your webhook receiver."))
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise _refuse(_("The URL is longer than %(n)s characters.", n=MAX_URL_LENGTH))
    if any(ord(ch) < 33 or ord(ch) == 127 or unicodedata.category(ch) in ("Zs", "Zl", "Zp", "Cc")
           for ch in url):
        raise _refuse(_("The URL must not contain spaces or control characters."))
    try:
        parts = urlsplit(url)
    except ValueError:
        raise _refuse(_("This is not a valid URL.")) from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.netloc:
        raise _refuse(_("Give a full URL starting with https://."))
    if require_https and scheme != "https":
        raise _refuse(_("Webhook URLs must use https://."))
    if "@" in parts.netloc:
        raise _refuse(_("The URL must not contain a user name or password."))
    if "#" in url:
        raise _refuse(_("The URL must not contain a #fragment."))
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        raise _refuse(_("The port must be a number from 1 to 65535."))
    if not parts.hostname:
        raise _refuse(_("Give a full URL starting with https://."))
    host = _ascii_host(parts.hostname.rstrip("."))
    default = 443 if scheme == "https" else 80
    netloc = host if port in (None, default) else f"{host}:{port}"
    path = quote(_LONE_PERCENT.sub("%25", parts.path), safe=_PATH_SAFE) or "/"
    query = quote(_LONE_PERCENT.sub("%25", parts.query), safe=_QUERY_SAFE)
    normalised = f"{scheme}://{netloc}{path}" + (f"?{query}" if query else "")
    if len(normalised) > MAX_URL_LENGTH:
        raise _refuse(_("Written with its non-ASCII characters encoded, the URL is longer than %(n)s "
                        "characters.", n=MAX_URL_LENGTH))
    return normalised


def parse_url(url: str, *, require_https: bool) -> tuple[str, str, int, str]:
    """Scheme, host, port and request path of a webhook URL (normalised first), or Invalid naming what
    is wrong."""
    parts = urlsplit(normalise_url(url, require_https=require_https))
    host = parts.hostname or ""
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, host, parts.port or (443 if parts.scheme == "https" else 80), path


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


def check_url(url: str, *, allow_loopback: bool, require_https: bool) -> str:
    """The normalised form of a webhook URL (see ``normalise_url``), or Invalid with a 'url' message
    when it is malformed, not https, or not public."""
    normalised = normalise_url(url, require_https=require_https)
    check_target(normalised, allow_loopback=allow_loopback, require_https=require_https)
    return normalised
