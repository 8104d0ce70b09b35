"""Consistent online backups of the database into a folder with a manifest, and restores into an empty instance.

A backup folder holds one database file (``tracker.sqlite3``, copied with SQLite's backup API, or
``tracker.pgdump``, written by ``pg_dump --format=custom``) and ``manifest.json``: when it was taken, by
which version, of which kind of database at which schema revision, the number of rows of every table at
the moment of the copy, and the size and SHA-256 of every file. The counts are read in the same snapshot
as the copy (the copy itself on SQLite; an exported snapshot that pg_dump then uses on PostgreSQL), so a
restore can prove it holds exactly what was backed up. The search index is not backed up: it is rebuilt
from the database.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, cast

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine, make_url

from tracker import migrate

MANIFEST = "manifest.json"
SQLITE_FILE = "tracker.sqlite3"
POSTGRESQL_FILE = "tracker.pgdump"
MANIFEST_FORMAT = 1
Progress = Callable[[str], None]


class BackupError(Exception):
    """A backup or restore that cannot be done, with the sentence that says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class RestoreReport:
    """What a restore did."""

    kind: str
    tables: int
    rows: int
    revision_backed_up: str | None
    revision_now: str | None
    created_at: str
    upgraded: bool = False
    notes: list[str] = field(default_factory=list)


def tracker_version() -> str:
    try:
        return metadata.version("ev-policy-tracker")
    except metadata.PackageNotFoundError:
        return "unknown"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def _quiet(_message: str) -> None:
    pass


def _kind(engine: Engine) -> str:
    name = engine.dialect.name
    if name not in ("sqlite", "postgresql"):
        raise BackupError(f"Backups of {name} databases are not supported (only SQLite and PostgreSQL).")
    return name


def _sqlite_path(engine: Engine) -> Path:
    database = engine.url.database
    if not database or database == ":memory:":
        raise BackupError("The database is in memory: there is no file to back up or restore into.")
    return Path(database)


def _prepare_target(target: Path) -> None:
    if target.exists():
        if not target.is_dir():
            raise BackupError(f"{target} exists and is not a folder: give a new or empty folder.")
        if any(target.iterdir()):
            raise BackupError(f"{target} is not empty: give a new or empty folder (a backup never overwrites one).")
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise BackupError(f"{target} cannot be created ({error.strerror or error}).") from error


# -- backing up ----------------------------------------------------------------------------------------

def backup(engine: Engine, target: Path, *, progress: Progress = _quiet) -> dict[str, Any]:
    """Back the database behind ``engine`` up into the new or empty folder ``target`` while it stays in use;
    returns the manifest written there.

    Raises:
        BackupError: the folder is not empty or cannot be written, pg_dump is missing or failed.
    """
    kind = _kind(engine)
    _prepare_target(target)
    created_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    if kind == "sqlite":
        name = SQLITE_FILE
        revision, tables = _backup_sqlite(_sqlite_path(engine), target / name, progress)
    else:
        name = POSTGRESQL_FILE
        revision, tables = _backup_postgresql(engine, target / name, progress)
    progress(f"Computing the SHA-256 of {name} ...")
    path = target / name
    manifest = {
        "format": MANIFEST_FORMAT,
        "created_at": created_at,
        "tracker_version": tracker_version(),
        "database": kind,
        "schema_revision": revision,
        "tables": dict(sorted(tables.items())),
        "files": [{"name": name, "size": path.stat().st_size, "sha256": _sha256(path)}],
    }
    temporary = target / f"{MANIFEST}.tmp"
    temporary.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    os.replace(temporary, target / MANIFEST)
    return manifest


def _sqlite_counts(connection: sqlite3.Connection) -> tuple[str | None, dict[str, int]]:
    names = [row[0] for row in connection.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    counts = {name: connection.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in names}
    revision = None
    if "alembic_version" in counts:
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        revision = row[0] if row else None
    return revision, counts


def _backup_sqlite(source_path: Path, copy_path: Path, progress: Progress) -> tuple[str | None, dict[str, int]]:
    if not source_path.is_file():
        raise BackupError(f"The database file {source_path} does not exist.")
    progress(f"Copying {source_path} ({source_path.stat().st_size / 1048576:.1f} MiB) with SQLite's backup API ...")
    source = sqlite3.connect(source_path, timeout=15)
    copy = sqlite3.connect(copy_path)
    try:
        # In one step: a copy made in several steps starts again whenever another connection writes, which
        # under steady writes never ends. One step reads one snapshot (WAL lets writers go on meanwhile).
        source.backup(copy, pages=-1)
        # One self-contained file, without a write-ahead log beside it.
        copy.execute("PRAGMA journal_mode=DELETE")
        progress("Counting the rows of every table in the copy ...")
        return _sqlite_counts(copy)
    finally:
        copy.close()
        source.close()


def _find_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} was not found on PATH; install the PostgreSQL client tools (Debian and "
                          f"Ubuntu: apt-get install postgresql-client, of the server's major version or newer).")
    return found


def _libpq_environment(engine: Engine) -> dict[str, str]:
    """The connection settings as libpq's environment variables: the password never appears on a command
    line (which every user of the machine can read in the process list)."""
    url = make_url(engine.url.render_as_string(hide_password=False))
    environment = dict(os.environ)
    for variable, value in (("PGHOST", url.host), ("PGPORT", url.port), ("PGUSER", url.username),
                            ("PGPASSWORD", url.password), ("PGDATABASE", url.database)):
        if value is not None:
            environment[variable] = str(value)
    for option, variable in (("sslmode", "PGSSLMODE"), ("sslrootcert", "PGSSLROOTCERT"),
                             ("host", "PGHOST"), ("port", "PGPORT")):
        option_value = url.query.get(option)
        if isinstance(option_value, str):
            environment[variable] = option_value
    return environment


def _table_counts(connection: Connection) -> tuple[str | None, dict[str, int]]:
    names = sorted(inspect(connection).get_table_names())
    counts = {name: int(connection.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one()) for name in names}
    revision = None
    if "alembic_version" in counts:
        revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return revision, counts


def _run(argv: list[str], environment: dict[str, str], what: str) -> None:
    try:
        finished = subprocess.run(argv, env=environment, stdin=subprocess.DEVNULL, capture_output=True,
                                  text=True, check=False)
    except OSError as error:
        raise BackupError(f"{argv[0]} could not be started ({error}).") from error
    if finished.returncode != 0:
        detail = (finished.stderr or finished.stdout).strip()[-2000:]
        raise BackupError(f"{what} failed (exit status {finished.returncode}): {detail}")


def _backup_postgresql(engine: Engine, copy_path: Path, progress: Progress) -> tuple[str | None, dict[str, int]]:
    pg_dump = _find_tool("pg_dump")
    with engine.connect() as connection:
        connection = connection.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin():
            # pg_dump reads the snapshot this transaction exported, so the counts read here are those of the dump.
            snapshot = connection.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            progress("Counting the rows of every table ...")
            revision, counts = _table_counts(connection)
            progress(f"Running pg_dump into {copy_path} ...")
            _run([pg_dump, "--format=custom", f"--snapshot={snapshot}", f"--file={copy_path}"],
                 _libpq_environment(engine), "pg_dump")
    return revision, counts


# -- verifying and restoring ---------------------------------------------------------------------------

def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of the backup in ``folder``, after checking the size and SHA-256 of every file it names.

    Raises:
        BackupError: no manifest, an unreadable one, or a file missing, truncated or changed.
    """
    path = folder / MANIFEST
    if not folder.is_dir():
        raise BackupError(f"{folder} is not a folder holding a backup.")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(f"{folder} holds no {MANIFEST}: it is not a backup made by `flask ops backup`.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BackupError(f"{path} cannot be read ({error}): the backup is damaged.") from error
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, list) or not files or not isinstance(manifest.get("tables"), dict) \
            or manifest.get("database") not in ("sqlite", "postgresql"):
        raise BackupError(f"{path} is not a complete manifest: the backup is damaged.")
    for entry in files:
        name = str(entry.get("name", ""))
        file = folder / name
        if not name or "/" in name or not file.is_file():
            raise BackupError(f"The backup is damaged: {name or 'a file'} named in the manifest is missing.")
        size = file.stat().st_size
        if size != entry.get("size"):
            raise BackupError(f"The backup is damaged: {name} is {size} bytes, the manifest says {entry.get('size')}.")
        actual = _sha256(file)
        if actual != entry.get("sha256"):
            raise BackupError(f"The backup is damaged: the SHA-256 of {name} is {actual}, the manifest says "
                              f"{entry.get('sha256')}. Restore another backup.")
    return cast(dict[str, Any], manifest)


def _existing(engine: Engine) -> tuple[list[str], str | None]:
    """The tables of the database and its revision (None when it has none)."""
    with engine.connect() as connection:
        names = sorted(inspect(connection).get_table_names())
        revision = None
        if "alembic_version" in names:
            revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return names, revision


def restore(engine: Engine, folder: Path, *, progress: Progress = _quiet) -> RestoreReport:
    """Restore the backup in ``folder`` into the empty database behind ``engine``, prove every table holds the
    rows the manifest counted, and upgrade the schema when this code is newer. The caller rebuilds the
    search index.

    Raises:
        BackupError: the backup is damaged or of another kind of database, the database is not empty, the
            restore tool failed, or the restored rows differ from the manifest.
    """
    kind = _kind(engine)
    progress(f"Verifying the backup in {folder} ...")
    manifest = read_manifest(folder)
    if manifest["database"] != kind:
        raise BackupError(f"The backup is of a {manifest['database']} database; this instance uses {kind}. "
                          f"Restore it into a {manifest['database']} database.")
    names, revision = _existing(engine)
    if revision is not None or [name for name in names if name != "alembic_version"]:
        raise BackupError(f"The database of this instance is not empty ({len(names)} tables, revision "
                          f"{revision or 'none'}): a backup is restored only into an empty database. Create a "
                          f"new one and point TRACKER_DATABASE_URL at it.")
    file = folder / manifest["files"][0]["name"]
    if kind == "sqlite":
        _restore_sqlite(engine, file, progress)
    else:
        _restore_postgresql(engine, file, progress)
    progress("Comparing the rows of every table with the manifest ...")
    with engine.connect() as connection:
        restored_revision, counts = _table_counts(connection)
    expected = {name: int(count) for name, count in manifest["tables"].items()}
    differing = [f"{name}: {counts.get(name, 'missing')} rows, backed up {count}"
                 for name, count in sorted(expected.items()) if counts.get(name) != count]
    if differing:
        raise BackupError("The restored database differs from the backup's manifest: " + "; ".join(differing[:10]))
    report = RestoreReport(kind=kind, tables=len(expected), rows=sum(expected.values()),
                           revision_backed_up=restored_revision, revision_now=restored_revision,
                           created_at=str(manifest.get("created_at")))
    heads = migrate.heads()
    if restored_revision not in heads:
        progress(f"Upgrading the schema from revision {restored_revision} ...")
        migrate.upgrade(engine)
        report.upgraded = True
        report.revision_now = migrate.current_revision(engine)
    return report


def _restore_sqlite(engine: Engine, file: Path, progress: Progress) -> None:
    target = _sqlite_path(engine)
    # No pooled connection may keep the empty database's pages while they are replaced.
    engine.dispose()
    progress(f"Copying {file.name} into {target} with SQLite's backup API ...")
    source = sqlite3.connect(file)
    destination = sqlite3.connect(target, timeout=15)
    try:
        source.backup(destination, pages=-1)
        destination.execute("PRAGMA journal_mode=WAL")
    finally:
        destination.close()
        source.close()
    engine.dispose()


def _restore_postgresql(engine: Engine, file: Path, progress: Progress) -> None:
    pg_restore = _find_tool("pg_restore")
    environment = _libpq_environment(engine)
    engine.dispose()
    progress(f"Running pg_restore of {file.name} ...")
    _run([pg_restore, "--no-owner", "--exit-on-error", "--single-transaction",
          f"--dbname={environment.get('PGDATABASE', '')}", str(file)], environment, "pg_restore")
