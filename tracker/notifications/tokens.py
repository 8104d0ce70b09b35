"""Signed tokens in links sent by mail: confirmation and unsubscribe links bound to one subscription and one
purpose, and password reset links bound to the password and sessions they were made with."""
from __future__ import annotations

import hashlib
import hmac

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from tracker.errors import Invalid
from tracker.models import User
from tracker.translation import gettext as _

# Purpose -> how long a token stays valid (None: for ever; unsubscribe links must keep working).
# "manage" names an email address (not one subscription): the page that lists and changes all of that
# address's subscriptions; it expires, and every email carries a fresh one.
PURPOSES: dict[str, int | None] = {"confirm": 7 * 24 * 3600, "unsubscribe": None, "manage": 30 * 24 * 3600}


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose: {purpose!r}")
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"tracker.notify.{purpose}")


def make_token(purpose: str, subscription_public_id: str) -> str:
    """A URL-safe token naming the subscription, signed with the app's secret key for ``purpose``."""
    return _serializer(purpose).dumps(subscription_public_id)


def make_unsubscribe_token(subscription_public_ids: list[str]) -> str:
    """An unsubscribe token naming exactly these subscriptions (the ones one email answered). One
    subscription gives the same token as ``make_token('unsubscribe', id)``, so older links keep working."""
    if not subscription_public_ids:
        raise ValueError("an unsubscribe token names at least one subscription")
    return make_token("unsubscribe", ".".join(sorted(set(subscription_public_ids))))


def read_unsubscribe_token(token: str) -> list[str]:
    """The subscription public ids an unsubscribe token names; raises Invalid like ``read_token``."""
    return [part for part in read_token("unsubscribe", token).split(".") if part]


def make_manage_token(address: str) -> str:
    """A token for the page managing every subscription of ``address`` (lower-cased), valid 30 days."""
    return _serializer("manage").dumps(address.strip().lower())


def read_manage_token(token: str) -> str:
    """The (lower-cased) email address a management token names; raises Invalid like ``read_token``."""
    return read_token("manage", token)


def read_token(purpose: str, token: str, max_age: int | None = None) -> str:
    """The subscription public id a token names.

    Raises:
        Invalid: the token is forged, damaged, made for another purpose, or expired.
    """
    serializer = _serializer(purpose)
    limit = max_age if max_age is not None else PURPOSES[purpose]
    try:
        value = serializer.loads(token, max_age=limit)
    except SignatureExpired as error:
        message = _("This link has expired; ask for a new one.")
        raise Invalid(_("This link has expired."), {"token": message}) from error
    except (BadSignature, TypeError, ValueError) as error:
        raise Invalid(_("This link is not valid."), {"token": _("This link is not valid; check that it was "
                                                                "copied whole.")}) from error
    if not isinstance(value, str):
        raise Invalid(_("This link is not valid."), {"token": _("This link is not valid.")})
    return value


# ---------------------------------------------------------------------------------------------------
# Password reset links (made by the mail worker when it sends one, checked by tracker.services.accounts)

# A reset link works for an hour, and only until the password changes or the sessions end.
RESET_MAX_AGE = 3600
RESET_SALT = "tracker.accounts.password-reset"


def reset_serializer(secret_key: str | bytes) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=RESET_SALT)


def reset_fingerprint(user: User, secret_key: str | bytes) -> str:
    """A digest of what a reset, a password change or the end of all sessions changes; keyed, so the
    token (readable by whoever holds it) tells nothing about the password hash."""
    key = secret_key if isinstance(secret_key, bytes) else secret_key.encode()
    material = f"{RESET_SALT}|{user.id}|{user.password_hash}|{user.session_token}".encode()
    return hmac.new(key, material, hashlib.sha256).hexdigest()[:32]


def make_password_reset_token(user: User, secret_key: str | bytes) -> str:
    """The token of a reset link for ``user``: signed, good for RESET_MAX_AGE seconds, and only while
    the password and the sessions are those it was made with (so it works once)."""
    return reset_serializer(secret_key).dumps([user.id, reset_fingerprint(user, secret_key)])
