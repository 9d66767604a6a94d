"""``when_full: spool``: a sink's buffer that outlives an outage of any length, on disk.

Memory first: while nothing of the sink waits on disk, an occurrence stays in memory and is
acknowledged to the ack log when the sink has stored it, as in a ``block`` buffer; a healthy
sink, even one that falls behind in a burst, costs no disk and no second decode. An occurrence
the sink has not stored within ``spill_after`` of its arrival is *spilled*: it is written to the
spool, with every other one in memory, and acknowledged once on disk; from then on arrivals go
to disk too, until the sink has stored all the spool holds. So the watch waits at most
``spill_after`` for a sink (when memory is full), and the resume point trails a dead sink by
no more than that. ``spill_after: 0`` writes everything to disk first.

On disk, occurrences are appended to a segment log (``_segmentlog``) in group commits: what
arrives within ``commit_delay`` (or ``commit_max`` entries) is written and fsynced together, an
occurrence encoded only when its group is written. The entries just committed stay in memory,
so the sink is fed without reading the disk back while it keeps up; a sink that fell behind is
fed from disk. What the sink stores is acknowledged in the spool, and a restart replays
everything after the spool's own mark (the sink's idempotent ids absorb the repeats).
``cache_size`` bounds what the spool holds in memory: the occurrences not spilled, the
committed ones cached, and what the sink has taken and not yet stored, together. All file work
runs on one thread.

After a hard stop, occurrences that arrive again and are still in the spool unsent are not
spooled twice (``_spoolrecovery``).

Full (``max_bytes``): ``overflow: block`` makes ``put`` wait for room, pausing the watch;
``drop_oldest`` deletes the oldest segments and counts the occurrences lost.

One module of about 600 lines: putting (memory, spills, group commits), taking (memory, then
disk) and completing (the acknowledged mark) move one set of sequence counters that must stay
consistent with each other; the record payload and the segment log are apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from kubevents.export._buffer import Acknowledge, Entry, WhenFull
from kubevents.export._metrics import ExportMetrics
from kubevents.export._segmentlog import FsyncPolicy, SegmentLog, SpoolFullError
from kubevents.export._segmentlog import WhenFull as Overflow
from kubevents.export._segmentrecord import HEADER_SIZE, Record
from kubevents.export._spoolpayload import decode_occurrence, encode_occurrence
from kubevents.export._spoolrecovery import RecoveredIds
from kubevents.export._supervisor import TaskSupervisor

__all__ = ["DEFAULT_SPILL_AFTER", "SpoolBuffer"]

log = logging.getLogger(__name__)

_T = TypeVar("_T")

# Well past a batch's flush delay (1 s) and a burst's wait in a full memory buffer (well under a
# second at a sink's usual thousands per second): a sink that keeps storing never spills, and
# a dead one holds the watch and the resume point back by a few seconds only.
DEFAULT_SPILL_AFTER = 5.0
DEFAULT_COMMIT_DELAY = 0.05
DEFAULT_COMMIT_MAX = 1_000
# Groups that may gather while one is on disk before ``put`` waits too: a memory bound (each
# pending occurrence is about 3 KiB). Two keep the watch ahead of a sink that falls behind in
# a burst, which is when they fill; more only held more occurrences at the burst's peak RSS.
MAX_PENDING_COMMITS = 2
# The spool's acknowledged mark is rewritten at most this often (each write is a small fsync).
ACK_INTERVAL = 0.2
RETRY_INITIAL_DELAY = 1.0
RETRY_MAX_DELAY = 30.0
# ``Entry.sequence`` of an occurrence taken from memory that its sink stored while its spill
# was being written: its record is acknowledged as soon as it has a sequence.
_STORED_WHILE_SPILLING = -1


class SpoolBuffer:
    """The ``spool`` buffer of sink ``sink``, in ``directory``."""

    when_full: WhenFull = "spool"

    def __init__(
        self,
        sink: str,
        directory: Path,
        acknowledge: Acknowledge,
        metrics: ExportMetrics,
        supervisor: TaskSupervisor,
        *,
        max_bytes: int,
        overflow: Overflow = "block",
        fsync: FsyncPolicy = "always",
        segment_bytes: int | None = None,
        cache_size: int = 4_000,
        spill_after: float = DEFAULT_SPILL_AFTER,
        commit_delay: float = DEFAULT_COMMIT_DELAY,
        commit_max: int = DEFAULT_COMMIT_MAX,
        file_mode: int = 0o600,
    ) -> None:
        # Dropping or freeing room happens a segment at a time: several segments fit the cap.
        segment = segment_bytes or max(4096, min(16 * 1024 * 1024, max_bytes // 8))
        self._chunk_bytes = segment
        self._log = SegmentLog(
            directory, max_bytes=max_bytes, segment_bytes=segment, fsync=fsync,
            when_full=overflow, file_mode=file_mode,
        )  # fmt: skip
        self._sink = sink
        self._acknowledge = acknowledge
        self._supervisor = supervisor
        self._cache_size = cache_size
        self._spill_after = spill_after
        # Memory first (see the module's doc): entries not on disk, not acknowledged yet.
        self._memory = False  # whether arrivals stay in memory; set once the spool is drained
        self._front: deque[Entry] = deque()  # waiting for the sink
        self._front_taken: dict[int, Entry] = {}  # id -> handed to the sink, oldest first
        self._spilling: set[int] = set()  # ids of taken entries whose spill is being written
        self._front_filled = asyncio.Event()  # the watchdog has an oldest entry to time
        self._watchdog: asyncio.Task[None] | None = None
        self._commit_delay = commit_delay
        self._commit_max = commit_max
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"spool-{sink}")
        # Encoded only when committed: a pending entry holds its occurrence, not its record too.
        self._pending: list[Entry] = []
        self._committer: asyncio.Task[None] | None = None
        self._commit_lock = asyncio.Lock()
        self._commit_now = asyncio.Event()  # a whole group is pending: no need to wait
        self._cache: OrderedDict[int, Entry] = OrderedDict()  # committed, not yet taken
        self._read = 1  # the next sequence to hand to the sink
        self._done: set[int] = set()
        self._acked = 0  # everything up to here is stored by the sink
        self._ack_task: asyncio.Task[None] | None = None
        self._arrived = asyncio.Event()
        self._room = asyncio.Event()
        self._taken = 0  # handed to the sink's driver, not yet completed
        self._freed = asyncio.Event()
        self._commits: deque[tuple[int, float]] = deque()  # (last sequence, commit time)
        self._oldest_recovered: float | None = None
        self._respooled = RecoveredIds(set())
        self._next = 1  # the log's next sequence, as of its last change
        self._size = 0
        self._dropped = 0  # occurrences the log dropped to make room, as counted so far
        self.failing_since: float | None = None
        self.last_error = ""
        self._mark_error = ""  # why the last mark could not be written ("" once one was)
        self._metrics = metrics
        self._depth = metrics.buffer_depth.labels(sink)
        self._bytes = metrics.buffer_bytes.labels(sink)
        metrics.buffer_max_bytes.labels(sink).set(max_bytes)
        self._spills = metrics.spool_spills.labels(sink)
        self._closed = False

    async def _run(self, fn: Callable[[], _T]) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        stats = await self._run(self._log.open)
        self._acked = self._log.acknowledged
        self._read = self._acked + 1
        self._next, self._size = self._log.next_sequence, self._log.size
        if stats.recovered:
            self._oldest_recovered = time.monotonic()
            first = self._read
            self._respooled = await self._run(
                lambda: RecoveredIds.read(self._log, first, decode_occurrence)
            )
            log.info(
                "sink %s: %d occurrences waiting in the spool %s are sent first",
                self._sink, stats.recovered, self._log.directory,
            )  # fmt: skip
        damaged = stats.damaged_regions + (1 if stats.torn_tail_bytes else 0)
        if damaged:
            self._metrics.spool_damaged.labels(self._sink).inc(damaged)
            log.warning(
                "sink %s: spool %s had %d damaged stretches (%d bytes) and a torn tail of %d "
                "bytes; the records in them are skipped",
                self._sink, self._log.directory, stats.damaged_regions, stats.damaged_bytes,
                stats.torn_tail_bytes,
            )  # fmt: skip
        if self._spill_after > 0:
            self._watchdog = self._supervisor.spawn(self._spill_when_late(), f"spool-{self._sink}")
        self._update_gauges()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._watchdog is not None:
            self._watchdog.cancel()
        await self.settle()  # what is only in memory is spilled: durable, replayed after start
        if self._ack_task is not None:
            await asyncio.shield(self._ack_task)
        try:
            await self._run(lambda: self._log.acknowledge(self._acked))
        except OSError as exc:
            self._mark_failed(exc)
        await self._run(self._log.close)
        self._executor.shutdown(wait=False)

    # -- putting: group commit -----------------------------------------------------------------

    async def put(self, entry: Entry) -> None:
        if self._respooled.holds(entry.occurrence.id):
            self._acknowledge(entry)  # on disk since before a restart: that copy is sent
            return
        if not self._memory and self._drained():
            self._memory = True
        if self._memory:
            while len(self._front) + self._taken >= self._cache_size:
                self._freed.clear()
                await self._freed.wait()  # room, or a spill (the watchdog's)
                if not self._memory:
                    break
            else:
                if not self._front and not self._front_taken:
                    self._front_filled.set()
                entry.enqueued = time.monotonic()
                self._front.append(entry)
                self._arrived.set()
                return
        self._pending.append(entry)
        pending = len(self._pending)
        if pending >= self._commit_max * MAX_PENDING_COMMITS:
            await self._commit()  # bounds memory; waits when the spool is full (overflow: block)
            return
        self._schedule_commit(now=pending >= self._commit_max)

    def _schedule_commit(self, *, now: bool) -> None:
        if self._committer is None:
            self._committer = self._supervisor.spawn(
                self._commit_later(), f"spool-{self._sink}", forever=False
            )
        if now:
            self._commit_now.set()

    def _drained(self) -> bool:
        """Nothing on disk or on its way there is waiting for the sink: memory may take over."""
        return (
            self._spill_after > 0 and self._acked >= self._next - 1 and not self._pending
            and self._committer is None and not self._commit_lock.locked() and not self._closed
        )  # fmt: skip

    # -- spilling: memory to disk --------------------------------------------------------------

    async def _spill_when_late(self) -> None:
        """Spill once the oldest occurrence in memory has waited ``spill_after``."""
        while True:
            oldest = self._oldest_in_memory()
            if oldest is None:
                self._front_filled.clear()
                await self._front_filled.wait()
                continue
            late = oldest.enqueued + self._spill_after - time.monotonic()
            if late > 0:
                await asyncio.sleep(late)
            else:
                self._spill()

    def _oldest_in_memory(self) -> Entry | None:
        # Taken entries were taken oldest first, and before anything still waiting.
        for entry in self._front_taken.values():
            return entry
        return self._front[0] if self._front else None

    def _spill(self) -> None:
        """Everything in memory goes to disk, in arrival order, and arrivals follow it there."""
        if not self._memory or (not self._front and not self._front_taken):
            return
        self._memory = False
        taken = list(self._front_taken.values())
        self._spilling = set(self._front_taken)
        self._front_taken.clear()
        self._pending[:0] = [*taken, *self._front]
        self._front.clear()
        self._spills.inc()
        log.info(
            "sink %s: %d occurrences not stored within %gs are written to the spool %s",
            self._sink, len(self._pending), self._spill_after, self._log.directory,
        )  # fmt: skip
        self._freed.set()  # a put waiting for room in memory goes to disk now
        self._schedule_commit(now=True)

    async def _commit_later(self) -> None:
        # The watch goes on decoding while a commit is on disk: the next group gathers
        # meanwhile, and only a backlog of several groups makes ``put`` wait.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._commit_now.wait(), self._commit_delay)
        async with self._commit_lock:
            self._committer = None
            self._commit_now.clear()
            await self._commit_pending()

    async def settle(self) -> None:
        self._spill()
        # A commit in progress is never cancelled: its entries would be on disk but never
        # acknowledged, and the checkpoint would wait for them for ever.
        committer = self._committer
        if committer is not None:
            await asyncio.shield(committer)
        await self._commit()

    def settled(self) -> bool:
        return (
            not self._pending and not self._commit_lock.locked()
            and not self._front and not self._front_taken
        )  # fmt: skip

    async def _commit(self) -> None:
        async with self._commit_lock:
            await self._commit_pending()

    async def _commit_pending(self) -> None:
        pending, self._pending = self._pending, []
        chunk: list[tuple[Entry, bytes]] = []
        size = 0
        for entry in pending:
            payload = encode_occurrence(entry.occurrence)
            # Appended a segment's worth at a time, so that no append is larger than what
            # the spool can make room for.
            if chunk and size + len(payload) > self._chunk_bytes:
                await self._commit_chunk(chunk)
                chunk, size = [], 0
            chunk.append((entry, payload))
            size += len(payload) + HEADER_SIZE
        if chunk:
            await self._commit_chunk(chunk)

    async def _commit_chunk(self, batch: list[tuple[Entry, bytes]]) -> None:
        if len(batch) == 1 and len(batch[0][1]) + HEADER_SIZE > self._log.max_bytes:
            entry = batch[0][0]
            self._metrics.buffer_dropped.labels(self._sink, "too_large").inc()
            log.error(
                "sink %s: %s is larger than the whole spool (%d bytes); dropped",
                self._sink, entry.occurrence.id, self._log.max_bytes,
            )  # fmt: skip
            self._acknowledge(entry)
            return
        last = await self._append([payload for _, payload in batch])
        first = last - len(batch) + 1
        now = time.monotonic()
        self._commits.append((last, now))
        spilling = self._spilling
        for offset, (entry, _) in enumerate(batch):
            sequence = first + offset
            if spilling and id(entry) in spilling:
                # Taken from memory before its spill: the sink has it, so the reader passes it
                # by, and a record its sink has stored already is done at once.
                spilling.discard(id(entry))
                self._read = sequence + 1
                if entry.sequence == _STORED_WHILE_SPILLING:
                    self._done.add(sequence)  # and acknowledged when it was stored
                else:
                    entry.sequence = sequence
                    self._acknowledge(entry)
                continue
            entry.sequence = sequence
            entry.enqueued = now
            self._acknowledge(entry)
            self._cache_entry(entry)
        if self._done:
            self._advance()
        self._arrived.set()
        self._update_gauges()

    async def _append(self, payloads: list[bytes]) -> int:
        """Append until it works: a full spool waits for room, a failing disk is retried."""
        delay = RETRY_INITIAL_DELAY

        def append() -> tuple[int, int, int, int, int]:
            last = self._log.append(payloads)
            log_ = self._log
            return last, log_.next_sequence, log_.size, log_.acknowledged, log_.stats.dropped

        while True:
            try:
                last, self._next, self._size, acknowledged, dropped = await self._run(append)
            except SpoolFullError:
                self._metrics.spool_full_waits.labels(self._sink).inc()
                self._room.clear()
                await self._room.wait()
                continue
            except OSError as exc:
                self._metrics.sink_errors.labels(self._sink, "spool_io").inc()
                if self.failing_since is None:
                    self.failing_since = time.monotonic()
                if f"spool: {exc.strerror}" != self.last_error:
                    log.error(
                        "sink %s: cannot write to the spool %s: %s; retrying (the watch waits "
                        "for this sink meanwhile)", self._sink, self._log.directory, exc,
                    )  # fmt: skip
                self.last_error = f"spool: {exc.strerror or exc}"
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_DELAY)
                continue
            if self.failing_since is not None:
                log.info("sink %s: the spool %s is writable again", self._sink, self._log.directory)
                self.failing_since, self.last_error = None, ""
            if dropped > self._dropped:
                self._lost(dropped - self._dropped, acknowledged)
                self._dropped = dropped
            return last

    def _cache_entry(self, entry: Entry) -> None:
        # The cache is a gap-free run starting at the next sequence to hand out; once an entry
        # does not fit, later ones wait on disk until the reader has caught up. What the sink
        # has taken and not yet stored counts against the same bound: together they are what
        # the spool holds in memory once committed.
        if len(self._cache) + self._taken >= self._cache_size:
            return
        expected = next(reversed(self._cache)) + 1 if self._cache else self._read
        if entry.sequence == expected:
            self._cache[entry.sequence] = entry

    def _lost(self, count: int, acknowledged: int) -> None:
        """The log dropped its oldest ``count`` occurrences to make room (``drop_oldest``)."""
        self._metrics.buffer_dropped.labels(self._sink, "spool_full").inc(count)
        self._acked = max(self._acked, acknowledged)
        self._done = {s for s in self._done if s > self._acked}
        self._skip_to(self._acked + 1)

    # -- taking --------------------------------------------------------------------------------

    async def take(self, limit: int) -> list[Entry]:
        # What is taken stays in memory until stored: ``cache_size`` bounds it, the cache
        # included.
        while self._taken >= self._cache_size:
            self._freed.clear()
            await self._freed.wait()
        limit = min(limit, self._cache_size - self._taken)
        entries = await self._take(limit)
        self._taken += len(entries)
        return entries

    async def _take(self, limit: int) -> list[Entry]:
        while True:
            if self._read in self._cache:
                entries: list[Entry] = []
                while len(entries) < limit and self._read in self._cache:
                    entries.append(self._cache.pop(self._read))
                    self._read += 1
                return entries
            if self._read < self._next:
                entries = await self._from_disk(limit)
                if entries:
                    return entries
                continue
            if self._front:  # only while nothing waits on disk: it would be older
                front, taken = self._front, self._front_taken
                entries = [front.popleft() for _ in range(min(limit, len(front)))]
                for entry in entries:
                    taken[id(entry)] = entry
                return entries
            self._arrived.clear()
            await self._arrived.wait()

    async def _from_disk(self, limit: int) -> list[Entry]:
        start = self._read

        def read() -> list[Record]:
            self._log.seek(start)
            return self._log.read(limit)

        records = await self._run(read)
        if not records:
            # Nothing readable before the end: damaged records were skipped.
            self._skip_to(self._next)
            self._advance()
            return []
        entries: list[Entry] = []
        # A record's age in the buffer: how long ago it was written, on the monotonic clock.
        now, wall_ms = time.monotonic(), time.time() * 1000
        for record in records:
            if record.sequence != self._read:
                self._skip_to(record.sequence)  # what the log skipped before it was damaged
            self._read = record.sequence + 1
            try:
                occurrence = decode_occurrence(record.payload)
            except ValueError as exc:
                self._metrics.malformed.labels("spool").inc()
                log.warning("sink %s: skipping a spool record: %s", self._sink, exc)
                self._done.add(record.sequence)
                continue
            entry = Entry(occurrence, None, record.sequence)
            entry.enqueued = now - max(0.0, wall_ms - record.written_ms) / 1000
            entries.append(entry)
        self._advance()
        return entries

    def _skip_to(self, sequence: int) -> None:
        """Move the reader to ``sequence``; those it passes were damaged: never delivered."""
        self._done.update(range(self._read, sequence))
        self._read = max(self._read, sequence)
        for stale in [s for s in self._cache if s < self._read]:
            del self._cache[stale]

    # -- completing ----------------------------------------------------------------------------

    def complete(self, entries: Sequence[Entry]) -> None:
        self._taken -= len(entries)
        self._freed.set()
        for entry in entries:
            if entry.sequence == 0:  # from memory, never spilled: stored is acknowledged
                if self._front_taken.pop(id(entry), None) is None and id(entry) in self._spilling:
                    entry.sequence = _STORED_WHILE_SPILLING
                self._acknowledge(entry)
            elif entry.sequence > self._acked:  # else dropped meanwhile to make room
                self._done.add(entry.sequence)
        self._advance()
        self._update_gauges()

    def _advance(self) -> None:
        acked = self._acked
        while acked + 1 in self._done:
            acked += 1
            self._done.discard(acked)
        if acked == self._acked:
            return
        self._acked = acked
        while self._commits and self._commits[0][0] <= acked:
            self._commits.popleft()
        if acked >= self._next - 1:
            self._oldest_recovered = None
        if self._ack_task is None:
            self._ack_task = self._supervisor.spawn(
                self._write_mark(), f"spool-{self._sink}", forever=False
            )
        self._update_gauges()

    async def _write_mark(self) -> None:
        # Deleting spent segments frees room for a commit waiting on a full spool.
        await asyncio.sleep(ACK_INTERVAL)
        self._ack_task = None
        mark = self._acked

        def acknowledge() -> int:
            self._log.acknowledge(mark)
            return self._log.size

        try:
            self._size = await self._run(acknowledge)
        except OSError as exc:
            self._mark_failed(exc)  # written again with the next completion
            return
        self._mark_error = ""
        self._room.set()
        self._update_gauges()

    def _mark_failed(self, exc: OSError) -> None:
        # Not fatal: a restart replays from the last mark written (the sink's ids absorb the
        # repeats), and spent segments stay on disk until a mark is written.
        self._metrics.sink_errors.labels(self._sink, "spool_io").inc()
        if str(exc) != self._mark_error:  # once per cause, not every ACK_INTERVAL
            log.error(
                "sink %s: cannot write the acknowledged mark of the spool %s: %s; a restart "
                "replays from the last one written", self._sink, self._log.directory, exc,
            )  # fmt: skip
        self._mark_error = str(exc)

    # -- state ---------------------------------------------------------------------------------

    def written_through(self) -> int:
        return self._next - 1

    def stored_through(self) -> int:
        return self._acked

    def depth(self) -> int:
        return (
            self._next - 1 - self._acked + len(self._pending)
            + len(self._front) + len(self._front_taken)
        )  # fmt: skip

    def oldest_age(self) -> float:
        now = time.monotonic()
        if (oldest := self._oldest_in_memory()) is not None:
            return now - oldest.enqueued
        if self._oldest_recovered is not None:
            return now - self._oldest_recovered
        if self._commits:
            return now - self._commits[0][1]
        if self._pending:
            return now - self._pending[0].enqueued
        return 0.0

    def _update_gauges(self) -> None:
        self._depth.set(self.depth())
        self._bytes.set(self._size)
