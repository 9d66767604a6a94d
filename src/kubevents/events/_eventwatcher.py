"""A watcher task of the events.k8s.io/v1 ``EventBroadcaster`` (as ``kubevents.record``'s)."""

from __future__ import annotations

from collections.abc import Callable

from kubevents._recorderbase.handler import EventWatcherBase
from kubevents.model import EventsV1Event

__all__ = ["EventHandler", "EventWatcher"]

# A handler gets each event; it may be a plain function or return an awaitable.
EventHandler = Callable[[EventsV1Event], object]


class EventWatcher(
    EventWatcherBase[EventsV1Event], logger="kubevents.events", task_prefix="kubevents-events-watch"
):
    """One running watcher: ``stop()`` detaches it (client-go returns its stop function).

    Events already queued for it are still handled after ``stop()``, as in client-go.
    """

    def __call__(self) -> None:
        """The same as ``stop()``: what client-go hands out is the stop function itself."""
        self.stop()
