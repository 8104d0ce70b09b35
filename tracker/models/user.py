"""Accounts: users with one role, their API tokens, and the counters that slow down password guessing."""
from __future__ import annotations

import datetime as dt

from flask_babel import LazyString
from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.db import Base
from tracker.models.types import UTCDateTime, utcnow
from tracker.models.vocab import check_in
from tracker.translation import lazy_gettext as _l

ROLES: dict[str, LazyString] = {
    "admin": _l("Administrator"),
    "reviewer": _l("Reviewer"),
    "editor": _l("Editor"),
    "partner": _l("Partner"),
}


class User(Base):
    """A person who logs in. ``session_token`` is what the session cookie names: rotating it ends every
    session of the user at once (logout, password change, disabling)."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint(check_in("role", ROLES), name="role"),)
    tracks_content = False

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    # The name shown in histories and activity logs instead of the email address.
    display_name: Mapped[str | None] = mapped_column(String(200))
    # The language of the emails the tracker sends this person (en or lo); None: English.
    language: Mapped[str | None] = mapped_column(String(5))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    session_token: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    password_changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    tokens: Mapped[list[ApiToken]] = relationship(back_populates="user", lazy="raise",
                                                  order_by="ApiToken.id", cascade="all, delete-orphan")

    # Flask-Login's user protocol.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return self.session_token

    @property
    def label(self) -> str:
        """How the person is named to others: the display name, else the email address."""
        return self.display_name or self.email

    def __repr__(self) -> str:
        return f"<User {self.email} {self.role}>"


class ApiToken(Base):
    """A bearer token for the API; only its SHA-256 is stored, the token itself is shown once."""

    __tablename__ = "api_tokens"
    tracks_content = False

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(back_populates="tokens", lazy="raise")

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


THROTTLE_SCOPES = ("pair", "account", "address", "known")


class LoginThrottle(Base):
    """Login attempts counted per scope, with a temporary lock.

    ``pair`` (account and client address): locked after a few failures, so guessing from one place stops
    while the owner elsewhere is not affected. ``account`` (all addresses): a slower limit on guessing
    one account from many places, which addresses the account has logged in from before (``known``)
    pass. ``address`` (all accounts): a limit on trying many accounts from one place.
    """

    __tablename__ = "login_throttles"
    __table_args__ = (UniqueConstraint("scope", "key"),
                      CheckConstraint(check_in("scope", THROTTLE_SCOPES), name="scope"),
                      Index("ix_login_throttles_last_failure_at", "last_failure_at"))
    tracks_content = False

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(10))
    key: Mapped[str] = mapped_column(String(320))
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
