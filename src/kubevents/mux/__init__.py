"""The event mux under both recorders: apimachinery's ``watch.Broadcaster``, asyncio-native.

What apimachinery's ``pkg/watch`` is to client-go's ``tools/record`` and ``tools/events``, this
package is to ``kubevents.record`` and ``kubevents.events``: a broadcaster that hands every event
to every watcher, in order, through bounded queues.

    mux = Broadcaster.long_queue(1000, FullChannelBehavior.DROP_IF_CHANNEL_FULL)  # in a loop
    watcher = mux.watch()                   # sees every event queued from now on
    mux.action_or_drop("ADDED", obj)        # any thread; False when the incoming queue is full
    async for event in watcher:             # MuxEvent(type, object), until stopped or shut down
        ...
    await mux.shutdown()                    # distributes what is queued, then closes watchers

Full channels: with ``DROP_IF_CHANNEL_FULL`` an event that does not fit a watcher's queue is
dropped for that watcher only (``Watcher.dropped``); with ``WAIT_IF_CHANNEL_FULL`` the
distributor waits for room, so the slowest watcher sets the pace. A full *incoming* queue makes
``action_or_drop`` return False and ``await action(...)`` wait. After shutdown both raise
``BroadcasterStoppedError``.

The name: the Go file is ``mux.go``. Each "watch" in kubevents is one thing: the apiserver's
watch is ``kubevents.kube.WatchStream`` of ``WatchEvent``; a watcher of this mux is a ``Watcher``
of ``MuxEvent`` (apimachinery's ``watch.Interface`` of a broadcaster); a recorder's
``start_event_watcher`` returns an ``EventWatcher`` (a handler task on a mux watcher); the
exporter's list-watch of Events is its source.
"""

from kubevents.mux._broadcaster import (
    INCOMING_QUEUE_LENGTH,
    Broadcaster,
    BroadcasterStoppedError,
    FullChannelBehavior,
)
from kubevents.mux._channel import ChannelClosedError
from kubevents.mux._watcher import MuxEvent, Watcher

__all__ = [
    "INCOMING_QUEUE_LENGTH",
    "Broadcaster",
    "BroadcasterStoppedError",
    "ChannelClosedError",
    "FullChannelBehavior",
    "MuxEvent",
    "Watcher",
]
