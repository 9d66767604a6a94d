"""A sink's driver: from its buffer to the sink in batches, in order per Event, retries bounded.

Occurrences leave the buffer oldest first and are dealt to ``max_concurrency`` lanes by Event
uid, so that the occurrences of one Event are written in order while different Events are
written in parallel. Each lane gathers a batch (``max_batch_size`` occurrences, or what came
within ``flush_delay`` of the first; right after a full batch, whatever is waiting), writes it,
and retries a failure with jittered exponential backoff (``Retry-After`` obeyed): a transient
failure (timeouts, 5xx, 429, a refused connection) until it succeeds; a permanent one
(``SinkError.permanent``: a 401, a missing index, a 4xx that will never pass)
``permanent_attempts`` times, after which the batch goes to the sink's dead letters, counted,
and the sink's health turns red while the other sinks carry on. What a sink rejects item by item
goes to the dead letters too; that write is retried the same way, and the batch leaves the
buffer only once its rejections are on disk.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import zlib
from asyncio import FIRST_COMPLETED
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from kubevents.export._buffer import Buffer, Entry
from kubevents.export._metrics import ExportMetrics
from kubevents.export._occurrence import Occurrence
from kubevents.export._supervisor import TaskSupervisor
from kubevents.export.sinks import HttpSinkError, Rejected, Sink, SinkError, WriteResult

__all__ = ["DeadLetterHandler", "DriverSettings", "SinkDriver", "StoredHook", "lane_of"]

log = logging.getLogger(__name__)

DEFAULT_MAX_BATCH_SIZE = 500
DEFAULT_FLUSH_DELAY = 1.0
DEFAULT_MAX_CONCURRENCY = 4
RETRY_INITIAL_DELAY = 0.5
RETRY_MAX_DELAY = 30.0
DEFAULT_PERMANENT_ATTEMPTS = 3
# A rejected occurrence's log line shows this much of the Event's JSON (user-controlled text).
REJECTED_LOG_CHARS = 300

DeadLetterHandler = Callable[[str, Sequence[Rejected]], Awaitable[None]]
#: Told of every successful write: (sink name, the batch, what the sink rejected of it).
StoredHook = Callable[[str, Sequence[Occurrence], Sequence[Rejected]], None]

_T = TypeVar("_T")


@dataclass(frozen=True)
class DriverSettings:
    max_batch_size: int = DEFAULT_MAX_BATCH_SIZE
    flush_delay: float = DEFAULT_FLUSH_DELAY
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    retry_initial_delay: float = RETRY_INITIAL_DELAY
    retry_max_delay: float = RETRY_MAX_DELAY
    permanent_attempts: int = DEFAULT_PERMANENT_ATTEMPTS


def lane_of(uid: str, lanes: int) -> int:
    """The lane an Event's occurrences take: stable across runs (``hash`` of a str is not)."""
    return zlib.crc32(uid.encode()) % lanes if lanes > 1 else 0


class _PermanentFailureError(Exception):
    def __init__(self, error: SinkError) -> None:
        super().__init__(str(error))
        self.error = error


class SinkDriver:
    """Feeds one sink from its buffer. ``failing_since`` / ``last_error`` feed health."""

    def __init__(
        self,
        sink: Sink,
        buffer: Buffer,
        settings: DriverSettings,
        metrics: ExportMetrics,
        supervisor: TaskSupervisor,
        dead_letter: DeadLetterHandler | None = None,
    ) -> None:
        self.sink = sink
        self.buffer = buffer
        self.settings = settings
        self._metrics = metrics
        self._supervisor = supervisor
        self._dead_letter = dead_letter
        # Unbounded: the buffer bounds what is taken and not yet stored, so dealing entries to
        # lanes never waits, and one busy lane never holds up the others.
        self._lanes = [asyncio.Queue[Entry]() for _ in range(settings.max_concurrency)]
        self._busy = 0  # lanes holding a batch
        self._tasks: list[asyncio.Task[None]] = []
        self.flushing = False  # drain: write partial batches at once
        self._flush_now = asyncio.Event()  # wakes lanes waiting for a batch to fill
        self.failing_since: float | None = None
        self.last_error = ""
        # Health follows the newest attempt to answer, by when it was sent: with several lanes,
        # a refusal of an older request can arrive after a newer one succeeded.
        self._newest_answered = float("-inf")
        self._oldest = metrics.buffer_oldest.labels(sink.name)
        self.on_stored: StoredHook | None = None  # the heartbeat's arrival detection

    @property
    def name(self) -> str:
        return self.sink.name

    def start(self) -> None:
        spawn = self._supervisor.spawn
        self._tasks = [spawn(self._dispatch(), f"dispatch-{self.name}")]
        self._tasks += [spawn(self._lane(q), f"write-{self.name}") for q in self._lanes]

    async def stop(self) -> None:
        """Cancel everything in flight; it stays in the buffer (or unacknowledged)."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def flush(self) -> None:
        """Drain: partial batches go at once, those already waiting to fill included."""
        self.flushing = True
        self._flush_now.set()

    def idle(self) -> bool:
        return self._busy == 0 and all(q.empty() for q in self._lanes)

    async def _dispatch(self) -> None:
        lanes = self._lanes
        count = len(lanes)
        while True:
            for entry in await self.buffer.take(self.settings.max_batch_size):
                lanes[lane_of(entry.occurrence.uid, count)].put_nowait(entry)

    async def _lane(self, queue: asyncio.Queue[Entry]) -> None:
        loop = asyncio.get_running_loop()
        max_size = self.settings.max_batch_size
        # Waiting for a batch to fill pays off while occurrences trickle in; after a full
        # batch they are arriving faster than they are written, and the queue running dry
        # means the backlog is done: its remainder goes at once instead of a flush_delay late.
        linger = True
        while True:
            batch = [await queue.get()]
            self._busy += 1
            try:
                deadline = loop.time() + self.settings.flush_delay
                while len(batch) < max_size:
                    if not queue.empty():
                        batch.append(queue.get_nowait())
                        continue
                    remaining = deadline - loop.time()
                    if remaining <= 0 or self.flushing or not linger:
                        break
                    entry = await self._next_within(queue, remaining)
                    if entry is None:
                        break
                    batch.append(entry)
                linger = len(batch) < max_size
                await self._write(batch)
                self.buffer.complete(batch)
                self._oldest.set(self.buffer.oldest_age())
            finally:
                self._busy -= 1

    async def _next_within(self, queue: asyncio.Queue[Entry], seconds: float) -> Entry | None:
        """The lane's next entry, or None after ``seconds`` or once a drain began."""
        getter = asyncio.ensure_future(queue.get())
        flushed = asyncio.ensure_future(self._flush_now.wait())
        try:
            await asyncio.wait((getter, flushed), timeout=seconds, return_when=FIRST_COMPLETED)
        finally:
            flushed.cancel()
            # An entry already handed to the getter is kept; a pending get leaves the queue be.
            got = not getter.cancel() and not getter.cancelled()
        return getter.result() if got else None

    async def _write(self, batch: list[Entry]) -> None:
        name = self.name
        occurrences = [entry.occurrence for entry in batch]
        started = time.monotonic()
        refused = False
        try:
            result = await self._retry(
                lambda: self.sink.write(occurrences), f"write of {len(batch)}",
                self._count_sink_error, permanent=True, recovers=True,
            )  # fmt: skip
        except _PermanentFailureError as failure:
            refused = True  # health stays red: only a write that succeeds clears it
            result = WriteResult([Rejected(o, failure.error.reason) for o in occurrences])
            self._metrics.permanent_failures.labels(name).inc(len(batch))
            log.error(
                "sink %s: %d occurrences failed for good after %d attempts (%s); they go to "
                "the dead letters", name, len(batch), self.settings.permanent_attempts,
                failure.error,
            )  # fmt: skip
        else:
            self._metrics.batch_seconds.labels(name).observe(time.monotonic() - started)
            now = time.time()
            self._metrics.exported.labels(name).inc(len(batch) - len(result.rejected))
            self._metrics.last_success.labels(name).set(now)
            self._metrics.export_lag.labels(name).set(now - occurrences[-1].filing_time.timestamp())
            if self.on_stored is not None:
                self.on_stored(name, occurrences, result.rejected)
        if result.rejected:
            self._metrics.rejected.labels(name).inc(len(result.rejected))
            await self._reject(result.rejected, recovers=not refused)

    async def _reject(self, rejected: Sequence[Rejected], *, recovers: bool) -> None:
        """Hand rejected occurrences to the dead-letter target, or log them (bounded)."""
        name = self.name
        dead_letter = self._dead_letter
        if dead_letter is None:
            for r in rejected:
                log.error(
                    "sink %s rejected %s (%s): %.*r",
                    name, r.occurrence.id, r.reason, REJECTED_LOG_CHARS, r.occurrence.raw,
                )  # fmt: skip
            return

        def count(exc: Exception) -> None:
            self._metrics.dead_letter_failures.labels(name).inc()

        # The batch leaves the buffer only once its rejections are on disk: until then the
        # checkpoint holds (or the spool keeps it), and a restart sends the batch again.
        await self._retry(
            lambda: dead_letter(name, rejected),
            f"dead-letter write of {len(rejected)}",
            count,
            recovers=recovers,
        )

    def _count_sink_error(self, exc: Exception) -> None:
        reason = exc.reason if isinstance(exc, SinkError) else type(exc).__name__
        self._metrics.sink_errors.labels(self.name, reason).inc()

    async def _retry(
        self,
        action: Callable[[], Awaitable[_T]],
        what: str,
        count: Callable[[Exception], None],
        *,
        permanent: bool = False,
        recovers: bool = False,
    ) -> _T:
        """Run ``action`` until it succeeds, backing off (jittered, doubling) between failures.

        With ``permanent``, a permanent ``SinkError`` ends it after ``permanent_attempts``
        (``_PermanentFailureError``). While it fails the sink counts as failing; with
        ``recovers``, its success shows the sink works again.
        """
        delay = self.settings.retry_initial_delay
        attempts = 0
        while True:
            sent = time.monotonic()
            try:
                result = await action()
            except Exception as exc:
                count(exc)
                if sent >= self._newest_answered:
                    self._newest_answered = sent
                    if self.failing_since is None:
                        self.failing_since = time.monotonic()
                    self.last_error = f"{what} failed: {exc}"
                if permanent and isinstance(exc, SinkError) and exc.permanent:
                    attempts += 1
                    if attempts >= self.settings.permanent_attempts:
                        raise _PermanentFailureError(exc) from None
                # Jittered around the doubling delay, never past the declared maximum.
                wait = min(delay * (0.5 + random.random()), self.settings.retry_max_delay)
                # A destination that says when to come back (HTTP Retry-After) is obeyed.
                retry_after = exc.retry_after if isinstance(exc, HttpSinkError) else None
                if retry_after is not None and retry_after > wait:
                    wait = min(retry_after, self.settings.retry_max_delay * 4)
                log.warning(
                    "sink %s: %s failed (%s), retrying in %.1fs", self.name, what, exc, wait
                )
                await asyncio.sleep(wait)
                delay = min(delay * 2, self.settings.retry_max_delay)
            else:
                if recovers and sent >= self._newest_answered:
                    self._newest_answered = sent
                    self.failing_since, self.last_error = None, ""
                return result
