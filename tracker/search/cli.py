"""`flask --app tracker search ...`: build, check and follow the search index."""
from __future__ import annotations

import contextlib
import signal
import sys
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tracker.models.search_log import SearchChange
from tracker.search.errors import SearchUnavailable
from tracker.search.index import IndexBehindLog, IndexMissing, SchemaMismatch, read_state
from tracker.search.indexer import ApplyReport, Indexer
from tracker.search.runtime import SearchRuntime, runtime_of
from tracker.search.schema import SCHEMA_VERSION

if TYPE_CHECKING:
    from types import FrameType


@click.group("search", cls=AppGroup, help="The full-text search index: build, check, follow the change log.")
def search_group() -> None:
    pass


def _runtime() -> SearchRuntime:
    runtime = runtime_of(current_app)
    # The command line writes the index itself; no thread of its own should race it.
    runtime.config["SEARCH_INDEXER"] = "external"
    return runtime


@contextlib.contextmanager
def snapshot(runtime: SearchRuntime) -> Iterator[Session]:
    """A read session that sees one snapshot of the database for its whole transaction."""
    engine = runtime.database.engine
    bind = engine.execution_options(isolation_level="REPEATABLE READ") if engine.dialect.name == "postgresql" \
        else engine
    session = Session(bind=bind, autoflush=False, expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()


def build(runtime: SearchRuntime, indexer: Indexer | None = None) -> None:
    """Build a fresh generation of one index (both when None) with a progress bar and make it live."""
    for chosen in (runtime.indexers if indexer is None else (indexer,)):
        corpus = chosen.corpus
        with runtime.sessions() as session:
            total = corpus.count(session)
        started = time.monotonic()
        with click.progressbar(length=total, label=f"Indexing {corpus.label}", show_pos=True) as bar:
            name, state = chosen.build(snapshot(runtime), runtime.sessions, progress=bar.update)
        elapsed = time.monotonic() - started
        click.echo(f"Built the {corpus.name} index {name} ({total} {corpus.label}, {elapsed:.1f} s, "
                   f"{total / elapsed if elapsed else 0:.0f} {corpus.label}/s) at change {state.high}; "
                   f"it is live now.")


@search_group.command("rebuild", help="Build fresh indexes (records, passages) beside the live ones and swap them in.")
def search_rebuild() -> None:
    runtime = _runtime()
    build(runtime)
    runtime.heartbeat.beat(force=True)


@search_group.command("ensure", help="Build the index when missing or of another schema version; else catch up.")
def search_ensure() -> None:
    runtime = _runtime()
    for indexer in runtime.indexers:
        report = _apply_or_build(runtime, indexer)
        if report is None:
            continue
        click.echo(f"Search index of {indexer.corpus.name} up to date (schema {SCHEMA_VERSION}, change {report.high}"
                   + (f", {report.rows} changes applied now" if report.rows else "")
                   + (", another process is writing it" if report.busy else "") + ").")
    runtime.heartbeat.beat(force=True)


def _apply_or_build(runtime: SearchRuntime, indexer: Indexer) -> ApplyReport | None:
    """Apply the pending changes to one index; when there is none, or one of another schema version, build
    one instead (and return None)."""
    try:
        return indexer.apply_pending(runtime.sessions)
    except IndexMissing:
        click.echo(f"The search index of {indexer.corpus.name} does not exist yet; building it.")
    except (SchemaMismatch, IndexBehindLog) as error:
        click.echo(f"{error.message.split(' Run ')[0]} Rebuilding the index of {indexer.corpus.name}.")
    build(runtime, indexer)
    return None


@search_group.command("check", help="List documents missing, orphaned or stale; exit 1 when there is drift.")
@click.option("--limit", default=20, show_default=True, help="How many document ids to list per kind.")
def search_check(limit: int) -> None:
    runtime = _runtime()
    clean = True
    for indexer in runtime.indexers:
        try:
            with snapshot(runtime) as session:
                drift = indexer.check(session)
        except SearchUnavailable as error:
            raise click.ClickException(error.message) from error
        click.echo(f"{indexer.corpus.name}:")
        for kind, ids, meaning in (("missing", drift.missing, "in the database, not in the index"),
                                   ("orphaned", drift.orphaned, "in the index, no longer in the database"),
                                   ("stale", drift.stale, "in the index with older content")):
            click.echo(f"  {kind}: {len(ids)} ({meaning})")
            for doc in ids[:limit]:
                click.echo(f"    {doc}")
            if len(ids) > limit:
                click.echo(f"    ... and {len(ids) - limit} more")
        if drift.pending:
            click.echo(f"  pending: {drift.pending} change(s) not applied yet (the indexer will apply them)")
        clean = clean and drift.clean
    if not clean:
        click.echo("The index has drifted from the database: run `flask --app tracker search rebuild`.", err=True)
        sys.exit(1)
    click.echo("No drift: every record's and every passage's document is in the index and up to date.")


@search_group.command("follow", help="Apply the change log to this host's index as it grows (the one writer).")
@click.option("--interval", default=1.0, show_default=True, help="Seconds between looks at the change log.")
@click.option("--batch-size", type=click.IntRange(1, 10000), default=None, help="Changes per index commit.")
@click.option("--once", is_flag=True, help="Apply what is pending, then exit.")
def search_follow(interval: float, batch_size: int | None, once: bool) -> None:
    runtime = _runtime()
    if batch_size:
        runtime.indexer.batch_size = batch_size
        runtime.passage_indexer.batch_size = max(1, batch_size // 4)
    stopping: list[bool] = []

    def stop(_signum: int, _frame: FrameType | None) -> None:
        stopping.append(True)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        if not once:
            click.echo(f"Following the change log every {interval:g} s (Ctrl+C to stop).")
        while not stopping:
            # A host without an index (or with one of an older schema) builds it, as `search ensure` does.
            reports: list[ApplyReport | None] = []
            for indexer in runtime.indexers:
                try:
                    report = _apply_or_build(runtime, indexer)
                except SearchUnavailable as error:
                    if once:
                        raise click.ClickException(error.message) from error
                    click.echo(error.message, err=True)
                    report = None
                reports.append(report)
                if report is not None and report.documents:
                    click.echo(f"Applied {report.rows} change(s) to {report.documents} {indexer.corpus.label}; "
                               f"at change {report.high}" + (f", {report.gaps} open gap(s)" if report.gaps else ""))
            runtime.heartbeat.beat()
            if once and not any(report is not None and report.busy for report in reports):
                break
            deadline = time.monotonic() + interval
            while not stopping and time.monotonic() < deadline:
                time.sleep(min(0.1, interval))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@search_group.command("status", help="Show the live index, its schema version and how far it has followed the log.")
def search_status() -> None:
    runtime = _runtime()
    with runtime.sessions() as session:
        newest = session.scalar(select(func.max(SearchChange.id))) or 0
    for indexer in runtime.indexers:
        try:
            name, index = indexer.store.open_live()
        except SearchUnavailable as error:
            raise click.ClickException(error.message) from error
        with index.searcher() as searcher:
            state = read_state(searcher)
            documents = searcher.doc_count() - (1 if state else 0)
        click.echo(f"index of {indexer.corpus.name}: {indexer.store.root / name}")
        click.echo(f"  documents: {documents}")
        if state is None:
            click.echo("  state: none (not built by this tracker)")
            continue
        click.echo(f"  schema: {state.schema}" + ("" if state.schema == SCHEMA_VERSION else
                                                  f" (this tracker needs {SCHEMA_VERSION}: rebuild)"))
        click.echo(f"  applied up to change: {state.high} of {newest}" +
                   (f"; {len(state.gaps)} gap(s) awaited" if state.gaps else ""))
