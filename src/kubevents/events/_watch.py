"""A watcher task of the events.k8s.io/v1 ``EventBroadcaster`` (as ``kubevents.record``'s)."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable

from kubevents.model import EventsV1Event
from kubevents.record import ChannelClosedError, Watcher
from kubevents.record._watch import _Barrier

__all__ = ["EventHandler", "Watch"]

log = logging.getLogger("kubevents.events")

# A handler gets each event; it may be a plain function or return an awaitable.
EventHandler = Callable[[EventsV1Event], object]

_Item = EventsV1Event | _Barrier


class Watch:
    """One running watcher: ``stop()`` detaches it (client-go returns its stop function).

    Events already queued for it are still handled after ``stop()``, as in client-go.
    """

    def __init__(self, watcher: Watcher[_Item] | None, handler: EventHandler) -> None:
        self._watcher = watcher
        self._handler = handler
        self._task: asyncio.Task[None] | None = None
        self._busy = False
        self.handled = 0
        """Events this watcher's handler has finished with."""

    def __call__(self) -> None:
        """The same as ``stop()``: what client-go hands out is the stop function itself."""
        self.stop()

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
            1 for item in self._watcher.buffered() if isinstance(item.object, EventsV1Event)
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
                self._run(), name=f"kubevents-events-watch-{self._watcher.id}"
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
                log.exception("Event handler failed for event %s", obj.metadata.name)
            finally:
                self._busy = False
            # Not reached when cancelled: a cancelled event was not delivered.
            self.handled += 1
