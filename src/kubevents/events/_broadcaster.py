"""``EventBroadcaster``: client-go's ``tools/events`` broadcaster on asyncio.

The same machinery as ``kubevents.record.EventBroadcaster``: created inside a running event loop
it uses that loop, anywhere else it runs its own loop in a daemon thread; recorders may be used
from any thread; every watcher is one task; ``shutdown`` flushes and reports. What is specific to
events.k8s.io/v1 (client-go v0.38): the sink watcher writes through the isomorphic-event cache,
one event at a time (``_recording``), and the cache has its heartbeat and finish passes,
scheduled on the injected clock. As in ``kubevents.record``, the mux is
``NewLongQueueBroadcaster``'s (incoming 1000, each watcher 1000, drop if full), so an API outage
drops events instead of piling them up.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, TypeVar, cast

from kubevents.clock import Clock, RealClock
from kubevents.events._flow import Flow
from kubevents.events._recorder import Recorder, reporting_instance_for
from kubevents.events._recording import SERIES_OUTCOME, SinkWriter, submit
from kubevents.events._series import EventSeriesCache
from kubevents.events._sink import DEFAULT_SLEEP_DURATION, EventSink
from kubevents.events._watch import EventHandler, Watch
from kubevents.model import EventsV1Event
from kubevents.record import (
    BroadcasterStats,
    BroadcasterStoppedError,
    RecordOutcome,
    ShutdownReport,
    SleepFunc,
)
from kubevents.record._logging import DropLog, go_quote
from kubevents.record._loophost import LoopHost
from kubevents.record._mux import Broadcaster, FullChannelBehavior
from kubevents.record._sink import close_sink

__all__ = [
    "DEFAULT_SHUTDOWN_TIMEOUT",
    "INCOMING_QUEUE_LENGTH",
    "MAX_QUEUED_EVENTS",
    "SERIES_OUTCOME",
    "EventBroadcaster",
]

log = logging.getLogger("kubevents.events")

_T = TypeVar("_T")

# client-go's maxQueuedEvents: each watcher's queue.
MAX_QUEUED_EVENTS = 1000
# tools/events uses NewLongQueueBroadcaster: the incoming queue is as long as a watcher's.
INCOMING_QUEUE_LENGTH = MAX_QUEUED_EVENTS
DEFAULT_SHUTDOWN_TIMEOUT = 30.0
_DROP_LOG_INTERVAL = 1.0


class EventBroadcaster:
    """Receives events.k8s.io/v1 events from recorders and sends them to a sink and watchers.

    ``sink`` may also be given to ``start_recording_to_sink``. ``sleep_duration`` is the base of
    the sink's retry waits (each jittered by up to 25%). ``clock`` (default the real clock)
    stamps events (eventTime, names, series' lastObservedTime) and schedules the heartbeat and
    finish passes. ``sleep`` replaces ``asyncio.sleep`` for the retry waits; ``cache``
    pre-fills the isomorphic-event cache (both for tests).
    """

    def __init__(
        self,
        sink: EventSink | None = None,
        *,
        sleep_duration: float = DEFAULT_SLEEP_DURATION,
        clock: Clock | None = None,
        sleep: SleepFunc | None = None,
        cache: EventSeriesCache | None = None,
    ) -> None:
        self.clock: Clock = clock if clock is not None else RealClock()
        self.sleep_duration = sleep_duration
        self.cache = cache if cache is not None else EventSeriesCache()
        self._sink = sink
        self._sleep: SleepFunc = sleep if sleep is not None else asyncio.sleep
        self._lock = threading.Lock()
        self._watches: list[Watch] = []
        self._invalid = 0
        self._retired_watcher_drops = 0
        self._outcomes = {outcome.value: 0 for outcome in RecordOutcome}
        self._outcomes[SERIES_OUTCOME] = 0
        self._drop_log = DropLog(_DROP_LOG_INTERVAL)
        self._report: ShutdownReport | None = None
        self._shutdown_task: asyncio.Task[ShutdownReport] | None = None
        self._host = LoopHost("kubevents-events-broadcaster")
        if self._host.owns_thread:
            self._host.run_sync(self._setup_async())
        else:
            self._setup()

    def _setup(self) -> None:
        self._mux: Broadcaster[Any] = Broadcaster.long_queue(
            MAX_QUEUED_EVENTS, FullChannelBehavior.DROP_IF_CHANNEL_FULL
        )
        self._flow = Flow(self._mux, self._host)

    async def _setup_async(self) -> None:
        self._setup()

    # -- public API ---------------------------------------------------------------------------

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The event loop the broadcaster's watchers and passes run on."""
        return self._host.loop

    @property
    def sink(self) -> EventSink | None:
        return self._sink

    @property
    def recording(self) -> bool:
        """True once ``start_recording_to_sink`` was called."""
        return self._flow.recording

    @property
    def accepted(self) -> int:
        """Events recorders queued."""
        return self._mux.accepted

    @property
    def dropped(self) -> int:
        """Events recorders could not queue (queue full, or after shutdown)."""
        return self._mux.dropped_full + self._mux.rejected_stopped

    def stats(self) -> BroadcasterStats:
        """Counters, as ``kubevents.record``'s (``sink_outcomes`` adds ``SERIES_OUTCOME``).

        Drops: ``dropped_queue_full`` at the recorders (incoming queue full),
        ``dropped_watcher_full`` at a watcher whose queue was full (the sink watcher's while it
        was busy writing, during an outage), ``dropped_after_shutdown``, ``dropped_at_shutdown``.
        """
        with self._lock:
            watches = list(self._watches)
        return BroadcasterStats(
            accepted=self._mux.accepted,
            dropped_queue_full=self._mux.dropped_full,
            dropped_after_shutdown=self._mux.rejected_stopped,
            invalid=self._invalid,
            dropped_watcher_full=self._retired_watcher_drops
            + sum(watch.dropped for watch in watches),
            dropped_at_shutdown=self._flow.dropped_at_shutdown,
            sink_outcomes=dict(self._outcomes),
        )

    def new_recorder(self, reporting_controller: str) -> Recorder:
        """A recorder; its reportingInstance is ``reporting_controller + "-" + hostname``."""
        return Recorder(
            reporting_controller, reporting_instance_for(reporting_controller),
            self.clock, self._submit, self._count_invalid,
        )  # fmt: skip

    def start_event_watcher(self, handler: EventHandler) -> Watch:
        """Call ``handler`` with every event recorded from now on, one at a time.

        ``handler`` may be sync or async; a sync one runs on the loop thread, so it must be
        quick. After shutdown this raises ``BroadcasterStoppedError`` (client-go's error).
        """
        watch = Watch(self._mux.watch(), handler)
        with self._lock:
            # Forget finished watches: their drop counts live on in the stats.
            for done in [w for w in self._watches if w.finished]:
                self._retired_watcher_drops += done.dropped
                self._watches.remove(done)
            self._watches.append(watch)
        self._host.call_soon(watch._start)
        return watch

    def start_recording_to_sink(self, sink: EventSink | None = None) -> Watch:
        """Write every event to the sink through the series cache; start the passes.

        Events are written one at a time, retries included, in the order recorded; while a
        write waits (an API outage), later events queue for this watcher (up to
        ``MAX_QUEUED_EVENTS``) and beyond that are dropped and counted in
        ``stats().dropped_watcher_full``. The heartbeat runs every ``REFRESH_TIME`` and the
        finish pass every ``FINISH_TIME`` of the clock, each after the previous run ended (and
        at once if the cache is pre-filled). A second call raises ``RuntimeError``.
        """
        target = sink if sink is not None else self._sink
        if target is None:
            raise ValueError("no sink: pass one here or to EventBroadcaster()")
        self._flow.start_recording(self.cache, self.clock, target)
        self._sink = target
        writer = SinkWriter(
            target, self.cache, self.clock, self.sleep_duration, self._sleep,
            self._flow.stopping, self._count_outcome,
        )  # fmt: skip
        return self.start_event_watcher(writer)

    def start_logging(
        self, logger: logging.Logger | None = None, level: int = logging.INFO
    ) -> Watch:
        """Log every event as ``Event occurred object="ns/name" kind=... note="..."``.

        The key/values are also on the record as the ``k8s_event`` attribute (a dict). After
        shutdown this raises ``BroadcasterStoppedError``.
        """
        target = logger or log

        def handle(event: EventsV1Event) -> None:
            if target.isEnabledFor(level):
                fields = structured_fields(event)
                pairs = " ".join(f"{key}={go_quote(value)}" for key, value in fields.items())
                target.log(level, "Event occurred %s", pairs, extra={"k8s_event": fields})

        return self.start_event_watcher(handle)

    def start_structured_logging(
        self, logger: logging.Logger | None = None, level: int = logging.INFO
    ) -> Watch:
        """``start_logging`` that never raises: after shutdown it logs and returns a no-op."""
        try:
            return self.start_logging(logger, level)
        except BroadcasterStoppedError as exc:
            (logger or log).error("Failed to start event watcher: %s", exc)
            return Watch(None, lambda event: None)

    async def refresh_now(self) -> int:
        """Run the heartbeat pass now; returns how many series it wrote (0 after shutdown).

        Before ``shutdown`` this writes the counts that only the next pass would have sent.
        """
        if self._report is not None:
            return 0
        return await self._host.run(self._flow.refresh_now())

    async def finish_now(self) -> int:
        """Run the finish pass now (against the clock); returns how many entries it forgot."""
        if self._report is not None:
            return 0
        return await self._host.run(self._flow.finish_now())

    async def run_due(self) -> None:
        """Run the heartbeat and/or finish pass if the clock says they are due.

        With a ``FakeClock``: ``clock.step(...)`` then ``await run_due()``.
        """
        if self._report is None:
            await self._host.run(self._flow.run_due())

    async def aflush(self, timeout: float | None = None) -> bool:  # noqa: ASYNC109 - as flush()
        """Wait until every event recorded before this call was handled by every watcher (for
        the sink: written, retries included). False on timeout."""
        if self._report is not None:
            return True
        return await self._host.run(self._flush_on_loop(timeout))

    def flush(self, timeout: float | None = None) -> bool:
        """``aflush`` for code without an event loop (blocks the calling thread)."""
        if self._report is not None:
            return True
        return self._blocking(self._flush_on_loop(timeout), "aflush")

    async def ashutdown(self, timeout: float | None = None) -> ShutdownReport:  # noqa: ASYNC109
        """Stop, after letting queued events reach the watchers for up to ``timeout`` seconds.

        As ``kubevents.record``'s: new events are refused from now on; every queued event gets
        one attempt at the sink (no retries); the passes stop. Series counts not yet written
        are lost, as in client-go (``await refresh_now()`` first writes them).
        """
        if self._report is not None:
            return self._report
        # Refuse new events now, not once the loop gets to it (thread-safe, idempotent).
        self._mux.shutdown_nowait()
        report = await self._host.run(self._shutdown_on_loop(timeout))
        self._host.stop(join=False)
        return report

    def shutdown(self, timeout: float | None = None) -> ShutdownReport:
        """``ashutdown`` for code without an event loop; raises inside the broadcaster's loop."""
        if self._report is not None:
            return self._report
        if self._host.on_loop_thread():
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

    def _count_invalid(self) -> None:
        with self._lock:
            self._invalid += 1

    def _submit(self, event: EventsV1Event, logger: logging.Logger) -> bool:
        return submit(self._mux, event, self._drop_log, logger)

    def _count_outcome(self, outcome: str) -> None:
        self._outcomes[outcome] += 1

    def _blocking(self, coro: Coroutine[Any, Any, _T], async_name: str) -> _T:
        if self._host.on_loop_thread():
            coro.close()
            raise RuntimeError(
                "this call would block the event loop the broadcaster runs on; "
                f"use 'await broadcaster.{async_name}()' there"
            )
        return self._host.run_sync(coro)

    def _watches_snapshot(self) -> list[Watch]:
        with self._lock:
            return list(self._watches)

    async def _flush_on_loop(self, limit: float | None) -> bool:
        if self._shutdown_task is not None:
            await asyncio.shield(self._shutdown_task)
            return True
        return await self._flow.flush(limit)

    async def _shutdown_on_loop(self, limit: float | None) -> ShutdownReport:
        if self._shutdown_task is None:
            self._mux.shutdown_nowait()
            handled = {id(watch): watch.handled for watch in self._watches_snapshot()}
            self._shutdown_task = self._host.loop.create_task(self._finish_shutdown(limit, handled))
        return await asyncio.shield(self._shutdown_task)

    async def _finish_shutdown(
        self, limit: float | None, handled_before: dict[int, int]
    ) -> ShutdownReport:
        dropped, timed_out = await self._flow.shutdown(limit, self._watches_snapshot)
        watches = self._watches_snapshot()
        delivered = sum(watch.handled - handled_before.get(id(watch), 0) for watch in watches)
        if dropped:
            log.warning(
                "Event broadcaster shut down after %ss: %d queued events not delivered",
                limit, dropped,
            )  # fmt: skip
        if self._sink is not None and self._flow.recording:
            # close_sink only looks for an aclose() method; its type names the legacy sink.
            await close_sink(cast(Any, self._sink))
        self._report = ShutdownReport(delivered=delivered, dropped=dropped, timed_out=timed_out)
        return self._report


def structured_fields(event: EventsV1Event) -> dict[str, str]:
    """The key/values of client-go's "Event occurred" log entry for the new API, in its order."""
    ref = event.regarding
    # klog.KRef prints "namespace/name", or just the name for cluster-scoped objects.
    obj = f"{ref.namespace}/{ref.name}" if ref.namespace else ref.name
    return {
        "object": obj,
        "kind": ref.kind,
        "apiVersion": ref.api_version,
        "type": event.type,
        "reason": event.reason,
        "action": event.action,
        "note": event.note,
    }
