"""The moving parts of the events.k8s.io/v1 broadcaster around its mux.

* **Submission.** client-go v0.36.3's recorder sends each event from a new goroutine with the
  *blocking* ``Action``: a full incoming queue (25) makes senders wait, it never drops. Here a
  recorder never blocks either: when the queue is full (or others already wait) the event joins
  a FIFO that one task on the loop moves into the mux as room appears.
* **Sending.** Each event the series cache decides to send gets its own task (v0.36.3: its own
  goroutine) running ``attempt_recording``.
* **Passes.** The heartbeat and finish passes are due ``REFRESH_TIME`` / ``FINISH_TIME`` of the
  injected clock after their previous run ended; one background task sleeps until the earliest
  is due, and ``run_due`` / ``refresh_now`` / ``finish_now`` run them on demand.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
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
from kubevents.events._sink import EventSink, attempt_recording
from kubevents.kube import ADDED
from kubevents.model import EventsV1Event, to_core
from kubevents.record import BroadcasterStoppedError, RecordOutcome, SleepFunc
from kubevents.record._logging import DropLog
from kubevents.record._loophost import LoopHost
from kubevents.record._mux import Broadcaster, MuxEvent
from kubevents.record._watch import _Barrier

if TYPE_CHECKING:
    from kubevents.events._watch import Watch

__all__ = ["Flow"]

log = logging.getLogger("kubevents.events")

_BARRIER = "kubevents-barrier"


class Flow:
    """Submission FIFO, send tasks, periodic passes, flush and shutdown of one broadcaster.

    Created on the broadcaster's loop; ``submit`` and ``close`` are thread-safe, the rest runs
    on the loop.
    """

    def __init__(self, mux: Broadcaster[Any], host: LoopHost, drop_log: DropLog) -> None:
        self._mux = mux
        self._host = host
        self._drop_log = drop_log
        self._lock = threading.Lock()
        self._closing = False
        self._waiting: deque[EventsV1Event] = deque()
        self._draining = False
        self._drain_task: asyncio.Task[None] | None = None
        self._waited_in = 0
        self._waited_out = 0
        self._drain_waiters: list[tuple[int, asyncio.Future[None]]] = []
        self.rejected = 0
        self.dropped_at_shutdown = 0
        # client-go's cancellation context: once set, a failed write is not retried.
        self.stopping = asyncio.Event()
        self._sink: EventSink | None = None
        self._cache = EventSeriesCache()
        self._clock: Clock = RealClock()
        self._sleep_duration = 0.0
        self._sleep: SleepFunc = asyncio.sleep
        self._sends: set[asyncio.Task[None]] = set()
        self._pass_lock = asyncio.Lock()
        self._periodic: asyncio.Task[None] | None = None
        self._next_refresh: datetime | None = None
        self._next_finish: datetime | None = None

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    @property
    def recording(self) -> bool:
        return self._sink is not None

    # -- submission (any thread) --------------------------------------------------------------

    def submit(self, event: EventsV1Event, logger: logging.Logger) -> bool:
        accepted = start = False
        with self._lock:
            # Behind waiting events, never ahead of them.
            if not self._closing and not self._waiting:
                try:
                    accepted = self._mux.action_or_drop(ADDED, event)
                except BroadcasterStoppedError:
                    self._closing = True
            if not accepted and not self._closing:
                self._waiting.append(event)
                self._waited_in += 1
                start = not self._draining
                self._draining = True
                accepted = True
            if not accepted:
                self.rejected += 1
        if start:
            self._host.call_soon(self._start_drain)
        if not accepted:
            reason = "broadcaster already stopped (will not retry!)"
            self._drop_log.log(logger, reason, to_core(event))
        return accepted

    def close(self) -> None:
        """Refuse new events from now on; those already waiting still go in."""
        with self._lock:
            self._closing = True

    def _start_drain(self) -> None:
        # Referenced, so that the task cannot be garbage-collected while it waits for room.
        self._drain_task = self._host.loop.create_task(
            self._drain(), name="kubevents-events-submit"
        )

    async def _drain(self) -> None:
        while True:
            with self._lock:
                if not self._waiting:
                    self._draining = False
                    return
                event = self._waiting[0]
            try:
                await self._mux.action(ADDED, event)
            except BroadcasterStoppedError:
                with self._lock:
                    lost = len(self._waiting)
                    self._waiting.clear()
                    self._waited_out += lost
                    self.rejected += lost
                    self._draining = False
                self._wake_drain_waiters()
                return
            with self._lock:
                if self._waiting:
                    self._waiting.popleft()
                    self._waited_out += 1
            self._wake_drain_waiters()

    def _wake_drain_waiters(self) -> None:
        keep = []
        for target, future in self._drain_waiters:
            if self._waited_out >= target:
                if not future.done():
                    future.set_result(None)
            else:
                keep.append((target, future))
        self._drain_waiters = keep

    async def _drained(self, deadline: float | None) -> bool:
        """Wait until every event waiting now is in the mux; False at the deadline."""
        with self._lock:
            target = self._waited_in
        if self._waited_out >= target:
            return True
        future: asyncio.Future[None] = self._host.loop.create_future()
        self._drain_waiters.append((target, future))
        return await _until(asyncio.shield(future), deadline, self._host.loop)

    # -- sending ------------------------------------------------------------------------------

    def start_recording(
        self,
        cache: EventSeriesCache,
        clock: Clock,
        sink: EventSink,
        sleep_duration: float,
        sleep: SleepFunc,
    ) -> None:
        with self._lock:
            if self._sink is not None:
                raise RuntimeError("broadcaster is already recording to a sink")
            if self._closing:
                raise BroadcasterStoppedError
            self._sink = sink
        self._cache = cache
        self._clock = clock
        self._sleep_duration = sleep_duration
        self._sleep = sleep
        # Both passes run once at the start in client-go; over an empty cache that does
        # nothing, so they are only made due at once when the cache was pre-filled.
        now = clock.now()
        self._next_refresh = now if len(cache) else now + REFRESH_TIME
        self._next_finish = now if len(cache) else now + FINISH_TIME
        self._host.call_soon(self._start_periodic)

    def send(self, event: EventsV1Event, done: Callable[[RecordOutcome], None]) -> None:
        """Write ``event`` to the sink in a task of its own (on the loop)."""
        sink = self._sink
        assert sink is not None

        async def attempt() -> None:
            outcome = await attempt_recording(
                sink, event, self._sleep_duration, stopping=self.stopping, sleep=self._sleep
            )
            done(outcome)

        task = self._host.loop.create_task(attempt(), name="kubevents-events-send")
        self._sends.add(task)
        task.add_done_callback(self._sends.discard)

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
        written = await refresh_existing_event_series(self._cache, sink)
        # Sliding, like wait.Until: the period counts from the end of the run.
        self._next_refresh = self._clock.now() + REFRESH_TIME
        log.debug("Event series heartbeat wrote %d series", written)
        return written

    async def _finish(self, sink: EventSink) -> int:
        if self.stopping.is_set():
            return 0
        removed = await finish_series(self._cache, sink, self._clock.now())
        self._next_finish = self._clock.now() + FINISH_TIME
        log.debug("Event series finish pass forgot %d events", removed)
        return removed

    # -- flush and shutdown -------------------------------------------------------------------

    async def flush(self, limit: float | None) -> bool:
        loop = self._host.loop
        deadline = None if limit is None else loop.time() + limit
        if not await self._drained(deadline):
            return False
        barrier = _Barrier(loop)

        def inject() -> None:
            watchers = self._mux.watchers()
            for watcher in watchers:
                watcher.force_send(MuxEvent(_BARRIER, barrier))
            barrier.expect(len(watchers))

        if not self._mux.run_in_order(inject):
            return True
        if not await _until(asyncio.shield(barrier.future), deadline, loop):
            return False
        sends = set(self._sends)
        if not sends:
            return True
        _, pending = await asyncio.wait(sends, timeout=_remaining(deadline, loop))
        return not pending

    async def shutdown(
        self, limit: float | None, watches: Callable[[], list[Watch]]
    ) -> tuple[int, bool]:
        """Deliver what is queued (one attempt each) until ``limit``: ``(dropped, timed_out)``."""
        loop = self._host.loop
        deadline = None if limit is None else loop.time() + limit
        self.close()
        dropped = 0
        timed_out = False
        if not await self._drained(deadline):
            timed_out = True
            with self._lock:
                dropped = len(self._waiting)
                self._waiting.clear()
                self._waited_out += dropped
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
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=_remaining(deadline, loop))
            if pending:
                timed_out = True
                for watch in current:
                    if watch._task in pending:
                        dropped += watch.pending
                        watch._task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
        sends = set(self._sends)
        if sends:
            _, pending_sends = await asyncio.wait(sends, timeout=_remaining(deadline, loop))
            if pending_sends:
                timed_out = True
                dropped += len(pending_sends)
                for task in pending_sends:
                    task.cancel()
                await asyncio.gather(*pending_sends, return_exceptions=True)
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
