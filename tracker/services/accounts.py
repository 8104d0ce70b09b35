"""Accounts: creating users, checking passwords with throttling, sessions that can be ended, password
resets by email, profiles, API tokens."""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import unicodedata
from typing import TYPE_CHECKING, Any, cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from email_validator import EmailNotValidError, validate_email
from itsdangerous import BadSignature, SignatureExpired
from sqlalchemy import and_, bindparam, delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tracker.errors import Conflict, DomainError, Invalid, NotFound
from tracker.models import StaffMail
from tracker.models.types import utcnow
from tracker.models.user import ROLES, ApiToken, LoginThrottle, User
from tracker.notifications.tokens import RESET_MAX_AGE, reset_fingerprint, reset_serializer
from tracker.services import staff_mail
from tracker.services.permissions import require
from tracker.translation import gettext as _

if TYPE_CHECKING:
    from sqlalchemy import CursorResult

    from tracker.errors import FieldError

# Argon2id with argon2-cffi's defaults (RFC 9106 low-memory profile: t=3, m=64 MiB, p=4).
_hasher = PasswordHasher()

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256
MAX_DISPLAY_NAME_LENGTH = 200
# The languages a person may get the tracker's emails in.
MAIL_LANGUAGES = ("en", "lo")

# Failed logins are counted in three scopes (see LoginThrottle). Counters start again after a quiet
# FAILURE_WINDOW. One account from one address ("pair") is locked quickly, which stops guessing from
# one place without locking the owner out elsewhere; one address trying many accounts is locked later.
FAILURE_WINDOW = dt.timedelta(minutes=30)
PAIR_MAX_FAILURES = 5
ADDRESS_MAX_FAILURES = 30
LOCK_MINUTES = 15
# Guessing one account from many addresses is slowed, never locked (a lock would let anyone lock a
# staff member out at will): past ACCOUNT_SLOW_AFTER failures, addresses the account never logged in
# from get one attempt per ACCOUNT_PAUSE between them; the owner's known addresses are not slowed.
ACCOUNT_SLOW_AFTER = 20
ACCOUNT_PAUSE = dt.timedelta(seconds=60)
# Counters are forgotten a day after their last failure; the addresses an account logged in from, 90
# days after it last did.
THROTTLE_KEEP = dt.timedelta(days=1)
KNOWN_ADDRESS_KEEP = dt.timedelta(days=90)
# Longest client address kept in a key (IPv6 with a zone fits); keeps "email|address" within the column.
MAX_ADDRESS_LENGTH = 64

# A reset link works for an hour, and only until the password changes or the sessions end.
# Reset mails sent to one account within RESET_LIMIT_PERIOD at most; more requests send nothing.
RESET_LIMIT = 3
RESET_LIMIT_PERIOD = dt.timedelta(hours=1)
TOKEN_PREFIX = "evt_"


class LoginFailed(DomainError):
    """Wrong email or password, or a disabled account: one message for all, so accounts cannot be probed."""

    status_code = 401


class LoginLocked(DomainError):
    """Too many failed logins from this place, or to this account from places it never logged in from."""

    status_code = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def normalise_email(email: str) -> str:
    """The address in the form accounts are stored under, or Invalid."""
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        raise Invalid(_("The email address is not valid."),
                      {"email": _("Give a full email address, such as name@example.org.")}) from None


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


# Controls that reorder the text around them could make a name shown to others read as another one.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def clean_display_name(value: str | None, *, required: bool) -> str | None:
    """A display name as stored: trimmed, kept as typed otherwise (Lao, emoji); None when empty.

    Raises:
        Invalid: empty though ``required``, longer than MAX_DISPLAY_NAME_LENGTH, or with line breaks,
        tabs or other control characters.
    """
    name = (value or "").strip()
    if not name:
        if required:
            raise Invalid(_("A name is needed."), {"display_name": _(
                "Give the name others see in histories, such as Khamla Phommachanh.")})
        return None
    if len(name) > MAX_DISPLAY_NAME_LENGTH:
        raise Invalid(_("The name is too long."),
                      {"display_name": _("Use at most %(num)s characters.", num=MAX_DISPLAY_NAME_LENGTH)})
    if any(unicodedata.category(char) in ("Cc", "Zl", "Zp") or char in _BIDI_CONTROLS for char in name):
        raise Invalid(_("The name has control characters."),
                      {"display_name": _("Remove line breaks, tabs and other control characters.")})
    return name


def create_user(session: Session, email: str, password: str, role: str, *, display_name: str | None = None,
                actor: User | None = None) -> User:
    """Create an account. ``actor`` None means the command line (run by whoever runs the server).

    Raises:
        Invalid: bad email, weak password, unknown role, or a display name too long or with control
        characters. Conflict: the email is taken. Forbidden: the actor may not manage users.
    """
    if actor is not None:
        require(actor, "manage_users")
    address = normalise_email(email)
    if role not in ROLES:
        raise Invalid(_("Unknown role."), {"role": _("Choose one of: %(values)s.", values=", ".join(ROLES))})
    check_password_strength(password, email=address)
    name = clean_display_name(display_name, required=False)
    if session.scalar(select(User.id).where(User.email == address)) is not None:
        raise Conflict(_("An account for %(address)s already exists.", address=address))
    user = User(email=address, role=role, display_name=name, password_hash=hash_password(password),
                is_active=True, session_token=secrets.token_urlsafe(32))
    session.add(user)
    session.flush()
    return user


# Made once: every signed-in request asks it first.
_USER_BY_TOKEN = select(User).where(User.session_token == bindparam("token"), User.is_active.is_(True))


def user_by_session_token(session: Session, token: str) -> User | None:
    """The active user a session cookie names, if the session has not been ended."""
    if not token or len(token) > 64:
        return None
    return session.scalar(_USER_BY_TOKEN, {"token": token})


def end_sessions(user: User) -> None:
    """Invalidate every session of ``user`` (its cookies name the old token)."""
    user.session_token = secrets.token_urlsafe(32)


# ---------------------------------------------------------------------------------------------------
# Login throttling


def _email_key(email: str) -> str:
    """The account part of throttle keys: the address as accounts are stored, else as typed."""
    try:
        return normalise_email(email)[:254]
    except Invalid:
        return email.strip().lower()[:254]


def _throttle_rows(session: Session, keys: dict[str, str]) -> dict[str, LoginThrottle]:
    """The existing counters of ``keys`` (scope -> key) by scope, locked so that concurrent logins
    cannot both count from the same value (PostgreSQL; SQLite runs one writer at a time anyway)."""
    wanted = or_(*(and_(LoginThrottle.scope == scope, LoginThrottle.key == key)
                   for scope, key in keys.items()))
    statement = select(LoginThrottle).where(wanted).order_by(LoginThrottle.id).with_for_update()
    return {row.scope: row for row in session.scalars(statement)}


def _new_throttle(session: Session, scope: str, key: str) -> LoginThrottle:
    """A new counter, or the one a concurrent login created first (it would break the unique key)."""
    row = LoginThrottle(scope=scope, key=key, failures=0)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        row = session.scalars(select(LoginThrottle).where(LoginThrottle.scope == scope,
                                                          LoginThrottle.key == key).with_for_update()).one()
    return row


def _seconds_locked(row: LoginThrottle | None, now: dt.datetime) -> int:
    """How long ``row`` stays locked, in whole seconds rounded up (0: it is not)."""
    if row is None or row.locked_until is None or row.locked_until <= now:
        return 0
    return int((row.locked_until - now).total_seconds()) + 1


def _count_failure(row: LoginThrottle, now: dt.datetime) -> None:
    if row.last_failure_at is None or now - row.last_failure_at > FAILURE_WINDOW:
        row.failures = 0
    row.failures += 1
    row.last_failure_at = now


def prune_login_throttles(session: Session, now: dt.datetime | None = None) -> int:
    """Delete the counters a day past their last failure (unless still locked) and the addresses
    accounts last logged in from over 90 days ago; returns how many rows went."""
    now = now or utcnow()
    # Every condition bounds last_failure_at, so its index finds the few old rows without a full scan.
    statement = delete(LoginThrottle).where(
        LoginThrottle.last_failure_at < now - THROTTLE_KEEP,
        or_(and_(LoginThrottle.scope != "known",
                 or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until <= now)),
            LoginThrottle.last_failure_at < now - KNOWN_ADDRESS_KEEP))
    # A DELETE run through the Session returns a CursorResult, which has the rowcount.
    result = cast("CursorResult[*tuple[Any, ...]]",
                  session.execute(statement, execution_options={"synchronize_session": False}))
    return result.rowcount


def authenticate(session: Session, email: str, password: str, address: str) -> User:
    """Check a login from the client ``address``.

    Refused before the password is checked: this account from this address after PAIR_MAX_FAILURES
    failures and this address for every account after ADDRESS_MAX_FAILURES, each for LOCK_MINUTES;
    and once the account had ACCOUNT_SLOW_AFTER failures from anywhere, addresses it never logged in
    from, for ACCOUNT_PAUSE after each failure. A success forgets the failures of this account from
    this address and remembers the address as one the account logs in from.

    Raises:
        LoginLocked: refused for now (says for how long). LoginFailed: wrong email or password, or disabled.
    """
    now = utcnow()
    # Before any counter is locked, so that concurrent logins never wait on each other's pruning.
    prune_login_throttles(session, now)
    account_key = _email_key(email)
    address_key = address[:MAX_ADDRESS_LENGTH]
    pair_key = f"{account_key}|{address_key}"
    keys = {"pair": pair_key, "address": address_key, "account": account_key, "known": pair_key}
    rows = _throttle_rows(session, keys)
    for scope in ("pair", "address"):
        wait = _seconds_locked(rows.get(scope), now)
        if wait:
            raise LoginLocked(_("Too many failed logins. Try again in %(num)s minute(s).",
                                num=max(1, round(wait / 60))), wait)
    wait = _seconds_locked(rows.get("account"), now)
    if wait and "known" not in rows:
        raise LoginLocked(_("This account had many failed logins recently, so logins from new places are "
                            "slowed down. Try again in %(num)s second(s).", num=wait), wait)

    user = session.scalar(select(User).where(User.email == account_key))
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
        for scope, limit in (("pair", PAIR_MAX_FAILURES), ("address", ADDRESS_MAX_FAILURES)):
            row = rows.get(scope) or _new_throttle(session, scope, keys[scope])
            _count_failure(row, now)
            if row.failures >= limit:
                row.locked_until = now + dt.timedelta(minutes=LOCK_MINUTES)
                row.failures = 0
        account = rows.get("account") or _new_throttle(session, "account", account_key)
        _count_failure(account, now)
        if account.failures >= ACCOUNT_SLOW_AFTER:
            account.locked_until = now + ACCOUNT_PAUSE
        raise LoginFailed(_("The email or password is not correct, or the account is disabled."))

    if "pair" in rows:
        session.delete(rows["pair"])
    known = rows.get("known") or _new_throttle(session, "known", pair_key)
    # For a known address the column holds when the account last logged in from it (pruned by it).
    known.last_failure_at = now
    # The account's own counter stays: someone elsewhere may still be guessing.
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = now
    return user


_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


def failure_delay(session: Session, address: str) -> float:
    """Seconds to wait before answering a failed login from ``address``: grows with its failures."""
    row = session.scalar(select(LoginThrottle).where(LoginThrottle.scope == "address",
                                                     LoginThrottle.key == address[:MAX_ADDRESS_LENGTH]))
    failures = row.failures if row else 0
    # Capped low: a sleeping worker serves no one else, so the lock, not the delay, stops guessing.
    delay: float = 0.25 * (2 ** max(0, failures - 1))
    return min(delay, 2.0)


def _forget_failures(session: Session, user: User) -> None:
    """Forget the failed logins counted against ``user``'s account (the addresses keep their own)."""
    pairs = and_(LoginThrottle.scope == "pair",
                 LoginThrottle.key.startswith(f"{user.email}|", autoescape=True))
    account = and_(LoginThrottle.scope == "account", LoginThrottle.key == user.email)
    session.execute(delete(LoginThrottle).where(or_(account, pairs)),
                    execution_options={"synchronize_session": False})


# ---------------------------------------------------------------------------------------------------
# Passwords


def change_password(session: Session, user: User, current: str, new: str) -> None:
    """Change ``user``'s password and end their other sessions.

    Raises:
        Invalid: the current password is wrong, or the new one is too weak.
    """
    try:
        _hasher.verify(user.password_hash, current[:MAX_PASSWORD_LENGTH])
    except VerificationError:
        raise Invalid(_("The current password is not correct."), {"current_password": _("Not correct.")}) from None
    check_password_strength(new, email=user.email)
    user.password_hash = hash_password(new)
    user.password_changed_at = utcnow()
    end_sessions(user)


def request_password_reset(session: Session, email: str) -> None:
    """Queue a reset link for the active account of ``email``; nothing for an unknown or disabled
    account, nor past RESET_LIMIT mails to the account in RESET_LIMIT_PERIOD. The caller shows one
    answer whatever happened, and each way runs the same queries and hashes no password.

    Raises:
        Invalid: the email address is not valid.
    """
    address = normalise_email(email)
    # Locked, so that requests at the same moment cannot all pass the limit (PostgreSQL).
    user = session.scalar(select(User).where(User.email == address).with_for_update())
    # Counted for unknown accounts too (no account has the id 0), so both answers take as long.
    recent = session.scalar(select(func.count(StaffMail.id)).where(
        StaffMail.user_id == (user.id if user is not None else 0), StaffMail.kind == "password_reset",
        StaffMail.created_at > utcnow() - RESET_LIMIT_PERIOD))
    assert recent is not None  # COUNT always answers one row
    if user is not None and user.is_active and recent < RESET_LIMIT:
        staff_mail.queue(session, "password_reset", user, {})
        session.flush()


def user_for_password_reset(session: Session, token: str, secret_key: str | bytes, *,
                            lock: bool = False) -> User:
    """The account a reset token is for, while the token is still good; ``lock`` locks its row.

    Raises:
        Invalid: the token expired, was forged or damaged, was used already (or the password changed
        or every session ended since it was made), or the account is disabled.
    """
    try:
        if len(token) > 500:
            raise BadSignature("too long")
        user_id, fingerprint = reset_serializer(secret_key).loads(token, max_age=RESET_MAX_AGE)
    except SignatureExpired as error:
        raise Invalid(_("This password reset link has expired."),
                      {"token": _("A reset link works for one hour. Ask for a new one.")}) from error
    except (BadSignature, TypeError, ValueError) as error:
        raise Invalid(_("This password reset link is not valid."),
                      {"token": _("Check that the whole link was copied, or ask for a new one.")}) from error
    user = None
    if isinstance(user_id, int) and isinstance(fingerprint, str):
        statement = select(User).where(User.id == user_id).execution_options(populate_existing=True)
        user = session.scalar(statement.with_for_update() if lock else statement)
    if user is None or not user.is_active or not hmac.compare_digest(fingerprint,
                                                                      reset_fingerprint(user, secret_key)):
        raise Invalid(_("This password reset link was used already or is no longer valid."),
                      {"token": _("A link works once, and not after the password was changed or the account "
                                  "logged out everywhere. Ask for a new one.")})
    return user


def reset_password(session: Session, token: str, new_password: str, secret_key: str | bytes) -> User:
    """Set a new password through a reset link: every session of the account ends (the link with
    them), and the failed logins counted against the account are forgotten so its owner can log in
    at once.

    Raises:
        Invalid: the token is not good (see user_for_password_reset), or the password is too weak.
    """
    # Locked: two uses of one link at the same moment must not both pass (PostgreSQL).
    user = user_for_password_reset(session, token, secret_key, lock=True)
    check_password_strength(new_password, email=user.email)
    user.password_hash = hash_password(new_password)
    user.password_changed_at = utcnow()
    end_sessions(user)
    _forget_failures(session, user)
    session.flush()
    return user


# ---------------------------------------------------------------------------------------------------
# Profiles and administration


def update_profile(session: Session, user: User, display_name: str, language: str) -> None:
    """Set ``user``'s own display name and the language of the emails the tracker sends them.

    Raises:
        Invalid: the name is empty, longer than MAX_DISPLAY_NAME_LENGTH or has control characters; the
        language is not one of MAIL_LANGUAGES.
    """
    require(user, "account")
    errors: dict[str, str | FieldError] = {}
    name = None
    try:
        name = clean_display_name(display_name, required=True)
    except Invalid as error:
        errors.update(error.errors)
    if language not in MAIL_LANGUAGES:
        errors["language"] = _("Choose English or Lao.")
    if errors:
        raise Invalid(_("The profile was not saved."), errors)
    user.display_name, user.language = name, language
    session.flush()


def _keep_an_admin(session: Session, user: User, field: str) -> None:
    """Raise Invalid if ``user`` is the last active administrator, who is about to stop being one."""
    if user.role != "admin" or not user.is_active:
        return
    session.flush()
    # Locked: two administrators demoting each other at the same moment must not both succeed.
    admins = session.scalars(select(User.id).where(User.role == "admin", User.is_active.is_(True))
                             .order_by(User.id).with_for_update()).all()
    if not any(admin_id != user.id for admin_id in admins):
        raise Invalid(_("%(email)s is the last active administrator: the tracker would have none.",
                        email=user.email),
                      {field: _("Make another account an administrator first.")})


def set_role(session: Session, user: User, role: str, actor: User | None) -> None:
    """Change a user's role and end their sessions. ``actor`` None means the command line.

    Raises:
        Invalid: an unknown role, or the last active administrator would lose the role.
        Forbidden: the actor may not manage users.
    """
    if actor is not None:
        require(actor, "manage_users")
    if role not in ROLES:
        raise Invalid(_("Unknown role."), {"role": _("Choose one of: %(values)s.", values=", ".join(ROLES))})
    if role != "admin":
        _keep_an_admin(session, user, "role")
    user.role = role
    end_sessions(user)


def set_active(session: Session, user: User, active: bool, actor: User | None) -> None:
    """Enable or disable an account; disabling ends its sessions and stops its tokens.

    Raises:
        Invalid: an administrator disabling their own account, or the last active administrator.
        Forbidden: the actor may not manage users.
    """
    if actor is not None:
        require(actor, "manage_users")
        if actor.id == user.id and not active:
            raise Invalid(_("You cannot disable your own account."),
                          {"active": _("Ask another administrator.")})
    if not active:
        _keep_an_admin(session, user, "active")
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
