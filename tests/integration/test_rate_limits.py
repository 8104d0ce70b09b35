"""Rate limits per client: an address that sends too many sign-in, subscription or API requests in a short time is
answered 429 with Retry-After, in the reader's language, while other clients go on; the counts run out."""
from __future__ import annotations

import secrets
import time

import pytest
from flask_babel import force_locale
from flask_babel import gettext as _
from itsdangerous import URLSafeTimedSerializer

from tracker import create_app
from tracker.config import ConfigError
from tracker.db import unit_of_work
from tracker.services import accounts

MESSAGE = "Too many requests in a short time. Please wait a little and try again."


@pytest.fixture
def make_app(app, database_url, tmp_path):
    """An app of its own over the suite's database (only read here), with the limits on and its own counts."""
    made = []

    def build(**settings):
        application = create_app({
            "TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test-secret-key-not-for-production",
            "SEARCH_INDEX_PATH": app.config["SEARCH_INDEX_PATH"], "SEARCH_INDEXER": "external",
            "TODAY": app.config["TODAY"], "RATELIMIT_ENABLED": True, **settings})
        made.append(application)
        return application

    yield build
    for application in made:
        application.extensions["tracker.db"].dispose()


def csrf(application, client) -> str:
    """A valid CSRF token for the client's session, made the way Flask-WTF makes them."""
    raw = secrets.token_hex(20)
    with client.session_transaction() as cookie_session:
        cookie_session["csrf_token"] = raw
    return URLSafeTimedSerializer(application.secret_key, salt="wtf-csrf-token").dumps(raw)


def post_login(application, client, address: str, **kwargs):
    """A sign-in form sent without an email: the app refuses it (400) without touching the database."""
    return client.post("/login", data={"csrf_token": csrf(application, client), "email": "", "password": ""},
                       environ_base={"REMOTE_ADDR": address}, **kwargs)


def retry_after(response) -> int:
    assert response.status_code == 429, response.get_data(as_text=True)[:300]
    value = response.headers["Retry-After"]
    assert value.isdigit() and int(value) > 0, value
    return int(value)


def test_the_eleventh_sign_in_in_a_minute_is_refused_in_the_readers_language(make_app):
    application = make_app()
    client = application.test_client()
    for number in range(10):
        response = post_login(application, client, "198.51.100.4")
        assert response.status_code == 400, number
        assert response.headers["X-RateLimit-Limit"] == "10"
        assert response.headers["X-RateLimit-Remaining"] == str(9 - number)
        assert "Retry-After" not in response.headers
    refused = post_login(application, client, "198.51.100.4", headers={"Accept-Language": "lo"})
    assert 0 < retry_after(refused) <= 61
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    with application.test_request_context(), force_locale("lo"):
        lao = _(MESSAGE)
    assert lao != MESSAGE
    page = refused.get_data(as_text=True)
    assert lao in page and 'lang="lo"' in page
    # In English for an English reader.
    assert MESSAGE in post_login(application, client, "198.51.100.4").get_data(as_text=True)
    # Another client is not held back; the limited one may still read the page.
    assert post_login(application, client, "198.51.100.5").status_code == 400
    assert client.get("/login", environ_base={"REMOTE_ADDR": "198.51.100.4"}).status_code == 200


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_count(make_app):
    application = make_app(TRUSTED_PROXIES=1, RATELIMIT_LOGIN="2 per minute")
    client = application.test_client()

    def attempt(forwarded_for: str):
        return post_login(application, client, "127.0.0.1", headers={"X-Forwarded-For": forwarded_for})

    assert [attempt("203.0.113.10").status_code for _ in range(2)] == [400, 400]
    retry_after(attempt("203.0.113.10"))
    assert attempt("203.0.113.11").status_code == 400


def test_the_count_runs_out_after_the_time_given_in_retry_after(make_app):
    application = make_app(RATELIMIT_LOGIN="2 per 2 seconds")
    client = application.test_client()
    assert [post_login(application, client, "198.51.100.6").status_code for _ in range(2)] == [400, 400]
    wait = retry_after(post_login(application, client, "198.51.100.6"))
    assert wait <= 3
    time.sleep(wait)
    assert post_login(application, client, "198.51.100.6").status_code == 400


def test_the_api_is_limited_per_client_with_a_json_error(make_app):
    application = make_app(RATELIMIT_API="5 per minute")
    client = application.test_client()
    address = {"REMOTE_ADDR": "192.0.2.20"}
    remaining = [client.get("/api/v1/policies", environ_base=address).headers["X-RateLimit-Remaining"]
                 for _ in range(5)]
    assert remaining == ["4", "3", "2", "1", "0"]
    refused = client.get("/api/v1/jurisdictions", environ_base=address, headers={"Accept-Language": "lo"})
    assert retry_after(refused) <= 61
    error = refused.get_json()["error"]
    assert error["status"] == 429 and error["message"] != MESSAGE and error["message"]
    # A wrong token does not give a client a fresh count.
    assert client.get("/api/v1/policies", environ_base=address,
                      headers={"Authorization": "Bearer not-a-token"}).status_code == 429
    assert client.get("/api/v1/policies", environ_base={"REMOTE_ADDR": "192.0.2.21"}).status_code == 200
    # The pages are not under the API's limit.
    assert client.get("/", environ_base=address).status_code == 200


def test_an_api_token_is_counted_for_its_user_not_its_address(make_app, users):
    application = make_app(RATELIMIT_API="3 per minute")
    database = application.extensions["tracker.db"]
    with unit_of_work(database.session(write=True)) as session:
        token, plain = accounts.create_api_token(session, users["partner"], "rate limit test")
        token_id = token.id
    try:
        client = application.test_client()
        address = {"REMOTE_ADDR": "192.0.2.30"}
        bearer = {"Authorization": f"Bearer {plain}"}
        assert [client.get("/api/v1/policies", environ_base=address).status_code for _ in range(3)] == [200] * 3
        assert client.get("/api/v1/policies", environ_base=address).status_code == 429
        # The partner's script behind the same address has its own count, wherever it comes from.
        assert client.get("/api/v1/policies", environ_base=address, headers=bearer).status_code == 200
        assert [client.get("/api/v1/policies", environ_base={"REMOTE_ADDR": "192.0.2.31"},
                           headers=bearer).status_code for _ in range(2)] == [200, 200]
        retry_after(client.get("/api/v1/policies", environ_base={"REMOTE_ADDR": "192.0.2.32"}, headers=bearer))
    finally:
        from tracker.models import ApiToken

        with unit_of_work(database.session(write=True)) as session:
            session.delete(session.get(ApiToken, token_id))


def test_subscribing_and_asking_for_a_manage_link_without_an_account_are_limited(make_app, users):
    application = make_app(RATELIMIT_SUBSCRIBE="2 per minute")
    client = application.test_client()
    address = {"REMOTE_ADDR": "192.0.2.40"}

    def send(path: str):
        return client.post(path, data={"csrf_token": csrf(application, client), "email": ""}, environ_base=address)

    for path in ("/subscribe?country=LA", "/subscriptions/manage"):
        assert [send(path).status_code for _ in range(2)] == [400, 400], path
        retry_after(send(path))
    # A signed-in user following something is not the anonymous form the limit is about.
    with client.session_transaction() as cookie_session:
        cookie_session["_user_id"] = users["editor"].session_token
        cookie_session["_fresh"] = True
    assert send("/subscribe?country=LA").status_code != 429


def test_with_the_limits_off_nothing_is_refused(make_app):
    application = make_app(RATELIMIT_ENABLED=False, RATELIMIT_LOGIN="1 per minute")
    client = application.test_client()
    responses = [post_login(application, client, "198.51.100.9") for _ in range(3)]
    assert [response.status_code for response in responses] == [400, 400, 400]
    assert "X-RateLimit-Limit" not in responses[-1].headers


def test_a_limit_written_wrong_stops_the_app_with_its_name(make_app):
    with pytest.raises(ConfigError, match="RATELIMIT_API='lots' is not a rate limit"):
        make_app(RATELIMIT_API="lots")
