"""Where indexes live on disk: generations beside each other, the live one named in CURRENT, the state inside.

``SEARCH_INDEX_PATH`` is a folder holding one Whoosh index per generation (``gen-<time>-<pid>``) and a
file ``CURRENT`` naming the live one. A rebuild fills a new generation while the live one keeps
serving, then replaces CURRENT atomically; readers and the indexer notice at their next look.
Each index carries its own state in a stored document: the schema version it was built with and
the change-log position it has applied, committed in the same Whoosh commit as the documents.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from whoosh import index as whoosh_index
from whoosh.index import FileIndex
from whoosh.writing import SegmentWriter

from tracker.search.errors import SearchUnavailable
from tracker.search.schema import META_ID, SCHEMA_VERSION, make_schema

if TYPE_CHECKING:
    from whoosh.searching import Searcher

CURRENT = "CURRENT"
BUILD_LOCK = "BUILD.lock"
REBUILD_HINT = "Run `flask --app tracker search rebuild` on the server to build it."
# A replaced generation is kept this long for processes still reading it, then removed.
OLD_GENERATION_GRACE = 600.0


class IndexMissing(SearchUnavailable):
    """No index has been built at the configured path yet."""


class SchemaMismatch(SearchUnavailable):
    """The index was built for another schema version (or by another version of the code)."""


class IndexBehindLog(SearchUnavailable):
    """The index stopped below changes that were pruned from the log: it can never catch up, only be rebuilt."""


@dataclass
class IndexState:
    """How far an index has followed the change log.

    Every log id up to ``high`` has been applied except those in ``gaps``: ids below ``high`` not
    yet seen, mapped to when they were first missed. On PostgreSQL a transaction can commit after
    another one that took a higher id; its row appears late and is applied then. A gap open longer
    than any transaction lasts belonged to a rolled-back transaction and is forgotten.
    """

    schema: int = SCHEMA_VERSION
    high: int = 0
    gaps: dict[int, float] = field(default_factory=dict)
    built_at: float = 0.0

    def to_stored(self) -> str:
        return json.dumps({"schema": self.schema, "high": self.high, "built_at": self.built_at,
                           "gaps": {str(k): v for k, v in sorted(self.gaps.items())}})

    @classmethod
    def from_stored(cls, text: str) -> IndexState:
        data = json.loads(text)
        return cls(schema=int(data.get("schema", 0)), high=int(data.get("high", 0)),
                   gaps={int(k): float(v) for k, v in data.get("gaps", {}).items()},
                   built_at=float(data.get("built_at", 0.0)))


def read_state(searcher: Searcher) -> IndexState | None:
    """The state stored in the index ``searcher`` reads, None when it has none."""
    stored = searcher.document(id=META_ID)
    return IndexState.from_stored(stored["meta"]) if stored and stored.get("meta") else None


def write_state(writer: SegmentWriter, state: IndexState) -> None:
    """Store ``state`` in the commit ``writer`` is preparing (atomically with its documents)."""
    writer.update_document(id=META_ID, meta=state.to_stored())


class IndexStore:
    """The generations of the index under one folder."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.root = Path(path)

    def live_name(self) -> str | None:
        """The name of the live generation, None when none was ever published."""
        try:
            name = (self.root / CURRENT).read_text().strip()
        except (FileNotFoundError, NotADirectoryError):
            return None
        return name or None

    def open(self, name: str) -> FileIndex:
        """Open one generation; raise SchemaMismatch when it cannot be read by this code."""
        path = self.root / name
        if not whoosh_index.exists_in(str(path)):
            raise IndexMissing(f"The search index is missing ({path} is not an index). {REBUILD_HINT}")
        try:
            return whoosh_index.open_dir(str(path))
        except Exception as error:  # an unreadable table of contents: built by other code
            raise SchemaMismatch(f"The search index at {path} cannot be read by this version of the "
                                 f"tracker ({error.__class__.__name__}). {REBUILD_HINT}") from error

    def open_live(self) -> tuple[str, FileIndex]:
        """The live generation's name and index.

        Raises:
            IndexMissing, SchemaMismatch (both SearchUnavailable).
        """
        name = self.live_name()
        if name is None:
            raise IndexMissing(f"The search index has not been built yet. {REBUILD_HINT}")
        return name, self.open(name)

    @staticmethod
    def check_schema(state: IndexState | None) -> None:
        """Raise SchemaMismatch unless ``state`` says the index is of this schema version."""
        if state is None or state.schema != SCHEMA_VERSION:
            found = "no version" if state is None else f"version {state.schema}"
            raise SchemaMismatch(f"The search index was built with schema {found}; this version of the "
                                 f"tracker needs version {SCHEMA_VERSION}. {REBUILD_HINT}")

    def create(self) -> tuple[str, FileIndex]:
        """A new, empty generation beside the live one (not yet published)."""
        self.root.mkdir(parents=True, exist_ok=True)
        name = f"gen-{time.time_ns()}-{os.getpid()}"
        path = self.root / name
        path.mkdir()
        return name, whoosh_index.create_in(str(path), make_schema())

    def publish(self, name: str) -> None:
        """Make ``name`` the live generation, atomically, then remove generations replaced long ago."""
        temporary = self.root / f"{CURRENT}.{os.getpid()}.tmp"
        temporary.write_text(name + "\n")
        with open(temporary, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, self.root / CURRENT)
        self.remove_old(keep={name})

    def remove_old(self, keep: set[str], grace: float = OLD_GENERATION_GRACE) -> None:
        """Delete generations other than ``keep`` once unused for ``grace`` seconds (readers in other
        processes may still have a replaced one open)."""
        now = time.time()
        for path in self.root.glob("gen-*"):
            if path.name in keep or not path.is_dir():
                continue
            try:
                modified = max((child.stat().st_mtime for child in path.iterdir()), default=path.stat().st_mtime)
            except FileNotFoundError:
                continue
            if now - modified >= grace:
                shutil.rmtree(path, ignore_errors=True)

    @contextlib.contextmanager
    def build_lock(self, *, wait: bool) -> Iterator[bool]:
        """Hold the lock that allows one full build at a time across processes; yields False (and
        holds nothing) when ``wait`` is False and another process is building."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / BUILD_LOCK, "a+") as handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
