"""The broadcaster lifecycle both recorders share (``kubevents.record``, ``kubevents.events``).

``BroadcasterBase`` owns what is the same in both: the loop host (the caller's loop, or its own
thread), the mux (client-go's ``NewLongQueueBroadcaster``: 1000 places in the incoming queue and
1000 in each watcher's, drop when full), the watcher tasks, the counters, ``flush``/``aflush``,
the flushing ``shutdown``/``ashutdown`` with its report, and both context managers. A subclass
adds its recorder and its sink path, and may stop work of its own at shutdown
(``_on_shutdown``: the events.k8s.io/v1 series passes).

Shutdown, for both: new events are refused at once; everything queued is moved to the watchers
and each watcher handles its queue (a sink gets one attempt per event: ``stopping`` is set, so
nothing is retried); what is left at the deadline is cancelled or discarded and reported; sinks
with an ``aclose()`` are closed; an owned loop thread is stopped.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable, Coroutine
from types import TracebackType
from typing import Any, ClassVar, Generic, Self, TypeVar

from kubevents._recorderbase.aio import Barrier, LoopHost, SleepFunc, inject_barrier
from kubevents._recorderbase.handler import EventWatcherBase
from kubevents._recorderbase.reports import BroadcasterStats, DropLog, ShutdownReport
from kubevents._recorderbase.sinks import RecordOutcome, close_sink
from kubevents.clock import Clock, RealClock
from kubevents.kube import ADDED
from kubevents.model import Event, EventsV1Event
from kubevents.mux import Broadcaster, BroadcasterStoppedError, FullChannelBehavior, Watcher

__all__ = [
    "DEFAULT_SHUTDOWN_TIMEOUT",
    "MAX_QUEUED_EVENTS",
    "AsyncShutdownOnExit",
    "BroadcasterBase",
    "ShutdownOnExit",
]

_T = TypeVar("_T")
_E = TypeVar("_E", Event, EventsV1Event)
_W = TypeVar("_W", bound=EventWatcherBase[Any])

# client-go's maxQueuedEvents: both the incoming queue and every watcher's queue.
MAX_QUEUED_EVENTS = 1000
# What the context managers give queued events to reach the sinks; shutdown() itself waits
# as long as it is told to.
DEFAULT_SHUTDOWN_TIMEOUT = 30.0
# Under overload every drop would be logged; one line per interval keeps event() cheap.
_DROP_LOG_INTERVAL = 1.0


class AsyncShutdownOnExit:
    """``async with`` that shuts down on exit with ``DEFAULT_SHUTDOWN_TIMEOUT``."""

    async def ashutdown(self, timeout: float | None = None) -> ShutdownReport:  # noqa: ASYNC109
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.ashutdown(DEFAULT_SHUTDOWN_TIMEOUT)


class ShutdownOnExit(AsyncShutdownOnExit):
    """``with`` and ``async with`` that shut down on exit with ``DEFAULT_SHUTDOWN_TIMEOUT``."""

    def shutdown(self, timeout: float | None = None) -> ShutdownReport:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown(DEFAULT_SHUTDOWN_TIMEOUT)


class BroadcasterBase(ShutdownOnExit, Generic[_E, _W]):
    """Receives events from recorders and hands them to watchers; see the module docstring.

    Created inside a running event loop it uses that loop; created anywhere else it starts its
    own loop in a daemon thread (``_thread_name``). ``clock`` (default the real clock) stamps
    recorded events; ``sleep`` replaces ``asyncio.sleep`` for the sinks' retry waits.
    """

    _log: ClassVar[logging.Logger]
    _thread_name: ClassVar[str]

    _mux: Broadcaster[_E | Barrier]
    # client-go's cancellation context: once set, a failed write is not retried.
    _stopping: asyncio.Event

    def __init__(self, clock: Clock | None, sleep: SleepFunc | None) -> None:
        self.clock: Clock = clock if clock is not None else RealClock()
        self._sleep: SleepFunc = sleep if sleep is not None else asyncio.sleep
        self._lock = threading.Lock()
        self._watches: list[_W] = []
        self._sinks: list[object] = []
        self._invalid = 0
        self._dropped_at_shutdown = 0
        self._retired_watcher_drops = 0
        self._outcomes = {outcome.value: 0 for outcome in RecordOutcome}
        self._drop_log = DropLog(_DROP_LOG_INTERVAL)
        self._report: ShutdownReport | None = None
        self._shutdown_task: asyncio.Task[ShutdownReport] | None = None
        self._host = LoopHost(self._thread_name, self._log)
        if self._host.owns_thread:
            self._host.run_sync(self._setup_async())
        else:
            self._setup()

    def _setup(self) -> None:
        # On the loop: the mux's distributor task and the event belong to it.
        self._mux = Broadcaster.long_queue(
            MAX_QUEUED_EVENTS, FullChannelBehavior.DROP_IF_CHANNEL_FULL
        )
        self._stopping = asyncio.Event()
        self._setup_on_loop()

    async def _setup_async(self) -> None:
        self._setup()

    # -- hooks --------------------------------------------------------------------------------

    def _setup_on_loop(self) -> None:
        """Make what else the broadcaster needs on its loop (after the mux)."""

    def _new_event_watcher(
        self, watcher: Watcher[_E | Barrier] | None, handler: Callable[[_E], object]
    ) -> _W:
        """The subclass's ``EventWatcher`` for a mux watcher (None: already stopped)."""
        raise NotImplementedError

    async def _on_shutdown(self) -> None:
        """Stop what else works on the sinks, before the queues are drained (on the loop)."""

    # -- public API ---------------------------------------------------------------------------

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The event loop the broadcaster's watchers run on."""
        return self._host.loop

    @property
    def accepted(self) -> int:
        """Events recorders queued."""
        return self._mux.accepted

    @property
    def dropped(self) -> int:
        """Events recorders could not queue (queue full, or after shutdown)."""
        return self._mux.dropped_full + self._mux.rejected_stopped

    def stats(self) -> BroadcasterStats:
        """The counters: what was queued, every kind of drop, and the sinks' outcomes."""
        with self._lock:
            watches = list(self._watches)
            sinks = list(self._sinks)
        api_writes = {"create": 0, "patch": 0}
        for sink in sinks:
            for verb, n in getattr(sink, "api_writes", {}).items():
                api_writes[verb] = api_writes.get(verb, 0) + n
        return BroadcasterStats(
            accepted=self._mux.accepted,
            dropped_queue_full=self._mux.dropped_full,
            dropped_after_shutdown=self._mux.rejected_stopped,
            invalid=self._invalid,
            dropped_watcher_full=self._retired_watcher_drops
            + sum(watch.dropped for watch in watches),
            dropped_at_shutdown=self._dropped_at_shutdown,
            sink_outcomes=dict(self._outcomes),
            api_writes=api_writes,
            queued=self._mux.queued + sum(watch.pending for watch in watches),
        )

    async def aflush(self, timeout: float | None = None) -> bool:  # noqa: ASYNC109 - as flush()
        """Wait until every watcher has handled every event recorded before this call.

        True when done, False on timeout. A sink handles an event once its write is done,
        retries included, so a failing sink can keep this waiting for up to
        ``MAX_TRIES_PER_EVENT`` attempts per event.
        """
        if self._report is not None:
            return True
        return await self._host.run(self._flush_on_loop(timeout))

    def flush(self, timeout: float | None = None) -> bool:
        """``aflush`` for code without an event loop (blocks the calling thread)."""
        if self._report is not None:
            # Shut down: everything that could be delivered was (and the loop may be gone).
            return True
        return self._blocking(self._flush_on_loop(timeout), "aflush")

    # The timeout is not a cancellation: at the deadline the broadcaster still stops and reports.
    async def ashutdown(self, timeout: float | None = None) -> ShutdownReport:  # noqa: ASYNC109
        """Stop, after letting queued events reach the watchers for up to ``timeout`` seconds.

        New events are refused (logged, counted as dropped) from the moment this is called.
        Every event already queued gets one attempt at each sink, as client-go gives an event
        in flight at shutdown (no retries); whatever is left at the deadline is dropped and
        reported. ``timeout=None`` waits until every queued event had its attempt. A second
        call returns the first call's report.
        """
        if self._report is not None:
            return self._report
        # Refuse new events now, not once the loop gets to it (thread-safe, idempotent).
        self._mux.shutdown_nowait()
        report = await self._host.run(self._shutdown_on_loop(timeout))
        self._host.stop(join=False)
        return report

    def shutdown(self, timeout: float | None = None) -> ShutdownReport:
        """``ashutdown`` for code without an event loop (blocks the calling thread).

        Inside the broadcaster's own event loop use ``await ashutdown()``: blocking there would
        stop the very loop that delivers the events, so this raises ``RuntimeError``.
        """
        if self._report is not None:
            return self._report
        if self._host.on_loop_thread():
            # Checked before anything changes: this call must not half-shut the broadcaster.
            return self._blocking(self._shutdown_on_loop(timeout), "ashutdown")
        self._mux.shutdown_nowait()
        report = self._blocking(self._shutdown_on_loop(timeout), "ashutdown")
        self._host.stop(join=True)
        return report

    # -- for subclasses -----------------------------------------------------------------------

    def _start_event_watcher(self, handler: Callable[[_E], object]) -> _W:
        """Start a watcher task for ``handler``; ``BroadcasterStoppedError`` after shutdown."""
        watch = self._new_event_watcher(self._mux.watch(), handler)
        with self._lock:
            # Forget finished watches, so that starting and stopping watchers does not grow
            # this list forever; their drop counts live on in the stats.
            for done in [w for w in self._watches if w.finished]:
                self._retired_watcher_drops += done.dropped
                self._watches.remove(done)
            self._watches.append(watch)
        self._host.call_soon(watch._start)
        return watch

    def _add_sink(self, sink: object) -> None:
        """Close ``sink`` at shutdown (if it has an ``aclose()``)."""
        with self._lock:
            self._sinks.append(sink)

    def _submit(self, event: _E, logger: logging.Logger) -> bool:
        """client-go's ``ActionOrDrop`` from a recorder: queue ``event``, or drop and log it."""
        try:
            if self._mux.action_or_drop(ADDED, event):
                return True
            reason = "too many queued events, dropped event"
        except BroadcasterStoppedError:
            reason = "broadcaster already stopped (will not retry!)"
        self._drop_log.log(logger, reason, event)
        return False

    def _count_invalid(self) -> None:
        with self._lock:
            self._invalid += 1

    def _count_outcome(self, outcome: str) -> None:
        self._outcomes[outcome] += 1

    # -- internals ----------------------------------------------------------------------------

    def _blocking(self, coro: Coroutine[Any, Any, _T], async_name: str) -> _T:
        if self._host.on_loop_thread():
            coro.close()
            raise RuntimeError(
                "this call would block the event loop the broadcaster runs on; "
                f"use 'await broadcaster.{async_name}()' there"
            )
        return self._host.run_sync(coro)

    async def _flush_on_loop(self, limit: float | None) -> bool:
        barrier = inject_barrier(self._mux)
        if barrier is None:
            # Shut down (or shutting down): flushing is what shutdown does.
            if self._shutdown_task is not None:
                await _wait_for(asyncio.shield(self._shutdown_task), limit)
            return True
        return await _wait_for(asyncio.shield(barrier.future), limit)

    async def _shutdown_on_loop(self, limit: float | None) -> ShutdownReport:
        if self._shutdown_task is None:
            # Synchronously, so that the report counts from the moment of the request.
            deadline = None if limit is None else self._host.loop.time() + limit
            self._mux.shutdown_nowait()
            self._stopping.set()
            with self._lock:
                handled_before = {id(watch): watch.handled for watch in self._watches}
            self._shutdown_task = self._host.loop.create_task(
                self._finish_shutdown(limit, deadline, handled_before)
            )
        return await asyncio.shield(self._shutdown_task)

    async def _finish_shutdown(
        self, limit: float | None, deadline: float | None, handled_before: dict[int, int]
    ) -> ShutdownReport:
        await self._on_shutdown()
        # Moves every queued event into the watchers' queues and closes them; the watchers
        # then drain their queues and finish.
        await self._mux.wait_closed()
        with self._lock:
            watches = list(self._watches)
        for watch in watches:
            watch._start()
        tasks = {watch._task for watch in watches if watch._task is not None}
        dropped = 0
        timed_out = False
        if tasks:
            remaining = None if deadline is None else max(0.0, deadline - self._host.loop.time())
            _, pending = await asyncio.wait(tasks, timeout=remaining)
            if pending:
                timed_out = True
                for watch in watches:
                    task = watch._task
                    if task is not None and task in pending:
                        dropped += watch.pending
                        task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
        delivered = sum(watch.handled - handled_before.get(id(watch), 0) for watch in watches)
        self._dropped_at_shutdown = dropped
        if dropped:
            self._log.warning(
                "Event broadcaster shut down after %ss: %d queued events not delivered",
                limit,
                dropped,
            )
        for sink in self._sinks:
            await close_sink(sink, self._log)
        self._report = ShutdownReport(delivered=delivered, dropped=dropped, timed_out=timed_out)
        return self._report


async def _wait_for(awaitable: Awaitable[object], limit: float | None) -> bool:
    try:
        await asyncio.wait_for(awaitable, limit)
    except TimeoutError:
        return False
    return True
