"""apimachinery's ``watch.Broadcaster`` (``pkg/watch/mux.go``), asyncio-native.

One distributor task on the broadcaster's event loop takes items off a bounded incoming queue in
FIFO order and hands each to every watcher's own bounded channel. Producers may live on any
thread: ``action_or_drop`` takes a short lock, appends, and only wakes the distributor (one
``call_soon_threadsafe``) when it is idle.

Go's ``blockQueue`` trick (control functions pushed through the incoming queue) is kept, so a
new watcher never sees events queued before it and sees every event after; but nothing here
blocks a caller: control items bypass the capacity, and ``watch``/``stop``/``shutdown_nowait``
return at once because the ordering alone gives Go's guarantees.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import threading
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

from kubevents.mux._channel import wake_waiter
from kubevents.mux._incoming import Control, IncomingQueue
from kubevents.mux._watcher import MuxEvent, Watcher

__all__ = [
    "INCOMING_QUEUE_LENGTH",
    "Broadcaster",
    "BroadcasterStoppedError",
    "FullChannelBehavior",
]

T = TypeVar("T")

# apimachinery's incomingQueueLength: the incoming buffer of NewBroadcaster. (The event
# recorder uses NewLongQueueBroadcaster, whose incoming buffer is the watcher queue length.)
INCOMING_QUEUE_LENGTH = 25

# Let watcher tasks run between long runs of distribution: they share this thread, whereas Go's
# loop goroutine runs in parallel with its watchers.
_YIELD_EVERY = 64


class FullChannelBehavior(enum.Enum):
    """What the distributor does with an event for a watcher whose channel is full."""

    WAIT_IF_CHANNEL_FULL = 0
    """Wait for room (a slow watcher holds every other one back), as Go's ``WaitIfChannelFull``."""
    DROP_IF_CHANNEL_FULL = 1
    """Drop the event for that watcher only and count it in ``Watcher.dropped``."""


class BroadcasterStoppedError(RuntimeError):
    """The broadcaster was shut down (Go: "broadcaster already stopped")."""

    def __init__(self) -> None:
        super().__init__("broadcaster already stopped")


class Broadcaster(Generic[T]):
    """Distributes every event to every watcher, in order; see the module docstring.

    Must be created inside a running event loop, which it then uses.
    """

    def __init__(
        self,
        queue_length: int,
        full_channel_behavior: FullChannelBehavior,
        *,
        incoming_queue_length: int = INCOMING_QUEUE_LENGTH,
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._queue_length = queue_length
        self._behavior = full_channel_behavior
        self._capacity = incoming_queue_length
        self._lock = threading.Lock()
        self._incoming: IncomingQueue[T] = IncomingQueue()
        self._stopped = False
        self._idle = False
        self._wakeup = asyncio.Event()
        self._room_waiters: deque[asyncio.Future[None]] = deque()
        self._watchers: dict[int, Watcher[T]] = {}
        self._next_id = 0
        # Counters, only changed under _lock.
        self.accepted = 0
        self.dropped_full = 0
        self.rejected_stopped = 0
        self._task = self.loop.create_task(self._run(), name="kubevents-mux")

    @classmethod
    def long_queue(
        cls, queue_length: int, full_channel_behavior: FullChannelBehavior
    ) -> Broadcaster[T]:
        """``NewLongQueueBroadcaster``: the incoming queue is as long as each watcher's."""
        return cls(queue_length, full_channel_behavior, incoming_queue_length=queue_length)

    @property
    def stopped(self) -> bool:
        return self._stopped

    @property
    def queued(self) -> int:
        """Events in the incoming queue, not yet distributed."""
        return self._incoming.events

    def watchers(self) -> list[Watcher[T]]:
        return list(self._watchers.values())

    # -- producers (any thread) ---------------------------------------------------------------

    def action_or_drop(self, action: str, obj: T) -> bool:
        """Queue an event without waiting: False if the incoming queue is full.

        Raises ``BroadcasterStoppedError`` after shutdown. Thread-safe.
        """
        with self._lock:
            if self._stopped:
                self.rejected_stopped += 1
                raise BroadcasterStoppedError
            if self._incoming.events >= self._capacity:
                self.dropped_full += 1
                return False
            self._incoming.put_event(action, obj)
            self.accepted += 1
            wake = self._idle
            self._idle = False
        if wake and not self._wake_distributor():
            with self._lock:
                self.accepted -= 1
                self.rejected_stopped += 1
            raise BroadcasterStoppedError
        return True

    async def action(self, action: str, obj: T) -> None:
        """Queue an event, waiting for room (Go's blocking ``Action``). On the loop only."""
        while True:
            with self._lock:
                if self._stopped:
                    self.rejected_stopped += 1
                    raise BroadcasterStoppedError
                if self._incoming.events < self._capacity:
                    self._incoming.put_event(action, obj)
                    self.accepted += 1
                    wake = self._idle
                    self._idle = False
                    break
            waiter = self.loop.create_future()
            self._room_waiters.append(waiter)
            try:
                await waiter
            finally:
                if not waiter.done():
                    self._room_waiters.remove(waiter)
        if wake:
            self._wake_distributor()

    def watch(self) -> Watcher[T]:
        """A new watcher that gets every event queued after this call, and none before."""
        return self.watch_with_prefix(())

    def watch_with_prefix(self, events: Iterable[MuxEvent[T]]) -> Watcher[T]:
        """Like ``watch``, with ``events`` delivered first (the channel is made big enough)."""
        prefix = list(events)
        with self._lock:
            if self._stopped:
                raise BroadcasterStoppedError
            watcher = Watcher(self, self._next_id, max(self._queue_length, len(prefix) + 1))
            self._next_id += 1

        def add() -> None:
            for event in prefix:
                watcher._channel.force_put(event)
            self._watchers[watcher.id] = watcher

        self._enqueue_control(add)
        return watcher

    def run_in_order(self, fn: Callable[[], None]) -> bool:
        """Run ``fn`` on the distributor once everything queued so far has been distributed.

        False (and ``fn`` never runs) if the broadcaster is stopped.
        """
        try:
            self._enqueue_control(fn)
        except BroadcasterStoppedError:
            return False
        return True

    def shutdown_nowait(self) -> None:
        """Refuse new events and watchers; distribute what is queued, then close every watcher.

        Thread-safe and idempotent. ``await wait_closed()`` (or ``await shutdown()``) to wait.
        """
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            self._incoming.put_control(Control(lambda: True))
            wake = self._idle
            self._idle = False
        if wake:
            self._wake_distributor()

    async def shutdown(self) -> None:
        """Go's ``Shutdown``: returns once every queued event is in the watchers' channels."""
        self.shutdown_nowait()
        await self.wait_closed()

    async def wait_closed(self) -> None:
        await asyncio.shield(self._task)

    @property
    def closed(self) -> bool:
        """True once the distributor has finished (after shutdown)."""
        return self._task.done()

    # -- internals ----------------------------------------------------------------------------

    def _enqueue_control(self, fn: Callable[[], bool | None]) -> None:
        with self._lock:
            if self._stopped:
                raise BroadcasterStoppedError
            # Control items bypass the capacity: Go blocks on a full queue here, we never do.
            self._incoming.put_control(Control(fn))
            wake = self._idle
            self._idle = False
        if wake:
            self._wake_distributor()

    def _remove(self, watcher: Watcher[T]) -> None:
        def remove() -> None:
            if self._watchers.pop(watcher.id, None) is not None:
                watcher._channel.close()

        # After shutdown the distributor closes (or has closed) every channel itself.
        self.run_in_order(remove)

    def _on_loop_thread(self) -> bool:
        return threading.get_ident() == self._loop_thread

    def _call_on_loop(self, fn: Callable[[], Any]) -> None:
        if self._on_loop_thread():
            fn()
            return
        # A closed loop runs nothing that could be waiting.
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(fn)

    def _wake_distributor(self) -> bool:
        if self._on_loop_thread():
            self._wakeup.set()
            return True
        try:
            self.loop.call_soon_threadsafe(self._wakeup.set)
        except RuntimeError:
            # The loop is closed, so nothing will ever distribute again: behave as stopped.
            with self._lock:
                self._stopped = True
            return False
        return True

    async def _run(self) -> None:
        distributed = 0
        try:
            while True:
                with self._lock:
                    item = self._incoming.pop()
                    if item is None:
                        self._idle = True
                if item is None:
                    await self._wakeup.wait()
                    self._wakeup.clear()
                    continue
                if self._room_waiters:
                    wake_waiter(self._room_waiters.popleft())
                if isinstance(item, Control):
                    if item.fn():
                        break
                    continue
                await self._distribute(item)
                distributed += 1
                if distributed % _YIELD_EVERY == 0:
                    await asyncio.sleep(0)
        finally:
            self._close_all()

    async def _distribute(self, event: MuxEvent[T]) -> None:
        if self._behavior is FullChannelBehavior.DROP_IF_CHANNEL_FULL:
            for watcher in self._watchers.values():
                if watcher._stopped:
                    continue
                if not watcher._channel.try_put(event):
                    watcher.dropped += 1
            return
        # Snapshot: a watcher's removal (a control item) cannot run while we are here, but
        # stop() flags and wakes us, so a stopped watcher never blocks the others.
        for watcher in list(self._watchers.values()):
            await watcher._channel.put(event, watcher._is_stopped)

    def _close_all(self) -> None:
        with self._lock:
            self._stopped = True
        for watcher in self._watchers.values():
            watcher._channel.close()
        self._watchers = {}
        while self._room_waiters:
            wake_waiter(self._room_waiters.popleft())
