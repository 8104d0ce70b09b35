"""Links sent out use TRACKER_PUBLIC_URL; a production process says at start when it is not set."""
from __future__ import annotations

import pytest

from tracker.notifications.payloads import public_url_warning


@pytest.mark.parametrize("public_url, testing, warned", [
    (None, False, True),
    ("https://tracker.example.org", False, False),
    (None, True, False),
])
def test_the_worker_warns_at_start_in_production_without_a_public_address(app, monkeypatch, public_url, testing,
                                                                          warned):
    monkeypatch.setitem(app.config, "PUBLIC_URL", public_url)
    monkeypatch.setattr(app, "testing", testing)
    result = app.test_cli_runner().invoke(args=["notify", "work", "--once"])
    assert result.exit_code == 0, result.output
    assert ("TRACKER_PUBLIC_URL is not set" in result.output) is warned, result.output
    if warned:
        assert "http://localhost:5000" in result.output


def test_a_development_server_is_not_warned(app, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_URL", None)
    monkeypatch.setattr(app, "testing", False)
    assert public_url_warning(app)
    monkeypatch.setattr(app, "debug", True)
    assert public_url_warning(app) is None
