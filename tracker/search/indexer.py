"""The only writer of an index: applies the change log in order, builds fresh generations, finds drift.

Applying is at-least-once and idempotent: a batch re-reads the current state of every record it
names and replaces (or deletes) their documents, and stores the new log position in the same
Whoosh commit. A crash at any point leaves either the old commit or the new one, never half of
one, and the next run starts again from the stored position.
"""
from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session
from whoosh.index import FileIndex, LockError
from whoosh.searching import Searcher

from tracker.models.search_log import SearchChange
from tracker.models.search_replica import SearchLogPrune
from tracker.search.documents import RECORDS, Corpus, digest
from tracker.search.index import REBUILD_HINT, IndexBehindLog, IndexState, IndexStore, read_state, write_state
from tracker.search.reader import refreshed
from tracker.search.schema import META_ID, SCHEMA_VERSION

if TYPE_CHECKING:
    import datetime as dt

log = logging.getLogger(__name__)

SessionFactory = Callable[[], AbstractContextManager[Session]]
# More missing ids than this in one step means the sequence jumped (PostgreSQL caches and skips
# values after a crash), not that so many transactions are still open.
MAX_NEW_GAPS = 10000
# Memory for the postings of a full build before Whoosh spills them to sorted runs on disk (which
# costs a pickle and an unpickle per posting).
BUILD_MEMORY_MB = 1024


@dataclass
class ApplyReport:
    """What one call of Indexer.apply_pending did."""

    rows: int = 0
    documents: int = 0
    batches: int = 0
    busy: bool = False
    high: int = 0
    gaps: int = 0


@dataclass
class Drift:
    """Differences between the database and an index, by document id."""

    missing: list[str] = field(default_factory=list)
    orphaned: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    pending: int = 0

    @property
    def clean(self) -> bool:
        return not (self.missing or self.orphaned or self.stale)


class Indexer:
    """Applies the change log to the generations of one IndexStore, which holds one corpus (the records, or
    the passages of attached texts). Every indexer reads every row of the log, in order, and acts on the
    entity types of its corpus: its position and gaps are positions in the whole log."""

    def __init__(self, store: IndexStore, *, corpus: Corpus = RECORDS, batch_size: int = 200,
                 gap_timeout: float = 600.0, lock_timeout: float = 0.0, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.corpus = corpus
        self.batch_size = batch_size
        self.gap_timeout = gap_timeout
        self.lock_timeout = lock_timeout
        self.clock = clock
        self._peekers: dict[str, Searcher] = {}
        self._peek_lock = threading.Lock()

    # -- following the log ------------------------------------------------------------------------

    def apply_pending(self, sessions: SessionFactory, *, index: FileIndex | None = None,
                      max_batches: int | None = None) -> ApplyReport:
        """Apply the log to the live generation (or ``index``) in batches until it is caught up.

        Returns with ``busy`` set, doing nothing, when another writer holds the index's lock.

        Raises:
            IndexMissing, SchemaMismatch: there is no live index of this schema version.
            IndexBehindLog: the log was pruned above the index's position (it must be rebuilt).
        """
        report = ApplyReport()
        if index is None:
            _, index = self.store.open_live()
        state = self._peek(index)
        report.high, report.gaps = state.high, len(state.gaps)
        with sessions() as session:
            self._check_not_behind(session, state)
            if not self._has_pending(session, state):
                return report
        while max_batches is None or report.batches < max_batches:
            with sessions() as session:
                outcome = self._apply_batch(session, index)
            if outcome is None:
                report.busy = True
                break
            rows, documents, state = outcome
            report.high, report.gaps = state.high, len(state.gaps)
            if rows < 0:
                break
            report.rows += rows
            report.documents += documents
            report.batches += 1
            if rows < self.batch_size:
                break
        return report

    def position(self) -> IndexState:
        """How far the live generation has followed the log, read without taking the writer's lock (what
        this host's readers see; a readiness check polls it).

        Raises:
            IndexMissing, SchemaMismatch: there is no live index of this schema version.
        """
        _, index = self.store.open_live()
        return self._peek(index)

    def _peek(self, index: FileIndex) -> IndexState:
        """The index's state read without taking its lock, through a searcher kept per index and
        refreshed (cheap), so that polling an idle index costs one small query and no writer."""
        with self._peek_lock:
            key = index.storage.folder
            for other in [k for k in self._peekers if k != key]:
                # A replaced generation: let its files go.
                self._peekers.pop(other).close()
            searcher = self._peekers.get(key)
            searcher = refreshed(searcher) if searcher is not None else index.searcher()
            self._peekers[key] = searcher
            state = read_state(searcher)
        self.store.check_schema(state)
        assert state is not None
        return state

    def _check_not_behind(self, session: Session, state: IndexState) -> None:
        """Raise IndexBehindLog when rows this index has not applied were pruned from the log (it was
        forgotten as a replica after a long silence, or restored from an old copy)."""
        pruned = session.scalar(select(func.max(SearchLogPrune.pruned_through))) or 0
        if state.high < pruned:
            raise IndexBehindLog(f"The search index of {self.corpus.name} at {self.store.root} stopped at change "
                                 f"{state.high}, but the change log was pruned through change {pruned}: it can "
                                 f"never catch up and must be rebuilt. {REBUILD_HINT}")

    def _has_pending(self, session: Session, state: IndexState) -> bool:
        now = self.clock()
        if any(now - seen >= self.gap_timeout for seen in state.gaps.values()):
            return True
        condition = SearchChange.id > state.high
        if state.gaps:
            condition = or_(condition, SearchChange.id.in_(sorted(state.gaps)))
        return session.scalar(select(SearchChange.id).where(condition).limit(1)) is not None

    def close(self) -> None:
        """Close the searchers kept for peeking."""
        with self._peek_lock:
            for searcher in self._peekers.values():
                searcher.close()
            self._peekers.clear()

    def _apply_batch(self, session: Session, index: FileIndex) -> tuple[int, int, IndexState] | None:
        """One batch in one Whoosh commit: (rows applied or -1 when nothing to do, documents, state),
        or None when the lock is taken."""
        try:
            writer = index.writer(timeout=self.lock_timeout)
        except LockError:
            return None
        try:
            # Read under the lock: another process may have committed since `index` was opened.
            with writer.searcher() as searcher:
                state = read_state(searcher)
            self.store.check_schema(state)
            assert state is not None
            now = self.clock()
            gaps = {i: seen for i, seen in state.gaps.items() if now - seen < self.gap_timeout}
            expired = len(gaps) != len(state.gaps)
            condition = SearchChange.id > state.high
            if gaps:
                condition = or_(condition, SearchChange.id.in_(sorted(gaps)))
            rows = session.execute(
                select(SearchChange.id, SearchChange.entity_type, SearchChange.entity_id)
                .where(condition).order_by(SearchChange.id).limit(self.batch_size)).all()
            if not rows and not expired:
                writer.cancel()
                return -1, 0, state
            seen = {row.id for row in rows}
            high = max(state.high, max(seen, default=0))
            missing = set(range(state.high + 1, high)) - seen if high - state.high <= MAX_NEW_GAPS else set()
            for number in missing:
                gaps[number] = now
            for number in seen:
                gaps.pop(number, None)
            corpus = self.corpus
            keys = {(row.entity_type, row.entity_id) for row in rows if row.entity_type in corpus.entity_types}
            documents = corpus.load(session, keys)
            for key in sorted(keys):
                writer.delete_by_term(corpus.group_field, corpus.group_value(key))
                for fields in documents.get(key, ()):
                    writer.add_document(**corpus.analyse(fields))
            new_state = IndexState(SCHEMA_VERSION, high, gaps, state.built_at)
            write_state(writer, new_state)
            writer.commit()
            return len(rows), len(keys), new_state
        except BaseException:
            with contextlib.suppress(Exception):
                writer.cancel()
            raise

    # -- building ---------------------------------------------------------------------------------

    def snapshot_state(self, session: Session) -> IndexState:
        """The log position a build from ``session``'s snapshot stands at: the highest id it sees,
        and as gaps the recent ids it does not see (transactions still open at the snapshot)."""
        now = self.clock()
        high = session.scalar(select(func.max(SearchChange.id))) or 0
        since = SearchChange.changed_at >= _utc(now - self.gap_timeout)
        recent_low = session.scalar(select(func.max(SearchChange.id)).where(~since)) or 0
        present = set(session.scalars(select(SearchChange.id).where(SearchChange.id > recent_low)))
        gaps = {}
        if high - recent_low <= MAX_NEW_GAPS:
            gaps = {number: now for number in range(recent_low + 1, high) if number not in present}
        return IndexState(SCHEMA_VERSION, high, gaps, now)

    def build(self, snapshot: AbstractContextManager[Session], sessions: SessionFactory, *,
              progress: Callable[[int], None] | None = None, total: Callable[[int], None] | None = None,
              release: bool = True, publish: bool = True) -> tuple[str, IndexState]:
        """Build a new generation from one consistent snapshot of the database, catch it up with the
        log, then make it the live one. Searches keep using the old generation until the switch.

        ``snapshot`` must read a single snapshot (REPEATABLE READ on PostgreSQL) so that the
        documents and the log position agree.
        """
        with self.store.build_lock(wait=True):
            name, index = self.store.create()
            with snapshot as session:
                state = self.snapshot_state(session)
                if total is not None:
                    total(self.corpus.count(session))
                writer = index.writer(limitmb=BUILD_MEMORY_MB)
                try:
                    for _key, fields in self.corpus.every(session, release=release):
                        writer.add_document(**self.corpus.analyse(fields))
                        if progress is not None:
                            progress(1)
                    writer.add_document(id=META_ID, meta=state.to_stored())
                    writer.commit()
                except BaseException:
                    with contextlib.suppress(Exception):
                        writer.cancel()
                    raise
            # Changes committed while the build read its snapshot.
            self.apply_pending(sessions, index=index)
            if publish:
                self.store.publish(name)
            return name, state

    # -- checking ---------------------------------------------------------------------------------

    def check(self, session: Session, index: FileIndex | None = None) -> Drift:
        """Compare every record's document with the index: missing, orphaned and stale documents."""
        if index is None:
            _, index = self.store.open_live()
        drift = Drift()
        with index.searcher() as searcher:
            state = read_state(searcher)
            self.store.check_schema(state)
            assert state is not None
            self._check_not_behind(session, state)
            indexed: dict[str, str] = {}
            for stored in searcher.all_stored_fields():
                if self.corpus.owns(stored.get("id", "")):
                    indexed[stored["id"]] = stored.get("digest", "")
        condition = SearchChange.id > state.high
        if state.gaps:
            condition = or_(condition, SearchChange.id.in_(sorted(state.gaps)))
        drift.pending = session.scalar(select(func.count(SearchChange.id)).where(condition)) or 0
        expected: set[str] = set()
        for _key, fields in self.corpus.every(session):
            key = fields["id"]
            expected.add(key)
            if key not in indexed:
                drift.missing.append(key)
            elif indexed[key] != digest(fields):
                drift.stale.append(key)
        drift.orphaned = sorted(set(indexed) - expected)
        return drift


def _utc(epoch: float) -> dt.datetime:
    import datetime as dt

    return dt.datetime.fromtimestamp(epoch, dt.UTC)


@contextlib.contextmanager
def borrowed(session: Session) -> Iterator[Session]:
    """A SessionFactory result that lends an existing session (tests: the test's transaction)."""
    yield session
