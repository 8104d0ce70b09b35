"""Standard Webhooks signatures: per-endpoint ``whsec_`` secrets and ``v1,`` HMAC-SHA256 signatures."""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

PREFIX = "whsec_"


def new_secret() -> str:
    """A new endpoint secret: 'whsec_' + base64 of 32 random bytes (shown to the partner once)."""
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def _key(secret: str) -> bytes:
    return base64.b64decode(secret[len(PREFIX):] if secret.startswith(PREFIX) else secret)


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The signature of one message: 'v1,' + base64(HMAC-SHA256(key, "<id>.<timestamp>.<body>"))."""
    content = f"{msg_id}.{int(timestamp)}.".encode() + body
    digest = hmac.new(_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signature_header(secrets_: list[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: one signature per secret, space-separated (rotation signs
    with the new and the previous secret so receivers can switch without missing a message)."""
    return " ".join(sign(secret, msg_id, timestamp, body) for secret in secrets_)
