"""A watcher task of the events.k8s.io/v1 ``EventBroadcaster`` (as ``kubevents.record``'s)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from kubevents.model import EventsV1Event
from kubevents.record._watch import WatchBase

__all__ = ["EventHandler", "Watch"]

# A handler gets each event; it may be a plain function or return an awaitable.
EventHandler = Callable[[EventsV1Event], object]


class Watch(WatchBase[EventsV1Event]):
    """One running watcher: ``stop()`` detaches it (client-go returns its stop function).

    Events already queued for it are still handled after ``stop()``, as in client-go.
    """

    _log = logging.getLogger("kubevents.events")
    _task_prefix = "kubevents-events-watch"

    def __call__(self) -> None:
        """The same as ``stop()``: what client-go hands out is the stop function itself."""
        self.stop()
