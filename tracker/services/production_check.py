"""What is misconfigured for running in production: one finding per problem, naming the setting to change."""
from __future__ import annotations

import math
import os
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tracker.metrics import allowed_networks

# Filesystems on which SQLite's locking (and so its write-ahead log) cannot be trusted.
NETWORK_FILESYSTEMS = frozenset({"nfs", "nfs4", "cifs", "smb", "smb3", "smbfs", "sshfs", "fuse.sshfs", "9p", "ceph",
                                 "fuse.ceph", "glusterfs", "fuse.glusterfs", "afs", "lustre", "gpfs", "davfs",
                                 "fuse.davfs2", "ncpfs", "fuse.rclone", "fuse.s3fs", "beegfs"})
# Words that betray a key typed as a placeholder. Short ones count only standing apart ("dev-key"), since a
# random key of letters holds three letters in a row by chance.
# Words of a key someone typed. The long ones are looked for inside words as people write them (lower case, upper
# case, or each capitalised as in CamelCase): a random key's letters change case anywhere and may well spell
# "teSt" across two such words. The short ones only standing alone, in lower case, and more than once (a random
# key of letters, digits, "-" and "_" holds one such now and then).
PLACEHOLDER_WORDS = re.compile(r"secret|change|test|example|passw|default|insecure|sample")
SHORT_PLACEHOLDERS = re.compile(r"(?<![A-Za-z0-9])(?:dev|key|foo|abc|xxx)(?![A-Za-z0-9])")
WRITTEN_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")
MIN_SECRET_LENGTH = 32
# Bits of entropy, estimated from how often each character occurs; a random 32-byte hex key has about 128.
MIN_SECRET_BITS = 100


@dataclass(frozen=True)
class Finding:
    """One problem: the setting to change and why."""

    setting: str
    problem: str

    def line(self) -> str:
        return f"{self.setting}: {self.problem}"


def _entropy_bits(text: str) -> float:
    counts = Counter(text)
    per_character = -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())
    return per_character * len(text)


def secret_key_problem(key: str | None) -> str | None:
    """Why ``key`` is not fit to sign production sessions, None when it is."""
    if not key:
        return "missing: set it to a long random value (python3 -c 'import secrets; print(secrets.token_urlsafe(48))')"
    if len(key) < MIN_SECRET_LENGTH:
        return f"only {len(key)} characters: use at least {MIN_SECRET_LENGTH} random ones"
    words = _placeholder_words(key)
    if words:
        return f"looks like a placeholder (contains {', '.join(repr(w) for w in words)}): use a random value"
    if _entropy_bits(key) < MIN_SECRET_BITS:
        return f"too predictable (about {_entropy_bits(key):.0f} bits of entropy): use a random value"
    return None


def _placeholder_words(key: str) -> list[str]:
    short = SHORT_PLACEHOLDERS.findall(key)
    found = set(short) if len(short) > 1 else set()
    for word in WRITTEN_WORDS.findall(key):
        found.update(PLACEHOLDER_WORDS.findall(word.lower()))
    return sorted(found)


def filesystem_of(path: Path, mounts: str) -> str | None:
    """The type of the filesystem ``path`` lives on, from the text of /proc/mounts (the longest mount point that
    contains it)."""
    best: tuple[int, str] | None = None
    target = str(path)
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        point = fields[1].replace("\\040", " ")
        if target == point or target.startswith(point.rstrip("/") + "/") or point == "/":
            if best is None or len(point) > best[0]:
                best = (len(point), fields[2])
    return best[1] if best else None


def _sqlite_file(url: str) -> Path | None:
    if not url.startswith("sqlite"):
        return None
    path = url.split("///", 1)[1] if "///" in url else ""
    path = path.split("?", 1)[0]
    if not path or path == ":memory:":
        return None
    return Path(os.path.realpath(path))


def check(config: Mapping[str, Any], *, mounts: str | None = None) -> list[Finding]:
    """Every production problem of ``config``. ``mounts``: the text of /proc/mounts (read when None)."""
    findings: list[Finding] = []
    public_url = config.get("PUBLIC_URL") or ""
    if not public_url:
        findings.append(Finding("PUBLIC_URL", "not set: links in emails and webhooks point to http://localhost:5000; "
                                              "set it to the site's https:// address"))
    problem = secret_key_problem(config.get("SECRET_KEY"))
    if problem:
        findings.append(Finding("SECRET_KEY", problem))
    database = _sqlite_file(str(config.get("DATABASE_URL") or ""))
    if database is not None:
        if mounts is None:
            try:
                mounts = Path("/proc/mounts").read_text(encoding="utf-8", errors="replace")
            except OSError:
                mounts = ""
        kind = filesystem_of(database, mounts)
        if kind in NETWORK_FILESYSTEMS:
            findings.append(Finding("DATABASE_URL", f"the SQLite database {database} is on a network filesystem "
                                                    f"({kind}), whose locks SQLite cannot rely on: move it to a "
                                                    f"local disk or use PostgreSQL"))
    if not config.get("MAIL_HOST"):
        findings.append(Finding("MAIL_HOST", "not set: emails are written to files in the instance folder, never "
                                             "sent; set the SMTP server"))
    if config.get("NOTIFY_ALLOW_LOOPBACK"):
        findings.append(Finding("NOTIFY_ALLOW_LOOPBACK", "on: webhooks may be sent to this machine's own services; "
                                                         "turn it off"))
    if not config.get("NOTIFY_REQUIRE_HTTPS"):
        findings.append(Finding("NOTIFY_REQUIRE_HTTPS", "off: webhooks may be sent in clear text; turn it on"))
    https = public_url.lower().startswith("https://")
    if public_url and not https:
        findings.append(Finding("PUBLIC_URL", f"{public_url} is not https://: serve the site over HTTPS"))
    if not config.get("SESSION_COOKIE_SECURE"):
        findings.append(Finding("SESSION_COOKIE_SECURE", "off: the login cookie may travel over plain HTTP; turn it "
                                                         "on (the site must be served over HTTPS)"))
    if https and int(config.get("TRUSTED_PROXIES") or 0) == 0:
        findings.append(Finding("TRUSTED_PROXIES", "0 while PUBLIC_URL is https: behind a reverse proxy that ends "
                                                   "TLS, set it to the number of proxies (usually 1), or client "
                                                   "addresses and HTTPS are not seen"))
    token = config.get("METRICS_TOKEN")
    problem = secret_key_problem(token) if token else None
    if problem:
        findings.append(Finding("METRICS_TOKEN", f"{problem} (it opens /metrics from anywhere)"))
    if any(network.prefixlen == 0 for network in allowed_networks(str(config.get("METRICS_ALLOW") or ""))):
        findings.append(Finding("METRICS_ALLOW", "lets every address read /metrics: list only the Prometheus "
                                                 "servers' addresses (others may use METRICS_TOKEN)"))
    return findings
