"""A text extraction worker killed with SIGKILL in the middle of a scanned Lao decree: its parse dies with it,
the document is claimed again when the lease runs out, and the passages are written once, neither lost nor
doubled; the OCR'd text is then found by passage search (at least 90 % of the decree's known Lao words)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, select

from tests.documents import fixtures
from tests.factories import policy_record
from tracker.db import unit_of_work
from tracker.documents.storage import received
from tracker.models import Document, DocumentPassage, User
from tracker.search.indexer import Indexer
from tracker.services import accounts
from tracker.services import documents as document_service
from tracker.services.dataset import load_dataset

pytestmark = pytest.mark.slow

LEASE_SECONDS = 4


def _environment(app, tmp_path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "TRACKER_DATABASE_URL": app.config["DATABASE_URL"], "TRACKER_SECRET_KEY": app.config["SECRET_KEY"],
        "TRACKER_INSTANCE_PATH": str(tmp_path / "worker-instance"),
        "TRACKER_SEARCH_INDEX_PATH": str(tmp_path / "worker-index"), "TRACKER_SEARCH_INDEXER": "external",
        "TRACKER_NOTIFY_WORKER": "external", "TRACKER_DOCUMENT_WORKER": "external",
        "TRACKER_DOCUMENT_LEASE_SECONDS": str(LEASE_SECONDS),
    })
    return env


def _start(env, log) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "tracker", "documents", "work",
                             "--interval", "0.2"], env=env, stdout=log, stderr=subprocess.STDOUT)


def _status(app, document_id: int) -> tuple[str, int, int]:
    with app.extensions["tracker.db"].session() as session:
        document = session.get(Document, document_id)
        count = session.scalar(select(func.count()).select_from(DocumentPassage)
                               .where(DocumentPassage.document_id == document_id))
        distinct = session.scalar(select(func.count(func.distinct(DocumentPassage.seq)))
                                  .where(DocumentPassage.document_id == document_id))
        return document.status, count, distinct


def _parsing_children() -> list[str]:
    found = subprocess.run(["pgrep", "-f", "tracker[.]documents[.]sandbox .* extract "], capture_output=True,
                           text=True)
    return found.stdout.split()


def test_a_killed_worker_loses_and_doubles_nothing(committed_app, browser, tmp_path):
    app = committed_app
    scanned = fixtures.scanned_lao_pdf(tmp_path, browser)
    database = app.extensions["tracker.db"]
    with unit_of_work(database.session(write=True)) as session:
        load_dataset(session, {"policies": [policy_record("scanned-decree", country="LA", instrument="decree")]})
        accounts.create_user(session, "editor@example.org", "a long enough password", "editor")
    with unit_of_work(database.session(write=True)) as session:
        editor = session.scalars(select(User).where(User.email == "editor@example.org")).one()
        facts = document_service.check_facts({"role": "original", "language": "lo"})
        with scanned.open("rb") as stream, received(stream, 25 * 1024 * 1024) as upload:
            document = document_service.attach(session, "scanned-decree", upload, scanned.name, facts, editor,
                                               document_service.DocumentSettings.from_config(app.config))
        document_id = document.id

    env = _environment(app, tmp_path)
    log = (tmp_path / "worker.log").open("ab")
    worker = _start(env, log)
    try:
        deadline = time.monotonic() + 60
        while _status(app, document_id)[0] != "extracting":
            assert time.monotonic() < deadline, "the worker never claimed the document"
            time.sleep(0.1)
        time.sleep(1.5)  # into the OCR of the first pages
        assert _parsing_children(), "the parse should be running"
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    # The parse died with its worker; nothing was written.
    deadline = time.monotonic() + 10
    while _parsing_children():
        assert time.monotonic() < deadline, "a parse outlived its killed worker"
        time.sleep(0.1)
    assert _status(app, document_id) == ("extracting", 0, 0)

    restarted = _start(env, log)
    try:
        deadline = time.monotonic() + 180
        while _status(app, document_id)[0] not in ("done", "partial", "failed"):
            assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text(errors="replace")[-2000:]
            time.sleep(0.3)
    finally:
        restarted.send_signal(signal.SIGTERM)
        restarted.wait(timeout=30)
        log.close()
    status, count, distinct = _status(app, document_id)
    assert status == "done"
    assert count == distinct > 0
    with database.session() as session:
        document = session.get(Document, document_id)
        assert document.attempts == 2 and document.pages_ocr == document.pages == len(fixtures.LAO_PAGES)
        methods = set(session.scalars(select(DocumentPassage.method).where(DocumentPassage.document_id == document_id)))
        assert methods == {"ocr"}

    # The OCR'd decree, found word by word by passage search.
    from tracker.search.runtime import runtime_of

    runtime = runtime_of(app)
    for indexer in runtime.indexers:
        indexer.build(runtime.sessions(), runtime.sessions)
    assert isinstance(runtime.passage_indexer, Indexer)
    found = []
    with app.test_request_context("/"), database.session() as session:
        from tracker.services.search import search_passages

        for word in fixtures.LAO_KNOWN_WORDS:
            if search_passages(session, word, documents=(document_id,)).total:
                found.append(word)
    share = len(found) / len(fixtures.LAO_KNOWN_WORDS)
    assert share >= 0.9, sorted(set(fixtures.LAO_KNOWN_WORDS) - set(found))
