"""The heartbeat and finish passes of the events.k8s.io/v1 broadcaster's series cache.

Each pass is due ``REFRESH_TIME`` / ``FINISH_TIME`` of the injected clock after its previous run
ended (client-go's sliding ``wait.Until``); one background task sleeps until the earliest is
due, and ``run_due`` / ``refresh_now`` / ``finish_now`` run them on demand. One pass runs at a
time (client-go's ``seriesSyncMu``). Once the broadcaster's ``stopping`` is set, no pass starts
and a running one stops at its next entry.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import datetime

from kubevents._recorderbase.aio import LoopHost
from kubevents.clock import Clock, RealClock
from kubevents.events._series import (
    FINISH_TIME,
    REFRESH_TIME,
    EventSeriesCache,
    finish_series,
    refresh_existing_event_series,
)
from kubevents.events._sink import EventSink
from kubevents.mux import BroadcasterStoppedError

__all__ = ["SeriesPasses"]

log = logging.getLogger("kubevents.events")


class SeriesPasses:
    """The passes of one broadcaster. Made on its loop; ``start`` may be called from any thread.

    ``stopping`` is the broadcaster's shutdown signal.
    """

    def __init__(self, host: LoopHost, stopping: asyncio.Event) -> None:
        self._host = host
        self._stopping = stopping
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

    def start(self, cache: EventSeriesCache, clock: Clock, sink: EventSink, stopped: bool) -> None:
        """Claim the one sink of this broadcaster and schedule the passes (any thread).

        ``stopped`` tells whether the broadcaster has already shut down (then this raises).
        """
        with self._start_lock:
            if self._sink is not None:
                raise RuntimeError("event broadcaster already started")
            if stopped:
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

    async def stop(self) -> None:
        """Cancel the background task (on the loop, once ``stopping`` is set)."""
        if self._periodic is not None:
            self._periodic.cancel()
            await asyncio.gather(self._periodic, return_exceptions=True)

    def _start_periodic(self) -> None:
        if self._periodic is None and not self._stopping.is_set():
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
        if self._stopping.is_set():
            return 0
        written = await refresh_existing_event_series(self._cache, sink, stopping=self._stopping)
        # Sliding, like wait.Until: the period counts from the end of the run.
        self._next_refresh = self._clock.now() + REFRESH_TIME
        log.debug("Event series heartbeat wrote %d series", written)
        return written

    async def _finish(self, sink: EventSink) -> int:
        if self._stopping.is_set():
            return 0
        removed = await finish_series(self._cache, sink, self._clock, stopping=self._stopping)
        self._next_finish = self._clock.now() + FINISH_TIME
        log.debug("Event series finish pass forgot %d events", removed)
        return removed
