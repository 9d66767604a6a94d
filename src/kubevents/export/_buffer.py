"""Per-sink buffers: where occurrences wait for their sink, and the only place that waits for room.

Every sink has its own buffer, so a slow or dead sink fills its own and no other. What happens
when it is full is declared per sink (``when_full``), as Vector's buffers do:

- ``block``: a bounded memory queue. A full queue makes ``put`` wait, which pauses the watch for
  every sink: nothing is dropped, but an outage longer than etcd keeps the resume point loses
  what the relist cannot show. An occurrence is acknowledged when the sink has stored it.
- ``drop_newest``: a bounded memory queue. An occurrence that finds it full is dropped, counted
  in ``kubevents_buffer_dropped_total{reason="full"}`` and acknowledged, so the watch and the
  other sinks go on.
- ``spool``: a disk spool (``_spool.SpoolBuffer``): acknowledged once it is on disk, replayed in
  order after a restart or an outage of any length, bounded by its own size cap.

The acknowledgement owed to the ack log travels with each ``Entry``; ``acknowledge`` is the
pipeline's callback that settles it (it may be called once per entry, whichever happens first:
stored, spooled, dropped).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Literal, Protocol

from kubevents.export._acklog import Ticket
from kubevents.export._metrics import ExportMetrics
from kubevents.export._occurrence import Occurrence

__all__ = ["WHEN_FULL", "Buffer", "Entry", "MemoryBuffer", "WhenFull"]

WhenFull = Literal["block", "spool", "drop_newest"]
WHEN_FULL: tuple[WhenFull, ...] = ("block", "spool", "drop_newest")


class Entry:
    """One occurrence in one sink's buffer."""

    __slots__ = ("enqueued", "occurrence", "sequence", "ticket")

    def __init__(self, occurrence: Occurrence, ticket: Ticket | None, sequence: int = 0) -> None:
        self.occurrence = occurrence
        # Owed to the ack log until the entry is stored, spooled or dropped; then None.
        self.ticket = ticket
        self.sequence = sequence  # its place in a spool (0 in a memory buffer)
        self.enqueued = time.monotonic()


Acknowledge = Callable[[Entry], None]


class Buffer(Protocol):
    """What a sink driver needs from a buffer."""

    when_full: WhenFull
    failing_since: float | None  # when the buffer itself started failing (a spool's disk)
    last_error: str

    async def start(self) -> None: ...

    async def put(self, entry: Entry) -> None:
        """Take ``entry``; may wait for room (``block``, a full ``spool``)."""
        ...

    async def take(self, limit: int) -> list[Entry]:
        """At least one and at most ``limit`` entries, oldest first; waits for one."""
        ...

    def complete(self, entries: Sequence[Entry]) -> None:
        """The sink stored these (or dead-lettered them): they leave the buffer for good."""
        ...

    def depth(self) -> int:
        """Occurrences waiting for the sink (taken but not yet completed ones included)."""
        ...

    def settled(self) -> bool:
        """Whether every entry put has been acknowledged to the ack log."""
        ...

    async def settle(self) -> None:
        """Acknowledge what can be without the sink (a spool commits what is pending)."""
        ...

    def oldest_age(self) -> float:
        """Seconds the oldest waiting occurrence has waited (0 when none waits)."""
        ...

    async def close(self) -> None: ...


class MemoryBuffer:
    """A bounded in-memory queue: ``block`` or ``drop_newest`` when it is full.

    ``capacity`` bounds every occurrence the buffer holds for its sink, those already handed
    to the sink's driver and not yet stored included: it is the sink's whole memory bound.
    """

    def __init__(
        self,
        sink: str,
        capacity: int,
        when_full: Literal["block", "drop_newest"],
        acknowledge: Acknowledge,
        metrics: ExportMetrics,
    ) -> None:
        self.when_full: WhenFull = when_full
        self.failing_since: float | None = None
        self.last_error = ""
        self._capacity = capacity
        self._items: deque[Entry] = deque()
        self._taken: dict[int, Entry] = {}  # id -> entry handed to the sink, not yet stored
        self._arrived = asyncio.Event()
        self._room = asyncio.Event()
        self._acknowledge = acknowledge
        self._depth = metrics.buffer_depth.labels(sink)
        self._dropped = metrics.buffer_dropped.labels(sink, "full")

    async def start(self) -> None:
        return None

    async def put(self, entry: Entry) -> None:
        while self.depth() >= self._capacity:
            if self.when_full == "drop_newest":
                self._dropped.inc()
                self._acknowledge(entry)
                return
            self._room.clear()
            await self._room.wait()
        self._items.append(entry)
        self._arrived.set()
        self._depth.set(self.depth())

    async def take(self, limit: int) -> list[Entry]:
        while not self._items:
            self._arrived.clear()
            await self._arrived.wait()
        entries = [self._items.popleft() for _ in range(min(limit, len(self._items)))]
        for entry in entries:
            self._taken[id(entry)] = entry
        self._depth.set(self.depth())
        return entries

    def complete(self, entries: Sequence[Entry]) -> None:
        for entry in entries:
            self._taken.pop(id(entry), None)
            self._acknowledge(entry)
        self._room.set()
        self._depth.set(self.depth())

    def depth(self) -> int:
        return len(self._items) + len(self._taken)

    def settled(self) -> bool:
        return self.depth() == 0

    async def settle(self) -> None:
        return None

    def oldest_age(self) -> float:
        waiting = [e.enqueued for e in self._taken.values()]
        if self._items:
            waiting.append(self._items[0].enqueued)
        return time.monotonic() - min(waiting) if waiting else 0.0

    async def close(self) -> None:
        return None
