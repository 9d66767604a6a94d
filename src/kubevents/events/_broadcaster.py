"""``EventBroadcaster``: client-go's ``tools/events`` broadcaster on asyncio.

The lifecycle (loop hosting, the mux, watcher tasks, flush, the flushing shutdown, counters) is
``kubevents._recorderbase``'s, shared with ``kubevents.record``. What is specific to
events.k8s.io/v1 (client-go v0.38) is here: recorders named by their reporting controller, one
sink, written through the isomorphic-event cache one event at a time (``_recording``), and the
cache's heartbeat and finish passes, scheduled on the injected clock (``_passes``), which
shutdown stops. As in ``kubevents.record``, the mux is ``NewLongQueueBroadcaster``'s (incoming
1000, each watcher 1000, drop if full), so an API outage drops events instead of piling them up.
"""

from __future__ import annotations

import logging
from typing import ClassVar

from kubevents._recorderbase.aio import Barrier, SleepFunc
from kubevents._recorderbase.gocompat import klog_ref
from kubevents._recorderbase.lifecycle import MAX_QUEUED_EVENTS, BroadcasterBase
from kubevents._recorderbase.reports import structured_logger
from kubevents.clock import Clock
from kubevents.events._eventwatcher import EventHandler, EventWatcher
from kubevents.events._passes import SeriesPasses
from kubevents.events._recorder import Recorder, reporting_instance_for
from kubevents.events._recording import SERIES_OUTCOME, SinkWriter
from kubevents.events._series import EventSeriesCache
from kubevents.events._sink import DEFAULT_SLEEP_DURATION, EventSink
from kubevents.model import EventsV1Event
from kubevents.mux import BroadcasterStoppedError, Watcher

__all__ = [
    "INCOMING_QUEUE_LENGTH",
    "EventBroadcaster",
    "structured_fields",
]

log = logging.getLogger("kubevents.events")

# tools/events uses NewLongQueueBroadcaster: the incoming queue is as long as a watcher's.
INCOMING_QUEUE_LENGTH = MAX_QUEUED_EVENTS


class EventBroadcaster(BroadcasterBase[EventsV1Event, EventWatcher]):
    """Receives events.k8s.io/v1 events from recorders and sends them to a sink and watchers.

    ``sink`` may also be given to ``start_recording_to_sink``. ``sleep_duration`` is the base of
    the sink's retry waits (each jittered by up to 25%). ``clock`` (default the real clock)
    stamps events (eventTime, names, series' lastObservedTime) and schedules the heartbeat and
    finish passes. ``sleep`` replaces ``asyncio.sleep`` for the retry waits; ``cache``
    pre-fills the isomorphic-event cache (both for tests).

    ``flush``, ``shutdown``, their awaitable forms, the context managers and ``stats()`` are
    ``kubevents.record``'s. A flush also covers the sink's writes (retries included);
    ``stats().sink_outcomes[SERIES_OUTCOME]`` counts occurrences only counted in memory.
    Shutdown also stops the passes, and series counts not yet written are lost, as in client-go
    (``await refresh_now()`` first writes them).
    """

    _log: ClassVar[logging.Logger] = log
    _thread_name: ClassVar[str] = "kubevents-events-broadcaster"
    _passes: SeriesPasses

    def __init__(
        self,
        sink: EventSink | None = None,
        *,
        sleep_duration: float = DEFAULT_SLEEP_DURATION,
        clock: Clock | None = None,
        sleep: SleepFunc | None = None,
        cache: EventSeriesCache | None = None,
    ) -> None:
        self.sleep_duration = sleep_duration
        self.cache = cache if cache is not None else EventSeriesCache()
        self._sink = sink
        super().__init__(clock, sleep)
        self._outcomes[SERIES_OUTCOME] = 0

    def _setup_on_loop(self) -> None:
        self._passes = SeriesPasses(self._host, self._stopping)

    def _new_event_watcher(
        self, watcher: Watcher[EventsV1Event | Barrier] | None, handler: EventHandler
    ) -> EventWatcher:
        return EventWatcher(watcher, handler)

    async def _on_shutdown(self) -> None:
        await self._passes.stop()

    # -- public API ---------------------------------------------------------------------------

    @property
    def sink(self) -> EventSink | None:
        return self._sink

    @property
    def recording(self) -> bool:
        """True once ``start_recording_to_sink`` was called."""
        return self._passes.recording

    def new_recorder(self, reporting_controller: str) -> Recorder:
        """A recorder; its reportingInstance is ``reporting_controller + "-" + hostname``."""
        return Recorder(
            reporting_controller,
            reporting_instance_for(reporting_controller),
            self.clock,
            self._submit,
            self._count_invalid,
        )

    def start_event_watcher(self, handler: EventHandler) -> EventWatcher:
        """Call ``handler`` with every event recorded from now on, one at a time.

        ``handler`` may be sync or async; a sync one runs on the loop thread, so it must be
        quick. After shutdown this raises ``BroadcasterStoppedError`` (client-go's error).
        """
        return self._start_event_watcher(handler)

    def start_recording_to_sink(self, sink: EventSink | None = None) -> EventWatcher:
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
        self._passes.start(self.cache, self.clock, target, self._mux.stopped)
        self._sink = target
        self._add_sink(target)
        writer = SinkWriter(
            target,
            self.cache,
            self.clock,
            self.sleep_duration,
            self._sleep,
            self._stopping,
            self._count_outcome,
        )
        return self.start_event_watcher(writer)

    def start_logging(
        self, logger: logging.Logger | None = None, level: int = logging.INFO
    ) -> EventWatcher:
        """Log every event as ``Event occurred object="ns/name" kind=... note="..."``.

        The key/values are also on the record as the ``k8s_event`` attribute (a dict). After
        shutdown this raises ``BroadcasterStoppedError``.
        """
        return self.start_event_watcher(structured_logger(logger or log, level, structured_fields))

    def start_structured_logging(
        self, logger: logging.Logger | None = None, level: int = logging.INFO
    ) -> EventWatcher:
        """``start_logging`` that never raises: after shutdown it logs and returns a no-op."""
        try:
            return self.start_logging(logger, level)
        except BroadcasterStoppedError as exc:
            (logger or log).error("Failed to start event watcher: %s", exc)
            return EventWatcher(None, lambda event: None)

    async def refresh_now(self) -> int:
        """Run the heartbeat pass now; returns how many series it wrote (0 after shutdown).

        Before ``shutdown`` this writes the counts that only the next pass would have sent.
        """
        if self._report is not None:
            return 0
        return await self._host.run(self._passes.refresh_now())

    async def finish_now(self) -> int:
        """Run the finish pass now (against the clock); returns how many entries it forgot."""
        if self._report is not None:
            return 0
        return await self._host.run(self._passes.finish_now())

    async def run_due(self) -> None:
        """Run the heartbeat and/or finish pass if the clock says they are due.

        With a ``FakeClock``: ``clock.step(...)`` then ``await run_due()``.
        """
        if self._report is None:
            await self._host.run(self._passes.run_due())


def structured_fields(event: EventsV1Event) -> dict[str, str]:
    """The key/values of client-go's "Event occurred" log entry for the new API, in its order."""
    ref = event.regarding
    return {
        "object": klog_ref(ref.namespace, ref.name),
        "kind": ref.kind,
        "apiVersion": ref.api_version,
        "type": event.type,
        "reason": event.reason,
        "action": event.action,
        "note": event.note,
    }
