"""Signed tokens in confirmation and unsubscribe links, bound to one subscription and one purpose."""
from __future__ import annotations

from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from tracker.services.errors import Invalid

# Purpose -> how long a token stays valid (None: for ever; unsubscribe links must keep working).
PURPOSES: dict[str, int | None] = {"confirm": 7 * 24 * 3600, "unsubscribe": None}


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose: {purpose!r}")
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"tracker.notify.{purpose}")


def make_token(purpose: str, subscription_public_id: str) -> str:
    """A URL-safe token naming the subscription, signed with the app's secret key for ``purpose``."""
    return _serializer(purpose).dumps(subscription_public_id)


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
