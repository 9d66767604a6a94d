"""A watcher task of the core/v1 ``EventBroadcaster`` (``kubevents.events`` has its own)."""

from __future__ import annotations

from collections.abc import Callable

from kubevents._recorderbase.handler import EventWatcherBase
from kubevents.model import Event

__all__ = ["EventHandler", "EventWatcher"]

# A handler gets each event; it may be a plain function or return an awaitable.
EventHandler = Callable[[Event], object]


class EventWatcher(
    EventWatcherBase[Event], logger="kubevents.record", task_prefix="kubevents-watch"
):
    """One running watcher (client-go's ``watch.Interface``): ``stop()`` detaches it.

    Events already queued for it are still handled after ``stop()``, as in client-go.
    """
