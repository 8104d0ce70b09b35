"""The deployment files under deploy/ stay true to the app: the settings template names every setting with its
default, every systemd unit runs a command the app has, and nginx lets through every upload the app accepts."""
from __future__ import annotations

import importlib
import os
import re
import shlex
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from gunicorn.config import Config as GunicornConfig

from tracker import create_app
from tracker.config import ENVIRONMENT_ONLY, SETTINGS
from tracker.views import documents as document_views
from tracker.views import imports as import_views
from tracker.views.api import uploads as api_uploads

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
TEMPLATE = DEPLOY / "tracker.env.example"
SYSTEMD = DEPLOY / "systemd"
NGINX = DEPLOY / "nginx" / "ev-tracker.conf"
ENVIRONMENT_FILE = "/etc/ev-tracker/tracker.env"
ASSIGNMENT = re.compile(r"^(?P<commented>#)?(?P<name>[A-Z][A-Z0-9_]*)=(?P<value>.*)$")
FLASK = "/opt/ev-tracker/.venv/bin/flask"
GUNICORN = "/opt/ev-tracker/.venv/bin/gunicorn"


def template_lines() -> list[tuple[str, str, bool]]:
    """(name, value, commented) for every assignment in the template, quotes removed as systemd does."""
    found = []
    for line in TEMPLATE.read_text(encoding="utf-8").splitlines():
        match = ASSIGNMENT.match(line)
        if match:
            value = match["value"]
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            found.append((match["name"], value, bool(match["commented"])))
    return found


def unit_files() -> dict[str, dict[str, list[str]]]:
    """Every unit file under deploy/systemd: its keys (section.Key) with all their values, in order."""
    units = {}
    for path in sorted(SYSTEMD.iterdir()):
        keys: dict[str, list[str]] = defaultdict(list)
        section = ""
        for line in path.read_text(encoding="utf-8").splitlines():
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                continue
            if stripped.startswith("["):
                section = stripped.strip("[]")
                continue
            key, _, value = stripped.partition("=")
            keys[f"{section}.{key}"].append(value)
        units[path.name] = dict(keys)
    return units


def unit_environment(unit: dict[str, list[str]]) -> dict[str, str]:
    """The variables a unit sets itself with Environment= (the environment file may override them)."""
    names: dict[str, str] = {}
    for line in unit.get("Service.Environment", []):
        for word in shlex.split(line):
            name, _, value = word.partition("=")
            names[name] = value
    return names


def commands(unit: dict[str, list[str]]) -> list[list[str]]:
    return [shlex.split(line) for key in ("Service.ExecStartPre", "Service.ExecStart") for line in unit.get(key, [])]


@pytest.fixture
def clean_environment(tmp_path, monkeypatch):
    """No TRACKER_* variable of the machine running the tests leaks into the app built here."""
    for name in list(os.environ):
        if name.startswith("TRACKER_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("TRACKER_INSTANCE_PATH", str(tmp_path / "instance"))
    return monkeypatch


@pytest.fixture
def cli_app(tmp_path, clean_environment):
    return create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'deploy.db'}", "SECRET_KEY": "deploy-test"})


def test_the_template_names_every_setting_exactly_once():
    names = [name for name, _, _ in template_lines() if name.startswith("TRACKER_")]
    expected = {f"TRACKER_{name}" for name in SETTINGS} | {f"TRACKER_{name}" for name in ENVIRONMENT_ONLY}
    assert sorted(set(names)) == sorted(expected)
    assert [name for name in names if names.count(name) > 1] == []


def test_every_value_shown_commented_out_is_the_apps_default(tmp_path, clean_environment):
    commented = {name: value for name, value, is_commented in template_lines()
                 if is_commented and name.startswith("TRACKER_")}
    for name, value in commented.items():
        clean_environment.setenv(name, value)
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'defaults.db'}"})
    wrong = {}
    for variable, value in commented.items():
        setting = SETTINGS[variable.removeprefix("TRACKER_")]
        if setting.default is None:
            # Paths resolved from the instance folder: the template leaves them empty, as unset.
            if value != "":
                wrong[variable] = value
        elif app.config[variable.removeprefix("TRACKER_")] != setting.default:
            wrong[variable] = value
    assert wrong == {}


def test_the_template_as_written_starts_the_app_behind_one_proxy_over_https(tmp_path, clean_environment):
    for name, value, is_commented in template_lines():
        if name.startswith("TRACKER_") and not is_commented and name != "TRACKER_INSTANCE_PATH":
            clean_environment.setenv(name, value)
    app = create_app()
    assert app.config["TRUSTED_PROXIES"] == 1
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["PUBLIC_URL"].startswith("https://")
    assert app.config["DATABASE_URL"] == f"sqlite:///{tmp_path / 'instance' / 'tracker.db'}"


def test_the_secret_key_is_left_blank_with_how_to_make_one():
    values = {name: value for name, value, _ in template_lines()}
    assert values["TRACKER_SECRET_KEY"] == "" and values["TRACKER_MAIL_PASSWORD"] == ""
    assert "secrets.token_urlsafe(48)" in TEMPLATE.read_text(encoding="utf-8")


def test_every_flask_command_of_the_units_is_a_command_of_the_app(cli_app):
    runner = cli_app.test_cli_runner()
    seen = set()
    for name, unit in unit_files().items():
        for argv in commands(unit):
            if argv[0] != FLASK:
                continue
            assert argv[1:3] == ["--app", "tracker"], name
            group_name, command_name, *options = argv[3:]
            result = runner.invoke(args=[group_name, command_name, *options, "--help"])
            assert result.exit_code == 0, f"{name}: {' '.join(argv[3:])}: {result.output}"
            assert "Usage:" in result.output
            # The options are parsed as they will be when systemd runs the command (required ones, values).
            with cli_app.app_context():
                group = cli_app.cli.get_command(None, group_name)  # type: ignore[arg-type]
                assert group is not None, f"{name}: no command group {group_name!r}"
                command = group.get_command(None, command_name)  # type: ignore[attr-defined]
                assert command is not None, f"{name}: no command {group_name} {command_name!r}"
                command.make_context(command_name, list(options))
            seen.add((group_name, command_name, *options))
    assert {("notify", "work"), ("search", "follow"), ("documents", "work"), ("search", "ensure"),
            ("notify", "digest", "--daily"), ("notify", "digest", "--weekly"), ("notify", "sunset"),
            ("data", "release", "--if-changed"), ("ops", "prune")} <= seen


def test_a_misspelt_command_in_a_unit_would_be_caught(cli_app):
    result = cli_app.test_cli_runner().invoke(args=["notify", "digest", "--monthly", "--help"])
    assert result.exit_code != 0 and "No such option" in result.output


def test_the_web_unit_runs_gunicorn_as_script_server_does():
    unit = unit_files()["ev-tracker-web.service"]
    (argv,) = [argv for argv in commands(unit) if argv[0] == GUNICORN]
    environment = unit_environment(unit)
    # Every ${VAR} has a value even when the environment file leaves it out.
    used = {match for word in argv for match in re.findall(r"\$\{(\w+)\}", word)}
    assert used and used <= set(environment), used - set(environment)
    words = [re.sub(r"\$\{(\w+)\}", lambda match: environment[match[1]], word) for word in argv[1:]]
    parsed = GunicornConfig().parser().parse_args(words)
    assert parsed.config == "python:tracker.gunicorn_hooks"
    assert hasattr(importlib.import_module("tracker.gunicorn_hooks"), "post_worker_init")
    # Workers, threads and limits come from the config module alone: an option here would override it.
    assert parsed.args == ["tracker:create_app()"] and parsed.workers is None and parsed.threads is None
    assert parsed.worker_class is None and parsed.timeout is None
    server = (ROOT / "script" / "server").read_text(encoding="utf-8")
    assert "--config python:tracker.gunicorn_hooks" in server and "--workers" not in server
    assert unit["Service.Type"] == ["notify"]


def test_the_gunicorn_config_module_reads_workers_and_threads_from_the_settings(monkeypatch):
    """TRACKER_WORKERS and TRACKER_THREADS (settings of the template) set the web server's processes and threads,
    with the same defaults as the app's settings."""
    import tracker.gunicorn_hooks as hooks

    try:
        monkeypatch.setenv("TRACKER_WORKERS", "3")
        monkeypatch.setenv("TRACKER_THREADS", "12")
        importlib.reload(hooks)
        config = GunicornConfig()
        for name in ("worker_class", "workers", "threads", "timeout", "keepalive", "limit_request_line"):
            config.set(name, getattr(hooks, name))
        assert (config.worker_class_str, config.workers, config.threads) == ("gthread", 3, 12)
        monkeypatch.delenv("TRACKER_WORKERS")
        monkeypatch.delenv("TRACKER_THREADS")
        importlib.reload(hooks)
        assert (hooks.workers, hooks.threads) == (SETTINGS["WORKERS"].default, SETTINGS["THREADS"].default)
        monkeypatch.setenv("TRACKER_THREADS", "many")
        with pytest.raises(SystemExit, match="TRACKER_THREADS='many' is not a whole number"):
            importlib.reload(hooks)
    finally:
        monkeypatch.undo()
        importlib.reload(hooks)


def test_every_service_reads_the_settings_file_and_is_hardened():
    instance = dict((name, value) for name, value, _ in template_lines())["TRACKER_INSTANCE_PATH"]
    for name, unit in unit_files().items():
        if not name.endswith(".service"):
            continue
        assert unit["Service.EnvironmentFile"] == [ENVIRONMENT_FILE], name
        assert unit["Service.User"] == ["ev-tracker"], name
        for key, value in (("NoNewPrivileges", "true"), ("ProtectSystem", "strict"), ("PrivateTmp", "true")):
            assert unit.get(f"Service.{key}") == [value], f"{name}: {key}"
        assert instance in unit["Service.ReadWritePaths"][0].split(), name
        if unit["Service.Type"] != ["oneshot"]:
            assert unit["Service.Restart"] == ["on-failure"], name


def test_every_timer_starts_a_oneshot_service_at_the_apps_default_hour():
    units = unit_files()
    timers = {name.removesuffix(".timer") for name in units if name.endswith(".timer")}
    oneshots = {name.removesuffix(".service") for name, unit in units.items()
                if name.endswith(".service") and unit["Service.Type"] == ["oneshot"]}
    assert timers == oneshots
    calendar = {name: units[f"{name}.timer"]["Timer.OnCalendar"][0] for name in timers}
    hour = f"{SETTINGS['NOTIFY_DIGEST_HOUR'].default:02d}:00:00 UTC"
    assert calendar["ev-tracker-digest-daily"] == f"*-*-* {hour}"
    weekday = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    assert calendar["ev-tracker-digest-weekly"] == f"{weekday[SETTINGS['NOTIFY_DIGEST_WEEKDAY'].default]} *-*-* {hour}"
    assert calendar["ev-tracker-release"] == (f"{weekday[SETTINGS['RELEASE_WEEKDAY'].default]} *-*-* "
                                              f"{SETTINGS['RELEASE_HOUR'].default:02d}:00:00 UTC")


def _bytes(size: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([kKmMgG]?)", size).groups()  # type: ignore[union-attr]
    return int(number) * {"": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}[unit.lower()]


def test_nginx_lets_through_every_upload_the_app_accepts():
    text = NGINX.read_text(encoding="utf-8")
    sizes = [_bytes(size) for size in re.findall(r"^\s*client_max_body_size\s+(\S+);", text, re.MULTILINE)]
    shown = {name: value for name, value, _ in template_lines()}
    largest_file = max(SETTINGS["IMPORT_MAX_BYTES"].default, SETTINGS["DOCUMENT_MAX_BYTES"].default,
                       int(shown["TRACKER_IMPORT_MAX_BYTES"]), int(shown["TRACKER_DOCUMENT_MAX_BYTES"]))
    overhead = max(import_views.FORM_OVERHEAD, document_views.FORM_OVERHEAD, api_uploads.FORM_OVERHEAD)
    # Above the app's own limit, so that the app, not nginx, answers a file too large, in the reader's language.
    assert sizes and min(sizes) >= largest_file + overhead


def test_nginx_forwards_to_the_address_in_the_template_with_the_headers_the_app_trusts():
    text = NGINX.read_text(encoding="utf-8")
    shown = {name: value for name, value, _ in template_lines()}
    assert re.search(rf"^\s*server\s+{re.escape(shown['HOST'])}:{shown['PORT']};", text, re.MULTILINE)
    for header in ("X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host"):
        assert re.search(rf"^\s*proxy_set_header\s+{header}\s", text, re.MULTILINE), header
    assert shown["TRACKER_TRUSTED_PROXIES"] == "1"
    assert re.search(r"^\s*return 301 https://\$host\$request_uri;", text, re.MULTILINE)
    assert "Strict-Transport-Security" in text and re.search(r"^\s*proxy_buffering on;", text, re.MULTILINE)


def test_the_command_wrapper_runs_commands_as_the_services_do():
    wrapper = (DEPLOY / "bin" / "ev-tracker-flask").read_text(encoding="utf-8")
    units = unit_files()
    web = units["ev-tracker-web.service"]
    assert f'EV_TRACKER_USER:={web["Service.User"][0]}' in wrapper
    assert f'EV_TRACKER_ENV:={web["Service.EnvironmentFile"][0]}' in wrapper
    assert f'EV_TRACKER_HOME:={web["Service.WorkingDirectory"][0]}' in wrapper
    assert 'exec .venv/bin/flask --app tracker "$@"' in wrapper and FLASK.startswith(web["Service.WorkingDirectory"][0])
    assert os.access(DEPLOY / "bin" / "ev-tracker-flask", os.X_OK)


def test_the_backup_unit_runs_the_backup_script_which_keeps_the_newest_backups(tmp_path, clean_environment):
    unit = unit_files()["ev-tracker-backup.service"]
    (argv,) = [argv for argv in commands(unit) if not argv[0].startswith("+")]
    assert argv[0] == "/opt/ev-tracker/deploy/bin/ev-tracker-backup" and argv[1] == "/var/backups/ev-tracker"
    assert argv[1] in unit["Service.ReadWritePaths"][0].replace("-/", "/").split()
    script = DEPLOY / "bin" / "ev-tracker-backup"
    assert os.access(script, os.X_OK)
    # Run for real, with this checkout's flask, over a database of its own.
    database = tmp_path / "backed-up.db"
    clean_environment.setenv("TRACKER_DATABASE_URL", f"sqlite:///{database}")
    flask = Path(sys.executable).with_name("flask")
    assert subprocess.run([str(flask), "--app", "tracker", "db", "upgrade"], cwd=ROOT, capture_output=True,
                          check=False).returncode == 0
    backups = tmp_path / "backups"
    backups.mkdir()
    for old in ("20200101T000000Z", "20200102T000000Z", "20200103T000000Z"):
        (backups / old).mkdir()
        (backups / old / "manifest.json").write_text("{}")
    (backups / "20190101T000000Z").mkdir()  # a backup that failed halfway (no manifest): left alone
    (backups / "kept-by-hand").mkdir()
    finished = subprocess.run([str(script), str(backups), "2"], cwd=ROOT, capture_output=True, text=True,
                              env={**os.environ, "EV_TRACKER_FLASK": str(flask)}, check=False)
    assert finished.returncode == 0, finished.stderr
    names = sorted(path.name for path in backups.iterdir())
    new = [name for name in names if name.startswith("20") and name > "2021"]
    assert len(new) == 1 and (backups / new[0] / "manifest.json").is_file()
    assert names == sorted(["20190101T000000Z", "20200103T000000Z", "kept-by-hand", *new])
    assert "Removed the old backup" in finished.stdout
    refused = subprocess.run([str(script), str(backups), "none"], capture_output=True, text=True, check=False)
    assert refused.returncode == 2 and "KEEP must be a whole number" in refused.stderr


def test_the_web_server_gives_its_workers_an_empty_metrics_directory_of_their_own():
    unit = unit_files()["ev-tracker-web.service"]
    (runtime,) = unit["Service.RuntimeDirectory"]
    # systemd creates /run/NAME empty at each start and removes it at stop: no counts of an earlier run.
    assert unit_environment(unit)["PROMETHEUS_MULTIPROC_DIR"] == f"/run/{runtime}"
    server = (ROOT / "script" / "server").read_text(encoding="utf-8")
    assert re.search(r"^export PROMETHEUS_MULTIPROC_DIR=.*instance\}/metrics\}$", server, re.MULTILINE)
    assert "-name '*.db' -delete" in server
    assert server.index("PROMETHEUS_MULTIPROC_DIR") < server.index("exec .venv/bin/gunicorn")
    assert hasattr(importlib.import_module("tracker.gunicorn_hooks"), "child_exit")


def test_nginx_never_serves_the_metrics_to_the_public():
    # Every request nginx forwards comes from 127.0.0.1, which METRICS_ALLOW lets in by default.
    site = NGINX.read_text()
    block = re.search(r"location = /metrics \{(.*?)\}", site, re.S)
    assert block is not None and "return 404;" in block.group(1)
