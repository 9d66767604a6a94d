"""The event loop a broadcaster runs on: the caller's running loop, or its own daemon thread."""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import logging
import threading
import weakref
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["LoopHost"]

log = logging.getLogger("kubevents.record")

_T = TypeVar("_T")

_THREAD_JOIN_TIMEOUT = 5.0

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
    a daemon thread (named ``thread_name``), which ``stop()`` ends.
    """

    def __init__(self, thread_name: str) -> None:
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
            log.debug("event loop is closed; %r not run", fn)

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
