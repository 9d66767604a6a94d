"""A Go-like buffered channel for one asyncio event loop (the mux's watcher queues)."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["Channel", "ChannelClosedError", "wake_waiter"]

T = TypeVar("T")


class ChannelClosedError(Exception):
    """A watcher's channel is closed and drained."""


class Channel(Generic[T]):
    """A Go-like buffered channel confined to one event loop.

    Capacity 0 is a rendezvous: a send only succeeds while a receiver is waiting. A closed
    channel still yields its buffered items, then raises ``ChannelClosedError``.
    """

    __slots__ = ("_buf", "_capacity", "_closed", "_getters", "_loop", "_putters")

    def __init__(self, capacity: int, loop: asyncio.AbstractEventLoop) -> None:
        self._capacity = capacity
        self._loop = loop
        self._buf: deque[T] = deque()
        self._closed = False
        self._getters: deque[asyncio.Future[None]] = deque()
        self._putters: deque[asyncio.Future[None]] = deque()

    def __len__(self) -> int:
        return len(self._buf)

    @property
    def closed(self) -> bool:
        return self._closed

    def snapshot(self) -> list[T]:
        """The buffered items, oldest first."""
        return list(self._buf)

    def try_put(self, item: T) -> bool:
        # Every waiting receiver is one more slot: that is what makes capacity 0 a rendezvous.
        if len(self._buf) >= self._capacity + len(self._getters):
            return False
        self.force_put(item)
        return True

    def force_put(self, item: T) -> None:
        self._buf.append(item)
        if self._getters:
            wake_waiter(self._getters.popleft())

    async def put(self, item: T, give_up: Callable[[], bool]) -> bool:
        """Wait for room, or until ``give_up()`` turns true (then the item is not sent)."""
        while not self.try_put(item):
            if give_up():
                return False
            waiter = self._loop.create_future()
            self._putters.append(waiter)
            try:
                await waiter
            finally:
                if not waiter.done():
                    self._putters.remove(waiter)
        return True

    def get_nowait(self) -> T:
        """An item, or ``ChannelClosedError`` if closed and empty; ``IndexError`` if just empty."""
        if self._buf:
            item = self._buf.popleft()
            self.wake_putters(1)
            return item
        if self._closed:
            raise ChannelClosedError
        raise IndexError("channel is empty")

    async def get(self) -> T:
        while True:
            if self._buf or self._closed:
                return self.get_nowait()
            waiter = self._loop.create_future()
            self._getters.append(waiter)
            # A rendezvous sender can hand over now that a receiver is waiting.
            self.wake_putters(1)
            try:
                await waiter
            finally:
                if not waiter.done():
                    self._getters.remove(waiter)

    def wake_putters(self, count: int | None = None) -> None:
        woken = 0
        while self._putters and (count is None or woken < count):
            wake_waiter(self._putters.popleft())
            woken += 1

    def close(self) -> None:
        self._closed = True
        while self._getters:
            wake_waiter(self._getters.popleft())
        self.wake_putters()


def wake_waiter(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
