"""Settings: one table of defaults, TRACKER_* variables read with their kind, and a clear stop on a mistake."""
from __future__ import annotations

import pytest

from tracker import create_app
from tracker.config import ConfigError


@pytest.fixture
def make_app(tmp_path, monkeypatch):
    for name in list(__import__("os").environ):
        if name.startswith("TRACKER_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("TRACKER_INSTANCE_PATH", str(tmp_path / "instance"))

    def build(**environment: str):
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        return create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'config.db'}"})

    return build


@pytest.mark.parametrize("word, value", [("off", False), ("no", False), ("0", False), ("False", False),
                                         ("on", True), ("yes", True), ("1", True), ("TRUE", True)])
def test_a_boolean_setting_reads_the_usual_words(make_app, word, value):
    assert make_app(TRACKER_NOTIFY_ALLOW_LOOPBACK=word).config["NOTIFY_ALLOW_LOOPBACK"] is value


def test_numbers_and_choices_are_read_with_their_kind(make_app):
    app = make_app(TRACKER_PER_PAGE="30", TRACKER_SEARCH_POLL_INTERVAL="0.5", TRACKER_NOTIFY_WORKER="external",
                   TRACKER_MAIL_HOST="")
    assert (app.config["PER_PAGE"], app.config["SEARCH_POLL_INTERVAL"]) == (30, 0.5)
    assert app.config["NOTIFY_WORKER"] == "external" and app.config["MAIL_HOST"] is None


@pytest.mark.parametrize("variable, value, message", [
    ("TRACKER_NOTIFY_ALLOW_LOOPBACK", "maybe", "TRACKER_NOTIFY_ALLOW_LOOPBACK='maybe' is not true or false"),
    ("TRACKER_PER_PAGE", "twenty", "TRACKER_PER_PAGE='twenty' is not a whole number"),
    ("TRACKER_NOTIFY_WORKER", "both", "NOTIFY_WORKER='both' (from TRACKER_NOTIFY_WORKER) must be one of: "
                                      "embedded, external"),
    ("TRACKER_NOTIFY_ALOW_LOOPBACK", "true", "TRACKER_NOTIFY_ALOW_LOOPBACK is not a setting of the tracker"),
])
def test_a_mistake_stops_the_app_naming_the_setting(make_app, variable, value, message):
    with pytest.raises(ConfigError) as stopped:
        make_app(**{variable: value})
    assert message in str(stopped.value.code)


def test_a_wrong_kind_given_in_code_is_refused_too(tmp_path):
    with pytest.raises(ConfigError, match="PAGE_CACHE_SIZE='many' .*must be a whole number"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "PAGE_CACHE_SIZE": "many"})
