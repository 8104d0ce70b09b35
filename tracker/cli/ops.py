"""`flask --app tracker ops ...`: backups and restores, retention, and the production check."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup


@click.group("ops", cls=AppGroup, help="Operations: backup, restore, prune, production check.")
def ops_group() -> None:
    pass


def _database():
    return current_app.extensions["tracker.db"]


def _progress(started: float):
    def say(message: str) -> None:
        click.echo(f"  [{time.monotonic() - started:5.1f} s] {message}", err=True)
    return say


@ops_group.command("backup", help="Back the database up, while the site runs, into the new or empty folder PATH "
                                  "(the database file and manifest.json with row counts and SHA-256s).")
@click.argument("path", type=click.Path(path_type=Path, file_okay=False))
def ops_backup(path: Path) -> None:
    from tracker.services.backups import BackupError, backup

    started = time.monotonic()
    try:
        manifest = backup(_database().engine, path, progress=_progress(started))
    except BackupError as error:
        raise click.ClickException(error.message) from error
    rows = sum(manifest["tables"].values())
    click.echo(f"Backed up the {manifest['database']} database (revision {manifest['schema_revision']}, "
               f"{len(manifest['tables'])} tables, {rows:,} rows) into {path} in {time.monotonic() - started:.1f} s:")
    for file in manifest["files"]:
        click.echo(f"  {file['name']}  {file['size']:,} bytes  sha256 {file['sha256']}")


@ops_group.command("restore", help="Restore the backup in PATH into this instance's empty database, check every "
                                   "table's rows against the manifest, upgrade the schema and rebuild the search "
                                   "index.")
@click.argument("path", type=click.Path(path_type=Path, file_okay=False))
def ops_restore(path: Path) -> None:
    from tracker.search.cli import build
    from tracker.search.runtime import runtime_of
    from tracker.services.backups import BackupError, restore

    started = time.monotonic()
    try:
        report = restore(_database().engine, path, progress=_progress(started))
    except BackupError as error:
        raise click.ClickException(error.message) from error
    click.echo(f"Restored the backup of {report.created_at}: {report.tables} tables, {report.rows:,} rows, as the "
               f"manifest counted them.")
    if report.upgraded:
        click.echo(f"Upgraded the schema from revision {report.revision_backed_up} to {report.revision_now}.")
    click.echo("Rebuilding the search index from the restored database ...", err=True)
    runtime = runtime_of(current_app)
    # This command writes the index itself; no thread of its own may race it.
    runtime.config["SEARCH_INDEXER"] = "external"
    build(runtime)
    runtime.heartbeat.beat(force=True)
    click.echo(f"Done in {time.monotonic() - started:.1f} s.")


@ops_group.command("prune", help="Delete rows no longer needed: the search change log below every replica's "
                                 "position, forgotten replicas, the reports of workers long silent, finished login "
                                 "and request counters, old management-link requests, old deliveries. Never the "
                                 "audit trail.")
@click.option("--dry-run", is_flag=True, help="Say what would be removed, and remove nothing.")
def ops_prune(dry_run: bool) -> None:
    from tracker.services.retention import RetentionSettings, prune

    settings = RetentionSettings.from_config(current_app.config)
    session = _database().session(write=True)
    try:
        lines = prune(session, settings)
        # A dry run does the same work and rolls it back, so its counts are those a real run would have.
        if dry_run:
            session.rollback()
        else:
            session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
    heading = "would remove" if dry_run else "removed"
    width = max(len(line.kind) for line in lines)
    click.echo(f"{'kind':<{width}}  {heading:>12}  bound")
    for line in lines:
        click.echo(f"{line.kind:<{width}}  {line.rows:>12,}  {line.bound}")
    if dry_run:
        click.echo("Dry run: nothing was removed.")


@ops_group.command("check", help="Report settings unfit for production, one line each; exit 1 when any.")
def ops_check() -> None:
    from tracker.services.production_check import check

    findings = check(current_app.config)
    for finding in findings:
        click.echo(f"PROBLEM  {finding.line()}")
    if findings:
        click.echo(f"{len(findings)} problem(s): change these settings in /etc/ev-tracker/tracker.env "
                   f"(TRACKER_ before each name).", err=True)
        sys.exit(1)
    click.echo("No problem found for production.")
