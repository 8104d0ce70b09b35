"""Releases of the whole published dataset: a Frictionless data package (a zip of CSV tables), one workbook and
the JSON dump, built together from one snapshot of the database and kept in it.

A build reads every table in one read transaction (a snapshot: REPEATABLE READ on PostgreSQL, a read
transaction on SQLite's WAL), writing each table row by row to a temporary CSV file and to the workbook's
sheet at once and each record to the JSON file, so memory does not grow with the data; then it zips the
CSV files with their descriptor, README and citation. Storing writes the files' bytes as stored files
(chunks in the database, as attached texts: every host sees them, one backup holds them) and keeps the
newest releases only. The services flush and never commit; tracker.services.release_runtime owns the
transactions of a build.
"""
from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import json
import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, selectinload

from tracker.documents.storage import CHUNK_SIZE, SessionFactory, default_store, store_for
from tracker.errors import NotFound
from tracker.models import (
    ContentVersion,
    Document,
    Event,
    Organisation,
    Policy,
    Release,
    ReleaseFile,
    ReleaseSchedule,
    StoredFile,
    Topic,
)
from tracker.models.types import utcnow
from tracker.services.policies import PUBLIC_STATES
from tracker.services.records import (
    DATASET_NAME,
    FORMAT_VERSION,
    event_to_record,
    organisation_to_record,
    policy_to_record,
)
from tracker.services.release_tables import TABLES, Links
from tracker.services.tabular import WorkbookWriter, write_csv
from tracker.translation import gettext as _

TRACKER_NAME = "EV Policy Tracker"
DATASET_TITLE = "Electric-vehicle policies of Lao PDR and ASEAN"
DATASET_DESCRIPTION = (
    "Laws, decrees, regulations, standards, strategies, incentives and targets on electric vehicles in Lao "
    "PDR and the ASEAN member states, each with its legal status over time (a dated, sourced timeline), its "
    "issuer and other bodies, its relations to other instruments, the forums it came from, and the texts "
    "attached to it; published records of the EV Policy Tracker only. Statuses are as reported by the cited "
    "sources at their dates: read the official text before relying on one.")
KEYWORDS = ("electric vehicles", "policy", "law", "regulation", "Lao PDR", "ASEAN")
SCHEDULES = ("off", "daily", "weekly", "monthly")
MEDIA_TYPES = {
    "csv_zip": "application/zip",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
}
# Licences the descriptor and the pages name in full; any other SPDX identifier is named by itself.
LICENCE_TITLES = {
    "CC-BY-4.0": "Creative Commons Attribution 4.0 International",
    "CC-BY-SA-4.0": "Creative Commons Attribution Share Alike 4.0 International",
    "CC0-1.0": "Creative Commons Zero v1.0 Universal",
    "ODbL-1.0": "Open Data Commons Open Database License v1.0",
    "ODC-By-1.0": "Open Data Commons Attribution License v1.0",
    "PDDL-1.0": "Open Data Commons Public Domain Dedication & License 1.0",
}
# Rows written between two calls of a build's progress callback.
PROGRESS_EVERY = 5000
# How long a process's claim on building lasts before another may take it over (it crashed).
CLAIM_SECONDS = 3600.0

Progress = Callable[[str, int], None]


def licence_url(licence: str) -> str:
    return f"https://spdx.org/licenses/{licence}.html"


@dataclass(frozen=True)
class ReleaseSettings:
    """What a build needs from the configuration."""

    licence: str
    kept: int
    base_url: str  # the site's public address, or "" (links are then paths)

    @classmethod
    def from_config(cls, config: Any) -> ReleaseSettings:
        return cls(licence=str(config["DATA_LICENCE"]), kept=max(1, int(config["RELEASES_KEPT"])),
                   base_url=str(config.get("PUBLIC_URL") or "").rstrip("/"))


@dataclass
class BuiltFile:
    """One file of a release, built in the temporary folder."""

    name: str
    format: str
    path: Path
    size: int = 0
    sha256: str = ""

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.format]


@dataclass
class PreparedRelease:
    """The files of a release, built and not stored yet; a context manager that removes them at its end."""

    built_at: dt.datetime
    content_version: int
    content_digest: str
    version: str
    licence: str
    counts: dict[str, int]
    files: list[BuiltFile]
    seconds: float
    folder: tempfile.TemporaryDirectory[str] = field(repr=False)

    def __enter__(self) -> PreparedRelease:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.folder.cleanup()


# ---------------------------------------------------------------------------------------------------
# Names


def release_version(built_at: dt.datetime, content_version: int) -> str:
    """The release's version: the UTC day it was built, and the data version it holds as build metadata
    (semantic versioning's form: 2026.12.7+data.1234)."""
    return f"{built_at.year}.{built_at.month}.{built_at.day}+data.{content_version}"


def file_names(built_at: dt.datetime) -> dict[str, str]:
    day = built_at.date().isoformat()
    return {"csv_zip": f"ev-policies-{day}-csv.zip", "xlsx": f"ev-policies-{day}.xlsx",
            "json": f"ev-policies-{day}.json"}


def citation_text(version: str, built_at: dt.datetime, licence: str, url: str) -> str:
    """How to cite a release (APA 7th edition's form for a data set; in English, the language of the style)."""
    return (f"{TRACKER_NAME}. ({built_at.year}). {DATASET_TITLE} (Version {version}) [Data set]. {url}. "
            f"Licence: {licence}.")


# ---------------------------------------------------------------------------------------------------
# Building


def begin_snapshot(session: Session) -> None:
    """Start ``session``'s transaction as one consistent, read-only view of the database: REPEATABLE READ on
    PostgreSQL (READ COMMITTED would let a commit land between two tables); on SQLite a read transaction in
    WAL mode is a snapshot already. Must come before the session's first query."""
    if isinstance(session.bind, Engine) and session.bind.dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ", "postgresql_readonly": True})


def content_counter(session: Session) -> int:
    """The counter of the content version: it moves with every committed change of content."""
    return int(session.scalar(select(ContentVersion.counter).where(ContentVersion.id == 1)) or 0)


class _Hashing:
    """A binary file that hashes and counts what is written to it."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self.stream.write(data)


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK_SIZE):
            digest.update(chunk)
    return digest.hexdigest()


def _counted(rows: Iterator[list[Any]], append: Callable[[list[Any]], None], name: str,
             progress: Progress | None) -> Iterator[list[Any]]:
    """The rows of a table, each also appended to its sheet, with progress told now and then."""
    for done, row in enumerate(rows, start=1):
        append(row)
        if progress is not None and done % PROGRESS_EVERY == 0:
            progress(name, done)
        yield row


def _write_tables(session: Session, folder: Path, links: Links, workbook: WorkbookWriter,
                  progress: Progress | None) -> tuple[dict[str, int], dict[str, str]]:
    """Every table as a CSV file and a sheet at once; (rows per table, SHA-256 of each CSV file)."""
    counts: dict[str, int] = {}
    digests: dict[str, str] = {}
    for table in TABLES:
        append = workbook.sheet(table.name, table.header, widths=table.widths)
        with (folder / table.path).open("wb") as raw:
            out = _Hashing(raw)
            counts[table.name] = write_csv(out, table.header,
                                           _counted(table.rows(session, links), append, table.name, progress))
        digests[table.name] = out.digest.hexdigest()
        if progress is not None:
            progress(table.name, counts[table.name])
    return counts, digests


def _write_json(session: Session, path: Path, about: dict[str, Any], progress: Progress | None) -> int:
    """The published records in the dataset format (what `flask data load` reads), a record at a time:
    topics, organisations, published events, published policies without their links to unpublished records."""
    org_keys: dict[int, str] = {row.id: row.key for row in session.execute(select(Organisation.id, Organisation.key))}
    event_keys: dict[int, str] = {row.id: row.key for row in session.execute(select(Event.id, Event.key))}
    published_events = set(session.scalars(select(Event.key).where(Event.editorial_state.in_(PUBLIC_STATES))))
    policy_keys: dict[int, str] = {row.id: row.key for row in session.execute(
        select(Policy.id, Policy.key).where(Policy.editorial_state.in_(PUBLIC_STATES)))}
    written = 0
    with path.open("w", encoding="utf-8", newline="\n") as out:
        head = json.dumps(about, ensure_ascii=False, indent=1)
        out.write(head[:-2] + ",\n")

        def section(name: str, records: Iterator[dict[str, Any]], last: bool = False) -> None:
            nonlocal written
            out.write(f' "{name}": [')
            first = True
            for record in records:
                out.write(("\n  " if first else ",\n  ") + json.dumps(record, ensure_ascii=False))
                first = False
                written += 1
                if progress is not None and written % PROGRESS_EVERY == 0:
                    progress("json", written)
            out.write("\n ]" + ("\n" if last else ",\n"))

        section("topics", ({"key": t.key, "name_en": t.name_en, "name_lo": t.name_lo}
                           for t in session.scalars(select(Topic).order_by(Topic.position, Topic.key))))
        section("organisations", (organisation_to_record(o, org_keys) for o in session.scalars(
            select(Organisation).order_by(Organisation.key).execution_options(yield_per=500))))
        section("events", (event_to_record(e, org_keys) for e in session.scalars(
            select(Event).where(Event.editorial_state.in_(PUBLIC_STATES)).order_by(Event.key).options(
                selectinload(Event.organisation_links), selectinload(Event.topic_links),
                selectinload(Event.sources)).execution_options(yield_per=500))))

        def policies() -> Iterator[dict[str, Any]]:
            statement = select(Policy).where(Policy.editorial_state.in_(PUBLIC_STATES)).order_by(Policy.key).options(
                selectinload(Policy.topic_links), selectinload(Policy.vehicle_class_links),
                selectinload(Policy.bodies), selectinload(Policy.sources), selectinload(Policy.relations),
                selectinload(Policy.status_changes), selectinload(Policy.forum_links),
                selectinload(Policy.targets))
            for policy in session.scalars(statement.execution_options(yield_per=500)):
                record = policy_to_record(policy, org_keys, event_keys, policy_keys)
                # Links to what readers cannot see are left out, as on the pages and in /policies.json.
                record["relations"] = [r for r in record["relations"]
                                       if r["target"] is not None or r["target_reference"]]
                record["forum_links"] = [f for f in record["forum_links"] if f["event"] in published_events]
                yield record

        section("policies", policies(), last=True)
        out.write("}\n")
    if progress is not None:
        progress("json", written)
    return written


def _descriptor(prepared: dict[str, Any], counts: dict[str, int], csv_files: dict[str, BuiltFile],
                settings: ReleaseSettings, links: Links) -> dict[str, Any]:
    """The data package's descriptor (Frictionless Data Package v2)."""
    built_at: dt.datetime = prepared["built_at"]
    licence = settings.licence
    resources = []
    for table in TABLES:
        built = csv_files[table.name]
        resources.append({
            "name": table.name, "title": table.title,
            "description": f"{table.description} {counts[table.name]} rows.",
            "path": table.path, "type": "table", "format": "csv", "mediatype": "text/csv",
            # The files start with a byte-order mark (so that Excel reads Lao text as UTF-8).
            "encoding": "utf-8-sig", "bytes": built.size, "hash": f"sha256:{built.sha256}",
            "dialect": {"$schema": "https://datapackage.org/profiles/2.0/tabledialect.json", "header": True,
                        "delimiter": ",", "lineTerminator": "\r\n", "quoteChar": '"', "doubleQuote": True},
            "schema": table.table_schema(),
        })
    licence_entry: dict[str, Any] = {"name": licence, "path": licence_url(licence)}
    if licence in LICENCE_TITLES:
        licence_entry["title"] = LICENCE_TITLES[licence]
    return {
        "$schema": "https://datapackage.org/profiles/2.0/datapackage.json",
        "name": DATASET_NAME, "title": DATASET_TITLE,
        "description": (f"{DATASET_DESCRIPTION} Built {built_at.isoformat(timespec='seconds')} from data version "
                        f"{prepared['content_version']}."),
        "version": prepared["version"], "created": built_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "homepage": links.page("/data"), "keywords": list(KEYWORDS),
        "licenses": [licence_entry],
        "contributors": [{"title": TRACKER_NAME, "roles": ["publisher"], "path": links.page("/")}],
        "sources": [{"title": TRACKER_NAME, "path": links.page("/")}],
        "resources": resources,
    }


def _readme(prepared: dict[str, Any], counts: dict[str, int], settings: ReleaseSettings, links: Links) -> str:
    built_at: dt.datetime = prepared["built_at"]
    version, licence = prepared["version"], settings.licence
    lines = [
        f"{DATASET_TITLE}",
        f"{TRACKER_NAME}, release {version}",
        "",
        f"Built {built_at.isoformat(timespec='seconds')} (UTC) from data version {prepared['content_version']} "
        "of the tracker's database, in one snapshot: every file of the release shows the same moment.",
        f"Source: {links.page('/data')}",
        "",
        "WHAT THIS IS",
        "",
        DATASET_DESCRIPTION,
        "",
        "FILES",
        "",
        "  datapackage.json   Frictionless Data Package (v2) descriptor: every table, its columns and their types,",
        "                     constraints, primary and foreign keys; validate with `frictionless validate`.",
        "  README.txt         this file.",
        "  CITATION.cff       how to cite this release (Citation File Format 1.2.0).",
        *(f"  {table.path:<28} {table.title} ({counts[table.name]} rows)." for table in TABLES),
        "",
        "The same release also comes as one Excel workbook (a sheet per table, a `columns` sheet describing every",
        "column and an `about` sheet) and as one JSON file in the tracker's dataset format, which",
        "`flask --app tracker data load FILE` loads into a tracker.",
        "",
        "FORMATS",
        "",
        "  - CSV: UTF-8 with a byte-order mark, CRLF line ends, quoting as in RFC 4180, one header row of",
        "    column names that never change with the interface language (snake_case).",
        "  - An empty cell means no value.",
        "  - Partial dates are written as given: YYYY, YYYY-MM or YYYY-MM-DD (a date known only to the year",
        "    stays a year). Timestamps are UTC in ISO 8601 (2026-12-07T10:00:00+00:00).",
        "  - Codes (statuses, instruments, roles, kinds) are the tracker's keys, in English, listed in",
        "    datapackage.json as each column's allowed values; names are given in English (_en) and Lao (_lo).",
        "  - Any text cell that starts with =, +, -, @, a tab or a carriage return is written with a leading",
        "    apostrophe, so that a spreadsheet shows it rather than running it as a formula (the JSON file",
        "    holds every value exactly).",
        "  - In policies.csv, other_bodies, topics, vehicle_classes and sources are also lists joined with",
        "    ' ; ' (the columns of the tracker's list downloads); the link tables hold them one per row.",
        "  - Only published records are included; a relation or forum link to an unpublished record is left",
        "    out (a relation keeps its written reference, with an empty target_key).",
        "",
        "TABLES AND COLUMNS",
    ]
    for table in TABLES:
        lines += ["", f"{table.path} - {table.title}", f"  {table.description}"]
        if table.primary_key:
            lines.append(f"  Key: {', '.join(table.primary_key)}.")
        for fk in table.foreign_keys:
            lines.append(f"  {', '.join(fk.columns)} refers to {fk.table}.{', '.join(fk.table_columns)}.")
        for column in table.columns:
            kind = column.type_label + (", required" if column.required else "")
            lines.append(f"    {column.name} ({kind}): {column.description}.")
            if column.enum:
                lines.append(f"      one of: {', '.join(column.enum)}.")
    url = links.page("/data")
    lines += [
        "",
        "LICENCE",
        "",
        f"  {licence}" + (f" ({LICENCE_TITLES[licence]})" if licence in LICENCE_TITLES else "")
        + f": {licence_url(licence)}",
        "  The facts are compiled from the public sources named in each record; attribute the EV Policy",
        "  Tracker and name the release you used.",
        "",
        "HOW TO CITE",
        "",
        f"  {citation_text(version, built_at, licence, url)}",
        "",
        "  CITATION.cff holds the same for reference managers and code repositories.",
        "",
    ]
    return "\n".join(lines)


def _citation_cff(prepared: dict[str, Any], settings: ReleaseSettings, links: Links) -> str:
    built_at: dt.datetime = prepared["built_at"]

    def quoted(text: str) -> str:
        return json.dumps(text, ensure_ascii=False)  # a JSON string is a YAML double-quoted scalar

    lines = [
        "cff-version: 1.2.0",
        f"message: {quoted('If you use this dataset, please cite it as below.')}",
        "type: dataset",
        f"title: {quoted(DATASET_TITLE)}",
        f"abstract: {quoted(DATASET_DESCRIPTION)}",
        "authors:",
        f"  - name: {quoted(TRACKER_NAME)}",
        f"version: {quoted(prepared['version'])}",
        f"date-released: {quoted(built_at.date().isoformat())}",
        f"license: {quoted(settings.licence)}",
        "keywords:",
        *(f"  - {quoted(word)}" for word in KEYWORDS),
    ]
    url = links.page("/data")
    if url.startswith(("http://", "https://")):
        lines.append(f"url: {quoted(url)}")
    return "\n".join(lines) + "\n"


def _zip(target: Path, members: list[Path], built_at: dt.datetime) -> None:
    """Zip ``members`` (deflated, dated ``built_at``), a piece at a time."""
    stamp = built_at.timetuple()[:6]
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for path in members:
            info = zipfile.ZipInfo(path.name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            with path.open("rb") as source, archive.open(info, "w", force_zip64=True) as member:
                shutil.copyfileobj(source, member, CHUNK_SIZE)


def prepare_release(session: Session, settings: ReleaseSettings, *, now: dt.datetime | None = None,
                    progress: Progress | None = None) -> PreparedRelease:
    """Build a release's three files from what ``session`` reads (begin_snapshot first), in a temporary
    folder; nothing is written to the database. The caller closes the result."""
    started = time.monotonic()
    built_at = (now or utcnow()).astimezone(dt.UTC).replace(microsecond=0)
    folder = tempfile.TemporaryDirectory(prefix="tracker-release-")
    try:
        root = Path(folder.name)
        tables = root / "package"
        tables.mkdir()
        links = Links(settings.base_url)
        counter = content_counter(session)
        version = release_version(built_at, counter)
        names = file_names(built_at)
        workbook = WorkbookWriter()
        counts, digests = _write_tables(session, tables, links, workbook, progress)
        content_digest = hashlib.sha256("".join(
            f"{name}\0{digest}\n" for name, digest in digests.items()).encode()).hexdigest()
        facts = {"built_at": built_at, "content_version": counter, "version": version}
        csv_files = {table.name: BuiltFile(table.path, "csv", tables / table.path,
                                           (tables / table.path).stat().st_size, digests[table.name])
                     for table in TABLES}
        _write_columns_and_about(workbook, counts, facts, settings, links)
        xlsx = BuiltFile(names["xlsx"], "xlsx", root / names["xlsx"])
        workbook.save(str(xlsx.path))
        about = {"dataset": DATASET_NAME, "version": FORMAT_VERSION, "compiled": built_at.date().isoformat(),
                 "notes": (f"{DATASET_TITLE}: the published records of the {TRACKER_NAME}, release {version}. "
                           "Links to unpublished records are left out."),
                 "release": {"version": version, "built_at": built_at.isoformat(timespec="seconds"),
                             "content_version": counter, "source": links.page("/data")},
                 "licence": settings.licence}
        dump = BuiltFile(names["json"], "json", root / names["json"])
        _write_json(session, dump.path, about, progress)
        descriptor = _descriptor(facts, counts, csv_files, settings, links)
        (tables / "datapackage.json").write_text(json.dumps(descriptor, ensure_ascii=False, indent=2) + "\n",
                                                 encoding="utf-8")
        (tables / "README.txt").write_text(_readme(facts, counts, settings, links), encoding="utf-8")
        (tables / "CITATION.cff").write_text(_citation_cff(facts, settings, links), encoding="utf-8")
        package = BuiltFile(names["csv_zip"], "csv_zip", root / names["csv_zip"])
        _zip(package.path, [tables / "datapackage.json", tables / "README.txt", tables / "CITATION.cff",
                            *(tables / table.path for table in TABLES)], built_at)
        files = [package, xlsx, dump]
        for built in files:
            built.size = built.path.stat().st_size
            built.sha256 = _sha256_of(built.path)
        return PreparedRelease(built_at=built_at, content_version=counter, content_digest=content_digest,
                               version=version, licence=settings.licence, counts=counts, files=files,
                               seconds=round(time.monotonic() - started, 3), folder=folder)
    except BaseException:
        folder.cleanup()
        raise


def _write_columns_and_about(workbook: WorkbookWriter, counts: dict[str, int], facts: dict[str, Any],
                             settings: ReleaseSettings, links: Links) -> None:
    append = workbook.sheet("columns", ("table", "column", "type", "required", "description", "values"),
                            widths=(22, 22, 18, 9, 80, 60), wrap=True)
    for table in TABLES:
        for column in table.columns:
            append([table.name, column.name, column.type_label, "yes" if column.required else "no",
                    column.description, " ; ".join(column.enum)])
    built_at: dt.datetime = facts["built_at"]
    append = workbook.sheet("about", ("field", "value"), widths=(22, 100), wrap=True)
    for row in (
        ("dataset", DATASET_TITLE), ("publisher", TRACKER_NAME), ("source", links.page("/data")),
        ("release", facts["version"]), ("built", built_at.isoformat(timespec="seconds")),
        ("data version", str(facts["content_version"])),
        ("licence", f"{settings.licence} ({licence_url(settings.licence)})"),
        ("cite as", citation_text(facts["version"], built_at, settings.licence, links.page("/data"))),
        ("description", DATASET_DESCRIPTION),
        ("dates", "Dates are written as given: YYYY, YYYY-MM or YYYY-MM-DD (a partial date stays partial); "
                  "timestamps are UTC."),
        ("formulas", "A text cell starting with =, +, -, @, a tab or a carriage return has a leading apostrophe, "
                     "so that it is never run as a formula."),
        ("", ""), ("sheet", "rows"),
        *((table.name, str(counts[table.name])) for table in TABLES),
        ("columns", "What every column of every sheet holds."),
    ):
        append(list(row))


# ---------------------------------------------------------------------------------------------------
# Storing, listing, keeping the newest


def store_release(session: Session, prepared: PreparedRelease, settings: ReleaseSettings,
                  trigger: str) -> Release:
    """Record a prepared release and store its files' bytes (once per SHA-256), then delete releases beyond
    the newest ``settings.kept`` with bytes nothing else uses. Flushes."""
    store = default_store()
    for built in prepared.files:
        if session.get(StoredFile, built.sha256) is None:
            session.add(StoredFile(sha256=built.sha256, size=built.size, media_type=built.media_type,
                                   storage=store.name, chunk_size=CHUNK_SIZE))
            session.flush()
            store.put(session, built.sha256, built.path)
    release = Release(built_at=prepared.built_at, content_version=prepared.content_version,
                      content_digest=prepared.content_digest, version=prepared.version, licence=prepared.licence,
                      trigger=trigger, counts=prepared.counts, build_seconds=prepared.seconds,
                      files=[ReleaseFile(name=built.name, format=built.format, position=position,
                                         media_type=built.media_type, size=built.size, sha256=built.sha256)
                             for position, built in enumerate(prepared.files)])
    session.add(release)
    session.flush()
    prune(session, settings.kept)
    return release


def prune(session: Session, kept: int) -> list[int]:
    """Delete every release but the newest ``kept``, with the stored bytes no other release or document
    uses; the ids deleted."""
    keep = select(Release.id).order_by(Release.built_at.desc(), Release.id.desc()).limit(kept)
    old = list(session.scalars(select(Release.id).where(Release.id.not_in(keep.scalar_subquery()))))
    if not old:
        return []
    hashes = set(session.scalars(select(ReleaseFile.sha256).where(ReleaseFile.release_id.in_(old))))
    session.execute(delete(ReleaseFile).where(ReleaseFile.release_id.in_(old)))
    session.execute(delete(Release).where(Release.id.in_(old)))
    for sha256 in sorted(hashes):
        used = session.scalar(select(func.count()).select_from(ReleaseFile).where(ReleaseFile.sha256 == sha256))
        used = used or session.scalar(select(func.count()).select_from(Document).where(Document.sha256 == sha256))
        stored = session.get(StoredFile, sha256)
        if not used and stored is not None:
            store_for(stored).delete(session, sha256)
            session.delete(stored)
    session.flush()
    return old


def list_releases(session: Session) -> list[Release]:
    """Every kept release with its files, newest first."""
    return list(session.scalars(select(Release).options(selectinload(Release.files))
                                .order_by(Release.built_at.desc(), Release.id.desc())))


def newest_release(session: Session) -> Release | None:
    return session.scalars(select(Release).order_by(Release.built_at.desc(), Release.id.desc()).limit(1)).first()


def release_file(session: Session, release_id: int, name: str) -> tuple[Release, ReleaseFile]:
    """A release and one of its files.

    Raises:
        NotFound: no kept release has this id, or it has no file of this name.
    """
    found = session.execute(select(Release, ReleaseFile).join(ReleaseFile, ReleaseFile.release_id == Release.id)
                            .where(Release.id == release_id, ReleaseFile.name == name)).first()
    if found is None:
        raise NotFound(_("There is no such release file: older releases are deleted when new ones are built."))
    return found[0], found[1]


def file_chunks(sessions: SessionFactory, session: Session, file: ReleaseFile) -> Iterator[bytes]:
    """The bytes of a release file, a chunk at a time, each read in a short session of its own."""
    stored = session.get(StoredFile, file.sha256)
    if stored is None:
        raise NotFound(_("There is no such release file: older releases are deleted when new ones are built."))
    return store_for(stored).chunks(sessions, file.sha256)


# ---------------------------------------------------------------------------------------------------
# The schedule


def last_slot(schedule: str, hour: int, weekday: int, now: dt.datetime) -> dt.datetime | None:
    """The latest moment at or before ``now`` at which ``schedule`` (daily, weekly on ``weekday``, monthly on
    the 1st, each at ``hour`` UTC) calls for a release; None when it is off."""
    if schedule not in SCHEDULES[1:]:
        return None
    now = now.astimezone(dt.UTC)
    slot = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    if schedule == "daily":
        return slot if slot <= now else slot - dt.timedelta(days=1)
    if schedule == "weekly":
        slot -= dt.timedelta(days=(slot.weekday() - weekday) % 7)
        return slot if slot <= now else slot - dt.timedelta(days=7)
    slot = slot.replace(day=1)
    if slot <= now:
        return slot
    previous = (slot - dt.timedelta(days=1)).replace(day=1)
    return previous


def next_slot(schedule: str, hour: int, weekday: int, now: dt.datetime) -> dt.datetime | None:
    """The first moment after ``now`` at which ``schedule`` calls for a release; None when it is off."""
    last = last_slot(schedule, hour, weekday, now)
    if last is None:
        return None
    if schedule == "daily":
        return last + dt.timedelta(days=1)
    if schedule == "weekly":
        return last + dt.timedelta(days=7)
    return last + dt.timedelta(days=calendar.monthrange(last.year, last.month)[1])


def last_look(session: Session) -> dt.datetime | None:
    """When a release was last built, or the schedule last looked and found nothing new, whichever is later."""
    built = session.scalar(select(func.max(Release.built_at)))
    checked = session.scalar(select(ReleaseSchedule.checked_at).where(ReleaseSchedule.id == 1))
    looks = [moment for moment in (built, checked) if moment is not None]
    return max(looks) if looks else None


def claim(session: Session, who: str, now: dt.datetime) -> bool:
    """Claim the building of a release for ``who`` unless another process holds an unexpired claim."""
    if session.get(ReleaseSchedule, 1) is None:
        session.add(ReleaseSchedule(id=1))
        session.flush()
    result = session.execute(
        update(ReleaseSchedule)
        .where(ReleaseSchedule.id == 1,
               or_(ReleaseSchedule.claimed_until.is_(None), ReleaseSchedule.claimed_until < now,
                   ReleaseSchedule.claimed_by == who))
        .values(claimed_until=now + dt.timedelta(seconds=CLAIM_SECONDS), claimed_by=who)
        .execution_options(synchronize_session=False))
    return bool(getattr(result, "rowcount", 0))


def end_claim(session: Session, who: str, *, checked_at: dt.datetime | None = None) -> None:
    """Give up ``who``'s claim; ``checked_at``: the schedule looked then and found nothing to build."""
    session.execute(update(ReleaseSchedule).where(ReleaseSchedule.id == 1, ReleaseSchedule.claimed_by == who)
                    .values(claimed_until=None, claimed_by=None).execution_options(synchronize_session=False))
    if checked_at is not None:
        session.execute(update(ReleaseSchedule).where(ReleaseSchedule.id == 1)
                        .values(checked_at=checked_at).execution_options(synchronize_session=False))
