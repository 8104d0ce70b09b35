"""Accounts through the real pages and commands: throttled login, sessions that end, password resets,
profiles, API tokens, admin."""
from __future__ import annotations

import datetime as dt
import hashlib
import html
import re
import time

import pytest
from argon2 import PasswordHasher
from flask import url_for
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import func, select

from tests.conftest import PASSWORD, email_of
from tests.factories import load, policy_record
from tracker import create_app, migrate
from tracker.db import Base
from tracker.errors import Invalid
from tracker.models import StaffMail, User
from tracker.models.types import utcnow
from tracker.models.user import ApiToken, LoginThrottle
from tracker.notifications import tokens
from tracker.services import accounts

GENERIC_FAILURE = "The email or password is not correct, or the account is disabled."
NEW_PASSWORD = "a different long passphrase"
CURRENT_ARGON2_PARAMETERS = "$argon2id$v=19$m=65536,t=3,p=4$"


# ---------------------------------------------------------------------------------------------------
# Helpers: forms are filled as a browser fills them, CSRF token included.


def form_value(page: str, name: str) -> str:
    """The value of the <input name=...> of an HTML page (hidden CSRF tokens mostly)."""
    for tag in re.findall(r"<input\b[^>]*>", page):
        if re.search(rf'\bname="{re.escape(name)}"', tag):
            value = re.search(r'\bvalue="([^"]*)"', tag)
            assert value, tag
            return html.unescape(value.group(1))
    raise AssertionError(f"no input named {name!r} on the page")


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def csrf_from(client, path: str, name: str = "csrf_token", **kwargs) -> str:
    response = client.get(path, **kwargs)
    assert response.status_code == 200, (path, response.status_code)
    return form_value(response.get_data(as_text=True), name)


def log_in(client, email: str, password: str, *, address: str = "127.0.0.1", next_url: str | None = None,
           **kwargs):
    """Open the login page, then post the form with its CSRF token, from ``address``."""
    environ = {"REMOTE_ADDR": address}
    token = csrf_from(client, "/login", environ_base=environ, **kwargs)
    path = "/login" + (f"?next={next_url}" if next_url else "")
    headers = {}
    if kwargs.get("base_url", "").startswith("https:"):
        # Over HTTPS, Flask-WTF also checks that the form came from this site, as browsers say it did.
        headers["Referer"] = kwargs["base_url"] + "/login"
    return client.post(path, data={"csrf_token": token, "email": email, "password": password},
                       environ_base=environ, headers=headers, **kwargs)


def session_cookie(client) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def client_with_cookie(app, value: str):
    """Another browser holding a copy of a session cookie."""
    other = app.test_client()
    other.set_cookie("session", value)
    return other


def is_signed_in(client) -> bool:
    response = client.get("/account")
    if response.status_code == 200:
        return True
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    return False


def set_cookie_header(response, name: str = "session") -> str:
    headers = [value for value in response.headers.getlist("Set-Cookie") if value.startswith(f"{name}=")]
    assert len(headers) == 1, response.headers.getlist("Set-Cookie")
    return headers[0]


def cookie_attributes(header: str) -> set[str]:
    return {part.strip().split("=")[0].lower() for part in header.split(";")[1:]}


@pytest.fixture
def login_delays(monkeypatch) -> list[float]:
    """The delays the login page would wait after failures, recorded instead of slept."""
    delays: list[float] = []
    real = accounts.failure_delay

    def record(session, address):
        delays.append(real(session, address))
        return 0.0

    monkeypatch.setattr(accounts, "failure_delay", record)
    return delays


def throttles(database, scope: str, key: str) -> LoginThrottle | None:
    with database.session() as fresh:
        return fresh.scalar(select(LoginThrottle).where(LoginThrottle.scope == scope,
                                                        LoginThrottle.key == key))


def selected_option(page: str, control_id: str) -> str:
    """The value a browser sends for the <select id=...> of an HTML page."""
    select_tag = re.search(rf'<select\b[^>]*\bid="{re.escape(control_id)}"[^>]*>(.*?)</select>', page, re.S)
    assert select_tag, f"no select with the id {control_id!r} on the page"
    options = re.findall(r"<option\b([^>]*)>", select_tag.group(1))
    chosen = [option for option in options if re.search(r"\bselected\b", option)] or options[:1]
    return html.unescape(re.search(r'\bvalue="([^"]*)"', chosen[0]).group(1))


def main_of(response) -> str:
    """The page's <main> element: what differs between two answers, navigation aside."""
    match = re.search(r"<main\b.*?</main>", response.get_data(as_text=True), re.S)
    assert match, "the page has a <main>"
    return match.group(0)


# ---------------------------------------------------------------------------------------------------
# Logging in


def test_csrf_protection_is_on(app, client):
    assert app.config.get("WTF_CSRF_ENABLED", True) is True
    response = client.post("/login", data={"email": email_of("editor"), "password": PASSWORD})
    assert response.status_code == 400
    assert not is_signed_in(client)


def test_the_right_password_signs_in_and_redirects(client, database):
    response = log_in(client, email_of("editor"), PASSWORD)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    page = text_of(client.get("/account"))
    assert email_of("editor") in page and "Editor" in page
    with database.session() as fresh:
        user = fresh.scalar(select(User).where(User.email == email_of("editor")))
        assert user.last_login_at is not None


def test_login_follows_only_same_site_next_addresses(client):
    response = log_in(client, email_of("editor"), PASSWORD, next_url="/policies")
    assert response.headers["Location"] == "/policies"
    client.post("/logout", data={"csrf_token": csrf_from(client, "/account")})
    response = log_in(client, email_of("editor"), PASSWORD, next_url="//evil.example/x")
    assert response.headers["Location"] == "/"


def test_the_email_is_matched_whatever_its_case(client):
    assert log_in(client, "  Editor@Example.ORG ", PASSWORD).status_code == 302


@pytest.mark.parametrize(("email", "password"), [
    (email_of("editor"), "not the password at all"),
    ("nobody@example.org", PASSWORD),
    ("not an email", PASSWORD),
    (email_of("editor"), "x" * 256),
])
def test_a_failed_login_gets_a_401_and_one_generic_message(client, login_delays, email, password):
    response = log_in(client, email, password)
    assert response.status_code == 401
    page = text_of(response)
    assert GENERIC_FAILURE in page
    assert not is_signed_in(client)


def test_a_disabled_account_gets_the_same_generic_refusal(client, session, users, login_delays):
    accounts.set_active(session, users["reviewer"], False, users["admin"])
    session.commit()
    response = log_in(client, email_of("reviewer"), PASSWORD)
    assert response.status_code == 401 and GENERIC_FAILURE in text_of(response)


def test_failure_counters_are_kept_although_the_login_is_refused(client, database, login_delays):
    for attempt in range(1, 3):
        assert log_in(client, email_of("editor"), "wrong password!", address="192.0.2.7").status_code == 401
        # Read by a new session: the counters were committed, not rolled back with the refusal.
        assert throttles(database, "pair", f"{email_of('editor')}|192.0.2.7").failures == attempt
        assert throttles(database, "account", email_of("editor")).failures == attempt
        assert throttles(database, "address", "192.0.2.7").failures == attempt
    # Each failure from an address makes the next answer slower.
    assert login_delays == sorted(login_delays) and login_delays[0] < login_delays[1]


@pytest.mark.slow
def test_five_failures_lock_the_account_from_that_address_only(client, database, login_delays):
    for _ in range(5):
        assert log_in(client, email_of("editor"), "wrong password!", address="192.0.2.10").status_code == 401

    # Locked from that address, with the right password too.
    response = log_in(client, email_of("editor"), PASSWORD, address="192.0.2.10")
    assert response.status_code == 429
    assert re.search(r"Too many failed logins\. Try again in 15 minute", text_of(response))
    assert 14 * 60 < int(response.headers["Retry-After"]) <= 15 * 60 + 1
    assert not is_signed_in(client)
    assert login_delays[:4] == sorted(login_delays[:4]) and login_delays[0] < login_delays[3]

    # The owner elsewhere is not locked out by someone guessing from one place.
    assert log_in(client, email_of("editor"), PASSWORD, address="198.51.100.20").status_code == 302


@pytest.mark.slow
def test_refused_attempts_are_not_counted_and_the_password_is_not_checked(client, database, login_delays):
    for _ in range(5):
        log_in(client, email_of("editor"), "wrong password!", address="192.0.2.11")
    for _ in range(10):
        assert log_in(client, email_of("editor"), "wrong password!", address="192.0.2.11").status_code == 429
    assert throttles(database, "account", email_of("editor")).failures == 5
    assert throttles(database, "address", "192.0.2.11").failures == 5


@pytest.mark.slow
def test_thirty_failures_from_one_address_lock_that_address_for_every_account(client, login_delays):
    for number in range(accounts.ADDRESS_MAX_FAILURES):
        response = log_in(client, f"guess{number}@example.org", "guessed password", address="192.0.2.99")
        assert response.status_code == 401

    response = log_in(client, email_of("editor"), PASSWORD, address="192.0.2.99")
    assert response.status_code == 429
    assert "Try again in 15 minute" in text_of(response)
    assert int(response.headers["Retry-After"]) > 14 * 60
    assert not is_signed_in(client)

    # The same account from another address is not locked: only the address was.
    assert log_in(client, email_of("editor"), PASSWORD, address="198.51.100.1").status_code == 302


@pytest.mark.slow
def test_the_lock_ends_after_its_time(client, session, login_delays):
    for _ in range(5):
        log_in(client, email_of("editor"), "wrong password!", address="192.0.2.50")
    assert log_in(client, email_of("editor"), PASSWORD, address="192.0.2.50").status_code == 429
    # Fifteen minutes later (moved back rather than waited for).
    for row in session.scalars(select(LoginThrottle).where(LoginThrottle.locked_until.is_not(None))):
        row.locked_until = row.locked_until.replace(year=2000)
    session.commit()
    assert log_in(client, email_of("editor"), PASSWORD, address="192.0.2.50").status_code == 302


@pytest.mark.slow
def test_a_success_resets_the_pair_and_remembers_the_address(client, database, login_delays):
    for _ in range(4):
        log_in(client, email_of("editor"), "wrong password!", address="192.0.2.60")
    assert log_in(client, email_of("editor"), PASSWORD, address="192.0.2.60").status_code == 302
    assert throttles(database, "pair", f"{email_of('editor')}|192.0.2.60") is None
    assert throttles(database, "known", f"{email_of('editor')}|192.0.2.60") is not None
    # The account's own count is kept: someone elsewhere may be guessing.
    assert throttles(database, "account", email_of("editor")).failures == 4
    client.post("/logout", data={"csrf_token": csrf_from(client, "/account")})
    # Four more typos do not lock: the count started again.
    for _ in range(4):
        assert log_in(client, email_of("editor"), "wrong password!", address="192.0.2.60").status_code == 401
    assert log_in(client, email_of("editor"), PASSWORD, address="192.0.2.60").status_code == 302


@pytest.mark.slow
def test_an_attacker_elsewhere_never_locks_the_owner_out(app, client, session, database, login_delays):
    owner = email_of("editor")
    # The owner logs in from their office once: the address becomes known.
    assert log_in(app.test_client(), owner, PASSWORD, address="10.0.0.1").status_code == 302

    attacker = app.test_client()
    answers = [log_in(attacker, owner, f"guess number {n}", address="10.0.0.9").status_code
               for n in range(50)]
    assert answers == [401] * 5 + [429] * 45

    # From the known address, and a first login from a new one: the account is not throttled yet.
    assert log_in(app.test_client(), owner, PASSWORD, address="10.0.0.1").status_code == 302
    assert log_in(app.test_client(), owner, PASSWORD, address="10.0.0.2").status_code == 302

    # Guesses from many addresses (four each, under the pair's lock) add up against the account; one
    # short of its limit, a first login from a new address still passes...
    for number in range(accounts.ACCOUNT_SLOW_AFTER - 5 - 1):
        address = f"10.0.1.{number // 4 + 1}"
        assert log_in(attacker, owner, f"guess {number}", address=address).status_code == 401
    assert log_in(app.test_client(), owner, PASSWORD, address="10.0.0.4").status_code == 302
    # ...until the failure that reaches the limit: then addresses the account never logged in from wait,
    assert log_in(attacker, owner, "one guess too many", address="10.0.1.99").status_code == 401
    assert throttles(database, "account", owner).failures == accounts.ACCOUNT_SLOW_AFTER
    assert log_in(attacker, owner, "and another", address="10.0.1.100").status_code == 429
    refused = log_in(app.test_client(), owner, PASSWORD, address="10.0.0.3")
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= accounts.ACCOUNT_PAUSE.total_seconds() + 1
    assert "logins from new places are slowed down" in text_of(refused)
    # while the owner's known addresses log in at once.
    for known in ("10.0.0.1", "10.0.0.2", "10.0.0.4"):
        browser = app.test_client()
        assert log_in(browser, owner, PASSWORD, address=known).status_code == 302
        assert is_signed_in(browser)

    # A pause, not a lock: a minute later the new address gets its attempt.
    row = session.scalars(select(LoginThrottle).where(LoginThrottle.scope == "account",
                                                      LoginThrottle.key == owner)).one()
    row.locked_until = utcnow() - dt.timedelta(seconds=1)
    session.commit()
    assert log_in(app.test_client(), owner, PASSWORD, address="10.0.0.3").status_code == 302


def test_old_counters_are_pruned_and_current_ones_kept(client, session, database, login_delays):
    now = utcnow()
    rows = {
        ("pair", "old@example.org|192.0.2.1"): (now - dt.timedelta(days=2), None),
        ("address", "192.0.2.2"): (now - dt.timedelta(days=2), None),
        ("account", "old@example.org"): (now - dt.timedelta(days=2), now - dt.timedelta(days=2)),
        ("pair", "still@example.org|192.0.2.3"): (now - dt.timedelta(days=2), now + dt.timedelta(minutes=5)),
        ("pair", "recent@example.org|192.0.2.4"): (now - dt.timedelta(minutes=10), None),
        ("known", "owner@example.org|192.0.2.5"): (now - dt.timedelta(days=30), None),
        ("known", "owner@example.org|192.0.2.6"): (now - dt.timedelta(days=91), None),
    }
    for (scope, key), (last, locked_until) in rows.items():
        session.add(LoginThrottle(scope=scope, key=key, failures=3, last_failure_at=last,
                                  locked_until=locked_until))
    session.commit()

    assert log_in(client, "someone@example.org", "wrong password!", address="192.0.2.200").status_code == 401

    def kept(scope, key):
        return throttles(database, scope, key) is not None

    assert not kept("pair", "old@example.org|192.0.2.1")
    assert not kept("address", "192.0.2.2")
    assert not kept("account", "old@example.org")
    assert not kept("known", "owner@example.org|192.0.2.6")
    assert kept("pair", "still@example.org|192.0.2.3")  # still locked
    assert kept("pair", "recent@example.org|192.0.2.4")
    assert kept("known", "owner@example.org|192.0.2.5")
    assert kept("pair", "someone@example.org|192.0.2.200")


# ---------------------------------------------------------------------------------------------------
# The session cookie


def test_the_session_cookie_is_httponly_and_samesite_lax(client):
    response = log_in(client, email_of("editor"), PASSWORD)
    header = set_cookie_header(response)
    attributes = cookie_attributes(header)
    assert "httponly" in attributes
    assert re.search(r";\s*SameSite=Lax", header)
    assert "secure" not in attributes  # plain HTTP: a Secure cookie would never come back


def test_the_session_cookie_is_secure_over_https(client):
    response = log_in(client, email_of("editor"), PASSWORD, base_url="https://localhost")
    assert response.status_code == 302
    header = set_cookie_header(response)
    assert {"secure", "httponly"} <= cookie_attributes(header)
    assert re.search(r";\s*SameSite=Lax", header)
    # Even the login page's own cookie (it holds the CSRF secret) is Secure over HTTPS.
    login_page = client.application.test_client().get("/login", base_url="https://localhost")
    assert {"secure", "httponly"} <= cookie_attributes(set_cookie_header(login_page))


# ---------------------------------------------------------------------------------------------------
# Ending sessions


def test_logout_ends_the_session_and_a_copied_cookie_stops_working(app, client):
    log_in(client, email_of("editor"), PASSWORD)
    copied = client_with_cookie(app, session_cookie(client))
    assert is_signed_in(copied)

    # Logging out needs the form's CSRF token.
    assert client.post("/logout").status_code == 400
    assert is_signed_in(client)
    response = client.post("/logout", data={"csrf_token": csrf_from(client, "/account")})
    assert response.status_code == 302
    assert not is_signed_in(client)
    assert not is_signed_in(copied)


def test_logout_cannot_be_done_with_a_get(client):
    log_in(client, email_of("editor"), PASSWORD)
    assert client.get("/logout").status_code == 405
    assert is_signed_in(client)


def test_disabling_a_user_in_the_admin_page_ends_their_sessions(app, client, users):
    victim = app.test_client()
    log_in(victim, email_of("editor"), PASSWORD)
    copied = client_with_cookie(app, session_cookie(victim))

    log_in(client, email_of("admin"), PASSWORD)
    token = csrf_from(client, "/admin/users")
    response = client.post(f"/admin/users/{users['editor'].id}", data={"csrf_token": token, "role": "editor"})
    assert response.status_code == 302
    assert f"{email_of('editor')}: editor, disabled." in text_of(client.get("/admin/users"))
    assert not is_signed_in(victim)
    assert not is_signed_in(copied)
    assert log_in(app.test_client(), email_of("editor"), PASSWORD, address="192.0.2.1").status_code == 401


def test_disabling_a_user_from_the_command_line_ends_their_sessions(app, client, runner):
    log_in(client, email_of("editor"), PASSWORD)
    assert is_signed_in(client)
    result = runner.invoke(args=["users", "disable", email_of("editor")])
    assert result.exit_code == 0, result.output
    assert not is_signed_in(client)


@pytest.mark.slow
def test_changing_the_password_ends_other_sessions_and_keeps_this_one(app, client, database):
    log_in(client, email_of("editor"), PASSWORD)
    other_browser = client_with_cookie(app, session_cookie(client))

    token = csrf_from(client, "/account", "password-csrf_token")
    wrong = client.post("/account", data={
        "password-csrf_token": token, "password-current_password": "wrong one!",
        "password-new_password": NEW_PASSWORD, "password-confirm": NEW_PASSWORD})
    assert wrong.status_code == 400 and "Not correct." in text_of(wrong)
    assert is_signed_in(other_browser)
    mismatch = client.post("/account", data={
        "password-csrf_token": token, "password-current_password": PASSWORD,
        "password-new_password": NEW_PASSWORD, "password-confirm": NEW_PASSWORD + "!"})
    assert mismatch.status_code == 400 and "The two new passwords differ." in text_of(mismatch)
    too_short = client.post("/account", data={
        "password-csrf_token": token, "password-current_password": PASSWORD,
        "password-new_password": "short", "password-confirm": "short"})
    assert too_short.status_code == 400

    response = client.post("/account", data={
        "password-csrf_token": token, "password-current_password": PASSWORD,
        "password-new_password": NEW_PASSWORD, "password-confirm": NEW_PASSWORD})
    assert response.status_code == 302
    assert is_signed_in(client)
    assert not is_signed_in(other_browser)
    assert log_in(app.test_client(), email_of("editor"), PASSWORD, address="192.0.2.2").status_code == 401
    assert log_in(app.test_client(), email_of("editor"), NEW_PASSWORD, address="192.0.2.3").status_code == 302


# ---------------------------------------------------------------------------------------------------
# Password hashes


def test_a_hash_made_with_weaker_parameters_is_upgraded_at_login(client, session, users):
    weak = PasswordHasher(time_cost=1, memory_cost=8192).hash(PASSWORD)
    users["editor"].password_hash = weak
    session.commit()

    assert log_in(client, email_of("editor"), PASSWORD).status_code == 302
    session.expire_all()
    upgraded = session.get(User, users["editor"].id).password_hash
    assert upgraded != weak
    assert upgraded.startswith(CURRENT_ARGON2_PARAMETERS)
    assert PasswordHasher().verify(upgraded, PASSWORD)
    assert not PasswordHasher().check_needs_rehash(upgraded)


def test_passwords_are_stored_as_argon2id_hashes_only(session, users):
    for user in users.values():
        assert user.password_hash.startswith("$argon2id$")
        assert PASSWORD not in user.password_hash


# ---------------------------------------------------------------------------------------------------
# API tokens


def create_token_on_account_page(client, name: str) -> str:
    token = csrf_from(client, "/account", "token-csrf_token")
    response = client.post("/account", data={"token-csrf_token": token, "token-name": name})
    assert response.status_code == 200
    match = re.search(r'<code class="token" id="new-token">([^<]+)</code>', response.get_data(as_text=True))
    assert match, "the new token is shown once on the page"
    return match.group(1)


def test_an_api_token_is_shown_once_stored_as_a_hash_and_works_as_bearer(client, session, users):
    load(session, policies=[policy_record("token-draft", editorial_state="draft")])
    session.commit()
    log_in(client, email_of("editor"), PASSWORD)
    plain = create_token_on_account_page(client, "ministry data sync")
    assert plain.startswith("evt_") and len(plain) > 40

    # Stored only as its SHA-256: the plain token is nowhere in the database.
    stored = session.scalars(select(ApiToken).where(ApiToken.user_id == users["editor"].id)).one()
    assert stored.token_hash == hashlib.sha256(plain.encode()).hexdigest()
    assert stored.name == "ministry data sync"
    for table in Base.metadata.sorted_tables:
        for row in session.execute(select(table)).all():
            assert plain not in repr(tuple(row)), table.name
    # Shown once: the account page lists the token by its prefix only afterwards.
    page = client.get("/account").get_data(as_text=True)
    assert plain not in page and stored.prefix in page

    api = client.application.test_client()
    assert api.get("/api/v1/policies/token-draft").status_code == 404
    response = api.get("/api/v1/policies/token-draft", headers={"Authorization": f"Bearer {plain}"})
    assert response.status_code == 200 and response.get_json()["key"] == "token-draft"


def test_a_revoked_token_is_refused(client, session, users):
    log_in(client, email_of("editor"), PASSWORD)
    plain = create_token_on_account_page(client, "to be revoked")
    headers = {"Authorization": f"Bearer {plain}"}
    api = client.application.test_client()
    assert api.get("/api/v1/policies", headers=headers).status_code == 200

    token_id = session.scalars(select(ApiToken.id).where(ApiToken.user_id == users["editor"].id)).one()
    revoke_path = f"/account/tokens/{token_id}/revoke"
    assert client.post(revoke_path).status_code == 400  # no CSRF token: refused
    response = client.post(revoke_path, data={"csrf_token": csrf_from(client, "/account")})
    assert response.status_code == 302
    assert "Revoked" in client.get("/account").get_data(as_text=True)

    refused = api.get("/api/v1/policies", headers=headers)
    assert refused.status_code == 401
    assert refused.get_json()["error"]["status"] == 401


@pytest.mark.parametrize("header", ["Bearer evt_not-a-real-token", "Bearer ", "Basic dXNlcjpwYXNz", "evt_x"])
def test_unknown_or_malformed_tokens_are_refused(client, header):
    response = client.get("/api/v1/policies", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.is_json


def test_the_token_of_a_disabled_user_is_refused(client, session, users, api_token):
    headers = api_token("partner")
    assert client.get("/api/v1/policies", headers=headers).status_code == 200
    accounts.set_active(session, users["partner"], False, users["admin"])
    session.commit()
    assert client.get("/api/v1/policies", headers=headers).status_code == 401


def test_nobody_revokes_someone_elses_token(client, session, users, api_token):
    headers = api_token("reviewer")
    reviewer_token = session.scalars(select(ApiToken).where(ApiToken.user_id == users["reviewer"].id)).one()
    log_in(client, email_of("editor"), PASSWORD)
    response = client.post(f"/account/tokens/{reviewer_token.id}/revoke",
                           data={"csrf_token": csrf_from(client, "/account")})
    assert response.status_code == 404
    session.expire_all()
    assert session.get(ApiToken, reviewer_token.id).revoked_at is None
    assert client.application.test_client().get("/api/v1/policies", headers=headers).status_code == 200


def test_a_token_needs_a_name(client):
    log_in(client, email_of("editor"), PASSWORD)
    token = csrf_from(client, "/account", "token-csrf_token")
    response = client.post("/account", data={"token-csrf_token": token, "token-name": "   "})
    assert response.status_code == 400
    assert 'id="new-token"' not in response.get_data(as_text=True)


def test_the_api_ignores_the_session_cookie(client, session):
    load(session, policies=[policy_record("cookie-draft", editorial_state="draft")])
    session.commit()
    log_in(client, email_of("editor"), PASSWORD)
    assert client.get("/policies/cookie-draft").status_code == 200
    assert client.get("/api/v1/policies/cookie-draft").status_code == 404


# ---------------------------------------------------------------------------------------------------
# Command line


def test_cli_creates_a_user_with_the_password_read_from_stdin(runner, session):
    result = runner.invoke(args=["users", "create", "Souk.Vongsa@Example.org", "--role", "admin",
                                 "--name", "Souk Vongsa"], input="a strong enough passphrase\n")
    assert result.exit_code == 0, result.output
    assert "Created souk.vongsa@example.org with the role admin." in result.output
    assert "a strong enough passphrase" not in result.output
    user = session.scalars(select(User).where(User.email == "souk.vongsa@example.org")).one()
    assert (user.role, user.display_name, user.is_active) == ("admin", "Souk Vongsa", True)
    assert PasswordHasher().verify(user.password_hash, "a strong enough passphrase")

    result = runner.invoke(args=["users", "create", "second@example.org", "--role", "editor",
                                 "--password-stdin"], input="another strong passphrase\n")
    assert result.exit_code == 0, result.output
    assert session.scalars(select(User.role).where(User.email == "second@example.org")).one() == "editor"


@pytest.mark.parametrize(("email", "password", "message"), [
    ("short@example.org", "too short", "too short"),
    (email_of("editor"), "a strong enough passphrase", "already exists"),
    ("EDITOR@example.org", "a strong enough passphrase", "already exists"),
    ("not-an-email", "a strong enough passphrase", "not valid"),
    ("same@example.org", "same@example.org", "email address"),
])
def test_cli_refuses_bad_accounts_and_creates_nothing(runner, session, email, password, message):
    before = session.scalar(select(func.count(User.id)))
    result = runner.invoke(args=["users", "create", email, "--role", "admin"], input=password + "\n")
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
    session.expire_all()
    assert session.scalar(select(func.count(User.id))) == before


def test_cli_refuses_an_unknown_role(runner):
    result = runner.invoke(args=["users", "create", "x@example.org", "--role", "superuser"],
                           input="a strong enough passphrase\n")
    assert result.exit_code == 2 and "superuser" in result.output


def test_cli_disables_enables_changes_role_and_lists(runner, session, users):
    result = runner.invoke(args=["users", "disable", email_of("editor")])
    assert result.exit_code == 0 and f"{email_of('editor')}: editor, disabled." in result.output
    old_token = users["editor"].session_token
    session.expire_all()
    editor = session.get(User, users["editor"].id)
    assert editor.is_active is False and editor.session_token != old_token

    result = runner.invoke(args=["users", "enable", email_of("editor")])
    assert result.exit_code == 0 and "enabled" in result.output
    result = runner.invoke(args=["users", "set-role", email_of("editor"), "reviewer"])
    assert result.exit_code == 0 and f"{email_of('editor')}: reviewer, enabled." in result.output
    session.expire_all()
    assert session.get(User, users["editor"].id).role == "reviewer"

    runner.invoke(args=["users", "disable", email_of("partner")])
    listing = runner.invoke(args=["users", "list"]).output.splitlines()
    assert listing == sorted(listing)
    assert f"{email_of('editor')}\treviewer\tenabled" in listing
    assert f"{email_of('partner')}\tpartner\tdisabled" in listing
    assert f"{email_of('admin')}\tadmin\tenabled" in listing

    for args in (["users", "disable", "nobody@example.org"],
                 ["users", "set-role", "nobody@example.org", "admin"]):
        result = runner.invoke(args=args)
        assert result.exit_code == 1 and "There is no account for nobody@example.org" in result.output


def test_a_fresh_database_has_no_account_and_no_default_password(tmp_path, login_delays):
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}",
                      "SECRET_KEY": "fresh-test-key", "SEARCH_INDEX_PATH": str(tmp_path / "index")})
    database = app.extensions["tracker.db"]
    try:
        runner = app.test_cli_runner()
        assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
        assert runner.invoke(args=["data", "demo"]).exit_code == 0
        assert runner.invoke(args=["users", "list"]).output == ""
        with database.session() as session:
            assert session.scalar(select(func.count(User.id))) == 0
        # So nobody can log in, whatever they try.
        client = app.test_client()
        for email, password in (("admin@example.org", "admin"), ("admin", "admin"),
                                ("admin@localhost", "password")):
            assert log_in(client, email, password).status_code == 401
        assert migrate.current_revision(database.engine) is not None
    finally:
        database.dispose()


# ---------------------------------------------------------------------------------------------------
# User administration


@pytest.mark.parametrize(("role", "status"), [("reviewer", 403), ("editor", 403), ("partner", 403),
                                              (None, 302)])
def test_only_admins_reach_user_management(client, login_as, session, role, status):
    login_as(role)
    assert client.get("/admin/users").status_code == status
    token = csrf_from(client, "/account" if role else "/login")
    response = client.post("/admin/users", data={"csrf_token": token, "email": "intruder@example.org",
                                                 "role": "admin", "password": "a strong enough passphrase"})
    assert response.status_code == status
    assert session.scalar(select(func.count(User.id)).where(User.email == "intruder@example.org")) == 0


def test_a_non_admin_cannot_change_a_user_even_with_a_valid_form(client, login_as, users, session):
    login_as("reviewer")
    token = csrf_from(client, "/account")
    response = client.post(f"/admin/users/{users['editor'].id}", data={"csrf_token": token, "role": "admin",
                                                                       "active": "y"})
    assert response.status_code == 403
    session.expire_all()
    assert session.get(User, users["editor"].id).role == "editor"


def test_admin_creates_a_user_and_sees_errors_next_to_each_field(client, login_as, session):
    login_as("admin")
    page = client.get("/admin/users")
    assert page.status_code == 200
    assert all(email_of(role) in text_of(page) for role in ("admin", "reviewer", "editor", "partner"))
    token = form_value(page.get_data(as_text=True), "csrf_token")

    response = client.post("/admin/users", data={"csrf_token": token, "email": "not an address",
                                                 "display_name": "", "role": "editor", "password": "short"})
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert re.search(r'id="email-error"', body)
    assert re.search(r'id="password-error"[^>]*>[^<]*10', body)
    assert re.search(r'id="display_name-error"', body)  # a name is required
    assert session.scalar(select(func.count(User.id)).where(User.email == "not an address")) == 0

    response = client.post("/admin/users", data={"csrf_token": token, "email": email_of("editor"),
                                                 "display_name": "Someone Else", "role": "editor",
                                                 "password": "a strong enough passphrase"})
    assert response.status_code == 400
    assert re.search(r'id="email-error"[^>]*>[^<]*already exists', response.get_data(as_text=True))

    response = client.post("/admin/users", data={"csrf_token": token, "email": "Khamla@Example.org",
                                                 "display_name": "Khamla ພົມມະຈັນ", "role": "reviewer",
                                                 "password": "a strong enough passphrase"})
    assert response.status_code == 302
    assert "Account created for khamla@example.org (reviewer)." in text_of(client.get("/admin/users"))
    created = session.scalars(select(User).where(User.email == "khamla@example.org")).one()
    assert (created.role, created.display_name) == ("reviewer", "Khamla ພົມມະຈັນ")
    assert log_in(client.application.test_client(), "khamla@example.org", "a strong enough passphrase",
                  address="192.0.2.30").status_code == 302


def test_admin_changes_a_role_and_that_ends_the_users_sessions(app, client, login_as, users, session):
    editor_browser = app.test_client()
    log_in(editor_browser, email_of("editor"), PASSWORD)
    login_as("admin")
    token = csrf_from(client, "/admin/users")
    response = client.post(f"/admin/users/{users['editor'].id}",
                           data={"csrf_token": token, "role": "reviewer", "active": "y"})
    assert response.status_code == 302
    assert f"{email_of('editor')}: reviewer, enabled." in text_of(client.get("/admin/users"))
    session.expire_all()
    assert session.get(User, users["editor"].id).role == "reviewer"
    # The new role takes effect at the next login, never in a session opened under the old one.
    assert not is_signed_in(editor_browser)


def test_an_admin_cannot_disable_their_own_account(client, login_as, users, session):
    login_as("admin")
    token = csrf_from(client, "/admin/users")
    response = client.post(f"/admin/users/{users['admin'].id}", data={"csrf_token": token, "role": "admin"})
    assert response.status_code == 302
    page = text_of(client.get("/admin/users"))
    assert "Ask another administrator." in page or "You cannot disable your own account." in page
    session.expire_all()
    assert session.get(User, users["admin"].id).is_active is True
    assert is_signed_in(client)


def test_an_unknown_user_id_is_not_found(client, login_as):
    login_as("admin")
    token = csrf_from(client, "/admin/users")
    assert client.post("/admin/users/999999", data={"csrf_token": token, "role": "editor"}).status_code == 404


# ---------------------------------------------------------------------------------------------------
# Password reset by email


def request_reset(client, email: str):
    """Open the reset page, then post the form with its CSRF token."""
    token = csrf_from(client, "/password-reset")
    return client.post("/password-reset", data={"csrf_token": token, "email": email})


def reset_mails(session, user: User | None = None) -> int:
    statement = select(func.count(StaffMail.id)).where(StaffMail.kind == "password_reset")
    if user is not None:
        statement = statement.where(StaffMail.user_id == user.id)
    return session.scalar(statement)


def reset_path(app, user: User) -> str:
    """The link of a reset mail, made as the mail worker makes it."""
    token = tokens.make_password_reset_token(user, app.config["SECRET_KEY"])
    with app.test_request_context():
        return url_for("auth.reset_password", token=token)


def set_new_password(client, path: str, password: str, confirm: str | None = None):
    token = csrf_from(client, path)
    return client.post(path, data={"csrf_token": token, "new_password": password,
                                   "confirm": password if confirm is None else confirm})


def test_the_login_page_links_to_the_reset_page(client):
    login_page = client.get("/login").get_data(as_text=True)
    assert 'href="/password-reset"' in login_page and "Forgot your password?" in login_page
    page = client.get("/password-reset")
    assert page.status_code == 200
    assert form_value(page.get_data(as_text=True), "csrf_token")
    assert 'name="email"' in page.get_data(as_text=True)


def test_a_reset_request_gets_one_answer_whoever_asks(client, session, users, count_queries):
    accounts.set_active(session, users["partner"], False, users["admin"])
    session.commit()
    answers, statements = {}, {}
    for email in (email_of("editor"), "Nobody@Example.org", email_of("partner")):
        token = csrf_from(client, "/password-reset")
        count_queries.reset()
        response = client.post("/password-reset", data={"csrf_token": token, "email": email})
        statements[email] = list(count_queries.statements)
        assert response.status_code == 200
        answers[email] = response.get_data(as_text=True)
    # The same page, to the byte, for an account, no account and a disabled account.
    assert len(set(answers.values())) == 1
    assert "a link to choose a new password is on its way" in html.unescape(answers[email_of("editor")])

    assert reset_mails(session, users["editor"]) == 1
    assert reset_mails(session) == 1
    # The same reads each way (and no password hashing); only the mail to the editor was written.
    # (On PostgreSQL a queued mail also wakes the workers with pg_notify: a signal, not a read or a write.)
    reads = {email: [sql for sql in found if sql.lstrip().upper().startswith("SELECT") and "pg_notify" not in sql]
             for email, found in statements.items()}
    assert reads[email_of("editor")] == reads["Nobody@Example.org"] == reads[email_of("partner")]
    writes = [sql for sql in statements[email_of("editor")]
              if sql not in reads[email_of("editor")] and "pg_notify" not in sql]
    assert len(writes) == 1 and "INSERT INTO staff_mail" in writes[0]


def test_reset_mails_are_limited_per_account_and_the_answer_stays_the_same(client, session, users):
    answers = set()
    for _ in range(accounts.RESET_LIMIT + 2):
        response = request_reset(client, email_of("editor"))
        assert response.status_code == 200
        answers.add(response.get_data(as_text=True))
    assert len(answers) == 1
    assert reset_mails(session, users["editor"]) == accounts.RESET_LIMIT

    # An hour later (moved back rather than waited for), one more may go.
    for mail in session.scalars(select(StaffMail).where(StaffMail.user_id == users["editor"].id)):
        mail.created_at -= accounts.RESET_LIMIT_PERIOD + dt.timedelta(minutes=1)
    session.commit()
    assert request_reset(client, email_of("editor")).status_code == 200
    assert reset_mails(session, users["editor"]) == accounts.RESET_LIMIT + 1


def test_a_reset_request_needs_an_address_and_its_csrf_token(client, session):
    assert client.post("/password-reset", data={"email": email_of("editor")}).status_code == 400
    response = request_reset(client, "not an address")
    assert response.status_code == 400
    assert 'id="email-error"' in response.get_data(as_text=True)
    assert reset_mails(session) == 0


def test_a_reset_link_sets_a_new_password_and_ends_every_other_session(app, client, session, users,
                                                                        login_delays):
    other_browser = app.test_client()
    log_in(other_browser, email_of("editor"), PASSWORD)
    path = reset_path(app, users["editor"])

    page = client.get(path)
    assert page.status_code == 200
    assert email_of("editor") in text_of(page)
    # The address holds a live token: it must not leak in a Referer or stay in a cache.
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["Cache-Control"] == "no-store"

    assert "The two new passwords differ." in text_of(set_new_password(client, path, NEW_PASSWORD,
                                                                       NEW_PASSWORD + "!"))
    assert set_new_password(client, path, "short").status_code == 400
    same_as_email = set_new_password(client, path, email_of("editor"))
    assert same_as_email.status_code == 400
    assert re.search(r'id="new_password-error"[^>]*>Do not use your email address', text_of(same_as_email))
    assert client.post(path, data={"new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD}).status_code == 400
    assert is_signed_in(other_browser)  # nothing was changed by the refused forms

    response = set_new_password(client, path, NEW_PASSWORD)
    assert response.status_code == 302 and response.headers["Location"] == "/account"
    account_page = client.get("/account")
    assert account_page.status_code == 200
    assert "Your password was changed and you are logged in." in text_of(account_page)
    assert not is_signed_in(other_browser)
    assert log_in(app.test_client(), email_of("editor"), PASSWORD, address="192.0.2.40").status_code == 401
    assert log_in(app.test_client(), email_of("editor"), NEW_PASSWORD,
                  address="192.0.2.41").status_code == 302

    # The link worked once.
    used = app.test_client()
    again = used.get(path)
    assert again.status_code == 400
    assert "This password reset link was used already or is no longer valid." in text_of(again)
    assert 'href="/password-reset"' in again.get_data(as_text=True)
    token = csrf_from(used, "/password-reset")
    replay = used.post(path, data={"csrf_token": token, "new_password": "yet another passphrase",
                                   "confirm": "yet another passphrase"})
    assert replay.status_code == 400 and not is_signed_in(used)
    session.expire_all()
    assert PasswordHasher().verify(session.get(User, users["editor"].id).password_hash, NEW_PASSWORD)


class _SignedLongAgo(TimestampSigner):
    """Signs as if it were more than RESET_MAX_AGE ago (an old link, rather than a wait of an hour)."""

    def get_timestamp(self) -> int:
        return int(time.time()) - tokens.RESET_MAX_AGE - 60


def test_expired_forged_and_outdated_reset_links_are_refused(app, client, session, users):
    secret = app.config["SECRET_KEY"]
    editor = users["editor"]

    for path in ("/password-reset/forged-token", reset_path(app, editor) + "x",
                 "/password-reset/" + tokens.make_password_reset_token(editor, "another secret key")):
        response = client.get(path)
        assert response.status_code == 400, path
        assert "This password reset link is not valid." in text_of(response)
        assert 'href="/password-reset"' in response.get_data(as_text=True)

    payload = URLSafeTimedSerializer(secret, salt=tokens.RESET_SALT).loads(
        tokens.make_password_reset_token(editor, secret))
    old = URLSafeTimedSerializer(secret, salt=tokens.RESET_SALT, signer=_SignedLongAgo).dumps(payload)
    expired = client.get(f"/password-reset/{old}")
    assert expired.status_code == 400
    assert "This password reset link has expired." in text_of(expired)

    # A link stops working when every session of the account ends (a logout), or the account is disabled.
    path = reset_path(app, editor)
    assert client.get(path).status_code == 200
    accounts.end_sessions(editor)
    session.commit()
    assert client.get(path).status_code == 400
    path = reset_path(app, editor)
    accounts.set_active(session, editor, False, users["admin"])
    session.commit()
    assert client.get(path).status_code == 400


@pytest.mark.slow
def test_a_reset_forgets_the_failed_logins_counted_against_the_account(app, client, session, users,
                                                                       database, login_delays):
    owner = email_of("editor")
    attacker = app.test_client()
    for _ in range(5):
        log_in(attacker, owner, "one more guess", address="10.0.2.9")
    for host in range(1, 6):
        for n in range(4):
            log_in(attacker, owner, f"guess {host}.{n}", address=f"10.0.2.{host}")
    assert log_in(app.test_client(), owner, PASSWORD, address="10.0.2.9").status_code == 429
    assert log_in(app.test_client(), owner, PASSWORD, address="10.0.0.50").status_code == 429

    assert set_new_password(client, reset_path(app, users["editor"]), NEW_PASSWORD).status_code == 302
    assert throttles(database, "account", owner) is None
    assert throttles(database, "pair", f"{owner}|10.0.2.9") is None
    assert throttles(database, "address", "10.0.2.9") is not None  # the address keeps its own count
    # The owner logs in at once, from anywhere.
    assert log_in(app.test_client(), owner, NEW_PASSWORD, address="10.0.0.50").status_code == 302
    assert log_in(app.test_client(), owner, NEW_PASSWORD, address="10.0.2.9").status_code == 302


# ---------------------------------------------------------------------------------------------------
# Roles: new accounts get the least privileged one, and the tracker always keeps an administrator


def post_user_change(client, user: User, **fields):
    token = csrf_from(client, "/admin/users")
    return client.post(f"/admin/users/{user.id}", data={"csrf_token": token, **fields})


def test_the_create_form_gives_the_least_privileged_role_unless_told(client, login_as, session):
    login_as("admin")
    page = client.get("/admin/users").get_data(as_text=True)
    assert selected_option(page, "role") == "partner"
    token = form_value(page, "csrf_token")
    for email, fields in (("chosen@example.org", {"role": selected_option(page, "role")}),
                          ("unsaid@example.org", {})):
        response = client.post("/admin/users", data={"csrf_token": token, "email": email,
                                                     "display_name": "A Name",
                                                     "password": "a strong enough passphrase", **fields})
        assert response.status_code == 302, email
        assert session.scalars(select(User.role).where(User.email == email)).one() == "partner"


def test_cli_creates_a_partner_unless_told_otherwise(runner, session):
    result = runner.invoke(args=["users", "create", "quiet@example.org"],
                           input="a strong enough passphrase\n")
    assert result.exit_code == 0, result.output
    assert "Created quiet@example.org with the role partner." in result.output
    assert session.scalars(select(User.role).where(User.email == "quiet@example.org")).one() == "partner"


def test_the_last_active_admin_cannot_be_demoted_or_disabled_on_the_page(client, login_as, users, session):
    login_as("admin")
    response = post_user_change(client, users["admin"], role="editor", active="y")
    assert response.status_code == 302
    page = text_of(client.get("/admin/users"))
    assert f"{email_of('admin')} is the last active administrator" in page
    assert "Make another account an administrator first." in page
    session.expire_all()
    admin = session.get(User, users["admin"].id)
    assert (admin.role, admin.is_active) == ("admin", True)
    assert is_signed_in(client)  # nothing happened, not even the end of the sessions


def test_a_disabled_admin_does_not_count_as_another(client, login_as, users, session):
    second = accounts.create_user(session, "second.admin@example.org", PASSWORD, "admin")
    accounts.set_active(session, second, False, users["admin"])
    session.commit()
    login_as("admin")
    post_user_change(client, users["admin"], role="reviewer", active="y")
    session.expire_all()
    assert session.get(User, users["admin"].id).role == "admin"


def test_an_admin_steps_down_while_another_is_active(client, login_as, users, session):
    accounts.create_user(session, "second.admin@example.org", PASSWORD, "admin")
    session.commit()
    login_as("admin")
    assert post_user_change(client, users["admin"], role="reviewer", active="y").status_code == 302
    session.expire_all()
    assert session.get(User, users["admin"].id).role == "reviewer"
    assert not is_signed_in(client)  # a new role takes effect at the next login


def test_a_refused_change_applies_none_of_its_parts(client, login_as, users, session):
    accounts.create_user(session, "second.admin@example.org", PASSWORD, "admin")
    session.commit()
    login_as("admin")
    # The role change alone would pass; disabling one's own account does not, so neither happens.
    assert post_user_change(client, users["admin"], role="editor").status_code == 302
    assert "You cannot disable your own account." in text_of(client.get("/admin/users"))
    session.expire_all()
    admin = session.get(User, users["admin"].id)
    assert (admin.role, admin.is_active) == ("admin", True)


def test_the_command_line_keeps_the_last_admin_too(runner, session, users):
    for args in (["users", "set-role", email_of("admin"), "editor"], ["users", "disable", email_of("admin")]):
        result = runner.invoke(args=args)
        assert result.exit_code == 1, result.output
        assert "is the last active administrator" in result.output and "Traceback" not in result.output
    session.expire_all()
    admin = session.get(User, users["admin"].id)
    assert (admin.role, admin.is_active) == ("admin", True)

    result = runner.invoke(args=["users", "create", "second.admin@example.org", "--role", "admin"],
                           input="a strong enough passphrase\n")
    assert result.exit_code == 0, result.output
    assert runner.invoke(args=["users", "set-role", email_of("admin"), "editor"]).exit_code == 0
    # Now the second one is the last.
    result = runner.invoke(args=["users", "disable", "second.admin@example.org"])
    assert result.exit_code == 1
    assert "second.admin@example.org is the last active administrator" in result.output


# ---------------------------------------------------------------------------------------------------
# Display names and the language of emails


def save_profile(client, name: str, language: str):
    token = csrf_from(client, "/account", "profile-csrf_token")
    return client.post("/account", data={"profile-csrf_token": token, "profile-display_name": name,
                                         "profile-language": language})


def test_a_user_sets_their_name_and_email_language(client, login_as, users, session):
    login_as("editor")
    page = client.get("/account").get_data(as_text=True)
    assert form_value(page, "profile-display_name") == "Test editor"
    assert selected_option(page, "profile-language") == "en"

    name = "ສົມສັກ ແກ້ວມະນີ 🚗⚡ 👩‍💻"
    response = save_profile(client, f"  {name} ", "lo")
    assert response.status_code == 302 and response.headers["Location"] == "/account"
    page = client.get("/account")
    assert "Your name and email language were saved." in text_of(page)
    assert form_value(page.get_data(as_text=True), "profile-display_name") == name
    assert selected_option(page.get_data(as_text=True), "profile-language") == "lo"
    session.expire_all()
    editor = session.get(User, users["editor"].id)
    assert (editor.display_name, editor.language, editor.label) == (name, "lo", name)
    assert is_signed_in(client)


@pytest.mark.parametrize(("name", "language", "field"), [
    ("", "en", "display_name"),
    ("   ", "en", "display_name"),
    ("x" * 201, "en", "display_name"),
    ("Tab\tin the name", "en", "display_name"),
    ("Two\nlines", "en", "display_name"),
    ("\u202eeman desrever", "en", "display_name"),
    ("A fine name", "fr", "language"),
    ("A fine name", "", "language"),
])
def test_a_bad_profile_is_refused_by_its_field_and_nothing_changes(client, login_as, users, session, name,
                                                                    language, field):
    login_as("editor")
    response = save_profile(client, name, language)
    assert response.status_code == 400
    assert f'id="profile-{field}-error"' in response.get_data(as_text=True)
    session.expire_all()
    editor = session.get(User, users["editor"].id)
    assert (editor.display_name, editor.language) == ("Test editor", None)


def test_the_profile_service_names_every_bad_field(session, users):
    with pytest.raises(Invalid) as refused:
        accounts.update_profile(session, users["editor"], "Bell\x07", "fr")
    assert set(refused.value.errors) == {"display_name", "language"}
    assert "control characters" in refused.value.errors["display_name"]
    assert users["editor"].display_name == "Test editor"
    accounts.update_profile(session, users["editor"], "x" * 200, "en")
    assert users["editor"].display_name == "x" * 200


def test_the_profile_form_needs_its_csrf_token(client, login_as, users, session):
    login_as("editor")
    response = client.post("/account", data={"profile-display_name": "Intruder", "profile-language": "lo"})
    assert response.status_code == 400
    session.expire_all()
    assert session.get(User, users["editor"].id).display_name == "Test editor"


def test_the_admin_list_shows_names_and_the_email_where_there_is_none(client, login_as, runner, session):
    result = runner.invoke(args=["users", "create", "nameless@example.org"],
                           input="a strong enough passphrase\n")
    assert result.exit_code == 0, result.output
    login_as("admin")
    page = client.get("/admin/users").get_data(as_text=True)
    rows = {html.unescape(email): html.unescape(name)
            for name, email in re.findall(r"<tr>\s*<td>(.*?)</td>\s*<td>(.*?)</td>", page)}
    assert rows["nameless@example.org"] == "nameless@example.org"
    assert rows[email_of("editor")] == "Test editor"


def test_cli_and_admin_form_refuse_bad_names_and_create_nothing(client, login_as, runner, session):
    result = runner.invoke(args=["users", "create", "long.name@example.org", "--name", "x" * 201],
                           input="a strong enough passphrase\n")
    assert result.exit_code == 1 and "too long" in result.output
    login_as("admin")
    token = csrf_from(client, "/admin/users")
    response = client.post("/admin/users", data={"csrf_token": token, "email": "tabbed@example.org",
                                                 "display_name": "Tab\tbed", "role": "editor",
                                                 "password": "a strong enough passphrase"})
    assert response.status_code == 400
    assert re.search(r'id="display_name-error"[^>]*>Remove line breaks', response.get_data(as_text=True))
    assert session.scalar(select(func.count(User.id)).where(User.email.in_(
        ["long.name@example.org", "tabbed@example.org"]))) == 0
