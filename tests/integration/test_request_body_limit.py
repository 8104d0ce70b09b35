"""A body sent without Content-Length (``Transfer-Encoding: chunked``) is held to the same limits as any other:
over the limit it is refused with 413, never cut at the limit and accepted."""
from __future__ import annotations

import http.client
import io
import json
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from werkzeug.serving import make_server

from tracker.db import unit_of_work
from tracker.models import Document, Policy
from tracker.services import accounts

LIMIT = 2 * 1024 * 1024
NEW_POLICY = {"country": "LA", "title_en": "Chunked body decree", "instrument": "decree"}


def padded(body: dict, size: int) -> bytes:
    """A valid JSON object followed by spaces up to ``size`` bytes: cut anywhere after the object, it
    still parses (which is how a body cut at the limit used to be accepted)."""
    data = json.dumps(body).encode()
    return data + b" " * (size - len(data))


@pytest.fixture
def served(committed_app) -> Iterator[tuple[str, int, dict[str, str]]]:
    """The app served over real HTTP (Werkzeug's threaded server), and an editor's API token."""
    database = committed_app.extensions["tracker.db"]
    with unit_of_work(database.session(write=True)) as session:
        editor = accounts.create_user(session, "editor@example.org", "correct horse battery staple", "editor")
        _, token = accounts.create_api_token(session, editor, "chunked")
    server = make_server("127.0.0.1", 0, committed_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield "127.0.0.1", server.server_port, {"Authorization": f"Bearer {token}"}
    finally:
        server.shutdown()
        thread.join(timeout=5)


def send_chunked(host: str, port: int, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    """POST ``body`` in 64 KiB chunks with ``Transfer-Encoding: chunked`` (no Content-Length)."""
    connection = http.client.HTTPConnection(host, port, timeout=30)
    chunks = (body[i:i + 65536] for i in range(0, len(body), 65536))
    try:
        connection.request("POST", path, body=chunks, encode_chunked=True,
                           headers={**headers, "Transfer-Encoding": "chunked"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def policies_named(app, title: str) -> int:
    with app.extensions["tracker.db"].session() as session:
        return session.scalar(select(func.count()).select_from(Policy).where(Policy.title_en == title)) or 0


def test_a_chunked_json_body_over_the_limit_is_refused_with_413_over_real_http(committed_app, served):
    host, port, token = served
    headers = {**token, "Content-Type": "application/json", "Accept-Language": "lo"}

    status, body = send_chunked(host, port, "/api/v1/policies", padded(NEW_POLICY, LIMIT + 4096), headers)

    assert status == 413
    error = json.loads(body)["error"]
    assert error["status"] == 413 and error["message"]
    assert not error["message"].isascii()  # in the reader's language (Lao)
    assert policies_named(committed_app, NEW_POLICY["title_en"]) == 0  # nothing was written


def test_a_chunked_json_body_of_exactly_the_limit_is_read_whole_and_accepted(committed_app, served):
    host, port, token = served
    headers = {**token, "Content-Type": "application/json"}

    status, body = send_chunked(host, port, "/api/v1/policies", padded(NEW_POLICY, LIMIT), headers)

    assert status == 201, body[:500]
    assert json.loads(body)["title_en"] == NEW_POLICY["title_en"]
    assert policies_named(committed_app, NEW_POLICY["title_en"]) == 1


def test_a_chunked_upload_over_the_documents_limit_is_refused_with_413(committed_app, served):
    host, port, token = served
    committed_app.config["DOCUMENT_MAX_BYTES"] = 256 * 1024
    with committed_app.test_request_context():
        with unit_of_work(committed_app.extensions["tracker.db"].session(write=True)) as session:
            from tracker.services import editing

            editor = accounts.get_user_by_email(session, "editor@example.org")
            editing.create_policy(session, {**NEW_POLICY, "key": "la-chunked-upload"}, editor)
    boundary = "chunkedboundary"
    text = ("ລົດໄຟຟ້າ " * 40000).encode()  # ~1 MiB of text, four times the limit
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"role\"\r\n\r\noriginal\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"decree.txt\"\r\n"
            f"Content-Type: text/plain\r\n\r\n").encode() + text + f"\r\n--{boundary}--\r\n".encode()
    headers = {**token, "Content-Type": f"multipart/form-data; boundary={boundary}"}

    status, answer = send_chunked(host, port, "/api/v1/policies/la-chunked-upload/documents", body, headers)

    assert status == 413, answer[:500]
    assert "file" in json.loads(answer)["error"]["errors"]
    with committed_app.extensions["tracker.db"].session() as session:
        assert session.scalar(select(func.count()).select_from(Document)) == 0


@pytest.mark.parametrize("path", ["/api/v1/policies", "/api/v1/events"])
def test_the_test_client_sees_the_same_413_for_a_streamed_body(client, api_token, path):
    body = padded({"title_en": "Streamed"}, LIMIT + 1)

    response = client.post(path, input_stream=io.BytesIO(body),
                           headers={**api_token("editor"), "Content-Type": "application/json",
                                    "Transfer-Encoding": "chunked"},
                           environ_overrides={"wsgi.input_terminated": True})

    assert response.status_code == 413
    assert response.get_json()["error"]["status"] == 413


def test_a_streamed_form_over_the_limit_is_refused_and_not_read_as_a_shorter_form(client):
    body = b"email=someone%40example.org&password=x" + b"&pad=" + b"x" * LIMIT

    response = client.post("/login", input_stream=io.BytesIO(body),
                           headers={"Content-Type": "application/x-www-form-urlencoded",
                                    "Transfer-Encoding": "chunked"},
                           environ_overrides={"wsgi.input_terminated": True})

    assert response.status_code == 413
