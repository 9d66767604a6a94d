"""The broadcaster's incoming queue: events and control items in arrival order."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar, cast

from kubevents.mux._watcher import MuxEvent

__all__ = ["Control", "IncomingQueue"]

T = TypeVar("T")


class Control:
    """A function the distributor runs in queue order (Go's ``blockQueue`` item)."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[], bool | None]) -> None:
        # fn returns True to end the distributor loop (shutdown).
        self.fn = fn


class IncomingQueue(Generic[T]):
    """FIFO of events and control items. Not thread-safe: the broadcaster holds its lock.

    An event takes two slots, its action then its object: no tuple per event, so producers
    allocate nothing the cyclic GC counts (``pop`` makes the ``MuxEvent``, on the loop).
    ``events`` counts the events only, as control items never wait in Go's queue (their senders
    block until they run) and so never count against its capacity.
    """

    __slots__ = ("_items", "events")

    def __init__(self) -> None:
        self._items: deque[str | T | Control] = deque()
        self.events = 0

    def put_event(self, action: str, obj: T) -> None:
        items = self._items
        items.append(action)
        items.append(obj)
        self.events += 1

    def put_control(self, control: Control) -> None:
        self._items.append(control)

    def pop(self) -> MuxEvent[T] | Control | None:
        """The oldest item, or None when the queue is empty."""
        items = self._items
        if not items:
            return None
        item = items.popleft()
        if isinstance(item, Control):
            return item
        self.events -= 1
        return MuxEvent(cast(str, item), cast(T, items.popleft()))
