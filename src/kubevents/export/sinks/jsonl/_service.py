"""JSON Lines to a file (durable, optionally rotated) or to stdout.

Delivery: ``write`` returns only after the batch's lines are written and ``fsync``ed, so an
acknowledged occurrence survives a crash or power loss. A failed write is rolled back (the file
is truncated to where it was) so the pipeline's retry does not leave a torn line behind.

Idempotency: a plain file cannot look up past ids cheaply, so the sink only guarantees that one
process never writes the same id twice (it remembers the last ``recent_ids`` ids). After a crash
the exporter re-sends what it had not checkpointed yet, so a file can hold a bounded number of
repeats across restarts; every line carries its ``id`` for consumers to drop them.
"""

from __future__ import annotations

import logging
import os
import sys
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import msgspec

from kubevents.export._document import occurrence_document
from kubevents.export._occurrence import Occurrence
from kubevents.export.sinks._base import SinkError, WriteResult
from kubevents.export.sinks._files import (
    DEFAULT_FILE_MODE,
    Worker,
    fsync_dir,
    io_error,
    open_append,
    write_all,
)

__all__ = ["DEFAULT_RECENT_IDS", "JSONLSink"]

log = logging.getLogger(__name__)

DEFAULT_RECENT_IDS = 100_000


class JSONLSink:
    """Append one export document per line to ``path`` (``None`` or ``-``: stdout).

    With ``max_bytes``, a file that a batch would push past that size is first renamed to
    ``path.1`` (``path.1`` to ``path.2`` … up to ``path.<backups>``, the oldest dropped); a batch
    is never split across files, so a single batch larger than ``max_bytes`` gets a file alone.
    A file the sink creates gets ``file_mode`` (0600 by default; backups keep it).
    """

    def __init__(
        self,
        path: Path | None,
        *,
        name: str = "jsonl",
        max_bytes: int | None = None,
        backups: int = 5,
        recent_ids: int = DEFAULT_RECENT_IDS,
        file_mode: int = DEFAULT_FILE_MODE,
    ) -> None:
        self._path = None if path is None or str(path) == "-" else Path(path)
        self._mode = file_mode
        self._name = name
        self._max_bytes = max_bytes
        self._backups = backups
        self._recent_limit = recent_ids
        # Touched only on the worker thread, so no lock is needed.
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._fd: int | None = None
        self._worker = Worker(f"kubevents-{name}")
        self._encoder = msgspec.json.Encoder()
        self._closed = False

    @property
    def name(self) -> str:
        return self._name

    @property
    def path(self) -> Path | None:
        """The file written, or ``None`` for stdout."""
        return self._path

    async def start(self) -> None:
        if self._max_bytes is not None and self._max_bytes < 1:
            raise SinkError(f"max_bytes must be positive, got {self._max_bytes}", reason="config")
        if self._backups < 0:
            raise SinkError(f"backups must not be negative, got {self._backups}", reason="config")
        if self._path is not None:
            await self._worker.run(self._open)

    async def write(self, batch: Sequence[Occurrence]) -> WriteResult:
        if self._closed:
            raise SinkError(f"sink {self._name} is closed", reason="closed")
        await self._worker.run(lambda: self._write_sync(batch))
        return WriteResult()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._worker.run(self._close_sync)
        self._worker.shutdown()

    # -- worker thread -------------------------------------------------------------------------

    def _open(self) -> None:
        if self._fd is not None:
            return
        path = self._path
        assert path is not None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fd, _ = open_append(path, self._mode)
            fsync_dir(path.parent)
        except OSError as exc:
            self._close_sync()
            raise io_error("cannot open", path, exc) from None

    def _close_sync(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)

    def _fresh(self, batch: Sequence[Occurrence]) -> list[Occurrence]:
        seen = self._recent
        fresh: dict[str, Occurrence] = {}
        for occ in batch:
            if occ.id not in seen and occ.id not in fresh:
                fresh[occ.id] = occ
        return list(fresh.values())

    def _remember(self, occurrences: Sequence[Occurrence]) -> None:
        seen = self._recent
        for occ in occurrences:
            seen[occ.id] = None
        while len(seen) > self._recent_limit:
            seen.popitem(last=False)

    def _write_sync(self, batch: Sequence[Occurrence]) -> None:
        fresh = self._fresh(batch)
        if not fresh:
            return
        data = self._encoder.encode_lines([occurrence_document(o) for o in fresh])
        if self._path is None:
            self._write_stdout(data)
        else:
            self._write_file(data)
        self._remember(fresh)

    def _write_stdout(self, data: bytes) -> None:
        # Looked up per write, not at start: tests and embedding apps swap sys.stdout.
        stream = sys.stdout
        try:
            stream.flush()  # anything printed as text goes before our bytes
            binary = getattr(stream, "buffer", None)
            if binary is None:
                stream.write(data.decode())
                stream.flush()
            else:
                binary.write(data)
                binary.flush()
        except OSError as exc:
            raise io_error("cannot write to", "stdout", exc) from None
        except ValueError as exc:  # a closed stream
            raise SinkError(f"cannot write to stdout: {exc}", reason="closed") from None

    def _write_file(self, data: bytes) -> None:
        path = self._path
        assert path is not None
        if self._fd is not None and self._replaced(path, self._fd):
            # Appending to an unlinked inode would "succeed" and vanish: follow the path, as
            # log shippers do, and start a new file where the old one was.
            log.warning(
                "sink %s: %s was moved or deleted; writing to a new file at that path",
                self._name,
                path,
            )
            self._close_sync()
        if self._fd is None:
            self._open()
        # The size is asked each time: an external copytruncate may have emptied the file.
        start = self._file_size(path)
        if self._max_bytes is not None and start > 0 and start + len(data) > self._max_bytes:
            self._rotate(path)
            start = self._file_size(path)
        fd = self._fd
        assert fd is not None
        try:
            write_all(fd, data)
            os.fsync(fd)
        except OSError as exc:
            self._roll_back(fd, start)
            raise io_error("cannot write to", path, exc) from None

    @staticmethod
    def _replaced(path: Path, fd: int) -> bool:
        """Whether ``path`` no longer names the open file (deleted, moved, or replaced)."""
        try:
            opened = os.fstat(fd)
            current = os.stat(path)
        except OSError:
            return True
        return opened.st_nlink == 0 or (current.st_dev, current.st_ino) != (
            opened.st_dev,
            opened.st_ino,
        )

    def _file_size(self, path: Path) -> int:
        assert self._fd is not None
        try:
            return os.fstat(self._fd).st_size
        except OSError as exc:
            raise io_error("cannot write to", path, exc) from None

    def _roll_back(self, fd: int, size: int) -> None:
        try:
            os.ftruncate(fd, size)
            os.fsync(fd)
        except OSError as exc:
            # The retry may then repeat some lines; their ids let consumers drop the repeats.
            log.error(
                "sink %s: cannot roll back a failed write of %s: %s", self._name, self._path, exc
            )

    def _rotate(self, path: Path) -> None:
        self._close_sync()
        try:
            if self._backups == 0:
                path.unlink(missing_ok=True)
            else:
                for i in range(self._backups - 1, 0, -1):
                    older = path.with_name(f"{path.name}.{i}")
                    if older.exists():
                        older.replace(path.with_name(f"{path.name}.{i + 1}"))
                path.replace(path.with_name(f"{path.name}.1"))
            fsync_dir(path.parent)
        except OSError as exc:
            raise io_error("cannot rotate", path, exc) from None
        finally:
            # Keep appending to whatever is there if the rotation failed half-way.
            self._open()
