"""`flask ops check`: every setting unfit for production is named on a line of its own, and the exit status says so."""
from __future__ import annotations

import base64
import os
import random
from pathlib import Path

import pytest

from tracker import create_app
from tracker.services.production_check import check, filesystem_of, secret_key_problem

GOOD_KEY = "Vq3-rT8_zLw0pXk2Ny7bHc5Fd1Gs4Jm6Qa9Ue0Io3Rt"
GOOD = {"PUBLIC_URL": "https://tracker.example.org", "SECRET_KEY": GOOD_KEY, "DATABASE_URL": "sqlite:////srv/db/t.db",
        "MAIL_HOST": "smtp.example.org", "NOTIFY_ALLOW_LOOPBACK": False, "NOTIFY_REQUIRE_HTTPS": True,
        "SESSION_COOKIE_SECURE": True, "TRUSTED_PROXIES": 1}
LOCAL_MOUNTS = "/dev/sda1 / ext4 rw 0 0\nproc /proc proc rw 0 0\n"


def settings_named(**changes) -> set[str]:
    return {finding.setting for finding in check({**GOOD, **changes}, mounts=LOCAL_MOUNTS)}


def test_a_production_configuration_has_no_problem():
    assert check(GOOD, mounts=LOCAL_MOUNTS) == []


def test_no_public_url_is_a_problem():
    assert settings_named(PUBLIC_URL=None) == {"PUBLIC_URL"}


@pytest.mark.parametrize("key", [None, "", "short-but-random-Zq81", "change-me-to-something-long-and-random-please",
                                 "this-is-my-secret-key-for-the-tracker-site-2026", "dev-key-dev-key-dev-key-dev-key-x",
                                 "abababababababababababababababababababab", "0" * 64,
                                 "MyTrackerSecretForProduction-2026-Vientiane-01"])
def test_a_secret_key_that_is_missing_short_placeholder_or_predictable_is_a_problem(key):
    assert settings_named(SECRET_KEY=key) == {"SECRET_KEY"}


def test_random_secret_keys_pass():
    # One that a search for "test" inside any run of letters refused.
    assert secret_key_problem("M4Dvlx2pCmR5k_3a3ZJ7_7oteStCUlgWnkH6ZAONnaPbaw7-zUTsh0SB7zGwq5Tv") is None
    # Keys made as the docs say (token_urlsafe(48), token_hex(32)), from a seeded generator so that the run is
    # the same every time: about one random key in 100,000 spells a word and is refused, which is fine for a
    # warning but not for a test.
    rng = random.Random(2026)
    for _ in range(2000):
        assert secret_key_problem(base64.urlsafe_b64encode(rng.randbytes(48)).decode().rstrip("=")) is None
        assert secret_key_problem(rng.randbytes(32).hex()) is None


@pytest.mark.parametrize("kind", ["nfs", "nfs4", "cifs", "smb3", "fuse.sshfs", "9p", "ceph", "glusterfs"])
def test_a_sqlite_database_on_a_network_filesystem_is_a_problem(kind):
    mounts = LOCAL_MOUNTS + f"server:/export /srv/db {kind} rw 0 0\n"
    findings = check(GOOD, mounts=mounts)
    assert [finding.setting for finding in findings] == ["DATABASE_URL"]
    assert kind in findings[0].problem
    # The same file on a local disk, and PostgreSQL, are fine.
    assert check({**GOOD, "DATABASE_URL": "sqlite:////var/lib/t.db"}, mounts=mounts) == []
    assert check({**GOOD, "DATABASE_URL": "postgresql+psycopg://u@db/t"}, mounts=mounts) == []


def test_the_longest_mount_point_decides_the_filesystem():
    mounts = "/dev/sda1 / ext4 rw 0 0\nsrv:/x /srv nfs rw 0 0\n/dev/sdb1 /srv/local xfs rw 0 0\n"
    assert filesystem_of(Path("/srv/local/db/t.db"), mounts) == "xfs"
    assert filesystem_of(Path("/srv/other/t.db"), mounts) == "nfs"
    assert filesystem_of(Path("/srvx/t.db"), mounts) == "ext4"


def test_mail_not_configured_is_a_problem():
    assert settings_named(MAIL_HOST=None) == {"MAIL_HOST"}


def test_loopback_webhooks_allowed_is_a_problem():
    assert settings_named(NOTIFY_ALLOW_LOOPBACK=True) == {"NOTIFY_ALLOW_LOOPBACK"}


def test_webhooks_without_https_is_a_problem():
    assert settings_named(NOTIFY_REQUIRE_HTTPS=False) == {"NOTIFY_REQUIRE_HTTPS"}


def test_https_not_enforced_is_a_problem():
    assert settings_named(PUBLIC_URL="http://tracker.example.org", TRUSTED_PROXIES=0) == {"PUBLIC_URL"}
    assert settings_named(SESSION_COOKIE_SECURE=False) == {"SESSION_COOKIE_SECURE"}


def test_no_trusted_proxy_behind_https_is_a_problem():
    assert settings_named(TRUSTED_PROXIES=0) == {"TRUSTED_PROXIES"}


@pytest.fixture
def clean_environment(tmp_path, monkeypatch):
    for name in list(os.environ):
        if name.startswith("TRACKER_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("TRACKER_INSTANCE_PATH", str(tmp_path / "instance"))
    return monkeypatch


def test_the_command_lists_each_problem_on_a_line_and_exits_1(tmp_path, clean_environment):
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'check.db'}", "SECRET_KEY": "dev"})
    result = app.test_cli_runner().invoke(args=["ops", "check"])
    assert result.exit_code == 1
    problems = [line for line in result.output.splitlines() if line.startswith("PROBLEM")]
    named = {line.split()[1].rstrip(":") for line in problems}
    assert named == {"PUBLIC_URL", "SECRET_KEY", "MAIL_HOST", "SESSION_COOKIE_SECURE"}


def test_the_command_exits_0_on_a_production_configuration(tmp_path, clean_environment):
    local = tmp_path / "check.db"
    if filesystem_of(local.resolve(), Path("/proc/mounts").read_text()) in ("nfs", "nfs4", "cifs", "9p"):
        pytest.skip("the temporary folder is on a network filesystem")
    app = create_app({**GOOD, "DATABASE_URL": f"sqlite:///{local}"})
    result = app.test_cli_runner().invoke(args=["ops", "check"])
    assert result.exit_code == 0, result.output
    assert "No problem found" in result.output


@pytest.mark.parametrize("token", ["metrics-token", "change-me-metrics-token-for-prometheus-2026", "0" * 48])
def test_a_weak_metrics_token_is_a_problem(token):
    assert settings_named(METRICS_TOKEN=token) == {"METRICS_TOKEN"}


def test_a_random_metrics_token_or_none_passes():
    token = base64.urlsafe_b64encode(random.Random(48).randbytes(48)).decode().rstrip("=")
    assert settings_named(METRICS_TOKEN=token) == set()
    assert settings_named(METRICS_TOKEN=None, METRICS_ALLOW="127.0.0.1,::1,10.0.0.0/8") == set()


@pytest.mark.parametrize("allow", ["0.0.0.0/0", "127.0.0.1, ::/0"])
def test_metrics_open_to_every_address_is_a_problem(allow):
    assert settings_named(METRICS_ALLOW=allow) == {"METRICS_ALLOW"}
