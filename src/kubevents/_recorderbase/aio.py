"""asyncio support for the broadcasters: the loop they run on, flush barriers, cut-short sleeps.

* ``LoopHost``: the caller's running loop, or a loop of its own in a daemon thread; runs
  coroutines and callbacks there from any thread.
* ``Barrier`` / ``inject_barrier``: a marker sent, in order, through every watcher of a mux;
  it resolves once each watcher has handled everything queued before it (what a flush waits
  for).
* ``interruptible_sleep``: a retry wait that a shutdown cuts short (client-go's cancelled
  context).
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import logging
import threading
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from kubevents.mux import Broadcaster, MuxEvent

__all__ = ["Barrier", "LoopHost", "SleepFunc", "inject_barrier", "interruptible_sleep"]

_T = TypeVar("_T")

_THREAD_JOIN_TIMEOUT = 5.0
# The action type of a barrier in a watcher's queue (never an API action).
_BARRIER = "kubevents-barrier"

# The retry wait (``asyncio.sleep`` by default; tests inject one that returns at once).
SleepFunc = Callable[[float], Awaitable[None]]

# Owned loops still running at interpreter exit are stopped there, so that their tasks are
# cancelled cleanly instead of being destroyed pending (and warned about) at finalisation.
_running: weakref.WeakSet[LoopHost] = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    for host in list(_running):
        host.stop(join=True)


class LoopHost:
    """Runs coroutines and callbacks on one loop, whichever thread asks.

    Made inside a running loop, it uses that loop. Made anywhere else, it starts a new loop in
    a daemon thread (named ``thread_name``), which ``stop()`` ends. ``log`` gets the one debug
    line about callbacks that came too late for a closed loop.
    """

    def __init__(self, thread_name: str, log: logging.Logger) -> None:
        self._log = log
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        self.thread: threading.Thread | None = None
        if loop is not None:
            self.loop = loop
            self.loop_thread = threading.get_ident()
            return
        self.loop = asyncio.new_event_loop()
        started = threading.Event()
        idents: list[int] = []

        def run() -> None:
            idents.append(threading.get_ident())
            self.loop.call_soon(started.set)
            self._run_forever()

        self.thread = threading.Thread(target=run, name=thread_name, daemon=True)
        self.thread.start()
        started.wait()
        self.loop_thread = idents[0]
        _running.add(self)

    @property
    def owns_thread(self) -> bool:
        return self.thread is not None

    def on_loop_thread(self) -> bool:
        return threading.get_ident() == self.loop_thread

    def call_soon(self, fn: Callable[[], Any]) -> None:
        """Run ``fn`` on the loop: now if already there, else as soon as the loop can."""
        if self.on_loop_thread():
            fn()
            return
        try:
            self.loop.call_soon_threadsafe(fn)
        except RuntimeError:
            self._log.debug("event loop is closed; %r not run", fn)

    def run_sync(self, coro: Coroutine[Any, Any, _T]) -> _T:
        """Run ``coro`` on the loop and wait for it; for the loop's own thread this would hang."""
        if self.on_loop_thread():
            coro.close()
            raise RuntimeError("this call would block the event loop it needs")
        try:
            future: concurrent.futures.Future[_T] = asyncio.run_coroutine_threadsafe(
                coro, self.loop
            )
        except RuntimeError:
            coro.close()
            raise RuntimeError("the broadcaster's event loop is closed") from None
        return future.result()

    async def run(self, coro: Coroutine[Any, Any, _T]) -> _T:
        """Await ``coro`` on the loop, from that loop or from any other."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            return await coro
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    def stop(self, *, join: bool) -> None:
        """End the owned thread (after its tasks are cancelled); no-op for a borrowed loop."""
        if self.thread is None:
            return
        _running.discard(self)
        if self.loop.is_running():
            with contextlib.suppress(RuntimeError):
                self.loop.call_soon_threadsafe(self.loop.stop)
        if join and self.thread is not threading.current_thread():
            self.thread.join(timeout=_THREAD_JOIN_TIMEOUT)

    def _run_forever(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            try:
                tasks = asyncio.all_tasks(self.loop)
                for task in tasks:
                    task.cancel()
                self.loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
                self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            finally:
                self.loop.close()


class Barrier:
    """Resolves once every watcher it was sent to has handled everything before it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.future: asyncio.Future[None] = loop.create_future()
        self._remaining = 0

    def expect(self, count: int) -> None:
        self._remaining = count
        self._check()

    def arrive(self) -> None:
        self._remaining -= 1
        self._check()

    def _check(self) -> None:
        if self._remaining <= 0 and not self.future.done():
            self.future.set_result(None)


def inject_barrier(mux: Broadcaster[Any]) -> Barrier | None:
    """A barrier behind everything queued so far, in every watcher; None once shut down.

    The mux sends it in order (``run_in_order``), so it reaches each watcher after every event
    queued before this call; the watcher task calls ``arrive()`` when it reads it.
    """
    barrier = Barrier(mux.loop)

    def inject() -> None:
        watchers = mux.watchers()
        for watcher in watchers:
            watcher.force_send(MuxEvent(_BARRIER, barrier))
        barrier.expect(len(watchers))

    return barrier if mux.run_in_order(inject) else None


async def interruptible_sleep(
    delay: float, stopping: asyncio.Event | None, sleep: SleepFunc
) -> bool:
    """Sleep ``delay``; True (give up) if ``stopping`` is or becomes set first."""
    if stopping is None:
        await sleep(delay)
        return False
    if stopping.is_set():
        return True
    sleeper = asyncio.ensure_future(sleep(delay))
    stopper = asyncio.ensure_future(stopping.wait())
    try:
        await asyncio.wait((sleeper, stopper), return_when=asyncio.FIRST_COMPLETED)
    finally:
        sleeper.cancel()
        stopper.cancel()
    return stopping.is_set()
