"""Where the bytes of attached files live: a small store interface, and the database store used by default.

The database store keeps each file in chunks of CHUNK_SIZE bytes: an upload is hashed while it is
spooled to a temporary file, then written a chunk at a time, and a download reads one chunk per query,
so a 25 MiB file never sits in memory whole, let alone twice. One backup of the database then holds
every file, and every host behind a load balancer sees every file. Another store (an S3-compatible
bucket) implements the same four methods and is named in ``StoredFile.storage``.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from tracker.models import StoredFile, StoredFileChunk

CHUNK_SIZE = 1024 * 1024
SessionFactory = Callable[[], AbstractContextManager[Session]]


class TooLarge(Exception):
    """An upload is larger than the configured limit (nothing of it is kept)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"larger than {limit} bytes")
        self.limit = limit


@dataclass(frozen=True)
class Received:
    """An upload spooled to a temporary file: where, how many bytes, and their SHA-256."""

    path: Path
    size: int
    sha256: str


@contextlib.contextmanager
def received(stream: IO[bytes], limit: int) -> Iterator[Received]:
    """Copy ``stream`` to a temporary file a chunk at a time, hashing it; the file is removed on exit.

    Raises:
        TooLarge: more than ``limit`` bytes arrived (reading stops there).
    """
    digest = hashlib.sha256()
    size = 0
    handle, name = tempfile.mkstemp(prefix="tracker-upload-")
    path = Path(name)
    try:
        with os.fdopen(handle, "wb") as out:
            while True:
                chunk = stream.read(CHUNK_SIZE)
                if not chunk:
                    break
                size += len(chunk)
                if size > limit:
                    raise TooLarge(limit)
                digest.update(chunk)
                out.write(chunk)
        yield Received(path, size, digest.hexdigest())
    finally:
        path.unlink(missing_ok=True)


class FileStore(Protocol):
    """Keeps bytes by their SHA-256. Writes happen in the caller's transaction where the store allows it."""

    name: str

    def put(self, session: Session, sha256: str, path: Path) -> None: ...

    def chunks(self, sessions: SessionFactory, sha256: str) -> Iterator[bytes]: ...

    def delete(self, session: Session, sha256: str) -> None: ...


class DatabaseStore:
    """Files in the ``stored_file_chunks`` table, CHUNK_SIZE bytes per row."""

    name = "database"

    def put(self, session: Session, sha256: str, path: Path) -> None:
        """Write the file's chunks in the caller's transaction (one INSERT per chunk, one chunk in memory)."""
        with open(path, "rb") as handle:
            seq = 0
            while True:
                data = handle.read(CHUNK_SIZE)
                if not data:
                    break
                # A plain INSERT per chunk: the session's identity map never holds the chunks.
                session.execute(insert(StoredFileChunk), [{"sha256": sha256, "seq": seq, "data": data}])
                seq += 1

    def chunks(self, sessions: SessionFactory, sha256: str) -> Iterator[bytes]:
        """The file's bytes, one chunk per query, each in a short read of its own (a download may outlast
        the request's session)."""
        seq = 0
        while True:
            with sessions() as session:
                data = session.scalar(select(StoredFileChunk.data)
                                      .where(StoredFileChunk.sha256 == sha256, StoredFileChunk.seq == seq))
            if data is None:
                return
            yield bytes(data)
            seq += 1

    def delete(self, session: Session, sha256: str) -> None:
        session.execute(delete(StoredFileChunk).where(StoredFileChunk.sha256 == sha256))


STORES: dict[str, FileStore] = {"database": DatabaseStore()}


def store_for(stored: StoredFile) -> FileStore:
    """The store that holds a stored file's bytes."""
    return STORES[stored.storage]


def default_store() -> FileStore:
    return STORES["database"]
