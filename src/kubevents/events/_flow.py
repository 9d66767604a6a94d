"""What the events.k8s.io/v1 broadcaster does around its mux and the sink watcher.

* **Passes.** The heartbeat and finish passes are due ``REFRESH_TIME`` / ``FINISH_TIME`` of the
  injected clock after their previous run ended; one background task sleeps until the earliest
  is due, and ``run_due`` / ``refresh_now`` / ``finish_now`` run them on demand. One pass runs
  at a time (client-go's ``seriesSyncMu``).
* **Flush and shutdown.** The sink watcher writes inline (``_recording``), so a barrier through
  every watcher covers the writes too.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from kubevents.clock import Clock, RealClock
from kubevents.events._series import (
    FINISH_TIME,
    REFRESH_TIME,
    EventSeriesCache,
    finish_series,
    refresh_existing_event_series,
)
from kubevents.events._sink import EventSink
from kubevents.record import BroadcasterStoppedError
from kubevents.record._loophost import LoopHost
from kubevents.record._mux import Broadcaster, MuxEvent
from kubevents.record._watch import _Barrier

if TYPE_CHECKING:
    from kubevents.events._watch import Watch

__all__ = ["Flow"]

log = logging.getLogger("kubevents.events")

_BARRIER = "kubevents-barrier"


class Flow:
    """Periodic passes, flush and shutdown of one broadcaster. Created and used on its loop."""

    def __init__(self, mux: Broadcaster[Any], host: LoopHost) -> None:
        self._mux = mux
        self._host = host
        self.dropped_at_shutdown = 0
        # client-go's cancellation context: once set, a failed write is not retried and the
        # passes stop.
        self.stopping = asyncio.Event()
        self._sink: EventSink | None = None
        self._cache = EventSeriesCache()
        self._clock: Clock = RealClock()
        self._pass_lock = asyncio.Lock()
        self._periodic: asyncio.Task[None] | None = None
        self._next_refresh: datetime | None = None
        self._next_finish: datetime | None = None
        self._start_lock = threading.Lock()

    @property
    def recording(self) -> bool:
        return self._sink is not None

    def start_recording(self, cache: EventSeriesCache, clock: Clock, sink: EventSink) -> None:
        """Claim the one sink of this broadcaster and schedule the passes (any thread)."""
        with self._start_lock:
            if self._sink is not None:
                raise RuntimeError("event broadcaster already started")
            if self._mux.stopped:
                raise BroadcasterStoppedError
            self._sink = sink
        self._cache = cache
        self._clock = clock
        # Both passes run once at the start in client-go; over an empty cache that does
        # nothing, so they are only made due at once when the cache was pre-filled.
        now = clock.now()
        self._next_refresh = now if len(cache) else now + REFRESH_TIME
        self._next_finish = now if len(cache) else now + FINISH_TIME
        self._host.call_soon(self._start_periodic)

    # -- passes -------------------------------------------------------------------------------

    def _start_periodic(self) -> None:
        if self._periodic is None and not self.stopping.is_set():
            self._periodic = self._host.loop.create_task(
                self._run_periodic(), name="kubevents-events-series"
            )

    async def _run_periodic(self) -> None:
        while True:
            assert self._next_refresh is not None and self._next_finish is not None
            due = min(self._next_refresh, self._next_finish)
            delay = (due - self._clock.now()).total_seconds()
            if delay > 0:
                # Real seconds for clock seconds: exact for the real clock; a fake clock's
                # passes are run with run_due(). Capped, so a clock set back is re-read.
                await asyncio.sleep(min(delay, REFRESH_TIME.total_seconds()))
            try:
                await self.run_due()
            except Exception:
                log.exception("Event series pass failed")

    def _recording_sink(self) -> EventSink:
        if self._sink is None:
            raise RuntimeError("the broadcaster is not recording to a sink")
        return self._sink

    async def refresh_now(self) -> int:
        sink = self._recording_sink()
        async with self._pass_lock:
            return await self._refresh(sink)

    async def finish_now(self) -> int:
        sink = self._recording_sink()
        async with self._pass_lock:
            return await self._finish(sink)

    async def run_due(self) -> None:
        sink = self._recording_sink()
        async with self._pass_lock:
            assert self._next_refresh is not None and self._next_finish is not None
            if self._clock.now() >= self._next_refresh:
                await self._refresh(sink)
            if self._clock.now() >= self._next_finish:
                await self._finish(sink)

    async def _refresh(self, sink: EventSink) -> int:
        if self.stopping.is_set():
            return 0
        written = await refresh_existing_event_series(self._cache, sink, stopping=self.stopping)
        # Sliding, like wait.Until: the period counts from the end of the run.
        self._next_refresh = self._clock.now() + REFRESH_TIME
        log.debug("Event series heartbeat wrote %d series", written)
        return written

    async def _finish(self, sink: EventSink) -> int:
        if self.stopping.is_set():
            return 0
        removed = await finish_series(self._cache, sink, self._clock, stopping=self.stopping)
        self._next_finish = self._clock.now() + FINISH_TIME
        log.debug("Event series finish pass forgot %d events", removed)
        return removed

    # -- flush and shutdown -------------------------------------------------------------------

    async def flush(self, limit: float | None) -> bool:
        loop = self._host.loop
        barrier = _Barrier(loop)

        def inject() -> None:
            watchers = self._mux.watchers()
            for watcher in watchers:
                watcher.force_send(MuxEvent(_BARRIER, barrier))
            barrier.expect(len(watchers))

        if not self._mux.run_in_order(inject):
            return True
        deadline = None if limit is None else loop.time() + limit
        return await _until(asyncio.shield(barrier.future), deadline, loop)

    async def shutdown(
        self, limit: float | None, watches: Callable[[], list[Watch]]
    ) -> tuple[int, bool]:
        """Deliver what is queued (one attempt each) until ``limit``: ``(dropped, timed_out)``."""
        loop = self._host.loop
        deadline = None if limit is None else loop.time() + limit
        self._mux.shutdown_nowait()
        self.stopping.set()
        if self._periodic is not None:
            self._periodic.cancel()
            await asyncio.gather(self._periodic, return_exceptions=True)
        # Moves every queued event into the watchers' queues and closes them.
        await self._mux.wait_closed()
        current = watches()
        for watch in current:
            watch._start()
        tasks = {watch._task for watch in current if watch._task is not None}
        dropped = 0
        timed_out = False
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=_remaining(deadline, loop))
            if pending:
                timed_out = True
                for watch in current:
                    if watch._task in pending:
                        dropped += watch.pending
                        watch._task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
        self.dropped_at_shutdown = dropped
        return dropped, timed_out


def _remaining(deadline: float | None, loop: asyncio.AbstractEventLoop) -> float | None:
    return None if deadline is None else max(0.0, deadline - loop.time())


async def _until(
    awaitable: asyncio.Future[None], deadline: float | None, loop: asyncio.AbstractEventLoop
) -> bool:
    try:
        await asyncio.wait_for(awaitable, _remaining(deadline, loop))
    except TimeoutError:
        return False
    return True
