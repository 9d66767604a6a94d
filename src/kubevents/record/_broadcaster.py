"""``EventBroadcaster``: client-go's legacy ``record.EventBroadcaster`` on asyncio.

Created inside a running event loop it uses that loop; created anywhere else it starts its own
loop in a daemon thread. Recorders may be used from any thread either way. Each watcher (a sink,
a logger, a handler) is one task that handles its events one at a time, like the goroutine in
client-go, so a slow sink only fills its own queue.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
from collections.abc import Awaitable, Callable, Coroutine
from types import TracebackType
from typing import Any, TypeVar

from kubevents.clock import Clock, RealClock
from kubevents.kube import ADDED
from kubevents.model import Event, EventSource
from kubevents.record._correlator import CorrelatorOptions, EventCorrelator
from kubevents.record._logging import (
    LOG_FORMAT,
    DropLog,
    log_args,
    structured_fields,
    structured_line,
)
from kubevents.record._loophost import LoopHost
from kubevents.record._mux import (
    Broadcaster,
    BroadcasterStoppedError,
    FullChannelBehavior,
    MuxEvent,
)
from kubevents.record._recorder import Recorder
from kubevents.record._sink import (
    DEFAULT_SLEEP_DURATION,
    EventSink,
    RecordOutcome,
    SleepFunc,
    close_sink,
    record_to_sink,
)
from kubevents.record._watch import (
    BroadcasterStats,
    EventHandler,
    ShutdownReport,
    Watch,
    _Barrier,
    _Item,
)

__all__ = [
    "DEFAULT_SHUTDOWN_TIMEOUT",
    "MAX_QUEUED_EVENTS",
    "BroadcasterStats",
    "EventBroadcaster",
    "EventHandler",
    "ShutdownReport",
    "Watch",
]

log = logging.getLogger("kubevents.record")

_T = TypeVar("_T")

# client-go's maxQueuedEvents: both the incoming queue and every watcher's queue.
MAX_QUEUED_EVENTS = 1000
# What the context managers give queued events to reach the sinks; shutdown() itself waits
# as long as it is told to.
DEFAULT_SHUTDOWN_TIMEOUT = 30.0
# Under overload every drop would be logged; one line per interval keeps event() cheap.
_DROP_LOG_INTERVAL = 1.0
_BARRIER = "kubevents-barrier"


class EventBroadcaster:
    """Receives events from recorders and sends them to sinks, loggers and handlers.

    ``sleep_duration`` is the retry wait of sinks (the first one jittered), ``correlator_options``
    configure each sink's correlator (its clock defaults to ``clock``), ``clock`` (default the
    real clock) stamps recorded events. ``retry_server_errors`` makes sinks retry 429/5xx;
    ``sleep`` replaces ``asyncio.sleep`` for the retry waits (for tests).
    """

    def __init__(
        self,
        *,
        sleep_duration: float = DEFAULT_SLEEP_DURATION,
        correlator_options: CorrelatorOptions | None = None,
        clock: Clock | None = None,
        retry_server_errors: bool = False,
        sleep: SleepFunc | None = None,
    ) -> None:
        self.sleep_duration = sleep_duration
        self.clock: Clock = clock if clock is not None else RealClock()
        self.correlator_options = correlator_options
        self.retry_server_errors = retry_server_errors
        self._sleep: SleepFunc = sleep if sleep is not None else asyncio.sleep
        self._lock = threading.Lock()
        self._watches: list[Watch] = []
        self._sinks: list[EventSink] = []
        self._invalid = 0
        self._dropped_at_shutdown = 0
        self._retired_watcher_drops = 0
        self._outcomes = {outcome.value: 0 for outcome in RecordOutcome}
        self._drop_log = DropLog(_DROP_LOG_INTERVAL)
        self._report: ShutdownReport | None = None
        self._shutdown_task: asyncio.Task[ShutdownReport] | None = None
        self._host = LoopHost("kubevents-event-broadcaster")
        if self._host.owns_thread:
            self._host.run_sync(self._setup_async())
        else:
            self._setup()

    def _setup(self) -> None:
        self._mux: Broadcaster[_Item] = Broadcaster.long_queue(
            MAX_QUEUED_EVENTS, FullChannelBehavior.DROP_IF_CHANNEL_FULL
        )
        # client-go's cancellation context: once set, a failed write is not retried.
        self._stopping = asyncio.Event()

    async def _setup_async(self) -> None:
        self._setup()

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
        with self._lock:
            watches = list(self._watches)
        return BroadcasterStats(
            accepted=self._mux.accepted,
            dropped_queue_full=self._mux.dropped_full,
            dropped_after_shutdown=self._mux.rejected_stopped,
            invalid=self._invalid,
            dropped_watcher_full=self._retired_watcher_drops
            + sum(watch.dropped for watch in watches),
            dropped_at_shutdown=self._dropped_at_shutdown,
            sink_outcomes=dict(self._outcomes),
        )

    def new_recorder(self, source: EventSource) -> Recorder:
        """A recorder for events from ``source`` (its component is the reporting controller)."""
        return Recorder(source, self.clock, self._submit, self._count_invalid)

    def start_event_watcher(self, handler: EventHandler) -> Watch:
        """Call ``handler`` with every event recorded from now on, one at a time.

        ``handler`` may be sync or async; a sync one runs on the broadcaster's loop thread, so
        it must be quick. After shutdown this logs and returns an already stopped watch.
        """
        try:
            watcher = self._mux.watch()
        except BroadcasterStoppedError:
            log.error("Unable to start event watcher (will not retry!): broadcaster stopped")
            return Watch(None, handler)
        watch = Watch(watcher, handler)
        with self._lock:
            # Forget finished watches, so that starting and stopping watchers does not grow
            # this list forever; their drop counts live on in the stats.
            for done in [w for w in self._watches if w.finished]:
                self._retired_watcher_drops += done.dropped
                self._watches.remove(done)
            self._watches.append(watch)
        self._host.call_soon(watch._start)
        return watch

    def start_recording_to_sink(self, sink: EventSink) -> Watch:
        """Correlate every event and write it to ``sink``, with a correlator of its own."""
        options = self.correlator_options or CorrelatorOptions()
        if options.clock is None:
            options = dataclasses.replace(options, clock=self.clock)
        correlator = EventCorrelator(options)
        with self._lock:
            self._sinks.append(sink)

        async def handle(event: Event) -> None:
            outcome = await record_to_sink(
                sink, event, correlator, self.sleep_duration,
                retry_server_errors=self.retry_server_errors, stopping=self._stopping,
                sleep=self._sleep,
            )  # fmt: skip
            self._outcomes[outcome.value] += 1

        return self.start_event_watcher(handle)

    def start_logging(self, logf: Callable[..., object]) -> Watch:
        """Call ``logf(format, *args)`` for every event, like client-go's ``StartLogging``.

        The line is ``Event(v1.ObjectReference{...}): type: 'T' reason: 'R' message``; a
        ``logging.Logger`` method (``logger.info``) or ``lambda f, *a: print(f % a)`` both fit.
        """

        def handle(event: Event) -> None:
            logf(LOG_FORMAT, *log_args(event))

        return self.start_event_watcher(handle)

    def start_structured_logging(
        self, logger: logging.Logger | None = None, level: int = logging.INFO
    ) -> Watch:
        """Log every event as ``Event occurred object="ns/name" fieldPath=... message=...``.

        The key/values are also on the record as the ``k8s_event`` attribute (a dict).
        """
        target = logger or log

        def handle(event: Event) -> None:
            if target.isEnabledFor(level):
                fields = structured_fields(event)
                target.log(level, "%s", structured_line(fields), extra={"k8s_event": fields})

        return self.start_event_watcher(handle)

    async def aflush(self, timeout: float | None = None) -> bool:  # noqa: ASYNC109 - as flush()
        """Wait until every watcher has handled every event recorded before this call.

        True when done, False on timeout. Retries count as handling, so a failing sink can
        keep this waiting for up to ``MAX_TRIES_PER_EVENT`` attempts per event.
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

    def __enter__(self) -> EventBroadcaster:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown(DEFAULT_SHUTDOWN_TIMEOUT)

    async def __aenter__(self) -> EventBroadcaster:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.ashutdown(DEFAULT_SHUTDOWN_TIMEOUT)

    # -- internals ----------------------------------------------------------------------------

    def _submit(self, event: Event, logger: logging.Logger) -> bool:
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

    def _blocking(self, coro: Coroutine[Any, Any, _T], async_name: str) -> _T:
        if self._host.on_loop_thread():
            coro.close()
            raise RuntimeError(
                "this call would block the event loop the broadcaster runs on; "
                f"use 'await broadcaster.{async_name}()' there"
            )
        return self._host.run_sync(coro)

    async def _flush_on_loop(self, limit: float | None) -> bool:
        barrier = _Barrier(self._host.loop)

        def inject() -> None:
            watchers = self._mux.watchers()
            for watcher in watchers:
                watcher.force_send(MuxEvent(_BARRIER, barrier))
            barrier.expect(len(watchers))

        if not self._mux.run_in_order(inject):
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
            log.warning(
                "Event broadcaster shut down after %ss: %d queued events not delivered",
                limit, dropped,
            )  # fmt: skip
        for sink in self._sinks:
            await close_sink(sink)
        self._report = ShutdownReport(delivered=delivered, dropped=dropped, timed_out=timed_out)
        return self._report


async def _wait_for(awaitable: Awaitable[object], limit: float | None) -> bool:
    try:
        await asyncio.wait_for(awaitable, limit)
    except TimeoutError:
        return False
    return True
