"""The watcher task of both broadcasters: one task per watcher runs its handler on each event.

Like client-go's goroutine per watcher, it handles one event at a time, so a slow handler (a
sink during an API outage) only fills its own queue. Flush barriers pass through it.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from typing import Any, ClassVar, Generic, TypeVar

from kubevents._recorderbase.aio import Barrier
from kubevents.model import Event, EventsV1Event
from kubevents.mux import ChannelClosedError, Watcher

__all__ = ["EventWatcherBase"]

_E = TypeVar("_E", Event, EventsV1Event)


class EventWatcherBase(Generic[_E]):
    """A handler running on a mux watcher: what ``start_event_watcher`` returns (client-go's
    ``watch.Interface`` from ``StartEventWatcher``); ``stop()`` detaches it.

    Shared by both broadcasters (``kubevents.record`` for core/v1, ``kubevents.events`` for
    events.k8s.io/v1); a subclass names the logger of handler failures and its tasks' prefix
    (``class EventWatcher(EventWatcherBase[Event], logger="kubevents.record",
    task_prefix="...")``). Events already queued for it are still handled after ``stop()``, as
    in client-go.
    """

    _log: ClassVar[logging.Logger]
    _task_prefix: ClassVar[str]

    def __init_subclass__(cls, *, logger: str, task_prefix: str, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._log = logging.getLogger(logger)
        cls._task_prefix = task_prefix

    def __init__(
        self,
        watcher: Watcher[_E | Barrier] | None,
        handler: Callable[[_E], object],
    ) -> None:
        self._watcher: Watcher[_E | Barrier] | None = watcher
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
        queued = sum(1 for item in self._watcher.buffered() if not isinstance(item.object, Barrier))
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
            if isinstance(obj, Barrier):
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
