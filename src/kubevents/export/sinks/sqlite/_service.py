"""The embedded SQLite store: the default sink, and what ``kubevents query`` reads.

One row per occurrence ``(uid, count)``: ``INSERT ... ON CONFLICT(uid, count) DO NOTHING`` makes
a replay, a relist or a second exporter on the same file harmless. The database runs in WAL
mode, so readers (the query CLI, another process) never block the writer and never see half a
batch: each batch is one transaction. ``synchronous=FULL`` (the default) syncs every committed
batch, so a batch the exporter acknowledges survives a power loss too; ``synchronous="normal"``
trades that for fewer fsyncs (a power loss may then roll back the last commits, which the
exporter's checkpoint may already count as stored): see docs/sinks/sqlite.md.

All database work happens on one dedicated thread, which owns the connection: sqlite3
connections must not be used from two threads at once, and a single writer also serialises the
pipeline's concurrent batches without asyncio locks. Retention deletes by occurrence time, at
start and then at most every ``prune_interval`` from the write path, in bounded steps.

The ``time`` column (retention, ordering, ``--since``) holds the occurrence's filing time, which
the exporter keeps within a window around now (``Occurrence.filing_time``): an Event dated 9999
must not outlive retention, nor one dated 0001 vanish at once. ``time_rfc3339`` and the Event
keep the occurrence's own time.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal, TypeVar

from kubevents.clock import Clock, RealClock
from kubevents.export._document import format_time
from kubevents.export._occurrence import Occurrence
from kubevents.export.sinks._base import Rejected, SinkError, WriteResult
from kubevents.export.sinks._files import DEFAULT_FILE_MODE, check_mode, create_private
from kubevents.export.sinks.sqlite._codec import EventCodec
from kubevents.export.sinks.sqlite._encoder import encode_rows
from kubevents.export.sinks.sqlite._migrate import migrate
from kubevents.export.sinks.sqlite._schema import (
    APPLICATION_ID,
    INSERT,
    PRUNE,
    SQLITE_MAGIC,
    V2_PAGE_SIZE,
    from_micros,
    schema_problem,
    sqlite_problem,
    to_micros,
)

__all__ = ["SQLiteSink"]

log = logging.getLogger(__name__)

_T = TypeVar("_T")

_PRUNE_CHUNK = 5_000  # rows per delete transaction: readers and the writer interleave
_PRUNE_STEP_CHUNKS = 4  # per write, so a big backlog of expired rows never stalls a batch
_VACUUM_STEP_BYTES = 8 * 1024 * 1024
_VACUUM_MIN_FREE_BYTES = 4 * 1024 * 1024  # below this (or 10% of the file), free pages are reused
_AUTO_VACUUM_INCREMENTAL = 2

_ERRNO_REASONS = {
    errno.EACCES: "permission",
    errno.EPERM: "permission",
    errno.EROFS: "read_only",
    errno.ENOSPC: "disk_full",
    errno.ENOTDIR: "not_a_directory",
    errno.EISDIR: "is_directory",
    errno.EEXIST: "not_a_directory",  # mkdir of a parent that is a file
}
_SQLITE_REASONS = {
    "FULL": "disk_full",
    "BUSY": "busy",
    "LOCKED": "busy",
    "READONLY": "read_only",
    "IOERR": "io_error",
    "CORRUPT": "corrupt",
    "NOTADB": "not_a_database",
    "CANTOPEN": "cannot_open",
    "PERM": "permission",
    "AUTH": "permission",
}


def _sqlite_reason(exc: sqlite3.Error) -> str:
    name: str = getattr(exc, "sqlite_errorname", "") or ""
    return _SQLITE_REASONS.get(name.removeprefix("SQLITE_").split("_")[0], "sqlite_error")


def _header(path: Path) -> bytes:
    try:
        with path.open("rb") as f:
            return f.read(len(SQLITE_MAGIC))
    except FileNotFoundError:
        return b""


class SQLiteSink:
    """Store occurrences in the SQLite database at ``path`` (created if missing).

    ``retention_days``: occurrences whose *occurrence time* is older are deleted (``None``: keep
    everything). ``clock`` drives retention and ``inserted_at``; tests pass a ``FakeClock``.
    A database the sink creates gets ``file_mode`` (0600 by default), and so do its -wal and
    -shm files.
    """

    def __init__(
        self,
        path: Path,
        *,
        retention_days: float | None = 30,
        name: str = "sqlite",
        clock: Clock | None = None,
        prune_interval: float = 3600.0,
        busy_timeout: float = 10.0,
        synchronous: Literal["full", "normal"] = "full",
        file_mode: int = DEFAULT_FILE_MODE,
    ) -> None:
        if synchronous not in ("full", "normal"):
            raise ValueError(f"synchronous must be 'full' or 'normal', not {synchronous!r}")
        self._synchronous = synchronous.upper()
        self._path = Path(path)
        self._mode = file_mode
        self._retention = None if retention_days is None else timedelta(days=retention_days)
        self._name = name
        self._clock: Clock = clock if clock is not None else RealClock()
        self._prune_interval = timedelta(seconds=prune_interval)
        self._busy_timeout = busy_timeout
        # One thread owns the connection; jobs run in submission order, and a cancelled
        # coroutine cannot stop a running job, so ``close`` still waits for it.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"kubevents-{name}")
        # Touched only on the worker thread.
        self._conn: sqlite3.Connection | None = None
        self._codec: EventCodec | None = None
        self._next_maintenance = from_micros(0)
        self._maintenance_pending = False
        self._closed = False

    @property
    def name(self) -> str:
        return self._name

    @property
    def path(self) -> Path:
        return self._path

    async def start(self) -> None:
        if self._retention is not None and self._retention <= timedelta(0):
            raise SinkError(
                f"sink {self._name}: retention_days must be positive (or None)", reason="config"
            )
        if self._closed:
            raise SinkError(f"sink {self._name} is closed", reason="closed")
        await self._run(self._start_sync)

    async def write(self, batch: Sequence[Occurrence]) -> WriteResult:
        if self._closed:
            raise SinkError(f"sink {self._name} is closed", reason="closed")
        if not batch:
            return WriteResult()
        rejected = await self._run(lambda: self._write_sync(batch))
        return WriteResult(rejected)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await self._run(self._close_sync)
        finally:
            self._executor.shutdown(wait=False)

    async def _run(self, fn: Callable[[], _T]) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    # -- worker thread -------------------------------------------------------------------------

    def _error(self, action: str, exc: sqlite3.Error) -> SinkError:
        return SinkError(f"sqlite {self._path}: {action}: {exc}", reason=_sqlite_reason(exc))

    def _start_sync(self) -> None:
        if self._conn is not None:
            return
        self._check_files()
        try:
            conn = sqlite3.connect(
                self._path, timeout=self._busy_timeout, isolation_level=None, cached_statements=16
            )
        except sqlite3.Error as exc:
            raise self._error("cannot open", exc) from None
        try:
            self._prepare(conn)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise self._error("cannot prepare the store", exc) from None
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        self._maintain(budget=None)

    def _check_files(self) -> None:
        path, parent = self._path, self._path.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SinkError(
                f"sqlite {path}: cannot create directory {parent}: {exc.strerror or exc}",
                reason=_ERRNO_REASONS.get(exc.errno or 0, "io_error"),
            ) from None
        if path.is_dir():
            raise SinkError(f"sqlite {path}: is a directory", reason="is_directory")
        # WAL mode creates ``<name>-wal`` and ``<name>-shm`` next to the database.
        if not os.access(parent, os.W_OK | os.X_OK):
            raise SinkError(
                f"sqlite {path}: directory {parent} is not writable (SQLite needs to create "
                f"{path.name}-wal and {path.name}-shm there)",
                reason="permission",
            )
        header = _header(path)
        if header and header != SQLITE_MAGIC:
            raise SinkError(
                f"sqlite {path}: not a SQLite database; refusing to touch it (choose another path)",
                reason="not_a_database",
            )
        # SQLite creates -wal and -shm with the database file's permission bits (whatever the
        # umask), so creating the database with the mode first covers all three.
        try:
            if not create_private(path, self._mode):
                for suffix in ("-wal", "-shm"):
                    check_mode(path.with_name(path.name + suffix), self._mode)
        except OSError as exc:
            raise SinkError(
                f"sqlite {path}: cannot create it: {exc.strerror or exc}",
                reason=_ERRNO_REASONS.get(exc.errno or 0, "io_error"),
            ) from None

    def _identify(self, conn: sqlite3.Connection) -> tuple[int, int, int]:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        objects = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        return int(app_id), int(version), int(objects)

    def _check_identity(self, app_id: int, version: int, objects: int) -> bool:
        """True if the database is empty (to be created); raise if it is not a usable store."""
        # Every store is brought to the current schema, which this SQLite must support.
        problem = sqlite_problem(sqlite3.sqlite_version_info, sqlite3.sqlite_version)
        if problem is not None:
            raise SinkError(f"sqlite {self._path}: {problem}", reason="sqlite_too_old")
        if app_id == 0 and version == 0 and objects == 0:
            return True
        problem = schema_problem(app_id, version)
        if problem is not None:
            raise SinkError(
                f"sqlite {self._path}: {problem}; refusing to write to it", reason="not_a_store"
            )
        return False

    def _prepare(self, conn: sqlite3.Connection) -> None:
        if self._check_identity(*self._identify(conn)):
            # Only take effect before the first table exists, hence only on a new file.
            conn.execute(f"PRAGMA page_size = {V2_PAGE_SIZE}")
            conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise SinkError(
                f"sqlite {self._path}: cannot enable WAL mode (journal mode {mode}); readers "
                "would block the exporter (is it on a network file system?)",
                reason="no_wal",
            )
        conn.execute(f"PRAGMA synchronous = {self._synchronous}")
        conn.execute("PRAGMA journal_size_limit = 67108864")
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Again under the write lock: another exporter may have created it meanwhile.
            app_id, version, objects = self._identify(conn)
            self._check_identity(app_id, version, objects)
            migrate(conn, version, f"sink {self._name}: {self._path}")
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            self._codec = EventCodec.for_writer(conn)
            conn.execute("COMMIT")
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")

    def _write_sync(self, batch: Sequence[Occurrence]) -> list[Rejected]:
        conn = self._conn
        if conn is None:
            raise SinkError(f"sink {self._name} is not started", reason="not_started")
        rows, rejected = encode_rows(batch, to_micros(self._clock.now()), self._codec)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(INSERT, rows)
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise self._error("cannot store a batch", exc) from None
        finally:
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
        self._maintain(budget=_PRUNE_STEP_CHUNKS)
        return rejected

    def _maintain(self, *, budget: int | None) -> None:
        """Retention, then incremental vacuum; ``budget`` chunks at most (None: until done)."""
        conn = self._conn
        assert conn is not None
        now = self._clock.now()
        if not self._maintenance_pending and now < self._next_maintenance:
            return
        self._next_maintenance = now + self._prune_interval
        try:
            done = self._prune(conn, now, budget) and self._vacuum(conn, budget)
        except sqlite3.Error as exc:
            # The batch is committed; maintenance simply tries again next interval.
            log.warning("sink %s: retention of %s failed: %s", self._name, self._path, exc)
            done = True
        finally:
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
        self._maintenance_pending = not done

    def _prune(self, conn: sqlite3.Connection, now: datetime, budget: int | None) -> bool:
        if self._retention is None:
            return True
        cutoff = to_micros(now - self._retention)
        removed, chunks, done = 0, 0, False
        while not done and (budget is None or chunks < budget):
            chunks += 1
            # Autocommit: each chunk is its own short transaction.
            deleted = conn.execute(PRUNE, (cutoff, _PRUNE_CHUNK)).rowcount
            removed += deleted
            done = deleted < _PRUNE_CHUNK
        if removed:
            log.info(
                "sink %s: retention removed %d occurrences older than %s",
                self._name,
                removed,
                format_time(now - self._retention),
            )
        return done

    def _vacuum(self, conn: sqlite3.Connection, budget: int | None) -> bool:
        if conn.execute("PRAGMA auto_vacuum").fetchone()[0] != _AUTO_VACUUM_INCREMENTAL:
            return True
        free = int(conn.execute("PRAGMA freelist_count").fetchone()[0])
        pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
        # Stores of schema 1 have 4 KiB pages, newer ones 16 KiB.
        page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
        # Steady retention frees about what the next hour inserts: giving those pages back to
        # the file system only to grow it again is churn. Shrink when a lot is free.
        if free < max(_VACUUM_MIN_FREE_BYTES // page_size, pages // 10):
            return True
        step = free if budget is None else min(free, _VACUUM_STEP_BYTES // page_size * budget)
        # Not ``execute``: the pragma frees one page per step, and sqlite3's ``execute`` steps a
        # statement without result columns only once. ``executescript`` runs it to the end.
        conn.executescript(f"PRAGMA incremental_vacuum({step})")
        return step >= free

    def _close_sync(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            # Cheap, and keeps the query planner's statistics fresh for the readers.
            conn.execute("PRAGMA optimize")
        except sqlite3.Error as exc:
            log.debug("sink %s: PRAGMA optimize failed: %s", self._name, exc)
        finally:
            conn.close()
