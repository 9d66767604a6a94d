"""A watcher task of ``EventBroadcaster`` and the reports the broadcaster hands out."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from kubevents.model import Event, EventsV1Event
from kubevents.record._channel import ChannelClosedError
from kubevents.record._mux import Watcher

__all__ = ["BroadcasterStats", "EventHandler", "ShutdownReport", "Watch", "WatchBase"]

log = logging.getLogger("kubevents.record")

# A handler gets each event; it may be a plain function or return an awaitable.
EventHandler = Callable[[Event], object]


@dataclass(frozen=True)
class ShutdownReport:
    """What ``shutdown`` achieved, counted per watcher (an event two watchers had counts twice).

    ``delivered``: events handled during shutdown (each got its one attempt at the sink).
    ``dropped``: events still queued, or in flight, when the timeout expired.
    """

    delivered: int
    dropped: int
    timed_out: bool = False


@dataclass(frozen=True)
class BroadcasterStats:
    """Counters since the broadcaster was made (a snapshot)."""

    accepted: int
    """Events queued by recorders."""
    dropped_queue_full: int
    """Events recorders dropped because the incoming queue was full."""
    dropped_after_shutdown: int
    """Events recorded after shutdown (dropped)."""
    invalid: int
    """Calls not recorded: object not referenceable, type not Normal/Warning."""
    dropped_watcher_full: int
    """Events a watcher missed because its own queue was full (summed over watchers)."""
    dropped_at_shutdown: int
    """Events still queued for a watcher when shutdown timed out."""
    sink_outcomes: dict[str, int]
    """``RecordOutcome`` value -> events, over all sinks."""

    @property
    def dropped(self) -> int:
        """Events recorders could not queue: ``accepted + dropped`` is every valid call."""
        return self.dropped_queue_full + self.dropped_after_shutdown


class _Barrier:
    """Resolves once every watcher it was sent to has handled everything before it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.future: asyncio.Future[None] = loop.create_future()
        self._remaining = 0

    def expect(self, count: int) -> None:
        self._remaining = count
        self._check()

    def arrive(self) -> None:
        self._remaining -= 1
        self._check()

    def _check(self) -> None:
        if self._remaining <= 0 and not self.future.done():
            self.future.set_result(None)


_Item = Event | _Barrier
_E = TypeVar("_E", Event, EventsV1Event)


class WatchBase(Generic[_E]):
    """One running watcher (client-go's ``watch.Interface``): ``stop()`` detaches it.

    Shared by both broadcasters (``kubevents.record`` for core/v1, ``kubevents.events`` for
    events.k8s.io/v1). Events already queued for it are still handled after ``stop()``, as in
    client-go.
    """

    _log = log
    _task_prefix = "kubevents-watch"

    def __init__(
        self,
        watcher: Watcher[_E | _Barrier] | None,
        handler: Callable[[_E], object],
    ) -> None:
        self._watcher: Watcher[_E | _Barrier] | None = watcher
        self._handler: Callable[[_E], object] = handler
        self._task: asyncio.Task[None] | None = None
        self._busy = False
        self.handled = 0
        """Events this watcher's handler has finished with."""

    @property
    def stopped(self) -> bool:
        return self._watcher is None or self._watcher.stopped

    @property
    def dropped(self) -> int:
        """Events this watcher missed because its queue (``MAX_QUEUED_EVENTS``) was full."""
        return 0 if self._watcher is None else self._watcher.dropped

    @property
    def finished(self) -> bool:
        """True once the watcher has handled its last event (after stop or shutdown)."""
        return self._task is not None and self._task.done()

    @property
    def pending(self) -> int:
        """Events queued for this watcher and not yet handled (including one in flight)."""
        if self._watcher is None:
            return 0
        queued = sum(
            1 for item in self._watcher.buffered() if not isinstance(item.object, _Barrier)
        )
        return queued + (1 if self._busy else 0)

    def stop(self) -> None:
        """Stop receiving new events. Idempotent, thread-safe, never blocks."""
        if self._watcher is not None:
            self._watcher.stop()

    def _start(self) -> None:
        # On the loop. Idempotent: shutdown may start a watch whose start is still scheduled.
        if self._task is None and self._watcher is not None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"{self._task_prefix}-{self._watcher.id}"
            )

    async def _run(self) -> None:
        assert self._watcher is not None
        while True:
            try:
                item = await self._watcher.recv()
            except ChannelClosedError:
                return
            obj = item.object
            if isinstance(obj, _Barrier):
                obj.arrive()
                continue
            self._busy = True
            try:
                result = self._handler(obj)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                # Go would crash the process; a controller is better served by a log line.
                self._log.exception("Event handler failed for event %s", obj.metadata.name)
            finally:
                self._busy = False
            # Not reached when cancelled: a cancelled event was not delivered.
            self.handled += 1


class Watch(WatchBase[Event]):
    """A watcher of the core/v1 ``EventBroadcaster``."""
