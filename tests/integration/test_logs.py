"""Log lines as a log collector reads them: JSON a line, each line of a request with the id sent back to the client."""
from __future__ import annotations

import io
import json
import re

import pytest
from sqlalchemy import select

from tracker import create_app
from tracker.logs import configure_logging, tracker_handler
from tracker.models import NotificationEvent

LOCAL_URL = "http://127.0.0.1:9/hooks/tracker"


@pytest.fixture
def json_app(app, database_url):
    """An app of its own with LOG_FORMAT=json over the suite's database (read only here), and the lines its
    log handler writes; the suite's own format is restored afterwards."""
    application = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "x",
                              "SEARCH_INDEX_PATH": app.config["SEARCH_INDEX_PATH"], "LOG_FORMAT": "json"})
    buffer = io.StringIO()
    handler = tracker_handler()
    assert handler is not None
    handler.setStream(buffer)  # type: ignore[attr-defined]
    try:
        yield application, buffer
    finally:
        configure_logging(app.config["LOG_FORMAT"])
        application.extensions["tracker.db"].dispose()


def lines_of(buffer: io.StringIO) -> list[dict]:
    """Every line written, each parsed as JSON (a line that is not JSON fails the test)."""
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_every_line_is_json_and_a_request_line_carries_the_id_sent_back(json_app):
    application, buffer = json_app
    response = application.test_client().get("/countries/LA", headers={"X-Request-Id": "lb-7f3a.42:x_y"})
    assert response.status_code == 200
    assert response.headers["X-Request-Id"] == "lb-7f3a.42:x_y"
    lines = lines_of(buffer)
    (line,) = [line for line in lines if line["logger"] == "tracker.request"]
    assert line["request_id"] == "lb-7f3a.42:x_y"
    assert (line["method"], line["path"], line["status"], line["level"]) == ("GET", "/countries/LA", 200, "INFO")
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["time"])


@pytest.mark.parametrize("given", ["", "has space", "line\nbreak", "x" * 129, "quote\"d", "ລາວ"])
def test_an_unusable_request_id_is_replaced_by_a_new_one(json_app, given):
    application, buffer = json_app
    # Put in the WSGI environment as a server would pass it, whatever the characters.
    response = application.test_client().get("/healthz", environ_base={"HTTP_X_REQUEST_ID": given})
    sent_back = response.headers["X-Request-Id"]
    assert sent_back != given and re.fullmatch(r"[0-9a-f]{32}", sent_back)
    assert [line["request_id"] for line in lines_of(buffer) if line["logger"] == "tracker.request"] == [sent_back]


def test_an_error_is_one_json_line_with_the_exception_and_the_request_id(json_app):
    application, buffer = json_app

    def broken():
        raise RuntimeError("the disk caught fire")

    application.add_url_rule("/broken-for-the-test", "broken", broken)
    response = application.test_client().get("/broken-for-the-test")
    assert response.status_code == 500
    request_id = response.headers["X-Request-Id"]
    lines = lines_of(buffer)
    (error,) = [line for line in lines if line["level"] == "ERROR"]
    assert error["request_id"] == request_id and error["path"] == "/broken-for-the-test"
    assert "RuntimeError: the disk caught fire" in error["exception"] and "Traceback" in error["exception"]
    assert [line["status"] for line in lines if line["logger"] == "tracker.request"] == [500]


def test_a_job_queued_by_a_request_is_logged_with_its_id_and_the_requests(json_app, client, session, api_token,
                                                                         app, monkeypatch):
    _, buffer = json_app
    monkeypatch.setitem(app.config, "NOTIFY_ALLOW_LOOPBACK", True)
    monkeypatch.setitem(app.config, "NOTIFY_REQUIRE_HTTPS", False)
    headers = api_token("partner")
    endpoint_id = client.post("/api/v1/webhooks", json={"url": LOCAL_URL}, headers=headers).get_json()["id"]
    tested = client.post(f"/api/v1/webhooks/{endpoint_id}/test", headers={**headers, "X-Request-Id": "job-42"})
    assert tested.status_code == 201
    event = session.scalar(select(NotificationEvent).where(NotificationEvent.public_id == tested.get_json()["id"]))
    queued = [line for line in lines_of(buffer) if line.get("event_id") == event.id]
    assert len(queued) == 1 and queued[0]["request_id"] == "job-42" and queued[0]["logger"] == "tracker.jobs"
