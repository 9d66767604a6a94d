"""The buffered pipeline: a bounded queue, a batcher and bounded concurrent writes per sink.

``submit`` blocks while any sink's queue is full: that is the backpressure that pauses the
watch, so memory stays bounded and nothing is dropped. A batch is flushed when it reaches
``max_batch_size`` or ``flush_delay`` after its first item; at most ``max_concurrency`` writes
are in flight per sink. A failed write is retried with jittered exponential backoff until it
succeeds or the pipeline is stopped, and so is the dead-letter write of what a sink rejected:
an occurrence is acknowledged only when every sink has stored it (or its rejection is on disk),
which is what moves the checkpoint. The batchers and writes run under a ``TaskSupervisor``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from kubevents.export._acklog import AckLog, Ticket
from kubevents.export._metrics import ExportMetrics
from kubevents.export._occurrence import Occurrence
from kubevents.export._state import EventTracker
from kubevents.export._supervisor import TaskSupervisor
from kubevents.export.sinks._base import HttpSinkError, Rejected, Sink, SinkError, WriteResult

__all__ = ["BatchSettings", "DeadLetterHandler", "Pipeline"]

log = logging.getLogger(__name__)

DEFAULT_QUEUE_SIZE = 4_000
DEFAULT_MAX_BATCH_SIZE = 500
DEFAULT_FLUSH_DELAY = 1.0
DEFAULT_MAX_CONCURRENCY = 4
RETRY_INITIAL_DELAY = 0.5
RETRY_MAX_DELAY = 30.0

# A rejected occurrence's log line shows this much of the Event's JSON (user-controlled text).
REJECTED_LOG_CHARS = 300

DeadLetterHandler = Callable[[str, Sequence[Rejected]], Awaitable[None]]

_T = TypeVar("_T")


@dataclass(frozen=True)
class BatchSettings:
    queue_size: int = DEFAULT_QUEUE_SIZE
    max_batch_size: int = DEFAULT_MAX_BATCH_SIZE
    flush_delay: float = DEFAULT_FLUSH_DELAY
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    retry_initial_delay: float = RETRY_INITIAL_DELAY
    retry_max_delay: float = RETRY_MAX_DELAY


@dataclass(frozen=True, slots=True)
class _Item:
    occurrence: Occurrence
    ticket: Ticket


class _SinkRunner:
    def __init__(
        self,
        sink: Sink,
        settings: BatchSettings,
        metrics: ExportMetrics,
        on_stored: Callable[[_Item], None],
        dead_letter: DeadLetterHandler | None,
        supervisor: TaskSupervisor,
    ) -> None:
        self.sink = sink
        self.settings = settings
        self.queue: asyncio.Queue[_Item] = asyncio.Queue(settings.queue_size)
        self._metrics = metrics
        self._on_stored = on_stored
        self._dead_letter = dead_letter
        self._supervisor = supervisor
        self._slots = asyncio.Semaphore(settings.max_concurrency)
        self._writes: set[asyncio.Task[None]] = set()
        self._batcher: asyncio.Task[None] | None = None
        self._stopping = False
        self.failing_since: float | None = None
        self.last_error = ""
        self._depth = metrics.queue_depth.labels(sink.name)

    def start(self) -> None:
        self._batcher = self._supervisor.spawn(self._batch_loop(), f"batcher-{self.sink.name}")

    async def put(self, item: _Item) -> None:
        await self.queue.put(item)
        self._depth.set(self.queue.qsize())

    async def _batch_loop(self) -> None:
        loop = asyncio.get_running_loop()
        max_size = self.settings.max_batch_size
        while True:
            batch = [await self.queue.get()]
            deadline = loop.time() + self.settings.flush_delay
            while len(batch) < max_size:
                if not self.queue.empty():
                    batch.append(self.queue.get_nowait())
                    continue
                remaining = deadline - loop.time()
                if remaining <= 0 or self._stopping:
                    break
                try:
                    batch.append(await asyncio.wait_for(self.queue.get(), remaining))
                except TimeoutError:
                    break
            self._depth.set(self.queue.qsize())
            await self._slots.acquire()
            task = self._supervisor.spawn(
                self._write(batch), f"write-{self.sink.name}", forever=False
            )
            self._writes.add(task)
            task.add_done_callback(self._write_done)

    def _write_done(self, task: asyncio.Task[None]) -> None:
        self._writes.discard(task)
        self._slots.release()

    async def _write(self, batch: list[_Item]) -> None:
        name = self.sink.name
        occurrences = [item.occurrence for item in batch]
        started = time.monotonic()

        async def write() -> WriteResult:
            nonlocal started
            started = time.monotonic()
            return await self.sink.write(occurrences)

        result = await self._retry(write, f"write of {len(batch)}", self._count_sink_error)
        self._metrics.batch_seconds.labels(name).observe(time.monotonic() - started)
        if result.rejected:
            self._metrics.rejected.labels(name).inc(len(result.rejected))
            await self._reject(result.rejected)
        self.failing_since = None
        self.last_error = ""
        now = time.time()
        self._metrics.exported.labels(name).inc(len(batch))
        self._metrics.last_success.labels(name).set(now)
        self._metrics.export_lag.labels(name).set(
            now - batch[-1].occurrence.filing_time.timestamp()
        )
        for item in batch:
            self._on_stored(item)

    async def _reject(self, rejected: Sequence[Rejected]) -> None:
        """Hand rejected occurrences to the dead-letter target, or log them (bounded)."""
        name = self.sink.name
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

        # The batch is acknowledged only once its rejections are on disk: until then the
        # checkpoint holds, and a restart sends the batch again.
        await self._retry(
            lambda: dead_letter(name, rejected), f"dead-letter write of {len(rejected)}", count
        )

    def _count_sink_error(self, exc: Exception) -> None:
        reason = exc.reason if isinstance(exc, SinkError) else type(exc).__name__
        self._metrics.sink_errors.labels(self.sink.name, reason).inc()

    async def _retry(
        self,
        action: Callable[[], Awaitable[_T]],
        what: str,
        count: Callable[[Exception], None],
    ) -> _T:
        """Run ``action`` until it succeeds, backing off (jittered, doubling) between failures.

        While it fails the sink counts as failing (health reports it after
        ``health.sink_failing_after``).
        """
        delay = self.settings.retry_initial_delay
        while True:
            try:
                return await action()
            except Exception as exc:
                count(exc)
                if self.failing_since is None:
                    self.failing_since = time.monotonic()
                self.last_error = f"{what} failed: {exc}"
                wait = delay * (0.5 + random.random())
                # A destination that says when to come back (HTTP Retry-After) is obeyed.
                retry_after = exc.retry_after if isinstance(exc, HttpSinkError) else None
                if retry_after is not None and retry_after > wait:
                    wait = min(retry_after, self.settings.retry_max_delay * 4)
                log.warning(
                    "sink %s: %s failed (%s), retrying in %.1fs", self.sink.name, what, exc, wait
                )
                await asyncio.sleep(wait)
                delay = min(delay * 2, self.settings.retry_max_delay)

    def idle(self) -> bool:
        return self.queue.empty() and not self._writes

    async def stop(self) -> None:
        """Cancel everything still queued or in flight (it stays unacknowledged)."""
        self._stopping = True
        tasks = [*self._writes, *([self._batcher] if self._batcher else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class Pipeline:
    """All sinks, the acknowledgement log and the exported-count tracker."""

    def __init__(
        self,
        sinks: Sequence[Sink],
        tracker: EventTracker,
        acklog: AckLog,
        metrics: ExportMetrics,
        settings: BatchSettings | None = None,
        dead_letter: DeadLetterHandler | None = None,
        supervisor: TaskSupervisor | None = None,
    ) -> None:
        if not sinks:
            raise ValueError("the pipeline needs at least one sink")
        self.tracker = tracker
        self.acklog = acklog
        self.metrics = metrics
        self.settings = settings or BatchSettings()
        self.supervisor = supervisor if supervisor is not None else TaskSupervisor(metrics)
        self._runners = [
            _SinkRunner(sink, self.settings, metrics, self._stored, dead_letter, self.supervisor)
            for sink in sinks
        ]
        self.acknowledged = 0

    @property
    def sinks(self) -> list[Sink]:
        return [runner.sink for runner in self._runners]

    def start(self) -> None:
        for runner in self._runners:
            runner.start()

    async def submit(self, occurrence: Occurrence | None, resource_version: str | None) -> None:
        """Queue an occurrence for every sink (blocking while a queue is full).

        ``occurrence=None`` records only a resume point (an event that needed no export).
        """
        if occurrence is None:
            self.acklog.append(resource_version, 0)
            return
        ticket = self.acklog.append(resource_version, len(self._runners))
        item = _Item(occurrence, ticket)
        self.metrics.occurrences.inc()
        for runner in self._runners:
            await runner.put(item)

    def _stored(self, item: _Item) -> None:
        self.acklog.ack(item.ticket)
        if item.ticket.pending == 0:
            self.tracker.stored(item.occurrence.uid, item.occurrence.count)
            self.acknowledged += 1

    def idle(self) -> bool:
        return all(runner.idle() for runner in self._runners)

    def failing_for(self) -> float:
        """Seconds the longest-failing sink has been failing (0 if all are healthy)."""
        return max((seconds for _, seconds, _ in self.failing_sinks()), default=0.0)

    def failing_sinks(self) -> list[tuple[str, float, str]]:
        """(sink name, seconds failing, last error) of every sink whose writes are failing."""
        now = time.monotonic()
        return [
            (r.sink.name, now - r.failing_since, r.last_error)
            for r in self._runners
            if r.failing_since is not None
        ]

    def queue_depth(self) -> int:
        return max(runner.queue.qsize() for runner in self._runners)

    async def drain(self, within: float) -> bool:
        """Wait up to ``within`` seconds for everything queued to be stored; True if it was."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        for runner in self._runners:
            runner._stopping = True  # flush partial batches at once
        while not self.idle():
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(0.02)
        return True

    async def stop(self) -> None:
        for runner in self._runners:
            await runner.stop()
