"""A live tracker on 127.0.0.1 and Debian's Chromium driven by Playwright (no browser is ever downloaded)."""
from __future__ import annotations

import contextlib
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tracker import create_app

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@contextlib.contextmanager
def serving(app) -> Iterator[str]:
    """Serve ``app`` with a real HTTP server thread on 127.0.0.1; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
        app.extensions["tracker.db"].dispose()


@pytest.fixture(scope="session")
def live_server(app, tmp_path_factory, demo_search_index) -> Iterator[str]:
    """A second app over the suite's database (demo data committed), served by a real HTTP server thread,
    searching a copy of the demo index."""
    index = tmp_path_factory.mktemp("live") / "index"
    shutil.copytree(demo_search_index, index)
    # No release schedule: its thread would commit releases to the suite's database. Its search index reports its
    # position when it moves (while the browser tests commit), never merely to say it is alive: that write, once a
    # minute for the rest of the session, would take the lock between another test's read and its write.
    served = create_app({"DATABASE_URL": app.config["DATABASE_URL"], "SECRET_KEY": app.config["SECRET_KEY"],
                         "SEARCH_INDEX_PATH": str(index), "RELEASE_SCHEDULE": "off", "TODAY": app.config["TODAY"],
                         "SEARCH_REPLICA_HEARTBEAT_SECONDS": 1e9})
    server = make_server("127.0.0.1", 0, served, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
        served.extensions["tracker.db"].dispose()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    yield tab
    context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
