"""``EventBroadcaster``: client-go's legacy ``record.EventBroadcaster`` on asyncio.

The lifecycle (loop hosting, the mux, watcher tasks, flush, the flushing shutdown, counters) is
``kubevents._recorderbase``'s, shared with ``kubevents.events``. What is specific to core/v1 is
here: recorders that take an ``EventSource``, a correlator per sink, any number of sinks, and
client-go's two log formats.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import ClassVar

from kubevents._recorderbase.aio import Barrier, SleepFunc
from kubevents._recorderbase.gocompat import go_object_reference, klog_ref
from kubevents._recorderbase.lifecycle import BroadcasterBase
from kubevents._recorderbase.reports import structured_logger
from kubevents.clock import Clock
from kubevents.model import Event, EventSource
from kubevents.mux import BroadcasterStoppedError, Watcher
from kubevents.record._correlator import CorrelatorOptions, EventCorrelator
from kubevents.record._eventwatcher import EventHandler, EventWatcher
from kubevents.record._recorder import Recorder
from kubevents.record._sink import DEFAULT_SLEEP_DURATION, EventSink, record_to_sink

__all__ = ["LOG_FORMAT", "EventBroadcaster", "structured_fields"]

log = logging.getLogger("kubevents.record")

# StartLogging's format, with Go's %#v / %v verbs turned into %s (the arguments are pre-printed).
LOG_FORMAT = "Event(%s): type: '%s' reason: '%s' %s"


class EventBroadcaster(BroadcasterBase[Event, EventWatcher]):
    """Receives events from recorders and sends them to sinks, loggers and handlers.

    ``sleep_duration`` is the retry wait of sinks (the first one jittered), ``correlator_options``
    configure each sink's correlator (its clock defaults to ``clock``), ``clock`` (default the
    real clock) stamps recorded events. ``retry_server_errors`` makes sinks retry 429/5xx;
    ``sleep`` replaces ``asyncio.sleep`` for the retry waits (for tests).
    """

    _log: ClassVar[logging.Logger] = log
    _thread_name: ClassVar[str] = "kubevents-event-broadcaster"

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
        self.correlator_options = correlator_options
        self.retry_server_errors = retry_server_errors
        super().__init__(clock, sleep)

    def _new_event_watcher(
        self, watcher: Watcher[Event | Barrier] | None, handler: EventHandler
    ) -> EventWatcher:
        return EventWatcher(watcher, handler)

    def new_recorder(self, source: EventSource) -> Recorder:
        """A recorder for events from ``source`` (its component is the reporting controller)."""
        return Recorder(source, self.clock, self._submit, self._count_invalid)

    def start_event_watcher(self, handler: EventHandler) -> EventWatcher:
        """Call ``handler`` with every event recorded from now on, one at a time.

        ``handler`` may be sync or async; a sync one runs on the broadcaster's loop thread, so
        it must be quick. After shutdown this logs and returns an already stopped watch.
        """
        try:
            return self._start_event_watcher(handler)
        except BroadcasterStoppedError:
            log.error("Unable to start event watcher (will not retry!): broadcaster stopped")
            return EventWatcher(None, handler)

    def start_recording_to_sink(self, sink: EventSink) -> EventWatcher:
        """Correlate every event and write it to ``sink``, with a correlator of its own."""
        options = self.correlator_options or CorrelatorOptions()
        if options.clock is None:
            options = dataclasses.replace(options, clock=self.clock)
        correlator = EventCorrelator(options)
        self._add_sink(sink)

        async def handle(event: Event) -> None:
            outcome = await record_to_sink(
                sink,
                event,
                correlator,
                self.sleep_duration,
                retry_server_errors=self.retry_server_errors,
                stopping=self._stopping,
                sleep=self._sleep,
            )
            self._count_outcome(outcome.value)

        return self.start_event_watcher(handle)

    def start_logging(self, logf: Callable[..., object]) -> EventWatcher:
        """Call ``logf(format, *args)`` for every event, like client-go's ``StartLogging``.

        The line is ``Event(v1.ObjectReference{...}): type: 'T' reason: 'R' message``; a
        ``logging.Logger`` method (``logger.info``) or ``lambda f, *a: print(f % a)`` both fit.
        """

        def handle(event: Event) -> None:
            logf(LOG_FORMAT, *log_args(event))

        return self.start_event_watcher(handle)

    def start_structured_logging(
        self, logger: logging.Logger | None = None, level: int = logging.INFO
    ) -> EventWatcher:
        """Log every event as ``Event occurred object="ns/name" fieldPath=... message=...``.

        The key/values are also on the record as the ``k8s_event`` attribute (a dict).
        """
        return self.start_event_watcher(structured_logger(logger or log, level, structured_fields))


def log_args(event: Event) -> tuple[str, str, str, str]:
    """The arguments of ``LOG_FORMAT`` for ``event``."""
    return (go_object_reference(event.involved_object), event.type, event.reason, event.message)


def structured_fields(event: Event) -> dict[str, str]:
    """The key/values of client-go's structured "Event occurred" log entry, in its order."""
    ref = event.involved_object
    return {
        "object": klog_ref(ref.namespace, ref.name),
        "fieldPath": ref.field_path,
        "kind": ref.kind,
        "apiVersion": ref.api_version,
        "type": event.type,
        "reason": event.reason,
        "message": event.message,
    }
