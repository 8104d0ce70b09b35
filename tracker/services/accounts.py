"""Accounts: creating users, checking passwords with throttling, sessions that can be ended, API tokens."""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.models.types import utcnow
from tracker.models.user import ROLES, ApiToken, LoginThrottle, User
from tracker.services.errors import Conflict, DomainError, Invalid, NotFound
from tracker.services.permissions import require

# Argon2id with argon2-cffi's defaults (RFC 9106 low-memory profile: t=3, m=64 MiB, p=4).
_hasher = PasswordHasher()

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256
# After this many failures a login is refused for LOCK_MINUTES; before that each failure adds delay.
MAX_FAILURES = 5
LOCK_MINUTES = 15
FAILURE_WINDOW = dt.timedelta(minutes=30)
TOKEN_PREFIX = "evt_"


class LoginFailed(DomainError):
    """Wrong email or password, or a disabled account: one message for all, so accounts cannot be probed."""

    status_code = 401


class LoginLocked(DomainError):
    """Too many failed logins for this account or from this address."""

    status_code = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def normalise_email(email: str) -> str:
    """The address in the form accounts are stored under, or Invalid."""
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as error:
        raise Invalid(_("The email address is not valid."),
                      {"email": _("Give a full email address, such as name@example.org.")})


def check_password_strength(password: str, *, email: str = "") -> None:
    """Length rules only (no composition rules), per current guidance; raise Invalid naming the field."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(_("The password is too short."),
                      {"password": _("Use at least %(num)s characters.", num=MIN_PASSWORD_LENGTH)})
    if len(password) > MAX_PASSWORD_LENGTH:
        raise Invalid(_("The password is too long."),
                      {"password": _("Use at most %(num)s characters.", num=MAX_PASSWORD_LENGTH)})
    if email and password.lower() == email.lower():
        raise Invalid(_("The password is the email address."),
                      {"password": _("Do not use your email address.")})


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def create_user(session: Session, email: str, password: str, role: str, *, display_name: str | None = None,
                actor: User | None = None) -> User:
    """Create an account. ``actor`` None means the command line (run by whoever runs the server).

    Raises:
        Invalid: bad email, weak password or unknown role. Conflict: the email is taken.
        Forbidden: the actor may not manage users.
    """
    if actor is not None:
        require(actor, "manage_users")
    address = normalise_email(email)
    if role not in ROLES:
        raise Invalid(_("Unknown role."), {"role": _("Choose one of: %(values)s.", values=", ".join(ROLES))})
    check_password_strength(password, email=address)
    if session.scalar(select(User.id).where(User.email == address)) is not None:
        raise Conflict(_("An account for %(address)s already exists.", address=address))
    user = User(email=address, role=role, display_name=(display_name or "").strip()[:200] or None,
                password_hash=hash_password(password), is_active=True, session_token=secrets.token_urlsafe(32))
    session.add(user)
    session.flush()
    return user


def user_by_session_token(session: Session, token: str) -> User | None:
    """The active user a session cookie names, if the session has not been ended."""
    if not token or len(token) > 64:
        return None
    return session.scalar(select(User).where(User.session_token == token, User.is_active.is_(True)))


def end_sessions(user: User) -> None:
    """Invalidate every session of ``user`` (its cookies name the old token)."""
    user.session_token = secrets.token_urlsafe(32)


def _throttle(session: Session, scope: str, key: str) -> LoginThrottle:
    row = session.scalar(select(LoginThrottle).where(LoginThrottle.scope == scope, LoginThrottle.key == key))
    if row is None:
        row = LoginThrottle(scope=scope, key=key, failures=0)
        session.add(row)
    return row


def authenticate(session: Session, email: str, password: str, address: str) -> User:
    """Check a login. Failures are counted per account and per client address; past MAX_FAILURES the
    account or address is locked for LOCK_MINUTES.

    Raises:
        LoginLocked: while locked (says for how long). LoginFailed: wrong email or password, or disabled.
    """
    now = utcnow()
    try:
        address_key = normalise_email(email)
    except Invalid:
        address_key = email.strip().lower()[:320]
    throttles = [_throttle(session, "account", address_key), _throttle(session, "address", address[:320])]
    for row in throttles:
        if row.locked_until is not None and row.locked_until > now:
            wait = int((row.locked_until - now).total_seconds()) + 1
            raise LoginLocked(_("Too many failed logins. Try again in %(num)s minute(s).",
                                num=max(1, round(wait / 60))), wait)

    user = session.scalar(select(User).where(User.email == address_key))
    valid = False
    if user is not None and len(password) <= MAX_PASSWORD_LENGTH:
        try:
            valid = _hasher.verify(user.password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            valid = False
    else:
        # Spend the same time on unknown accounts, so timing does not tell which accounts exist.
        try:
            _hasher.verify(_DUMMY_HASH, password[:MAX_PASSWORD_LENGTH])
        except VerificationError:
            pass

    if not valid or user is None or not user.is_active:
        for row in throttles:
            if row.last_failure_at is None or now - row.last_failure_at > FAILURE_WINDOW:
                row.failures = 0
            row.failures += 1
            row.last_failure_at = now
            if row.failures >= MAX_FAILURES:
                row.locked_until = now + dt.timedelta(minutes=LOCK_MINUTES)
                row.failures = 0
        raise LoginFailed(_("The email or password is not correct, or the account is disabled."))

    for row in throttles:
        if row.scope == "account":
            row.failures, row.locked_until = 0, None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = now
    return user


_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


def failure_delay(session: Session, address: str) -> float:
    """Seconds to wait before answering a failed login from ``address``: grows with its failures."""
    row = session.scalar(select(LoginThrottle).where(LoginThrottle.scope == "address",
                                                     LoginThrottle.key == address[:320]))
    failures = row.failures if row else 0
    # Capped low: a sleeping worker serves no one else, so the lock, not the delay, stops guessing.
    return min(0.25 * (2 ** max(0, failures - 1)), 2.0)


def change_password(session: Session, user: User, current: str, new: str) -> None:
    """Change ``user``'s password and end their other sessions.

    Raises:
        Invalid: the current password is wrong, or the new one is too weak.
    """
    try:
        _hasher.verify(user.password_hash, current[:MAX_PASSWORD_LENGTH])
    except VerificationError:
        raise Invalid(_("The current password is not correct."), {"current_password": _("Not correct.")})
    check_password_strength(new, email=user.email)
    user.password_hash = hash_password(new)
    user.password_changed_at = utcnow()
    end_sessions(user)


def set_role(session: Session, user: User, role: str, actor: User) -> None:
    """Change a user's role. Raises Invalid for an unknown role, Forbidden for a non-admin."""
    require(actor, "manage_users")
    if role not in ROLES:
        raise Invalid(_("Unknown role."), {"role": _("Choose one of: %(values)s.", values=", ".join(ROLES))})
    user.role = role
    end_sessions(user)


def set_active(session: Session, user: User, active: bool, actor: User | None) -> None:
    """Enable or disable an account; disabling ends its sessions and stops its tokens."""
    if actor is not None:
        require(actor, "manage_users")
        if actor.id == user.id and not active:
            raise Invalid(_("You cannot disable your own account."),
                          {"active": _("Ask another administrator.")})
    user.is_active = active
    end_sessions(user)


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(_("There is no such user."))
    return user


def get_user_by_email(session: Session, email: str) -> User:
    user = session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None:
        raise NotFound(_("There is no account for %(email)s.", email=email.strip()[:320]))
    return user


def list_users(session: Session, actor: User) -> list[User]:
    require(actor, "manage_users")
    return list(session.scalars(select(User).order_by(User.email)))


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_api_token(session: Session, user: User, name: str) -> tuple[ApiToken, str]:
    """A new API token for ``user``; the plain token is returned once and never stored.

    Raises:
        Invalid: the name is empty or longer than 100 characters.
    """
    require(user, "account")
    name = name.strip()
    if not name or len(name) > 100:
        raise Invalid(_("The token needs a name."),
                      {"name": _("Give the token a name of 1 to 100 characters.")})
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name, token_hash=_token_hash(plain), prefix=plain[:10])
    session.add(token)
    session.flush()
    return token, plain


def list_api_tokens(session: Session, user: User) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())))


def revoke_api_token(session: Session, user: User, token_id: int) -> ApiToken:
    """Revoke one of ``user``'s own tokens. Raises NotFound for another user's token."""
    token = session.scalar(select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user.id))
    if token is None:
        raise NotFound(_("There is no such token."))
    if token.revoked_at is None:
        token.revoked_at = utcnow()
    return token


def user_for_api_token(session: Session, plain: str) -> User | None:
    """The active user owning an active token, or None."""
    if not plain.startswith(TOKEN_PREFIX) or len(plain) > 100:
        return None
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(plain),
                                                  ApiToken.revoked_at.is_(None)))
    if token is None:
        return None
    user = session.get(User, token.user_id)
    if user is None or not user.is_active:
        return None
    return user
