"""Command-line interface: `flask --app tracker db|data ...`, thin callers of the services."""
from __future__ import annotations

import datetime as dt
import json
import sys
import time
from pathlib import Path

import click
import ijson
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import func, select

from tracker.db import bulk_page_cache, unit_of_work

DEMO_DATASET = Path(__file__).resolve().parent.parent / "data" / "asean-ev-policies.json"


def register_cli(app: Flask) -> None:
    """Attach the command groups to ``app.cli``."""
    from tracker.cli.ops import ops_group
    from tracker.cli.users import users_group

    app.cli.add_command(db_group)
    app.cli.add_command(data_group)
    app.cli.add_command(users_group)
    app.cli.add_command(ops_group)
    from tracker.documents.cli import documents_group
    from tracker.notifications.cli import notify_group
    from tracker.search.cli import search_group

    app.cli.add_command(search_group)
    app.cli.add_command(notify_group)
    app.cli.add_command(documents_group)


def _database():
    return current_app.extensions["tracker.db"]


@click.group("db", cls=AppGroup, help="Database schema.")
def db_group() -> None:
    pass


@db_group.command("upgrade", help="Apply every migration up to the newest (safe to repeat).")
def db_upgrade() -> None:
    from tracker import migrate

    database = _database()
    before = migrate.current_revision(database.engine)
    migrate.upgrade(database.engine)
    after = migrate.current_revision(database.engine)
    click.echo(f"Database at revision {after}" + ("" if before == after else f" (was {before or 'empty'})"))


@db_group.command("current", help="Show the revision the database is at.")
def db_current() -> None:
    from tracker import migrate

    click.echo(migrate.current_revision(_database().engine) or "empty")


@click.group("data", cls=AppGroup, help="Load and dump the dataset (JSON in the format of the demo data).")
def data_group() -> None:
    pass


def _read_json(path: Path):
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise click.ClickException(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise click.ClickException(f"{path}: cannot be read as UTF-8 text ({error})") from error
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise click.ClickException(f"{path}: not valid JSON: {error.msg} at line {error.lineno}, "
                                   f"column {error.colno}") from error


def _load(path: Path) -> None:
    from tracker.services.dataset import DatasetFile, DatasetInvalid, load_dataset

    if not path.is_file():
        raise click.ClickException(f"{path}: no such file")
    database = _database()
    started = time.monotonic()
    last_shown = [started]

    def progress(done: int, stage: str) -> None:
        # A large file takes minutes: say how far it is, at most every few seconds.
        now = time.monotonic()
        if now - last_shown[0] >= 5:
            last_shown[0] = now
            what = "policies checked and applied" if stage == "policies" else "policies linked"
            click.echo(f"  {done:,} {what} ({now - started:.0f} s)", err=True)

    try:
        with unit_of_work(database.session(write=True)) as session:
            with bulk_page_cache(session):
                report = load_dataset(session, DatasetFile(path), progress=progress)
    except DatasetInvalid as error:
        raise click.ClickException(error.message) from error
    except UnicodeDecodeError as error:
        raise click.ClickException(f"{path}: cannot be read as UTF-8 text ({error})") from error
    except ijson.JSONError as error:
        raise click.ClickException(f"{path}: not valid JSON: {error}") from error
    except OSError as error:
        raise click.ClickException(f"{path}: cannot be read ({error})") from error
    click.echo(f"Loaded {path.name} in {time.monotonic() - started:.1f} s:")
    for line in report.lines():
        click.echo(f"  {line}")


@data_group.command("load", help="Create or update records from a dataset file; all or nothing, by key.")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
def data_load(path: Path) -> None:
    _load(path)


@data_group.command("demo", help="Load the bundled ASEAN demo data if the database holds no policy yet.")
@click.option("--force", is_flag=True, help="Load even when the database already holds policies.")
def data_demo(force: bool) -> None:
    from tracker.models import Policy

    with _database().session() as session:
        count = session.scalar(select(func.count(Policy.id))) or 0
    if count and not force:
        click.echo(f"The database holds {count} policies; demo data not loaded.")
        return
    _load(DEMO_DATASET)


@data_group.command("dump", help="Write every record to a dataset file ('-' for standard output).")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False, allow_dash=True))
def data_dump(path: Path) -> None:
    from tracker.services.records import dump_dataset

    with _database().session() as session:
        data = dump_dataset(session, compiled=dt.date.today().isoformat())
    text = json.dumps(data, ensure_ascii=False, indent=1) + "\n"
    if str(path) == "-":
        sys.stdout.write(text)
        return
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise click.ClickException(f"{path}: cannot be written ({error})") from error
    click.echo(f"Wrote {len(data['policies'])} policies, {len(data['events'])} events, "
               f"{len(data['organisations'])} organisations and {len(data['topics'])} topics to {path}")


@data_group.command("release", help="Build a release of the published dataset now: the data package (CSV "
                                    "tables), the workbook and the JSON dump, stored in the database.")
@click.option("--if-changed", is_flag=True,
              help="Build only when the published data changed since the newest release (for cron).")
def data_release(if_changed: bool) -> None:
    from tracker.errors import Conflict
    from tracker.services.release_runtime import runtime_of

    started = time.monotonic()

    def progress(table: str, rows: int) -> None:
        # Told when each table is written, and every few thousand rows of a long one.
        what = "records in the JSON file" if table == "json" else "rows"
        click.echo(f"  {'' if table == 'json' else table + ': '}{rows:,} {what} ({time.monotonic() - started:.0f} s)",
                   err=True)

    click.echo("Building a release of the published data ...", err=True)
    try:
        outcome = runtime_of(current_app).build("command", only_if_changed=if_changed, progress=progress)
    except Conflict as error:
        raise click.ClickException(str(error)) from error
    if outcome.release is None:
        click.echo("The published data has not changed since the newest release: nothing built.")
        return
    release = outcome.release
    click.echo(f"Built release {release.id} (version {release.version}, data version {release.content_version}) "
               f"in {time.monotonic() - started:.1f} s:")
    for file in release.files:
        click.echo(f"  {file.name}  {file.size:,} bytes  sha256 {file.sha256}")
    kept = int(current_app.config["RELEASES_KEPT"])
    click.echo(f"The newest {kept} releases are kept; download them at /data.")


@data_group.command("releases", help="List the releases kept, newest first, with their files.")
def data_releases() -> None:
    from tracker.services.releases import list_releases

    with _database().session() as session:
        found = list_releases(session)
        if not found:
            click.echo("No release has been built yet: run `flask data release`.")
        for release in found:
            click.echo(f"{release.id}  {release.built_at.isoformat(timespec='seconds')}  version {release.version}  "
                       f"({release.trigger})")
            for file in release.files:
                click.echo(f"    {file.name}  {file.size:,} bytes  sha256 {file.sha256}")
