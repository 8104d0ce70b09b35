"""Each index folder reports how far it has followed the change log, so the log can be pruned below all of them.

A replica is one index folder on one host (its id derives from both, so a copied folder is a new replica).
It writes its row in ``search_replicas`` when its position moved, and otherwise at most every
SEARCH_REPLICA_HEARTBEAT_SECONDS: one UPDATE (an INSERT the first time) in a short transaction of its own,
never one per poll of an idle log.
"""
from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import insert, update

from tracker.models.search_replica import SearchReplica
from tracker.models.types import utcnow
from tracker.search.errors import SearchUnavailable

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from tracker.search.indexer import Indexer

log = logging.getLogger(__name__)


def replica_id(root: str | os.PathLike[str], host: str | None = None) -> str:
    """The stable id of the index folder ``root`` on ``host`` (this machine when None)."""
    host = host or socket.gethostname()
    return hashlib.sha256(f"{host}\n{Path(root).resolve()}".encode()).hexdigest()[:32]


class ReplicaHeartbeat:
    """Reports the position of one index folder (the lower of its indexers') in ``search_replicas``."""

    def __init__(self, root: str | os.PathLike[str], indexers: Sequence[Indexer], engine: Engine, *,
                 interval: Callable[[], float], clock: Callable[[], float] = time.monotonic) -> None:
        self.root = Path(root).resolve()
        self.host = socket.gethostname()
        self.id = replica_id(self.root, self.host)
        self.indexers = tuple(indexers)
        self.engine = engine
        self.interval = interval
        self.clock = clock
        self._last: tuple[int, int, int] | None = None
        self._last_at = 0.0
        self._lock = threading.Lock()

    def position(self) -> tuple[int, int, int] | None:
        """(highest id applied, id through which every row is applied, open gaps) of the folder, None when
        one of its indexes is missing or of another schema (it has no position to report)."""
        try:
            states = [indexer.position() for indexer in self.indexers]
        except SearchUnavailable:
            return None
        high = min(state.high for state in states)
        complete = min(min(state.gaps, default=state.high + 1) - 1 for state in states)
        return high, min(high, complete), sum(len(state.gaps) for state in states)

    def beat(self, *, force: bool = False) -> bool:
        """Write the row when the position moved, when the interval has passed, or when ``force``d; True
        when it was written. A failure (a database busy or not yet migrated) is logged, never raised:
        the next beat tries again."""
        with self._lock:
            position = self.position()
            if position is None:
                return False
            now = self.clock()
            if not force and position == self._last and now - self._last_at < self.interval():
                return False
            try:
                self._write(*position)
            except Exception as error:  # reporting must never stop the index from following the log
                log.warning("search replica %s: could not report its position (%s: %s)", self.id,
                            error.__class__.__name__, error)
                return False
            self._last, self._last_at = position, now
            return True

    def _write(self, high: int, complete: int, gaps: int) -> None:
        values = {"host": self.host[:255], "index_path": str(self.root)[:1000], "position": high,
                  "complete_through": complete, "gaps": gaps, "heartbeat_at": utcnow()}
        with self.engine.begin() as connection:
            updated = connection.execute(update(SearchReplica).where(SearchReplica.id == self.id).values(**values))
            if updated.rowcount == 0:
                connection.execute(insert(SearchReplica).values(id=self.id, **values))
