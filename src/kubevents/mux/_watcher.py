"""One watcher of the mux, and the events it receives (apimachinery's ``watch.Event``).

A watcher owns a bounded ``Channel`` on the broadcaster's loop. The broadcaster fills it; the
watcher's reader drains it with ``await recv()`` or ``async for``. ``stop()`` may be called from
any thread: it only flags the watcher and asks the distributor, in order, to close the channel.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Generic, NamedTuple, TypeVar

from kubevents.mux._channel import Channel, ChannelClosedError

if TYPE_CHECKING:
    from kubevents.mux._broadcaster import Broadcaster

__all__ = ["MuxEvent", "Watcher"]

T = TypeVar("T")


class MuxEvent(NamedTuple, Generic[T]):
    """``watch.Event``: an action type (``ADDED``, ...) and the object."""

    type: str
    object: T


class Watcher(Generic[T]):
    """One watcher of a ``Broadcaster``: read it with ``await recv()`` or ``async for``."""

    def __init__(self, mux: Broadcaster[T], watcher_id: int, capacity: int) -> None:
        self.id = watcher_id
        self._mux = mux
        self._channel: Channel[MuxEvent[T]] = Channel(capacity, mux.loop)
        self._stop_lock = threading.Lock()
        self._stopped = False
        self.dropped = 0
        """Events not delivered to this watcher because its channel was full."""

    @property
    def stopped(self) -> bool:
        return self._stopped

    def _is_stopped(self) -> bool:
        return self._stopped

    @property
    def closed(self) -> bool:
        """True once the channel is closed (it may still hold items to read)."""
        return self._channel.closed

    def __len__(self) -> int:
        """Items waiting in this watcher's channel."""
        return len(self._channel)

    def buffered(self) -> list[MuxEvent[T]]:
        """A snapshot of the items waiting in this watcher's channel."""
        return self._channel.snapshot()

    def force_send(self, event: MuxEvent[T]) -> None:
        """Append to the channel ignoring its capacity: for control markers. On the loop only."""
        self._channel.force_put(event)

    async def recv(self) -> MuxEvent[T]:
        """The next event; ``ChannelClosedError`` once the watcher is closed and drained."""
        return await self._channel.get()

    async def __aiter__(self) -> AsyncIterator[MuxEvent[T]]:
        while True:
            try:
                yield await self._channel.get()
            except ChannelClosedError:
                return

    def stop(self) -> None:
        """Stop receiving new events; the channel closes after what is already buffered.

        Idempotent, thread-safe, never blocks; harmless after the broadcaster's shutdown.
        """
        with self._stop_lock:
            if self._stopped:
                return
            self._stopped = True
        # A distributor waiting for room in this channel must notice the stop.
        self._mux._call_on_loop(self._channel.wake_putters)
        self._mux._remove(self)
