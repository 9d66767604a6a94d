"""The fan-out: every occurrence to every sink's buffer, and the acknowledgements back.

``submit`` hands an occurrence to each sink's gate (``_sinkgate``: the sink's own rules),
then its buffer (``_buffer``, ``_spool``), and waits only where a buffer declares it waits
(``when_full: block``, or a full spool that blocks). Each sink's driver (``_sinkdriver``) feeds
its sink from its buffer on its own, so a slow or dead sink holds up no other one. An
occurrence is acknowledged once every sink has stored it, durably spooled it, or dropped and
counted it (``drop_newest``, the sink's own rules); acknowledgements move the ack log's resume
point and are pushed to the checkpoint through ``progressed``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from kubevents.export._acklog import AckLog
from kubevents.export._buffer import Buffer, Entry, MemoryBuffer, WhenFull
from kubevents.export._delivered import DeliveredMark
from kubevents.export._fields import EventFields
from kubevents.export._metrics import ExportMetrics
from kubevents.export._occurrence import Occurrence
from kubevents.export._rules import Filter
from kubevents.export._sinkdriver import (
    DeadLetterHandler,
    DriverSettings,
    SinkDriver,
    StoredHook,
)
from kubevents.export._sinkgate import SinkGate
from kubevents.export._spool import DEFAULT_SPILL_AFTER, SpoolBuffer
from kubevents.export._state import EventTracker
from kubevents.export._supervisor import TaskSupervisor
from kubevents.export.sinks import Sink

__all__ = [
    "BatchSettings",
    "BufferSettings",
    "DeadLetterHandler",
    "Pipeline",
    "Route",
    "SpoolSettings",
]

DEFAULT_QUEUE_SIZE = 4_000
DEFAULT_SPOOL_BYTES = 1024 * 1024 * 1024
_DRAIN_POLL = 0.02


@dataclass(frozen=True)
class SpoolSettings:
    directory: Path
    max_bytes: int = DEFAULT_SPOOL_BYTES
    overflow: Literal["block", "drop_oldest"] = "block"
    fsync: Literal["always", "never"] = "always"
    file_mode: int = 0o600
    spill_after: float = DEFAULT_SPILL_AFTER


@dataclass(frozen=True)
class BufferSettings:
    when_full: WhenFull = "block"
    queue_size: int = DEFAULT_QUEUE_SIZE  # memory buffers; a spool keeps this many in memory
    spool: SpoolSettings | None = None  # required for when_full: spool


@dataclass(frozen=True)
class BatchSettings:
    """One memory buffer and driver settings for every sink (what tests and embedders use)."""

    queue_size: int = DEFAULT_QUEUE_SIZE
    max_batch_size: int = DriverSettings.max_batch_size
    flush_delay: float = DriverSettings.flush_delay
    max_concurrency: int = DriverSettings.max_concurrency
    retry_initial_delay: float = DriverSettings.retry_initial_delay
    retry_max_delay: float = DriverSettings.retry_max_delay

    def driver(self) -> DriverSettings:
        return DriverSettings(
            self.max_batch_size, self.flush_delay, self.max_concurrency,
            self.retry_initial_delay, self.retry_max_delay,
        )  # fmt: skip


@dataclass(frozen=True)
class Route:
    """A sink with its buffer, its driver settings, its dead-letter target and its own rules."""

    sink: Sink
    buffer: BufferSettings = field(default_factory=BufferSettings)
    driver: DriverSettings = field(default_factory=DriverSettings)
    dead_letter: DeadLetterHandler | None = None
    rules: Filter | None = None  # the sink's own ``rules`` (``compile_rules``)
    min_interval: float | None = None  # the sink's ``throttle.min_interval``, seconds


class Pipeline:
    """All sinks' buffers and drivers, the acknowledgement log and the tracker."""

    def __init__(
        self,
        sinks: Sequence[Sink | Route],
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
        self.supervisor = supervisor if supervisor is not None else TaskSupervisor(metrics)
        self.acknowledged = 0
        self.progressed = asyncio.Event()  # set whenever the resume point or the count moves
        acklog.on_advance = self._advanced
        self._delivered: DeliveredMark | None = None
        batch = settings or BatchSettings()
        self.drivers: list[SinkDriver] = []
        self._gates: list[SinkGate] = []
        self._throttles: list[asyncio.Task[None]] = []
        self._is_heartbeat: Callable[[EventFields], bool] | None = None
        for item in sinks:
            route = item if isinstance(item, Route) else Route(
                item, BufferSettings("block", batch.queue_size), batch.driver(), dead_letter
            )  # fmt: skip
            buffer = self._buffer(route)
            self.drivers.append(
                SinkDriver(
                    route.sink, buffer, route.driver, metrics, self.supervisor, route.dead_letter
                )
            )
            gate = SinkGate(
                route.sink.name, buffer, self._settle, metrics, route.rules, route.min_interval
            )
            self._gates.append(gate)

    def watch_heartbeats(
        self, is_heartbeat: Callable[[EventFields], bool], stored: StoredHook
    ) -> None:
        """Pass the exporter's heartbeat occurrences by the sinks' throttles (they come once
        per heartbeat interval anyway, and a throttle would make them late), and tell
        ``stored`` of every successful write."""
        self._is_heartbeat = is_heartbeat
        for driver in self.drivers:
            driver.on_stored = stored

    def _buffer(self, route: Route) -> Buffer:
        spec, name = route.buffer, route.sink.name
        if spec.when_full != "spool":
            return MemoryBuffer(name, spec.queue_size, spec.when_full, self._settle, self.metrics)
        if spec.spool is None:
            raise ValueError(f"sink {name}: when_full spool needs spool settings")
        s = spec.spool
        return SpoolBuffer(
            name, s.directory, self._settle, self.metrics, self.supervisor, max_bytes=s.max_bytes,
            overflow=s.overflow, fsync=s.fsync, cache_size=spec.queue_size, file_mode=s.file_mode,
            spill_after=s.spill_after,
        )  # fmt: skip

    @property
    def sinks(self) -> list[Sink]:
        return [driver.sink for driver in self.drivers]

    async def start(self) -> None:
        """Open the buffers (a spool replays what it holds first) and start the drivers."""
        for driver in self.drivers:
            await driver.buffer.start()
        spools = [d.buffer for d in self.drivers if isinstance(d.buffer, SpoolBuffer)]
        self._delivered = DeliveredMark(spools, self.acklog.resource_version)
        for driver in self.drivers:
            driver.start()
        self._throttles = [
            self.supervisor.spawn(gate.throttle.run(), f"throttle-{driver.name}")
            for gate, driver in zip(self._gates, self.drivers, strict=True)
            if gate.throttle is not None
        ]

    def _advanced(self) -> None:
        if self._delivered is not None:
            self._delivered.advanced(self.acklog.resource_version)
        self.progressed.set()

    def delivered_resource_version(self) -> str | None:
        """The resume point every sink has stored, spools aside: what another replica may
        resume from (``_delivered``). The ack log's point for a pipeline without spools."""
        if self._delivered is None:
            return self.acklog.resource_version if self.acklog.resource_version else None
        return self._delivered.resource_version()

    async def submit(self, occurrence: Occurrence | None, resource_version: str | None) -> None:
        """Hand an occurrence to every sink's buffer (waiting where a buffer blocks).

        ``occurrence=None`` records only a resume point (an event that needed no export).
        """
        if occurrence is None:
            self.acklog.append(resource_version, 0)
            return
        ticket = self.acklog.append(resource_version, len(self.drivers))
        self.metrics.occurrences.inc()
        is_heartbeat = self._is_heartbeat
        if is_heartbeat is not None and is_heartbeat(occurrence.event):
            for gate in self._gates:
                await gate.offer_unthrottled(Entry(occurrence, ticket))
            return
        for gate in self._gates:
            await gate.offer(Entry(occurrence, ticket))

    def _settle(self, entry: Entry) -> None:
        """One sink is done with ``entry`` (stored, spooled or dropped): acknowledge it once."""
        ticket = entry.ticket
        if ticket is None:
            return
        entry.ticket = None
        self.acklog.ack(ticket)
        if ticket.pending == 0:
            occurrence = entry.occurrence
            self.tracker.stored(occurrence.uid, occurrence.count)
            self.acknowledged += 1
            self.progressed.set()

    def idle(self) -> bool:
        """Nothing waits in any throttle, buffer or driver (every sink stored everything)."""
        return self.holding() == 0 and all(d.buffer.depth() == 0 and d.idle() for d in self.drivers)

    def settled(self) -> bool:
        """Everything submitted is acknowledged: stored, or durably spooled, or dropped."""
        return self.holding() == 0 and all(
            d.buffer.settled() if d.buffer.when_full == "spool" else d.buffer.depth() == 0
            for d in self.drivers
        )

    def holding(self) -> int:
        """Occurrences the sinks' throttles hold back (none is acknowledged yet)."""
        return sum(gate.holding() for gate in self._gates)

    def failing_sinks(self) -> list[tuple[str, float, str]]:
        """(sink name, seconds failing, last error) of every sink that is failing."""
        now = time.monotonic()
        failing = []
        for driver in self.drivers:
            for part in (driver, driver.buffer):
                if part.failing_since is not None:
                    failing.append((driver.name, now - part.failing_since, part.last_error))
        return failing

    def failing_for(self) -> float:
        """Seconds the longest-failing sink has been failing (0 if all are healthy)."""
        return max((seconds for _, seconds, _ in self.failing_sinks()), default=0.0)

    def depths(self) -> dict[str, int]:
        return {driver.name: driver.buffer.depth() for driver in self.drivers}

    def queue_depth(self) -> int:
        return max(self.depths().values())

    async def drain(self, within: float) -> bool:
        """Flush for up to ``within`` seconds; True if everything submitted was acknowledged.

        Memory buffers must be stored by their sinks; a spool needs only to commit what is
        pending (it is durable, and replays the rest after the next start).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        for driver in self.drivers:
            driver.flush()  # partial batches go at once
        for gate in self._gates:
            # Held-back occurrences go now: the last count of every series is delivered.
            remaining = deadline - loop.time()
            try:
                await asyncio.wait_for(gate.flush(), max(0.0, remaining))
            except TimeoutError:
                return False
        for driver in self.drivers:
            if driver.buffer.when_full == "spool":
                remaining = deadline - loop.time()
                try:
                    await asyncio.wait_for(driver.buffer.settle(), max(0.0, remaining))
                except TimeoutError:
                    return False
        while not self.settled():
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(_DRAIN_POLL)
        # Spools are durable, but another replica cannot read them: while their sinks are
        # healthy, deliver what they hold, so that the point handed over is current.
        while not self.idle() and not self.failing_sinks():
            if loop.time() >= deadline:
                break
            await asyncio.sleep(_DRAIN_POLL)
        return True

    async def stop(self) -> None:
        """Stop the throttles and the drivers (what they hold or have in flight stays
        unacknowledged) and close the buffers."""
        for task in self._throttles:
            task.cancel()
        await asyncio.gather(*self._throttles, return_exceptions=True)
        for driver in self.drivers:
            await driver.stop()
        for driver in self.drivers:
            await driver.buffer.close()
